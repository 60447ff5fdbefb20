#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "asb/config/v1/daemons.pb.h"
#include "common/auditlog/tree_head.h"
#include "common/config/violations.h"
#include "services/audit/audit_log.h"
#include "services/audit/tree_heads.h"
#include "services/daemon/daemon_main.h"

namespace asb::audit {

// The stream of signed tree heads asb-audit serves (asb-notify consumes it).
inline constexpr char kTreeHeadsStream[] = "tree_heads";

void ValidateAuditConfig(const asb::config::v1::AuditConfig& config, config::Violations* v);

// The signing key file when AuditConfig.signing_key_file is empty.
std::string SigningKeyPath(const asb::config::v1::AuditConfig& config);
// Where the last signed tree head is kept (AuditConfig.kept_tree_head_file, or its default).
std::string KeptTreeHeadPath(const asb::config::v1::AuditConfig& config);

// asb-audit: the access log. Consumes the "audit" streams of intake, sharing and notify into a
// tamper-evident log, records its own refusals and auditors' queries there, answers auditors'
// queries, and signs tree heads (every tree_head_interval_seconds while the log grows, and on
// demand) with inclusion and consistency proofs against them. Every answer carries the latest
// signed tree head (Response.tree_head), and each head is served on the "tree_heads" stream.
// Tree heads and consistency proofs are public (any principal may ask); everything else is for
// auditors (erasure and repair: admins). With damage found at start (AuditLog::damage) it
// serves what it has and appends, consumes and signs nothing until an admin's repair.
class AuditDaemon : public daemon::Daemon {
 public:
  // Tree heads are signed every AuditConfig.tree_head_interval_seconds, by default this.
  static constexpr std::chrono::seconds kDefaultTreeHeadInterval{10};
  // How often retention (AuditConfig.retention_days) is checked; it deletes at most once a day.
  static constexpr std::chrono::milliseconds kRetentionInterval{3600 * 1000};

  static absl::StatusOr<std::unique_ptr<AuditDaemon>> Create(
      const asb::config::v1::AuditConfig& config);
  absl::Status Start() override;
  daemon::Runtime& runtime() override { return *runtime_; }

 private:
  AuditDaemon() = default;
  void Handle(const bus::Caller& caller, const asb::v1::Request& request);
  void HandleQuery(const bus::Caller& caller, const asb::v1::AuditQueryRequest& query);
  // The answer to `query`: the page read ahead for exactly it if there is one, else a query.
  absl::StatusOr<asb::v1::AuditQueryResponse> Answer(const asb::v1::AuditQueryRequest& query);
  // After replying to a stored walk (a verifier's page) whose next page starts after
  // `next_after` (0: none), reads that page at once, so that reading it overlaps sending this
  // one (libzmq's I/O thread) and the verifier's hashing. One page is kept; an erasure or expiry
  // (which rewrite entries) drops it.
  void ReadAhead(const asb::v1::AuditQueryRequest& query, uint64_t next_after);
  void HandleTreeHead(const bus::Caller& caller, const asb::v1::AuditTreeHeadRequest& request);
  void HandleInclusion(const bus::Caller& caller,
                       const asb::v1::AuditInclusionProofRequest& request);
  void HandleConsistency(const bus::Caller& caller,
                         const asb::v1::AuditConsistencyProofRequest& request);
  void HandleErase(const bus::Caller& caller, const asb::v1::AuditEraseRequest& request);
  void HandleRepair(const bus::Caller& caller, const asb::v1::AuditRepairRequest& request);
  // Replies with the latest signed tree head added.
  void Reply(const bus::Caller& caller, asb::v1::Response response);
  void ReplyError(const bus::Caller& caller, const absl::Status& status);
  // Starts consuming the upstreams' audit streams (once; not while the log is damaged).
  absl::Status StartConsumers();
  // Applies AuditConfig.retention_days (logs, never fails the daemon).
  void RunRetention();
  // Signs a tree head of the committed log if it grew (TreeHeads::Issue); returns the latest.
  absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> IssueTreeHead();
  // The access log's size on disk, signed tree head age, unsigned entries (/metrics).
  void RegisterMetrics();

  asb::config::v1::AuditConfig config_;
  std::unique_ptr<daemon::Runtime> runtime_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<TreeHeadSigner> signer_;
  std::unique_ptr<TreeHeads> heads_;
  bool consuming_ = false;
  uint64_t unrecorded_ = 0;  // own records not appended while the log is damaged (counter)
  // The page read ahead and the request it answers.
  std::optional<std::pair<asb::v1::AuditQueryRequest, asb::v1::AuditQueryResponse>> read_ahead_;
  uint64_t pages_read_ahead_ = 0;  // answers served from read_ahead_ (counter)
};

daemon::DaemonSpec AuditSpec();

}  // namespace asb::audit
