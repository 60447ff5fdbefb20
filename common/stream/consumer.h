#pragma once

// Pulls one stream of an upstream daemon and applies it exactly once: for each fetched batch it
// calls Apply for every record with one Batch, adds its own offset to that Batch, and writes it
// (one fsync). A crash anywhere either loses the whole batch (re-fetched) or keeps it all
// (offset moved): nothing is lost and nothing applied twice. The fsync of one batch overlaps
// fetching and writing the next (Store::WriteDeferred): a batch's OnCommit callbacks — and
// offset(), OnCommitted, OnSkipped — come once it is on disk. Hints from the upstream's PUB make
// it fetch at once; it also polls, since PUB may drop.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "asb/v1/envelope.pb.h"
#include "common/bus/client.h"
#include "common/bus/loop.h"
#include "common/store/store.h"
#include "common/stream/disk_space.h"

namespace asb::stream {

// Column family holding every consumer's offset; list it in StoreOptions.column_families.
inline constexpr char kOffsetsColumnFamily[] = "offsets";

struct ConsumerOptions {
  std::string upstream;        // e.g. "intake"
  std::string stream;          // e.g. "events"
  std::string api_endpoint;    // upstream's ROUTER
  std::string hints_endpoint;  // upstream's PUB
  std::string server_public_key;
  bus::KeyPair keys;  // this daemon's key pair
  uint32_t batch = 500;
  // Also the back-off after a failed fetch, apply or write.
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds request_timeout{5000};
  // No CURVE (tests only; the upstream Server must be plaintext_for_test too).
  bool plaintext_for_test = false;
  // Records are not applied while less than this is free on the store's file system (the
  // consumer backs off and retries every poll_interval): RocksDB must never meet a full disk
  // (common/stream/disk_space.h). 0: no check.
  uint64_t min_free_bytes = kDefaultMinFreeBytes;
};

// Single-threaded: everything runs in `loop`. Owned by the daemon; destroy it before the loop
// and the store.
class Consumer {
 public:
  // Adds the effects of one record to `batch`. Return:
  //  - OK: applied;
  //  - kInvalidArgument / kFailedPrecondition: the record can never be applied (bad data): it is
  //    skipped, counted and reported via OnSkipped — the offset moves past it;
  //  - anything else (kUnavailable…): stop this batch; nothing of it is written; retry later.
  // Status messages are logged: keep personal data out of them.
  using ApplyFn = std::function<absl::Status(const asb::v1::Envelope&, store::Batch*)>;
  using SkippedFn = std::function<void(const asb::v1::Envelope&, const absl::Status&)>;

  Consumer(zmq::context_t* context, bus::Loop* loop, store::Store* store, ConsumerOptions options,
           ApplyFn apply);
  ~Consumer();

  // Reads the stored offset, connects, and starts fetching (the upstream need not be up yet:
  // fetches are retried every poll_interval). kFailedPrecondition if the store lacks the
  // "offsets" column family, kDataLoss for a malformed stored offset, kInvalidArgument for bad
  // endpoints or keys.
  absl::Status Start();

  // After a batch commits (from the loop, soon after — never inside the store write that
  // committed it, so they may write themselves), e.g. to wake other work.
  void OnCommitted(std::function<void(uint64_t offset)> fn) { on_committed_ = std::move(fn); }
  void OnSkipped(SkippedFn fn) { on_skipped_ = std::move(fn); }
  // Backpressure: while `hold` returns an error (its message says why, e.g. how far this
  // daemon's own consumers lag), no fetch is sent; the batch already written still commits. It is
  // asked again before every fetch: on each poll, hint and Resume(). Logged at most every 10 s.
  void HoldWhile(std::function<absl::Status()> hold) { hold_ = std::move(hold); }
  // Fetches now if nothing stops it (e.g. once the reason for a hold may have gone).
  void Resume() { MaybeFetch(); }
  // The last fetch was held back by HoldWhile's function.
  bool held() const { return held_; }
  // Times a fetch was held back (episodes, not polls).
  uint64_t holds() const { return holds_; }

  // Highest sequence number applied and committed (on disk).
  uint64_t offset() const { return offset_; }
  // The upstream head as last seen.
  uint64_t upstream_head() const { return upstream_head_; }
  uint64_t skipped() const { return skipped_; }
  const std::string& upstream() const { return options_.upstream; }
  const std::string& stream() const { return options_.stream; }
  // A fetch is in flight.
  bool fetching() const { return in_flight_; }
  // The upstream answered the last fetch (readiness: false until the first answer, and after a
  // fetch that failed or timed out until one succeeds again).
  bool reachable() const { return answered_ && failures_ == 0; }
  // Records deleted upstream by retention before this consumer read them (jumped over).
  uint64_t lost() const { return lost_; }
  // Batches committed.
  uint64_t batches() const { return batches_; }

 private:
  void MaybeFetch();
  void HandleResponse(absl::StatusOr<asb::v1::Response> response);
  // Applies and commits one batch of records. False if it must be retried later.
  bool ApplyRecords(const asb::v1::FetchResponse& fetch);
  // Moves the offset to first_retained - 1 after a kOutOfRange reply.
  void JumpTo(uint64_t first_retained);
  // Commits the batch whose flush may still run (Store::Settle).
  void Settle();
  // Waits poll_interval before the next fetch.
  void Backoff();
  std::string OffsetKey() const;
  std::string Tag() const;

  zmq::context_t* context_;
  bus::Loop* loop_;
  store::Store* store_;
  ConsumerOptions options_;
  ApplyFn apply_;
  SkippedFn on_skipped_;
  std::function<void(uint64_t)> on_committed_;
  std::function<absl::Status()> hold_;
  bool held_ = false;
  uint64_t holds_ = 0;
  bus::Clock::time_point last_hold_log_{};
  std::unique_ptr<bus::AsyncClient> client_;
  std::unique_ptr<bus::HintSubscriber> hints_;
  uint64_t offset_ = 0;   // committed
  uint64_t applied_ = 0;  // written (maybe not yet on disk): the next fetch starts after it
  uint64_t upstream_head_ = 0;
  uint64_t skipped_ = 0;
  uint64_t lost_ = 0;
  uint64_t batches_ = 0;
  bool in_flight_ = false;
  uint64_t poll_timer_ = 0;
  uint64_t retry_timer_ = 0;
  uint64_t settle_timer_ = 0;
  // A written batch commits at the latest this long after its write when no reply came.
  static constexpr std::chrono::milliseconds kSettleAfter{2};
  uint64_t hinted_head_ = 0;  // highest hint since the last fetch was sent
  bus::Clock::time_point backoff_until_{};
  int failures_ = 0;             // consecutive failed fetches (logged at warn only on the first)
  bool answered_ = false;        // a fetch has been answered
  bool short_of_space_ = false;  // paused for lack of free space (logged once)
  // Callbacks handed to the bus check this so none touches a destroyed Consumer.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace asb::stream
