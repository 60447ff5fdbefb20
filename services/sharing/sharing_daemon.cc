#include "services/sharing/sharing_daemon.h"

#include "absl/strings/str_cat.h"
#include "asb/v1/disclosure.pb.h"
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
  o.streams = {"disclosures", "audit", "erasures"};
  o.load_isp = [self = d.get()](const std::string& isp_file) { return self->LoadPolicy(isp_file); };
  ASB_ASSIGN_OR_RETURN(d->runtime_, daemon::Runtime::Create(o));
  daemon::Runtime* rt = d->runtime_.get();
  d->folder_ = std::make_unique<CaseFolder>(&rt->store());
  d->folder_->SetRiskMatrix(d->risk_);
  d->folder_->SetCaseReviewProcedure(d->procedure_);
  d->handler_ = std::make_unique<SharingHandler>(d->folder_.get(), rt->log("disclosures"),
                                                 rt->log("audit"), [rt] { return rt->Now(); });
  d->handler_->SetPolicy(d->policy_);
  d->victim_index_ = std::make_unique<VictimIndex>(&rt->store());
  d->handler_->SetVictimIndex(d->victim_index_.get());
  d->aggregates_ = std::make_unique<Aggregates>(&rt->store());
  d->handler_->SetAggregates(d->aggregates_.get());
  d->intelligence_ = std::make_unique<IntelligenceHandler>(d->aggregates_.get(), rt->log("audit"),
                                                           [rt] { return rt->Now(); });
  d->intelligence_->SetPolicy(d->policy_);
  d->retention_ = std::make_unique<Retention>(&rt->store(), d->folder_.get(),
                                              rt->log("disclosures"), rt->log("erasures"),
                                              rt->log("audit"), [rt] { return rt->Now(); });
  d->handler_->SetRetention(d->retention_.get());
  d->retention_->SetVictimIndex(d->victim_index_.get());
  // `asbctl case erase`: the victim index's keys carry the case id, the person ids and the match
  // keys in plaintext; they go with the case (retention deletes them in its own batch).
  rt->SetCaseKeysEraser(
      [index = d->victim_index_.get()](const std::string& case_id, store::Batch* batch) {
        return index->DeleteCases({case_id}, batch);
      });
  // Closed cases of a store from before case retention get their timers (once).
  ASB_ASSIGN_OR_RETURN(int backfilled, d->retention_->Backfill());
  if (backfilled > 0) {
    SPDLOG_LOGGER_INFO(log::Get("sharing"), "retention timers set for {} closed cases", backfilled);
  }
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
  ASB_RETURN_IF_ERROR(LoadVictimFiles(fresh->agencies()));
  policy_ = std::move(fresh);
  if (handler_ != nullptr) {
    handler_->SetPolicy(policy_);
  }
  if (intelligence_ != nullptr) {
    intelligence_->SetPolicy(policy_);
  }
  return policy_->version();
}

