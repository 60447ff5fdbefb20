#include "services/audit/audit_daemon.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/macros.h"
#include "common/status/proto_status.h"
#include "services/audit/repair.h"
#include "services/audit/signing_key.h"
#include "services/daemon/config_checks.h"

namespace asb::audit {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("audit");
  return lg;
}

}  // namespace

std::string SigningKeyPath(const asb::config::v1::AuditConfig& config) {
  if (!config.signing_key_file().empty()) {
    return config.signing_key_file();
  }
  return config.store().path() + "/sth-signing.pem";
}

std::string KeptTreeHeadPath(const asb::config::v1::AuditConfig& config) {
  if (!config.kept_tree_head_file().empty()) {
    return config.kept_tree_head_file();
  }
  return config.store().path() + ".last-tree-head.json";
}

void ValidateAuditConfig(const asb::config::v1::AuditConfig& config, config::Violations* v) {
  daemon::CheckLog(config.log(), "log", v);
  daemon::CheckStore(config.store(), "store", v);
  daemon::CheckServer(config.server(), "server", v);
  v->Required("isp_file", config.isp_file());
  if (config.retention_days() > 36500) {
    v->Add("retention_days", "at most 36500 (0 keeps entries forever)");
  }
  if (config.tree_head_interval_seconds() > 86400) {
    v->Add("tree_head_interval_seconds", "at most 86400 (0: the default, 10)");
  }
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
  o.layout = AuditStoreLayout();
  o.streams = {"audit", kTreeHeadsStream};
  ASB_ASSIGN_OR_RETURN(d->runtime_, daemon::Runtime::Create(o));
  daemon::Runtime* rt = d->runtime_.get();
  rt->WarnIfRetentionDiffers(asb::config::v1::DataSharingAgreement::RETENTION_ACCESS_LOG,
                             config.retention_days(), "retention_days");
  d->log_ = std::make_unique<AuditLog>(&rt->store(), [rt] { return rt->Now(); });
  ASB_RETURN_IF_ERROR(d->log_->Load());
  auto key = LoadOrCreateSigningKey(SigningKeyPath(config));
  if (!key.ok()) {
    return key.status();
  }
  ASB_ASSIGN_OR_RETURN(TreeHeadSigner signer, TreeHeadSigner::Create(*std::move(key)));
  d->signer_ = std::make_unique<TreeHeadSigner>(std::move(signer));
  d->heads_ = std::make_unique<TreeHeads>(d->log_.get(), &rt->store(), d->signer_.get(),
                                          KeptTreeHeadPath(config), [rt] { return rt->Now(); });
  d->heads_->SetStream(rt->log(kTreeHeadsStream));
  ASB_RETURN_IF_ERROR(d->heads_->Load());
  // The audit daemon's own records (refused keys, refused requests, auditors' queries) go
  // straight into the log — not while it is damaged (read-only until a repair).
  AuditDaemon* self = d.get();
  rt->SetAuditSink([self](const asb::v1::AuditRecord& record, store::Batch* batch) {
    if (self->log_->read_only()) {
      ++self->unrecorded_;
      return;
    }
    self->log_->Append(record, kSelfOrigin, 0, batch);
  });
  return d;
}

