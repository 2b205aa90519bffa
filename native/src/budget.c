/* budget.c — the evictable working copy (budget.h): residency, the fault handler, eviction.
 *
 * THE EVICTION PROTOCOL
 *
 * A region whose copy exceeds its budget gets a copy of anonymous memory registered with a
 * userfaultfd in its missing and write-protect modes. A page p of the copy is either *resident* (a
 * private page holding the program's bytes) or *missing* (no page: the next access, by any thread
 * or by the kernel on its behalf, blocks in the kernel and is sent to the handler). The resident
 * bitmap says which; only a fill and an eviction change it, each under b->mu.
 *
 *   fill (the handler thread, on a missing-page fault at p), under mu:
 *        F1. if p is resident (a second fault raced with its fill): wake the waiters; done
 *        F2. read D's bytes of p (pread, or the back end's read), zeros past the region's size
 *        F3. UFFDIO_COPY them into p: the page appears whole and every thread waiting on p wakes
 *        F4. set p resident
 *
 *   evict (the commit leader, at the end of snap_msync() when over budget), under mu, for each
 *        resident page p that the clock hand picks and that has no line in a pending record (the
 *        dirty map is only a hint: pages with dirty lines are skipped because they will be needed
 *        soon, not for safety):
 *        E1. write-protect p (UFFDIO_WRITEPROTECT): from its return, a store to p blocks in the
 *            kernel until p is unprotected; every store before it is in p
 *        E2. read D's bytes of p and compare them with p
 *        E3. if equal: MADV_DONTNEED p (now missing), clear it resident
 *        E4. unprotect p, which wakes its blocked writers: they retry, and fault again if p is
 *            missing (served by a fill once mu is free)
 *
 * INVARIANTS (cited as B1..B6 here and in docs/ARCHITECTURE.md)
 *
 *   (B1) While p is missing, D's bytes of p equal the bytes p held when it was dropped. At E3 they
 *        were equal. D changes only where a record is applied (commit.c, step 6) or replayed; a
 *        record that carries a line of p was staged from the copy, so p was resident then; a
 *        record staged before the drop is still pending or applied before it (E skips pages with
 *        a line in a pending record, and applies happen only in the leader, which is the
 *        evictor); a record staged after the drop needed a fill first. So F2 reads exactly what
 *        E3 dropped: to every reader and writer a round trip through D changes nothing.
 *   (B2) No store is lost. A store S to p either precedes E1, and is then in p when E2 compares:
 *        p differs from D and stays, or S wrote D's own bytes, which F2 gives back (B1); or
 *        follows E1, and then blocks until E4, after which p is the same page (with every earlier
 *        store) or missing, and S lands on the page F3 makes, which holds p's bytes (B1). The
 *        marking that follows S (dirty_map.h) is untouched: the commit copies the line from the
 *        copy as it does for any racing store, and reads S's bytes (B1, B2).
 *   (B3) A fill and an eviction never overlap (mu): E2 compares a page no fill replaces, and E3
 *        never drops a page that a fill just made from older bytes.
 *   (B4) Every fault is served. The handler never touches the copy (it copies from its own
 *        buffer) and never waits for a thread that may be faulting: it takes mu, whose holder (the
 *        evictor) reads resident pages only, and it takes the leader's role to evict only when
 *        no one holds it, without waiting.
 *   (B5) The library's own reads of the copy (staging a line, SNAPSHOT_VERIFY) fault like any
 *        other access; the leader holds no mu while it stages, so its faults are served (B4).
 *   (B6) A copy taken over by a grow past the budget (snap_budget_grow(): a region created whole,
 *        whose copy is anonymous memory) loses no store and counts each page once: snap_grow()
 *        holds r->mu, so no commit or eviction runs; the handler starts before the registration,
 *        so every fault after it is served; under mu, mincore counts the pages present, and a page
 *        faulted in after the registration is counted by its fill (F1 and the bitmap keep it from
 *        being counted twice). Writers storing meanwhile store into their pages as before, or
 *        fault to the handler, which fills from D: a page that was never present holds D's bytes
 *        in the copy too (zeros, or D's bytes since the open: it was never written).
 *
 * Why not release pages whose lines look clean: the hook marks a line after its store, so a
 * store can be in p while its line still looks clean; dropping p then loses it, and the marking
 * that follows commits the old bytes. E1's protection and E2's comparison close that window
 * (test_budget_race fails for the naive release).
 *
 * Costs. A store to a resident page: nothing more than without a budget (the copy is ordinary
 * memory). A fault on a missing page: a round trip through the handler thread (tens of
 * microseconds in a VM) plus a read of D's page (the page cache, or the device). An eviction: two
 * ioctls, a pread, a 4 KiB comparison and an madvise per page, paid by the msync that finds the
 * copy over budget.
 *
 * Fork: the copy is MADV_DONTFORK, so a child has no copy of an evictable region (its addresses
 * fault in the child): a child's copy without the handler would read zeros where pages are
 * missing. snapshot.h says so.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "budget.h"
#include "racy.h"
#include "region.h"
#include "testkit.h"

/* Newer than some installed kernel headers (Linux 6.6). */
#ifndef UFFDIO_POISON
struct uffdio_poison {
    struct uffdio_range range;
    uint64_t mode;
    int64_t updated;
};
#define UFFDIO_POISON _IOWR(UFFDIO, 0x08, struct uffdio_poison)
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

