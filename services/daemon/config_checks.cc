#include "services/daemon/config_checks.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/common.h"

namespace asb::daemon {

void CheckStore(const asb::config::v1::StoreConfig& store, const std::string& path,
                config::Violations* v) {
  v->Required(path + ".path", store.path());
  const std::string& ring = store.key_ring();
  if (!ring.empty() && (ring.back() == '/' || (ring.size() > 4 && ring.ends_with(".key")))) {
    v->Add(path + ".key_ring",
           "the key ring's path prefix P (its keys are the files P.<id>.key), e.g. "
           "config/keys/demo/at-rest-intake, not a directory or a key file");
  }
}

void CheckServer(const asb::config::v1::ServerConfig& server, const std::string& path,
                 config::Violations* v) {
  v->Endpoint(path + ".api_bind", server.api_bind());
  v->Endpoint(path + ".hints_bind", server.hints_bind());
  v->Required(path + ".key_file", server.key_file());
  if (server.max_message_bytes() != 0 &&
      (server.max_message_bytes() < 1024 || server.max_message_bytes() > (256u << 20))) {
    v->Add(path + ".max_message_bytes", "must be between 1024 and 268435456");
  }
  if (server.refusal_interval_seconds() > 3600) {
    v->Add(path + ".refusal_interval_seconds", "at most 3600 (0 means 60)");
  }
  if (server.max_unauthenticated_refusal_records() > 10000) {
    v->Add(path + ".max_unauthenticated_refusal_records", "at most 10000 (0 means 20)");
  }
  if (!server.metrics_bind().empty()) {
    std::string host;
    int port = 0;
    if (absl::Status s = ParseHostPort(server.metrics_bind(), &host, &port); !s.ok()) {
      v->Add(path + ".metrics_bind", std::string(s.message()));
    }
  }
}

absl::Status ParseHostPort(const std::string& bind, std::string* host, int* port) {
  const std::size_t colon = bind.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", bind, "' is not HOST:PORT (e.g. 127.0.0.1:9741)"));
  }
  std::string h = bind.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  int p = 0;
  if (!absl::SimpleAtoi(bind.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", bind, "': the port must be a number from 0 to 65535"));
  }
  *host = h;
  *port = p;
  return absl::OkStatus();
}

void CheckUpstream(const asb::config::v1::UpstreamConfig& upstream, const std::string& path,
                   config::Violations* v) {
  v->Required(path + ".name", upstream.name());
  v->Endpoint(path + ".api_endpoint", upstream.api_endpoint());
  v->Endpoint(path + ".hints_endpoint", upstream.hints_endpoint());
  v->Required(path + ".server_public_key_file", upstream.server_public_key_file());
  if (upstream.batch() > 5000) {
    v->Add(path + ".batch", "at most 5000");
  }
}

void CheckLog(const asb::config::v1::LogConfig& log, const std::string& path,
              config::Violations* v) {
  if (!log.level().empty() && spdlog::level::from_str(log.level()) == spdlog::level::off &&
      log.level() != "off") {
    v->Add(path + ".level", "must be trace, debug, info, warn, error, critical or off");
  }
}

}  // namespace asb::daemon
