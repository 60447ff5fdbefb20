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
  if (config.has_audit()) {
    daemon::CheckUpstream(config.audit(), "audit", v);
  }
  if (config.ack_timeout_ms() != 0 &&
      (config.ack_timeout_ms() < 100 || config.ack_timeout_ms() > 86400000)) {
    v->Add("ack_timeout_ms", "between 100 and 86400000 (0 means 30000)");
  }
  if (config.max_deliveries() > 1000) {
    v->Add("max_deliveries", "at most 1000 (0 means 10)");
  }
  if (config.retention_days() > 3650) {
    v->Add("retention_days", "at most 3650 (0 means 30)");
  }
  if (config.max_parked_pulls() > 100000) {
    v->Add("max_parked_pulls", "at most 100000 (0 means 1000)");
  }
  ValidateWebhooks(config, v);
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
  o.layout = NotifyStoreLayout();
  o.streams = {"audit"};
  ASB_ASSIGN_OR_RETURN(d->runtime_, daemon::Runtime::Create(o));
  daemon::Runtime* rt = d->runtime_.get();
  OutboxOptions oo;
  oo.ack_timeout = absl::Milliseconds(config.ack_timeout_ms() != 0 ? config.ack_timeout_ms()
                                                                   : kDefaultAckTimeoutMs);
  oo.max_deliveries =
      config.max_deliveries() != 0 ? config.max_deliveries() : kDefaultMaxDeliveries;
  oo.retention = absl::Hours(24) *
                 (config.retention_days() != 0 ? config.retention_days() : kDefaultRetentionDays);
  rt->WarnIfRetentionDiffers(
      asb::config::v1::DataSharingAgreement::RETENTION_ALERTS,
      config.retention_days() != 0 ? config.retention_days() : kDefaultRetentionDays,
      "retention_days");
  d->max_parked_ =
      config.max_parked_pulls() != 0 ? config.max_parked_pulls() : kDefaultMaxParkedPulls;
  d->outbox_ = std::make_unique<Outbox>(
      &rt->store(), rt->log("audit"), [rt] { return rt->Now(); }, oo);
  ASB_RETURN_IF_ERROR(d->outbox_->Load());
  d->heads_ = std::make_unique<TreeHeadRelay>(&rt->store());
  ASB_RETURN_IF_ERROR(d->heads_->Load());
  ASB_RETURN_IF_ERROR(d->ConfigureWebhooks());
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
  consumer->OnCommitted([this](uint64_t) {
    WakeParked();
    PumpWebhooks();
  });
  // Cases asb-sharing deleted under the agreement's retention: their alerts are shredded here.
  ASB_RETURN_IF_ERROR(runtime_->ConsumeErasures(config_.sharing()).status());
  if (config_.has_audit()) {
    ASB_RETURN_IF_ERROR(runtime_
                            ->AddConsumer(config_.audit(), kAuditTreeHeadsStream,
                                          [this](const asb::v1::Envelope& env, store::Batch* b) {
                                            return heads_->Apply(env, b);
                                          })
                            .status());
  }
  RunRetention();
  RegisterMetrics();
  return StartWebhooks();
}

void NotifyDaemon::RunRetention() {
  static auto* lg = log::Get("notify");
  store::Batch batch = runtime_->store().NewBatch();
  auto deleted = outbox_->ApplyRetention(&batch);
  if (!deleted.ok()) {
    SPDLOG_LOGGER_WARN(lg, "retention: {}", deleted.status().ToString());
  } else if (!batch.empty()) {
    absl::Status written = runtime_->store().Write(&batch);
    if (!written.ok()) {
      SPDLOG_LOGGER_WARN(lg, "retention not applied: {}", written.ToString());
    } else {
      SPDLOG_LOGGER_INFO(lg, "retention: old alerts deleted for {} agencies", *deleted);
    }
  }
  // Hourly: the cut-off moves by the day, so an hour late is never more than a little late.
  runtime_->loop().RunAfter(std::chrono::hours(1), [this] { RunRetention(); });
}