#define EVICT_BATCH 32u       /* pages beyond the overshoot an eviction drops, so it runs rarely */
#define EVICT_MAX 4096u       /* at most this many pages dropped per call */

/* ---- The budget's size ------------------------------------------------------------------------ */

/* The memory limit of this process's cgroup and its ancestors (v1 memory controller or v2), or
 * UINT64_MAX if none can be read. */
static uint64_t cgroup_limit(void)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return UINT64_MAX;
    char line[4096], path[4096] = "";
    int v1 = 0;
    while (fgets(line, sizeof line, f)) {
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b)
            continue;
        *b = 0;
        b[1 + strcspn(b + 1, "\n")] = 0;
        int mem = strstr(a + 1, "memory") != NULL, unified = a[1] == 0;
        if (mem || (unified && !v1)) {
            snprintf(path, sizeof path, "%s", b + 1);
            v1 = mem;
        }
    }
    fclose(f);
    uint64_t limit = UINT64_MAX;
    for (;;) { /* the path and each ancestor: the least limit binds */
        char file[8300];
        snprintf(file, sizeof file, v1 ? "/sys/fs/cgroup/memory%s/memory.limit_in_bytes"
                                        : "/sys/fs/cgroup%s/memory.max", path);
        FILE *g = fopen(file, "r");
        unsigned long long v;
        if (g && fscanf(g, "%llu", &v) == 1 && v < limit)
            limit = v; /* "max" (v2) or a huge v1 value: no limit here */
        if (g)
            fclose(g);
        char *slash = strrchr(path, '/');
        if (!slash || path[0] == 0)
            break;
        *slash = 0;
        if (path[0] == 0 && !v1)
            break; /* the v2 root has no memory.max */
    }
    return limit;
}

static uint64_t default_budget;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_setup(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t mem = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : (uint64_t)4 << 30;
    uint64_t cg = cgroup_limit();
    default_budget = (cg < mem ? cg : mem) / 4;
}

uint64_t snap_budget_default(void)
{
    pthread_once(&default_once, default_setup);
    return default_budget;
}

/* SNAPSHOT_BUDGET: bytes with an optional k, m or g suffix, or "none"; 0 if unset or invalid. */
static uint64_t env_budget(void)
{
    const char *v = getenv("SNAPSHOT_BUDGET");
    if (!v || !*v)
        return 0;
    if (strcmp(v, "none") == 0)
        return SNAP_BUDGET_NONE;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    int shift = *end == 'k' || *end == 'K' ? 10 : *end == 'm' || *end == 'M' ? 20
              : *end == 'g' || *end == 'G' ? 30 : 0;
    if (shift)
        end++;
    if (*end || n == 0 || n > (UINT64_MAX >> shift))
        return 0;
    return (uint64_t)n << shift;
}

/* ---- Bitmaps ---------------------------------------------------------------------------------- */

static int bit_test(const uint64_t *m, uint64_t i)
{
    return (m[i >> 6] >> (i & 63)) & 1;
}
static void bit_set(uint64_t *m, uint64_t i)
{
    m[i >> 6] |= (uint64_t)1 << (i & 63);
}
static void bit_clear(uint64_t *m, uint64_t i)
{
    m[i >> 6] &= ~((uint64_t)1 << (i & 63));
}

