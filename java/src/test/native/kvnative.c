/* kvnative.c — the native half of NativePluginTest: plain C that writes into a region whose address
 * Java handed over through JNA (PersistentRegion.address()).
 *
 * There is deliberately no snap_track() call, no Snapshot header, nothing that knows about regions:
 * compiled with the clang plugin (-fpass-plugin=libsnapshot-pass.so) its stores are tracked by the
 * hooks the plugin inserts, and Java's msync() commits them with Java's own stores; compiled without
 * it, they are not tracked and a crash (or a close) loses them. The test builds it both ways.
 *
 * Everything written is a function of (seed, epoch) and of what the region held before, so the same
 * code run on a heap buffer (outside the arena: the hooks see nothing there) is the model of the
 * region. The writes come in the forms the plugin must see:
 *   - a struct returned by value (sret) and assigned into the region, and a struct copy inside it;
 *   - a memcpy of a variable length from a stack buffer;
 *   - a loop of stores through a pointer passed down three calls;
 *   - a read-modify-write of a running checksum, and the epoch stamp last.
 * Only kv_epoch and kv_layout are exported; the helpers are static, so a second copy of this code
 * loaded into the same process (the variant without the plugin) cannot interpose on them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define KV_EXPORT __attribute__((visibility("default")))
#define KV_NOINLINE __attribute__((noinline))

/* The native side owns [KV_NATIVE_OFF, KV_REGION_SIZE) of the region; Java owns [0, KV_NATIVE_OFF). */
#define KV_NATIVE_OFF 8192u
#define KV_REGION_SIZE 65536u
#define KV_RECS 128u
#define KV_BLOB 16384u
#define KV_GRID_ROWS 56u
#define KV_GRID_COLS 125u

struct kv_rec { /* 80 bytes: records straddle 64-byte lines */
    uint64_t key;
    uint64_t epoch;
    uint32_t v[10];
    uint16_t len;
    char tag[22];
};

struct kv_area {
    uint64_t epoch;    /* the last epoch the native side wrote (written last) */
    uint64_t checksum; /* a running hash over the epochs: depends on every earlier one */
    struct kv_rec recs[KV_RECS];
    uint8_t blob[KV_BLOB];
    uint32_t grid[KV_GRID_ROWS][KV_GRID_COLS];
};

_Static_assert(sizeof(struct kv_rec) == 80, "kv_rec layout");
_Static_assert(KV_NATIVE_OFF + sizeof(struct kv_area) <= KV_REGION_SIZE, "kv_area fits the region");

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint64_t h(uint64_t seed, uint64_t epoch, uint64_t what) {
    return mix(seed ^ mix(epoch ^ mix(what)));
}

/* Returned by value: a 80-byte struct comes back through an sret pointer. */
static KV_NOINLINE struct kv_rec make_rec(uint64_t seed, uint64_t epoch) {
    struct kv_rec r;
    r.key = h(seed, epoch, 1);
    r.epoch = epoch;
    for (unsigned i = 0; i < 10; i++)
        r.v[i] = (uint32_t)h(seed, epoch, 100 + i);
    r.len = (uint16_t)(epoch & 0xFFFF);
    memset(r.tag, 0, sizeof r.tag);
    for (unsigned i = 0; i < 21; i++)
        r.tag[i] = (char)('a' + (h(seed, epoch, 200 + i) % 26));
    return r;
}

/* The innermost call: a strided loop of 32-bit stores through the pointer it was given. */
static KV_NOINLINE void grid_fill(uint32_t *p, unsigned n, unsigned stride, uint32_t v) {
    for (unsigned i = 0; i < n; i++)
        p[(size_t)i * stride] = v + i * 0x01000193u;
}

static KV_NOINLINE void grid_row(uint32_t *row, uint64_t seed, uint64_t epoch) {
    unsigned stride = 1 + (unsigned)(h(seed, epoch, 4) % 4);
    unsigned start = (unsigned)(h(seed, epoch, 5) % 16);
    unsigned n = (KV_GRID_COLS - start + stride - 1) / stride;
    grid_fill(row + start, n, stride, (uint32_t)h(seed, epoch, 6));
}

static KV_NOINLINE void grid_epoch(struct kv_area *a, uint64_t seed, uint64_t epoch) {
    unsigned row = (unsigned)(h(seed, epoch, 3) % KV_GRID_ROWS);
    grid_row(a->grid[row], seed, epoch);
}

/* One epoch of native writes into the region whose first byte is `base` (or into a heap model). */
KV_EXPORT void kv_epoch(void *base, uint64_t seed, uint64_t epoch) {
    struct kv_area *a = (struct kv_area *)((char *)base + KV_NATIVE_OFF);

    /* 1. a struct returned by value, assigned into the region; every third epoch a struct copy
     *    from one record to another inside the region. */
    a->recs[h(seed, epoch, 2) % KV_RECS] = make_rec(seed, epoch);
    if (epoch % 3 == 0)
        a->recs[h(seed, epoch, 7) % KV_RECS] = a->recs[h(seed, epoch, 8) % KV_RECS];

    /* 2. a memcpy of 1..512 bytes from a stack buffer to a random place in the blob. */
    uint8_t buf[512];
    size_t len = 1 + (size_t)(h(seed, epoch, 9) % sizeof buf);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)h(seed, epoch, 1000 + i);
    size_t off = (size_t)(h(seed, epoch, 10) % (KV_BLOB - len + 1));
    memcpy(a->blob + off, buf, len);

    /* 3. a loop of stores through a pointer passed down three calls. */
    grid_epoch(a, seed, epoch);

    /* 4. history: the checksum depends on every earlier epoch; then the epoch stamp. */
    a->checksum = mix(a->checksum ^ epoch ^ a->recs[epoch % KV_RECS].key);
    a->epoch = epoch;
}

/* The layout, for the Java side's independent checks: {native offset, region size, offsetof recs,
 * sizeof rec, records, offsetof blob, offsetof grid, grid rows, grid columns}. */
KV_EXPORT void kv_layout(int64_t out[9]) {
    out[0] = KV_NATIVE_OFF;
    out[1] = KV_REGION_SIZE;
    out[2] = (int64_t)offsetof(struct kv_area, recs);
    out[3] = (int64_t)sizeof(struct kv_rec);
    out[4] = KV_RECS;
    out[5] = (int64_t)offsetof(struct kv_area, blob);
    out[6] = (int64_t)offsetof(struct kv_area, grid);
    out[7] = KV_GRID_ROWS;
    out[8] = KV_GRID_COLS;
}
