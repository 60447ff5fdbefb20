#include "services/intake/intake_handler.h"

#include <string_view>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asb/v1/audit.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/crypto/crypto.h"
#include "common/log/log.h"
#include "common/model/model.h"
#include "common/status/macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/daemon/store_layout.h"

namespace asb::intake {
namespace {

using ::asb::model::ToTimestamp;

using asb::v1::CaseEvent;
using google::protobuf::Timestamp;

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("intake");
  return lg;
}

constexpr char kComponent[] = "intake";

constexpr std::size_t kSeqBytes = 8;
constexpr std::size_t kDigestBytes = 32;

std::string DedupeKey(const std::string& principal, const std::string& source_event_id) {
  std::string key;
  key.reserve(principal.size() + 1 + source_event_id.size());
  key.append(principal);
  key.push_back('\0');
  key.append(source_event_id);
  return key;
}

// What the de-duplication index says of an earlier copy: its hub_seq, and its digest ("" when
// it cannot be known: an entry from before digests, whose record the log no longer holds).
struct Earlier {
  uint64_t seq = 0;
  std::string digest;
};

// Reads an index entry. An 8-byte entry (written before digests were kept) gets its digest from
// the events log while the log still holds the record.
absl::StatusOr<Earlier> DecodeDedupe(const std::string& value, const stream::Log& events) {
  if (value.size() != kSeqBytes && value.size() != kSeqBytes + kDigestBytes) {
    return absl::DataLossError("dedupe index entry is corrupt");
  }
  Earlier earlier;
  earlier.seq = store::DecodeSeq(std::string_view(value).substr(0, kSeqBytes));
  if (value.size() == kSeqBytes + kDigestBytes) {
    earlier.digest = value.substr(kSeqBytes);
    return earlier;
  }
  if (earlier.seq < events.first_retained() || earlier.seq > events.head()) {
    return earlier;  // deleted under retention: content unknown
  }
  std::vector<asb::v1::Envelope> records;
  ASB_RETURN_IF_ERROR(events.Read(earlier.seq, 1, &records));
  if (!records.empty() && records[0].seq() == earlier.seq && records[0].has_accepted_event()) {
    earlier.digest = EventDigest(records[0].accepted_event().event());
  }  // else erased (a placeholder without payload): content unknown
  return earlier;
}

}  // namespace

std::string EventDigest(const CaseEvent& event) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    event.SerializeToCodedStream(&coded);
  }
  return crypto::Sha256(bytes);
}

std::vector<std::string> IntakeColumnFamilies() {
  return {stream::LogColumnFamily("events"),
          stream::LogColumnFamily("audit"),
          kDedupeColumnFamily,
          kLedgerColumnFamily,
          kTimersColumnFamily,
          kTimerIndexColumnFamily};
}

store::StoreOptions IntakeStoreLayout() {
  store::StoreOptions layout;
  layout.column_families = IntakeColumnFamilies();
  layout.plaintext_column_families = {kDedupeColumnFamily, kTimerIndexColumnFamily};
  layout.subject_of = [events = stream::LogColumnFamily("events")](
                          std::string_view cf, std::string_view key, std::string_view value) {
    if (cf == kLedgerColumnFamily) {
      return clock::TimerStore::SubjectOfName(key);  // case_id '\0' …
    }
    if (cf == kTimersColumnFamily) {
      return clock::TimerStore::SubjectOfDueKey(key);
    }
    if (cf != events) {
      return std::string();
    }
    return daemon::FindBytesField(
        value, {asb::v1::Envelope::kAcceptedEventFieldNumber,
                asb::v1::AcceptedEvent::kEventFieldNumber, asb::v1::CaseEvent::kCaseIdFieldNumber});
  };
  return layout;
}

IntakeHandler::IntakeHandler(store::Store* store, stream::Log* events, stream::Log* audit,
                             std::function<absl::Time()> clock, uint32_t max_events_per_submit)
    : store_(store),
      events_(events),
      audit_(audit),
      clock_(std::move(clock)),
      max_events_(max_events_per_submit),
      timers_(store, kTimersColumnFamily, kTimerIndexColumnFamily),
      ledger_(store, &timers_) {}

absl::StatusOr<asb::v1::SubmitResponse> IntakeHandler::Submit(
    const Source& source, const asb::v1::SubmitRequest& request) {
  std::vector<absl::StatusOr<asb::v1::SubmitResponse>> results =
      SubmitGroup({Submission{source, &request}});
  return std::move(results[0]);
}

