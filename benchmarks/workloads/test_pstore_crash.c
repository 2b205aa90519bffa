/* test_pstore_crash.c — crash test of a pstore kind with the B-tree: a child process inserts keys
 * (one transaction each) and acknowledges each committed insert on a pipe; the parent SIGKILLs it
 * at a random moment, reopens the store (recovery runs), and checks that the tree is valid, holds
 * every acknowledged key with its value, and nothing but those and the one insert in flight. A few
 * rounds on the same store, then the same with deletes mixed in.
 *   test_pstore_crash_<kind> DIR */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "btree.h"
#include "pstore.h"

#define ROUNDS 6
#define STORE_SIZE (16ull << 20)

static uint64_t key_of(uint64_t i)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ull + 1;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Keys 0..next-1 were handed out; key i is deleted again when i % 3 == 2, two keys later. */
static int deleted_by(uint64_t i, uint64_t next)
{
    return i % 3 == 2 && i + 2 < next;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "FAIL: %s: %s\n", what, pstore_error(rc));
    exit(1);
}

/* The child: from key `next` on, insert key i, and delete key i-2 if it is a deleted one; ack i. */
static void child(const char *path, uint64_t next, int fd)
{
    pstore *ps;
    int rc = pstore_open(&ps, path, STORE_SIZE, sizeof(struct btree));
    if (rc)
        die("child open", rc);
    struct btree *t = pstore_root(ps);
    for (uint64_t i = next;; i++) {
        pstore_begin(ps);
        if (btree_insert(ps, t, key_of(i), ~key_of(i)) < 0) {
            fprintf(stderr, "FAIL: store full\n");
            _exit(1);
        }
        if (i >= 2 && deleted_by(i - 2, i + 1)) /* keeps the tree shrinking as well as growing */
            btree_delete(ps, t, key_of(i - 2));
        if ((rc = pstore_commit(ps)) != 0)
            die("commit", rc);
        if (write(fd, &i, sizeof i) != sizeof i)
            _exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    if (mkdir(argv[1], 0755) && errno != EEXIST) {
        perror(argv[1]);
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/crash-%s.store", argv[1], pstore_name());
    pstore_unlink(path);
    srand((unsigned)time(NULL));
    uint64_t acked = 0; /* keys 0..acked-1 are acknowledged */
    for (int round = 0; round < ROUNDS; round++) {
        int p[2];
        if (pipe(p))
            return perror("pipe"), 1;
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            child(path, acked, p[1]);
        }
        close(p[1]);
        usleep(100000 + (useconds_t)(rand() % 300000));
        kill(pid, SIGKILL);
        uint64_t i;
        while (read(p[0], &i, sizeof i) == sizeof i)
            acked = i + 1;
        close(p[0]);
        int wst;
        waitpid(pid, &wst, 0);
        if (!WIFSIGNALED(wst)) {
            fprintf(stderr, "FAIL: the child exited by itself (status %d)\n", wst);
            return 1;
        }

        pstore *ps;
        int rc = pstore_open(&ps, path, STORE_SIZE, sizeof(struct btree));
        if (rc)
            die("reopen after the crash", rc);
        struct btree *t = pstore_root(ps);
        const char *why = btree_check(ps, t);
        if (why) {
            fprintf(stderr, "FAIL: round %d: damaged tree: %s\n", round, why);
            return 1;
        }
        /* The step after the last ack may have committed without its ack being written. */
        uint64_t v, expected = 0;
        if (btree_lookup(ps, t, key_of(acked), &v))
            acked++;
        for (uint64_t k = 0; k < acked; k++) {
            int want = !deleted_by(k, acked);
            int got = btree_lookup(ps, t, key_of(k), &v);
            if (got != want) {
                fprintf(stderr, "FAIL: round %d: key %llu is %s\n", round, (unsigned long long)k,
                        got ? "present but was deleted" : "missing but was acknowledged");
                return 1;
            }
            if (got && v != ~key_of(k)) {
                fprintf(stderr, "FAIL: round %d: key %llu has a wrong value\n", round,
                        (unsigned long long)k);
                return 1;
            }
            expected += got;
        }
        if (t->count != expected) {
            fprintf(stderr, "FAIL: round %d: %llu keys, expected %llu\n", round,
                    (unsigned long long)t->count, (unsigned long long)expected);
            return 1;
        }
        printf("round %d: %llu inserts acknowledged, %llu keys in the tree, valid\n", round,
               (unsigned long long)acked, (unsigned long long)t->count);
        pstore_close(ps);
    }
    pstore_unlink(path);
    printf("ok: %s survived %d kills\n", pstore_name(), ROUNDS);
    return 0;
}
