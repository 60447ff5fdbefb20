#pragma once

// asb-audit's access log: the pure logic (no sockets, no threads). Entries are appended with a
// dense index from 1, each with its RFC 9162 leaf hash, and indexed by case, by agency and by
// subject so auditors' queries do not scan the whole log. Expired entries are deleted whole
// (Expire) and a person's data can be erased (Erase) without breaking verification: the tree's
// hashes stay.
//
// Layout in the daemon's Store (AuditStoreLayout()):
//   "entries"   EncodeSeq(index)                          → AuditEntry
//   "by_case"   case_id + '\0' + EncodeSeq(index)         → ""
//   "by_agency" agency  + '\0' + EncodeSeq(index)         → ""  (actor_agency and
//                                                              recipient_agency, once if equal)
//   "by_subject" subject_key + '\0' + EncodeSeq(index)    → ""  (each subject key once)
//   "by_officer" officer_id + '\0' + EncodeSeq(index)     → ""  (on_behalf_of.officer_id)
//   "meta"      "leaf/" + EncodeSeq(index)                → 32-byte leaf hash (Merkle level 0,
//                                                              leaf index = index - 1); the
//                                                              last one's index is the size
//               "node/" + level byte + EncodeSeq(i)       → 32-byte hash of the complete
//                                                              subtree (level >= 1, i) covering
//                                                              leaves [i << level, (i+1) << level)
//               "sth/" + EncodeSeq(tree_size)             → SignedTreeHead
//               "superseded_sth/" + EncodeSeq(tree_size)  → SignedTreeHead set aside by a repair
//               "expired_through"                         → EncodeSeq(k): entries 1..k expired
//               "deleted_through"                         → EncodeSeq(j): entries 1..j deleted
//                                                              (j < k while a deletion resumes)
//               "index/by_subject"                        → "" once by_subject covers the log
//               "tblock/" + EncodeSeq(b)                  → EncodeSeq(min) EncodeSeq(max): the
//                                                              span of record times (µs) of
//                                                              entries b*kTimeBlock+1 ..
//                                                              (b+1)*kTimeBlock, written with
//                                                              the block's last entry
//   "offsets"   the consumers' offsets (common/stream)
// The RFC 9162 Merkle tree over the leaf hashes is kept incrementally: each append writes the
// complete subtrees it finishes (in the same batch as the entry), and the right edge (compact
// range) stays in memory, rebuilt from "meta" at Load. So appends cost O(1) amortised hashes,
// and the root of any earlier size and any inclusion or consistency proof cost O(log n) reads.
//
// Retention: entries 1..k are deleted (with their index keys) where k is the size of a signed
// tree head issued before the cutoff; that tree head (the anchor) and every leaf and node hash
// are kept, so proofs for the rest still work and a verifier starts from the anchor's compact
// range (Frontier(k)), whose root the anchor signs. Other tree heads below k are deleted. An
// EXPIRY entry records each run. Erasure: an entry's record loses the erased person's
// identifiers and gets erased_by; its leaf hash stays (the signed roots still commit to the
// original); an ERASURE entry lists the entries, in the same batch.
//
// The code: audit_log.cc (Load, Append with the tree's and the indexes' upkeep, the tree's
// roots and proofs, the stored tree heads), audit_log_query.cc (Query, Get, DescribeQuery),
// audit_log_retention.cc (Expire, Erase); the Store's keys in internal/log_store.h.

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
#include "common/auditlog/entry.h"
#include "common/auditlog/tree_head.h"
#include "common/crypto/merkle.h"
#include "common/store/store.h"

namespace asb::audit {

// The layout of asb-audit's Store (set path and sync): the column families it opens; as
// appended families those whose keys end in a rising sequence number under few prefixes
// (entries, the tree's hashes, the index by agency); 4 MiB memtables for the indexes written at
// random places (by case, by subject). At rest, the tree ("meta": hashes, sizes, signatures) and
// the indexes (keys of case ids, agency ids and pseudonymous subject keys; empty values) stay
// plaintext; entries name no person and must outlive a case, so they are sealed under the
// master key (no subject).
store::StoreOptions AuditStoreLayout();

// The entries' bytes (CanonicalEntryBytes, LeafHash, EncodeEntry, the stored pages Query gives)
// are in common/auditlog/entry.h.

// The access log. Owns nothing but in-memory counters; the Store must outlive it.
// Thread-compatible: the daemon's loop thread uses it (appends and queries alike).
class AuditLog {
 public:
  // Query limits: `limit` 0 means kDefaultLimit, capped at kMaxLimit. A query examines at most
  // kMaxScan entries per call; if it stops there, next_after_index says where to continue.
  static constexpr uint32_t kDefaultLimit = 100;
  static constexpr uint32_t kMaxLimit = 10000;
  static constexpr uint64_t kMaxScan = 200000;
  // Entries per time block: a query with since/until skips every complete block whose span of
  // record times lies outside the range (a block-range index: exact however disordered the
  // times are, since it keeps each block's minimum and maximum).
  static constexpr uint64_t kTimeBlock = 4096;

