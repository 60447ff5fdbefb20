// The cost of encryption at rest in common/store: put (one value per batch, no fsync, so the
// crypto is not hidden behind the disk), get and scan of 1 KiB values, in three modes:
//   0 = plaintext (no key ring), 1 = master key (no subject), 2 = per-subject data keys (the
//   value's case is one of 100, as the daemons' subject callback would say).
// Run: ./build/bench/asb_bench_store [--benchmark_filter=Get]

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "common/crypto/aead.h"
#include "common/crypto/crypto.h"
#include "common/store/store.h"

namespace {

constexpr std::size_t kValueSize = 1024;
constexpr int kSubjects = 100;
constexpr uint64_t kPreloaded = 10000;

std::string Value(uint64_t i) {
  std::string v(kValueSize, 'x');
  const std::string subject = "CBC-2026-" + std::to_string(i % kSubjects);
  v.replace(0, subject.size() + 1, subject + "|");
  return v;
}

class BenchStore {
 public:
  explicit BenchStore(int mode) {
    char tmpl[] = "/tmp/asb-store-bench-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    asb::store::StoreOptions o;
    o.path = dir_ + "/db";
    o.sync = false;
    o.column_families = {"data"};
    if (mode > 0) {
      std::map<uint32_t, std::string> keys;
      keys[1] = *asb::crypto::RandomBytes(asb::crypto::kAeadKeySize);
      o.key_ring = std::make_shared<const asb::crypto::KeyRing>(
          asb::crypto::KeyRing::FromKeys(std::move(keys), "bench"));
    }
    if (mode == 2) {
      o.subject_of = [](std::string_view, std::string_view, std::string_view value) {
        return std::string(value.substr(0, value.find('|')));
      };
    }
    store_ = std::move(*asb::store::Store::Open(o));
  }
  ~BenchStore() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  asb::store::Store* get() { return store_.get(); }

  void Preload(uint64_t n) {
    asb::store::Batch batch = store_->NewBatch();
    for (uint64_t i = 0; i < n; ++i) {
      batch.Put("data", asb::store::EncodeSeq(i), Value(i));
      if (batch.count() == 1000) {
        (void)store_->Write(&batch);
      }
    }
    (void)store_->Write(&batch);
  }

 private:
  std::string dir_;
  std::unique_ptr<asb::store::Store> store_;
};

const char* ModeName(int64_t mode) {
  return mode == 0 ? "plaintext" : mode == 1 ? "master-key" : "per-subject";
}

void BM_StorePut(benchmark::State& state) {
  BenchStore store(static_cast<int>(state.range(0)));
  uint64_t i = 0;
  for (auto _ : state) {
    asb::store::Batch batch = store.get()->NewBatch();
    batch.Put("data", asb::store::EncodeSeq(i), Value(i));
    if (!store.get()->Write(&batch).ok()) {
      state.SkipWithError("write failed");
      break;
    }
    ++i;
  }
  state.SetLabel(ModeName(state.range(0)));
  state.SetBytesProcessed(static_cast<int64_t>(i * kValueSize));
}
BENCHMARK(BM_StorePut)->Arg(0)->Arg(1)->Arg(2);

void BM_StoreGet(benchmark::State& state) {
  BenchStore store(static_cast<int>(state.range(0)));
  store.Preload(kPreloaded);
  uint64_t i = 0;
  std::string value;
  for (auto _ : state) {
    const uint64_t k = (i * 7919) % kPreloaded;
    if (!store.get()->Get("data", asb::store::EncodeSeq(k), &value).ok()) {
      state.SkipWithError("get failed");
      break;
    }
    benchmark::DoNotOptimize(value.data());
    ++i;
  }
  state.SetLabel(ModeName(state.range(0)));
  state.SetBytesProcessed(static_cast<int64_t>(i * kValueSize));
}
BENCHMARK(BM_StoreGet)->Arg(0)->Arg(1)->Arg(2);

void BM_StoreScan(benchmark::State& state) {
  BenchStore store(static_cast<int>(state.range(0)));
  store.Preload(kPreloaded);
  uint64_t values = 0;
  for (auto _ : state) {
    auto it = store.get()->NewIterator("data");
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      benchmark::DoNotOptimize(it->value().data());
      ++values;
    }
  }
  state.SetLabel(ModeName(state.range(0)));
  state.SetItemsProcessed(static_cast<int64_t>(values));
  state.SetBytesProcessed(static_cast<int64_t>(values * kValueSize));
}
BENCHMARK(BM_StoreScan)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// The AEAD alone on a 1 KiB value.
void BM_AeadSeal1KiB(benchmark::State& state) {
  const std::string key(32, 'k'), nonce(12, 'n'), value(kValueSize, 'x');
  std::string out;
  for (auto _ : state) {
    out.clear();
    (void)asb::crypto::AeadSeal(key, nonce, value, "aad", &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kValueSize));
}
BENCHMARK(BM_AeadSeal1KiB);

}  // namespace

BENCHMARK_MAIN();
