#pragma once

// Validation of the config pieces every daemon shares, and the load-then-validate step.

#include <string>

#include "absl/status/status.h"
#include "asb/config/v1/common.pb.h"
#include "common/config/config.h"
#include "common/config/violations.h"

namespace asb::daemon {

void CheckStore(const asb::config::v1::StoreConfig& store, const std::string& path,
                config::Violations* v);
void CheckServer(const asb::config::v1::ServerConfig& server, const std::string& path,
                 config::Violations* v);
void CheckUpstream(const asb::config::v1::UpstreamConfig& upstream, const std::string& path,
                   config::Violations* v);
void CheckLog(const asb::config::v1::LogConfig& log, const std::string& path,
              config::Violations* v);

// Splits "HOST:PORT" ("[::1]:9741" for IPv6; port 0 to 65535). kInvalidArgument naming what
// is wrong.
absl::Status ParseHostPort(const std::string& bind, std::string* host, int* port);

// Loads `path` into `config` and runs `validate` on it. Each violation names the file and, for
// YAML, the line of the value (or of the nearest enclosing one the file has), as ISP errors do:
// "config/intake.yaml:14: server.api_bind: must start with tcp:// or ipc:// (got 'http://x')".
template <class C>
absl::Status LoadDaemonConfig(const std::string& path, C* config,
                              void (*validate)(const C&, config::Violations*)) {
  config::SourceMap lines;
  if (absl::Status s = config::LoadConfigFile(path, config, &lines); !s.ok()) {
    return s;
  }
  config::Violations v(path, &lines);
  validate(*config, &v);
  return v.ToStatus();
}

}  // namespace asb::daemon
