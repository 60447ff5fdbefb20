#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "asb/config/v1/daemons.pb.h"
#include "common/clock/clock.h"
#include "common/clock/timer_service.h"
#include "common/config/violations.h"
#include "services/daemon/daemon_main.h"
#include "services/intake/intake_handler.h"

namespace asb::intake {

// Checks an IntakeConfig; every violation is reported with its path.
void ValidateIntakeConfig(const asb::config::v1::IntakeConfig& config, config::Violations* v);

// asb-intake: the edge for feeds. Serves Submit (feeds only) and its "events" and "audit"
// streams. Group commit: every Submit waiting on the socket when the loop wakes is collected,
// then all of them are written in ONE batch (one fsync) when the drain ends, and only then is
// each answered (a failed write answers each with kUnavailable and acknowledges nothing).
// Before writing it checks the free space on the store's file system: below
// store.min_free_mb every submission of the group is refused with kUnavailable naming the cause,
// so RocksDB never meets a full disk; it accepts again by itself once space returns.
//
// Backpressure: while the slowest configured consumer of its streams lags more than
// backpressure.max_lag records (stream::StreamServer::Slowest), every submission is refused at
// once, whole, with kUnavailable saying how far the pipeline is behind and to retry (nothing is
// stored or audited; metric backpressure_refusals); it accepts again as soon as a fetch shows the
// lag within the bound.
//
// It also keeps the hub's clock: the statutory rules table (statutory_rules_file, loaded at start
// and on SIGHUP with the ISP; a file that fails keeps the rules in force) and a clock::
// TimerService that fires the orders' durable timers in the loop (IntakeHandler::FireTimer).
class IntakeDaemon : public daemon::Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<IntakeDaemon>> Create(
      const asb::config::v1::IntakeConfig& config);
  absl::Status Start() override;
  daemon::Runtime& runtime() override { return *runtime_; }

 private:
  IntakeDaemon() = default;
  // Loads the ISP's agencies and the statutory rules (RuntimeOptions.load_isp): at start a bad
  // rules file stops the daemon; on reload it is refused and the rules in force stay.
  absl::StatusOr<std::string> LoadIspPart(const std::string& isp_file);
  void Handle(const bus::Caller& caller, const asb::v1::Request& request);
  // Writes the collected submissions as one group and answers each.
  void Flush();
  // Counts the outcome of each event of one answered submission (metrics: accepted, duplicate,
  // refused by reason). `result` is the submission's answer.
  void Count(const asb::v1::SubmitRequest& request,
             const absl::StatusOr<asb::v1::SubmitResponse>& result);

  struct PendingSubmit {
    bus::Caller caller;
    asb::v1::SubmitRequest request;
  };

  asb::config::v1::IntakeConfig config_;
  std::unique_ptr<clock::SystemClock> clock_;
  std::unique_ptr<daemon::Runtime> runtime_;
  std::unique_ptr<IntakeHandler> handler_;
  std::unique_ptr<clock::TimerService> timer_service_;
  // Loaded before the handler exists (load_isp runs inside Runtime::Create).
  std::shared_ptr<const orders::StatutoryRules> rules_;
  std::vector<std::string> agencies_;
  // The ASB case review procedure (case_review_file) and the risk matrix (risk_matrix_file),
  // reloaded with the ISP like the rules: a bad file keeps the one in force.
  std::shared_ptr<const victims::CaseReviewProcedure> procedure_;
  std::shared_ptr<const victims::RiskMatrix> risk_;
  // Loads both (at start: an error; on reload: logged, the ones in force stay).
  absl::Status LoadVictimFiles(const std::vector<std::string>& agencies);
  std::vector<PendingSubmit> pending_;
  std::size_t pending_events_ = 0;
  // StoreConfig.min_free_mb in bytes: below this free, submissions are refused unwritten.
  uint64_t min_free_bytes_ = 0;
  bool short_of_space_ = false;  // logged once per episode
  // The refusal of a submission while the pipeline lags more than the bound, else OK.
  absl::Status Backpressure();
  uint64_t max_lag_ = 0;       // 0: no backpressure
  bool backpressure_ = false;  // the last submission was refused for backpressure
  absl::Time last_backpressure_log_ = absl::InfinitePast();
  uint64_t refused_since_log_ = 0;
  metrics::Counter* backpressure_refusals_ = nullptr;
  metrics::Counter* accepted_ = nullptr;
  metrics::Counter* duplicate_ = nullptr;
};

// The default of IntakeConfig.backpressure.max_lag.
inline constexpr uint64_t kDefaultMaxPipelineLag = 2000;

daemon::DaemonSpec IntakeSpec();

}  // namespace asb::intake