void NotifyDaemon::HandleListDeadLetters(const bus::Caller& caller,
                                         const asb::v1::ListDeadLettersRequest& r) {
  std::string agency;
  if (caller.principal.role == asb::v1::ROLE_ADMIN) {
    agency = r.agency();
  } else if (!runtime_->RequireRole(caller, asb::v1::ROLE_PARTNER, "list dead letters")) {
    return;
  } else if (!r.agency().empty() && r.agency() != caller.principal.agency) {
    const absl::Status denied =
        absl::PermissionDeniedError("a partner sees its own agency's dead letters only");
    asb::v1::AuditRecord refused;  // every refusal is on the record (issue #5)
    refused.set_kind(asb::v1::AUDIT_KIND_ACCESS_REFUSED);
    refused.set_actor(caller.principal.name);
    refused.set_actor_agency(caller.principal.agency);
    refused.set_recipient_agency(r.agency());
    refused.set_detail("list dead letters of another agency: " + std::string(denied.message()));
    runtime_->Audit(std::move(refused));
    runtime_->server().ReplyError(caller, denied);
    return;
  } else {
    agency = caller.principal.agency;
  }
  auto listed = outbox_->ListDeadLetters(agency, r);
  if (!listed.ok()) {
    runtime_->server().ReplyError(caller, listed.status());
    return;
  }
  asb::v1::Response response;
  *response.mutable_dead_letters() = std::move(*listed);
  runtime_->server().Reply(caller, std::move(response));
}

void NotifyDaemon::Handle(const bus::Caller& caller, const asb::v1::Request& request) {
  if (request.has_list_dead_letters()) {
    HandleListDeadLetters(caller, request.list_dead_letters());
    return;
  }
  if (!request.has_pull_alerts() && !request.has_ack_alerts()) {
    runtime_->server().ReplyError(
        caller, absl::UnimplementedError("asb-notify answers ping, pull_alerts, ack_alerts, "
                                         "list_dead_letters and fetch only"));
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
  // Parked pulls are bounded: beyond the cap a pull is answered at once (possibly empty).
  if (!ServePull(caller, pull, /*may_wait=*/parked_.size() < max_parked_)) {
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
  const bool wait = may_wait && request.wait_ms() > 0 && !request.has_from_seq();
  if (wait && !outbox_->HasPending(agency)) {
    return false;
  }
  store::Batch batch = runtime_->store().NewBatch();
  auto pulled = outbox_->Pull(caller.principal.name, agency, request, &batch);
  if (!pulled.ok()) {
    runtime_->server().ReplyError(caller, pulled.status());
    return true;
  }
  if (wait && pulled->alerts().empty()) {
    // Everything pending is in flight with other clients (or was just dead-lettered): keep
    // waiting; dead letters made on the way are written now.
    if (!batch.empty()) {
      absl::Status written = runtime_->store().Write(&batch);
      if (!written.ok()) {
        runtime_->server().ReplyError(caller, written);
        return true;
      }
    }
    return false;
  }
  // Delivery counts and the delivery audit record are durable before the alerts leave.
  if (!runtime_->WriteOrReply(&batch, caller)) {
    return true;
  }
  asb::v1::Response response;
  *response.mutable_alerts() = std::move(*pulled);
  // The access log's latest signed tree head, for the partner's witness.
  if (heads_->latest().has_value()) {
    *response.mutable_tree_head() = *heads_->latest();
  }
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
    auto it = parked_.find(id);
    // Served only if something is deliverable now; otherwise it stays parked.
    if (ServePull(it->second.caller, it->second.request, /*may_wait=*/true)) {
      runtime_->loop().CancelTimer(it->second.timer);
      parked_.erase(it);
    }
  }
}

daemon::DaemonSpec NotifySpec() {
  return daemon::MakeSpec<asb::config::v1::NotifyConfig, NotifyDaemon>("notify",
                                                                       &ValidateNotifyConfig);
}

}  // namespace asb::notify