absl::Status AuditDaemon::Start() {
  ASB_RETURN_IF_ERROR(
      runtime_->Start([this](const bus::Caller& caller, const asb::v1::Request& request) {
        Handle(caller, request);
      }));
  if (log_->read_only()) {
    SPDLOG_LOGGER_CRITICAL(Logger(),
                           "the access log is damaged ({} problem(s)): serving queries only; the "
                           "upstreams' audit records wait until an admin runs `asbctl audit "
                           "repair`",
                           log_->damage().size());
  } else {
    ASB_RETURN_IF_ERROR(StartConsumers());
  }
  runtime_->AddCounter(
      "entries", [this] { return log_->size(); }, "Entries appended to the access log (its size).");
  runtime_->AddCounter(
      "pages_read_ahead", [this] { return pages_read_ahead_; },
      "Pages of stored entries read ahead for auditors' verification.");
  // Damage found at start (0 when the log is whole), heads not signed over it, and own records
  // (auditors' queries, refusals) that could not be appended meanwhile.
  runtime_->AddCounter(
      "damage", [this] { return log_->damage().size(); },
      "Problems found in the access log at start (0: whole); each is repaired only by an admin.");
  runtime_->AddCounter(
      "tree_heads_refused", [this] { return heads_->refused(); },
      "Tree heads not signed because the tree was not consistent with the last signed head.");
  runtime_->AddCounter(
      "unrecorded_while_damaged", [this] { return unrecorded_; },
      "The daemon's own records (queries, refusals) not appended while the log was damaged.");
  RegisterMetrics();
  const std::chrono::milliseconds tree_head_interval =
      config_.tree_head_interval_seconds() > 0
          ? std::chrono::seconds(config_.tree_head_interval_seconds())
          : kDefaultTreeHeadInterval;
  runtime_->loop().Every(tree_head_interval, [this] {
    if (auto sth = IssueTreeHead(); !sth.ok()) {
      SPDLOG_LOGGER_WARN(Logger(), "tree head not issued: {}", sth.status().ToString());
    }
  });
  if (config_.retention_days() > 0) {
    RunRetention();
    runtime_->loop().Every(kRetentionInterval, [this] { RunRetention(); });
  }
  return absl::OkStatus();
}

absl::Status AuditDaemon::StartConsumers() {
  if (consuming_) {
    return absl::OkStatus();
  }
  for (const auto& upstream : config_.upstreams()) {
    ASB_RETURN_IF_ERROR(
        runtime_->AddConsumer(upstream, "audit", log_->ApplyFnFor(upstream.name())).status());
  }
  consuming_ = true;
  return absl::OkStatus();
}

void AuditDaemon::RunRetention() {
  if (log_->read_only()) {
    return;  // an EXPIRY entry is an append: not over damage
  }
  // Segments of whole UTC days: the cutoff moves once a day, so one EXPIRY entry a day at most.
  const absl::Time today =
      absl::FromCivil(absl::ToCivilDay(runtime_->Now(), absl::UTCTimeZone()), absl::UTCTimeZone());
  const absl::Time cutoff = today - absl::Hours(24) * static_cast<int>(config_.retention_days());
  read_ahead_.reset();  // it may hold entries about to expire
  auto expired = log_->Expire(cutoff, config_.retention_days());
  if (!expired.ok()) {
    SPDLOG_LOGGER_WARN(Logger(), "audit retention not applied: {}", expired.status().ToString());
  } else if (*expired != 0) {
    SPDLOG_LOGGER_INFO(Logger(), "audit retention: entries 1..{} deleted", *expired);
  }
}

void AuditDaemon::RegisterMetrics() {
  metrics::Registry& m = runtime_->metrics();
  m.AddGaugeFn("audit_log_bytes", "Bytes of the access log's database on disk.", [this] {
    std::error_code ec;
    uint64_t bytes = 0;
    for (const auto& f : std::filesystem::directory_iterator(runtime_->store().path(), ec)) {
      bytes += f.is_regular_file(ec) ? f.file_size(ec) : 0;
    }
    return static_cast<double>(bytes);
  });
  // The newest signed tree head, the one every answer carries (TreeHeads::last).
  auto latest = [this]() -> const std::optional<asb::v1::SignedTreeHead>& {
    return heads_->last();
  };
  m.AddGaugeFn(
      "audit_tree_head_age_seconds",
      "Seconds since the newest signed tree head was issued (-1: none yet).", [this, latest] {
        auto sth = latest();
        if (!sth.has_value()) {
          return -1.0;
        }
        return absl::ToDoubleSeconds(
            runtime_->Now() - absl::FromUnixMillis(static_cast<int64_t>(sth->timestamp_ms())));
      });
  m.AddGaugeFn(
      "audit_unsigned_entries",
      "Entries appended since the newest signed tree head (not yet covered by one).",
      [this, latest] {
        auto sth = latest();
        const uint64_t signed_size = sth.has_value() ? sth->tree_size() : 0;
        return static_cast<double>(log_->size() > signed_size ? log_->size() - signed_size : 0);
      });
}

absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> AuditDaemon::IssueTreeHead() {
  return heads_->Issue();
}

void AuditDaemon::Reply(const bus::Caller& caller, asb::v1::Response response) {
  if (heads_->last().has_value()) {
    *response.mutable_tree_head() = *heads_->last();
  }
  runtime_->server().Reply(caller, std::move(response));
}

void AuditDaemon::ReplyError(const bus::Caller& caller, const absl::Status& status) {
  asb::v1::Response response;
  *response.mutable_status() = ToProto(status);
  Reply(caller, std::move(response));
}

void AuditDaemon::Handle(const bus::Caller& caller, const asb::v1::Request& request) {
  const char* action = nullptr;
  switch (request.body_case()) {
    case asb::v1::Request::kAuditTreeHead:
      // Tree heads and consistency proofs are hashes and sizes: any principal may check the log
      // grows only by appending (a partner system keeping witnesses). Only an auditor makes the
      // hub sign a fresh head.
      HandleTreeHead(caller, request.audit_tree_head());
      return;
    case asb::v1::Request::kAuditConsistencyProof:
      HandleConsistency(caller, request.audit_consistency_proof());
      return;
    case asb::v1::Request::kAuditQuery:
      action = "query the access log";
      break;
    case asb::v1::Request::kAuditInclusionProof:
      action = "prove an access-log entry";
      break;
    case asb::v1::Request::kAuditFrontier:
      action = "read the access log's compact range";
      break;
    case asb::v1::Request::kAuditErase:
      // Admins erase and auditors check: the one who may rewrite entries is not the one who
      // vouches for the log (and an auditor cannot destroy what it is there to verify).
      if (runtime_->RequireRole(caller, asb::v1::ROLE_ADMIN, "erase data from the access log")) {
        HandleErase(caller, request.audit_erase());
      }
      return;
    case asb::v1::Request::kAuditRepair:
      if (runtime_->RequireRole(caller, asb::v1::ROLE_ADMIN, "repair the access log")) {
        HandleRepair(caller, request.audit_repair());
      }
      return;
    default:
      ReplyError(caller, absl::UnimplementedError(
                             "asb-audit answers ping, fetch, audit_query, audit_tree_head, "
                             "audit_inclusion_proof, audit_consistency_proof, audit_frontier, "
                             "audit_erase and audit_repair only"));
      return;
  }
  if (!runtime_->RequireRole(caller, asb::v1::ROLE_AUDITOR, action)) {
    return;
  }
  if (request.body_case() == asb::v1::Request::kAuditFrontier) {
    auto frontier = log_->Frontier(request.audit_frontier().tree_size());
    if (!frontier.ok()) {
      ReplyError(caller, frontier.status());
      return;
    }
    asb::v1::Response response;
    auto* out = response.mutable_audit_frontier();
    out->set_tree_size(request.audit_frontier().tree_size());
    for (auto& h : *frontier) {
      out->add_hashes(std::move(h));
    }
    Reply(caller, std::move(response));
    return;
  }
  if (request.body_case() == asb::v1::Request::kAuditQuery) {
    HandleQuery(caller, request.audit_query());
  } else {
    HandleInclusion(caller, request.audit_inclusion_proof());
  }
}

absl::StatusOr<asb::v1::AuditQueryResponse> AuditDaemon::Answer(
    const asb::v1::AuditQueryRequest& query) {
  if (read_ahead_.has_value() && AuditLog::IsStoredWalk(query) &&
      read_ahead_->first.after_index() == query.after_index() &&
      read_ahead_->first.limit() == query.limit()) {
    asb::v1::AuditQueryResponse page = std::move(read_ahead_->second);
    read_ahead_.reset();
    ++pages_read_ahead_;
    page.set_log_size(log_->size());
    return page;
  }
  read_ahead_.reset();
  return log_->Query(query);
}

void AuditDaemon::ReadAhead(const asb::v1::AuditQueryRequest& query, uint64_t next_after) {
  if (!AuditLog::IsStoredWalk(query) || next_after == 0) {
    return;
  }
  asb::v1::AuditQueryRequest next = query;
  next.set_after_index(next_after);
  auto page = log_->Query(next);
  if (page.ok()) {
    read_ahead_.emplace(std::move(next), *std::move(page));
  }
}

