#pragma once

// asb-notify's copy of the access log's latest signed tree head, learnt from asb-audit's
// "tree_heads" stream by the one stream pattern (a Consumer; the head and the offset commit in
// one batch) — never by reading asb-audit's database — and handed to partners with every alert
// pull (Response.tree_head), so partner systems keep witnesses of the log.
//
// Layout: "tree_heads" (plaintext: hashes and sizes) "latest" → SignedTreeHead.
// Thread-compatible: the daemon's loop.

#include <optional>

#include "absl/status/status.h"
#include "asb/v1/audit.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/store/store.h"

namespace asb::notify {

// The column family the relay keeps its head in (NotifyStoreLayout lists it, in plaintext).
inline constexpr char kTreeHeadsColumnFamily[] = "tree_heads";
// The stream of asb-audit it consumes.
inline constexpr char kAuditTreeHeadsStream[] = "tree_heads";

class TreeHeadRelay {
 public:
  explicit TreeHeadRelay(store::Store* store) : store_(store) {}

  // Reads the head kept by an earlier run. kDataLoss if it does not parse.
  absl::Status Load();

  // A Consumer ApplyFn: keeps envelope.tree_head() if it is larger than the latest (a head
  // stream only grows; an older one is ignored). kInvalidArgument for an envelope without one.
  absl::Status Apply(const asb::v1::Envelope& envelope, store::Batch* batch);

  // The latest head committed; nullopt before the first.
  const std::optional<asb::v1::SignedTreeHead>& latest() const { return latest_; }

 private:
  store::Store* store_;
  std::optional<asb::v1::SignedTreeHead> latest_;
  uint64_t pending_size_ = 0;  // largest head put in a batch not yet committed
};

}  // namespace asb::notify
