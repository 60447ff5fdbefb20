#include "services/notify/notify_daemon.h"

#include "common/log/log.h"
#include "common/status/macros.h"
#include "services/daemon/config_checks.h"

namespace asb::notify {

void ValidateNotifyConfig(const asb::config::v1::NotifyConfig& config, config::Violations* v) {
  daemon::CheckLog(config.log(), "log", v);
  daemon::CheckStore(config.store(), "store", v);
  daemon::CheckServer(config.server(), "server", v);
  v->Required("isp_file", config.isp_file());
  daemon::CheckUpstream(config.sharing(), "sharing", v);
}

absl::StatusOr<std::unique_ptr<NotifyDaemon>> NotifyDaemon::Create(
    const asb::config::v1::NotifyConfig& config) {
  std::unique_ptr<NotifyDaemon> d(new NotifyDaemon());
  d->config_ = config;
  daemon::RuntimeOptions o;
  o.component = "notify";
  o.store = config.store();
  o.server = config.server();
  o.isp_file = config.isp_file();
  o.column_families = NotifyColumnFamilies();
  o.streams = {"audit"};
  ASB_ASSIGN_OR_RETURN(d->runtime_, daemon::Runtime::Create(o));
  daemon::Runtime* rt = d->runtime_.get();
  d->outbox_ = std::make_unique<Outbox>(&rt->store(), rt->log("audit"), [rt] { return rt->Now(); });
  ASB_RETURN_IF_ERROR(d->outbox_->Load());
  d->outbox_->SetPolicy(rt->policy());
  rt->OnPolicyChanged([o = d->outbox_.get()](auto policy) { o->SetPolicy(std::move(policy)); });
  return d;
}

absl::Status NotifyDaemon::Start() {
  ASB_RETURN_IF_ERROR(
      runtime_->Start([this](const bus::Caller& caller, const asb::v1::Request& request) {
        Handle(caller, request);
      }));
  ASB_ASSIGN_OR_RETURN(
      stream::Consumer * consumer,
      runtime_->AddConsumer(config_.sharing(), "disclosures",
                            [this](const asb::v1::Envelope& env, store::Batch* batch) {
                              return outbox_->ApplyDisclosure(env, batch);
                            }));
  consumer->OnCommitted([this](uint64_t) { WakeParked(); });
  return absl::OkStatus();
}

void NotifyDaemon::Handle(const bus::Caller& caller, const asb::v1::Request& request) {
  if (!request.has_pull_alerts() && !request.has_ack_alerts()) {
    runtime_->server().ReplyError(
        caller, absl::UnimplementedError(
                    "asb-notify answers ping, pull_alerts, ack_alerts and fetch only"));
    return;
  }
  if (!runtime_->RequireRole(caller, asb::v1::ROLE_PARTNER, "receive alerts")) {
    return;
  }
  if (request.has_ack_alerts()) {
    store::Batch batch = runtime_->store().NewBatch();
    auto ack = outbox_->Ack(caller.principal.name, caller.principal.agency,
                            request.ack_alerts().through_seq(), &batch);
    if (!ack.ok()) {
      runtime_->server().ReplyError(caller, ack.status());
      return;
    }
    if (!runtime_->WriteOrReply(&batch, caller)) {
      return;
    }
    asb::v1::Response response;
    *response.mutable_ack() = *ack;
    runtime_->server().Reply(caller, std::move(response));
    return;
  }
  const auto& pull = request.pull_alerts();
  if (pull.wait_ms() > kMaxWaitMs) {
    runtime_->server().ReplyError(caller,
                                  absl::InvalidArgumentError("pull_alerts.wait_ms: at most 30000"));
    return;
  }
  if (!ServePull(caller, pull, /*may_wait=*/true)) {
    uint64_t id = next_parked_++;
    uint64_t timer =
        runtime_->loop().RunAfter(std::chrono::milliseconds(pull.wait_ms()), [this, id] {
          auto it = parked_.find(id);
          if (it != parked_.end()) {
            Parked p = std::move(it->second);
            parked_.erase(it);
            ServePull(p.caller, p.request, /*may_wait=*/false);
          }
        });
    parked_[id] = Parked{caller, pull, timer};
  }
}

bool NotifyDaemon::ServePull(const bus::Caller& caller, const asb::v1::PullAlertsRequest& request,
                             bool may_wait) {
  const std::string& agency = caller.principal.agency;
  if (may_wait && request.wait_ms() > 0 && !request.has_from_seq() &&
      !outbox_->HasPending(agency)) {
    return false;
  }
  store::Batch batch = runtime_->store().NewBatch();
  auto pulled = outbox_->Pull(caller.principal.name, agency, request, &batch);
  if (!pulled.ok()) {
    runtime_->server().ReplyError(caller, pulled.status());
    return true;
  }
  // Delivery counts and the delivery audit record are durable before the alerts leave.
  if (!runtime_->WriteOrReply(&batch, caller)) {
    return true;
  }
  asb::v1::Response response;
  *response.mutable_alerts() = std::move(*pulled);
  runtime_->server().Reply(caller, std::move(response));
  return true;
}

void NotifyDaemon::WakeParked() {
  std::vector<uint64_t> ready;
  for (const auto& [id, p] : parked_) {
    if (outbox_->HasPending(p.caller.principal.agency)) {
      ready.push_back(id);
    }
  }
  for (uint64_t id : ready) {
    Parked p = std::move(parked_[id]);
    parked_.erase(id);
    runtime_->loop().CancelTimer(p.timer);
    ServePull(p.caller, p.request, /*may_wait=*/false);
  }
}

daemon::DaemonSpec NotifySpec() {
  return daemon::MakeSpec<asb::config::v1::NotifyConfig, NotifyDaemon>("notify",
                                                                       &ValidateNotifyConfig);
}

}  // namespace asb::notify
