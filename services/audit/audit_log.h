#pragma once

// asb-audit's access log: the pure logic (no sockets, no threads). Entries are appended with a
// dense index from 1, each with its RFC 9162 leaf hash, and indexed by case and by agency so
// auditors' queries do not scan the whole log.
//
// Layout in the daemon's Store (column families from AuditColumnFamilies()):
//   "entries"   EncodeSeq(index)                          → AuditEntry
//   "by_case"   case_id + '\0' + EncodeSeq(index)         → ""
//   "by_agency" agency  + '\0' + EncodeSeq(index)         → ""  (actor_agency and
//                                                              recipient_agency, once if equal)
//   "meta"      "size"                                    → EncodeSeq(size)
//               "leaf/" + EncodeSeq(index)                → 32-byte leaf hash (Merkle level 0,
//                                                              leaf index = index - 1)
//               "node/" + level byte + EncodeSeq(i)       → 32-byte hash of the complete
//                                                              subtree (level >= 1, i) covering
//                                                              leaves [i << level, (i+1) << level)
//               "sth/" + EncodeSeq(tree_size)             → SignedTreeHead
//   "offsets"   the consumers' offsets (common/stream)
// The RFC 9162 Merkle tree over the leaf hashes is kept incrementally: each append writes the
// complete subtrees it finishes (in the same batch as the entry), and the right edge (compact
// range) stays in memory, rebuilt from "meta" at Load. So appends cost O(1) amortised hashes,
// and the root of any earlier size and any inclusion or consistency proof cost O(log n) reads.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/crypto/merkle.h"
#include "common/store/store.h"
#include "services/audit/audit_verify.h"

namespace asb::audit {

// Column families asb-audit's Store must open.
std::vector<std::string> AuditColumnFamilies();

// CanonicalEntryBytes() and LeafHash() are in services/audit/audit_verify.h.

// The access log. Owns nothing but in-memory counters; the Store must outlive it.
// Thread-compatible: the daemon's loop thread uses it (appends and queries alike).
class AuditLog {
 public:
  // Query limits: `limit` 0 means kDefaultLimit, capped at kMaxLimit. A query examines at most
  // kMaxScan entries per call; if it stops there, next_after_index says where to continue.
  static constexpr uint32_t kDefaultLimit = 100;
  static constexpr uint32_t kMaxLimit = 10000;
  static constexpr uint64_t kMaxScan = 200000;

  // `clock` stamps records that arrive without `at`.
  AuditLog(store::Store* store, std::function<absl::Time()> clock);

  // Reads the committed size and the tree's right edge (writing the tree's nodes first if the
  // store predates them). kDataLoss if "meta" and "entries" disagree.
  absl::Status Load();

  // Adds entry `size()+1` (plus any appended earlier in the same uncommitted batch) to
  // `batch`, with its indexes and leaf hash, and returns its index. `origin` is
  // "<daemon>/<stream>", `origin_seq` the record's sequence number there. size() moves when the
  // batch commits; if the write fails the index is reused.
  uint64_t Append(const asb::v1::AuditRecord& record, const std::string& origin,
                  uint64_t origin_seq, store::Batch* batch);

  // A Consumer ApplyFn for `upstream`'s "audit" stream: appends envelope.audit() with origin
  // "<upstream>/audit" and origin_seq = envelope.seq (a record without `at` takes the
  // envelope's produced_at). kInvalidArgument for an envelope without an audit payload (the
  // consumer skips it).
  std::function<absl::Status(const asb::v1::Envelope&, store::Batch*)> ApplyFnFor(
      std::string upstream);

  // Runs an auditor's query over committed entries: filters ANDed, oldest first, after
  // request.after_index, at most `limit` entries. Uses the by_case index when case_id is set,
  // else the by_agency index when agency is set, else scans. next_after_index is 0 when there
  // is nothing more. kInvalidArgument if since >= until (both set) or a timestamp is invalid;
  // kUnavailable/kDataLoss for storage errors.
  absl::StatusOr<asb::v1::AuditQueryResponse> Query(
      const asb::v1::AuditQueryRequest& request) const;

  // A short description of a query for the detail of its AUDIT_QUERY record: the filters used,
  // without personal data (the subject key is only said to be present; the caller puts it in
  // the record's subject_keys).
  static std::string DescribeQuery(const asb::v1::AuditQueryRequest& request);

  // Committed entries.
  uint64_t size() const { return size_; }

  // --- Merkle tree (committed entries only). Entry `index` is leaf index - 1. ---

  // The root hash of entries 1..size().
  std::string Root() const { return committed_.Root(); }
  // The root hash of entries 1..tree_size. kOutOfRange if tree_size > size().
  absl::StatusOr<std::string> RootAt(uint64_t tree_size) const;
  // The audit path of entry `index` in the tree of `tree_size` entries. kOutOfRange unless
  // 1 <= index <= tree_size <= size().
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t index, uint64_t tree_size) const;
  // The consistency proof from first to second entries. kOutOfRange unless
  // first <= second <= size().
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t first, uint64_t second) const;
  // Entry `index`. kNotFound if absent, kDataLoss if unparsable.
  absl::StatusOr<asb::v1::AuditEntry> Get(uint64_t index) const;

  // --- Signed tree heads ---

  // Stores `sth` (keyed by its tree size) in `batch`.
  void PutTreeHead(const asb::v1::SignedTreeHead& sth, store::Batch* batch);
  // The stored tree head with the largest tree size; nullopt if none.
  absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> LatestTreeHead() const;
  // The stored tree head of exactly `tree_size`; nullopt if none.
  absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> TreeHeadAt(uint64_t tree_size) const;
  // Stored tree heads with tree_size > after_size, oldest first, at most `limit`; *more is set
  // if there are further ones.
  absl::StatusOr<std::vector<asb::v1::SignedTreeHead>> TreeHeads(uint64_t after_size,
                                                                 uint32_t limit, bool* more) const;

 private:
  // Reads complete subtree (level, index) from "meta".
  absl::StatusOr<std::string> ReadNode(int level, uint64_t index) const;
  crypto::merkle::NodeReader Reader() const;
  // Writes the tree's nodes for a store whose entries predate them.
  absl::Status RebuildTree(uint64_t size);

  store::Store* store_;
  std::function<absl::Time()> clock_;
  uint64_t size_ = 0;                           // committed
  uint64_t pending_ = 0;                        // highest index assigned (>= size_)
  crypto::merkle::CompactRange committed_;      // right edge of entries 1..size_
  crypto::merkle::CompactRange pending_range_;  // right edge of entries 1..pending_
};

}  // namespace asb::audit
