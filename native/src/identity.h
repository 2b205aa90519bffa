/* identity.h — a log belongs to one data file: how the pair is bound, how the log is found from any
 * name of the data file, and how an open tells whether the log it found is the data file's.
 *
 * WHY. The log used to be "<path as given>.snaplog", and a data file without one was adopted as it
 * was. So a symlink, a hard link or a rename led to another log (or none): a commit acknowledged
 * through one name was lost through the other, and a stale log met later was replayed onto data of
 * another history; a stale or foreign log beside a new file was replayed onto it, or cut it to the
 * log's committed size.
 *
 * THE BINDING. Two halves, written by the library whenever it creates or takes over a log:
 *   - in the log's header (redo_log.h, struct snap_log_binding): the data file's st_dev, st_ino and
 *     birth time (statx btime, where the file system keeps one) when the log was bound, and how:
 *     SNAP_BIND_XATTR or SNAP_BIND_INODE; with the header's random log_id, which every record
 *     carries;
 *   - on the data file, where user extended attributes are supported (ext4, xfs, btrfs, tmpfs since
 *     Linux 6.6): the attribute "user.snapshot.log" = "v1 <log_id as 16 hex digits> <absolute path
 *     of the log>" (the path left out if longer than SNAP_XATTR_MAX_PATH). Its kind is then XATTR;
 *     where the attribute cannot be stored, INODE: the inode is the only identity.
 *   The xattr travels with the inode (every name, rename, and the copies of xattr-preserving tools:
 *   cp -a, cp --preserve=xattr, rsync -X, tar --xattrs); dev and inode numbers do not survive a copy,
 *   and an inode number is reused for a new file at once (ext4), hence the birth time.
 *   A log of format version 1 (before bindings) or written by the simulator is unbound (NONE).
 *
 * FINDING THE LOG (snap_identity_locate; read-only: a few lstat()s, only off the common path).
 *   C = the data file's name + ".snaplog": the path opened, made absolute, if its last component
 *   is the data file itself (a symlinked directory on the way leads to the same directory); for a
 *   symlink, the target's real path (the opened fd's /proc/self/fd link, else realpath()). A
 *   symlink and its target have the same C. Two spellings of one directory give two strings for
 *   one C: the checks below compare files (lstat), not strings, where it matters.
 *   If the xattr names another place P:
 *     - P's data name (P without ".snaplog") is this very inode (a hard link elsewhere, a bind
 *       mount): P ("linked");
 *     - else C, if it exists (the pair was copied or renamed together);
 *     - else P, if it exists (the data file was renamed alone): "moved". An open that accepts it
 *       renames it to C (RENAME_NOREPLACE) and rewrites the xattr.
 *   Where xattrs are unsupported and C does not exist, the data file's directory is searched for a
 *   log bound (INODE) to this inode: a hard link or a rename in the same directory ("linked" or
 *   "moved" as above). Otherwise C.
 *
 * DECIDING (snap_identity_judge), for a log with a valid header:
 *   - found elsewhere than at C: it must be bound to this very inode, else FOREIGN (the xattr of a
 *     copy names its original's log);
 *   - the data file has the xattr: OURS if the log's id is the one it names, else FOREIGN (a stale
 *     log of an earlier life of the file, another region's log). An old backup of this region's
 *     own log has its id: the two files of a region must come from the same time;
 *   - the xattr is there but unreadable as ours: FOREIGN;
 *   - no xattr (absent, or unsupported):
 *       an unbound log: OURS, trusted by its name as before bindings existed (bound on this open);
 *       bound to this inode (dev and ino equal, and the birth time equal: for an XATTR binding it
 *       must be known, since there the xattr is missing, which only a crash while binding or its
 *       removal by hand explains for the same file) -> OURS;
 *       else UNPROVEN: a copy made without xattrs, a stale log beside a new file of the same name,
 *       another region's log. Recovery takes it over if its chain is empty — nothing to replay, so
 *       the data file's bytes (and size) are the committed state; the log gets a new log_id and this
 *       file's binding — and otherwise refuses with SNAP_E_MISMATCH, changing nothing: its records
 *       may belong to another file. `snapshot rebind` binds it explicitly.
 *   With no log (missing, or its creation cut short): a fresh one is created, unless the data file
 *   has the xattr (snap_identity_may_create): then its log, which could hold committed records the
 *   data file lacks, is gone, and the open fails with SNAP_E_MISMATCH. `snapshot rebind` then
 *   accepts the data file's bytes as they are. Except an empty data file: it holds no committed
 *   byte to mix with anything, so it starts a new region (the way a program that truncates its
 *   file and removes the sidecar, as Kyoto Cabinet on Snapshot does, expects), and the new log
 *   rebinds it.
 *
 * ORDER. The header carrying the binding is made durable (barrier(L)) before the xattr is written
 * (fsetxattr, then fsync of the data file). A crash in between leaves a bound log and a data file
 * without the xattr: OURS by its inode and birth time, or (without a birth time) UNPROVEN, which
 * takes the log over when it has nothing to replay. So every crash state opens, except after an
 * explicit `snapshot rebind` of a log with records on a file system without birth times, which
 * asks for the rebind again.
 *
 * Cost at an open that finds everything in place: a statx, an lstat of the path and one fgetxattr
 * (about 3 us; opening through a symlink adds a readlink of /proc/self/fd,
 * about 5 us here). Writes happen only when the binding changes.
 */
