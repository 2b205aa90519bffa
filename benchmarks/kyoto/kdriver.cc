// kdriver.cc — Kyoto Cabinet HashDB driver for the crash test and the benchmark.
// Built twice by benchmarks/kyoto/build.sh: against the patched Kyoto (with the Snapshot plugin and
// libsnapshot) and against the unpatched one.
//
//   kdriver run PATH SEED            transactions 1, 2, ... (resuming after the last committed one),
//                                    printing each number after its commit returns; runs until killed.
//                                    One in seven (by (seed, t)) is aborted instead, not printed
//   (verify: L is ACKED or the next transaction after it that is not aborted)
//   kdriver verify PATH SEED ACKED   the database must hold exactly the state after transaction L,
//                                    L = ACKED or ACKED+1 (its "last" record); exit 1 otherwise
//   kdriver create PATH              create an empty database (not killed: Kyoto's creation of a file
//                                    is not a transaction)
//   kdriver bench PATH TXNS OPS VSIZ TXNS transactions of OPS sets (VSIZ-byte values, random keys);
//                                    prints transactions/s
//
// Transaction t of seed s: 1..8 operations on keys from a space of 4096, each a set of a value
// derived from (s, t, j) or, one time in six, a remove; plus the record "last" = t. All hard
// transactions (begin_transaction(true)); the database is opened with OAUTOTRAN.
#include <kchashdb.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <sys/time.h>

namespace kc = kyotocabinet;

static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Op { std::string key, val; bool rem; };

static void txn_ops(uint64_t seed, uint64_t t, std::vector<Op>* ops) {
  ops->clear();
  uint64_t h = mix(seed * 1000003 + t);
  int n = 1 + (int)(h % 8);
  for (int j = 0; j < n; j++) {
    uint64_t r = mix(h + j + 1);
    char kb[32], vb[96];
    snprintf(kb, sizeof(kb), "k%04u", (unsigned)(r % 4096));
    int vl = snprintf(vb, sizeof(vb), "s%llu-t%llu-j%d-%016llx", (unsigned long long)seed,
                      (unsigned long long)t, j, (unsigned long long)r);
    ops->push_back(Op{kb, std::string(vb, vl) + std::string((r >> 20) % 40, 'x'), (r >> 8) % 6 == 0});
  }
}

// One transaction in seven is aborted (end_transaction(false)) after its operations: it must leave
// no trace. Its number is not printed.
static bool aborted(uint64_t seed, uint64_t t) { return mix(seed * 7919 + t) % 7 == 0; }

static bool open_db(kc::HashDB* db, const char* path) {
  db->tune_buckets(1 << 14);
  if (!db->open(path, kc::HashDB::OWRITER | kc::HashDB::OCREATE | kc::HashDB::OAUTOTRAN)) {
    fprintf(stderr, "open %s: %s\n", path, db->error().message());
    return false;
  }
  return true;
}

static int64_t last_of(kc::HashDB* db) {
  std::string v;
  return db->get("last", &v) ? atoll(v.c_str()) : 0;
}

static double now() { struct timeval tv; gettimeofday(&tv, 0); return tv.tv_sec + tv.tv_usec / 1e6; }

int main(int argc, char** argv) {
  if (argc < 3) { fprintf(stderr, "usage: see kdriver.cc\n"); return 2; }
  std::string mode = argv[1];
  const char* path = argv[2];
  kc::HashDB db;
  if (mode == "run" && argc == 4) {
    uint64_t seed = strtoull(argv[3], 0, 10);
    if (!open_db(&db, path)) return 1;
    std::vector<Op> ops;
    for (uint64_t t = last_of(&db) + 1;; t++) {
      txn_ops(seed, t, &ops);
      if (!db.begin_transaction(true)) { fprintf(stderr, "begin: %s\n", db.error().message()); return 1; }
      for (const Op& o : ops) {
        if (o.rem) db.remove(o.key); else if (!db.set(o.key, o.val)) { fprintf(stderr, "set failed\n"); return 1; }
      }
      db.set("last", std::to_string(t));
      bool commit = !aborted(seed, t);
      if (!db.end_transaction(commit)) { fprintf(stderr, "end: %s\n", db.error().message()); return 1; }
      if (!commit) continue;
      printf("%llu\n", (unsigned long long)t);
      fflush(stdout);
    }
  }
  if (mode == "create" && argc == 3) {  // an empty database, closed cleanly (creation is not atomic)
    return open_db(&db, path) && db.close() ? 0 : 1;
  }
  if (mode == "verify" && argc == 5) {
    uint64_t seed = strtoull(argv[3], 0, 10);
    int64_t acked = atoll(argv[4]);
    if (!open_db(&db, path)) return 1;
    int64_t last = last_of(&db), next = acked + 1;
    while (aborted(seed, next)) next++;
    if (last != acked && last != next) {
      fprintf(stderr, "FAIL: recovered transaction %lld, acknowledged %lld\n", (long long)last, (long long)acked);
      return 1;
    }
    std::map<std::string, std::string> model;
    std::vector<Op> ops;
    for (int64_t t = 1; t <= last; t++) {
      if (aborted(seed, t)) continue;
      txn_ops(seed, t, &ops);
      for (const Op& o : ops) { if (o.rem) model.erase(o.key); else model[o.key] = o.val; }
    }
    if (last > 0) model["last"] = std::to_string(last);
    int64_t bad = 0;
    if ((int64_t)db.count() != (int64_t)model.size()) {
      fprintf(stderr, "FAIL: %lld records, expected %zu\n", (long long)db.count(), model.size());
      bad++;
    }
    for (auto& kv : model) {
      std::string v;
      if (!db.get(kv.first, &v) || v != kv.second) {
        if (bad++ < 5) fprintf(stderr, "FAIL: %s = '%s', expected '%s'\n", kv.first.c_str(), v.c_str(), kv.second.c_str());
      }
    }
    if (!db.close()) { fprintf(stderr, "close: %s\n", db.error().message()); bad++; }
    if (bad) return 1;
    printf("%lld %zu\n", (long long)last, model.size());
    return 0;
  }
  if (mode == "bench" && argc == 6) {
    long txns = atol(argv[3]), nops = atol(argv[4]), vsiz = atol(argv[5]);
    db.tune_buckets(1 << 20);
    if (!db.open(path, kc::HashDB::OWRITER | kc::HashDB::OCREATE | kc::HashDB::OTRUNCATE | kc::HashDB::OAUTOTRAN)) {
      fprintf(stderr, "open %s: %s\n", path, db.error().message());
      return 1;
    }
    std::string val(vsiz, 'v');
    char kb[32];
    uint64_t r = 1;
    // warm-up: fill a little, so the file is not growing at every transaction
    double t0 = now();
    for (long t = 0; t < txns; t++) {
      if (!db.begin_transaction(true)) { fprintf(stderr, "begin: %s\n", db.error().message()); return 1; }
      for (long j = 0; j < nops; j++) {
        r = mix(r);
        snprintf(kb, sizeof(kb), "%010llu", (unsigned long long)(r % 1000000));
        db.set(kb, 10, val.data(), val.size());
      }
      if (!db.end_transaction(true)) { fprintf(stderr, "commit: %s\n", db.error().message()); return 1; }
    }
    double dt = now() - t0;
    printf("%.0f\n", txns / dt);
    db.close();
    return 0;
  }
  fprintf(stderr, "bad arguments\n");
  return 2;
}
