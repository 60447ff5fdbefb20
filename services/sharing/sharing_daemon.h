#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "asb/config/v1/daemons.pb.h"
#include "common/config/violations.h"
#include "services/daemon/daemon_main.h"
#include "services/sharing/case_folder.h"
#include "services/sharing/sharing_handler.h"

namespace asb::sharing {

void ValidateSharingConfig(const asb::config::v1::SharingConfig& config, config::Violations* v);

// asb-sharing: the policy point. Consumes intake's "events", folds them into cases, writes each
// agency's redacted view to its "disclosures" stream, and answers partners' GetCase.
class SharingDaemon : public daemon::Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<SharingDaemon>> Create(
      const asb::config::v1::SharingConfig& config);
  absl::Status Start() override;
  daemon::Runtime& runtime() override { return *runtime_; }

 private:
  SharingDaemon() = default;
  void Handle(const bus::Caller& caller, const asb::v1::Request& request);
  void Explain(const bus::Caller& caller, const asb::v1::ExplainCaseRequest& request);

  asb::config::v1::SharingConfig config_;
  std::unique_ptr<daemon::Runtime> runtime_;
  std::unique_ptr<CaseFolder> folder_;
  std::unique_ptr<SharingHandler> handler_;
};

daemon::DaemonSpec SharingSpec();

}  // namespace asb::sharing