void AuditDaemon::HandleQuery(const bus::Caller& caller, const asb::v1::AuditQueryRequest& query) {
  auto result = Answer(query);
  if (!result.ok()) {
    ReplyError(caller, result.status());
    return;
  }
  // The auditor's query is itself recorded.
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_AUDIT_QUERY);
  r.set_actor(caller.principal.name);
  r.set_actor_agency(caller.principal.agency);
  r.set_case_id(query.case_id());
  if (!query.subject_key().empty()) {
    r.add_subject_keys(query.subject_key());
  }
  r.set_detail(AuditLog::DescribeQuery(query));
  store::Batch batch = runtime_->store().NewBatch();
  runtime_->AuditInBatch(std::move(r), &batch);
  if (!runtime_->WriteOrReply(&batch, caller)) {
    return;
  }
  const uint64_t next_after = result->next_after_index();
  asb::v1::Response response;
  *response.mutable_audit() = std::move(*result);
  Reply(caller, std::move(response));
  // While the reply travels (libzmq's I/O thread) and the verifier hashes it.
  ReadAhead(query, next_after);
}

void AuditDaemon::HandleTreeHead(const bus::Caller& caller,
                                 const asb::v1::AuditTreeHeadRequest& request) {
  absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> latest = heads_->last();
  if (request.fresh() && caller.principal.role == asb::v1::ROLE_AUDITOR && !log_->read_only()) {
    latest = IssueTreeHead();
  }
  if (!latest.ok()) {
    ReplyError(caller, latest.status());
    return;
  }
  asb::v1::Response response;
  auto* out = response.mutable_audit_tree_head();
  if (latest->has_value()) {
    *out->mutable_tree_head() = **latest;
  }
  out->set_public_key_pem(signer_->public_key_pem());
  out->set_expired_through(log_->expired_through());
  for (const auto& d : log_->damage()) {
    *out->add_damage() = d;
  }
  if (request.with_history()) {
    bool more = false;
    auto heads = log_->TreeHeads(request.history_after_size(), 0, &more);
    if (!heads.ok()) {
      ReplyError(caller, heads.status());
      return;
    }
    for (auto& h : *heads) {
      *out->add_history() = std::move(h);
    }
    if (more && out->history_size() > 0) {
      out->set_next_history_after_size(out->history(out->history_size() - 1).tree_size());
    }
  }
  Reply(caller, std::move(response));
}

void AuditDaemon::HandleInclusion(const bus::Caller& caller,
                                  const asb::v1::AuditInclusionProofRequest& request) {
  uint64_t tree_size = request.tree_size();
  std::optional<asb::v1::SignedTreeHead> sth;
  if (request.index() == 0 || request.index() > log_->size()) {
    ReplyError(caller,
               absl::NotFoundError(absl::StrCat("no entry ", request.index(), ": the log has ",
                                                log_->size(), " entries")));
    return;
  }
  if (tree_size == 0) {
    auto latest = log_->LatestTreeHead();
    if (latest.ok() && (!latest->has_value() || (*latest)->tree_size() < request.index())) {
      latest = IssueTreeHead();
    }
    if (!latest.ok()) {
      ReplyError(caller, latest.status());
      return;
    }
    sth = **latest;
    tree_size = sth->tree_size();
  } else {
    auto at = log_->TreeHeadAt(tree_size);
    if (!at.ok()) {
      ReplyError(caller, at.status());
      return;
    }
    sth = *at;
  }
  auto proof = log_->InclusionProof(request.index(), tree_size);
  auto root = log_->RootAt(tree_size);
  auto entry = log_->Get(request.index());
  for (const absl::Status& s : {proof.status(), root.status(), entry.status()}) {
    if (!s.ok()) {
      ReplyError(caller, s);
      return;
    }
  }
  // The entry is disclosed to the auditor: record it like a query.
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_AUDIT_QUERY);
  r.set_actor(caller.principal.name);
  r.set_actor_agency(caller.principal.agency);
  r.set_detail(absl::StrCat("audit proof: entry=", request.index(), " tree_size=", tree_size));
  store::Batch batch = runtime_->store().NewBatch();
  runtime_->AuditInBatch(std::move(r), &batch);
  if (!runtime_->WriteOrReply(&batch, caller)) {
    return;
  }
  asb::v1::Response response;
  auto* out = response.mutable_audit_inclusion_proof();
  *out->mutable_entry() = *std::move(entry);
  out->set_tree_size(tree_size);
  for (auto& h : *proof) {
    out->add_proof(std::move(h));
  }
  if (sth.has_value()) {
    *out->mutable_tree_head() = *sth;
  }
  out->set_root_hash(*root);
  Reply(caller, std::move(response));
}

