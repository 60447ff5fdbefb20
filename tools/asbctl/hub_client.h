#pragma once

// How asbctl reaches the hub: the client config (config/asbctl.yaml) names each daemon's
// endpoint and the directory of keys; `--as NAME` picks the principal whose key is used.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <zmq.hpp>

#include "absl/status/statusor.h"
#include "asb/config/v1/daemons.pb.h"
#include "asb/v1/api.pb.h"
#include "common/bus/client.h"
#include "tools/asbctl/witness.h"

namespace asb::ctl {

enum class Daemon { kIntake, kSharing, kNotify, kAudit };

// The four daemons in pipeline order, each with its name ("intake" for asb-intake).
inline constexpr std::pair<const char*, Daemon> kDaemons[] = {{"intake", Daemon::kIntake},
                                                              {"sharing", Daemon::kSharing},
                                                              {"notify", Daemon::kNotify},
                                                              {"audit", Daemon::kAudit}};

// "intake" for Daemon::kIntake, …
const char* DaemonName(Daemon daemon);

// A connection to one daemon of the hub, as one principal. Not thread-safe.
class HubClient {
 public:
  // Loads the client config. kNotFound / kInvalidArgument name the file.
  static absl::StatusOr<std::unique_ptr<HubClient>> Load(const std::string& config_path);

  // Load(config_path), then Connect(daemon, as, suffix).
  static absl::StatusOr<std::unique_ptr<HubClient>> Open(const std::string& config_path,
                                                         Daemon daemon, const std::string& as,
                                                         const std::string& suffix);

  // Connects to `daemon` as principal `as`: keys_dir/<as>.key if it exists, otherwise
  // keys_dir/<as>-<suffix>.key (suffix "feed", "partner", "auditor" by command).
  absl::Status Connect(Daemon daemon, const std::string& as, const std::string& suffix);

  // One request/response. A non-OK Status in the response becomes the returned error. With
  // KeepWitness, a signed tree head the response carries (Response.tree_head) is checked
  // first: a fork or truncation of the access log is the error then.
  absl::StatusOr<asb::v1::Response> Call(asb::v1::Request request);  // in default_timeout()
  absl::StatusOr<asb::v1::Response> Call(asb::v1::Request request,
                                         std::chrono::milliseconds timeout);
  // Call, with an UNAVAILABLE answer (nothing was stored: the hub's pipeline is behind, its disk
  // is full, it is restarting) sent again after a back-off doubling from 50 ms to 2 s, for up to
  // `retry_for`: for requests that are safe to resend (a feed's submission: de-duplicated).
  // `on_retry`, if set, is called before each resend with the answer; returning false stops.
  absl::StatusOr<asb::v1::Response> CallRetryingUnavailable(
      const asb::v1::Request& request, std::chrono::milliseconds timeout,
      std::chrono::seconds retry_for,
      const std::function<bool(const absl::Status&)>& on_retry = nullptr);

  // Checks every signed tree head the hub shows this client against the witness file `path`
  // (HeadWitness), asking asb-audit for consistency proofs as the same principal. `trusted_pem`:
  // the tree-head key to insist on (empty: the file's, else asb-audit's on first use).
  // REQUIRES: Connect succeeded.
  void KeepWitness(const std::string& path, const std::string& trusted_pem = "");
  const HeadWitness* witness() const { return witness_.get(); }

  const std::string& principal() const { return principal_; }
  // The client config's timeout_seconds (10 s if unset).
  std::chrono::milliseconds default_timeout() const {
    return std::chrono::seconds(config_.timeout_seconds() != 0 ? config_.timeout_seconds() : 10);
  }
  const asb::config::v1::ClientConfig& config() const { return config_; }

 private:
  HubClient() = default;
  // The connection to asb-audit the witness asks (this one if it is asb-audit's).
  absl::StatusOr<HubClient*> AuditForWitness();
  // Call without the witness's check (the witness's own questions).
  absl::StatusOr<asb::v1::Response> RawCall(asb::v1::Request request);

  asb::config::v1::ClientConfig config_;
  zmq::context_t context_;
  std::unique_ptr<bus::Client> client_;
  std::string principal_;
  Daemon daemon_ = Daemon::kIntake;
  std::string as_;
  std::string suffix_;
  std::unique_ptr<HeadWitness> witness_;
  std::unique_ptr<HubClient> audit_;  // for the witness, when this is another daemon's
};

}  // namespace asb::ctl