std::vector<absl::StatusOr<asb::v1::SubmitResponse>> IntakeHandler::SubmitGroup(
    const std::vector<Submission>& group) {
  const absl::Time now = clock_();
  Timestamp now_ts;
  ToTimestamp(now, &now_ts);

  store::Batch batch = store_->NewBatch();
  // Keys accepted earlier in this group → their hub_seq and digest (not yet in the store).
  std::unordered_map<std::string, Earlier> in_group;
  struct Counts {
    uint64_t accepted = 0, duplicates = 0, refused = 0, conflicts = 0, hub_events = 0;
  };
  std::vector<Counts> counts(group.size());
  std::vector<absl::StatusOr<asb::v1::SubmitResponse>> out;
  out.reserve(group.size());
  // True for a submission refused on its own (its error is final, whatever the write does).
  std::vector<bool> own_error(group.size(), false);

  for (std::size_t g = 0; g < group.size(); ++g) {
    const Source& source = group[g].source;
    const asb::v1::SubmitRequest& request = *group[g].request;
    Counts& n = counts[g];
    if (source.principal.empty()) {
      out.push_back(absl::InternalError("submit without a source principal"));
      own_error[g] = true;
      continue;
    }

    auto audit_record = [&](asb::v1::AuditKind kind) {
      asb::v1::Envelope env;
      *env.mutable_produced_at() = now_ts;
      asb::v1::AuditRecord* r = env.mutable_audit();
      r->set_kind(kind);
      *r->mutable_at() = now_ts;
      r->set_component(kComponent);
      r->set_actor(source.principal);
      r->set_actor_agency(source.agency);
      return env;
    };

    if (request.events_size() > static_cast<int>(max_events_)) {
      asb::v1::Envelope env = audit_record(asb::v1::AUDIT_KIND_REJECTION);
      const std::string reason = absl::StrCat("events: ", request.events_size(),
                                              " events in one request; at most ", max_events_);
      env.mutable_audit()->set_detail(reason);
      // The rejection record rides with the group's batch.
      audit_->Append(&batch, &env);
      n.refused = request.events_size();
      out.push_back(absl::InvalidArgumentError(reason));
      own_error[g] = true;
      continue;
    }

    // Phase 1, read-only: validate and look up earlier submissions. Nothing of this
    // submission is appended until every lookup has succeeded, so a failed lookup leaves the
    // batch without it.
    struct Decision {
      absl::Status valid;
      std::string key;
      std::string digest;
      Earlier earlier;  // an earlier request's copy (seq 0: none)
    };
    std::vector<Decision> decisions(request.events_size());
    absl::Status lookup;
    for (int i = 0; i < request.events_size() && lookup.ok(); ++i) {
      const CaseEvent& event = request.events(i);
      Decision& d = decisions[i];
      d.valid = ValidateEvent(event, now);
      if (!d.valid.ok()) {
        continue;
      }
      d.key = DedupeKey(source.principal, event.source_event_id());
      d.digest = EventDigest(event);
      std::string value;
      absl::Status got = store_->Get(kDedupeColumnFamily, d.key, &value);
      if (got.ok()) {
        absl::StatusOr<Earlier> earlier = DecodeDedupe(value, *events_);
        if (earlier.ok()) {
          d.earlier = *std::move(earlier);
        } else {
          lookup = earlier.status();
        }
      } else if (!absl::IsNotFound(got)) {
        SPDLOG_LOGGER_WARN(Logger(), "dedupe lookup failed: {}", got.ToString());
        lookup = got;
      }
      if (lookup.ok() && d.earlier.seq == 0) {
        // What the order ledger checks is read now, so phase 2 never reads the store.
        if (absl::Status loaded = ledger_.Prefetch(event, &batch); !loaded.ok()) {
          SPDLOG_LOGGER_WARN(Logger(), "order ledger lookup failed: {}", loaded.ToString());
          lookup = loaded;
        }
      }
    }
    if (!lookup.ok()) {
      out.push_back(lookup);
      own_error[g] = true;
      continue;
    }

    // Phase 2: append accepted events and audit records to the group's batch.
    asb::v1::SubmitResponse response;
    for (int i = 0; i < request.events_size(); ++i) {
      const CaseEvent& event = request.events(i);
      const Decision& d = decisions[i];
      asb::v1::SubmitResult* result = response.add_results();
      result->set_index(static_cast<uint32_t>(i));
      result->set_source_event_id(event.source_event_id());

      auto refuse = [&](const absl::Status& why) {
        const std::string message = absl::StrCat("events[", i, "].", why.message());
        result->set_outcome(asb::v1::SubmitResult::OUTCOME_REFUSED);
        result->mutable_status()->set_code(static_cast<asb::v1::StatusCode>(why.code()));
        result->mutable_status()->set_message(message);
        asb::v1::Envelope env = audit_record(asb::v1::AUDIT_KIND_REJECTION);
        if (UsableCaseId(event.case_id())) {
          env.mutable_audit()->set_case_id(event.case_id());
        }
        env.mutable_audit()->set_event_type(EventTypeOf(event));
        env.mutable_audit()->set_detail(message);
        audit_->Append(&batch, &env);
        ++n.refused;
      };
      if (!d.valid.ok()) {
        refuse(d.valid);
        continue;
      }

      const Earlier* earlier = d.earlier.seq != 0 ? &d.earlier : nullptr;
      if (auto it = in_group.find(d.key); earlier == nullptr && it != in_group.end()) {
        earlier = &it->second;
      }
      if (earlier != nullptr && !earlier->digest.empty() && earlier->digest != d.digest) {
        // The stored copy stays; a silent DUPLICATE would drop the correction unseen.
        const std::string message = absl::StrCat(
            "events[", i, "]: source_event_id was accepted earlier (hub seq ", earlier->seq,
            ") with different content; the hub keeps the first copy and never replaces an "
            "event: send the correction as a new event with its own source_event_id");
        result->set_outcome(asb::v1::SubmitResult::OUTCOME_REFUSED);
        result->set_hub_seq(earlier->seq);
        result->mutable_status()->set_code(asb::v1::STATUS_CODE_ALREADY_EXISTS);
        result->mutable_status()->set_message(message);
        asb::v1::Envelope env = audit_record(asb::v1::AUDIT_KIND_REJECTION);
        env.mutable_audit()->set_case_id(event.case_id());
        env.mutable_audit()->set_event_type(EventTypeOf(event));
        env.mutable_audit()->set_ref_seq(earlier->seq);
        env.mutable_audit()->set_detail(message);
        audit_->Append(&batch, &env);
        ++n.refused;
        ++n.conflicts;
        continue;
      }
      if (earlier != nullptr) {
        result->set_outcome(asb::v1::SubmitResult::OUTCOME_DUPLICATE);
        result->set_hub_seq(earlier->seq);
        ++n.duplicates;
        continue;
      }

      OrderLedger::Decision decision = ledger_.Evaluate(source.agency, event);
      if (decision.outcome == OrderLedger::Decision::Outcome::kRefuse) {
        refuse(decision.refusal);
        continue;
      }
      if (decision.outcome == OrderLedger::Decision::Outcome::kDuplicate) {
        // What it reports is already recorded (the hub's clock expired the order): stored once.
        result->set_outcome(asb::v1::SubmitResult::OUTCOME_DUPLICATE);
        result->set_hub_seq(decision.duplicate_of);
        result->mutable_status()->set_message(
            "already recorded by the hub (its clock expired the order at its end date)");
        // With this event's digest: its resubmission is a duplicate too, not a conflict with the
        // hub's own record.
        batch.Put(kDedupeColumnFamily, d.key, store::EncodeSeq(decision.duplicate_of) + d.digest);
        in_group.emplace(d.key, Earlier{decision.duplicate_of, d.digest});
        ++n.duplicates;
        continue;
      }

      asb::v1::Envelope env;
      *env.mutable_produced_at() = now_ts;
      asb::v1::AcceptedEvent* accepted_event = env.mutable_accepted_event();
      accepted_event->set_source(source.principal);
      accepted_event->set_source_agency(source.agency);
      *accepted_event->mutable_received_at() = now_ts;
      *accepted_event->mutable_event() = event;
      const uint64_t seq = events_->Append(&batch, &env);
      batch.Put(kDedupeColumnFamily, d.key, store::EncodeSeq(seq) + d.digest);
      in_group.emplace(d.key, Earlier{seq, d.digest});

      asb::v1::Envelope audit_env = audit_record(asb::v1::AUDIT_KIND_COLLECTION);
      asb::v1::AuditRecord* r = audit_env.mutable_audit();
      r->set_case_id(event.case_id());
      r->set_event_type(EventTypeOf(event));
      r->set_ref_seq(seq);
      audit_->Append(&batch, &audit_env);

      result->set_outcome(asb::v1::SubmitResult::OUTCOME_ACCEPTED);
      result->set_hub_seq(seq);
      ++n.accepted;

      // The soft rules' notices follow the event that raised them, as the hub's own events.
      for (const CaseEvent& notice : ledger_.Commit(event, std::move(decision), seq, now, &batch)) {
        const uint64_t notice_seq = AppendHubEvent(notice, now_ts, &batch);
        in_group.emplace(DedupeKey("", notice.source_event_id()),
                         Earlier{notice_seq, EventDigest(notice)});
        ++n.hub_events;
      }
    }
    out.push_back(std::move(response));
  }

  if (!batch.empty()) {
    absl::Status written = store_->Write(&batch);
    if (!written.ok()) {
      ++failed_groups_;
      SPDLOG_LOGGER_WARN(Logger(), "group of {} submissions not stored: {}", group.size(),
                         written.ToString());
      // Whatever the store said (disk full, I/O error, busy), the feed's answer is the same:
      // nothing was stored, retry later; de-duplication makes the retry safe.
      const absl::Status unavailable = absl::UnavailableError(
          absl::StrCat("the event store could not write (", written.message(),
                       "); nothing was stored or acknowledged: retry the submission later"));
      for (std::size_t g = 0; g < group.size(); ++g) {
        if (!own_error[g]) {
          out[g] = unavailable;
        }
      }
      return out;
    }
    ++groups_;
  }
  for (std::size_t g = 0; g < group.size(); ++g) {
    if (!own_error[g] || absl::IsInvalidArgument(out[g].status())) {
      accepted_ += counts[g].accepted;
      duplicates_ += counts[g].duplicates;
      refused_ += counts[g].refused;
      conflicts_ += counts[g].conflicts;
      hub_events_ += counts[g].hub_events;
    }
    if (out[g].ok()) {
      SPDLOG_LOGGER_DEBUG(Logger(), "[{}] submit: {} accepted, {} duplicate, {} refused",
                          group[g].source.principal, counts[g].accepted, counts[g].duplicates,
                          counts[g].refused);
    }
  }
  return out;
}

