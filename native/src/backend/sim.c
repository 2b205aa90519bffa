/* sim.c — the power-loss simulator (sim.h) and the back end over it: cache and media images per
 * file, pending 64-byte lines and size changes, crash images built from any subset of them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sim.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "copy.h"

#define LINE_SHIFT 6
#define LINE 64u

/* A file image: p holds cap >= size bytes, of which [0, hw) are the file's; [hw, size) read as zero
 * whatever the buffer holds there. So neither a copy nor an allocation ever touches more than hw
 * bytes, and crash images of large, mostly unwritten files (a log sized for 64 MiB) stay cheap. */
struct image {
    uint8_t *p;
    uint64_t size, cap, hw;
};

struct sim_file {
    char *name;
    struct image cache, media;
    /* Pending lines twice: a bitmap to test membership in O(1), and a sorted array to enumerate
     * them in order. Writes are mostly ascending, so insertion is mostly an append. */
    uint64_t *bits;
    size_t bits_words;
    uint64_t *lines;
    size_t nlines, lines_cap;
};

struct snap_sim {
    /* The back-end calls (be_*) run under mu: an evictable copy's handler thread reads the data
     * image (budget.c) while the commit writes it. Not the snap_sim_* calls, nor a barrier
     * callback, which inspects the simulator with them (file_barrier lets go of mu around it). */
    pthread_mutex_t mu;
    struct sim_file *files; /* in creation order: the order of pending units */
    size_t nfiles, files_cap;
    snap_sim_barrier_fn on_barrier;
    void *on_barrier_arg;
    uint64_t barriers;
    int powered_off;
    int in_callback; /* the callback must not change the simulator it is inspecting */
    int fail_err;    /* 0: no barrier failure armed */
    uint64_t fail_from;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* ---- Images ------------------------------------------------------------------------------------ */

static int image_reserve(struct image *im, uint64_t n)
{
    if (n <= im->cap)
        return 0;
    if (n > SIZE_MAX / 2)
        return -ENOMEM;
    uint64_t cap = max_u64(n, im->cap + im->cap / 2);
    uint8_t *p = malloc(cap ? (size_t)cap : 1); /* not calloc: zeroing is what we avoid */
    if (!p)
        return -ENOMEM;
    if (im->hw)
        memcpy(p, im->p, (size_t)im->hw);
    free(im->p);
    im->p = p;
    im->cap = cap;
    return 0;
}

static int image_resize(struct image *im, uint64_t n)
{
    if (n < im->size) {
        im->hw = min_u64(im->hw, n);
    } else {
        int rc = image_reserve(im, n);
        if (rc)
            return rc;
    }
    im->size = n;
    return 0;
}

/* off + len <= size. */
static void image_write(struct image *im, uint64_t off, const void *buf, size_t len)
{
    if (!len)
        return;
    if (off > im->hw) /* the gap becomes part of [0, hw): make it the zeros it reads as */
        memset(im->p + im->hw, 0, (size_t)(off - im->hw));
    memcpy(im->p + off, buf, len);
    im->hw = max_u64(im->hw, off + len);
}

/* off + len <= size. */
static void image_read(const struct image *im, uint64_t off, void *buf, size_t len)
{
    if (!len)
        return;
    uint64_t have = im->hw > off ? min_u64(im->hw - off, len) : 0;
    if (have)
        memcpy(buf, im->p + off, (size_t)have);
    memset((uint8_t *)buf + have, 0, len - (size_t)have);
}

/* Line l of src, cut at `size`, into dst (both at least that long). */
static void copy_line(struct image *dst, const struct image *src, uint64_t l, uint64_t size)
{
    uint8_t tmp[LINE];
    uint64_t start = l << LINE_SHIFT, end = min_u64(start + LINE, size);
    if (start >= end)
        return;
    image_read(src, start, tmp, (size_t)(end - start));
    image_write(dst, start, tmp, (size_t)(end - start));
}

/* A new image of `size` bytes holding src's first min(size, src->size) bytes. */
static int image_init_from(struct image *im, const struct image *src, uint64_t size)
{
    *im = (struct image){0};
    int rc = image_reserve(im, size);
    if (rc)
        return rc;
    im->size = size;
    image_write(im, 0, src->p, (size_t)min_u64(src->hw, size));
    return 0;
}

static void image_free(struct image *im)
{
    free(im->p);
    *im = (struct image){0};
}

/* ---- Pending lines ----------------------------------------------------------------------------- */

static int line_is_pending(const struct sim_file *f, uint64_t line)
{
    uint64_t w = line >> 6;
    return w < f->bits_words && (f->bits[w] >> (line & 63)) & 1;
}

static int mark_line(struct sim_file *f, uint64_t line)
{
    if (line_is_pending(f, line))
        return 0;
    uint64_t w = line >> 6;
    if (w >= f->bits_words) {
        size_t words = (size_t)max_u64(w + 1, f->bits_words * 2);
        uint64_t *nb = realloc(f->bits, words * sizeof *nb);
        if (!nb)
            return -ENOMEM;
        memset(nb + f->bits_words, 0, (words - f->bits_words) * sizeof *nb);
        f->bits = nb;
        f->bits_words = words;
    }
    if (f->nlines == f->lines_cap) {
        size_t cap = f->lines_cap ? f->lines_cap * 2 : 64;
        uint64_t *nl = realloc(f->lines, cap * sizeof *nl);
        if (!nl)
            return -ENOMEM;
        f->lines = nl;
        f->lines_cap = cap;
    }
    size_t lo = f->nlines;
    if (lo && f->lines[lo - 1] > line) {
        size_t hi = lo; /* binary search: first entry greater than line */
        lo = 0;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (f->lines[mid] < line)
                lo = mid + 1;
            else
                hi = mid;
        }
        memmove(f->lines + lo + 1, f->lines + lo, (f->nlines - lo) * sizeof *f->lines);
    }
    f->lines[lo] = line;
    f->nlines++;
    f->bits[w] |= 1ull << (line & 63);
    return 0;
}