/* ---- Reading D -------------------------------------------------------------------------------- */

/* D's bytes of the page at `off` into buf, zeros past the region's size. The handler reads through
 * data_fd (pread is safe beside the leader's writes); without one (the simulator), through the back
 * end, whose data image changes size only in snap_grow(), under mu. */
static int read_page(struct snap_region *r, uint64_t off, uint8_t *buf)
{
    struct snap_budget *b = &r->budget;
    size_t page = (size_t)1 << b->page_shift, n = 0;
    uint64_t size = snap_region_size(r);
    if (off < size)
        n = size - off < page ? (size_t)(size - off) : page;
    int rc = 0;
    if (n && b->data_fd >= 0) {
        size_t got = 0;
        while (got < n && !rc) {
            ssize_t k = pread(b->data_fd, buf + got, n - got, (off_t)(off + got));
            if (k > 0)
                got += (size_t)k;
            else if (k == 0)
                break; /* past D's end: zeros (D is never shorter than the size: invariant 7) */
            else if (errno != EINTR)
                rc = -errno;
        }
        n = got;
    } else if (n) {
        rc = snap_be_read(r->be, SNAP_DATA, off, buf, n);
    }
    if (!rc && n < page)
        memset(buf + n, 0, page - n);
    return rc;
}

/* ---- The handler ------------------------------------------------------------------------------ */

static int uffd_ioctl(int fd, unsigned long req, void *arg)
{
    int rc;
    do
        rc = ioctl(fd, req, arg);
    while (rc && (errno == EINTR || errno == EAGAIN)); /* EAGAIN: the address space was changing */
    return rc ? -errno : 0;
}

static void wake(struct snap_budget *b, uint64_t addr)
{
    struct uffdio_range w = {addr, (uint64_t)1 << b->page_shift};
    uffd_ioctl(b->uffd, UFFDIO_WAKE, &w);
}

