/* make_seeds.c — writes the seed corpus of fuzz_recovery: real logs made by the library in the
 * simulator, encoded as fuzz_format.h says, so the fuzzer starts from valid structure.
 * Usage: fuzz_make_seeds DIR */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_format.h"
#include "redo_log.h"
#include "sim.h"
#include "snapshot.h"
#include "testkit.h"

static const char *out_dir;
static int seeds;

static void die(const char *what, int rc)
{
    fprintf(stderr, "fuzz_make_seeds: %s: %s\n", what, snap_strerror(rc));
    exit(1);
}

/* A simulated file's bytes (cache image); *len 0 and NULL if it does not exist. */
static uint8_t *sim_file(struct snap_sim *sim, const char *name, size_t *len)
{
    uint64_t size;
    *len = 0;
    if (snap_sim_size(sim, name, 0, &size))
        return NULL;
    uint8_t *b = malloc(size + 1);
    if (!b)
        die("malloc", -ENOMEM);
    int rc = snap_sim_read(sim, name, 0, 0, b, size);
    if (rc)
        die(name, rc);
    *len = size;
    return b;
}

/* Encode the simulator's "f" and "f.snaplog" with `flags` and write the seed. `torn`: damage the
 * body of the chain's last record, as a crash during its write can. */
static void emit(struct snap_sim *sim, unsigned flags, int torn, const char *name)
{
    size_t dlen, llen;
    uint8_t *data = sim_file(sim, "f", &dlen);
    uint8_t *log = sim_file(sim, "f.snaplog", &llen);
    if (dlen > 0xffff)
        die("data file too large for the format", SNAP_E_RANGE);
    if (torn && llen > SNAP_LOG_AREA_OFF) {
        uint64_t off = SNAP_LOG_AREA_OFF, last = 0;
        struct snap_rec_header h;
        while (off + sizeof h <= llen) { /* the chain's records follow each other from 0 */
            memcpy(&h, log + off, sizeof h);
            if (h.magic != SNAP_REC_MAGIC || h.total < sizeof h || h.total > llen - off)
                break;
            last = off;
            off += h.total;
        }
        if (last)
            log[last + sizeof h + sizeof(struct snap_rec_run)] ^= 0x01;
    }
    size_t cap = FUZZ_HEADER_LEN + dlen + llen, n = 0;
    uint8_t *seed = malloc(cap + 1);
    if (!seed)
        die("malloc", -ENOMEM);
    seed[n++] = (uint8_t)dlen;
    seed[n++] = (uint8_t)(dlen >> 8);
    seed[n++] = (uint8_t)flags;
    memcpy(seed + n, data, dlen);
    n += dlen;
    if (flags & FUZZ_RAW_LOG) {
        memcpy(seed + n, log, llen);
        n += llen;
    } else if (llen >= SNAP_LOG_AREA_OFF) {
        memcpy(seed + n, log, FUZZ_SLOTS_LEN);
        n += FUZZ_SLOTS_LEN;
        size_t area = llen - SNAP_LOG_AREA_OFF;
        while (area && log[SNAP_LOG_AREA_OFF + area - 1] == 0) /* the decoder pads it back */
            area--;
        memcpy(seed + n, log + SNAP_LOG_AREA_OFF, area);
        n += area;
    }
    char *path;
    if (asprintf(&path, "%s/seed-%02d-%s", out_dir, seeds++, name) < 0)
        die("asprintf", -ENOMEM);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(seed, 1, n, f) != n || fclose(f))
        die(path, -errno);
    free(path);
    free(seed);
    free(data);
    free(log);
}

/* A region in a fresh simulator: size bytes, a 4 KiB log area. */
static snap_region *open_region(struct snap_sim *sim, uint64_t size)
{
    snap_options o = {.flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, .size = size,
                      .log_capacity = 4096};
    snap_region *r;
    int rc = snap_open_sim("f", &o, sim, &r);
    if (rc)
        die("snap_open", rc);
    return r;
}

