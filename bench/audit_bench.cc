// asb-audit's access log: appends with group commit (one fsync per batch of 1000), a query by
// case over a large log, proofs, and verification throughput (recompute every leaf hash and the
// root, as `asbctl audit verify` does, reading the entries through the query API in pages).
//
// The large log has ASB_BENCH_AUDIT_ENTRIES entries (default 200,000, so that the default run
// takes well under a minute), 20 per case, built once in a temporary RocksDB (unsynced batches
// of 10,000: only the build, not a measured figure). With ASB_BENCH_AUDIT_DIR=DIR it is kept in
// DIR and reused by later runs of the same size (e.g. ASB_BENCH_AUDIT_ENTRIES=10000000, built
// once in some minutes, then queried and verified as often as wanted).
//
// With ASB_BENCH_AUDIT_ENCRYPTED=1 the large log is encrypted at rest as asb-audit's store is with
// a key ring (each entry AES-256-GCM; the hashes and indexes are plaintext), so queries and
// verification decrypt every entry they read, as in the daemon.
//
// Figures: items_per_second is wall-clock (what a user sees, on a shared machine the load of
// others included); cpu_items_per_second divides by the process's CPU time (all its threads,
// RocksDB's included), the cost on an otherwise idle core.

#include <benchmark/benchmark.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/auditlog/verifier.h"
#include "common/bus/message_memory.h"
#include "common/crypto/aead.h"
#include "common/crypto/merkle.h"
#include "common/store/store.h"
#include "google/protobuf/util/time_util.h"
#include "services/audit/audit_log.h"
#include "services/daemon/runtime.h"

namespace {

using asb::audit::AuditLog;

constexpr uint64_t kEntriesPerCase = 20;

std::string SubjectKey(uint64_t c, char person) {
  std::string key = "sk_" + std::to_string(c) + person;
  key.resize(35, '0');
  return key;
}

// Records shaped like the demo hub's log (asb-loadgen): two in five of a case's entries are
// intake's COLLECTION records (small), three in five disclosures as sharing and notify write
// them — the ISP's full lawful basis, a 64-hex ISP version, the 18-26 field paths disclosed,
// two subject keys. BM_VerifyWholeLog reports the stored bytes per entry.
asb::v1::AuditRecord Record(uint64_t i, uint64_t cases) {
  static const char* kAgencies[] = {"police", "housing", "fire", "county", "probation", "nhs"};
  static const char* kFields[] = {"case_id",
                                  "status",
                                  "nsir_category",
                                  "title",
                                  "summary",
                                  "lead_agency",
                                  "lead_officer",
                                  "location",
                                  "flags",
                                  "victim_risk",
                                  "risk_notes",
                                  "opened_at",
                                  "updated_at",
                                  "closed_at",
                                  "closure_reason",
                                  "people.person_id",
                                  "people.role",
                                  "people.given_name",
                                  "people.family_name",
                                  "people.date_of_birth",
                                  "people.address",
                                  "people.vulnerability",
                                  "people.phone",
                                  "incidents",
                                  "orders",
                                  "people.vulnerable"};
  asb::v1::AuditRecord r;
  r.set_case_id("CBC-2026-" + std::to_string(i % cases));
  r.set_event_type(static_cast<asb::v1::EventType>(1 + i % 8));
  r.set_ref_seq(i + 1);
  *r.mutable_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1780000000 + i);
  const uint64_t nth = i / cases;  // the case's nth entry: each case gets every kind
  if (nth % 5 < 2) {
    r.set_kind(asb::v1::AUDIT_KIND_COLLECTION);
    r.set_component("intake");
    r.set_actor("council-feed");
    r.set_actor_agency("council");
    r.set_detail("event accepted");
    return r;
  }
  r.set_kind(asb::v1::AUDIT_KIND_DISCLOSURE);
  r.set_component(nth % 5 == 2 ? "sharing" : "notify");
  r.set_actor(r.component());
  r.set_actor_agency("hub");
  r.set_recipient_agency(kAgencies[i % 6]);
  // The case's two people (pseudonymous keys are 35 characters).
  r.add_subject_keys(SubjectKey(i % cases, 'a'));
  r.add_subject_keys(SubjectKey(i % cases, 'b'));
  auto* j = r.add_justifications();
  j->set_rule_id("police-s115");
  j->set_purpose("prevent-asb");
  j->set_lawful_basis(
      "DPA 2018 Part 3: s.31 (the law enforcement purposes) and s.35 (first principle; "
      "sensitive processing under s.35(5) and Sch 8); disclosure to the police under Crime "
      "and Disorder Act 1998 s.115.");
  r.set_isp_version("1b5ebf412c993b3bc5f8aec086770b83533c27bc729b8f372e9c56abbc43eb9f");
  const std::size_t fields = 18 + i % 9;
  for (std::size_t f = 0; f < fields; ++f) {
    r.add_fields(kFields[f]);
  }
  r.set_detail("alert " + std::to_string(i) + " queued by notification rule case-opened");
  return r;
}