#ifndef SNAPSHOT_IDENTITY_H
#define SNAPSHOT_IDENTITY_H

#include <stdint.h>

#include "backend.h"
#include "redo_log.h"

#define SNAP_IDENTITY_XATTR "user.snapshot.log"
#define SNAP_XATTR_MAX_PATH 1024 /* a longer log path is left out of the xattr (the id suffices) */

enum snap_bind_kind { SNAP_BIND_NONE = 0, SNAP_BIND_XATTR = 1, SNAP_BIND_INODE = 2 };

enum snap_xattr_state {
    SNAP_XATTR_ABSENT = 0,  /* supported, not set */
    SNAP_XATTR_PRESENT,     /* names xattr_log_id (and xattr_log_path) */
    SNAP_XATTR_UNSUPPORTED, /* the file system stores no user xattrs (or snap_identity_no_xattr) */
    SNAP_XATTR_GARBLED,     /* set, but not in our format */
};

enum snap_log_found {
    SNAP_FOUND_CANONICAL = 0, /* at C */
    SNAP_FOUND_LINKED,        /* at the place the xattr (or a search) names, under another name of D */
    SNAP_FOUND_MOVED,         /* there, the data file having been renamed without it */
};

enum snap_log_verdict { SNAP_LOG_OURS = 0, SNAP_LOG_FOREIGN, SNAP_LOG_UNPROVEN };

struct snap_identity {
    int dfd;                       /* the data file (not owned) */
    struct snap_log_binding self;  /* this data file as a binding records it; kind XATTR or INODE */
    char *data_path;               /* absolute; the symlink's target if opened through one */
    char *canon_log;               /* C */
    int xattr;                     /* enum snap_xattr_state */
    uint64_t xattr_log_id;
    char *xattr_log_path;          /* NULL if none recorded */
    char *log_path;                /* where the log is, or is to be created: C or another (owned) */
    int found;                     /* enum snap_log_found */
    uint64_t size;                 /* the data file's size at init */
};

/* Look at the data file open at dfd (opened through `path`): its inode, the name its log goes
 * beside, and its xattr.
 * 0, -errno (-ENOENT if it was deleted meanwhile), -ENOMEM. */
int snap_identity_init(struct snap_identity *id, int dfd, const char *path);
void snap_identity_free(struct snap_identity *id);

/* Find the log (rules above): sets log_path and found. Reads only. 0 or -ENOMEM. */
int snap_identity_locate(struct snap_identity *id);

/* May a fresh log be created for the data file (there being none)? 0, or SNAP_E_MISMATCH. */
int snap_identity_may_create(const struct snap_identity *id);

/* Is the log whose current header is lh the data file's? (Rules above.) */
enum snap_log_verdict snap_identity_judge(const struct snap_identity *id,
                                          const struct snap_log_header *lh);

/* Put this data file's binding into lh / tell whether lh already has it (bound to this inode, by
 * xattr or by inode). */
void snap_identity_stamp(const struct snap_identity *id, struct snap_log_header *lh);
int snap_identity_is_stamped(const struct snap_identity *id, const struct snap_log_header *lh);

/* Once lh (stamped) is durable in the log: move a log found "moved" beside the data file, then
 * write the data file's xattr if it does not already name lh->log_id and the log's place, and fsync
 * it. Where the xattr cannot be stored (not supported, not permitted: another user's file in a
 * sticky directory, no room), the binding becomes INODE: lh rewritten (seq + 1) and made durable
 * through be, unless it already says so. 0 or an error (nothing committed is at risk: the next open
 * binds again). */
int snap_identity_finish(struct snap_identity *id, struct snap_backend *be,
                         struct snap_log_header *lh);

/* Remove the data file's xattr (fsync): it names no log any more. For `snapshot rebind`. */
int snap_identity_forget(struct snap_identity *id);

/* Binding of another file's identity equal to this one? strict: birth times must be known. */
int snap_identity_same_inode(const struct snap_log_binding *a, const struct snap_log_binding *b,
                             int strict);

#endif /* SNAPSHOT_IDENTITY_H */
