#pragma once

// Serves the daemon's logs to consumers: answers FetchRequest (ROLE_DAEMON principals only) and
// publishes a head hint whenever a log's head advances.
//
// Retention (optional, per stream: SetRetention / ConfigureRetention): the server learns where
// each consumer is from its fetches (a fetch from N means the consumer has committed everything
// below N, since common/stream's Consumer commits its offset with its effects before it asks for
// more) and deletes (Log::TrimBefore) the records that EVERY configured consumer has passed and
// that are older than the minimum age. Positions are kept in memory and written durably (in the
// log's column family, under keys that are never record keys) before any deletion, so after a
// restart a consumer that has not fetched yet still holds back what it has not passed. A
// configured consumer never seen holds back deletion entirely. Deletion is checked at most once
// per check interval, after answering a fetch (no timer needed); memory is a few bytes per
// consumer.
//
// Backpressure: the same positions tell how far each configured consumer lags (the stream's head
// minus its committed position: ConsumerLags, Slowest). A daemon that must not take in more
// while its consumers fall behind asks Slowest() and is told (OnPositionAdvanced) when a fetch
// moved a consumer on, so it can look again.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/config/v1/common.pb.h"
#include "asb/v1/api.pb.h"
#include "common/bus/server.h"
#include "common/stream/log.h"

namespace asb::stream {

class StreamServer {
 public:
  static constexpr uint32_t kDefaultBatch = 500;
  static constexpr uint32_t kMaxBatch = 5000;
  // A response stops adding records past this many bytes (it always carries at least one).
  static constexpr std::size_t kMaxResponseBytes = 2 << 20;

  explicit StreamServer(bus::Server* server) : server_(server) {}

  // Serves `log` under its name and publishes its head hints. `log` must outlive this; once
  // this is destroyed, the log's commits no longer publish through it.
  void Register(Log* log);

  // Answers a fetch request: the records, or kNotFound (no such stream), kOutOfRange (below
  // retention; the reply still carries fetch{stream, head, first_retained} without records so
  // the consumer can tell where the stream now starts), kInvalidArgument (from_seq 0),
  // kPermissionDenied (caller is not a hub daemon).
  void HandleFetch(const bus::Caller& caller, const asb::v1::FetchRequest& request);

  struct RetentionPolicy {
    // Principal names of every consumer of the stream. Must not be empty.
    std::vector<std::string> consumers;
    // Records younger than this are kept.
    absl::Duration min_age = absl::ZeroDuration();
    // Deletion is looked for at most this often.
    absl::Duration check_every = absl::Minutes(1);
  };
  // Deletes records of the registered stream `stream` (kept in `store`, the log's store) per
  // `policy`, and loads the consumers' positions stored by an earlier run. kNotFound for a
  // stream not registered; kInvalidArgument for no consumers; storage errors as Store.
  absl::Status SetRetention(const std::string& stream, store::Store* store, RetentionPolicy policy);
  // SetRetention for each ServerConfig.stream_retention entry (the daemon's hook: call once
  // after registering the logs). kInvalidArgument naming the field for a bad entry.
  absl::Status ConfigureRetention(const asb::config::v1::ServerConfig& config, store::Store* store);
  // Deletes now what the policies allow, whatever the check interval. Returns the number of
  // records deleted over all streams.
  absl::StatusOr<uint64_t> TrimNow();
  // A consumer's committed position in `stream` as known here (0: never seen).
  uint64_t ConsumerPosition(const std::string& stream, const std::string& consumer) const;

  // How far one configured consumer is behind one stream.
  struct ConsumerLag {
    std::string stream;
    std::string consumer;
    uint64_t lag = 0;  // records appended that the consumer has not committed
  };
  // Records of a stream whose head is `head` that a consumer at committed position `position`
  // has still to commit (0 when it is at or past the head).
  static uint64_t Lag(uint64_t head, uint64_t position) {
    return head > position ? head - position : 0;
  }
  // Every configured consumer (SetRetention) of every stream whose position is known (reported
  // by a fetch since start, or stored by an earlier run), with its lag; in stream, then consumer
  // order. A consumer not heard from is left out: nothing is known of it.
  std::vector<ConsumerLag> ConsumerLags() const;
  // The entry of ConsumerLags() with the largest lag (the first such); lag 0 and empty names
  // when there is none.
  ConsumerLag Slowest() const;
  // Called (from the loop, inside HandleFetch, after the reply was sent) whenever a fetch moved a
  // configured consumer's position on: the lag may have fallen. One listener.
  void OnPositionAdvanced(std::function<void()> fn) { on_advanced_ = std::move(fn); }
  void SetClockForTest(std::function<absl::Time()> clock) { clock_ = std::move(clock); }

 private:
  struct Retention {
    RetentionPolicy policy;
    store::Store* store = nullptr;
    std::map<std::string, uint64_t> positions;  // consumer → committed through (in memory)
    std::map<std::string, uint64_t> saved;      // as last written durably
    absl::Time last_check = absl::InfinitePast();
  };
  // Deletes from one stream what its policy allows; returns records deleted.
  absl::StatusOr<uint64_t> Trim(Log* log, Retention* r);
  void MaybeTrim(const std::string& stream);

  bus::Server* server_;
  std::map<std::string, Log*> logs_;
  std::map<std::string, Retention> retention_;
  std::function<absl::Time()> clock_ = [] { return absl::Now(); };
  std::function<void()> on_advanced_;
  // Head listeners registered on logs check this, so they go quiet when this is destroyed.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace asb::stream
