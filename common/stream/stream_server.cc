#include "common/stream/stream_server.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bus/wire.h"
#include "common/log/log.h"
#include "common/status/macros.h"
#include "common/status/proto_status.h"
#include "common/store/store.h"

namespace asb::stream {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("stream");
  return lg;
}

// A consumer's durable position, in the log's own column family. Record keys are exactly 8
// bytes and Log's metadata keys start with 8 x 0xff then "/", so these never collide with either.
std::string PositionKey(const std::string& consumer) {
  std::string key(8, '\xff');
  key.append("/consumer/");
  key.append(consumer);
  return key;
}

absl::Time ProducedAt(const asb::v1::Envelope& e) {
  return absl::FromUnixSeconds(e.produced_at().seconds()) +
         absl::Nanoseconds(e.produced_at().nanos());
}

}  // namespace

void StreamServer::Register(Log* log) {
  logs_[log->name()] = log;
  std::weak_ptr<bool> alive = alive_;
  log->OnHeadAdvanced([alive, server = server_, name = log->name()](uint64_t head) {
    if (!alive.expired()) {
      server->PublishHead(name, head);
    }
  });
}

void StreamServer::HandleFetch(const bus::Caller& caller, const asb::v1::FetchRequest& request) {
  if (caller.principal.role != asb::v1::ROLE_DAEMON) {
    SPDLOG_LOGGER_WARN(Logger(), "[{}] fetch of stream refused: not a hub daemon",
                       caller.principal.name);
    server_->ReplyError(caller,
                        absl::PermissionDeniedError("streams are served to hub daemons only"));
    return;
  }
  auto it = logs_.find(request.stream());
  if (it == logs_.end()) {
    server_->ReplyError(caller, absl::NotFoundError(absl::StrCat("no stream '", request.stream(),
                                                                 "' is served here")));
    return;
  }
  if (request.from_seq() == 0) {
    server_->ReplyError(caller, absl::InvalidArgumentError("fetch.from_seq: must be >= 1"));
    return;
  }
  Log* log = it->second;
  uint32_t max = request.max_records() == 0 ? kDefaultBatch : request.max_records();
  max = std::min(max, kMaxBatch);

  asb::v1::Response response;
  asb::v1::FetchResponse* fetch = response.mutable_fetch();
  fetch->set_stream(log->name());
  fetch->set_head(log->head());
  fetch->set_first_retained(log->first_retained());
  // The records go out as they are stored: never parsed and re-encoded here.
  std::vector<std::string> records;
  absl::Status status = log->ReadEncoded(request.from_seq(), max, &records, kMaxResponseBytes);
  if (!status.ok()) {
    if (absl::IsOutOfRange(status)) {
      SPDLOG_LOGGER_WARN(Logger(), "[{}] fetch of {} from {} is below retention (first {})",
                         caller.principal.name, log->name(), request.from_seq(),
                         log->first_retained());
    } else {
      SPDLOG_LOGGER_ERROR(Logger(), "reading stream {}: {}", log->name(), status.ToString());
    }
    *response.mutable_status() = ToProto(status);
    server_->Reply(caller, std::move(response));
    return;
  }
  bool advanced = false;
  if (auto r = retention_.find(log->name()); r != retention_.end()) {
    const auto& consumers = r->second.policy.consumers;
    if (std::find(consumers.begin(), consumers.end(), caller.principal.name) != consumers.end()) {
      // What this consumer has on disk: committed_seq, else everything below from_seq.
      const uint64_t committed = request.has_committed_seq()
                                     ? std::min(request.committed_seq(), request.from_seq() - 1)
                                     : request.from_seq() - 1;
      auto [p, inserted] = r->second.positions.try_emplace(caller.principal.name, 0);
      const uint64_t moved_to = std::max(p->second, std::min(committed, log->head()));
      advanced = inserted || moved_to > p->second;
      p->second = moved_to;
    }
  }
  std::size_t bytes = 0;
  for (const std::string& record : records) {
    bytes += record.size() + 10;
  }
  std::string encoded;
  encoded.reserve(bytes);
  for (const std::string& record : records) {
    bus::AppendLengthDelimited(asb::v1::FetchResponse::kRecordsFieldNumber, record, &encoded);
  }
  *response.mutable_status() = ToProto(absl::OkStatus());
  SPDLOG_LOGGER_DEBUG(Logger(), "[{}] fetch {} from {}: {} records (head {})",
                      caller.principal.name, log->name(), request.from_seq(), records.size(),
                      log->head());
  server_->Reply(caller, std::move(response), asb::v1::Response::kFetchFieldNumber, encoded);
  MaybeTrim(log->name());
  if (advanced && on_advanced_) {
    on_advanced_();
  }
}

absl::Status StreamServer::SetRetention(const std::string& stream, store::Store* store,
                                        RetentionPolicy policy) {
  if (logs_.find(stream) == logs_.end()) {
    return absl::NotFoundError(absl::StrCat("retention: no stream '", stream, "' is served here"));
  }
  if (policy.consumers.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention of stream ", stream, ": consumers: at least one is required"));
  }
  Retention r;
  r.store = store;
  const std::string cf = LogColumnFamily(stream);
  for (const std::string& consumer : policy.consumers) {
    std::string value;
    absl::Status got = store->Get(cf, PositionKey(consumer), &value);
    if (got.ok()) {
      if (value.size() != 8) {
        return absl::DataLossError(
            absl::StrCat("stream ", stream, ": malformed position of consumer ", consumer));
      }
      r.positions[consumer] = r.saved[consumer] = store::DecodeSeq(value);
    } else if (!absl::IsNotFound(got)) {
      return got;
    }
  }
  r.policy = std::move(policy);
  retention_[stream] = std::move(r);
  return absl::OkStatus();
}

