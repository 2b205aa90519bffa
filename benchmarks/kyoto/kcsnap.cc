// kcsnap.cc — the Snapshot side of Kyoto Cabinet's kcfile.cc (see kcsnap.h): a mapped database file
// is a Snapshot region. Compiled into the patched libkyotocabinet by build.sh.
//
// What each redirected call does on a region (any other descriptor or address: the system call):
//   mmap       the region's base (opened by kcsnap_open just before)
//   msync      MS_SYNC: snap_msync, the commit; MS_INVALIDATE: nothing (there is no other view)
//   munmap     snap_msync (Kyoto's close commits what it wrote) and snap_close
//   ftruncate  the file as Kyoto sees it, emulated inside the region: growing zeroes the bytes it
//              exposes (as ftruncate does) and grows the region in whole MiB (kchashmgr check accepts
//              a file longer than the database if it is a multiple of 1 MiB); shrinking only lowers
//              the size. The data file itself is never truncated behind the region: not by this
//              handle, not by a second unmapped one (Kyoto's trim_file), not after the unmap
//   fsync      nothing: on the data file, snap_msync already made the commit durable; on the WAL
//              memfd, there is nothing to sync
//   pwrite     on the WAL memfd: a memcpy into a shared mapping of it (Kyoto writes the WAL at every
//              write of a transaction; a system call each would cost more than the commit on PM);
//              on the data file: refused (Kyoto writes there only past its map, which never happens
//              with the region's reservation as the map size — a write there would not be atomic)
// Kyoto's WAL lives in a memfd: an abort still replays it into the map (walapply reads it with
// read(2); the stores into the map are tracked by the plugin), but it is never on disk and never
// replayed at open — crash recovery is the region's. Like Kyoto, which zeroes its WAL at each
// commit, the memfd reads as zeros past the last transaction's records (its end for walapply).
#define KCSNAP_IMPL
#include "kcsnap.h"

#include <kcfile.h>
#include <snapshot.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace {

const uint64_t MIB = 1 << 20;
const uint64_t MAX_SIZE = 1ULL << 38;  // reservation: Kyoto maps this much, so never uses pread/pwrite

struct Entry {
  int fd;             // Kyoto's descriptor of the data file
  std::string path;
  dev_t dev;
  ino_t ino;
  snap_region* r;     // NULL once closed (the entry then only keeps Kyoto's late ftruncate away)
  int walfd;          // memfd for Kyoto's WAL
  char* wal;          // its mapping, wal_cap bytes (the memfd's size)
  size_t wal_cap;
  uint64_t vsize;     // the size Kyoto's last ftruncate set: bytes past it are exposed zeroed
};

std::mutex mu;
std::vector<Entry> entries;
int failed_fd = -1;   // kcsnap_open failed for it: the mmap that follows must fail

Entry* by_fd(int fd) {
  for (Entry& e : entries)
    if (e.r && (e.fd == fd || e.walfd == fd)) return &e;
  return nullptr;
}

Entry* by_base(const void* addr) {
  for (Entry& e : entries)
    if (e.r && snap_base(e.r) == addr) return &e;
  return nullptr;
}

// Is fd's file a region's data file (open, or closed through this very descriptor)?
bool region_file(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  for (const Entry& e : entries)
    if (e.dev == st.st_dev && e.ino == st.st_ino && (e.r || e.fd == fd)) return true;
  return false;
}

int fail(const char* what, const std::string& path, int rc) {
  fprintf(stderr, "kcsnap: %s %s: %s\n", what, path.c_str(), snap_strerror(rc));
  errno = rc < 0 && rc > -4096 ? -rc : EIO;
  return -1;
}

// Zero [from, to) of the region, writing (and tracking) only the lines that are not zero already.
void zero(snap_region* r, uint64_t from, uint64_t to) {
  static const char zeros[64] = {};
  char* b = (char*)snap_base(r);
  for (uint64_t i = from; i < to;) {
    uint64_t n = std::min<uint64_t>(64 - i % 64, to - i);
    if (std::memcmp(b + i, zeros, n) != 0) {
      std::memset(b + i, 0, n);
      snap_track(r, b + i, n);
    }
    i += n;
  }
}

}  // namespace

