// crash_btree.cpp — SIGKILL crash checks (crash.h) of the C++ B-tree template of btree.hpp, built
// with the plugin: nodes placement-new'ed into the region, shifted with std::copy_backward; a child
// inserts keys, one snap_msync() per insert, and is killed at random instants; the region recovered
// must be a valid tree holding exactly the first K keys, K = acked or acked + 1.
// Nothing here calls snap_track(): every store is tracked by the plugin or not at all.
#include "crash.h"
#include "btree.hpp"

namespace {

using Tree = BTree<uint64_t, Value, 12>;

struct Layout {
    uint64_t magic;
    Tree::Header tree;
};

const uint64_t kMagic = 0x2b2b45455254ull, kSize = 4u << 20, kCap = 20000;
const uint64_t kFirstNode = (sizeof(Layout) + alignof(uint64_t) - 1) & ~uint64_t(alignof(uint64_t) - 1);

Value value_of(uint64_t key) {
    uint64_t a = crash_val(key);
    return Value{a, uint32_t(a >> 7), uint16_t(a)};
}

Tree tree(char *base) {
    auto *lay = reinterpret_cast<Layout *>(base);
    return Tree(&lay->tree, Arena(base, &lay->tree.brk, kSize - 64));
}

int format(char *base) {
    auto *lay = reinterpret_cast<Layout *>(base);
    if (lay->magic)
        return 0;
    new (base) Layout();
    lay->tree.brk = sizeof(Layout);
    tree(base); // allocates the root
    lay->magic = kMagic;
    return 1;
}

uint64_t count(char *base) { return reinterpret_cast<Layout *>(base)->tree.count; }

void insert(char *base, uint64_t seed, uint64_t i) {
    uint64_t key = crash_key(seed, i);
    tree(base).insert(key, value_of(key));
}

struct KeyCheck : Tree::Visitor {
    KeyCheck(uint64_t seed, uint64_t count) : seed(seed), count(count) {}
    bool visit(const uint64_t &k, const Value &v) override {
        return crash_index(seed, k) < count && v == value_of(k);
    }
    uint64_t seed, count;
};

int64_t check(char *base, uint64_t size, uint64_t seed, char *why, size_t whylen) {
    auto *lay = reinterpret_cast<Layout *>(base);
    if (!lay->magic)
        return crash_all_zero(base, size) ? 0 : crash_why(why, whylen, "no magic, but not all zero");
    if (lay->magic != kMagic)
        return crash_why(why, whylen, "magic %llx", (unsigned long long)lay->magic);
    // (The constructor allocates a root if there is none: never construct on a rootless tree.)
    if (!lay->tree.root || lay->tree.brk > size - 64 || lay->tree.count > kCap)
        return crash_why(why, whylen, "root %llu, break %llu, count %llu",
                         (unsigned long long)lay->tree.root, (unsigned long long)lay->tree.brk,
                         (unsigned long long)lay->tree.count);
    KeyCheck keys(seed, lay->tree.count);
    if (const char *what = tree(base).validate(keys, kFirstNode))
        return crash_why(why, whylen, "%s", what);
    if (!crash_all_zero(base + lay->tree.brk, size - lay->tree.brk))
        return crash_why(why, whylen, "bytes written past the allocator's break");
    return int64_t(lay->tree.count);
}

} // namespace

int main(int argc, char **argv) {
    static const crash_workload w = {"crash_btree_cpp", kSize, kCap, format, count, insert, check};
    return crash_main(&w, argc, argv);
}