  // `clock` stamps records that arrive without `at`.
  AuditLog(store::Store* store, std::function<absl::Time()> clock);

  // Reads the committed size and the tree's right edge. What does not fit — the last entry and
  // the last leaf hash disagree, or a hash of the tree is missing — is damage (damage()): the
  // log loads for reading and stays read-only; nothing is rebuilt (Repair does that, when an
  // admin asks). An entry that cannot be read is not damage here: queries and verifiers name it
  // (AuditEntry.damage). Errors only for storage failures.
  absl::Status Load();

  // --- Damage found at start (or by the tree heads' checks: AddDamage) ---

  // What Load (and AddDamage) found wrong with the tree, oldest entry first. While any is
  // listed the log is read-only: the daemon appends nothing, consumes nothing and signs no tree
  // head until an admin's Repair.
  const std::vector<asb::v1::AuditDamage>& damage() const { return damage_; }
  void AddDamage(asb::v1::AuditDamage damage);
  // Damage listed, or the tree's edge could not be read back after a failed write.
  bool read_only() const { return !damage_.empty() || !broken_.ok(); }

  // What Repair would do: the damage it answers, the tree size after it, and which entries'
  // missing leaf hashes it recomputes from their stored bytes. kFailedPrecondition naming the
  // entries where an entry and its leaf hash are both gone below the last leaf (a hole no
  // rebuild can close).
  struct RepairPlan {
    std::vector<asb::v1::AuditDamage> damage;
    uint64_t tree_size = 0;
    uint64_t recompute_first = 0;  // 0: none
    uint64_t recompute_last = 0;
  };
  absl::StatusOr<RepairPlan> PlanRepair() const;
  // Carries out `plan`: writes the missing leaf hashes, every node of the tree anew, and clears
  // the damage (the caller records the REPAIR entry and deals with the tree heads).
  absl::Status Repair(const RepairPlan& plan);

  // Adds the next entry (after size() and every entry of batches written but not yet
  // committed, e.g. by Store::WriteDeferred) to `batch`, with its indexes and leaf hash, and
  // returns its index. `origin` is "<daemon>/<stream>", `origin_seq` the record's sequence
  // number there. size() and the committed tree move when the batch commits, in commit order;
  // if the write fails (or the batch is dropped) its indices are reused, and those of batches
  // written before it stay taken.
  uint64_t Append(const asb::v1::AuditRecord& record, const std::string& origin,
                  uint64_t origin_seq, store::Batch* batch);

  // A Consumer ApplyFn for `upstream`'s "audit" stream: appends envelope.audit() with origin
  // "<upstream>/audit" and origin_seq = envelope.seq (a record without `at` takes the
  // envelope's produced_at). kInvalidArgument for an envelope without an audit payload (the
  // consumer skips it).
  std::function<absl::Status(const asb::v1::Envelope&, store::Batch*)> ApplyFnFor(
      std::string upstream);

  // Runs an auditor's query over committed, unexpired entries: filters ANDed, oldest first,
  // after request.after_index, at most `limit` entries. Uses the by_case index when case_id is
  // set, else by_subject when subject_key is set, else by_officer when officer_id is set, else
  // by_agency when agency is set, else
  // scans (at most kMaxScan entries per call); with since/until, blocks of kTimeBlock entries
  // whose times lie outside the range are skipped. next_after_index is 0 when there
  // is nothing more. kInvalidArgument if since >= until (both set) or a timestamp is invalid;
  // kUnavailable/kDataLoss for storage errors.
  absl::StatusOr<asb::v1::AuditQueryResponse> Query(
      const asb::v1::AuditQueryRequest& request) const;

  // True for a query that walks the log in order with no filter: only after_index and limit,
  // and stored (a verifier's pages).
  static bool IsStoredWalk(const asb::v1::AuditQueryRequest& request);

  // A short description of a query for the detail of its AUDIT_QUERY record: the filters used,
  // without personal data (the subject key is only said to be present; the caller puts it in
  // the record's subject_keys).
  static std::string DescribeQuery(const asb::v1::AuditQueryRequest& request);

  // Committed entries.
  uint64_t size() const { return size_; }

  // --- Merkle tree (committed entries only). Entry `index` is leaf index - 1. ---

