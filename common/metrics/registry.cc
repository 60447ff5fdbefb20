#include "common/metrics/registry.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/status/check.h"

namespace asb::metrics {
namespace {

constexpr char kPrefix[] = "asb_";

bool ValidName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '_';
  });
}

// The text format's number: integers without a fraction, +Inf/-Inf/NaN by name.
std::string FormatValue(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Labels With(Labels labels, std::string name, std::string value) {
  labels.emplace_back(std::move(name), std::move(value));
  return labels;
}

}  // namespace

std::string FormatLabels(const Labels& labels) {
  if (labels.empty()) {
    return "";
  }
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    out += labels[i].first;
    out += "=\"";
    for (char c : labels[i].second) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '"') {
        out += "\\\"";
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out.push_back(c);
      }
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  ASB_CHECK(std::is_sorted(bounds_.begin(), bounds_.end()));
}

void Histogram::Observe(double value) {
  const std::size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  return out;
}

Registry::Family& Registry::FamilyFor(const std::string& name, const std::string& help, Kind kind) {
  ASB_CHECK(ValidName(name));
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    ASB_CHECK(it->second->kind == kind);
    return *it->second;
  }
  families_.push_back(std::make_unique<Family>());
  Family& f = *families_.back();
  f.name = name;
  f.help = help;
  f.kind = kind;
  by_name_[name] = &f;
  return f;
}

Counter* Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  Family& f = FamilyFor(name, help, Kind::kCounter);
  for (Series& s : f.series) {
    if (s.labels == labels && s.counter != nullptr) {
      return s.counter.get();
    }
  }
  Series s;
  s.labels = labels;
  s.counter = std::make_unique<Counter>();
  f.series.push_back(std::move(s));
  return f.series.back().counter.get();
}

void Registry::AddCounterFn(const std::string& name, const std::string& help,
                            std::function<uint64_t()> read, const Labels& labels) {
  Family& f = FamilyFor(name, help, Kind::kCounter);
  Series s;
  s.labels = labels;
  s.counter_fn = std::move(read);
  f.series.push_back(std::move(s));
}

void Registry::AddGaugeFn(const std::string& name, const std::string& help,
                          std::function<double()> read, const Labels& labels) {
  Family& f = FamilyFor(name, help, Kind::kGauge);
  Series s;
  s.labels = labels;
  s.gauge_fn = std::move(read);
  f.series.push_back(std::move(s));
}

void Registry::AddGaugeFamily(const std::string& name, const std::string& help,
                              std::function<std::vector<Sample>()> read) {
  Family& f = FamilyFor(name, help, Kind::kGauge);
  ASB_CHECK(!f.dynamic);
  f.dynamic = std::move(read);
}

Histogram* Registry::GetHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds) {
  Family& f = FamilyFor(name, help, Kind::kHistogram);
  if (f.series.empty()) {
    Series s;
    s.histogram = std::make_unique<Histogram>(std::move(bounds));
    f.series.push_back(std::move(s));
  }
  return f.series.front().histogram.get();
}

std::string Registry::RenderText() const {
  std::string out;
  for (const auto& fp : families_) {
    const Family& f = *fp;
    const std::string name =
        absl::StrCat(kPrefix, f.name, f.kind == Kind::kCounter ? "_total" : "");
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(f.help), "\n# TYPE ", name, " ",
                    f.kind == Kind::kCounter ? "counter"
                    : f.kind == Kind::kGauge ? "gauge"
                                             : "histogram",
                    "\n");
    for (const Series& s : f.series) {
      if (s.histogram != nullptr) {
        const Histogram& h = *s.histogram;
        const std::vector<uint64_t> counts = h.BucketCounts();
        uint64_t cumulative = 0;
        for (std::size_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          const std::string le = i < h.bounds().size() ? FormatValue(h.bounds()[i]) : "+Inf";
          absl::StrAppend(&out, kPrefix, f.name, "_bucket", FormatLabels(With(s.labels, "le", le)),
                          " ", cumulative, "\n");
        }
        absl::StrAppend(&out, kPrefix, f.name, "_sum", FormatLabels(s.labels), " ",
                        FormatValue(h.sum()), "\n", kPrefix, f.name, "_count",
                        FormatLabels(s.labels), " ", cumulative, "\n");
        continue;
      }
      double value = 0;
      if (s.counter != nullptr) {
        value = static_cast<double>(s.counter->value());
      } else if (s.counter_fn) {
        value = static_cast<double>(s.counter_fn());
      } else if (s.gauge_fn) {
        value = s.gauge_fn();
      }
      absl::StrAppend(&out, name, FormatLabels(s.labels), " ", FormatValue(value), "\n");
    }
    if (f.dynamic) {
      for (const Sample& sample : f.dynamic()) {
        absl::StrAppend(&out, name, FormatLabels(sample.labels), " ", FormatValue(sample.value),
                        "\n");
      }
    }
  }
  return out;
}

std::vector<std::pair<std::string, uint64_t>> Registry::CounterValues() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& fp : families_) {
    if (fp->kind != Kind::kCounter) {
      continue;
    }
    for (const Series& s : fp->series) {
      out.emplace_back(fp->name + FormatLabels(s.labels),
                       s.counter != nullptr ? s.counter->value() : s.counter_fn());
    }
  }
  return out;
}

}  // namespace asb::metrics
