#pragma once

// asb-audit's signed tree heads. A head is signed over the committed log only if it is
// consistent (RFC 9162 consistency proof) with the last head signed, which asb-audit keeps in
// its store and, outside it, in a file (AuditConfig.kept_tree_head_file): so a log whose newest
// entries, tree hashes and heads were deleted together is found at start and is never re-signed
// over the gap. Each head is stored (AuditLog's "sth/" keys) and appended to the "tree_heads"
// stream (asb-notify hands the latest to partners with their alerts) in one batch, then kept.
//
// Owned by the daemon; uses the AuditLog, the Store and the signer it is given (they must
// outlive it). Thread-compatible: the daemon's loop thread only.

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
#include "common/auditlog/tree_head.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "services/audit/audit_log.h"

namespace asb::audit {

class TreeHeads {
 public:
  // `kept_file`: where the last head is kept outside the store (JSON, written atomically).
  TreeHeads(AuditLog* log, store::Store* store, const TreeHeadSigner* signer, std::string kept_file,
            std::function<absl::Time()> clock);

  // Each head signed from now on is also appended to `stream` (nullptr: none).
  void SetStream(stream::Log* stream) { stream_ = stream; }

  // Reads the latest stored head and the kept one and checks both against the signing key and
  // the log's tree. What does not fit is damage (AuditLog::AddDamage): a head covering more
  // entries than the log has (truncated), one whose root the stored hashes do not give
  // (rewritten), a kept head newer than every stored one (heads deleted), or a head not signed
  // by this key. The newer of the two heads that fit becomes last(); the kept file is written if
  // the store's is newer (a crash between the two writes, or a first start). Errors only for
  // storage failures.
  absl::Status Load();

  // Signs a head of the committed log if it grew since last(), stores and streams it in one
  // write and keeps it; returns last() (nullopt while the log is empty). kFailedPrecondition
  // while the log is read-only (damage). kDataLoss, logged CRITICAL and added as damage, if the
  // tree is not consistent with last(): nothing is signed over it.
  absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> Issue();

  // The last head signed (or, with damage, the newest one kept, which may cover entries the
  // log no longer has).
  const std::optional<asb::v1::SignedTreeHead>& last() const { return last_; }

  // After AuditLog::Repair: stored heads (and the kept one) that the rebuilt tree does not
  // match — above its size, or with another root — are set aside (kept under
  // "superseded_sth/", no longer served) and returned, oldest first; last() becomes the newest
  // head that still fits (or none) and is kept. With `dry_run` nothing is changed.
  absl::StatusOr<std::vector<asb::v1::SignedTreeHead>> Supersede(bool dry_run);

  // Heads not signed because the log was damaged or inconsistent (a counter).
  uint64_t refused() const { return refused_; }
  const std::string& kept_file() const { return kept_file_; }

 private:
  // Damage unless `sth` is signed by our key and the tree's root at its size is its root.
  // `where` names where the head was found. True if it fits.
  bool Check(const asb::v1::SignedTreeHead& sth, const std::string& where);
  absl::Status Keep(const asb::v1::SignedTreeHead& sth);
  // The kept head; nullopt if there is no file. kDataLoss if it does not parse.
  absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> ReadKept() const;

  AuditLog* log_;
  store::Store* store_;
  const TreeHeadSigner* signer_;
  std::string kept_file_;
  std::function<absl::Time()> clock_;
  stream::Log* stream_ = nullptr;
  std::optional<asb::v1::SignedTreeHead> last_;
  uint64_t refused_ = 0;
};

}  // namespace asb::audit
