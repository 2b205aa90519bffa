// btree.cpp — end-to-end, C++: a B-tree template whose nodes are placement-new'ed into a region,
// shifted with std::copy_backward / std::copy (memmove), cleared with std::fill (memset), walked by
// a virtual visitor; a region array sorted in place with std::sort; values that are small classes
// copied by assignment; an exception thrown and caught between stores. Compared with std::map after
// every msync and after reopening.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <new>
#include <stdexcept>
#include <vector>

#include "e2e.h"
#include "btree.hpp"

namespace {

using Tree = BTree<uint64_t, Value, 12>;

struct Compare : Tree::Visitor {
    explicit Compare(const std::map<uint64_t, Value> &m) : it(m.begin()), end(m.end()) {}
    bool visit(const uint64_t &k, const Value &v) override {
        if (it == end || it->first != k || !(it->second == v))
            return false;
        ++it;
        return true;
    }
    std::map<uint64_t, Value>::const_iterator it, end;
};

struct Layout {
    Tree::Header tree;
    uint64_t sorted_n;
    uint64_t sorted[4096];
};

const uint64_t kSize = 8u << 20;

bool check(char *base, const std::map<uint64_t, Value> &model, const std::vector<uint64_t> &sorted) {
    auto *lay = reinterpret_cast<Layout *>(base);
    Tree t(&lay->tree, Arena(base, &lay->tree.brk, kSize - 64));
    Compare cmp(model);
    return t.size() == model.size() && t.walk(cmp) && cmp.it == cmp.end &&
           lay->sorted_n == sorted.size() &&
           std::equal(sorted.begin(), sorted.end(), lay->sorted);
}

} // namespace

int main(int argc, char **argv) {
    e2e e;
    char *base = static_cast<char *>(e2e_start(&e, "btree_cpp", argc, argv, kSize));
    auto *lay = new (base) Layout();
    lay->tree.brk = sizeof(Layout);
    Tree t(&lay->tree, Arena(base, &lay->tree.brk, kSize - 64));
    std::map<uint64_t, Value> model;
    std::vector<uint64_t> sorted;
    uint64_t seed = 3;
    bool ok = true;
    int caught = 0;
    for (int round = 0; round < 15; round++) {
        for (int i = 0; i < 3000; i++) {
            uint64_t r = e2e_rand(&seed), k = r % 100000;
            Value v{r, uint32_t(r >> 7), uint16_t(i)};
            t.insert(k, v);
            model[k] = v;
        }
        // A store, then an exception unwinding past another: both must be tracked.
        try {
            lay->sorted_n = 0;
            Arena small(base, &lay->tree.brk, 0);
            small.make<uint64_t>();
        } catch (const std::runtime_error &) {
            caught++;
        }
        // Fill an array in the region and sort it in place.
        uint64_t n = 1000 + e2e_rand(&seed) % 3000;
        for (uint64_t i = 0; i < n; i++)
            lay->sorted[i] = e2e_rand(&seed);
        lay->sorted_n = n;
        std::sort(lay->sorted, lay->sorted + n);
        sorted.assign(lay->sorted, lay->sorted + n);
        e2e_msync(&e);
        ok = ok && check(base, model, sorted);
    }
    base = static_cast<char *>(e2e_reopen(&e));
    ok = ok && check(base, model, sorted) && caught == 15;
    std::printf("btree_cpp: %zu keys\n", model.size());
    return e2e_finish(&e, ok);
}