/* Store `len` bytes of `byte` at off, tracked. */
static void store(snap_region *r, uint64_t off, size_t len, int byte)
{
    memset((uint8_t *)snap_base(r) + off, byte, len);
    int rc = snap_track_offset(r, off, len);
    if (rc)
        die("snap_track_offset", rc);
}

static void msync_or_die(snap_region *r)
{
    int rc = snap_msync(r);
    if (rc)
        die("snap_msync", rc);
}

static void finish(struct snap_sim *sim, snap_region *r)
{
    int rc = snap_close(r);
    if (rc)
        die("snap_close", rc);
    snap_sim_free(sim);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_make_seeds DIR\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) && errno != EEXIST)
        die(out_dir, -errno);
    setenv("SNAPSHOT_ARENA_SIZE", "4G", 0);
    struct snap_sim *sim;
    snap_region *r;

    /* Three records of one run each, in every encoding and with every harness option. */
    sim = snap_sim_new();
    r = open_region(sim, 4096);
    for (int i = 0; i < 3; i++) {
        store(r, (uint64_t)i * 1000, 100, 'a' + i);
        msync_or_die(r);
    }
    emit(sim, 0, 0, "three-records");
    emit(sim, FUZZ_RAW_LOG, 0, "three-records-raw");
    emit(sim, FUZZ_RESEAL, 0, "three-records-reseal");
    emit(sim, FUZZ_GIVE_SIZE | 2u << FUZZ_GROW_SHIFT, 0, "three-records-grow");
    emit(sim, 0, 1, "three-records-torn");
    emit(sim, FUZZ_RESEAL, 1, "three-records-torn-reseal");
    finish(sim, r);

    /* Several runs per record, a size that is not a multiple of a line. */
    sim = snap_sim_new();
    r = open_region(sim, 1000);
    store(r, 0, 10, 'x');
    store(r, 300, 70, 'y');
    store(r, 990, 10, 'z');
    msync_or_die(r);
    store(r, 64, 1, 'w');
    store(r, 960, 40, 'v');
    msync_or_die(r);
    emit(sim, 0, 0, "multi-run");
    emit(sim, FUZZ_RESEAL, 0, "multi-run-reseal");
    finish(sim, r);

    /* A growth committed by a record, then another record at the new size. */
    sim = snap_sim_new();
    r = open_region(sim, 2048);
    store(r, 100, 50, 'g');
    int rc = snap_grow(r, 3000);
    if (rc)
        die("snap_grow", rc);
    store(r, 2900, 100, 'h');
    msync_or_die(r);
    store(r, 0, 1, 'i');
    msync_or_die(r);
    emit(sim, 0, 0, "grown");
    /* ...and a growth that never committed: the data file is longer than the log says. */
    rc = snap_grow(r, 3500);
    if (rc)
        die("snap_grow", rc);
    emit(sim, 0, 0, "uncommitted-growth");
    finish(sim, r);

    /* Enough records to fill the area: checkpoints, slot 1, base_epoch past 1, stale records. */
    sim = snap_sim_new();
    r = open_region(sim, 4096);
    for (int i = 0; i < 23; i++) {
        store(r, (uint64_t)(i * 150) % 3900, 150, 'A' + i);
        msync_or_die(r);
    }
    emit(sim, 0, 0, "after-checkpoints");
    emit(sim, FUZZ_RESEAL, 0, "after-checkpoints-reseal");
    finish(sim, r);

    /* A fresh log with no records; and a data file with no log at all. */
    sim = snap_sim_new();
    r = open_region(sim, 512);
    emit(sim, 0, 0, "empty-log");
    finish(sim, r);
    sim = snap_sim_new();
    if (!sim || snap_sim_put(sim, "f", "plain data, no log", 18))
        die("snap_sim_put", -ENOMEM);
    emit(sim, 0, 0, "no-log");
    snap_sim_free(sim);

    printf("fuzz_make_seeds: %d seeds in %s\n", seeds, out_dir);
    return 0;
}
