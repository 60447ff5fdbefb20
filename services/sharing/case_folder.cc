#include "services/sharing/case_folder.h"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asb/v1/disclosure.pb.h"
#include "common/log/log.h"
#include "common/orders/lifecycle.h"
#include "common/orders/period.h"
#include "common/status/macros.h"
#include "common/stream/consumer.h"
#include "common/stream/log.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "services/daemon/store_layout.h"
#include "services/sharing/retention.h"

namespace asb::sharing {
namespace {

using asb::v1::Case;
using asb::v1::CaseEvent;
using google::protobuf::Timestamp;

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("sharing");
  return lg;
}

// The prefix of a case's keys in "pending" and "incidents": its id and a NUL.
std::string CasePrefix(const std::string& case_id) {
  std::string key = case_id;
  key.push_back('\0');
  return key;
}

std::string PendingKey(const std::string& case_id, uint64_t seq) {
  return CasePrefix(case_id) + store::EncodeSeq(seq);
}

// "incidents": case id, NUL, incident id.
std::string IncidentKey(const std::string& case_id, const std::string& incident_id) {
  return CasePrefix(case_id) + incident_id;
}

absl::Status ParseIncident(std::string_view bytes, const std::string& case_id,
                           asb::v1::Incident* out) {
  if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(
        absl::StrCat("a stored incident of case '", case_id, "' does not parse"));
  }
  return absl::OkStatus();
}

// What an event replaces or starts on the case as it stands before the event (Applied's
// status_before, replaced_incident, first_order).
struct Prior {
  asb::v1::CaseStatus status = asb::v1::CASE_STATUS_UNSPECIFIED;
  std::optional<asb::v1::Incident> incident;
  bool first_order = false;
};

Prior PriorOf(const CaseEvent& e, const Case& before) {
  Prior p;
  p.status = before.status();
  if (e.has_incident_reported()) {
    for (const asb::v1::Incident& inc : before.incidents()) {
      if (inc.incident_id() == e.incident_reported().incident().incident_id()) {
        p.incident = inc;
        break;
      }
    }
  } else if (e.has_order_issued()) {
    // Orders only proposed so far (a consultation or hearing before the order) are not actions.
    p.first_order = std::none_of(
        before.orders().begin(), before.orders().end(),
        [](const asb::v1::Order& o) { return o.status() != asb::v1::ORDER_STATUS_PROPOSED; });
  }
  return p;
}

// The safeguarding agencies a HIGH band of `person_id` alerts: the template's agency for
// children if the person is under 18 on the assessment's date, for adults if 18 or over, both if
// the age is unknown.
std::vector<std::string> SafeguardingRecipients(const Case& c, const std::string& person_id,
                                                const asb::config::v1::RiskTemplate& t,
                                                const Timestamp& at) {
  std::string dob;
  for (const asb::v1::Person& p : c.people()) {
    if (p.person_id() == person_id && !p.date_of_birth().empty()) {
      dob = p.date_of_birth();
    }
  }
  bool child = true;
  bool adult = true;
  if (std::optional<absl::CivilDay> born = orders::ParseDate(dob); born.has_value()) {
    const int age = orders::AgeOn(*born, orders::DayOf(model::ToTime(at)));
    child = age < 18;
    adult = !child;
  }
  std::vector<std::string> out;
  if (child && !t.safeguarding_children().empty()) {
    out.push_back(t.safeguarding_children());
  }
  if (adult && !t.safeguarding_adults().empty() &&
      std::find(out.begin(), out.end(), t.safeguarding_adults()) == out.end()) {
    out.push_back(t.safeguarding_adults());
  }
  return out;
}

// A hub notice addressed to agencies (a case review's, a victim's): its context, the rule its
// recipients are alerted under, and the recipients.
template <class Notice>
void AddressedBy(const Notice& n, std::string rule, CaseFolder::Applied* a) {
  a->statutory = n.context();
  a->recipient_rule = std::move(rule);
  a->recipients.assign(n.recipients().begin(), n.recipients().end());
}

