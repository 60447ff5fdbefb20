#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asb/config/v1/daemons.pb.h"
#include "common/config/violations.h"
#include "common/policy/policy.h"
#include "services/daemon/daemon_main.h"
#include "services/sharing/aggregates.h"
#include "services/sharing/case_folder.h"
#include "services/sharing/intelligence_handler.h"
#include "services/sharing/retention.h"
#include "services/sharing/sharing_handler.h"

namespace asb::sharing {

void ValidateSharingConfig(const asb::config::v1::SharingConfig& config, config::Violations* v);

// The default of SharingConfig.backpressure.max_lag (records of sharing's streams: one per
// disclosure, so several per event).
inline constexpr uint64_t kDefaultMaxDownstreamLag = 6000;

// asb-sharing: the policy point, and the only daemon that holds the policy engine and the
// pseudonymisation key. Consumes intake's "events", folds them into cases, writes the redacted view
// of each agency the event alerts to its "disclosures" stream (stamped with the notification rules
// that make it an alert, and with the statutory context of the hub's own events), keeps
// depersonalised counts of them (aggregates), matches victims across cases (VictimIndex: link
// suggestions, repeat victims), and answers partners' GetCase, ListOrders, ListCaseReviews and
// RepeatVictims on behalf of a named officer, hot spots and indicators. It loads the whole ISP
// itself, at start and on the runtime's reload (RuntimeOptions.load_isp): a file it refuses leaves
// the old policy (and the old principals) in force. For the data sharing agreement it deletes
// closed cases once their retention has run (Retention: checked every minute and after each batch
// of events; the "erasures" stream tells asb-intake and asb-notify) and alerts the partnership
// coordinator when the agreement is due for review. Backpressure: it does not fetch intake's events
// while its own consumers lag more than backpressure.max_lag records.
class SharingDaemon : public daemon::Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<SharingDaemon>> Create(
      const asb::config::v1::SharingConfig& config);
  absl::Status Start() override;
  daemon::Runtime& runtime() override { return *runtime_; }

 private:
  SharingDaemon() = default;
  // Loads and compiles the ISP file and, if it is good, puts it in force (load_isp).
  absl::StatusOr<std::string> LoadPolicy(const std::string& isp_file);
  void Handle(const bus::Caller& caller, const asb::v1::Request& request);
  void Explain(const bus::Caller& caller, const asb::v1::ExplainCaseRequest& request);
  void ListOrders(const bus::Caller& caller, const asb::v1::ListOrdersRequest& request);
  // ListCaseReviews and RepeatVictims (SharingHandler): partners on behalf of a named officer,
  // audited.
  void Victims(const bus::Caller& caller, const asb::v1::Request& request);
  // Loads the risk matrix and the case review procedure (at start: an error; on reload: logged,
  // the ones in force stay) and hands them to the folder and the handler.
  absl::Status LoadVictimFiles(const std::vector<std::string>& agencies);
  // Hot spots and indicators (IntelligenceHandler): partners the ISP names, audited.
  void Intelligence(const bus::Caller& caller, const asb::v1::Request& request);
  // Deletes what retention makes due and sends the agreement's review notice (one batch).
  void RunRetention();

  static constexpr int kRetentionCheckSeconds = 60;
  static constexpr std::size_t kRetentionBatch = 500;

  asb::config::v1::SharingConfig config_;
  std::shared_ptr<const policy::Policy> policy_;
  std::shared_ptr<const victims::RiskMatrix> risk_;
  std::shared_ptr<const victims::CaseReviewProcedure> procedure_;
  std::unique_ptr<daemon::Runtime> runtime_;
  std::unique_ptr<CaseFolder> folder_;
  std::unique_ptr<SharingHandler> handler_;
  std::unique_ptr<Aggregates> aggregates_;
  std::unique_ptr<VictimIndex> victim_index_;
  std::unique_ptr<IntelligenceHandler> intelligence_;
  std::unique_ptr<Retention> retention_;
};

daemon::DaemonSpec SharingSpec();

}  // namespace asb::sharing
