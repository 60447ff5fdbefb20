#include "services/daemon/runtime.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/agreement/agreement.h"
#include "common/bus/keys.h"
#include "common/log/log.h"
#include "common/model/model.h"
#include "common/status/macros.h"
#include "google/protobuf/util/time_util.h"

namespace asb::daemon {
namespace {

// A stream record whose case was erased is served as an envelope with its sequence number and
// no payload, so the stream stays dense and consumers skip it (and audit the skip) rather than
// stall on a gap.
std::optional<std::string> ErasedPlaceholder(const std::string& producer, std::string_view cf,
                                             std::string_view key) {
  if (cf.rfind("log.", 0) != 0 || key.size() != 8) {
    return std::nullopt;
  }
  asb::v1::Envelope env;
  env.set_seq(store::DecodeSeq(key));
  env.set_producer(producer);
  env.set_event_id(producer + "/" + std::string(cf.substr(4)) + "/" + std::to_string(env.seq()) +
                   " (erased)");
  return env.SerializeAsString();
}

absl::StatusOr<std::shared_ptr<const crypto::KeyRing>> LoadRing(const std::string& prefix) {
  auto ring = crypto::KeyRing::Load(prefix);
  if (!ring.ok()) {
    return absl::Status(ring.status().code(),
                        "store.key_ring: " + std::string(ring.status().message()));
  }
  return std::make_shared<const crypto::KeyRing>(std::move(*ring));
}

}  // namespace

absl::Status ConfigureAtRest(const std::string& component, const std::string& key_ring,
                             store::StoreOptions* options) {
  ASB_ASSIGN_OR_RETURN(options->key_ring, LoadRing(key_ring));
  // The consumers' offsets (the runtime's own column family) are sequence numbers.
  std::vector<std::string>& plaintext = options->plaintext_column_families;
  for (const char* cf : {stream::kOffsetsColumnFamily, kErasureQueueColumnFamily}) {
    if (std::find(plaintext.begin(), plaintext.end(), cf) == plaintext.end()) {
      plaintext.push_back(cf);
    }
  }
  options->erased_placeholder = [component](std::string_view cf, std::string_view key) {
    return ErasedPlaceholder(component, cf, key);
  };
  return absl::OkStatus();
}

Runtime::Runtime(RuntimeOptions options) : options_(std::move(options)) {}

Runtime::~Runtime() {
  admin_.reset();  // its requests run in the loop: stop them first
  consumers_.clear();
  server_.reset();
  auth_.reset();
}

absl::StatusOr<std::unique_ptr<Runtime>> Runtime::Create(RuntimeOptions options) {
  static auto* lg = log::Get("daemon");
  std::unique_ptr<Runtime> rt(new Runtime(std::move(options)));
  RuntimeOptions& o = rt->options_;
  ASB_ASSIGN_OR_RETURN(rt->principals_, auth::Principals::LoadFile(o.isp_file, rt->Now()));
  SPDLOG_LOGGER_INFO(lg, "ISP '{}': {} principals loaded (agencies and principals version {})",
                     rt->principals_->isp_name(), rt->principals_->table()->size(),
                     rt->principals_->version().substr(0, 12));
  rt->isp_version_ = rt->principals_->version();
  rt->WarnAboutAgreement();
  if (o.load_isp) {
    ASB_ASSIGN_OR_RETURN(rt->isp_version_, o.load_isp(o.isp_file));
  }
  ASB_ASSIGN_OR_RETURN(rt->keys_, bus::LoadKeyFile(o.server.key_file(), /*require_secret=*/true));

  store::StoreOptions so = o.layout;
  so.path = o.store.path();
  so.sync = !o.store.unsafe_no_sync();
  metrics::Histogram* fsync = rt->metrics_.GetHistogram(
      "store_fsync_seconds", "Seconds each durable write of the store took (its fsync).",
      metrics::LatencyBuckets());
  so.on_sync = [fsync](double seconds) { fsync->Observe(seconds); };
  if (std::find(o.streams.begin(), o.streams.end(), "audit") == o.streams.end()) {
    o.streams.push_back("audit");
  }
  for (const std::string& name : o.streams) {
    std::string cf = stream::LogColumnFamily(name);
    if (std::find(so.column_families.begin(), so.column_families.end(), cf) ==
        so.column_families.end()) {
      so.column_families.push_back(cf);
    }
  }
  for (const char* cf : {stream::kOffsetsColumnFamily, kErasureQueueColumnFamily}) {
    if (std::find(so.column_families.begin(), so.column_families.end(), cf) ==
        so.column_families.end()) {
      so.column_families.push_back(cf);
    }
  }
  if (!o.store.key_ring().empty()) {
    ASB_RETURN_IF_ERROR(ConfigureAtRest(o.component, o.store.key_ring(), &so));
  } else {
    SPDLOG_LOGGER_WARN(lg, "store {}: no key_ring set: personal data is stored UNENCRYPTED",
                       so.path);
  }
  std::error_code ec;
  std::filesystem::create_directories(so.path, ec);
  ASB_ASSIGN_OR_RETURN(rt->store_, store::Store::Open(so));
  for (const std::string& name : o.streams) {
    ASB_ASSIGN_OR_RETURN(auto log, stream::Log::Open(rt->store_.get(), name, o.component));
    rt->logs_.push_back(std::move(log));
  }
  if (!o.store.unsafe_no_sync()) {
    SPDLOG_LOGGER_INFO(lg, "store {} open (fsync on every commit)", so.path);
  } else {
    SPDLOG_LOGGER_WARN(lg, "store {} open WITHOUT fsync (unsafe_no_sync)", so.path);
  }
  return rt;
}

absl::Status Runtime::Start(Handler handler) {
  static auto* lg = log::Get("daemon");
  handler_ = std::move(handler);
  auth_ = std::make_unique<bus::Authenticator>(&context_, &loop_);
  auth_->SetPrincipals(principals_->table());
  RefusalRecorder::Options ro;
  if (options_.server.refusal_interval_seconds() != 0) {
    ro.interval = absl::Seconds(options_.server.refusal_interval_seconds());
  }
  if (options_.server.max_unauthenticated_refusal_records() != 0) {
    ro.max_unauthenticated = options_.server.max_unauthenticated_refusal_records();
  }
  refusals_ = std::make_unique<RefusalRecorder>(
      ro, [this] { return Now(); },
      [this](std::vector<asb::v1::AuditRecord> records) {
        static auto* lg = log::Get("daemon");
        store::Batch batch = store_->NewBatch();
        for (auto& r : records) {
          AuditInBatch(std::move(r), &batch);
        }
        if (absl::Status s = store_->Write(&batch); !s.ok()) {
          audit_failures_ += records.size();
          SPDLOG_LOGGER_ERROR(lg, "could not record refusals: {}", std::string(s.message()));
        }
      });
  loop_.Every(absl::ToChronoMilliseconds(ro.interval), [this] { refusals_->Flush(); });
  AddCounter(
      "refusals", [this] { return refusals_->refusals(); },
      "Refusals (refused handshakes, malformed requests, requests without the role), every "
      "attempt.");
  AddCounter(
      "refusal_records", [this] { return refusals_->records(); },
      "Access-log records the refusals were folded into (per principal or key, reason and "
      "interval).");
  refused_handshakes_ =
      metrics_.GetCounter("refused_handshakes",
                          "CurveZMQ handshakes refused (unknown or revoked keys), every attempt.");
  auth_->OnRefused([this](const std::string& key_prefix, const std::string& peer) {
    refused_handshakes_->Add();
    // A refused client's libzmq retries the handshake every few hundred ms: folded per key.
    asb::v1::AuditRecord r;
    r.set_kind(asb::v1::AUDIT_KIND_AUTH_FAILED);
    r.set_detail("refused CurveZMQ handshake from key " + key_prefix +
                 (peer.empty() ? "" : " at " + peer));
    refusals_->Refuse(std::move(r), key_prefix, "refused handshake", /*authenticated=*/false);
  });
  bus::ServerOptions so;
  so.api_bind = options_.server.api_bind();
  so.hints_bind = options_.server.hints_bind();
  so.keys = keys_;
  if (options_.server.max_message_bytes() != 0) {
    so.max_message_bytes = options_.server.max_message_bytes();
  }
  // ipc:// endpoints need their directory.
  for (const std::string& ep : {so.api_bind, so.hints_bind}) {
    if (ep.rfind("ipc://", 0) == 0) {
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(ep.substr(6)).parent_path(), ec);
    }
  }
  server_ = std::make_unique<bus::Server>(&context_, &loop_, auth_.get(), so);
  server_->OnBadMessage([this](const bus::Principal& who, const std::string& reason) {
    asb::v1::AuditRecord r;
    r.set_kind(asb::v1::AUDIT_KIND_REJECTION);
    r.set_actor(who.name);
    r.set_actor_agency(who.agency);
    r.set_detail(reason);
    // A failed handshake (no principal) or a principal no longer in the ISP: nobody vouches
    // for it. The failed-handshake reason carries counts that vary: folded by what failed
    // (plaintext, undecryptable, malformed, abandoned), not by how often.
    const bool authenticated = !who.agency.empty();
    std::string what = reason;
    if (who.name.empty()) {
      what.erase(std::remove_if(what.begin(), what.end(),
                                [](unsigned char c) { return std::isdigit(c) != 0; }),
                 what.end());
    }
    refusals_->Refuse(std::move(r), who.name, what, authenticated);
  });
  stream_server_ = std::make_unique<stream::StreamServer>(server_.get());
  for (auto& log : logs_) {
    stream_server_->Register(log.get());
  }
  // Records every configured consumer has passed are deleted (server.stream_retention).
  ASB_RETURN_IF_ERROR(stream_server_->ConfigureRetention(options_.server, store_.get()));
  ASB_RETURN_IF_ERROR(
      server_->Start([this](const bus::Caller& caller, const asb::v1::Request& request) {
        Dispatch(caller, request);
      }));
  // SIGHUP sets a flag; the reload itself runs here, in the loop.
  loop_.Every(std::chrono::milliseconds(200), [this] {
    if (reload_requested_.exchange(false)) {
      if (absl::Status s = ReloadKeyRing(); !s.ok()) {
        SPDLOG_LOGGER_ERROR(log::Get("daemon"), "key ring reload refused, old keys stay: {}",
                            std::string(s.message()));
      }
      if (absl::Status s = Reload(); !s.ok()) {
        SPDLOG_LOGGER_ERROR(log::Get("daemon"), "ISP reload refused, old policy stays: {}",
                            std::string(s.message()));
      }
    }
  });
  RegisterMetrics();
  if (!options_.server.metrics_bind().empty()) {
    AdminServer::Handlers handlers;
    handlers.metrics = [this] { return metrics_.RenderText(); };
    handlers.ready = [this] { return Readiness(); };
    ASB_ASSIGN_OR_RETURN(admin_,
                         AdminServer::Start(options_.server.metrics_bind(), &loop_, handlers));
  }
  // Past its review date every daemon says so, at start, on reload and every six hours.
  loop_.Every(std::chrono::hours(6), [this] { WarnAboutAgreement(); });
  // Cases a crash left queued for shredding.
  DrainErasures();
  SPDLOG_LOGGER_INFO(lg, "{} started", options_.component);
  return absl::OkStatus();
}