CaseFolder::Applied MakeApplied(const asb::v1::Envelope& envelope, const Case& c, Prior prior,
                                const CaseFolder::FoldContext& context) {
  const CaseEvent& e = envelope.accepted_event().event();
  CaseFolder::Applied a;
  a.occurred_at = e.occurred_at();
  a.status_before = prior.status;
  a.replaced_incident = std::move(prior.incident);
  a.first_order = prior.first_order;
  a.event_seq = envelope.seq();
  a.type = EventTypeOf(e);
  a.order_id = orders::OrderIdOf(e);
  if (!a.order_id.empty()) {
    if (const asb::v1::Order* o = orders::FindOrder(c.orders(), a.order_id); o != nullptr) {
      a.order_type = o->type();
    }
  }
  a.case_after = c;
  a.source_agency = envelope.accepted_event().source_agency();
  a.made_by_hub = envelope.accepted_event().made_by_hub();
  if (e.has_statutory_notice()) {
    a.notice_kind = e.statutory_notice().kind();
    a.statutory = e.statutory_notice().context();
    a.recipients.assign(e.statutory_notice().recipients().begin(),
                        e.statutory_notice().recipients().end());
  } else if (e.has_order_expired() && e.order_expired().has_context()) {
    a.statutory = e.order_expired().context();
  } else if (e.has_person_linked()) {
    a.linked_person_id = e.person_linked().person().person_id();
  } else if (e.has_case_review_notice()) {
    a.case_review_kind = e.case_review_notice().kind();
    AddressedBy(e.case_review_notice(), victims::CaseReviewRuleId(a.case_review_kind), &a);
  } else if (e.has_victim_notice()) {
    a.victim_kind = e.victim_notice().kind();
    AddressedBy(e.victim_notice(), victims::VictimNoticeRuleId(a.victim_kind), &a);
  } else if (const std::string& id = victims::ApplicationIdOf(e); !id.empty()) {
    a.application_id = id;
  } else if (e.has_risk_assessed() && !c.risk_assessments().empty() &&
             !e.risk_assessed().person_id().empty() && context.risk != nullptr) {
    const asb::v1::RiskAssessment& latest = *c.risk_assessments().rbegin();
    if (latest.band() == asb::v1::RISK_LEVEL_HIGH) {
      if (absl::StatusOr<const asb::config::v1::RiskTemplate*> t =
              context.risk->Find(latest.template_id(), latest.template_version());
          t.ok()) {
        a.safeguarding_person_id = latest.person_id();
        a.recipient_rule = "victims:safeguarding";
        a.recipients = SafeguardingRecipients(c, latest.person_id(), **t, e.occurred_at());
      }
    }
  }
  return a;
}

