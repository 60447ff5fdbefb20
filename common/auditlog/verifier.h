#pragma once

// Checking the access log from outside: a streaming verifier that re-derives the Merkle tree
// from entries, in index order, and compares it with signed tree heads, naming the first entry
// that does not fit; FeedEntries, which pages entries into it; and VerifyLog, which checks a
// whole log or a range against a signed head, trusting nothing the log's source says.
// Includes entry.h and tree_head.h, whose functions a verifier's caller uses with it.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"
#include "common/auditlog/entry.h"
#include "common/auditlog/tree_head.h"

namespace asb::audit {

// Re-derives the log from its entries, in index order, and checks it against signed tree
// heads. Feed every entry from index 1 (or from StartAt's size + 1) with Add() or AddStored();
// the first problem is kept (first_bad() names the entry) and later calls are ignored — unless
// KeepGoing() was called: then every damaged stretch is listed (damaged()) and the rest is
// still checked. Not thread-safe.
//
// Erased entries (erased_by set) are not re-hashed: their stored leaf hash stands in for the
// erased contents (the signed roots still commit to it), and the ERASURE entry they name must
// come later in the log and list them — otherwise the entry counts as altered. Expired entries
// (ExpectExpiry) are accounted for by asb-audit's EXPIRY entry.
class LogVerifier {
 public:
  // `checkpoints`: signed tree heads (signatures already verified) to compare with as the
  // entries pass their sizes; any order. `keep_leaves` keeps every leaf hash (32 bytes per
  // entry) for LocateWithConsistencyProofs.
  explicit LogVerifier(std::vector<asb::v1::SignedTreeHead> checkpoints, bool keep_leaves = false);

  // Starts after the first `size` entries, from their compact range, without feeding them.
  // If a checkpoint of exactly `size` exists, the range's root must match it (kDataLoss
  // otherwise, first_bad() 0: the hub's hashes, not an entry, are wrong); checkpoints below
  // are skipped. Without one, the caller must check the range (e.g. with a consistency proof).
  // REQUIRES: nothing added yet.
  absl::Status StartAt(uint64_t size, const std::vector<std::string>& frontier);

  // With keep_leaves: room for the leaf hashes of `entries` more entries, allocated once.
  void ReserveLeaves(uint64_t entries);

  // Goes on past damage instead of stopping at it: an entry that was altered, or that the
  // source could not read (AuditEntry.damage), is listed and its stored leaf hash stands in for
  // it, so what follows still verifies against the signed heads; where no leaf hash is known
  // (or a signed head does not match), the tree is picked up again at the next signed head
  // from `frontier(size)` — the source's compact range, used only if its root is that head's.
  // status() and first_bad() still name the first problem; Add and AddStored return OK for the
  // problems they list. REQUIRES: nothing added yet.
  using FrontierFn = std::function<absl::StatusOr<std::vector<std::string>>(uint64_t size)>;
  void KeepGoing(FrontierFn frontier);
  // With KeepGoing: every damaged stretch found, in order (consecutive entries merged).
  const std::vector<asb::v1::AuditDamage>& damaged() const { return damaged_; }

  // Entries 1..k were deleted under retention: Finish() wants asb-audit's EXPIRY entry saying
  // so among the entries fed.
  void ExpectExpiry(uint64_t k) { expected_expiry_ = k; }

  // Checks one more entry: its index must be the next one (a gap is a deleted entry, a lower or
  // repeated index a reordered one), its stored leaf_hash must match its contents (unless it
  // is erased), and the tree after it must match any checkpoint of that size. Returns the
  // first problem (kDataLoss, naming the entry) — also on later calls.
  absl::Status Add(const asb::v1::AuditEntry& entry);

  // Add() for an entry as the log stores it (one of AuditQueryResponse.stored_page). Bytes of the
  // shape asb-audit writes (EncodeEntry: index, record, origin, origin_seq, leaf_hash, nothing
  // after) are hashed as they are, without parsing: any byte other than those asb-audit wrote
  // fails, even a re-encoding that Add() would accept after re-serialising. Other shapes (erased
  // entries, asb-audit's own records, unknown fields, fields out of order) are parsed and given
  // to Add().
  absl::Status AddStored(std::string_view bytes);