void Runtime::WarnAboutAgreement() const {
  static auto* lg = log::Get("daemon");
  using State = agreement::ReviewStatus::State;
  const agreement::ReviewStatus review = agreement::AssessReview(agreement_isp(), Now());
  switch (review.state) {
    case State::kNoAgreement:
      SPDLOG_LOGGER_WARN(lg, "the ISP carries no data sharing agreement (isp.proto: agreement)");
      break;
    case State::kReminder:
      SPDLOG_LOGGER_INFO(lg, "{}", review.Describe());
      break;
    case State::kOverdue:
    case State::kLapsed:  // loaded before it lapsed: the next start or reload refuses it
      SPDLOG_LOGGER_WARN(lg, "{}", review.Describe());
      break;
    case State::kCurrent:
      break;
  }
}

void Runtime::WarnIfRetentionDiffers(asb::config::v1::DataSharingAgreement::RetentionData data,
                                     uint32_t days, const std::string& setting) const {
  const uint32_t agreed = agreement::RetentionDays(agreement_isp(), data);
  if (agreed != 0 && agreed != days) {
    SPDLOG_LOGGER_WARN(log::Get("daemon"),
                       "{} is {} days but the data sharing agreement {} states {} days for {}",
                       setting, days, agreement_isp().agreement().reference(), agreed,
                       asb::config::v1::DataSharingAgreement::RetentionData_Name(data));
  }
}