uint64_t IntakeHandler::AppendHubEvent(const CaseEvent& event, const Timestamp& now_ts,
                                       store::Batch* batch) {
  asb::v1::Envelope env;
  *env.mutable_produced_at() = now_ts;
  asb::v1::AcceptedEvent* accepted = env.mutable_accepted_event();
  accepted->set_source(kHubSource);
  accepted->set_source_agency(kHubSource);
  *accepted->mutable_received_at() = now_ts;
  *accepted->mutable_event() = event;
  accepted->set_made_by_hub(true);
  const uint64_t seq = events_->Append(batch, &env);
  batch->Put(kDedupeColumnFamily, DedupeKey("", event.source_event_id()),
             store::EncodeSeq(seq) + EventDigest(event));

  asb::v1::Envelope audit_env;
  *audit_env.mutable_produced_at() = now_ts;
  asb::v1::AuditRecord* r = audit_env.mutable_audit();
  r->set_kind(asb::v1::AUDIT_KIND_COLLECTION);
  *r->mutable_at() = now_ts;
  r->set_component(kComponent);
  r->set_actor(kHubSource);
  r->set_actor_agency(kHubSource);
  r->set_case_id(event.case_id());
  r->set_event_type(EventTypeOf(event));
  r->set_ref_seq(seq);
  if (event.has_statutory_notice()) {
    r->set_detail(
        absl::StrCat("made by the hub: ", asb::v1::NoticeKind_Name(event.statutory_notice().kind()),
                     " under rule ", event.statutory_notice().context().rule_id()));
  } else {
    r->set_detail("made by the hub's clock: the order reached its end date");
  }
  audit_->Append(batch, &audit_env);
  return seq;
}