struct Db {
  std::string path;
  std::unique_ptr<asb::store::Store> store;
  std::unique_ptr<AuditLog> log;

  bool keep = false;

  // `dir` non-empty: that directory, kept afterwards; else a fresh temporary one.
  // `encrypted`: values encrypted at rest as asb-audit's store has them with a key ring (one
  // master key; the entries family encrypted, the hash and index families plaintext).
  static std::unique_ptr<Db> Open(const std::string& name, bool sync, const std::string& dir = "",
                                  bool encrypted = false) {
    auto db = std::make_unique<Db>();
    db->keep = !dir.empty();
    db->path = db->keep ? dir
                        : (std::filesystem::temp_directory_path() /
                           ("asb-audit-bench-" + name + "-" + std::to_string(::getpid())))
                              .string();
    if (!db->keep) {
      std::filesystem::remove_all(db->path);
    }
    asb::store::StoreOptions options = asb::audit::AuditStoreLayout();
    options.path = db->path;
    options.sync = sync;
    if (encrypted) {
      // asb-audit's own at-rest settings, with a fresh key ring in the store's directory.
      const std::string ring = db->path + "-keys/at-rest-audit";
      if (!asb::crypto::WriteNextRingKey(ring).ok() ||
          !asb::daemon::ConfigureAtRest("audit", ring, &options).ok()) {
        std::abort();
      }
    }
    auto store = asb::store::Store::Open(options);
    if (!store.ok()) {
      std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
      std::abort();
    }
    db->store = std::move(*store);
    db->log = std::make_unique<AuditLog>(db->store.get(), [] { return absl::Now(); });
    if (!db->log->Load().ok()) {
      std::abort();
    }
    return db;
  }
  ~Db() {
    log.reset();
    store.reset();
    if (!keep) {
      std::filesystem::remove_all(path);
      std::filesystem::remove_all(path + "-keys");
    }
  }
};

uint64_t LargeSize() {
  const char* env = std::getenv("ASB_BENCH_AUDIT_ENTRIES");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 200000;
}

double ProcessCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The large log, built on first use.
Db& Large() {
  static std::unique_ptr<Db> db = [] {
    const char* dir = std::getenv("ASB_BENCH_AUDIT_DIR");
    const char* encrypted = std::getenv("ASB_BENCH_AUDIT_ENCRYPTED");
    auto d = Db::Open("large", /*sync=*/false, dir != nullptr ? dir : "",
                      encrypted != nullptr && std::string(encrypted) == "1");
    const uint64_t n = LargeSize();
    if (d->log->size() == n) {
      std::fprintf(stderr, "reusing the log of %llu entries in %s\n",
                   static_cast<unsigned long long>(n), d->path.c_str());
      return d;
    }
    if (d->log->size() != 0) {
      std::fprintf(stderr, "%s holds %llu entries, not %llu: remove it first\n", d->path.c_str(),
                   static_cast<unsigned long long>(d->log->size()),
                   static_cast<unsigned long long>(n));
      std::abort();
    }
    const uint64_t cases = std::max<uint64_t>(1, n / kEntriesPerCase);
    const absl::Time start = absl::Now();
    asb::store::Batch batch = d->store->NewBatch();
    for (uint64_t i = 0; i < n; ++i) {
      d->log->Append(Record(i, cases), "sharing/audit", i + 1, &batch);
      if ((i + 1) % 10000 == 0) {
        if (!d->store->Write(&batch).ok()) {
          std::abort();
        }
      }
    }
    if (!d->store->Write(&batch).ok()) {
      std::abort();
    }
    std::fprintf(stderr, "built a log of %llu entries (%llu cases) in %.1f s\n",
                 static_cast<unsigned long long>(n), static_cast<unsigned long long>(cases),
                 absl::ToDoubleSeconds(absl::Now() - start));
    return d;
  }();
  return *db;
}

// Appends with group commit: one durable (fsync) write per batch of state.range(0) entries,
// written as asb-audit's consumers write them (Store::WriteDeferred: a batch's fsync overlaps
// the next batch's appends and write; every batch is on disk by the end); state.range(1) 1:
// encrypted at rest.
void BM_AppendGroupCommit(benchmark::State& state) {
  // The malloc settings of every daemon's process (set by its bus::Server): RocksDB's memtable
  // arena blocks come from the heap and are reused rather than mapped and faulted in afresh.
  asb::bus::KeepLargeMessagesInHeap();
  auto db = Db::Open("append", /*sync=*/true, "", /*encrypted=*/state.range(1) != 0);
  const int64_t batch_size = state.range(0);
  uint64_t i = 0;
  const double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) {
    asb::store::Batch batch = db->store->NewBatch();
    for (int64_t k = 0; k < batch_size; ++k, ++i) {
      db->log->Append(Record(i, 50000), "sharing/audit", i + 1, &batch);
    }
    if (!db->store->WriteDeferred(&batch).ok()) {
      state.SkipWithError("write failed");
      break;
    }
  }
  if (!db->store->Settle().ok()) {
    state.SkipWithError("flush failed");
  }
  state.SetItemsProcessed(static_cast<int64_t>(i));
  state.counters["cpu_items_per_second"] =
      static_cast<double>(i) / std::max(1e-9, ProcessCpuSeconds() - cpu0);
  state.counters["log_size"] = static_cast<double>(db->log->size());
}
BENCHMARK(BM_AppendGroupCommit)
    ->ArgNames({"batch", "encrypted"})
    ->Args({100, 0})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2)
    ->UseRealTime();