// The queue's keys: "due/" + case id → CaseErasure (to shred), then "settle/" + case id →
// EncodeSeq(first shred, unix ms) + CaseErasure, shredded once more kSettle later — a record of
// the case fetched before its erasure but applied after the first pass gets a fresh key and is
// caught by the second — and then removed.
namespace {
constexpr char kDuePrefix[] = "due/";
constexpr char kSettlePrefix[] = "settle/";
constexpr auto kSettle = std::chrono::minutes(1);
}  // namespace

void Runtime::QueueErasure(const asb::v1::CaseErasure& erasure, store::Batch* batch) {
  batch->Put(kErasureQueueColumnFamily, kDuePrefix + erasure.case_id(),
             erasure.SerializeAsString());
  batch->OnCommit([this] {
    // Callbacks may run inside another writer's Write: the shredding itself goes to the loop.
    if (!drain_posted_) {
      drain_posted_ = true;
      loop_.RunAfter(std::chrono::milliseconds(0), [this] {
        drain_posted_ = false;
        DrainErasures();
      });
    }
  });
}

void Runtime::DrainErasures() {
  static auto* lg = log::Get("daemon");
  constexpr std::size_t kErasuresPerDrain = 1000;
  struct Queued {
    std::string key;
    asb::v1::CaseErasure erasure;
    bool settling = false;
  };
  const int64_t now_ms = absl::ToUnixMillis(Now());
  const int64_t settle_ms = std::chrono::milliseconds(kSettle).count();
  std::vector<Queued> queued;
  bool settling_later = false;
  {
    auto it = store_->NewIterator(kErasureQueueColumnFamily);
    for (it->SeekToFirst(); it->Valid() && queued.size() < kErasuresPerDrain; it->Next()) {
      const std::string key = it->key().ToString();
      std::string_view value = it->value().ToStringView();
      Queued q{key, {}, false};
      if (key.rfind(kSettlePrefix, 0) == 0) {
        if (value.size() < 8) {
          continue;
        }
        const int64_t first = static_cast<int64_t>(store::DecodeSeq(value));
        if (now_ms - first < settle_ms) {
          settling_later = true;
          continue;
        }
        q.settling = true;
        value.remove_prefix(8);
      }
      if (!q.erasure.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
        q.erasure.set_reference("(unreadable erasure record)");
      }
      q.erasure.set_case_id(
          key.substr(q.settling ? sizeof(kSettlePrefix) - 1 : sizeof(kDuePrefix) - 1));
      queued.push_back(std::move(q));
    }
    if (!it->status().ok()) {
      SPDLOG_LOGGER_ERROR(lg, "erasure queue unreadable: {}", it->status().ToString());
      return;
    }
  }
  if (!queued.empty()) {
    std::vector<std::string> cases;
    for (const Queued& q : queued) {
      cases.push_back(q.erasure.case_id());
    }
    absl::StatusOr<std::vector<int>> destroyed = std::vector<int>(cases.size(), 0);
    if (store_->encrypted()) {
      // The daemon's plaintext keys of the cases first, as for EraseCase.
      absl::Status keys = absl::OkStatus();
      if (case_keys_eraser_) {
        store::Batch batch = store_->NewBatch();
        for (std::size_t i = 0; i < cases.size() && keys.ok(); ++i) {
          keys = case_keys_eraser_(cases[i], &batch);
        }
        if (keys.ok() && !batch.empty()) {
          keys = store_->Write(&batch);
        }
      }
      destroyed = keys.ok() ? store_->EraseSubjects(cases) : absl::StatusOr<std::vector<int>>(keys);
    }
    if (!destroyed.ok()) {
      // Kept queued: retried in a minute (a full disk, an I/O error).
      SPDLOG_LOGGER_ERROR(lg, "{} case(s) not shredded, retrying in a minute: {}", cases.size(),
                          destroyed.status().ToString());
      loop_.RunAfter(std::chrono::minutes(1), [this] { DrainErasures(); });
      return;
    }
    store::Batch batch = store_->NewBatch();
    std::size_t first_passes = 0;
    for (std::size_t i = 0; i < queued.size(); ++i) {
      const Queued& q = queued[i];
      batch.Delete(kErasureQueueColumnFamily, q.key);
      if (!q.settling) {
        ++first_passes;
        batch.Put(kErasureQueueColumnFamily, kSettlePrefix + q.erasure.case_id(),
                  store::EncodeSeq(static_cast<uint64_t>(now_ms)) + q.erasure.SerializeAsString());
      }
      if (q.settling && (*destroyed)[i] == 0) {
        continue;  // nothing arrived late: the first pass's record says it all
      }
      asb::v1::AuditRecord r;
      r.set_kind(asb::v1::AUDIT_KIND_ERASURE);
      r.set_actor(options_.component);
      r.set_actor_agency(auth::kHubAgency);
      r.set_case_id(q.erasure.case_id());
      r.set_detail(absl::StrCat(
          options_.component, ": ", (*destroyed)[i],
          q.settling ? " late case data key(s) destroyed, " : " case data key(s) destroyed, ",
          q.erasure.reference()));
      AuditInBatch(std::move(r), &batch);
    }
    if (absl::Status s = store_->Write(&batch); !s.ok()) {
      // The keys are gone; the marks stay and are done again (destroying nothing) later.
      SPDLOG_LOGGER_ERROR(lg, "erasure records not written, retrying in a minute: {}",
                          s.ToString());
      loop_.RunAfter(std::chrono::minutes(1), [this] { DrainErasures(); });
      return;
    }
    erasures_shredded_ += first_passes;
    if (first_passes > 0) {
      SPDLOG_LOGGER_INFO(lg, "{} case(s) deleted under retention: data keys destroyed",
                         first_passes);
      settling_later = true;
    }
  }
  if (queued.size() == kErasuresPerDrain) {
    loop_.RunAfter(std::chrono::milliseconds(0), [this] { DrainErasures(); });
  } else if (settling_later && !settle_posted_) {
    settle_posted_ = true;
    loop_.RunAfter(kSettle, [this] {
      settle_posted_ = false;
      DrainErasures();
    });
  }
}

