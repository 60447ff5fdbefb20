#include "services/intake/intake_daemon.h"

#include "common/log/log.h"
#include "common/status/macros.h"
#include "services/daemon/config_checks.h"

namespace asb::intake {

void ValidateIntakeConfig(const asb::config::v1::IntakeConfig& config, config::Violations* v) {
  daemon::CheckLog(config.log(), "log", v);
  daemon::CheckStore(config.store(), "store", v);
  daemon::CheckServer(config.server(), "server", v);
  v->Required("isp_file", config.isp_file());
  if (config.max_events_per_submit() > 10000) {
    v->Add("max_events_per_submit", "at most 10000");
  }
}

absl::StatusOr<std::unique_ptr<IntakeDaemon>> IntakeDaemon::Create(
    const asb::config::v1::IntakeConfig& config) {
  std::unique_ptr<IntakeDaemon> d(new IntakeDaemon());
  d->config_ = config;
  daemon::RuntimeOptions o;
  o.component = "intake";
  o.store = config.store();
  o.server = config.server();
  o.isp_file = config.isp_file();
  o.column_families = IntakeColumnFamilies();
  o.streams = {"events", "audit"};
  ASB_ASSIGN_OR_RETURN(d->runtime_, daemon::Runtime::Create(o));
  daemon::Runtime* rt = d->runtime_.get();
  d->handler_ = std::make_unique<IntakeHandler>(
      &rt->store(), rt->log("events"), rt->log("audit"), [rt] { return rt->Now(); },
      config.max_events_per_submit() != 0 ? config.max_events_per_submit()
                                          : kDefaultMaxEventsPerSubmit);
  return d;
}

absl::Status IntakeDaemon::Start() {
  return runtime_->Start([this](const bus::Caller& caller, const asb::v1::Request& request) {
    Handle(caller, request);
  });
}

void IntakeDaemon::Handle(const bus::Caller& caller, const asb::v1::Request& request) {
  static auto* lg = log::Get("intake");
  if (!request.has_submit()) {
    runtime_->server().ReplyError(
        caller, absl::UnimplementedError("asb-intake answers ping, submit and fetch only"));
    return;
  }
  if (!runtime_->RequireRole(caller, asb::v1::ROLE_FEED, "submit events")) {
    return;
  }
  auto result =
      handler_->Submit(Source{caller.principal.name, caller.principal.agency}, request.submit());
  if (!result.ok()) {
    SPDLOG_LOGGER_WARN(lg, "[{}] submission not accepted: {}", caller.principal.name,
                       std::string(result.status().message()));
    runtime_->server().ReplyError(caller, result.status());
    return;
  }
  SPDLOG_LOGGER_DEBUG(lg, "[{}] submission of {} handled", caller.principal.name,
                      request.submit().events_size());
  asb::v1::Response response;
  *response.mutable_submit() = std::move(*result);
  runtime_->server().Reply(caller, std::move(response));
}

daemon::DaemonSpec IntakeSpec() {
  return daemon::MakeSpec<asb::config::v1::IntakeConfig, IntakeDaemon>("intake",
                                                                       &ValidateIntakeConfig);
}

}  // namespace asb::intake
