#pragma once

// The one main() of every asb daemon. Flags: --config FILE (required), --validate (check the
// config and exit 0/1 without opening sockets or the DB), --ready-file FILE (written with the
// bound endpoints once serving), --log-level LEVEL. SIGTERM/SIGINT stop cleanly; SIGHUP reloads
// the ISP. Startup failures print one error line and exit 1. Under systemd (Type=notify) it
// sends READY=1 once serving (when the ready file is written) and STOPPING=1 on the way out.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "asb/config/v1/common.pb.h"
#include "common/config/violations.h"
#include "common/status/macros.h"
#include "services/daemon/config_checks.h"
#include "services/daemon/runtime.h"

namespace asb::daemon {

// A daemon as main() sees it.
class Daemon {
 public:
  virtual ~Daemon() = default;
  // Binds and starts consumers.
  virtual absl::Status Start() = 0;
  virtual Runtime& runtime() = 0;
};

struct DaemonSpec {
  std::string name;  // "intake"
  // Loads and validates the config file (no side effects). Returns its log settings.
  std::function<absl::Status(const std::string& path, asb::config::v1::LogConfig* log)> validate;
  // Loads the config again and builds the daemon (opens the store; no sockets yet).
  std::function<absl::StatusOr<std::unique_ptr<Daemon>>(const std::string& path)> create;
};

int DaemonMain(int argc, char** argv, const DaemonSpec& spec);

// The spec of a daemon class D with config message Config: D::Create(const Config&).
template <class Config, class D>
DaemonSpec MakeSpec(std::string name, void (*validate)(const Config&, config::Violations*)) {
  DaemonSpec spec;
  spec.name = std::move(name);
  spec.validate = [validate](const std::string& path, asb::config::v1::LogConfig* log) {
    Config config;
    ASB_RETURN_IF_ERROR(LoadDaemonConfig(path, &config, validate));
    *log = config.log();
    return absl::OkStatus();
  };
  spec.create = [validate](const std::string& path) -> absl::StatusOr<std::unique_ptr<Daemon>> {
    Config config;
    ASB_RETURN_IF_ERROR(LoadDaemonConfig(path, &config, validate));
    ASB_ASSIGN_OR_RETURN(auto d, D::Create(config));
    return std::unique_ptr<Daemon>(std::move(d));
  };
  return spec;
}

}  // namespace asb::daemon
