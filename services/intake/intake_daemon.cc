#include "services/intake/intake_daemon.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "asb/config/v1/isp.pb.h"
#include "common/auth/principals.h"
#include "common/config/config.h"
#include "common/log/log.h"
#include "common/status/macros.h"
#include "common/stream/disk_space.h"
#include "services/daemon/config_checks.h"
#include "services/intake/order_ledger.h"

namespace asb::intake {

void ValidateIntakeConfig(const asb::config::v1::IntakeConfig& config, config::Violations* v) {
  daemon::CheckLog(config.log(), "log", v);
  daemon::CheckStore(config.store(), "store", v);
  daemon::CheckServer(config.server(), "server", v);
  v->Required("isp_file", config.isp_file());
  if (config.max_events_per_submit() > 10000) {
    v->Add("max_events_per_submit", "at most 10000");
  }
  constexpr int64_t kHundredYears = 3153600000;
  if (config.clock().offset_seconds() < -kHundredYears ||
      config.clock().offset_seconds() > kHundredYears) {
    v->Add("clock.offset_seconds", "between -3153600000 and 3153600000 (100 years)");
  }
  if (config.has_sharing()) {
    daemon::CheckUpstream(config.sharing(), "sharing", v);
  }
}

absl::StatusOr<std::string> IntakeDaemon::LoadIspPart(const std::string& isp_file) {
  static auto* lg = log::Get("intake");
  ASB_ASSIGN_OR_RETURN(auth::Principals principals, auth::Principals::LoadFile(isp_file));
  // Only the agency ids: the rules table names agencies (consultees, escalation, informed).
  asb::config::v1::Isp isp;
  ASB_RETURN_IF_ERROR(config::LoadConfigFile(isp_file, &isp));
  std::vector<std::string> agencies;
  for (const auto& a : isp.agencies()) {
    agencies.push_back(a.id());
  }
  std::shared_ptr<const orders::StatutoryRules> rules = orders::StatutoryRules::Empty();
  if (!config_.statutory_rules_file().empty()) {
    absl::StatusOr<std::shared_ptr<const orders::StatutoryRules>> loaded =
        orders::StatutoryRules::LoadFile(config_.statutory_rules_file(), agencies);
    if (!loaded.ok()) {
      if (rules_ == nullptr) {
        return absl::Status(loaded.status().code(),
                            absl::StrCat("statutory rules: ", loaded.status().message()));
      }
      // A bad reload changes nothing: the rules (and the agencies they were checked against)
      // stay in force; the ISP's principals still reload.
      SPDLOG_LOGGER_ERROR(lg, "statutory rules reload refused, the rules in force stay ({}): {}",
                          rules_->version(), std::string(loaded.status().message()));
      return principals.version();
    }
    rules = std::move(*loaded);
  }
  if (rules_ == nullptr || rules_->version() != rules->version()) {
    SPDLOG_LOGGER_INFO(lg, "statutory rules {} {}: {} rules",
                       rules_ == nullptr ? "loaded" : "reloaded", rules->version(),
                       rules->rule_count());
  }
  ASB_RETURN_IF_ERROR(LoadVictimFiles(agencies));
  rules_ = std::move(rules);
  agencies_ = std::move(agencies);
  if (handler_ != nullptr) {
    handler_->SetCaseReviewProcedure(procedure_);
    handler_->SetRiskMatrix(risk_);
    handler_->SetRules(rules_);
    handler_->SetAgencies(agencies_);
  }
  return principals.version();
}

absl::Status IntakeDaemon::LoadVictimFiles(const std::vector<std::string>& agencies) {
  static auto* lg = log::Get("intake");
  const bool starting = handler_ == nullptr;
  if (!config_.case_review_file().empty()) {
    absl::StatusOr<std::shared_ptr<const victims::CaseReviewProcedure>> loaded =
        victims::CaseReviewProcedure::LoadFile(config_.case_review_file(), agencies);
    if (!loaded.ok()) {
      if (starting || procedure_ == nullptr) {
        return absl::Status(loaded.status().code(),
                            absl::StrCat("ASB case review procedure: ", loaded.status().message()));
      }
      SPDLOG_LOGGER_ERROR(lg, "ASB case review procedure reload refused, {} stays: {}",
                          procedure_->version(), std::string(loaded.status().message()));
    } else {
      if (procedure_ == nullptr || procedure_->version() != (*loaded)->version()) {
        SPDLOG_LOGGER_INFO(lg, "ASB case review procedure {} loaded: threshold {} in {} months",
                           (*loaded)->version(), (*loaded)->config().complaint_threshold(),
                           (*loaded)->config().window_months());
      }
      procedure_ = std::move(*loaded);
    }
  }
  if (!config_.risk_matrix_file().empty()) {
    absl::StatusOr<std::shared_ptr<const victims::RiskMatrix>> loaded =
        victims::RiskMatrix::LoadFile(config_.risk_matrix_file(), agencies);
    if (!loaded.ok()) {
      if (starting || risk_ == nullptr) {
        return absl::Status(loaded.status().code(),
                            absl::StrCat("risk matrix: ", loaded.status().message()));
      }
      SPDLOG_LOGGER_ERROR(lg, "risk matrix reload refused, {} stays: {}", risk_->version(),
                          std::string(loaded.status().message()));
    } else {
      risk_ = std::move(*loaded);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<IntakeDaemon>> IntakeDaemon::Create(
    const asb::config::v1::IntakeConfig& config) {
  static auto* lg = log::Get("intake");
  std::unique_ptr<IntakeDaemon> d(new IntakeDaemon());
  d->config_ = config;
  d->clock_ = std::make_unique<clock::SystemClock>(absl::Seconds(config.clock().offset_seconds()));
  if (config.clock().offset_seconds() != 0) {
    SPDLOG_LOGGER_WARN(lg,
                       "the hub's clock runs {} s off the system clock (clock.offset_seconds): "
                       "for rehearsals and tests only",
                       config.clock().offset_seconds());
  }
  d->min_free_bytes_ = config.store().min_free_mb() != 0
                           ? uint64_t{config.store().min_free_mb()} << 20
                           : stream::kDefaultMinFreeBytes;
  if (!config.backpressure().disabled()) {
    d->max_lag_ = config.backpressure().max_lag() != 0 ? config.backpressure().max_lag()
                                                       : kDefaultMaxPipelineLag;
  }
  daemon::RuntimeOptions o;
  o.component = "intake";
  o.store = config.store();
  o.server = config.server();
  o.isp_file = config.isp_file();
  o.layout = IntakeStoreLayout();
  o.streams = {"events", "audit"};
  o.load_isp = [self = d.get()](const std::string& isp_file) {
    return self->LoadIspPart(isp_file);
  };
  ASB_ASSIGN_OR_RETURN(d->runtime_, daemon::Runtime::Create(o));
  daemon::Runtime* rt = d->runtime_.get();
  const clock::Clock* hub_clock = d->clock_.get();
  d->handler_ = std::make_unique<IntakeHandler>(
      &rt->store(), rt->log("events"), rt->log("audit"), [hub_clock] { return hub_clock->Now(); },
      config.max_events_per_submit() != 0 ? config.max_events_per_submit()
                                          : kDefaultMaxEventsPerSubmit);
  d->handler_->SetRules(d->rules_);
  d->handler_->SetAgencies(d->agencies_);
  d->handler_->SetCaseReviewProcedure(d->procedure_);
  d->handler_->SetRiskMatrix(d->risk_);
  // An erased case (`asbctl case erase`, or retention's erasures stream): the ledgers' keys (the
  // victim ledger's, the order ledger's orders and people: case_id '\0' …) name the case and
  // its people in plaintext; they go with the case.
  rt->SetCaseKeysEraser([](const std::string& case_id, store::Batch* batch) {
    batch->DeleteRange(kLedgerColumnFamily, case_id + std::string(1, '\0'),
                       case_id + std::string(1, '\1'));
    return absl::OkStatus();
  });
  return d;
}

absl::Status IntakeDaemon::Start() {
  ASB_RETURN_IF_ERROR(
      runtime_->Start([this](const bus::Caller& caller, const asb::v1::Request& request) {
        Handle(caller, request);
      }));
  // The server exists once started; no request is read before the loop runs.
  runtime_->server().OnDrained([this] { Flush(); });
  metrics::Registry& m = runtime_->metrics();
  accepted_ = m.GetCounter("events_accepted", "Events accepted (stored with a hub sequence).");
  duplicate_ = m.GetCounter("events_duplicate",
                            "Events answered DUPLICATE (their source event id was stored before).");
  runtime_->AddCounter(
      "conflicts", [this] { return handler_->conflicts(); },
      "Resubmissions refused because their content differs from the stored copy (also in "
      "events_refused{reason=\"already_exists\"}).");
  backpressure_refusals_ = m.GetCounter(
      "backpressure_refusals",
      "Submissions refused UNAVAILABLE because the pipeline lagged more than "
      "backpressure.max_lag records (their events are in events_refused{reason=\"unavailable\"}).");
  if (max_lag_ == 0) {
    SPDLOG_LOGGER_WARN(log::Get("intake"),
                       "backpressure disabled: the backlog may grow without bound at saturation");
  } else if (config_.server().stream_retention_size() == 0) {
    SPDLOG_LOGGER_WARN(log::Get("intake"),
                       "no server.stream_retention consumers configured: backpressure knows no "
                       "consumer to wait for");
  }
  runtime_->AddCounter(
      "failed_group_writes", [this] { return handler_->failed_groups(); },
      "Groups of submissions whose write failed (each answered UNAVAILABLE).");
  // The hub's clock: the orders' timers fire in the loop, exactly once.
  clock::TimerService::Options timer_options;
  // Like a submission, a timer's write waits while the disk is nearly full.
  timer_options.may_write = [this] {
    return stream::CheckFreeSpace(runtime_->store().path(), min_free_bytes_);
  };
  timer_service_ = std::make_unique<clock::TimerService>(
      &runtime_->loop(), &runtime_->store(), &handler_->timers(), clock_.get(),
      [this](const clock::Timer& t, store::Batch* batch) { return handler_->FireTimer(t, batch); },
      timer_options);
  timer_service_->OnDropped([this](const clock::Timer&, const absl::Status& why) {
    asb::v1::AuditRecord r;
    r.set_kind(asb::v1::AUDIT_KIND_REJECTION);
    r.set_actor(kHubSource);
    r.set_actor_agency(kHubSource);
    r.set_detail(absl::StrCat("a clock timer was dropped without firing: ", why.message()));
    runtime_->Audit(std::move(r));
  });
  timer_service_->Start();
  runtime_->AddCounter(
      "hub_events", [this] { return handler_->hub_events(); },
      "Events the hub made itself (order expiry, statutory notices), appended to events.");
  runtime_->AddCounter(
      "timers_fired", [this] { return timer_service_->fired(); },
      "Clock timers fired (each exactly once).");
  runtime_->AddCounter(
      "timers_dropped", [this] { return timer_service_->dropped(); },
      "Clock timers dropped without firing (each audited as a REJECTION).");
  // Cases asb-sharing deleted under the agreement's retention: their events are shredded here.
  if (config_.has_sharing()) {
    ASB_RETURN_IF_ERROR(runtime_->ConsumeErasures(config_.sharing()).status());
  } else {
    SPDLOG_LOGGER_WARN(log::Get("intake"),
                       "no 'sharing' upstream configured: events of cases deleted under the "
                       "agreement's retention stay until stream retention deletes them");
  }
  return absl::OkStatus();
}

void IntakeDaemon::Handle(const bus::Caller& caller, const asb::v1::Request& request) {
  if (!request.has_submit()) {
    runtime_->server().ReplyError(
        caller, absl::UnimplementedError("asb-intake answers ping, submit and fetch only"));
    return;
  }
  if (!runtime_->RequireRole(caller, asb::v1::ROLE_FEED, "submit events")) {
    return;
  }
  if (absl::Status busy = Backpressure(); !busy.ok()) {
    backpressure_refusals_->Add();
    Count(request.submit(), busy);
    runtime_->server().ReplyError(caller, busy);
    return;
  }
  // Bounds one group's batch (and memory): flush early when it would grow past this.
  constexpr std::size_t kMaxGroupEvents = 20000;
  if (pending_events_ + request.submit().events_size() > kMaxGroupEvents) {
    Flush();
  }
  pending_events_ += request.submit().events_size();
  pending_.push_back(PendingSubmit{caller, request.submit()});
}

absl::Status IntakeDaemon::Backpressure() {
  static auto* lg = log::Get("intake");
  if (max_lag_ == 0) {
    return absl::OkStatus();
  }
  const stream::StreamServer::ConsumerLag slowest = runtime_->stream_server().Slowest();
  if (slowest.lag <= max_lag_) {
    backpressure_ = false;
    return absl::OkStatus();
  }
  const std::string why = absl::StrCat("the pipeline is ", slowest.lag, " events behind (stream ",
                                       slowest.stream, ", consumer ", slowest.consumer, "; bound ",
                                       max_lag_, "): nothing was stored; retry later");
  // At saturation the lag swings about the bound: one line per episode, at most every 10 s.
  ++refused_since_log_;
  const absl::Time now = absl::Now();
  if (!backpressure_ && now - last_backpressure_log_ >= absl::Seconds(10)) {
    SPDLOG_LOGGER_WARN(lg, "refusing submissions ({} refused since the last such line): {}",
                       refused_since_log_, why);
    last_backpressure_log_ = now;
    refused_since_log_ = 0;
  }
  backpressure_ = true;
  return absl::UnavailableError(why);
}

void IntakeDaemon::Flush() {
  static auto* lg = log::Get("intake");
  if (pending_.empty()) {
    return;
  }
  std::vector<PendingSubmit> pending = std::move(pending_);
  pending_.clear();
  pending_events_ = 0;
  // A full disk is refused here, before RocksDB meets it: nothing stored, nothing acknowledged.
  if (absl::Status space = stream::CheckFreeSpace(runtime_->store().path(), min_free_bytes_);
      !space.ok()) {
    if (!short_of_space_) {
      SPDLOG_LOGGER_ERROR(lg, "refusing submissions: {}", space.ToString());
      short_of_space_ = true;
    }
    for (const PendingSubmit& p : pending) {
      Count(p.request, space);
      runtime_->server().ReplyError(p.caller, space);
    }
    return;
  }
  if (short_of_space_) {
    SPDLOG_LOGGER_INFO(lg, "free space is back: accepting submissions again");
    short_of_space_ = false;
  }
  std::vector<IntakeHandler::Submission> group;
  group.reserve(pending.size());
  for (const PendingSubmit& p : pending) {
    group.push_back(IntakeHandler::Submission{
        Source{p.caller.principal.name, p.caller.principal.agency}, &p.request});
  }
  std::vector<absl::StatusOr<asb::v1::SubmitResponse>> results = handler_->SubmitGroup(group);
  SPDLOG_LOGGER_DEBUG(lg, "group of {} submissions handled", pending.size());
  for (std::size_t i = 0; i < pending.size(); ++i) {
    Count(pending[i].request, results[i]);
    if (!results[i].ok()) {
      SPDLOG_LOGGER_WARN(lg, "[{}] submission not accepted: {}", pending[i].caller.principal.name,
                         std::string(results[i].status().message()));
      runtime_->server().ReplyError(pending[i].caller, results[i].status());
      continue;
    }
    asb::v1::Response response;
    *response.mutable_submit() = std::move(*results[i]);
    runtime_->server().Reply(pending[i].caller, std::move(response));
  }
  // The group may have scheduled deadlines that are due (backfill): look at once.
  if (timer_service_ != nullptr) {
    timer_service_->Poke();
  }
}

void IntakeDaemon::Count(const asb::v1::SubmitRequest& request,
                         const absl::StatusOr<asb::v1::SubmitResponse>& result) {
  // The reason is the status code (invalid_argument, unavailable, ...): a fixed set, never a
  // value from the event.
  auto refused = [this](absl::StatusCode code, uint64_t n) {
    runtime_->metrics()
        .GetCounter("events_refused", "Events refused, by the status code of the refusal.",
                    {{"reason", absl::AsciiStrToLower(absl::StatusCodeToString(code))}})
        ->Add(n);
  };
  if (!result.ok()) {
    refused(result.status().code(), static_cast<uint64_t>(request.events_size()));
    return;
  }
  for (const asb::v1::SubmitResult& r : result->results()) {
    switch (r.outcome()) {
      case asb::v1::SubmitResult::OUTCOME_ACCEPTED:
        accepted_->Add();
        break;
      case asb::v1::SubmitResult::OUTCOME_DUPLICATE:
        duplicate_->Add();
        break;
      default:
        refused(static_cast<absl::StatusCode>(r.status().code()), 1);
    }
  }
}

daemon::DaemonSpec IntakeSpec() {
  return daemon::MakeSpec<asb::config::v1::IntakeConfig, IntakeDaemon>("intake",
                                                                       &ValidateIntakeConfig);
}

}  // namespace asb::intake