absl::StatusOr<stream::Consumer*> Runtime::ConsumeErasures(
    const asb::config::v1::UpstreamConfig& upstream) {
  return AddConsumer(upstream, "erasures",
                     [this](const asb::v1::Envelope& env, store::Batch* batch) -> absl::Status {
                       if (!env.has_case_erasure() || env.case_erasure().case_id().empty()) {
                         return absl::InvalidArgumentError(
                             absl::StrCat("erasures record ", env.seq(), ": no case erasure"));
                       }
                       QueueErasure(env.case_erasure(), batch);
                       return absl::OkStatus();
                     });
}

void Runtime::Run() {
  loop_.Run();
  // What the last interval folded is recorded before the store closes.
  if (refusals_ != nullptr) {
    refusals_->Flush();
  }
  // The last deferred batch (a consumer's) commits while everything its callbacks use is alive.
  if (absl::Status s = store_->Settle(); !s.ok()) {
    SPDLOG_LOGGER_ERROR(log::Get("daemon"), "the last batch did not reach the disk: {}",
                        s.ToString());
  }
}

absl::Status Runtime::Reload() {
  static auto* lg = log::Get("daemon");
  ASB_ASSIGN_OR_RETURN(auth::Principals fresh,
                       auth::Principals::LoadFile(options_.isp_file, Now()));
  // The daemon's own part decides before the new principals take effect, so a file it refuses
  // changes nothing.
  std::string version = fresh.version();
  if (options_.load_isp) {
    ASB_ASSIGN_OR_RETURN(version, options_.load_isp(options_.isp_file));
  }
  isp_version_ = std::move(version);
  const bool same = fresh.version() == principals_->version();
  // Kept even when who may connect is unchanged: the agreement (its review date) may not be.
  principals_ = std::move(fresh);
  WarnAboutAgreement();
  if (same) {
    SPDLOG_LOGGER_INFO(lg, "ISP agencies and principals unchanged (version {})",
                       principals_->version().substr(0, 12));
    return absl::OkStatus();
  }
  // Every message is checked against the table, so a principal no longer listed is cut off at
  // its next message.
  auth_->SetPrincipals(principals_->table());
  SPDLOG_LOGGER_INFO(lg, "ISP agencies and principals reloaded: {} principals, version {}",
                     principals_->table()->size(), principals_->version().substr(0, 12));
  return absl::OkStatus();
}

