#pragma once

// The one main() of every asb daemon. Flags: --config FILE (required), --validate (check the
// config and exit 0/1 without opening sockets or the DB), --ready-file FILE (written with the
// bound endpoints once serving), --log-level LEVEL. SIGTERM/SIGINT stop cleanly; SIGHUP reloads
// the ISP. Startup failures print one error line and exit 1.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "asb/config/v1/common.pb.h"
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

}  // namespace asb::daemon