absl::Status SharingDaemon::LoadVictimFiles(const std::vector<std::string>& agencies) {
  static auto* lg = log::Get("sharing");
  const bool starting = folder_ == nullptr;
  if (!config_.risk_matrix_file().empty()) {
    auto loaded = victims::RiskMatrix::LoadFile(config_.risk_matrix_file(), agencies);
    if (loaded.ok()) {
      risk_ = std::move(*loaded);
    } else if (starting || risk_ == nullptr) {
      return absl::Status(loaded.status().code(),
                          absl::StrCat("risk matrix: ", loaded.status().message()));
    } else {
      SPDLOG_LOGGER_ERROR(lg, "risk matrix reload refused, {} stays: {}", risk_->version(),
                          std::string(loaded.status().message()));
    }
  }
  if (!config_.case_review_file().empty()) {
    auto loaded = victims::CaseReviewProcedure::LoadFile(config_.case_review_file(), agencies);
    if (loaded.ok()) {
      procedure_ = std::move(*loaded);
    } else if (starting || procedure_ == nullptr) {
      return absl::Status(loaded.status().code(),
                          absl::StrCat("ASB case review procedure: ", loaded.status().message()));
    } else {
      SPDLOG_LOGGER_ERROR(lg, "ASB case review procedure reload refused, {} stays: {}",
                          procedure_->version(), std::string(loaded.status().message()));
    }
  }
  if (folder_ != nullptr) {
    folder_->SetRiskMatrix(risk_);
    folder_->SetCaseReviewProcedure(procedure_);
  }
  return absl::OkStatus();
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
  runtime_->AddCounter(
      "undelivered_notices", [this] { return handler_->undelivered_notices(); },
      "Statutory notices that named no agency the ISP lets see the case (each audited).");
  runtime_->AddCounter("cases_deleted", [this] { return retention_->cases_deleted(); });
  runtime_->AddCounter("hub_notices", [this] { return retention_->notices_sent(); });
  ASB_ASSIGN_OR_RETURN(
      stream::Consumer * consumer,
      runtime_->AddConsumer(config_.intake(), "events",
                            [this](const asb::v1::Envelope& env, store::Batch* batch) {
                              return handler_->ApplyEvent(env, batch);
                            }));
  // Backpressure: intake's events wait while sharing's own consumers (notify, audit) lag more
  // than the bound, so a slow notify or audit backs intake up instead of this backlog growing.
  if (!config_.backpressure().disabled()) {
    const uint64_t max_lag = config_.backpressure().max_lag() != 0
                                 ? config_.backpressure().max_lag()
                                 : kDefaultMaxDownstreamLag;
    stream::StreamServer* streams = &runtime_->stream_server();
    consumer->HoldWhile([streams, max_lag] {
      const stream::StreamServer::ConsumerLag slowest = streams->Slowest();
      if (slowest.lag <= max_lag) {
        return absl::OkStatus();
      }
      return absl::UnavailableError(absl::StrCat(slowest.consumer, " is ", slowest.lag,
                                                 " records behind on stream ", slowest.stream,
                                                 " (bound ", max_lag, ")"));
    });
    streams->OnPositionAdvanced([consumer] {
      if (consumer->held()) {
        consumer->Resume();
      }
    });
  }
  // A case closed long ago (backfilled history) is due the moment its closure commits.
  consumer->OnCommitted([this](uint64_t) {
    if (policy_ != nullptr && retention_->AnyExpired(*policy_).value_or(false)) {
      RunRetention();
    }
  });
  runtime_->loop().Every(std::chrono::seconds(kRetentionCheckSeconds), [this] { RunRetention(); });
  RunRetention();
  return absl::OkStatus();
}

void SharingDaemon::RunRetention() {
  static auto* lg = log::Get("sharing");
  if (policy_ == nullptr) {
    return;
  }
  store::Batch batch = runtime_->store().NewBatch();
  auto erasures = retention_->DeleteExpired(*policy_, kRetentionBatch, &batch);
  if (!erasures.ok()) {
    // The batch is dropped unwritten; the next check tries again.
    SPDLOG_LOGGER_WARN(lg, "retention not applied: {}", erasures.status().ToString());
    return;
  }
  if (!erasures->empty() && runtime_->store().encrypted()) {
    // Shredded here BEFORE the erasure records go out: once asb-intake and asb-notify see them,
    // whatever they have not fetched yet of these cases reads as erased here (placeholders).
    // A crash between this and the write below deletes again (destroying nothing) at restart.
    std::vector<std::string> cases;
    for (const asb::v1::CaseErasure& e : *erasures) {
      cases.push_back(e.case_id());
    }
    absl::StatusOr<std::vector<int>> destroyed = runtime_->store().EraseSubjects(cases);
    if (!destroyed.ok()) {
      SPDLOG_LOGGER_WARN(lg, "retention: {} case(s) not shredded, retrying: {}", cases.size(),
                         destroyed.status().ToString());
      return;  // the batch is dropped unwritten
    }
  }
  if (absl::StatusOr<bool> noticed = retention_->NoticeReview(*policy_, &batch); !noticed.ok()) {
    SPDLOG_LOGGER_WARN(lg, "agreement review notice not sent: {}", noticed.status().ToString());
  }
  if (batch.empty()) {
    return;
  }
  if (absl::Status s = runtime_->store().Write(&batch); !s.ok()) {
    SPDLOG_LOGGER_WARN(lg, "retention not applied: {}", s.ToString());
    return;
  }
  if (erasures->size() == kRetentionBatch) {
    runtime_->loop().RunAfter(std::chrono::milliseconds(0), [this] { RunRetention(); });
  }
}

