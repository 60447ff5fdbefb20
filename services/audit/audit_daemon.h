#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "asb/config/v1/daemons.pb.h"
#include "common/config/violations.h"
#include "services/audit/audit_log.h"
#include "services/daemon/daemon_main.h"

namespace asb::audit {

void ValidateAuditConfig(const asb::config::v1::AuditConfig& config, config::Violations* v);

// asb-audit: the access log. Consumes the "audit" streams of intake, sharing and notify into a
// tamper-evident log, records its own refusals and auditors' queries there, and answers
// auditors' queries.
class AuditDaemon : public daemon::Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<AuditDaemon>> Create(
      const asb::config::v1::AuditConfig& config);
  absl::Status Start() override;
  daemon::Runtime& runtime() override { return *runtime_; }

 private:
  AuditDaemon() = default;
  void Handle(const bus::Caller& caller, const asb::v1::Request& request);

  asb::config::v1::AuditConfig config_;
  std::unique_ptr<daemon::Runtime> runtime_;
  std::unique_ptr<AuditLog> log_;
};

daemon::DaemonSpec AuditSpec();

}  // namespace asb::audit
