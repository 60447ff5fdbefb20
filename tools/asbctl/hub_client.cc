#include "tools/asbctl/hub_client.h"

#include <filesystem>

#include "common/bus/keys.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "common/status/proto_status.h"

namespace asb::ctl {

const char* DaemonName(Daemon daemon) {
  for (const auto& [name, d] : kDaemons) {
    if (d == daemon) {
      return name;
    }
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<HubClient>> HubClient::Load(const std::string& config_path) {
  std::unique_ptr<HubClient> hub(new HubClient());
  ASB_RETURN_IF_ERROR(config::LoadConfigFile(config_path, &hub->config_));
  if (hub->config_.keys_dir().empty()) {
    return absl::InvalidArgumentError(config_path + ": keys_dir: required");
  }
  return hub;
}

absl::StatusOr<std::unique_ptr<HubClient>> HubClient::Open(const std::string& config_path,
                                                           Daemon daemon, const std::string& as,
                                                           const std::string& suffix) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub, Load(config_path));
  ASB_RETURN_IF_ERROR(hub->Connect(daemon, as, suffix));
  return hub;
}

absl::Status HubClient::Connect(Daemon daemon, const std::string& as, const std::string& suffix) {
  const std::string server(DaemonName(daemon));
  std::string endpoint;
  switch (daemon) {
    case Daemon::kIntake:
      endpoint = config_.intake_endpoint();
      break;
    case Daemon::kSharing:
      endpoint = config_.sharing_endpoint();
      break;
    case Daemon::kNotify:
      endpoint = config_.notify_endpoint();
      break;
    case Daemon::kAudit:
      endpoint = config_.audit_endpoint();
      break;
  }
  if (endpoint.empty()) {
    return absl::InvalidArgumentError("client config has no endpoint for asb-" + server);
  }
  const std::string dir = config_.keys_dir();
  std::string key_file = dir + "/" + as + ".key";
  if (!std::filesystem::exists(key_file)) {
    key_file = dir + "/" + as + "-" + suffix + ".key";
  }
  if (!std::filesystem::exists(key_file)) {
    return absl::NotFoundError("no key for '" + as + "': looked for " + dir + "/" + as +
                               ".key and " + key_file);
  }
  ASB_ASSIGN_OR_RETURN(bus::KeyPair keys, bus::LoadKeyFile(key_file, true));
  const std::string server_key_file = dir + "/" + server + ".pub";
  ASB_ASSIGN_OR_RETURN(bus::KeyPair server_key, bus::LoadKeyFile(server_key_file, false));
  principal_ = keys.name;
  bus::ClientOptions options;
  options.endpoint = endpoint;
  options.server_public_key = server_key.public_key;
  options.server_key_file = server_key_file;
  options.keys = keys;
  ASB_ASSIGN_OR_RETURN(client_, bus::Client::Connect(&context_, options));
  return absl::OkStatus();
}

absl::StatusOr<asb::v1::Response> HubClient::Call(asb::v1::Request request) {
  uint32_t seconds = config_.timeout_seconds() != 0 ? config_.timeout_seconds() : 10;
  return Call(std::move(request), std::chrono::seconds(seconds));
}

absl::StatusOr<asb::v1::Response> HubClient::Call(asb::v1::Request request,
                                                  std::chrono::milliseconds timeout) {
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, client_->Call(std::move(request), timeout));
  if (response.status().code() != asb::v1::STATUS_CODE_OK) {
    return FromProto(response.status());
  }
  return response;
}

}  // namespace asb::ctl
