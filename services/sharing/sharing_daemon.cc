#include "services/sharing/sharing_daemon.h"

#include "common/log/log.h"
#include "common/status/macros.h"
#include "services/daemon/config_checks.h"

namespace asb::sharing {

void ValidateSharingConfig(const asb::config::v1::SharingConfig& config, config::Violations* v) {
  daemon::CheckLog(config.log(), "log", v);
  daemon::CheckStore(config.store(), "store", v);
  daemon::CheckServer(config.server(), "server", v);
  v->Required("isp_file", config.isp_file());
  daemon::CheckUpstream(config.intake(), "intake", v);
}

absl::StatusOr<std::unique_ptr<SharingDaemon>> SharingDaemon::Create(
    const asb::config::v1::SharingConfig& config) {
  std::unique_ptr<SharingDaemon> d(new SharingDaemon());
  d->config_ = config;
  daemon::RuntimeOptions o;
  o.component = "sharing";
  o.store = config.store();
  o.server = config.server();
  o.isp_file = config.isp_file();
  o.layout = SharingStoreLayout();
  o.streams = {"disclosures", "audit"};
  o.load_isp = [self = d.get()](const std::string& isp_file) { return self->LoadPolicy(isp_file); };
  ASB_ASSIGN_OR_RETURN(d->runtime_, daemon::Runtime::Create(o));
  daemon::Runtime* rt = d->runtime_.get();
  d->folder_ = std::make_unique<CaseFolder>(&rt->store());
  d->handler_ = std::make_unique<SharingHandler>(d->folder_.get(), rt->log("disclosures"),
                                                 rt->log("audit"), [rt] { return rt->Now(); });
  d->handler_->SetPolicy(d->policy_);
  d->aggregates_ = std::make_unique<Aggregates>(&rt->store());
  d->handler_->SetAggregates(d->aggregates_.get());
  d->intelligence_ = std::make_unique<IntelligenceHandler>(d->aggregates_.get(), rt->log("audit"),
                                                           [rt] { return rt->Now(); });
  d->intelligence_->SetPolicy(d->policy_);
  return d;
}

absl::StatusOr<std::string> SharingDaemon::LoadPolicy(const std::string& isp_file) {
  static auto* lg = log::Get("sharing");
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> fresh,
                       policy::Policy::LoadFile(isp_file));
  if (policy_ != nullptr && fresh->version() == policy_->version()) {
    SPDLOG_LOGGER_INFO(lg, "ISP unchanged (version {})", policy_->version().substr(0, 12));
    return policy_->version();
  }
  SPDLOG_LOGGER_INFO(lg, "ISP '{}' {}, version {}", fresh->isp().name(),
                     policy_ == nullptr ? "loaded" : "reloaded", fresh->version().substr(0, 12));
  policy_ = std::move(fresh);
  if (handler_ != nullptr) {
    handler_->SetPolicy(policy_);
  }
  if (intelligence_ != nullptr) {
    intelligence_->SetPolicy(policy_);
  }
  return policy_->version();
}

absl::Status SharingDaemon::Start() {
  ASB_RETURN_IF_ERROR(
      runtime_->Start([this](const bus::Caller& caller, const asb::v1::Request& request) {
        Handle(caller, request);
      }));
  runtime_->AddCounter("disclosures", [this] { return handler_->disclosures_made(); });
  runtime_->AddCounter("consultations", [this] {
    return handler_->consultations() + intelligence_->consultations();
  });
  return runtime_
      ->AddConsumer(config_.intake(), "events",
                    [this](const asb::v1::Envelope& env, store::Batch* batch) {
                      return handler_->ApplyEvent(env, batch);
                    })
      .status();
}

void SharingDaemon::Handle(const bus::Caller& caller, const asb::v1::Request& request) {
  if (request.has_explain_case()) {
    Explain(caller, request.explain_case());
    return;
  }
  if (request.has_hotspots() || request.has_indicators()) {
    Intelligence(caller, request);
    return;
  }
  if (!request.has_get_case()) {
    runtime_->server().ReplyError(
        caller, absl::UnimplementedError("asb-sharing answers ping, get_case, explain_case, "
                                         "hotspots, indicators and fetch only"));
    return;
  }
  if (!runtime_->RequireRole(caller, asb::v1::ROLE_PARTNER, "read case views")) {
    return;
  }
  store::Batch batch = runtime_->store().NewBatch();
  auto view = handler_->GetCase(caller.principal.name, caller.principal.agency,
                                request.get_case().case_id(), &batch);
  if (!view.ok()) {
    // A refused lookup leaves its ACCESS_REFUSED record in the batch: keep it on the record.
    if (!batch.empty()) {
      // Best effort: if it fails, the answer (not found) is the same anyway.
      runtime_->store().Write(&batch).IgnoreError();
    }
    runtime_->server().ReplyError(caller, view.status());
    return;
  }
  // The consultation is recorded durably before the data leaves.
  if (!runtime_->WriteOrReply(&batch, caller)) {
    return;
  }
  asb::v1::Response response;
  *response.mutable_case_view()->mutable_disclosure() = std::move(*view);
  runtime_->server().Reply(caller, std::move(response));
}

void SharingDaemon::Explain(const bus::Caller& caller, const asb::v1::ExplainCaseRequest& request) {
  if (!runtime_->RequireRole(caller, asb::v1::ROLE_ADMIN, "explain the ISP's decisions")) {
    return;
  }
  store::Batch batch = runtime_->store().NewBatch();
  auto explanation =
      handler_->ExplainCase(caller.principal.name, caller.principal.agency, request, &batch);
  if (!explanation.ok()) {
    runtime_->server().ReplyError(caller, explanation.status());
    return;
  }
  if (!runtime_->WriteOrReply(&batch, caller)) {
    return;
  }
  asb::v1::Response response;
  *response.mutable_explain_case() = std::move(*explanation);
  runtime_->server().Reply(caller, std::move(response));
}

void SharingDaemon::Intelligence(const bus::Caller& caller, const asb::v1::Request& request) {
  if (!runtime_->RequireRole(caller, asb::v1::ROLE_PARTNER, "ask for depersonalised aggregates")) {
    return;
  }
  store::Batch batch = runtime_->store().NewBatch();
  asb::v1::Response response;
  absl::Status status;
  if (request.has_hotspots()) {
    auto answer = intelligence_->Hotspots(caller.principal.name, caller.principal.agency,
                                          request.hotspots(), &batch);
    status = answer.status();
    if (answer.ok()) {
      *response.mutable_hotspots() = std::move(*answer);
    }
  } else {
    auto answer = intelligence_->Indicators(caller.principal.name, caller.principal.agency,
                                            request.indicators(), &batch);
    status = answer.status();
    if (answer.ok()) {
      *response.mutable_indicators() = std::move(*answer);
    }
  }
  if (!status.ok()) {
    // A refusal leaves its ACCESS_REFUSED record in the batch: keep it on the record.
    if (!batch.empty()) {
      runtime_->store().Write(&batch).IgnoreError();
    }
    runtime_->server().ReplyError(caller, status);
    return;
  }
  // The consultation is recorded durably before the figures leave.
  if (!runtime_->WriteOrReply(&batch, caller)) {
    return;
  }
  runtime_->server().Reply(caller, std::move(response));
}

daemon::DaemonSpec SharingSpec() {
  return daemon::MakeSpec<asb::config::v1::SharingConfig, SharingDaemon>("sharing",
                                                                         &ValidateSharingConfig);
}

}  // namespace asb::sharing