absl::Status Runtime::ReloadKeyRing() {
  if (options_.store.key_ring().empty()) {
    return absl::OkStatus();
  }
  ASB_ASSIGN_OR_RETURN(auto ring, LoadRing(options_.store.key_ring()));
  return store_->SetKeyRing(std::move(ring));
}

void Runtime::Dispatch(const bus::Caller& caller, const asb::v1::Request& request) {
  switch (request.body_case()) {
    case asb::v1::Request::kPing: {
      asb::v1::Response response;
      auto* ping = response.mutable_ping();
      ping->set_component(options_.component);
      ping->set_principal(caller.principal.name);
      ping->set_agency(caller.principal.agency);
      ping->set_role(caller.principal.role);
      ping->set_isp_version(isp_version_);
      for (const auto& l : logs_) {
        auto* st = ping->add_streams();
        st->set_name(l->name());
        st->set_head(l->head());
      }
      for (const auto& c : consumers_) {
        auto* cs = ping->add_consumers();
        cs->set_upstream(c->upstream());
        cs->set_stream(c->stream());
        cs->set_offset(c->offset());
        cs->set_upstream_head(c->upstream_head());
        cs->set_skipped(c->skipped());
      }
      // The same registry as /metrics.
      for (const auto& [name, value] : metrics_.CounterValues()) {
        auto* counter = ping->add_counters();
        counter->set_name(name);
        counter->set_value(value);
      }
      server_->Reply(caller, std::move(response));
      return;
    }
    case asb::v1::Request::kEraseCase:
      EraseCase(caller, request.erase_case());
      return;
    case asb::v1::Request::kFetch:
      if (!RequireRole(caller, asb::v1::ROLE_DAEMON, "fetch stream " + request.fetch().stream())) {
        return;
      }
      stream_server_->HandleFetch(caller, request.fetch());
      return;
    default:
      handler_(caller, request);
  }
}

