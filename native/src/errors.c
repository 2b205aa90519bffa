/* errors.c — one message per error code (SNAP_E_* and -errno), as the header promises. */
#include <string.h>

#include "backend.h"
#include "snapshot.h"

static const char *const messages[] = {
    [SNAP_E_INVAL - SNAP_E_FIRST] = "invalid argument",
    [SNAP_E_CLOSED - SNAP_E_FIRST] = "region is closed",
    [SNAP_E_LOCKED - SNAP_E_FIRST] = "region is already open (by this or another process)",
    [SNAP_E_CORRUPT - SNAP_E_FIRST] =
        "log is corrupt beyond a torn tail; nothing was changed (run `snapshot verify`)",
    [SNAP_E_BADMAGIC - SNAP_E_FIRST] = "sidecar file is not a Snapshot log (bad magic)",
    [SNAP_E_VERSION - SNAP_E_FIRST] = "log was written by an incompatible format version",
    [SNAP_E_SIZE - SNAP_E_FIRST] = "size differs from the region's committed size",
    [SNAP_E_TRUNCATED - SNAP_E_FIRST] =
        "data file is shorter than its committed size (truncated outside Snapshot)",
    [SNAP_E_RANGE - SNAP_E_FIRST] = "address or offset outside the region",
    [SNAP_E_SYMLINK - SNAP_E_FIRST] = "sidecar log is a symbolic link; refusing to follow it",
    [SNAP_E_PANIC - SNAP_E_FIRST] =
        "an earlier media write or flush failed; region refuses commits (close and reopen)",
    [SNAP_E_NOSPACE - SNAP_E_FIRST] =
        "no room in the arena or beyond the region's max_size (see SNAPSHOT_ARENA_SIZE, max_size)",
    [SNAP_E_UNSUPPORTED - SNAP_E_FIRST] =
        "back end not usable here (not persistent memory? set PMEM_IS_PMEM_FORCE=1 to emulate)",
    [SNAP_E_VERIFY - SNAP_E_FIRST] =
        "verification found a DRAM line differing from the media: a store was not tracked",
    [SNAP_E_NOTFILE - SNAP_E_FIRST] = "data file is not a regular file",
    [SNAP_E_NOMEMBARRIER - SNAP_E_FIRST] = ("membarrier(2) is unavailable (e.g. denied by a "
                                            "seccomp filter): concurrent writers cannot be made "
                                            "safe; open with SNAP_NO_CONCURRENT_WRITERS"),
    [SNAP_E_FORKED - SNAP_E_FIRST] =
        "region belongs to the parent process: a forked child cannot use it (open it again after exec)",
    [SNAP_E_MISMATCH - SNAP_E_FIRST] =
        "sidecar log belongs to another data file; nothing was changed (see `snapshot inspect`)",
};
_Static_assert(sizeof messages / sizeof *messages == SNAP_E_LAST - SNAP_E_FIRST + 1,
               "a message for every SNAP_E_* code, up to SNAP_E_LAST");

const char *snap_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err >= SNAP_E_FIRST && err <= SNAP_E_LAST)
        return messages[err - SNAP_E_FIRST];
    if (err < 0 && err > -4096)
        return strerror(-err); /* glibc's strerror returns static, per-code strings */
    return "unknown error";
}

const char *snap_backend_name(enum snap_backend_kind b)
{
    switch (b) {
    case SNAP_BACKEND_AUTO: return "auto";
    case SNAP_BACKEND_FILE: return "file";
    case SNAP_BACKEND_PMEM: return "pmem";
    }
#ifdef SNAPSHOT_TESTKIT
    if (b == SNAP_BACKEND_SIM)
        return "sim";
#endif
    return "unknown";
}
