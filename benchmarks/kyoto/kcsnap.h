// kcsnap.h — Kyoto Cabinet's kcfile.cc on Snapshot: the hooks our patch (kyoto.patch) calls.
// Included by kcfile.cc after its system headers (only there). From then on, kcfile.cc's calls of
// mmap, munmap, msync, ftruncate and fsync go to kcsnap.cc, which serves them from a Snapshot region
// when the descriptor or address is a region's and passes them to the system otherwise. So Kyoto's
// own code runs unchanged: its mmap returns the region, its hard commit's msync is one snap_msync,
// and its WAL (kept in a memfd written through a mapping, for aborts only) costs no system call.
#ifndef KCSNAP_H
#define KCSNAP_H

#include <stdint.h>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>

// File::open, after Kyoto's own WAL recovery and before its mmap: opens the region of `path` (fd is
// Kyoto's descriptor of it) if Kyoto is going to map it (*msiz > 0). Sets st->st_size to the
// region's committed size (0 for a new database) and *msiz to the region's reservation, so that Kyoto
// never reads or writes past its map. Returns a memfd for Kyoto's WAL, or -1 (no region: an
// unmapped file, or the open failed — then the mmap that follows fails, with the reason on stderr).
int kcsnap_open(const std::string& path, uint32_t mode, int fd, struct stat* st, int64_t* msiz);

// File::begin_transaction: true if fd is a region's; its transactions are then all hard (a commit
// is one snap_msync, also for Kyoto's "soft" transactions, which survive a process crash in Kyoto).
bool kcsnap_region(int fd);

void* kcsnap_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off);
int kcsnap_munmap(void* addr, size_t len);
int kcsnap_msync(void* addr, size_t len, int flags);
int kcsnap_ftruncate(int fd, off_t size);
int kcsnap_fsync(int fd);
ssize_t kcsnap_pwrite(int fd, const void* buf, size_t len, off_t off);

#ifndef KCSNAP_IMPL  // kcsnap.cc itself calls the real ones
#define mmap kcsnap_mmap
#define munmap kcsnap_munmap
#define msync kcsnap_msync
#define ftruncate kcsnap_ftruncate
#define fsync kcsnap_fsync
#define pwrite kcsnap_pwrite
#endif

#endif
