/* bank.c — the demo: accounts moved by random transfers, one msync per transfer, killed at will.
 *
 *   bank run  FILE   open (or create) the bank and transfer forever, printing progress
 *   bank check FILE  open the bank after a crash and verify it: the total balance is unchanged and
 *                    the transfer counter never went back (prints the counter)
 *
 * The region holds a header {magic, transfers, total} and ACCOUNTS balances. Each transfer moves a
 * random amount between two random accounts and bumps the counter; a crash between the two balance
 * updates would break the total, unless msync is failure-atomic. The counter is printed to stdout
 * after each msync returns (the acknowledged state) so the demo script can check it never goes
 * back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "snapshot.h"

#define ACCOUNTS 1000
#define START_BALANCE 1000
#define BANK_MAGIC 0x4b4e4142u /* "BANK" */

struct bank {
    uint32_t magic;
    uint32_t accounts;
    uint64_t transfers;
    int64_t balance[ACCOUNTS];
};

static void store(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
    snap_hook_store(dst, n); /* what the clang plugin inserts after every store */
}

static int open_bank(const char *path, snap_region **r, struct bank **b)
{
    snap_options o = {.flags = SNAP_CREATE, .size = sizeof(struct bank)};
    int rc = snap_open(path, &o, r);
    if (rc) {
        fprintf(stderr, "bank: cannot open %s: %s\n", path, snap_strerror(rc));
        return rc;
    }
    *b = snap_base(*r);
    if ((*b)->magic != BANK_MAGIC) { /* a new bank: fund it, in one atomic msync */
        struct bank init = {.magic = BANK_MAGIC, .accounts = ACCOUNTS};
        for (int i = 0; i < ACCOUNTS; i++)
            init.balance[i] = START_BALANCE;
        store(*b, &init, sizeof init);
        if ((rc = snap_msync(*r)) != 0) {
            fprintf(stderr, "bank: msync: %s\n", snap_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static int64_t total(const struct bank *b)
{
    int64_t t = 0;
    for (int i = 0; i < ACCOUNTS; i++)
        t += b->balance[i];
    return t;
}

static int run(const char *path)
{
    snap_region *r;
    struct bank *b;
    if (open_bank(path, &r, &b))
        return 1;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (;;) {
        int from = rand() % ACCOUNTS, to = rand() % ACCOUNTS;
        int64_t amount = rand() % 100, v;
        v = b->balance[from] - amount;
        store(&b->balance[from], &v, sizeof v);
        v = b->balance[to] + amount;
        store(&b->balance[to], &v, sizeof v);
        uint64_t n = b->transfers + 1;
        store(&b->transfers, &n, sizeof n);
        int rc = snap_msync(r);
        if (rc) {
            fprintf(stderr, "bank: msync: %s\n", snap_strerror(rc));
            return 1;
        }
        printf("%" PRIu64 "\n", n);
        fflush(stdout);
    }
}

static int check(const char *path)
{
    snap_region *r;
    struct bank *b;
    if (open_bank(path, &r, &b))
        return 1;
    int64_t t = total(b);
    snap_stats st;
    snap_stats_get(r, &st);
    printf("%" PRIu64 " %" PRId64 " %" PRIu64 "\n", b->transfers, t, st.recovered_records);
    snap_close(r);
    return t == (int64_t)ACCOUNTS * START_BALANCE ? 0 : 3;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "run") == 0)
        return run(argv[2]);
    if (argc == 3 && strcmp(argv[1], "check") == 0)
        return check(argv[2]);
    fprintf(stderr, "usage: bank run FILE | bank check FILE\n");
    return 2;
}