  // Call after the last entry. Whole log (`partial` false): every checkpoint must have been
  // reached, every erased entry's ERASURE entry seen, and an expected expiry recorded
  // (kDataLoss naming the entry otherwise). A range (`partial`): checkpoints beyond it and
  // erasure or expiry entries after it are not required; see unconfirmed_erasures().
  absl::Status Finish(bool partial = false);

  // With keep_leaves, after a mismatch with the signed root `sth`: finds the first entry
  // whose leaf does not fit it, by binary search over prefixes (StartAt's size .. the entries
  // fed, capped at sth.tree_size()), each checked with a consistency proof from
  // `proof_for(m, sth.tree_size())` (e.g. asked of the hub; its stored hashes need not be
  // trusted: a proof only verifies if it matches the signed root). Returns the 1-based index,
  // or 0 if it cannot tell (proofs unavailable or inconsistent, or every prefix fits).
  uint64_t LocateWithConsistencyProofs(
      const asb::v1::SignedTreeHead& sth,
      const std::function<absl::StatusOr<std::vector<std::string>>(uint64_t, uint64_t)>& proof_for)
      const;

  const absl::Status& status() const { return status_; }
  // 1-based index of the first entry that does not verify (0 while all is well, or when the
  // problem is not one entry's).
  uint64_t first_bad() const { return first_bad_; }
  // Entries accounted for so far (those before StartAt included).
  uint64_t size() const { return position_; }
  // StartAt's size (0 if not called).
  uint64_t start() const { return start_; }
  // True if StartAt's range matched a signed tree head.
  bool anchored() const { return anchored_; }
  std::string Root() const { return range_.Root(); }
  // The largest checkpoint size that matched.
  uint64_t last_good_size() const { return last_good_size_; }
  // (entry, erasure entry) of every erased entry fed, in order.
  const std::vector<std::pair<uint64_t, uint64_t>>& erased() const { return erased_; }
  // Erased entries whose ERASURE entry was not among those fed: (erasure entry, entry).
  const std::vector<std::pair<uint64_t, uint64_t>>& unconfirmed_erasures() const {
    return pending_erasures_;
  }
  // The EXPIRY entry that accounts for ExpectExpiry's entries (0: none seen).
  uint64_t expiry_record() const { return expiry_record_; }

 private:
  // Kept leaf hash of the entry at leaf index i (entry i + 1).
  std::string KeptLeaf(uint64_t i) const;
  // The entry after the last one, with leaf hash `leaf` (checked), joins the tree; the tree
  // must match any checkpoint of its new size.
  absl::Status Accept(std::string leaf);
  absl::Status Altered(uint64_t index);
  // `entry` (verified, asb-audit's own) records an erasure or expiry: settle the claims of the
  // erased entries that name it.
  absl::Status Confirm(const asb::v1::AuditEntry& entry);
  absl::Status Fail(uint64_t index, std::string message);
  // KeepGoing: entries first..last are damaged (listed, merged with the stretch before).
  void ListDamage(uint64_t first, uint64_t last, const std::string& what,
                  const std::string& case_id);
  // KeepGoing: entry `index` cannot be placed in the tree (no leaf hash for it): the tree is
  // lost until the next signed head (see KeepGoing).
  void Lose(uint64_t index);
  // KeepGoing, lost: the entry of index position_ was passed; picks the tree up again there if
  // it is the size of a signed head whose root the source's compact range gives.
  void MaybeResync();
  // A damaged entry in keep-going mode: listed, and its stored `leaf` stands in (or the tree is
  // lost when `leaf` is not a hash). Returns OK.
  absl::Status StandIn(uint64_t index, const std::string& leaf, const std::string& what,
                       const std::string& case_id);

