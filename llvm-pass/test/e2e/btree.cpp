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

namespace {

struct Value {
    uint64_t a;
    uint32_t b;
    uint16_t c;
    bool operator==(const Value &o) const { return a == o.a && b == o.b && c == o.c; }
};

class Arena {
public:
    Arena(char *base, uint64_t *brk, uint64_t limit) : base_(base), brk_(brk), limit_(limit) {}
    template <class T> uint64_t make() {
        uint64_t off = (*brk_ + alignof(T) - 1) & ~uint64_t(alignof(T) - 1);
        if (off + sizeof(T) > limit_)
            throw std::runtime_error("arena full");
        *brk_ = off + sizeof(T);
        new (base_ + off) T();
        return off;
    }
    template <class T> T *at(uint64_t off) const { return reinterpret_cast<T *>(base_ + off); }

private:
    char *base_;
    uint64_t *brk_;
    uint64_t limit_;
};

template <class K, class V, unsigned Order> class BTree {
    struct Node {
        uint32_t n = 0;
        bool leaf = true;
        K keys[Order - 1];
        V vals[Order - 1];
        uint64_t child[Order];
        Node() { std::fill(child, child + Order, uint64_t(0)); }
    };

public:
    struct Header {
        uint64_t root, brk, count;
    };
    struct Visitor {
        virtual ~Visitor() = default;
        virtual bool visit(const K &k, const V &v) = 0;
    };

    BTree(Header *h, Arena arena) : h_(h), arena_(arena) {
        if (!h_->root)
            h_->root = arena_.template make<Node>();
    }

    void insert(const K &k, const V &v) {
        Node *r = node(h_->root);
        if (r->n == Order - 1) {
            uint64_t s = arena_.template make<Node>();
            node(s)->leaf = false;
            node(s)->child[0] = h_->root;
            h_->root = s;
            split(node(s), 0);
        }
        insert_nonfull(node(h_->root), k, v);
    }

    bool walk(Visitor &vis) const { return walk(node(h_->root), vis); }
    uint64_t size() const { return h_->count; }

private:
    Node *node(uint64_t off) const { return arena_.template at<Node>(off); }

    void split(Node *p, uint32_t i) {
        Node *c = node(p->child[i]);
        uint64_t zoff = arena_.template make<Node>();
        Node *z = node(zoff);
        const uint32_t mid = (Order - 1) / 2;
        z->leaf = c->leaf;
        z->n = Order - 2 - mid;
        std::copy(c->keys + (mid + 1), c->keys + (Order - 1), z->keys);
        std::copy(c->vals + (mid + 1), c->vals + (Order - 1), z->vals);
        if (!c->leaf)
            std::copy(c->child + (mid + 1), c->child + Order, z->child);
        std::copy_backward(p->child + (i + 1), p->child + (p->n + 1), p->child + (p->n + 2));
        std::copy_backward(p->keys + i, p->keys + p->n, p->keys + (p->n + 1));
        std::copy_backward(p->vals + i, p->vals + p->n, p->vals + (p->n + 1));
        p->child[i + 1] = zoff;
        p->keys[i] = c->keys[mid];
        p->vals[i] = c->vals[mid];
        p->n++;
        c->n = mid;
    }

    void insert_nonfull(Node *x, const K &k, const V &v) {
        for (;;) {
            uint32_t i = uint32_t(std::lower_bound(x->keys, x->keys + x->n, k) - x->keys);
            if (i < x->n && x->keys[i] == k) {
                x->vals[i] = v;
                return;
            }
            if (x->leaf) {
                std::copy_backward(x->keys + i, x->keys + x->n, x->keys + (x->n + 1));
                std::copy_backward(x->vals + i, x->vals + x->n, x->vals + (x->n + 1));
                x->keys[i] = k;
                x->vals[i] = v;
                x->n++;
                h_->count++;
                return;
            }
            if (node(x->child[i])->n == Order - 1) {
                split(x, i);
                if (k == x->keys[i]) {
                    x->vals[i] = v;
                    return;
                }
                if (x->keys[i] < k)
                    i++;
            }
            x = node(x->child[i]);
        }
    }

    bool walk(const Node *x, Visitor &vis) const {
        for (uint32_t i = 0; i <= x->n; i++) {
            if (!x->leaf && !walk(node(x->child[i]), vis))
                return false;
            if (i < x->n && !vis.visit(x->keys[i], x->vals[i]))
                return false;
        }
        return true;
    }

    Header *h_;
    Arena arena_;
};

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