void SharingDaemon::Handle(const bus::Caller& caller, const asb::v1::Request& request) {
  if (request.has_explain_case()) {
    Explain(caller, request.explain_case());
    return;
  }
  if (request.has_list_orders()) {
    ListOrders(caller, request.list_orders());
    return;
  }
  if (request.has_hotspots() || request.has_indicators()) {
    Intelligence(caller, request);
    return;
  }
  if (request.has_list_case_reviews() || request.has_repeat_victims()) {
    Victims(caller, request);
    return;
  }
  if (!request.has_get_case()) {
    runtime_->server().ReplyError(
        caller, absl::UnimplementedError("asb-sharing answers ping, get_case, list_orders, "
                                         "explain_case, hotspots, indicators, "
                                         "list_case_reviews, repeat_victims and fetch only"));
    return;
  }
  if (!runtime_->RequireRole(caller, asb::v1::ROLE_PARTNER, "read case views")) {
    return;
  }
  store::Batch batch = runtime_->store().NewBatch();
  auto view =
      handler_->GetCase(caller.principal.name, caller.principal.agency, request.get_case(), &batch);
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

void SharingDaemon::ListOrders(const bus::Caller& caller,
                               const asb::v1::ListOrdersRequest& request) {
  if (!runtime_->RequireRole(caller, asb::v1::ROLE_PARTNER, "list orders")) {
    return;
  }
  store::Batch batch = runtime_->store().NewBatch();
  auto listed =
      handler_->ListOrders(caller.principal.name, caller.principal.agency, request, &batch);
  if (!listed.ok()) {
    runtime_->server().ReplyError(caller, listed.status());
    return;
  }
  // Each consultation is recorded durably before the orders leave.
  if (!batch.empty() && !runtime_->WriteOrReply(&batch, caller)) {
    return;
  }
  asb::v1::Response response;
  *response.mutable_orders() = std::move(*listed);
  runtime_->server().Reply(caller, std::move(response));
}

void SharingDaemon::Victims(const bus::Caller& caller, const asb::v1::Request& request) {
  if (!runtime_->RequireRole(
          caller, asb::v1::ROLE_PARTNER,
          request.has_list_case_reviews() ? "list ASB case reviews" : "list repeat victims")) {
    return;
  }
  store::Batch batch = runtime_->store().NewBatch();
  asb::v1::Response response;
  absl::Status status;
  if (request.has_list_case_reviews()) {
    auto listed = handler_->ListCaseReviews(caller.principal.name, caller.principal.agency,
                                            request.list_case_reviews(), &batch);
    status = listed.status();
    if (listed.ok()) {
      *response.mutable_case_reviews() = std::move(*listed);
    }
  } else {
    auto listed = handler_->RepeatVictims(caller.principal.name, caller.principal.agency,
                                          request.repeat_victims(), &batch);
    status = listed.status();
    if (listed.ok()) {
      *response.mutable_repeat_victims() = std::move(*listed);
    }
  }
  if (!status.ok()) {
    // A refused officer check leaves its ACCESS_REFUSED record in the batch: keep it on the
    // record (best effort: the answer is the refusal either way).
    if (!batch.empty()) {
      runtime_->store().Write(&batch).IgnoreError();
    }
    runtime_->server().ReplyError(caller, status);
    return;
  }
  // Each consultation is recorded durably before the data leaves.
  if (!batch.empty() && !runtime_->WriteOrReply(&batch, caller)) {
    return;
  }
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
    if (!batch.empty()) {
      // A refusal's ACCESS_REFUSED record; the answer is the refusal either way.
      runtime_->store().Write(&batch).IgnoreError();
    }
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
