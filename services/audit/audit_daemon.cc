#include "services/audit/audit_daemon.h"

#include "common/log/log.h"
#include "common/status/macros.h"
#include "services/daemon/config_checks.h"

namespace asb::audit {

void ValidateAuditConfig(const asb::config::v1::AuditConfig& config, config::Violations* v) {
  daemon::CheckLog(config.log(), "log", v);
  daemon::CheckStore(config.store(), "store", v);
  daemon::CheckServer(config.server(), "server", v);
  v->Required("isp_file", config.isp_file());
  if (config.upstreams().empty()) {
    v->Add("upstreams", "required: the intake, sharing and notify daemons");
  }
  for (int i = 0; i < config.upstreams_size(); ++i) {
    daemon::CheckUpstream(config.upstreams(i), "upstreams[" + std::to_string(i) + "]", v);
  }
}

absl::StatusOr<std::unique_ptr<AuditDaemon>> AuditDaemon::Create(
    const asb::config::v1::AuditConfig& config) {
  std::unique_ptr<AuditDaemon> d(new AuditDaemon());
  d->config_ = config;
  daemon::RuntimeOptions o;
  o.component = "audit";
  o.store = config.store();
  o.server = config.server();
  o.isp_file = config.isp_file();
  o.column_families = AuditColumnFamilies();
  o.streams = {"audit"};
  ASB_ASSIGN_OR_RETURN(d->runtime_, daemon::Runtime::Create(o));
  daemon::Runtime* rt = d->runtime_.get();
  d->log_ = std::make_unique<AuditLog>(&rt->store(), [rt] { return rt->Now(); });
  ASB_RETURN_IF_ERROR(d->log_->Load());
  // The audit daemon's own records (refused keys, refused requests, auditors' queries) go
  // straight into the log.
  rt->SetAuditSink([l = d->log_.get()](const asb::v1::AuditRecord& record, store::Batch* batch) {
    l->Append(record, "audit/self", 0, batch);
  });
  return d;
}

absl::Status AuditDaemon::Start() {
  ASB_RETURN_IF_ERROR(
      runtime_->Start([this](const bus::Caller& caller, const asb::v1::Request& request) {
        Handle(caller, request);
      }));
  for (const auto& upstream : config_.upstreams()) {
    ASB_RETURN_IF_ERROR(
        runtime_->AddConsumer(upstream, "audit", log_->ApplyFnFor(upstream.name())).status());
  }
  return absl::OkStatus();
}

void AuditDaemon::Handle(const bus::Caller& caller, const asb::v1::Request& request) {
  if (!request.has_audit_query()) {
    runtime_->server().ReplyError(
        caller, absl::UnimplementedError("asb-audit answers ping, audit_query and fetch only"));
    return;
  }
  if (!runtime_->RequireRole(caller, asb::v1::ROLE_AUDITOR, "query the access log")) {
    return;
  }
  auto result = log_->Query(request.audit_query());
  if (!result.ok()) {
    runtime_->server().ReplyError(caller, result.status());
    return;
  }
  // The auditor's query is itself recorded.
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_AUDIT_QUERY);
  r.set_actor(caller.principal.name);
  r.set_actor_agency(caller.principal.agency);
  r.set_case_id(request.audit_query().case_id());
  r.set_detail(AuditLog::DescribeQuery(request.audit_query()));
  store::Batch batch = runtime_->store().NewBatch();
  runtime_->AuditInBatch(std::move(r), &batch);
  if (!runtime_->WriteOrReply(&batch, caller)) {
    return;
  }
  asb::v1::Response response;
  *response.mutable_audit() = std::move(*result);
  runtime_->server().Reply(caller, std::move(response));
}

daemon::DaemonSpec AuditSpec() {
  return daemon::MakeSpec<asb::config::v1::AuditConfig, AuditDaemon>("audit", &ValidateAuditConfig);
}

}  // namespace asb::audit