absl::Status ParseCase(const std::string& bytes, Case* c) {
  if (!c->ParseFromString(bytes)) {
    return absl::DataLossError("a stored case does not parse");
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> SharingColumnFamilies() {
  return {stream::LogColumnFamily("disclosures"),
          stream::LogColumnFamily("audit"),
          stream::LogColumnFamily("erasures"),
          kCasesColumnFamily,
          kPendingColumnFamily,
          kIncidentsColumnFamily,
          kAggregatesColumnFamily,
          kVictimIndexColumnFamily,
          kRetentionDueColumnFamily,
          kRetentionIndexColumnFamily,
          kMarksColumnFamily,
          kRecipientsColumnFamily,
          stream::kOffsetsColumnFamily};
}

store::StoreOptions SharingStoreLayout() {
  store::StoreOptions layout;
  layout.column_families = SharingColumnFamilies();
  // Counts by month and area, retention timers and recipients: case ids, agency ids, times and
  // counts only.
  layout.plaintext_column_families = {kAggregatesColumnFamily, kRetentionDueColumnFamily,
                                      kRetentionIndexColumnFamily, kMarksColumnFamily,
                                      kRecipientsColumnFamily};
  layout.subject_of = [disclosures = stream::LogColumnFamily("disclosures")](
                          std::string_view cf, std::string_view key, std::string_view value) {
    if (cf == kCasesColumnFamily) {
      return std::string(key);
    }
    if (cf == kVictimIndexColumnFamily) {
      // match key '\0' case id '\0' person id
      const std::size_t a = key.find('\0');
      const std::size_t b = a == std::string_view::npos ? a : key.find('\0', a + 1);
      if (b != std::string_view::npos) {
        return std::string(key.substr(a + 1, b - a - 1));
      }
      return std::string();
    }
    if (cf == kIncidentsColumnFamily) {
      return std::string(key.substr(0, key.find('\0')));  // IncidentKey: case id, NUL, id
    }
    if (cf == kPendingColumnFamily) {
      // PendingKey: case id, NUL, sequence number; the value is intake's envelope.
      if (const std::size_t nul = key.find('\0'); nul != std::string_view::npos) {
        return std::string(key.substr(0, nul));
      }
      return daemon::FindBytesField(
          value, {asb::v1::Envelope::kAcceptedEventFieldNumber,
                  asb::v1::AcceptedEvent::kEventFieldNumber, CaseEvent::kCaseIdFieldNumber});
    }
    if (cf == disclosures) {
      // A hub notice holds no personal data and must outlive the case it names (the "case
      // deleted" notice is written as the case is shredded): the master key seals it.
      if (!daemon::FindBytesField(value, {asb::v1::Envelope::kDisclosureFieldNumber,
                                          asb::v1::Disclosure::kNoticeFieldNumber})
               .empty()) {
        return std::string();
      }
      return daemon::FindBytesField(value, {asb::v1::Envelope::kDisclosureFieldNumber,
                                            asb::v1::Disclosure::kCaseIdFieldNumber});
    }
    return std::string();
  };
  return layout;
}

CaseFolder::CaseFolder(store::Store* store) : store_(store) {}

void CaseFolder::DiscardUncommitted() {
  dirty_cases_.clear();
  dirty_pending_.clear();
  dirty_incidents_.clear();
  dirty_batch_ = nullptr;
  dirty_count_ = 0;
  ++generation_;
}

void CaseFolder::Track(store::Batch* batch) {
  if (dirty_batch_ != batch) {
    if (dirty_batch_ != nullptr) {
      // The previous batch was neither committed nor aborted: it was abandoned.
      SPDLOG_LOGGER_DEBUG(Logger(), "dropping uncommitted case state of an abandoned batch");
    }
    DiscardUncommitted();
    dirty_batch_ = batch;
    const uint64_t generation = generation_;
    auto reset = [this, generation] {
      if (generation_ == generation) {
        DiscardUncommitted();
      }
    };
    batch->OnCommit(reset);
    batch->OnAbort(reset);
  }
  dirty_count_ = batch->count();
}

absl::StatusOr<std::optional<Case>> CaseFolder::Load(const std::string& case_id) const {
  if (auto it = dirty_cases_.find(case_id); it != dirty_cases_.end()) {
    return std::optional<Case>(it->second);
  }
  std::string bytes;
  absl::Status got = store_->Get(kCasesColumnFamily, case_id, &bytes);
  if (absl::IsNotFound(got)) {
    return std::optional<Case>();
  }
  ASB_RETURN_IF_ERROR(got);
  Case c;
  ASB_RETURN_IF_ERROR(ParseCase(bytes, &c));
  return std::optional<Case>(std::move(c));
}

absl::Status CaseFolder::LoadIncidents(const std::string& case_id, bool uncommitted,
                                       std::map<std::string, asb::v1::Incident>* out) const {
  const std::string prefix = CasePrefix(case_id);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kIncidentsColumnFamily);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    asb::v1::Incident inc;
    ASB_RETURN_IF_ERROR(ParseIncident(it->value().ToStringView(), case_id, &inc));
    std::string id(it->key().ToStringView().substr(prefix.size()));
    (*out)[std::move(id)] = std::move(inc);
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading incidents"));
  if (uncommitted) {
    for (auto d = dirty_incidents_.lower_bound(prefix);
         d != dirty_incidents_.end() && d->first.starts_with(prefix); ++d) {
      (*out)[d->first.substr(prefix.size())] = d->second;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<asb::v1::Incident>> CaseFolder::LoadIncident(
    const std::string& case_id, const std::string& incident_id) const {
  const std::string key = IncidentKey(case_id, incident_id);
  if (auto d = dirty_incidents_.find(key); d != dirty_incidents_.end()) {
    return std::optional<asb::v1::Incident>(d->second);
  }
  std::string bytes;
  absl::Status got = store_->Get(kIncidentsColumnFamily, key, &bytes);
  if (absl::IsNotFound(got)) {
    return std::optional<asb::v1::Incident>();
  }
  ASB_RETURN_IF_ERROR(got);
  asb::v1::Incident inc;
  ASB_RETURN_IF_ERROR(ParseIncident(bytes, case_id, &inc));
  return std::optional<asb::v1::Incident>(std::move(inc));
}

absl::Status CaseFolder::LoadPending(const std::string& case_id,
                                     std::map<uint64_t, asb::v1::Envelope>* out) const {
  const std::string prefix = CasePrefix(case_id);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kPendingColumnFamily);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    asb::v1::Envelope env;
    if (!env.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("a pending event of case '", case_id, "' does not parse"));
    }
    const uint64_t seq = env.seq();
    (*out)[seq] = std::move(env);
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading pending events"));
  if (auto d = dirty_pending_.find(case_id); d != dirty_pending_.end()) {
    for (const auto& [seq, env] : d->second) {
      (*out)[seq] = env;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CaseFolder::Applied>> CaseFolder::Apply(
    const asb::v1::Envelope& envelope, store::Batch* batch) {
  if (!envelope.has_accepted_event()) {
    return absl::InvalidArgumentError(
        absl::StrCat("record ", envelope.seq(), " is not an accepted event"));
  }
  const CaseEvent& event = envelope.accepted_event().event();
  if (envelope.seq() == 0) {
    return absl::InvalidArgumentError("record has no sequence number");
  }
  if (event.case_id().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("record ", envelope.seq(), ": no case_id"));
  }
  if (event.event_case() == CaseEvent::EVENT_NOT_SET) {
    return absl::InvalidArgumentError(absl::StrCat("record ", envelope.seq(), ": no event"));
  }
  // A different batch, or the same object emptied without commit/abort: forget stale state.
  if (dirty_batch_ != nullptr && (dirty_batch_ != batch || batch->count() < dirty_count_)) {
    DiscardUncommitted();
  }

  const std::string& case_id = event.case_id();
  ASB_ASSIGN_OR_RETURN(std::optional<Case> current, Load(case_id));
  std::vector<Applied> applied;

  if (!current.has_value() && event.event_case() != CaseEvent::kCaseOpened) {
    std::string bytes;
    if (!envelope.SerializeToString(&bytes)) {
      return absl::InternalError("cannot serialise a pending event");
    }
    Track(batch);
    batch->Put(kPendingColumnFamily, PendingKey(case_id, envelope.seq()), bytes);
    dirty_pending_[case_id][envelope.seq()] = envelope;
    dirty_count_ = batch->count();
    SPDLOG_LOGGER_DEBUG(Logger(), "[evt {}] held until its case is opened", envelope.seq());
    return applied;
  }

  Case c = current.value_or(Case());
  std::map<uint64_t, asb::v1::Envelope> pending;
  if (!current.has_value()) {
    ASB_RETURN_IF_ERROR(LoadPending(case_id, &pending));
  }
  // The incidents the events may correct, read before the batch changes. A case not yet opened
  // has none stored; an open one's are read one by one, or all when this may be its first order
  // (the aggregates time the first action from the earliest incident).
  std::map<std::string, asb::v1::Incident> incidents;
  if (current.has_value()) {
    if (event.has_order_issued() && PriorOf(event, c).first_order) {
      ASB_RETURN_IF_ERROR(LoadIncidents(case_id, /*uncommitted=*/true, &incidents));
    } else if (event.has_incident_reported()) {
      const std::string& id = event.incident_reported().incident().incident_id();
      ASB_ASSIGN_OR_RETURN(std::optional<asb::v1::Incident> stored, LoadIncident(case_id, id));
      if (stored.has_value()) {
        incidents.emplace(id, *std::move(stored));
      }
    }
  }
  const FoldContext context = Context();
  std::set<std::string> written;
  ASB_ASSIGN_OR_RETURN(Applied first, FoldOne(envelope, context, &c, &incidents, &written));
  applied.push_back(std::move(first));

  // From here on the batch changes; no more early returns.
  Track(batch);
  for (const auto& [seq, env] : pending) {
    batch->Delete(kPendingColumnFamily, PendingKey(case_id, seq));
    absl::StatusOr<Applied> folded = FoldOne(env, context, &c, &incidents, &written);
    if (!folded.ok()) {
      SPDLOG_LOGGER_WARN(Logger(), "[evt {}] pending event not applied: {}", seq,
                         std::string(folded.status().message()));
      if (on_pending_skipped_) {
        on_pending_skipped_(env, folded.status(), batch);
      }
      continue;
    }
    applied.push_back(*std::move(folded));
  }
  dirty_pending_.erase(case_id);
  std::string bytes;
  for (const std::string& id : written) {
    const asb::v1::Incident& inc = incidents.at(id);
    if (!inc.SerializeToString(&bytes)) {
      return absl::InternalError("cannot serialise an incident");  // unreachable: valid protos
    }
    std::string key = IncidentKey(case_id, id);
    batch->Put(kIncidentsColumnFamily, key, bytes);
    dirty_incidents_[std::move(key)] = inc;
  }
  if (!c.SerializeToString(&bytes)) {
    return absl::InternalError("cannot serialise a case");  // unreachable for valid protos
  }
  batch->Put(kCasesColumnFamily, case_id, bytes);
  dirty_cases_[case_id] = std::move(c);
  dirty_count_ = batch->count();
  return applied;
}

absl::StatusOr<CaseFolder::Applied> CaseFolder::FoldOne(
    const asb::v1::Envelope& envelope, const FoldContext& context, Case* c,
    std::map<std::string, asb::v1::Incident>* incidents, std::set<std::string>* written) const {
  const CaseEvent& e = envelope.accepted_event().event();
  bool added = false;  // the incident it corrects, put on the head for the fold
  if (e.has_incident_reported()) {
    const std::string& id = e.incident_reported().incident().incident_id();
    const bool on_head =
        std::any_of(c->incidents().begin(), c->incidents().end(),
                    [&](const asb::v1::Incident& i) { return i.incident_id() == id; });
    if (auto it = incidents->find(id); it != incidents->end() && !on_head) {
      *c->add_incidents() = it->second;
      added = true;
    }
  }
  Prior prior = PriorOf(e, *c);
  if (absl::Status folded = Fold(e, envelope.accepted_event().source_agency(), c, context);
      !folded.ok()) {
    if (added) {
      c->mutable_incidents()->RemoveLast();  // Fold left `c` as it was
    }
    return folded;
  }
  Applied a = MakeApplied(envelope, *c, std::move(prior), context);
  // Off the head: the incident folded (or, for a case an earlier version stored whole, all).
  for (asb::v1::Incident& inc : *c->mutable_incidents()) {
    written->insert(inc.incident_id());
    (*incidents)[inc.incident_id()] = std::move(inc);
  }
  c->clear_incidents();
  if (a.first_order) {
    for (const auto& [id, inc] : *incidents) {
      if (!a.first_incident_at.has_value() ||
          inc.occurred_at().seconds() < a.first_incident_at->seconds()) {
        a.first_incident_at = inc.occurred_at();
      }
    }
  }
  return a;
}

CaseFolder::FoldContext CaseFolder::Context() const {
  FoldContext context;
  context.risk = risk_.get();
  context.procedure = procedure_.get();
  return context;
}

absl::StatusOr<std::optional<Case>> CaseFolder::MarkRepeatVictim(const std::string& case_id,
                                                                 const std::string& person_id,
                                                                 store::Batch* batch) {
  if (dirty_batch_ != nullptr && (dirty_batch_ != batch || batch->count() < dirty_count_)) {
    DiscardUncommitted();
  }
  ASB_ASSIGN_OR_RETURN(std::optional<Case> current, Load(case_id));
  if (!current.has_value()) {
    return std::optional<Case>();
  }
  bool changed = false;
  for (asb::v1::Person& p : *current->mutable_people()) {
    if (p.person_id() == person_id && !p.repeat_victim()) {
      p.set_repeat_victim(true);
      changed = true;
    }
  }
  if (!changed) {
    return std::optional<Case>();
  }
  std::string bytes;
  if (!current->SerializeToString(&bytes)) {
    return absl::InternalError("cannot serialise a case");
  }
  Track(batch);
  batch->Put(kCasesColumnFamily, case_id, bytes);
  dirty_cases_[case_id] = *current;
  dirty_count_ = batch->count();
  return current;
}

absl::StatusOr<Case> CaseFolder::Get(const std::string& case_id) const {
  std::string bytes;
  absl::Status got = store_->Get(kCasesColumnFamily, case_id, &bytes);
  if (absl::IsNotFound(got)) {
    return absl::NotFoundError(absl::StrCat("no case '", case_id, "'"));
  }
  ASB_RETURN_IF_ERROR(got);
  Case c;
  ASB_RETURN_IF_ERROR(ParseCase(bytes, &c));
  // The head of a case an earlier version stored whole still holds incidents; the records win.
  std::map<std::string, asb::v1::Incident> incidents;
  for (asb::v1::Incident& inc : *c.mutable_incidents()) {
    std::string id = inc.incident_id();
    incidents[std::move(id)] = std::move(inc);
  }
  ASB_RETURN_IF_ERROR(LoadIncidents(case_id, /*uncommitted=*/false, &incidents));
  c.clear_incidents();
  for (auto& [id, inc] : incidents) {
    *c.add_incidents() = std::move(inc);
  }
  std::stable_sort(c.mutable_incidents()->begin(), c.mutable_incidents()->end(),
                   [](const asb::v1::Incident& a, const asb::v1::Incident& b) {
                     return a.occurred_at() < b.occurred_at();  // protobuf's time_util
                   });
  return c;
}

absl::Status CaseFolder::ForEachCase(const std::string& from_case_id,
                                     const std::function<bool(const Case&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kCasesColumnFamily);
  for (it->Seek(from_case_id); it->Valid(); it->Next()) {
    Case c;
    if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("a stored case does not parse");
    }
    if (!fn(c)) {
      break;
    }
  }
  return store::FromRocks(it->status(), "reading cases");
}

absl::StatusOr<std::size_t> CaseFolder::PendingCount(const std::string& case_id) const {
  const std::string prefix = CasePrefix(case_id);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kPendingColumnFamily);
  std::size_t n = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    ++n;
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading pending events"));
  return n;
}

absl::Status CaseFolder::Delete(const std::string& case_id, store::Batch* batch) {
  const std::string prefix = CasePrefix(case_id);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kPendingColumnFamily);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch->Delete(kPendingColumnFamily, it->key().ToStringView());
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading pending events"));
  std::unique_ptr<rocksdb::Iterator> incidents = store_->NewIterator(kIncidentsColumnFamily);
  for (incidents->Seek(prefix); incidents->Valid() && incidents->key().starts_with(prefix);
       incidents->Next()) {
    batch->Delete(kIncidentsColumnFamily, incidents->key().ToStringView());
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(incidents->status(), "reading incidents"));
  batch->Delete(kCasesColumnFamily, case_id);
  if (dirty_batch_ == batch) {
    dirty_cases_.erase(case_id);
    dirty_pending_.erase(case_id);
    for (auto d = dirty_incidents_.lower_bound(prefix);
         d != dirty_incidents_.end() && d->first.starts_with(prefix);) {
      batch->Delete(kIncidentsColumnFamily, d->first);
      d = dirty_incidents_.erase(d);
    }
  }
  return absl::OkStatus();
}

absl::Status CaseFolder::ForEach(const std::function<void(const Case&)>& f) const {
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kCasesColumnFamily);
  Case c;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!c.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("a stored case does not parse");
    }
    f(c);
  }
  return store::FromRocks(it->status(), "reading cases");
}

}  // namespace asb::sharing