  // The root hash of entries 1..size() ("" if the tree's hashes cannot be read: RootAt says
  // why).
  std::string Root() const;
  // The root hash of entries 1..tree_size. kOutOfRange if tree_size > size().
  absl::StatusOr<std::string> RootAt(uint64_t tree_size) const;
  // The audit path of entry `index` in the tree of `tree_size` entries. kOutOfRange unless
  // 1 <= index <= tree_size <= size().
  absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t index, uint64_t tree_size) const;
  // The consistency proof from first to second entries. kOutOfRange unless
  // first <= second <= size().
  absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t first, uint64_t second) const;
  // Entry `index`. kNotFound if absent (or expired), kDataLoss if unparsable.
  absl::StatusOr<asb::v1::AuditEntry> Get(uint64_t index) const;
  // The compact range of entries 1..tree_size: the roots of its complete subtrees, largest
  // first (one per set bit of tree_size). kOutOfRange unless 1 <= tree_size <= size().
  absl::StatusOr<std::vector<std::string>> Frontier(uint64_t tree_size) const;

  // True if the stored tree of size() is the tree of the leaf hashes: the compact range of the
  // first `m` entries (from the stored nodes) extended with the stored leaf hashes m+1..size()
  // gives Root(). Reads size() - m leaf hashes (a start checks the entries since the last
  // signed head, whose own root it checks apart).
  absl::StatusOr<bool> TreeMatchesLeavesAfter(uint64_t m) const;

  // --- Retention and erasure ---

  // Entries 1..expired_through() are expired (deleted, or being deleted); 0 if none.
  uint64_t expired_through() const { return expired_through_; }

  // Deletes, whole, entries 1..k where k is the size of the newest stored signed tree head
  // issued before `cutoff` (if k > expired_through()): first appends an EXPIRY entry naming k
  // and `retention_days` and records k, then deletes the entries, their index keys and the
  // tree heads below k in batches of kExpireChunk (a crash part-way resumes at Load). Keeps
  // the anchor tree head and every tree hash. Returns k, or 0 if nothing expired.
  // REQUIRES: no uncommitted batch holds appends.
  absl::StatusOr<uint64_t> Expire(absl::Time cutoff, uint32_t retention_days);
  static constexpr uint64_t kExpireChunk = 10000;

  // Erases a person's or a case's identifiers (and the officers' free-text reasons, which may
  // name them) from the entries that match `request` (see AuditEraseRequest), at most kMaxErase per
  // call (response.more if there are further ones), and appends the ERASURE entry listing them with
  // `who`'s actor and actor_agency — all in `batch`. A dry run only lists them. kInvalidArgument
  // without a reference or without subject_key and case_id.
  absl::StatusOr<asb::v1::AuditEraseResponse> Erase(const asb::v1::AuditEraseRequest& request,
                                                    const asb::v1::AuditRecord& who,
                                                    store::Batch* batch);
  static constexpr uint32_t kMaxErase = 100000;

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
  // The sizes of every stored tree head, ascending (a repair's search).
  absl::StatusOr<std::vector<uint64_t>> TreeHeadSizes() const;
  // Moves `sth` from the served tree heads to "superseded_sth/" in `batch` (a repair sets aside
  // the heads its rebuilt tree does not match; they stay readable with ldb, never served).
  void SupersedeTreeHead(const asb::v1::SignedTreeHead& sth, store::Batch* batch);

 private:
  // Reads complete subtree (level, index) from "meta".
  absl::StatusOr<std::string> ReadNode(int level, uint64_t index) const;
  crypto::merkle::NodeReader Reader() const;
  // Writes every node of the tree of `size` leaves anew (Repair).
  absl::Status RebuildTree(uint64_t size);
  // Writes the by_subject index for a store whose entries predate it.
  absl::Status BuildSubjectIndex();
  // Deletes entries deleted_through_+1..expired_through_ in chunks.
  absl::Status DeleteExpired();
  // Recomputes the open time block's span from its stored entries (Load, failed batch).
  absl::Status LoadTimeBlock();

  store::Store* store_;
  std::function<absl::Time()> clock_;
  std::vector<asb::v1::AuditDamage> damage_;
  absl::Status broken_;           // the tree's edge could not be read back (RollBackTo)
  uint64_t size_ = 0;             // committed
  uint64_t pending_ = 0;          // highest index assigned (>= size_)
  uint64_t expired_through_ = 0;  // entries 1..this are expired
  uint64_t deleted_through_ = 0;  // entries 1..this are deleted
  // Span of record times (µs) of the open time block's entries up to pending_.
  uint64_t block_min_ = 0;
  uint64_t block_max_ = 0;
  // The right edge of entries 1..n, from what is in memory or else from the stored nodes.
  absl::StatusOr<AuditRange> RangeAt(uint64_t n) const;
  // Entries after n are no longer pending (their batch failed or was dropped).
  void RollBackTo(uint64_t n);

  // Right edge of entries 1..size_ once refreshed: a batch that commits while a later one is
  // already written (pipelined group commit) moves size_ but not this; RangeAt reads it anew.
  mutable AuditRange committed_;
  AuditRange pending_range_;  // right edge of entries 1..pending_
};

}  // namespace asb::audit
