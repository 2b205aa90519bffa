/* errors.c — the one table of error codes: each SNAP_E_* code's name and message, and the -errno
 * names and messages the platform gives. snap_strerror(), snap_strerrorname() and every other
 * language (the CLI, the tests, the Java binding) read it from here.
 *
 * A new code needs: its enumerator in snapshot.h (before SNAP_E_LAST, which then names it), one
 * ERROR() row below (the _Static_assert fails without it), and, only if Java should throw a class
 * of its own for it, a case in org.snapshot.Errors. Nothing else holds a copy of the codes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
#include <string.h>

#include "backend.h"
#include "snapshot.h"

#define ERROR(code, message) [code - SNAP_E_FIRST] = {#code, message}

static const struct {
    const char *name;    /* the enumerator's name, "SNAP_E_..." */
    const char *message; /* what happened, and what to do when that is short */
} errors[] = {
    ERROR(SNAP_E_INVAL, "invalid argument"),
    ERROR(SNAP_E_CLOSED, "region is closed"),
    ERROR(SNAP_E_LOCKED, "region is already open (by this or another process)"),
    ERROR(SNAP_E_CORRUPT,
          "log is corrupt beyond a torn tail; nothing was changed (run `snapshot verify`)"),
    ERROR(SNAP_E_BADMAGIC, "sidecar file is not a Snapshot log (bad magic)"),
    ERROR(SNAP_E_VERSION, "log was written by an incompatible format version"),
    ERROR(SNAP_E_SIZE, "size differs from the region's committed size"),
    ERROR(SNAP_E_TRUNCATED,
          "data file is shorter than its committed size (truncated outside Snapshot)"),
    ERROR(SNAP_E_RANGE, "address or offset outside the region"),
    ERROR(SNAP_E_SYMLINK, "sidecar log is a symbolic link; refusing to follow it"),
    ERROR(SNAP_E_PANIC,
          "an earlier media write or flush failed; region refuses commits (close and reopen)"),
    ERROR(SNAP_E_NOSPACE,
          "no room in the arena or beyond the region's max_size (see SNAPSHOT_ARENA_SIZE, max_size)"),
    ERROR(SNAP_E_UNSUPPORTED,
          "back end not usable here (not persistent memory? SNAP_BACKEND_EMULATED_PMEM emulates it)"),
    ERROR(SNAP_E_VERIFY,
          "verification found a DRAM line differing from the media: a store was not tracked"),
    ERROR(SNAP_E_NOTFILE, "data file is not a regular file"),
    ERROR(SNAP_E_NOMEMBARRIER, "membarrier(2) is unavailable (e.g. denied by a seccomp filter): "
                               "concurrent writers cannot be made safe; open with "
                               "SNAP_NO_CONCURRENT_WRITERS"),
    ERROR(SNAP_E_FORKED,
          "region belongs to the parent process: a forked child cannot use it (open it again after exec)"),
    ERROR(SNAP_E_MISMATCH,
          "sidecar log belongs to another data file; nothing was changed (see `snapshot inspect`)"),
};
_Static_assert(sizeof errors / sizeof *errors == SNAP_E_LAST - SNAP_E_FIRST + 1,
               "a row for every SNAP_E_* code, up to SNAP_E_LAST");

static int is_snap_error(int err)
{
    return err >= SNAP_E_FIRST && err <= SNAP_E_LAST;
}

static int is_errno(int err)
{
    return err < 0 && err > -4096;
}

const char *snap_strerror(int err)
{
    if (err == 0)
        return "success";
    if (is_snap_error(err))
        return errors[err - SNAP_E_FIRST].message;
    if (is_errno(err))
        return strerror(-err); /* glibc's strerror returns static, per-code strings */
    return "unknown error";
}

const char *snap_strerrorname(int err)
{
    if (err == 0)
        return "SNAP_OK";
    if (is_snap_error(err))
        return errors[err - SNAP_E_FIRST].name;
    const char *name = is_errno(err) ? strerrorname_np(-err) : NULL; /* static strings, glibc >= 2.32 */
    return name ? name : "unknown";
}

const char *snap_backend_name(enum snap_backend_kind b)
{
    switch (b) {
    case SNAP_BACKEND_AUTO: return "auto";
    case SNAP_BACKEND_FILE: return "file";
    case SNAP_BACKEND_PMEM: return "pmem";
    case SNAP_BACKEND_EMULATED_PMEM: return "emulated-pmem";
    }
#ifdef SNAPSHOT_TESTKIT
    if (b == SNAP_BACKEND_SIM)
        return "sim";
#endif
    return "unknown";
}