void Runtime::EraseCase(const bus::Caller& caller, const asb::v1::EraseCaseRequest& request) {
  if (!RequireRole(caller, asb::v1::ROLE_ADMIN, "erase a case's data")) {
    return;
  }
  auto printable = [](const std::string& s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= 0x20 && c != 0x7f; });
  };
  if (request.case_id().empty() || request.reference().empty() || request.case_id().size() > 128 ||
      request.reference().size() > 128 || !printable(request.case_id()) ||
      !printable(request.reference())) {
    server_->ReplyError(caller, absl::InvalidArgumentError(
                                    "case_id and reference: required, printable, at most 128 "
                                    "characters"));
    return;
  }
  if (case_keys_eraser_ && store_->encrypted()) {
    // Before the data keys go: the eraser may read the case's values to find its keys. (A store
    // without a key ring cannot erase: EraseSubject below refuses, and nothing is deleted.)
    store::Batch batch = store_->NewBatch();
    absl::Status erased = case_keys_eraser_(request.case_id(), &batch);
    if (erased.ok() && !batch.empty()) {
      erased = store_->Write(&batch);
    }
    if (!erased.ok()) {
      server_->ReplyError(caller, erased);
      return;
    }
  }
  absl::StatusOr<int> destroyed = store_->EraseSubject(request.case_id());
  if (!destroyed.ok()) {
    server_->ReplyError(caller, destroyed.status());
    return;
  }
  // Like asb-audit's own erasures, the record names the decision's reference, not the case.
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_ERASURE);
  r.set_actor(caller.principal.name);
  r.set_actor_agency(caller.principal.agency);
  r.set_detail(absl::StrCat(options_.component, ": ", *destroyed,
                            " case data key(s) destroyed, reference ", request.reference()));
  Audit(std::move(r));
  SPDLOG_LOGGER_INFO(log::Get("daemon"), "erasure {}: {} case data key(s) destroyed",
                     request.reference(), *destroyed);
  asb::v1::Response response;
  response.mutable_erase_case()->set_component(options_.component);
  response.mutable_erase_case()->set_keys_destroyed(static_cast<uint32_t>(*destroyed));
  server_->Reply(caller, std::move(response));
}

