#pragma once

// One registry of a daemon's operational metrics, rendered two ways: the Prometheus text format
// (GET /metrics) and the counters of PingResponse (`asbctl status`), so both show the same
// numbers from one mechanism.
//
// Names are snake_case without the "asb_" prefix, which rendering adds (and "_total" after a
// counter's name): "bad_messages" is asb_bad_messages_total on /metrics and bad_messages in a
// Ping. Label values must never carry personal data (agency ids, stream names, reasons from a
// fixed set, an ISP version: yes; case ids, subject keys, officer ids: never).
//
// Thread safety: Counter and Histogram may be updated from any thread. Registering and
// rendering are for one thread (the daemon's loop); the read functions given to the registry
// run there, at render time, so they may read the daemon's loop-only state.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace asb::metrics {

// Label name → value, in the order written.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing count. Thread-safe.
class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending), with their sum. Thread-safe.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket (not cumulative), then the +Inf bucket last.
  std::vector<uint64_t> BucketCounts() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// One series of a family read at render time.
struct Sample {
  Labels labels;
  double value = 0;
};

// Buckets (seconds) for durations from 100 µs to 10 s: fsyncs, requests.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The counter `name` with `labels`, created on first use (the same pointer afterwards; `help`
  // of the first registration of `name` stands). Never null; owned by the registry.
  Counter* GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  // A counter kept by its owner, read by `read` at render time.
  void AddCounterFn(const std::string& name, const std::string& help,
                    std::function<uint64_t()> read, const Labels& labels = {});
  // A gauge read at render time.
  void AddGaugeFn(const std::string& name, const std::string& help, std::function<double()> read,
                  const Labels& labels = {});
  // A gauge family whose series (label sets) are known only at render time: per agency, per
  // stream. `read` returns every series of it.
  void AddGaugeFamily(const std::string& name, const std::string& help,
                      std::function<std::vector<Sample>()> read);
  // The histogram `name`, created on first use with `bounds`.
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds);

  // Every metric in the Prometheus text exposition format (version 0.0.4), families in the
  // order registered.
  std::string RenderText() const;
  // Every counter series as (name, value), a labelled one as name{label="value",...}: what
  // PingResponse.counters carries.
  std::vector<std::pair<std::string, uint64_t>> CounterValues() const;

  // Content-Type of RenderText().
  static constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;      // GetCounter
    std::function<uint64_t()> counter_fn;  // AddCounterFn
    std::function<double()> gauge_fn;      // AddGaugeFn
    std::unique_ptr<Histogram> histogram;  // GetHistogram
  };
  struct Family {
    std::string name;
    std::string help;
    Kind kind;
    std::vector<Series> series;
    std::function<std::vector<Sample>()> dynamic;  // AddGaugeFamily
  };
  Family& FamilyFor(const std::string& name, const std::string& help, Kind kind);

  std::vector<std::unique_ptr<Family>> families_;
  std::map<std::string, Family*> by_name_;
};

// `labels` rendered as {a="x",b="y"} (values escaped as the text format wants), or "" for none.
std::string FormatLabels(const Labels& labels);

}  // namespace asb::metrics
