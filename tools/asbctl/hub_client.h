#pragma once

// How asbctl reaches the hub: the client config (config/asbctl.yaml) names each daemon's
// endpoint and the directory of keys; `--as NAME` picks the principal whose key is used.

#include <chrono>
#include <memory>
#include <string>
#include <zmq.hpp>

#include "absl/status/statusor.h"
#include "asb/config/v1/daemons.pb.h"
#include "asb/v1/api.pb.h"
#include "common/bus/client.h"

namespace asb::ctl {

enum class Daemon { kIntake, kSharing, kNotify, kAudit };

class HubClient {
 public:
  // Loads the client config. kNotFound / kInvalidArgument name the file.
  static absl::StatusOr<std::unique_ptr<HubClient>> Load(const std::string& config_path);

  // Connects to `daemon` as principal `as`: keys_dir/<as>.key if it exists, otherwise
  // keys_dir/<as>-<suffix>.key (suffix "feed", "partner", "auditor" by command).
  absl::Status Connect(Daemon daemon, const std::string& as, const std::string& suffix);

  // One request/response. A non-OK Status in the response becomes the returned error.
  absl::StatusOr<asb::v1::Response> Call(asb::v1::Request request);
  absl::StatusOr<asb::v1::Response> Call(asb::v1::Request request,
                                         std::chrono::milliseconds timeout);

  const std::string& principal() const { return principal_; }

 private:
  HubClient() = default;
  asb::config::v1::ClientConfig config_;
  zmq::context_t context_;
  std::unique_ptr<bus::Client> client_;
  std::string principal_;
};

}  // namespace asb::ctl