int kcsnap_open(const std::string& path, uint32_t mode, int fd, struct stat* st, int64_t* msiz) {
  std::lock_guard<std::mutex> g(mu);
  if (failed_fd == fd) failed_fd = -1;
  bool writer = mode & kyotocabinet::File::OWRITER;
  if (*msiz <= 0 || (!writer && st->st_size == 0)) return -1;  // not mapped: not covered
  bool fresh = st->st_size == 0;
  // an emptied file is a new database (OTRUNCATE): the old log must not be replayed onto it
  if (writer && (mode & kyotocabinet::File::OTRUNCATE)) ::unlink((path + ".snaplog").c_str());
  snap_options o = {};
  o.size = fresh ? MIB : 0;
  o.max_size = MAX_SIZE;
  snap_region* r = nullptr;
  int rc = snap_open(path.c_str(), &o, &r);
  if (rc != 0) { failed_fd = fd; return fail("snap_open", path, rc); }
  int walfd = memfd_create("kyoto-wal", MFD_CLOEXEC);
  if (walfd < 0) {
    int err = errno;
    snap_close(r);
    failed_fd = fd;
    return fail("memfd_create for", path, -err);
  }
  for (size_t i = 0; i < entries.size(); i++)  // a closed entry of this descriptor is over
    if (!entries[i].r && entries[i].fd == fd) entries.erase(entries.begin() + i--);
  st->st_size = fresh ? 0 : snap_size(r);
  entries.push_back(Entry{fd, path, st->st_dev, st->st_ino, r, walfd, nullptr, 0, (uint64_t)st->st_size});
  *msiz = MAX_SIZE;
  return walfd;
}

bool kcsnap_region(int fd) {
  std::lock_guard<std::mutex> g(mu);
  Entry* e = by_fd(fd);
  return e && e->fd == fd;
}

void* kcsnap_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  std::lock_guard<std::mutex> g(mu);
  if (failed_fd == fd) { failed_fd = -1; return MAP_FAILED; }
  Entry* e = by_fd(fd);
  if (e && e->fd == fd) return snap_base(e->r);
  return ::mmap(addr, len, prot, flags, fd, off);
}

int kcsnap_munmap(void* addr, size_t len) {
  std::lock_guard<std::mutex> g(mu);
  Entry* e = by_base(addr);
  if (!e) return ::munmap(addr, len);
  int rc = snap_msync(e->r);
  int rc2 = snap_close(e->r);
  e->r = nullptr;
  e->walfd = -1;  // Kyoto closed it already
  if (e->wal) ::munmap(e->wal, e->wal_cap);
  e->wal = nullptr;
  if (rc != 0) return fail("snap_msync at close of", e->path, rc);
  if (rc2 != 0) return fail("snap_close of", e->path, rc2);
  return 0;
}

int kcsnap_msync(void* addr, size_t len, int flags) {
  snap_region* r;
  std::string path;
  {
    std::lock_guard<std::mutex> g(mu);
    Entry* e = by_base(addr);
    if (!e) return ::msync(addr, len, flags);
    if (!(flags & MS_SYNC)) return 0;
    r = e->r;
    path = e->path;
  }
  int rc = snap_msync(r);  // outside the lock: concurrent msyncs group-commit
  return rc == 0 ? 0 : fail("snap_msync", path, rc);
}

int kcsnap_ftruncate(int fd, off_t size) {
  std::lock_guard<std::mutex> g(mu);
  Entry* e = by_fd(fd);
  if (e && e->walfd == fd) {  // emptying the WAL: zeroes, the memfd keeps its size and mapping
    if ((size_t)size < e->wal_cap) std::memset(e->wal + size, 0, e->wal_cap - size);
    return 0;
  }
  if (!e) return region_file(fd) ? 0 : ::ftruncate(fd, size);
  uint64_t n = size, have = snap_size(e->r);
  if (n > e->vsize) {
    zero(e->r, e->vsize, std::min(n, have));
    if (n > have) {
      int rc = snap_grow(e->r, (n + MIB - 1) & ~(MIB - 1));
      if (rc != 0) return fail("snap_grow", e->path, rc);
    }
  }
  e->vsize = n;
  return 0;
}

int kcsnap_fsync(int fd) {
  {
    std::lock_guard<std::mutex> g(mu);
    if (by_fd(fd)) return 0;
  }
  return ::fsync(fd);
}

ssize_t kcsnap_pwrite(int fd, const void* buf, size_t len, off_t off) {
  std::lock_guard<std::mutex> g(mu);
  Entry* e = by_fd(fd);
  if (!e) return ::pwrite(fd, buf, len, off);
  if (e->fd == fd) {
    fail("pwrite past the map of", e->path, -EFBIG);
    return -1;
  }
  if ((size_t)off + len > e->wal_cap) {  // grow the memfd (doubling) and map it again
    size_t cap = std::max<size_t>(e->wal_cap * 2, ((size_t)off + len + 0xffff) & ~(size_t)0xffff);
    if (::ftruncate(fd, cap) != 0) return -1;
    void* m = ::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) return -1;
    if (e->wal) ::munmap(e->wal, e->wal_cap);
    e->wal = (char*)m;
    e->wal_cap = cap;
  }
  std::memcpy(e->wal + off, buf, len);
  return len;
}