// Runs one query per iteration over the large log, `fill` setting the filter of the i-th.
template <class Fill>
void RunQueries(benchmark::State& state, Fill fill) {
  Db& db = Large();
  const uint64_t cases = std::max<uint64_t>(1, db.log->size() / kEntriesPerCase);
  uint64_t c = 0;
  for (auto _ : state) {
    asb::v1::AuditQueryRequest q;
    fill(&q, (c++ * 7919), cases);
    auto r = db.log->Query(q);
    if (!r.ok() || r->entries_size() == 0) {
      state.SkipWithError("query failed");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["log_size"] = static_cast<double>(db.log->size());
}

// One auditor query by case (its 20 entries) over the large log, through the by_case index.
void BM_QueryByCase(benchmark::State& state) {
  RunQueries(state, [](asb::v1::AuditQueryRequest* q, uint64_t i, uint64_t cases) {
    q->set_case_id("CBC-2026-" + std::to_string(i % cases));
  });
}
BENCHMARK(BM_QueryByCase)->Unit(benchmark::kMicrosecond)->UseRealTime();

// One subject access query (a person's 12 entries) through the by_subject index.
void BM_QueryBySubject(benchmark::State& state) {
  RunQueries(state, [](asb::v1::AuditQueryRequest* q, uint64_t i, uint64_t cases) {
    q->set_subject_key(SubjectKey(i % cases, 'a'));
  });
}
BENCHMARK(BM_QueryBySubject)->Unit(benchmark::kMicrosecond)->UseRealTime();

// A page of 100 of one agency's disclosures to it in a time window, combined filters: through
// the by_agency index, kind/time/purpose checked per entry (a bounded scan: at most
// AuditLog::kMaxScan entries per call, next_after_index to continue).
void BM_QueryAgencyKindTimePage(benchmark::State& state) {
  Db& db = Large();
  const uint64_t n = db.log->size();
  for (auto _ : state) {
    asb::v1::AuditQueryRequest q;
    q.set_agency("fire");
    q.add_kinds(asb::v1::AUDIT_KIND_DISCLOSURE);
    q.set_purpose("prevent-asb");
    *q.mutable_since() = google::protobuf::util::TimeUtil::SecondsToTimestamp(
        static_cast<int64_t>(1780000000 + n / 2));
    q.set_limit(100);
    auto r = db.log->Query(q);
    if (!r.ok() || r->entries_size() == 0) {
      state.SkipWithError("query failed");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["log_size"] = static_cast<double>(n);
}
BENCHMARK(BM_QueryAgencyKindTimePage)->Unit(benchmark::kMillisecond)->UseRealTime();

// An inclusion proof of a random entry against the whole large log (O(log n) reads).
void BM_InclusionProof(benchmark::State& state) {
  Db& db = Large();
  const uint64_t n = db.log->size();
  uint64_t k = 0;
  for (auto _ : state) {
    auto proof = db.log->InclusionProof(1 + (k++ * 104729) % n, n);
    if (!proof.ok()) {
      state.SkipWithError("proof failed");
      break;
    }
    benchmark::DoNotOptimize(proof);
  }
  state.counters["log_size"] = static_cast<double>(n);
}
BENCHMARK(BM_InclusionProof)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Verifying the whole large log: pages of 10,000 through the query API, every leaf hash
// recomputed from its canonical bytes, the root recomputed and compared with the log's.
void BM_VerifyWholeLog(benchmark::State& state) {
  Db& db = Large();
  const uint64_t n = db.log->size();
  asb::v1::SignedTreeHead sth;
  sth.set_tree_size(n);
  sth.set_root_hash(db.log->Root());
  const double cpu0 = ProcessCpuSeconds();
  std::atomic<uint64_t> page_bytes{0};
  for (auto _ : state) {
    asb::audit::LogVerifier verifier({sth});
    absl::Status s = asb::audit::FeedEntries(
        n,
        [&db, &page_bytes](uint64_t after) {
          asb::v1::AuditQueryRequest q;
          q.set_after_index(after);
          q.set_limit(10000);
          q.set_stored(true);
          auto page = db.log->Query(q);
          if (page.ok()) {
            page_bytes += page->stored_page().size();
          }
          return page;
        },
        &verifier);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.counters["cpu_items_per_second"] =
      static_cast<double>(state.iterations() * n) / std::max(1e-9, ProcessCpuSeconds() - cpu0);
  state.counters["log_size"] = static_cast<double>(n);
  state.counters["bytes_per_entry"] =
      static_cast<double>(page_bytes.load()) / static_cast<double>(state.iterations() * n);
}
BENCHMARK(BM_VerifyWholeLog)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
