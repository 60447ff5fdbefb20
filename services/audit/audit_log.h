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
//               "leaf/" + EncodeSeq(index)                → 32-byte leaf hash
//   "offsets"   the consumers' offsets (common/stream)
// The leaf hashes in "meta" are the input of the Merkle tree / signed tree heads (a later
// issue); keeping them apart lets that code read them without parsing entries.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/store/store.h"

namespace asb::audit {

// Column families asb-audit's Store must open.
std::vector<std::string> AuditColumnFamilies();

// The canonical bytes of an entry: its deterministic protobuf serialisation with leaf_hash
// cleared.
std::string CanonicalEntryBytes(const asb::v1::AuditEntry& entry);
// RFC 9162 leaf hash: SHA-256(0x00 || CanonicalEntryBytes(entry)), 32 raw bytes.
std::string LeafHash(const asb::v1::AuditEntry& entry);

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

  // Reads the committed size. kDataLoss if "meta" and "entries" disagree.
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

 private:
  store::Store* store_;
  std::function<absl::Time()> clock_;
  uint64_t size_ = 0;     // committed
  uint64_t pending_ = 0;  // highest index assigned (>= size_)
};

}  // namespace asb::audit