absl::Status StreamServer::ConfigureRetention(const asb::config::v1::ServerConfig& config,
                                              store::Store* store) {
  for (int i = 0; i < config.stream_retention_size(); ++i) {
    const asb::config::v1::StreamRetentionConfig& c = config.stream_retention(i);
    const std::string field = absl::StrCat("server.stream_retention[", i, "]");
    if (retention_.count(c.stream()) > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".stream: '", c.stream(), "' is listed twice"));
    }
    RetentionPolicy policy;
    policy.consumers.assign(c.consumers().begin(), c.consumers().end());
    policy.min_age = absl::Hours(c.min_age_hours());
    if (c.check_interval_seconds() != 0) {
      policy.check_every = absl::Seconds(c.check_interval_seconds());
    }
    absl::Status s = SetRetention(c.stream(), store, std::move(policy));
    if (!s.ok()) {
      return absl::Status(s.code(), absl::StrCat(field, ": ", s.message()));
    }
    SPDLOG_LOGGER_INFO(Logger(),
                       "stream {}: records deleted once {} consumer(s) passed them and "
                       "after {} h",
                       c.stream(), c.consumers_size(), c.min_age_hours());
  }
  return absl::OkStatus();
}

uint64_t StreamServer::ConsumerPosition(const std::string& stream,
                                        const std::string& consumer) const {
  auto r = retention_.find(stream);
  if (r == retention_.end()) {
    return 0;
  }
  auto p = r->second.positions.find(consumer);
  return p == r->second.positions.end() ? 0 : p->second;
}

std::vector<StreamServer::ConsumerLag> StreamServer::ConsumerLags() const {
  std::vector<ConsumerLag> out;
  for (const auto& [stream, r] : retention_) {
    const uint64_t head = logs_.at(stream)->head();
    for (const auto& [consumer, position] : r.positions) {
      out.push_back(ConsumerLag{stream, consumer, Lag(head, position)});
    }
  }
  return out;
}

StreamServer::ConsumerLag StreamServer::Slowest() const {
  ConsumerLag slowest;
  for (ConsumerLag& c : ConsumerLags()) {
    if (c.lag > slowest.lag) {
      slowest = std::move(c);
    }
  }
  return slowest;
}

absl::StatusOr<uint64_t> StreamServer::TrimNow() {
  uint64_t deleted = 0;
  for (auto& [stream, r] : retention_) {
    r.last_check = clock_();
    ASB_ASSIGN_OR_RETURN(uint64_t n, Trim(logs_.at(stream), &r));
    deleted += n;
  }
  return deleted;
}

void StreamServer::MaybeTrim(const std::string& stream) {
  auto r = retention_.find(stream);
  if (r == retention_.end()) {
    return;
  }
  const absl::Time now = clock_();
  if (now - r->second.last_check < r->second.policy.check_every) {
    return;
  }
  r->second.last_check = now;
  absl::StatusOr<uint64_t> deleted = Trim(logs_.at(stream), &r->second);
  if (!deleted.ok()) {
    SPDLOG_LOGGER_WARN(Logger(), "stream {}: old records not deleted: {}", stream,
                       deleted.status().ToString());
  }
}

absl::StatusOr<uint64_t> StreamServer::Trim(Log* log, Retention* r) {
  // Everything every consumer has committed; a consumer never seen holds everything back.
  uint64_t through = log->head();
  for (const std::string& consumer : r->policy.consumers) {
    auto p = r->positions.find(consumer);
    if (p == r->positions.end()) {
      return 0;
    }
    through = std::min(through, p->second);
  }
  const uint64_t first = log->first_retained();
  if (through < first) {
    return 0;
  }
  if (r->policy.min_age > absl::ZeroDuration()) {
    // The newest record old enough, by binary search on produced_at (appended in time order).
    const absl::Time cutoff = clock_() - r->policy.min_age;
    uint64_t lo = first - 1;  // known old enough (or nothing)
    uint64_t hi = through;    // candidate
    std::vector<asb::v1::Envelope> one;
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo + 1) / 2;
      ASB_RETURN_IF_ERROR(log->Read(mid, 1, &one));
      if (one.empty()) {
        return absl::DataLossError(
            absl::StrCat("stream ", log->name(), ": record ", mid, " is missing"));
      }
      if (ProducedAt(one.front()) <= cutoff) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    through = lo;
    if (through < first) {
      return 0;
    }
  }
  // The positions that justify the deletion are durable before it.
  if (r->positions != r->saved) {
    store::Batch batch = r->store->NewBatch();
    const std::string cf = LogColumnFamily(log->name());
    for (const auto& [consumer, position] : r->positions) {
      batch.Put(cf, PositionKey(consumer), store::EncodeSeq(position));
    }
    ASB_RETURN_IF_ERROR(r->store->Write(&batch));
    r->saved = r->positions;
  }
  ASB_RETURN_IF_ERROR(log->TrimBefore(through + 1));
  return through + 1 - first;
}

}  // namespace asb::stream
