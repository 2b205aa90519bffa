// btree.hpp — the C++ B-tree of the end-to-end tests (btree.cpp, crash_btree.cpp): a template whose
// nodes are placement-new'ed into a region by a bump allocator (Arena), shifted with
// std::copy_backward / std::copy (memmove), walked by a virtual visitor. Nodes are split on the way
// down, so every node but the root holds at least (Order - 1) / 2 keys.
#ifndef E2E_BTREE_HPP
#define E2E_BTREE_HPP

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

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

    // The tree's invariants, for the crash tests: every link on a node boundary in [first, brk)
    // and reached once, every node allocated reached, at most Order - 1 keys per node and, below
    // the root, at least (Order - 1) / 2, keys strictly increasing within the parent's bounds, all
    // leaves at one depth, size() keys in all. vis sees each pair in order. Returns nullptr, or
    // what is wrong. Reads only.
    const char *validate(Visitor &vis, uint64_t first) const {
        Check c{vis, first, h_->brk, {}, 0, -1};
        if (first > c.brk || (c.brk - first) % sizeof(Node))
            return "the allocator's break is not on a node boundary";
        c.seen.assign((c.brk - first) / sizeof(Node), false);
        if (const char *why = validate(c, h_->root, 0, nullptr, nullptr))
            return why;
        if (c.keys != h_->count)
            return "the key count differs from the keys in the tree";
        for (bool s : c.seen)
            if (!s)
                return "an allocated node is not in the tree";
        return nullptr;
    }

private:
    struct Check {
        Visitor &vis;
        uint64_t first, brk;
        std::vector<bool> seen;
        uint64_t keys;
        int leaf_depth;
    };

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

    const char *validate(Check &c, uint64_t off, int depth, const K *lo, const K *hi) const {
        if (off < c.first || off >= c.brk || (off - c.first) % sizeof(Node))
            return "a link that is not a node";
        uint64_t idx = (off - c.first) / sizeof(Node);
        if (c.seen[idx])
            return "a node reached twice";
        c.seen[idx] = true;
        const Node *x = node(off);
        unsigned char leaf;
        std::memcpy(&leaf, &x->leaf, 1); // a corrupted bool is not read as a bool
        if (leaf > 1)
            return "a leaf flag that is neither 0 nor 1";
        if (x->n > Order - 1 || (depth > 0 && x->n < (Order - 1) / 2) || (!leaf && x->n == 0))
            return "a node with too many or too few keys";
        if (leaf && c.leaf_depth < 0)
            c.leaf_depth = depth;
        if (leaf && depth != c.leaf_depth)
            return "leaves at different depths";
        for (uint32_t i = 0; i <= x->n; i++) {
            const K *l = i ? &x->keys[i - 1] : lo, *h = i < x->n ? &x->keys[i] : hi;
            if (l && h && !(*l < *h))
                return "keys out of order";
            if (!leaf)
                if (const char *why = validate(c, x->child[i], depth + 1, l, h))
                    return why;
            if (i < x->n) {
                if (!c.vis.visit(x->keys[i], x->vals[i]))
                    return "a key or value that should not be there";
                c.keys++;
            }
        }
        return nullptr;
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

} // namespace

#endif // E2E_BTREE_HPP
