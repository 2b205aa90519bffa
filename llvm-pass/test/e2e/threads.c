/* threads.c — end-to-end: several threads store into one region at once — each into its own slice,
 * all into shared atomic counters and into a shared array under a mutex — in rounds; between
 * rounds every thread calls snap_msync() at the same time (group commit). The region must equal the
 * threads' mirrors after every round and after reopening.
 * Writers are quiescent during the msyncs: verification compares lines that are not marked dirty,
 * and a store racing with it may not be marked yet (its hook runs just after it), which would be
 * reported although nothing is lost. */
#include <pthread.h>
#include <stdatomic.h>

#include "e2e.h"

#define THREADS 4
#define SLICE (256u << 10)
#define SHARED 4096u
#define ROUNDS 25
#define OPS 4000

struct shared {
    _Atomic uint64_t counters[8];
    uint64_t log[SHARED / 8 - 8];
};

static struct e2e t;
static char *region;                       /* [shared][slice 0]...[slice THREADS-1] */
static char *mirror;                       /* same layout, on the heap */
static pthread_barrier_t barrier;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t log_next;
static _Atomic int msync_failures;

static void store_record(char *slice, uint64_t r)
{
    uint64_t off = (r % (SLICE / 64 - 1)) * 64;
    uint64_t rec[3] = {r, r * 31, ~r};
    memcpy(slice + off + (r >> 60), rec, sizeof rec); /* 24 bytes, maybe across a line */
    *(uint32_t *)(slice + ((r >> 20) % (SLICE / 4)) * 4) += 1;
}

static void *worker(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg, seed = 1000 + id;
    char *mine = region + SHARED + id * SLICE, *model = mirror + SHARED + id * SLICE;
    struct shared *sh = (struct shared *)region, *msh = (struct shared *)mirror;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < OPS; i++) {
            uint64_t r = e2e_rand(&seed);
            store_record(mine, r);
            store_record(model, r);
            atomic_fetch_add(&sh->counters[r & 7], 1);
            atomic_fetch_add(&msh->counters[r & 7], 1);
            if ((r & 63) == 0) {
                pthread_mutex_lock(&log_lock);
                uint64_t slot = log_next++ % (sizeof sh->log / 8);
                sh->log[slot] = r;
                msh->log[slot] = r;
                pthread_mutex_unlock(&log_lock);
            }
        }
        pthread_barrier_wait(&barrier); /* all stores of the round done */
        int rc = snap_msync(t.r);       /* all threads at once */
        if (rc)
            atomic_fetch_add(&msync_failures, 1);
        pthread_barrier_wait(&barrier); /* main checks */
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    size_t used = SHARED + (size_t)THREADS * SLICE;
    region = e2e_start(&t, "threads", argc, argv, used + 4096);
    mirror = calloc(1, used);
    pthread_t th[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS + 1);
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    int ok = 1;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_barrier_wait(&barrier);
        pthread_barrier_wait(&barrier);
        e2e_msync(&t); /* the harness's own msync, after the threads' group commit */
        ok &= memcmp(region, mirror, used) == 0;
        pthread_barrier_wait(&barrier);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    /* The threads' msyncs count like the harness's: a verification failure is a failure. */
    t.verify_failures += atomic_load(&msync_failures);
    region = e2e_reopen(&t);
    ok &= memcmp(region, mirror, used) == 0;
    uint64_t total = 0;
    for (int i = 0; i < 8; i++)
        total += ((struct shared *)region)->counters[i];
    ok &= total == (uint64_t)THREADS * ROUNDS * OPS;
    free(mirror);
    return e2e_finish(&t, ok);
}