absl::StatusOr<stream::Consumer*> Runtime::AddConsumer(
    const asb::config::v1::UpstreamConfig& upstream, const std::string& stream_name,
    stream::Consumer::ApplyFn apply) {
  ASB_ASSIGN_OR_RETURN(bus::KeyPair server_key,
                       bus::LoadKeyFile(upstream.server_public_key_file(), false));
  stream::ConsumerOptions co;
  co.upstream = upstream.name();
  co.stream = stream_name;
  co.api_endpoint = upstream.api_endpoint();
  co.hints_endpoint = upstream.hints_endpoint();
  co.server_public_key = server_key.public_key;
  co.keys = keys_;
  if (upstream.batch() != 0) {
    co.batch = upstream.batch();
  }
  if (upstream.poll_interval_ms() != 0) {
    co.poll_interval = std::chrono::milliseconds(upstream.poll_interval_ms());
  }
  co.min_free_bytes = min_free_bytes();
  auto consumer =
      std::make_unique<stream::Consumer>(&context_, &loop_, store_.get(), co, std::move(apply));
  consumer->OnSkipped(
      [this, name = upstream.name()](const asb::v1::Envelope& env, const absl::Status& why) {
        asb::v1::AuditRecord r;
        r.set_kind(asb::v1::AUDIT_KIND_REJECTION);
        r.set_actor(name);
        r.set_ref_seq(env.seq());
        r.set_detail("record " + env.event_id() + " not applied: " + std::string(why.message()));
        Audit(std::move(r));
      });
  ASB_RETURN_IF_ERROR(consumer->Start());
  consumers_.push_back(std::move(consumer));
  return consumers_.back().get();
}

stream::Log* Runtime::log(const std::string& name) const {
  for (const auto& l : logs_) {
    if (l->name() == name) {
      return l.get();
    }
  }
  return nullptr;
}

void Runtime::AuditInBatch(asb::v1::AuditRecord record, store::Batch* batch) {
  record.set_component(options_.component);
  if (!record.has_at()) {
    *record.mutable_at() = model::ToTimestamp(Now());
  }
  if (audit_sink_) {
    audit_sink_(record, batch);
    return;
  }
  asb::v1::Envelope env;
  *env.mutable_audit() = std::move(record);
  log("audit")->Append(batch, &env);
}

void Runtime::Audit(asb::v1::AuditRecord record) {
  static auto* lg = log::Get("daemon");
  store::Batch batch = store_->NewBatch();
  AuditInBatch(std::move(record), &batch);
  if (absl::Status s = store_->Write(&batch); !s.ok()) {
    ++audit_failures_;
    SPDLOG_LOGGER_ERROR(lg, "could not record an audit event: {}", std::string(s.message()));
  }
}

bool Runtime::RequireRole(const bus::Caller& caller, asb::v1::Role role,
                          const std::string& action) {
  if (caller.principal.role == role) {
    return true;
  }
  absl::Status denied = absl::PermissionDeniedError(
      "principal '" + caller.principal.name + "' (" + asb::v1::Role_Name(caller.principal.role) +
      ") may not " + action + ": it needs role " + asb::v1::Role_Name(role));
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_ACCESS_REFUSED);
  r.set_actor(caller.principal.name);
  r.set_actor_agency(caller.principal.agency);
  r.set_detail(std::string(denied.message()));
  refusals_->Refuse(std::move(r), caller.principal.name, std::string(denied.message()),
                    /*authenticated=*/true);
  server_->ReplyError(caller, denied);
  return false;
}

bool Runtime::WriteOrReply(store::Batch* batch, const bus::Caller& caller) {
  static auto* lg = log::Get("daemon");
  if (absl::Status s = store_->Write(batch); !s.ok()) {
    SPDLOG_LOGGER_ERROR(lg, "store write failed: {}", std::string(s.message()));
    server_->ReplyError(caller,
                        absl::UnavailableError("the hub could not store this durably right now (" +
                                               std::string(s.message()) + "); retry later"));
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> Runtime::endpoints() const {
  std::vector<std::pair<std::string, std::string>> out = {{"api", server_->api_endpoint()},
                                                          {"hints", server_->hints_endpoint()}};
  if (admin_ != nullptr) {
    out.emplace_back("metrics", admin_->endpoint());
  }
  return out;
}

}  // namespace asb::daemon