absl::Status IntakeHandler::FireTimer(const clock::Timer& timer, store::Batch* batch) {
  const absl::Time now = clock_();
  const Timestamp now_ts = ToTimestamp(now);
  absl::StatusOr<std::optional<CaseEvent>> fired = ledger_.Fire(timer, now, batch);
  if (!fired.ok()) {
    return fired.status();
  }
  if (!fired->has_value()) {
    return absl::OkStatus();  // the order moved on: nothing is due any more
  }
  const CaseEvent& event = **fired;
  // Already recorded (a deadline rebuilt with the same id): the log keeps it once.
  std::string value;
  absl::Status got =
      store_->Get(kDedupeColumnFamily, DedupeKey("", event.source_event_id()), &value);
  if (got.ok()) {
    return absl::OkStatus();
  }
  if (!absl::IsNotFound(got)) {
    return absl::UnavailableError(absl::StrCat("dedupe lookup failed: ", got.message()));
  }
  OrderLedger::Decision decision = ledger_.Evaluate(kHubSource, event);
  if (decision.outcome != OrderLedger::Decision::Outcome::kAccept) {
    // Cannot happen for a deadline the ledger itself gave; dropped and reported, never half made.
    return absl::FailedPreconditionError(absl::StrCat(
        "the hub's event for a deadline does not apply: ", decision.refusal.message()));
  }
  const uint64_t seq = AppendHubEvent(event, now_ts, batch);
  uint64_t made = 1;
  for (const CaseEvent& notice : ledger_.Commit(event, std::move(decision), seq, now, batch)) {
    AppendHubEvent(notice, now_ts, batch);
    ++made;
  }
  batch->OnCommit([this, made] { hub_events_ += made; });
  return absl::OkStatus();
}

}  // namespace asb::intake
