#pragma once

// Pulls one stream of an upstream daemon and applies it exactly once: for each fetched batch it
// calls Apply for every record with one Batch, adds its own offset to that Batch, and writes it
// (one fsync). A crash anywhere either loses the whole batch (re-fetched) or keeps it all
// (offset moved): nothing is lost and nothing applied twice. Hints from the upstream's PUB make
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
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds request_timeout{5000};
};

class Consumer {
 public:
  // Adds the effects of one record to `batch`. Return:
  //  - OK: applied;
  //  - kInvalidArgument / kFailedPrecondition: the record can never be applied (bad data): it is
  //    skipped, counted and reported via OnSkipped — the offset moves past it;
  //  - anything else (kUnavailable…): stop this batch; nothing of it is written; retry later.
  using ApplyFn = std::function<absl::Status(const asb::v1::Envelope&, store::Batch*)>;
  using SkippedFn = std::function<void(const asb::v1::Envelope&, const absl::Status&)>;

  Consumer(zmq::context_t* context, bus::Loop* loop, store::Store* store, ConsumerOptions options,
           ApplyFn apply);
  ~Consumer();

  // Reads the stored offset, connects, and starts fetching.
  absl::Status Start();

  // After a batch commits (in the loop), e.g. to wake other work.
  void OnCommitted(std::function<void(uint64_t offset)> fn) { on_committed_ = std::move(fn); }
  void OnSkipped(SkippedFn fn) { on_skipped_ = std::move(fn); }

  // Highest sequence number applied and committed.
  uint64_t offset() const { return offset_; }
  // The upstream head as last seen.
  uint64_t upstream_head() const { return upstream_head_; }
  uint64_t skipped() const { return skipped_; }

 private:
  void MaybeFetch();
  void HandleResponse(absl::StatusOr<asb::v1::Response> response);
  std::string OffsetKey() const;

  zmq::context_t* context_;
  bus::Loop* loop_;
  store::Store* store_;
  ConsumerOptions options_;
  ApplyFn apply_;
  SkippedFn on_skipped_;
  std::function<void(uint64_t)> on_committed_;
  std::unique_ptr<bus::AsyncClient> client_;
  std::unique_ptr<bus::HintSubscriber> hints_;
  uint64_t offset_ = 0;
  uint64_t upstream_head_ = 0;
  uint64_t skipped_ = 0;
  bool in_flight_ = false;
  uint64_t poll_timer_ = 0;
};

}  // namespace asb::stream
