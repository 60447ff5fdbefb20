#include "tools/asbctl/hub_client.h"

#include <algorithm>
#include <filesystem>
#include <thread>

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
  daemon_ = daemon;
  as_ = as;
  suffix_ = suffix;
  bus::ClientOptions options;
  options.endpoint = endpoint;
  options.server_public_key = server_key.public_key;
  options.server_key_file = server_key_file;
  options.keys = keys;
  ASB_ASSIGN_OR_RETURN(client_, bus::Client::Connect(&context_, options));
  return absl::OkStatus();
}

absl::StatusOr<asb::v1::Response> HubClient::Call(asb::v1::Request request) {
  return Call(std::move(request), default_timeout());
}

absl::StatusOr<asb::v1::Response> HubClient::CallRetryingUnavailable(
    const asb::v1::Request& request, std::chrono::milliseconds timeout,
    std::chrono::seconds retry_for, const std::function<bool(const absl::Status&)>& on_retry) {
  const auto give_up = std::chrono::steady_clock::now() + retry_for;
  std::chrono::milliseconds backoff{50};
  while (true) {
    absl::StatusOr<asb::v1::Response> response = Call(request, timeout);
    if (response.ok() || !absl::IsUnavailable(response.status()) ||
        std::chrono::steady_clock::now() + backoff > give_up ||
        (on_retry && !on_retry(response.status()))) {
      return response;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

absl::StatusOr<asb::v1::Response> HubClient::Call(asb::v1::Request request,
                                                  std::chrono::milliseconds timeout) {
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, client_->Call(std::move(request), timeout));
  if (witness_ != nullptr && response.has_tree_head()) {
    ASB_RETURN_IF_ERROR(witness_->See(response.tree_head()));
  }
  if (response.status().code() != asb::v1::STATUS_CODE_OK) {
    return FromProto(response.status());
  }
  return response;
}

absl::StatusOr<HubClient*> HubClient::AuditForWitness() {
  if (daemon_ == Daemon::kAudit) {
    return this;
  }
  if (audit_ == nullptr) {
    std::unique_ptr<HubClient> audit(new HubClient());
    audit->config_ = config_;
    ASB_RETURN_IF_ERROR(audit->Connect(Daemon::kAudit, as_, suffix_));
    audit_ = std::move(audit);
  }
  return audit_.get();
}

void HubClient::KeepWitness(const std::string& path, const std::string& trusted_pem) {
  // The witness's own questions go through a client without a witness (no recursion): this
  // one's answers are checked only once they come back to Call.
  WitnessSource source;
  source.public_key_pem = [this]() -> absl::StatusOr<std::string> {
    ASB_ASSIGN_OR_RETURN(HubClient * audit, AuditForWitness());
    asb::v1::Request request;
    request.mutable_audit_tree_head();
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, audit->RawCall(std::move(request)));
    return response.audit_tree_head().public_key_pem();
  };
  source.consistency = [this](uint64_t m, uint64_t n) -> absl::StatusOr<std::vector<std::string>> {
    ASB_ASSIGN_OR_RETURN(HubClient * audit, AuditForWitness());
    asb::v1::Request request;
    request.mutable_audit_consistency_proof()->set_first_size(m);
    request.mutable_audit_consistency_proof()->set_second_size(n);
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, audit->RawCall(std::move(request)));
    const auto& p = response.audit_consistency_proof().proof();
    return std::vector<std::string>(p.begin(), p.end());
  };
  source.log_size = [this]() -> absl::StatusOr<uint64_t> {
    ASB_ASSIGN_OR_RETURN(HubClient * audit, AuditForWitness());
    asb::v1::Request request;
    request.mutable_audit_tree_head();
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, audit->RawCall(std::move(request)));
    const auto& r = response.audit_tree_head();
    uint64_t size = r.tree_head().tree_size();
    for (const auto& d : r.damage()) {
      if (d.first() > 0 && d.first() - 1 < size) {
        size = d.first() - 1;  // a truncation asb-audit found: what it still has
      }
    }
    return size;
  };
  witness_ =
      std::make_unique<HeadWitness>(path, config_.audit_endpoint(), std::move(source), trusted_pem);
}

absl::StatusOr<asb::v1::Response> HubClient::RawCall(asb::v1::Request request) {
  const uint32_t seconds = config_.timeout_seconds() != 0 ? config_.timeout_seconds() : 10;
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response,
                       client_->Call(std::move(request), std::chrono::seconds(seconds)));
  if (response.status().code() != asb::v1::STATUS_CODE_OK) {
    return FromProto(response.status());
  }
  return response;
}

}  // namespace asb::ctl
