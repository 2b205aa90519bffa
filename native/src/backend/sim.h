/* sim.h — the power-loss simulator: an in-memory back end that knows what a power cut would keep.
 *
 * Each simulated file has a *cache* image (what the program reads back) and a *media* image (what
 * survives a power loss). A write updates the cache and leaves the 64-byte lines it touched
 * *pending*; a resize is pending too. barrier(f) copies f's pending lines (and size) to its media.
 * At any barrier the test can ask for the crash image: the media plus any chosen subset of the
 * pending units, which is exactly the set of states a real power cut could leave at that instant
 * (stores reach PM or disk in any order and granularity down to a line until the barrier returns).
 *
 * Tests drive it through a callback run at the start of every barrier, before anything of that
 * barrier becomes durable: crashing "at barrier i with subset S" is snap_sim_crash_image(sim, S)
 * from inside the i-th callback. Crashes between barriers are covered: anything written since the
 * last barrier is pending, so those states are subsets at the next barrier.
 *
 * Not thread-safe: one region (one thread doing msync) per simulator. It lives in the test kit
 * (testkit.h), not in libsnapshot.so: tests open a region on it with snap_open_sim().
 */
#ifndef SNAPSHOT_SIM_H
#define SNAPSHOT_SIM_H

#include <stddef.h>
#include <stdint.h>

struct snap_sim;

/* A new, empty simulator (no files). NULL on out-of-memory. */
struct snap_sim *snap_sim_new(void);
void snap_sim_free(struct snap_sim *sim);

/* Callback run at the start of every barrier (before it makes anything durable), also of one that
 * snap_sim_fail_barrier() makes fail; not once the power is off. `file` is the name of the file
 * being flushed. The callback may inspect and copy the simulator but must not change it: writes,
 * resizes, barriers, snap_sim_put() and opening back ends fail with -EBUSY meanwhile. It may call
 * snap_sim_power_off(): the barrier then fails with -EIO, having made nothing durable. */
typedef void (*snap_sim_barrier_fn)(struct snap_sim *sim, const char *file, void *arg);
void snap_sim_on_barrier(struct snap_sim *sim, snap_sim_barrier_fn fn, void *arg);

/* Barriers executed so far (all files), failed ones included; not those refused after power off. */
uint64_t snap_sim_barriers(const struct snap_sim *sim);

/* Number of pending units (unflushed 64-byte lines and size changes, all files). Their order, the
 * order of snap_sim_crash_image()'s keep[]: files in creation order; in each, its size change first
 * (a unit while the cache size differs from the media size), then its pending lines, ascending. */
size_t snap_sim_pending(const struct snap_sim *sim);

/* A new simulator whose files are the media images plus the pending units i with keep[i] != 0
 * (keep has snap_sim_pending() entries; NULL keeps none). Its caches equal its media: the state
 * after a power cut. A file's size is its cache size if its size change is kept, else its media
 * size; a kept line brings its bytes from the cache, cut at that size (a line wholly past it is
 * dropped); bytes past the media size that no kept line covers read as zero. Growing a file back
 * over bytes an unflushed shrink cut off makes those lines pending (zero in the cache, old on the
 * media). The new simulator has no callback, no fault armed, and its power on. NULL on
 * out-of-memory. */
struct snap_sim *snap_sim_crash_image(const struct snap_sim *sim, const uint8_t *keep);

/* From now on every write, resize and barrier fails with -EIO and nothing more reaches the media:
 * the simulated machine is off. */
void snap_sim_power_off(struct snap_sim *sim);

/* Make every barrier from the n-th on fail with err, after making nothing durable (fault injection
 * of a failing flush). Barriers are numbered from 0 in this simulator, as snap_sim_barriers()
 * counts them: snap_sim_fail_barrier(sim, snap_sim_barriers(sim), -EIO) fails the next one.
 * err == 0 disarms. */
void snap_sim_fail_barrier(struct snap_sim *sim, uint64_t n, int err);

/* Put a durable file with the given bytes (creates or replaces). For tests and the fuzzer. */
int snap_sim_put(struct snap_sim *sim, const char *name, const void *bytes, size_t len);

/* Size and bytes of a file's cache (media = 0) or media (media = 1) image. -ENOENT if absent,
 * SNAP_E_RANGE if [off, off+len) is not inside the image. */
int snap_sim_size(const struct snap_sim *sim, const char *name, int media, uint64_t *out);
int snap_sim_read(const struct snap_sim *sim, const char *name, int media, uint64_t off, void *buf,
                  size_t len);

#endif /* SNAPSHOT_SIM_H */