static int mark_bytes(struct sim_file *f, uint64_t off, uint64_t len)
{
    if (!len)
        return 0;
    for (uint64_t l = off >> LINE_SHIFT; l <= (off + len - 1) >> LINE_SHIFT; l++) {
        int rc = mark_line(f, l);
        if (rc)
            return rc;
    }
    return 0;
}

/* Forget the pending lines from `first` on (they no longer exist in the cache). */
static void drop_lines_from(struct sim_file *f, uint64_t first)
{
    while (f->nlines && f->lines[f->nlines - 1] >= first) {
        uint64_t l = f->lines[--f->nlines];
        f->bits[l >> 6] &= ~(1ull << (l & 63));
    }
}

static size_t file_pending(const struct sim_file *f)
{
    return f->nlines + (f->cache.size != f->media.size);
}

/* ---- Files ------------------------------------------------------------------------------------- */

static void file_free(struct sim_file *f)
{
    free(f->name);
    image_free(&f->cache);
    image_free(&f->media);
    free(f->bits);
    free(f->lines);
}

static long find_file(const struct snap_sim *sim, const char *name)
{
    for (size_t i = 0; i < sim->nfiles; i++)
        if (strcmp(sim->files[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Append an empty file; its index in *idx. */
static int add_file(struct snap_sim *sim, const char *name, size_t *idx)
{
    if (sim->nfiles == sim->files_cap) {
        size_t cap = sim->files_cap ? sim->files_cap * 2 : 4;
        struct sim_file *nf = realloc(sim->files, cap * sizeof *nf);
        if (!nf)
            return -ENOMEM;
        sim->files = nf;
        sim->files_cap = cap;
    }
    struct sim_file *f = &sim->files[sim->nfiles];
    *f = (struct sim_file){.name = strdup(name)};
    if (!f->name)
        return -ENOMEM;
    *idx = sim->nfiles++;
    return 0;
}

/* ---- The simulator ----------------------------------------------------------------------------- */

struct snap_sim *snap_sim_new(void)
{
    struct snap_sim *sim = calloc(1, sizeof(struct snap_sim));
    if (sim)
        pthread_mutex_init(&sim->mu, NULL);
    return sim;
}

void snap_sim_free(struct snap_sim *sim)
{
    if (!sim)
        return;
    for (size_t i = 0; i < sim->nfiles; i++)
        file_free(&sim->files[i]);
    free(sim->files);
    pthread_mutex_destroy(&sim->mu);
    free(sim);
}

void snap_sim_on_barrier(struct snap_sim *sim, snap_sim_barrier_fn fn, void *arg)
{
    if (!sim)
        return;
    sim->on_barrier = fn;
    sim->on_barrier_arg = arg;
}

uint64_t snap_sim_barriers(const struct snap_sim *sim)
{
    return sim ? sim->barriers : 0;
}

size_t snap_sim_pending(const struct snap_sim *sim)
{
    size_t n = 0;
    for (size_t i = 0; sim && i < sim->nfiles; i++)
        n += file_pending(&sim->files[i]);
    return n;
}

/* The file as a power cut would leave it: media, plus the kept units of this file (keep points at
 * its first unit; NULL keeps none). */
static int crash_file(const struct sim_file *f, const uint8_t *keep, struct sim_file *out)
{
    size_t k = 0;
    uint64_t size = f->media.size;
    if (f->cache.size != f->media.size && keep && keep[k++])
        size = f->cache.size;
    *out = (struct sim_file){.name = strdup(f->name)};
    if (!out->name)
        return -ENOMEM;
    int rc = image_init_from(&out->media, &f->media, size);
    for (size_t i = 0; !rc && keep && i < f->nlines; i++) {
        if (!keep[k++])
            continue;
        /* A kept line beyond the resulting size is dropped. */
        copy_line(&out->media, &f->cache, f->lines[i], min_u64(size, f->cache.size));
    }
    if (!rc)
        rc = image_init_from(&out->cache, &out->media, size);
    return rc;
}

struct snap_sim *snap_sim_crash_image(const struct snap_sim *sim, const uint8_t *keep)
{
    struct snap_sim *img = sim ? snap_sim_new() : NULL;
    if (!img)
        return NULL;
    if (sim->nfiles) {
        img->files = calloc(sim->nfiles, sizeof *img->files);
        if (!img->files) {
            free(img);
            return NULL;
        }
        img->files_cap = sim->nfiles;
    }
    size_t unit = 0;
    for (size_t i = 0; i < sim->nfiles; i++) {
        const struct sim_file *f = &sim->files[i];
        int rc = crash_file(f, keep ? keep + unit : NULL, &img->files[i]);
        img->nfiles = i + 1; /* so that snap_sim_free() frees the partial file too */
        if (rc) {
            snap_sim_free(img);
            return NULL;
        }
        unit += file_pending(f);
    }
    return img;
}

void snap_sim_power_off(struct snap_sim *sim)
{
    if (sim)
        sim->powered_off = 1;
}

void snap_sim_fail_barrier(struct snap_sim *sim, uint64_t n, int err)
{
    if (!sim)
        return;
    sim->fail_from = n;
    sim->fail_err = err;
}

int snap_sim_put(struct snap_sim *sim, const char *name, const void *bytes, size_t len)
{
    if (!sim || !name || (!bytes && len))
        return SNAP_E_INVAL;
    if (sim->in_callback)
        return -EBUSY;
    long i = find_file(sim, name);
    size_t idx;
    if (i >= 0) {
        idx = (size_t)i;
    } else {
        int rc = add_file(sim, name, &idx);
        if (rc)
            return rc;
    }
    struct sim_file *f = &sim->files[idx];
    struct image im[2] = {{0}, {0}};
    for (int k = 0; k < 2; k++) {
        if (image_reserve(&im[k], len)) {
            image_free(&im[0]);
            return -ENOMEM;
        }
        im[k].size = len;
        image_write(&im[k], 0, bytes, len);
    }
    image_free(&f->cache);
    image_free(&f->media);
    f->cache = im[0];
    f->media = im[1];
    drop_lines_from(f, 0);
    return 0;
}

static const struct sim_file *lookup(const struct snap_sim *sim, const char *name)
{
    long i = sim && name ? find_file(sim, name) : -1;
    return i < 0 ? NULL : &sim->files[i];
}

int snap_sim_size(const struct snap_sim *sim, const char *name, int media, uint64_t *out)
{
    const struct sim_file *f = lookup(sim, name);
    if (!f)
        return -ENOENT;
    if (!out)
        return SNAP_E_INVAL;
    *out = media ? f->media.size : f->cache.size;
    return 0;
}

int snap_sim_read(const struct snap_sim *sim, const char *name, int media, uint64_t off, void *buf,
                  size_t len)
{
    const struct sim_file *f = lookup(sim, name);
    if (!f)
        return -ENOENT;
    const struct image *im = media ? &f->media : &f->cache;
    if (!buf && len)
        return SNAP_E_INVAL;
    if (off > im->size || len > im->size - off)
        return SNAP_E_RANGE;
    image_read(im, off, buf, len);
    return 0;
}

/* ---- Operations on one file, as the back end issues them -------------------------------------- */

static int sim_may_change(const struct snap_sim *sim)
{
    if (sim->powered_off)
        return -EIO;
    return sim->in_callback ? -EBUSY : 0;
}

static int file_write(struct snap_sim *sim, struct sim_file *f, uint64_t off, const void *buf,
                      size_t len)
{
    int rc = sim_may_change(sim);
    if (rc)
        return rc;
    if (off > f->cache.size || len > f->cache.size - off)
        return SNAP_E_RANGE;
    if ((rc = mark_bytes(f, off, len)) != 0) /* first: on ENOMEM nothing has changed */
        return rc;
    image_write(&f->cache, off, buf, len);
    return 0;
}

static int file_resize(struct snap_sim *sim, struct sim_file *f, uint64_t n)
{
    int rc = sim_may_change(sim);
    if (rc)
        return rc;
    uint64_t old = f->cache.size;
    if ((rc = image_resize(&f->cache, n)) != 0)
        return rc;
    if (n < old) {
        drop_lines_from(f, (n + LINE - 1) >> LINE_SHIFT);
    } else if (n > old) {
        /* The new bytes read as zero, but the media may still hold older bytes there (a shrink
         * not yet flushed): those lines must reach the media too. Past the media's end the size
         * change itself brings the zeros. */
        uint64_t end = min_u64(n, f->media.size);
        if (end > old && (rc = mark_bytes(f, old, end - old)) != 0)
            return rc;
    }
    return 0;
}

static int file_barrier(struct snap_sim *sim, struct sim_file *f)
{
    int rc = sim_may_change(sim);
    if (rc)
        return rc;
    uint64_t k = sim->barriers++;
    if (sim->on_barrier) {
        /* in_callback refuses every change, so f (and the files array) stay where they are. */
        sim->in_callback = 1;
        /* Not under mu: the callback opens regions (taking the library's locks) on crash images;
         * a handler reading meanwhile only reads, as the callback does. */
        pthread_mutex_unlock(&sim->mu);
        sim->on_barrier(sim, f->name, sim->on_barrier_arg);
        pthread_mutex_lock(&sim->mu);
        sim->in_callback = 0;
        if (sim->powered_off) /* the callback cut the power at this barrier */
            return -EIO;
    }
    if (sim->fail_err && k >= sim->fail_from)
        return sim->fail_err;
    if ((rc = image_resize(&f->media, f->cache.size)) != 0)
        return rc;
    for (size_t i = 0; i < f->nlines; i++)
        copy_line(&f->media, &f->cache, f->lines[i], f->cache.size);
    drop_lines_from(f, 0);
    return 0;
}

/* ---- The back end ------------------------------------------------------------------------------ */

struct sim_backend {
    struct snap_backend base;
    struct snap_sim *sim;
    size_t file[2]; /* indices: the files array may move as files are added */
};

static struct sim_backend *sb(struct snap_backend *b)
{
    return (struct sim_backend *)b;
}

static struct sim_file *be_file(struct snap_backend *b, int which)
{
    if (which != SNAP_DATA && which != SNAP_LOG)
        return NULL;
    return &sb(b)->sim->files[sb(b)->file[which]];
}

static int be_size_unlocked(struct snap_backend *b, int which, uint64_t *out)
{
    struct sim_file *f = be_file(b, which);
    if (!f)
        return SNAP_E_INVAL;
    *out = f->cache.size;
    return 0;
}

static int be_resize_unlocked(struct snap_backend *b, int which, uint64_t n)
{
    struct sim_file *f = be_file(b, which);
    return f ? file_resize(sb(b)->sim, f, n) : SNAP_E_INVAL;
}

static int be_read_unlocked(struct snap_backend *b, int which, uint64_t off, void *buf, size_t len)
{
    struct sim_file *f = be_file(b, which);
    if (!f)
        return SNAP_E_INVAL;
    if (off > f->cache.size || len > f->cache.size - off)
        return SNAP_E_RANGE;
    image_read(&f->cache, off, buf, len);
    return 0;
}

static int be_write_unlocked(struct snap_backend *b, int which, uint64_t off, const void *buf, size_t len)
{
    struct sim_file *f = be_file(b, which);
    return f ? file_write(sb(b)->sim, f, off, buf, len) : SNAP_E_INVAL;
}

static int be_barrier_unlocked(struct snap_backend *b, int which)
{
    struct sim_file *f = be_file(b, which);
    return f ? file_barrier(sb(b)->sim, f) : SNAP_E_INVAL;
}

/* The DRAM copy is anonymous memory filled from the cache image, as the file back ends fill theirs
 * from the file, with the same bounds. */
static int be_map_private_unlocked(struct snap_backend *b, void *addr, uint64_t off, size_t len, int huge)
{
    const struct image *im = &be_file(b, SNAP_DATA)->cache;
    int rc = snap_copy_check_range(addr, off, len, im->size);
    if (rc || len == 0)
        return rc;
    if ((rc = snap_copy_map_zeros(addr, len, huge)) != 0)
        return rc;
    uint64_t filled = min_u64(im->hw, off + len); /* the rest is zero, as fresh memory is */
    if (filled > off)
        memcpy(addr, im->p + off, (size_t)(filled - off));
    return 0;
}

/* The back-end calls: each one under the simulator's lock (see struct snap_sim). */
#define SIM_LOCKED(name, params, args)                                                             \
    static int name params                                                                         \
    {                                                                                              \
        pthread_mutex_lock(&sb(b)->sim->mu);                                                       \
        int rc = name##_unlocked args;                                                             \
        pthread_mutex_unlock(&sb(b)->sim->mu);                                                     \
        return rc;                                                                                 \
    }
SIM_LOCKED(be_size, (struct snap_backend *b, int which, uint64_t *out), (b, which, out))
SIM_LOCKED(be_resize, (struct snap_backend *b, int which, uint64_t n), (b, which, n))
SIM_LOCKED(be_read, (struct snap_backend *b, int which, uint64_t off, void *buf, size_t len),
           (b, which, off, buf, len))
SIM_LOCKED(be_write, (struct snap_backend *b, int which, uint64_t off, const void *buf, size_t len),
           (b, which, off, buf, len))
SIM_LOCKED(be_barrier, (struct snap_backend *b, int which), (b, which))
SIM_LOCKED(be_map_private, (struct snap_backend *b, void *addr, uint64_t off, size_t len, int huge),
           (b, addr, off, len, huge))

static void be_close(struct snap_backend *b)
{
    free(b);
}

static const struct snap_backend_ops sim_ops = {
    .size = be_size,
    .resize = be_resize,
    .read = be_read,
    .write = be_write,
    .barrier = be_barrier,
    .map_private = be_map_private,
    .close = be_close,
};

int snap_backend_sim_open(struct snap_sim *sim, const char *path, int create,
                          struct snap_backend **out)
{
    if (!out)
        return SNAP_E_INVAL;
    *out = NULL;
    if (!sim || !path || !*path)
        return SNAP_E_INVAL;
    if (sim->in_callback)
        return -EBUSY;
    char *log_name;
    if (asprintf(&log_name, "%s.snaplog", path) < 0)
        return -ENOMEM;
    struct sim_backend *s = calloc(1, sizeof *s);
    int rc = s ? 0 : -ENOMEM;
    const char *names[2] = {[SNAP_DATA] = path, [SNAP_LOG] = log_name};
    pthread_mutex_lock(&sim->mu); /* add_file may move the file table a handler reads through */
    for (int i = 0; i < 2 && !rc; i++) {
        long idx = find_file(sim, names[i]);
        if (idx >= 0)
            s->file[i] = (size_t)idx;
        else if (i == SNAP_DATA && !create)
            rc = -ENOENT;
        else
            rc = add_file(sim, names[i], &s->file[i]);
    }
    pthread_mutex_unlock(&sim->mu);
    free(log_name);
    if (rc) {
        free(s);
        return rc;
    }
    s->base.ops = &sim_ops;
    s->base.kind = SNAP_BACKEND_SIM;
    s->sim = sim;
    *out = &s->base;
    return 0;
}
