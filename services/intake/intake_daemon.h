#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "asb/config/v1/daemons.pb.h"
#include "common/config/violations.h"
#include "services/daemon/daemon_main.h"
#include "services/intake/intake_handler.h"

namespace asb::intake {

// Checks an IntakeConfig; every violation is reported with its path.
void ValidateIntakeConfig(const asb::config::v1::IntakeConfig& config, config::Violations* v);

// asb-intake: the edge for feeds. Serves Submit (feeds only) and its "events" and "audit"
// streams.
class IntakeDaemon : public daemon::Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<IntakeDaemon>> Create(
      const asb::config::v1::IntakeConfig& config);
  absl::Status Start() override;
  daemon::Runtime& runtime() override { return *runtime_; }

 private:
  IntakeDaemon() = default;
  void Handle(const bus::Caller& caller, const asb::v1::Request& request);

  asb::config::v1::IntakeConfig config_;
  std::unique_ptr<daemon::Runtime> runtime_;
  std::unique_ptr<IntakeHandler> handler_;
};

daemon::DaemonSpec IntakeSpec();

}  // namespace asb::intake