  std::vector<asb::v1::SignedTreeHead> checkpoints_;
  bool keep_leaves_;
  std::size_t next_checkpoint_ = 0;
  uint64_t last_good_size_ = 0;
  uint64_t start_ = 0;
  bool anchored_ = false;
  uint64_t expected_expiry_ = 0;
  uint64_t expiry_record_ = 0;
  AuditRange range_;
  AuditRange start_range_;
  // The leaf hashes of entries start_ + 1.., 32 bytes each, back to back (one allocation, not
  // one per entry: 10M entries take 320 MB).
  std::string leaves_;
  std::vector<std::pair<uint64_t, uint64_t>> erased_;
  std::vector<std::pair<uint64_t, uint64_t>> pending_erasures_;
  absl::Status status_;
  uint64_t first_bad_ = 0;
  // The last index fed (range_.size() while the tree is followed).
  uint64_t position_ = 0;
  // KeepGoing.
  FrontierFn frontier_;
  std::vector<asb::v1::AuditDamage> damaged_;
  uint64_t lost_from_ = 0;  // the tree is lost from this entry on (0: followed)
};

// Feeds entries verifier->size()+1..tree_size to `verifier`, fetching unfiltered query pages
// with `fetch(after_index)` (AuditQueryRequest{after_index, stored}; a page may hold entries or
// a stored_page), then calls Finish(partial). While the verifier hashes one page the next is
// fetched on another thread (the server reads while the client hashes). Returns the verifier's
// first problem, or the fetch error.
absl::Status FeedEntries(
    uint64_t tree_size,
    const std::function<absl::StatusOr<asb::v1::AuditQueryResponse>(uint64_t after_index)>& fetch,
    LogVerifier* verifier, bool partial = false);

// What VerifyLog reads the log through: the hub (asbctl) or a log in process (tests).
struct LogSource {
  // An unfiltered page of entries after `after_index`.
  std::function<absl::StatusOr<asb::v1::AuditQueryResponse>(uint64_t after_index)> fetch;
  // A consistency proof from m to n entries.
  std::function<absl::StatusOr<std::vector<std::string>>(uint64_t m, uint64_t n)> consistency;
  // The compact range of the first `size` entries.
  std::function<absl::StatusOr<std::vector<std::string>>(uint64_t size)> frontier;
};

// What to verify.
struct VerifyRange {
  // First entry to check (1: from the start; raised past expired entries).
  uint64_t from = 1;
  // Last entry (0: the head's tree size).
  uint64_t to = 0;
  // Entries 1..expired_through were deleted under retention (AuditTreeHeadResponse).
  uint64_t expired_through = 0;
};

// The outcome of VerifyLog.
struct VerifyReport {
  // OK, kDataLoss (the log does not verify: first_bad names the entry when one is to blame),
  // or the error that stopped the check.
  absl::Status status;
  uint64_t first_bad = 0;
  // The entries checked: first..last.
  uint64_t first = 0;
  uint64_t last = 0;
  // Signed tree heads matched along the way (the head included when reached).
  uint64_t last_good_size = 0;
  // Every damaged stretch of the range (the verification goes on past each one), in order.
  std::vector<asb::v1::AuditDamage> damaged;
  // (entry, erasure entry) of every erased entry in the range.
  std::vector<std::pair<uint64_t, uint64_t>> erased;
  // Erased entries whose erasure entry lies after the range (not checked): (erasure, entry).
  std::vector<std::pair<uint64_t, uint64_t>> unconfirmed_erasures;
  // Entries 1..expired_through were deleted under retention, as EXPIRY entry expiry_record
  // (0 if outside the range) records.
  uint64_t expired_through = 0;
  uint64_t expiry_record = 0;
};

// Verifies entries range.from..range.to of the log against `head` (whose signature and those
// of `history`, earlier signed tree heads, the caller has verified): every entry's leaf hash,
// order, erasures and expiry, and the Merkle root — directly where the range ends at a signed
// tree head, else by a consistency proof to `head`. Entries before the range (or expired)
// enter as a compact range that must match a signed tree head of that size or `head` through
// a consistency proof, so nothing the source says is trusted. On a root mismatch the first bad
// entry is located with consistency proofs. Damage does not stop it: every damaged stretch is
// listed (LogVerifier::KeepGoing) and the rest is checked.
VerifyReport VerifyLog(const asb::v1::SignedTreeHead& head,
                       std::vector<asb::v1::SignedTreeHead> history, const VerifyRange& range,
                       const LogSource& source);

}  // namespace asb::audit
