// What every daemon reports to operators (metrics and readiness), registered by Runtime::Start.
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/stream/disk_space.h"
#include "services/daemon/runtime.h"

namespace asb::daemon {

uint64_t Runtime::min_free_bytes() const {
  return options_.store.min_free_mb() != 0 ? uint64_t{options_.store.min_free_mb()} << 20
                                           : stream::kDefaultMinFreeBytes;
}

absl::Status Runtime::Readiness() const {
  std::vector<std::string> problems;
  if (server_ == nullptr || loop_.stopped()) {
    problems.push_back("not serving (starting or stopping)");
  }
  if (absl::Status space = stream::CheckFreeSpace(store_->path(), min_free_bytes()); !space.ok()) {
    problems.push_back(std::string(space.message()));
  }
  for (const auto& c : consumers_) {
    if (!c->reachable()) {
      problems.push_back(absl::StrCat("upstream ", c->upstream(), " (stream ", c->stream(),
                                      ") did not answer its last fetch"));
    }
  }
  if (problems.empty()) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrJoin(problems, "; "));
}

void Runtime::RegisterMetrics() {
  metrics::Registry& m = metrics_;
  m.AddCounterFn("bad_messages",
                 "Requests that could not be decoded (answered with an error, or dropped).",
                 [this] { return server_->bad_messages(); });
  m.AddCounterFn("audit_failures", "Audit records that could not be written.",
                 [this] { return audit_failures_; });
  m.AddGaugeFamily("stream_head", "Newest sequence number of each stream this daemon serves.",
                   [this] {
                     std::vector<metrics::Sample> out;
                     for (const auto& l : logs_) {
                       out.push_back({{{"stream", l->name()}}, static_cast<double>(l->head())});
                     }
                     return out;
                   });
  m.AddGaugeFamily("stream_consumer_lag",
                   "Records of each stream this daemon serves not yet committed by each of its "
                   "configured consumers (server.stream_retention), as the consumer last "
                   "reported; backpressure compares the largest with backpressure.max_lag.",
                   [this] {
                     std::vector<metrics::Sample> out;
                     for (const auto& l : stream_server_->ConsumerLags()) {
                       out.push_back({{{"stream", l.stream}, {"consumer", l.consumer}},
                                      static_cast<double>(l.lag)});
                     }
                     return out;
                   });
  auto per_consumer = [this](auto value) {
    return [this, value] {
      std::vector<metrics::Sample> out;
      for (const auto& c : consumers_) {
        out.push_back({{{"upstream", c->upstream()}, {"stream", c->stream()}}, value(*c)});
      }
      return out;
    };
  };
  m.AddGaugeFamily(
      "consumer_offset", "Last record of the upstream's stream applied and on disk here.",
      per_consumer([](const stream::Consumer& c) { return static_cast<double>(c.offset()); }));
  m.AddGaugeFamily("consumer_lag",
                   "Records of the upstream's stream not yet applied here (its head as last "
                   "seen minus the offset).",
                   per_consumer([](const stream::Consumer& c) {
                     return c.upstream_head() > c.offset()
                                ? static_cast<double>(c.upstream_head() - c.offset())
                                : 0.0;
                   }));
  m.AddGaugeFamily("consumer_held",
                   "1 while the consumer holds back from fetching (backpressure: this daemon's own "
                   "consumers lag too far), else 0.",
                   per_consumer([](const stream::Consumer& c) { return c.held() ? 1.0 : 0.0; }));
  m.AddGaugeFamily(
      "consumer_upstream_up", "1 if the upstream answered the last fetch, else 0.",
      per_consumer([](const stream::Consumer& c) { return c.reachable() ? 1.0 : 0.0; }));
  m.AddGaugeFamily("isp_info", "The ISP version in force (value always 1).", [this] {
    return std::vector<metrics::Sample>{{{{"version", isp_version_}}, 1.0}};
  });
  m.AddGaugeFn("store_free_bytes", "Bytes free on the file system of the daemon's store.", [this] {
    auto free = stream::FreeBytes(store_->path());
    return free.ok() ? static_cast<double>(*free) : -1.0;
  });
  m.AddGaugeFn("store_min_free_bytes",
               "Free bytes the daemon keeps (store.min_free_mb): below it, it is not ready.",
               [this] { return static_cast<double>(min_free_bytes()); });
  const double started = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  m.AddGaugeFn("start_time_seconds", "When the daemon started, in seconds since the Unix epoch.",
               [started] { return started; });
  m.AddGaugeFn("ready", "1 while /readyz says ready, else 0.",
               [this] { return Readiness().ok() ? 1.0 : 0.0; });
}

}  // namespace asb::daemon
