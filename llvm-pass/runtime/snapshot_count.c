/* snapshot_count.c — prints the counters of a program built with -snapshot-count-dynamic (see
 * snapshot_count.h) when it exits, to stderr or to the file $SNAPSHOT_COUNT_FILE (appended):
 *
 *   snapshot-count: stores N, atomics N, ..., hooks N, in-arena N, slow N
 *   snapshot-count: writes seen N: instrumented N (P%), skipped N (P%: stack N, global N, tls N,
 *                   addrspace N), unhandled N; hooks run N: in the arena N (P%), slow path N (P%)
 *
 * Compile it WITHOUT the plugin and link it into the program:
 *   clang-19 -O2 -c llvm-pass/runtime/snapshot_count.c -o snapshot_count.o
 *   clang-19 -O2 -fplugin=P.so -fpass-plugin=P.so -mllvm -snapshot-count-dynamic prog.c \
 *            snapshot_count.o -lsnapshot
 * The counters are read once, at exit, with relaxed loads: writes of threads still running then
 * may be missing. */
#include "snapshot_count.h"

#include <stdio.h>
#include <stdlib.h>

uint64_t snapshot_pass_counts[SNAPSHOT_COUNT_ARRAY];

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

void snapshot_count_print(FILE *f)
{
    static const char *const names[SNAPSHOT_COUNT_NUM] = SNAPSHOT_COUNT_NAMES;
    uint64_t c[SNAPSHOT_COUNT_NUM];
    for (int i = 0; i < SNAPSHOT_COUNT_NUM; i++)
        c[i] = __atomic_load_n(&snapshot_pass_counts[i], __ATOMIC_RELAXED);
    fprintf(f, "snapshot-count:");
    for (int i = 0; i < SNAPSHOT_COUNT_NUM; i++)
        fprintf(f, "%s %s %llu", i ? "," : "", names[i], (unsigned long long)c[i]);
    uint64_t inst = 0, skip = 0;
    for (int i = SNAPSHOT_COUNT_STORES; i <= SNAPSHOT_COUNT_LIBCALLS; i++)
        inst += c[i];
    for (int i = SNAPSHOT_COUNT_SKIPPED_STACK; i <= SNAPSHOT_COUNT_SKIPPED_ADDRSPACE; i++)
        skip += c[i];
    uint64_t seen = inst + skip + c[SNAPSHOT_COUNT_UNHANDLED], hooks = c[SNAPSHOT_COUNT_HOOKS];
    fprintf(f, "\nsnapshot-count: writes seen %llu: instrumented %llu (%.2f%%), skipped %llu "
               "(%.2f%%: stack %llu, global %llu, tls %llu, addrspace %llu), unhandled %llu; "
               "hooks run %llu: in the arena %llu (%.2f%%), slow path %llu (%.2f%%)\n",
            (unsigned long long)seen, (unsigned long long)inst, pct(inst, seen),
            (unsigned long long)skip, pct(skip, seen),
            (unsigned long long)c[SNAPSHOT_COUNT_SKIPPED_STACK],
            (unsigned long long)c[SNAPSHOT_COUNT_SKIPPED_GLOBAL],
            (unsigned long long)c[SNAPSHOT_COUNT_SKIPPED_TLS],
            (unsigned long long)c[SNAPSHOT_COUNT_SKIPPED_ADDRSPACE],
            (unsigned long long)c[SNAPSHOT_COUNT_UNHANDLED], (unsigned long long)hooks,
            (unsigned long long)c[SNAPSHOT_COUNT_IN_ARENA], pct(c[SNAPSHOT_COUNT_IN_ARENA], hooks),
            (unsigned long long)c[SNAPSHOT_COUNT_SLOW], pct(c[SNAPSHOT_COUNT_SLOW], hooks));
}

__attribute__((destructor)) static void snapshot_count_report(void)
{
    const char *path = getenv("SNAPSHOT_COUNT_FILE");
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    snapshot_count_print(f ? f : stderr);
    if (f)
        fclose(f);
}