/* F1-F4 for the page at addr. */
static void fill(struct snap_region *r, uint64_t addr)
{
    struct snap_budget *b = &r->budget;
    uint64_t page = (uint64_t)1 << b->page_shift, off = addr - r->base, i = off >> b->page_shift;
    pthread_mutex_lock(&b->mu);
    if (off >= __atomic_load_n(&b->end, __ATOMIC_ACQUIRE) || bit_test(b->resident, i)) {
        /* F1, or a part registered a moment ago whose extent is not published yet: retry */
        pthread_mutex_unlock(&b->mu);
        wake(b, addr);
        return;
    }
    int rc = read_page(r, off, b->fill_buf); /* F2 */
    if (rc) {
        /* D cannot be read: the access fails as a mapped file's would, with SIGBUS (the JVM
         * turns it into an InternalError), rather than show bytes that are not the region's.
         * Kernels before 6.6 cannot poison; there the access is retried (it faults again, and
         * the read with it) until D can be read. */
        struct uffdio_poison p = {{addr, page}, 0, 0};
        /* Not marked resident: eviction and SNAPSHOT_VERIFY read resident pages only, and a
         * read of the poisoned page would raise SIGBUS in them too. */
        int poisoned = uffd_ioctl(b->uffd, UFFDIO_POISON, &p) == 0;
        pthread_mutex_unlock(&b->mu);
        if (!poisoned)
            wake(b, addr);
        return;
    }
    struct uffdio_copy c = {addr, (uint64_t)(uintptr_t)b->fill_buf, page, 0, 0}; /* F3 */
    rc = uffd_ioctl(b->uffd, UFFDIO_COPY, &c);
    if (rc == 0 || rc == -EEXIST) { /* F4 (EEXIST: cannot happen while the bitmap is exact) */
        bit_set(b->resident, i);
        bit_set(b->ref, i);
        __atomic_fetch_add(&b->nresident, 1, __ATOMIC_RELAXED);
        if (bit_test(b->evicted, i))
            __atomic_fetch_add(&b->refaults, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&b->mu);
    if (rc)
        wake(b, addr); /* -ENOENT: the copy is going away (close); let the thread retry */
}

/* Over budget between commits (a program that reads much and commits little): evict as the
 * leader, if no one is (B4: never wait). Not again until a commit has happened since an eviction
 * that freed nothing, so that a copy full of uncommitted pages is not scanned on every fault. */
static void handler_evict(struct snap_region *r, uint64_t *fruitless_at)
{
    struct snap_budget *b = &r->budget;
    uint64_t commits = __atomic_load_n(&r->st_commits, __ATOMIC_RELAXED);
    if (commits == *fruitless_at)
        return;
    pthread_mutex_lock(&r->mu);
    int mine = !r->leader_active && !b->no_evict && r->state == SNAP_STATE_OPEN;
    if (mine)
        r->leader_active = 1;
    pthread_mutex_unlock(&r->mu);
    if (!mine)
        return;
    uint64_t before = __atomic_load_n(&b->evictions, __ATOMIC_RELAXED);
    snap_budget_evict(r);
    if (__atomic_load_n(&b->evictions, __ATOMIC_RELAXED) == before)
        *fruitless_at = commits;
    pthread_mutex_lock(&r->mu);
    r->leader_active = 0;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void *handler(void *arg)
{
    struct snap_region *r = arg;
    struct snap_budget *b = &r->budget;
    uint64_t page = (uint64_t)1 << b->page_shift, fruitless_at = UINT64_MAX;
    uint64_t slack = b->limit / 8 > 64 * page ? b->limit / 8 : 64 * page;
    for (;;) {
        struct pollfd p[2] = {{b->uffd, POLLIN, 0}, {b->stop_fd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0)
            continue; /* EINTR */
        if (p[1].revents)
            break;
        struct uffd_msg msg[16];
        ssize_t n = read(b->uffd, msg, sizeof msg);
        if (n <= 0)
            continue; /* EAGAIN: another wake-up took it */
        for (ssize_t k = 0; k < n / (ssize_t)sizeof msg[0]; k++) {
            if (msg[k].event != UFFD_EVENT_PAGEFAULT)
                continue;
            uint64_t addr = msg[k].arg.pagefault.address & ~(page - 1);
            if (msg[k].arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
                /* A store hit E1's protection after E4 lifted it (the message outlived the
                 * wake): make sure it is lifted; mu orders this after the eviction. */
                pthread_mutex_lock(&b->mu);
                struct uffdio_writeprotect w = {{addr, page}, 0};
                uffd_ioctl(b->uffd, UFFDIO_WRITEPROTECT, &w);
                pthread_mutex_unlock(&b->mu);
            } else {
                fill(r, addr);
            }
        }
        if (__atomic_load_n(&b->nresident, __ATOMIC_RELAXED) * page > b->limit + slack)
            handler_evict(r, &fruitless_at);
    }
    return NULL;
}

/* ---- Open, map, close ------------------------------------------------------------------------- */

static int uffd_open(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && (errno == EPERM || errno == EACCES)) {
        /* Unprivileged without vm.unprivileged_userfaultfd: the device, if we may open it. Not
         * UFFD_USER_MODE_ONLY: a system call reading an evicted page (write(2) from the region)
         * would then fail with EFAULT instead of waiting for the fill. */
        int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
        if (dev >= 0) {
            fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
            close(dev);
        }
    }
    if (fd < 0)
        return -errno;
    struct uffdio_api api = {UFFD_API, 0, 0};
    if (ioctl(fd, UFFDIO_API, &api) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

uint64_t snap_budget_choose(uint64_t asked)
{
    uint64_t env = env_budget();
    return env ? env : asked ? asked : snap_budget_default();
}

/* Make the copy evictable from now on: the userfaultfd, the bitmaps and the lock, and the hints
 * to the back end. The handler starts with the first range registered (start_handler()). 0,
 * -errno, or SNAP_E_UNSUPPORTED where there is no userfaultfd and the budget was asked for. */
static int setup(struct snap_region *r)
{
    struct snap_budget *b = &r->budget;
    uint64_t page = (uint64_t)1 << b->page_shift;
    int fd = uffd_open();
    if (fd < 0)
        return b->asked ? SNAP_E_UNSUPPORTED : 0; /* only the default may go unenforced */
    b->uffd = fd;
    b->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    b->pages = r->reserve >> b->page_shift;
    b->bits_len = 3 * (((b->pages + 63) / 64) * 8);
    void *bits = mmap(NULL, b->bits_len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    b->fill_buf = aligned_alloc(page, 2 * page);
    if (b->stop_fd < 0 || bits == MAP_FAILED || !b->fill_buf) {
        int rc = b->stop_fd < 0 ? -errno : -ENOMEM;
        if (bits != MAP_FAILED)
            munmap(bits, b->bits_len);
        b->bits_len = 0;
        snap_budget_destroy(r, 0);
        return rc;
    }
    b->cmp_buf = b->fill_buf + page;
    b->resident = bits;
    b->evicted = b->resident + (b->pages + 63) / 64;
    b->ref = b->evicted + (b->pages + 63) / 64;
    /* Pages come and go one at a time, at random: read-ahead would fill the memory the budget
     * saves with pages nobody asked for (and, under a cgroup limit, evict the useful ones). */
    if (b->data_fd >= 0)
        posix_fadvise(b->data_fd, 0, 0, POSIX_FADV_RANDOM);
    snap_be_random_access(r->be);
    pthread_mutex_init(&b->mu, NULL);
    b->evicting = 1;
    return 0;
}

/* The handler runs with every signal blocked: a JVM or a program's handlers must never run on it
 * (it may hold mu). Before any range is registered, so that no fault waits for a handler. */
static int start_handler(struct snap_region *r)
{
    struct snap_budget *b = &r->budget;
    if (b->thread_started)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = -pthread_create(&b->thread, NULL, handler, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    b->thread_started = rc == 0;
    return rc;
}

int snap_budget_init(struct snap_region *r, uint64_t asked, uint64_t size, int data_fd)
{
    struct snap_budget *b = &r->budget;
    b->uffd = b->stop_fd = -1;
    b->data_fd = data_fd;
    b->limit = snap_budget_choose(asked);
    b->asked = asked != 0 || env_budget() != 0;
    long pagesz = sysconf(_SC_PAGESIZE);
    b->page_shift = (unsigned)__builtin_ctzl((unsigned long)(pagesz > 0 ? pagesz : 4096));
    uint64_t page = (uint64_t)1 << b->page_shift;
    uint64_t mapped = (size + page - 1) & ~(page - 1);
    if (b->limit == SNAP_BUDGET_NONE || mapped <= b->limit)
        return 0; /* the ordinary copy (copy.h), until a grow takes it past */
    return setup(r);
}

/* Register [addr, addr+len) of the copy, already mapped anonymous, with the userfaultfd. */
static int enroll(struct snap_budget *b, void *addr, uint64_t len)
{
    /* 4 KiB pages: the unit of fills and evictions. No copy in a forked child (see the top). */
    madvise(addr, len, MADV_NOHUGEPAGE);
    if (madvise(addr, len, MADV_DONTFORK))
        return -errno;
    struct uffdio_register reg = {{(uint64_t)(uintptr_t)addr, len},
                                  UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP, 0};
    return uffd_ioctl(b->uffd, UFFDIO_REGISTER, &reg);
}

int snap_budget_map(struct snap_region *r, uint64_t off, uint64_t len)
{
    struct snap_budget *b = &r->budget;
    void *addr = (uint8_t *)r->base + off;
    if (len == 0)
        return 0;
    int rc = start_handler(r);
    if (rc)
        return rc;
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    rc = enroll(b, addr, len);
    if (!rc) /* after the registration: a fault in the new part before this retries */
        __atomic_store_n(&b->end, off + len, __ATOMIC_RELEASE);
    if (rc) /* back to reserved address space, as copy.c leaves a failed range */
        mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    return rc;
}

int snap_budget_grow(struct snap_region *r, uint64_t old_mapped, uint64_t new_mapped, int anon)
{
    struct snap_budget *b = &r->budget;
    if (b->evicting || b->limit == SNAP_BUDGET_NONE || new_mapped <= b->limit)
        return 0;
    int rc = setup(r);
    if (rc || !b->evicting)
        return rc; /* no userfaultfd: SNAP_E_UNSUPPORTED if asked for, else the ordinary copy */
    if ((rc = start_handler(r)) != 0)
        return rc;
    if (!anon || old_mapped == 0)
        return 0; /* a copy of the file stays as it is; the new part is evictable */
    /* Take over the copy as it is: its present pages are resident, the rest fault to the handler
     * from the registration on. Writers may run meanwhile (stores below the old size): a page
     * they fault in before the count is counted by its fill (F4), the others by mincore. */
    pthread_mutex_lock(&b->mu);
    rc = enroll(b, (void *)r->base, old_mapped);
    if (!rc)
        __atomic_store_n(&b->end, old_mapped, __ATOMIC_RELEASE);
    uint64_t page = (uint64_t)1 << b->page_shift, n = old_mapped >> b->page_shift;
    unsigned char vec[4096];
    for (uint64_t i = 0; !rc && i < n; i += sizeof vec) {
        uint64_t k = n - i < sizeof vec ? n - i : sizeof vec;
        if (mincore((uint8_t *)r->base + (i << b->page_shift), k * page, vec))
            break; /* cannot count: those pages stay, uncounted, as in a copy of the file */
        for (uint64_t j = 0; j < k; j++)
            if ((vec[j] & 1) && !bit_test(b->resident, i + j)) {
                bit_set(b->resident, i + j);
                b->nresident++;
            }
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void snap_budget_quiesce(struct snap_region *r)
{
    if (!r->budget.evicting)
        return;
    pthread_mutex_lock(&r->mu);
    r->budget.no_evict = 1;
    while (r->leader_active)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

void snap_budget_destroy(struct snap_region *r, int forked)
{
    struct snap_budget *b = &r->budget;
    if (b->thread_started && !forked) {
        uint64_t one = 1;
        if (write(b->stop_fd, &one, sizeof one) != sizeof one)
            pthread_cancel(b->thread); /* cannot happen with an eventfd below its maximum */
        pthread_join(b->thread, NULL);
    }
    b->thread_started = 0;
    if (b->uffd >= 0)
        close(b->uffd); /* any waiter left retries its fault on whatever is mapped now */
    if (b->stop_fd >= 0)
        close(b->stop_fd);
    b->uffd = b->stop_fd = -1;
    if (b->bits_len)
        munmap(b->resident, b->bits_len);
    b->bits_len = 0;
    b->resident = b->evicted = b->ref = NULL;
    free(b->fill_buf);
    b->fill_buf = b->cmp_buf = NULL;
    if (b->evicting && !forked)
        pthread_mutex_destroy(&b->mu);
    b->evicting = 0;
}

/* ---- Eviction --------------------------------------------------------------------------------- */

/* Does a pending record (committed, not yet applied to D) carry a byte of [off, off+len)? Its runs
 * are sorted and disjoint (redo_log.h): a binary search. */
static int pending_touches(const struct snap_region *r, uint64_t off, uint64_t len)
{
    for (int k = 0; k < r->npend; k++) {
        const struct snap_rec_header *h = (const void *)r->buf[r->pend[k].buf];
        const struct snap_rec_run *run = (const void *)(h + 1);
        uint64_t lo = 0, hi = h->nruns;
        while (lo < hi) { /* the first run that ends after off */
            uint64_t mid = lo + (hi - lo) / 2;
            if (run[mid].off + run[mid].len <= off)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < h->nruns && run[lo].off < off + len)
            return 1;
    }
    return 0;
}

static int has_dirty_line(const struct snap_region *r, uint64_t off, uint64_t len)
{
    uint64_t first = off >> SNAP_LINE_SHIFT >> SNAP_DIRTY_WORD_SHIFT;
    uint64_t last = (off + len - 1) >> SNAP_LINE_SHIFT >> SNAP_DIRTY_WORD_SHIFT;
    for (uint64_t w = first; w <= last; w++)
        if (__atomic_load_n(&r->dirty.level[0][w], __ATOMIC_RELAXED))
            return 1;
    return 0;
}

static int write_protect(struct snap_budget *b, uint64_t addr, int on)
{
    struct uffdio_writeprotect w = {{addr, (uint64_t)1 << b->page_shift},
                                    on ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
    return uffd_ioctl(b->uffd, UFFDIO_WRITEPROTECT, &w);
}

/* E1-E4 for page i. Returns 1 if dropped. */
static int evict_page(struct snap_region *r, uint64_t i)
{
    struct snap_budget *b = &r->budget;
    uint64_t page = (uint64_t)1 << b->page_shift, off = i << b->page_shift;
    uint8_t *p = (uint8_t *)r->base + off;
    int drop;
    if (snap_budget_naive) {
        drop = 1; /* the test kit's broken release: "its lines look clean" is all it checks */
    } else {
        if (write_protect(b, (uint64_t)(uintptr_t)p, 1)) /* E1 */
            return 0;
        drop = read_page(r, off, b->cmp_buf) == 0 && snap_racy_equal(p, b->cmp_buf, page); /* E2 */
    }
    if (drop && madvise(p, page, MADV_DONTNEED) != 0) /* E3 */
        drop = 0;
    if (!snap_budget_naive)
        write_protect(b, (uint64_t)(uintptr_t)p, 0); /* E4 */
    if (!drop)
        return 0;
    bit_clear(b->resident, i);
    bit_set(b->evicted, i);
    __atomic_fetch_sub(&b->nresident, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&b->evictions, 1, __ATOMIC_RELAXED);
    return 1;
}

void snap_budget_evict(struct snap_region *r)
{
    struct snap_budget *b = &r->budget;
    if (!b->evicting)
        return;
    uint64_t page = (uint64_t)1 << b->page_shift, limit = b->limit >> b->page_shift;
    uint64_t resident = __atomic_load_n(&b->nresident, __ATOMIC_RELAXED);
    if (resident <= limit)
        return;
    uint64_t want = resident - limit + EVICT_BATCH;
    want = want < EVICT_MAX ? want : EVICT_MAX;
    pthread_mutex_lock(&b->mu);
    uint64_t pages = __atomic_load_n(&b->end, __ATOMIC_ACQUIRE) >> b->page_shift, done = 0;
    /* The clock: a page filled since the hand last passed gets a second chance. Two turns at
     * most: the first may only clear those bits. */
    for (uint64_t seen = 0; done < want && seen < 2 * pages && pages; seen++) {
        uint64_t i = b->hand++;
        if (b->hand >= pages)
            b->hand = 0;
        if (i >= pages)
            continue;
        if (!(b->resident[i >> 6] >> (i & 63))) { /* nothing resident in the rest of this word */
            uint64_t next = (i | 63) + 1;
            seen += (next < pages ? next : pages) - i - 1;
            b->hand = next < pages ? next : 0;
            continue;
        }
        if (!bit_test(b->resident, i))
            continue;
        if (bit_test(b->ref, i)) {
            bit_clear(b->ref, i);
            continue;
        }
        uint64_t off = i << b->page_shift;
        if (has_dirty_line(r, off, page) || pending_touches(r, off, page))
            continue; /* needed soon (dirty), or not safe to drop (pending: B1) */
        done += (uint64_t)evict_page(r, i);
    }
    pthread_mutex_unlock(&b->mu);
}

int snap_budget_missing(const struct snap_region *r, uint64_t off)
{
    const struct snap_budget *b = &r->budget;
    return b->evicting && !bit_test(b->resident, off >> b->page_shift);
}

int snap_budget_dirty_due(struct snap_region *r, const struct snap_rec_run *runs, uint64_t nruns)
{
    struct snap_budget *b = &r->budget;
    if (!b->evicting)
        return 0;
    for (uint64_t i = 0; i < nruns; i++)
        b->dirty_pages += ((runs[i].off + runs[i].len - 1) >> b->page_shift) -
                          (runs[i].off >> b->page_shift) + 1;
    uint64_t most = (b->limit / 8) >> b->page_shift, floor = ((uint64_t)1 << 20) >> b->page_shift;
    return b->dirty_pages > (most > floor ? most : floor);
}

/* ---- Statistics ------------------------------------------------------------------------------- */

uint64_t snap_budget_resident(struct snap_region *r)
{
    struct snap_budget *b = &r->budget;
    if (b->evicting)
        return __atomic_load_n(&b->nresident, __ATOMIC_RELAXED) << b->page_shift;
    /* The ordinary copy: count its private pages in the page table (bit 63 present, bit 61 a
     * file page or shared, which a copy-on-write mapping's unwritten pages are). */
    long pagesz = sysconf(_SC_PAGESIZE);
    uint64_t page = (uint64_t)(pagesz > 0 ? pagesz : 4096), n = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    uint64_t first = r->base / page, count = r->mapped / page, e[512];
    for (uint64_t i = 0; i < count;) {
        uint64_t k = count - i < 512 ? count - i : 512;
        ssize_t got = pread(fd, e, k * 8, (off_t)((first + i) * 8));
        if (got <= 0)
            break;
        for (uint64_t j = 0; j < (uint64_t)got / 8; j++)
            n += (e[j] >> 63 & 1) && !(e[j] >> 61 & 1);
        i += (uint64_t)got / 8;
    }
    close(fd);
    return n * page;
}