void AuditDaemon::HandleErase(const bus::Caller& caller,
                              const asb::v1::AuditEraseRequest& request) {
  if (log_->read_only() && !request.dry_run()) {
    ReplyError(caller, absl::FailedPreconditionError(
                           "the access log is damaged: no erasure is recorded until an admin "
                           "runs `asbctl audit repair` (see `asbctl audit verify`)"));
    return;
  }
  asb::v1::AuditRecord who;
  who.set_actor(caller.principal.name);
  who.set_actor_agency(caller.principal.agency);
  store::Batch batch = runtime_->store().NewBatch();
  read_ahead_.reset();  // it may hold entries about to be erased
  auto result = log_->Erase(request, who, &batch);
  if (!result.ok()) {
    ReplyError(caller, result.status());
    return;
  }
  if (!request.dry_run() && !runtime_->WriteOrReply(&batch, caller)) {
    return;
  }
  if (!request.dry_run()) {
    SPDLOG_LOGGER_INFO(Logger(), "erasure entry {}: {} entries erased", result->erasure_index(),
                       result->erased_size());
  }
  asb::v1::Response response;
  *response.mutable_audit_erase() = *std::move(result);
  Reply(caller, std::move(response));
}

void AuditDaemon::HandleRepair(const bus::Caller& caller,
                               const asb::v1::AuditRepairRequest& request) {
  asb::v1::AuditRecord who;
  who.set_actor(caller.principal.name);
  who.set_actor_agency(caller.principal.agency);
  read_ahead_.reset();
  auto repaired = RepairLog(log_.get(), heads_.get(), &runtime_->store(), request, who);
  if (!repaired.ok()) {
    ReplyError(caller, repaired.status());
    return;
  }
  if (!request.dry_run()) {
    if (absl::Status s = StartConsumers(); !s.ok()) {
      SPDLOG_LOGGER_ERROR(Logger(), "after the repair, consumers did not start: {}", s.ToString());
    }
  }
  asb::v1::Response response;
  *response.mutable_audit_repair() = *std::move(repaired);
  Reply(caller, std::move(response));
}

void AuditDaemon::HandleConsistency(const bus::Caller& caller,
                                    const asb::v1::AuditConsistencyProofRequest& request) {
  if (request.first_size() == 0) {
    ReplyError(caller, absl::InvalidArgumentError("first_size: must be at least 1"));
    return;
  }
  auto proof = log_->ConsistencyProof(request.first_size(), request.second_size());
  if (!proof.ok()) {
    ReplyError(caller, proof.status());
    return;
  }
  auto first = log_->RootAt(request.first_size());
  auto second = log_->RootAt(request.second_size());
  for (const absl::Status& s : {first.status(), second.status()}) {
    if (!s.ok()) {
      ReplyError(caller, s);
      return;
    }
  }
  asb::v1::Response response;
  auto* out = response.mutable_audit_consistency_proof();
  out->set_first_size(request.first_size());
  out->set_second_size(request.second_size());
  for (auto& h : *proof) {
    out->add_proof(std::move(h));
  }
  out->set_first_root(*first);
  out->set_second_root(*second);
  Reply(caller, std::move(response));
}

daemon::DaemonSpec AuditSpec() {
  return daemon::MakeSpec<asb::config::v1::AuditConfig, AuditDaemon>("audit", &ValidateAuditConfig);
}

}  // namespace asb::audit
