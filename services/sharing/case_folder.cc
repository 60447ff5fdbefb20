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

std::string PendingPrefix(const std::string& case_id) {
  std::string key = case_id;
  key.push_back('\0');
  return key;
}

std::string PendingKey(const std::string& case_id, uint64_t seq) {
  return PendingPrefix(case_id) + store::EncodeSeq(seq);
}

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
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

// The application `id` of the case review (nullptr if none).
asb::v1::CaseReviewApplication* FindApplication(Case* c, const std::string& id) {
  for (asb::v1::CaseReviewApplication& a : *c->mutable_case_review()->mutable_applications()) {
    if (a.application_id() == id) {
      return &a;
    }
  }
  return nullptr;
}

absl::Status NoApplication(const char* what, const std::string& id, const Case& c) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": no ASB case review application '", id,
                                                    "' on case '", c.case_id(), "'"));
}

// The highest of each person's latest band (and of the latest assessment naming no person).
asb::v1::RiskLevel HighestLatest(const Case& c) {
  std::map<std::string, asb::v1::RiskLevel> latest;
  for (const asb::v1::RiskAssessment& r : c.risk_assessments()) {
    latest[r.person_id()] = r.band();
  }
  asb::v1::RiskLevel top = asb::v1::RISK_LEVEL_UNSPECIFIED;
  for (const auto& [person, band] : latest) {
    top = std::max(top, band);
  }
  return top;
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

absl::Status CaseFolder::Fold(const CaseEvent& e, const std::string& source_agency, Case* out,
                              const FoldContext& context) {
  Case c = *out;
  const Timestamp& at = e.occurred_at();
  switch (e.event_case()) {
    case CaseEvent::kCaseOpened: {
      if (c.status() != asb::v1::CASE_STATUS_UNSPECIFIED) {
        return absl::FailedPreconditionError(
            absl::StrCat("case_opened: case '", c.case_id(), "' is already opened"));
      }
      const auto& o = e.case_opened();
      c.set_case_id(e.case_id());
      c.set_status(asb::v1::CASE_STATUS_OPEN);
      c.set_nsir_category(o.nsir_category());
      c.set_title(o.title());
      c.set_summary(o.summary());
      c.set_lead_agency(o.lead_agency());
      c.set_lead_officer(o.lead_officer());
      if (o.has_location()) {
        *c.mutable_location() = o.location();
      }
      if (o.has_flags()) {
        *c.mutable_flags() = o.flags();
      }
      *c.mutable_opened_at() = at;
      c.set_source_agency(source_agency);
      break;
    }
    case CaseEvent::kCaseUpdated: {
      const auto& u = e.case_updated();
      if (u.has_nsir_category()) {
        c.set_nsir_category(u.nsir_category());
      }
      if (u.has_title()) {
        c.set_title(u.title());
      }
      if (u.has_summary()) {
        c.set_summary(u.summary());
      }
      if (u.has_lead_agency()) {
        c.set_lead_agency(u.lead_agency());
      }
      if (u.has_lead_officer()) {
        c.set_lead_officer(u.lead_officer());
      }
      if (u.has_location()) {
        *c.mutable_location() = u.location();
      }
      if (u.replace_flags()) {
        *c.mutable_flags() = u.flags();
      }
      break;
    }
    case CaseEvent::kCaseClosed:
      c.set_status(asb::v1::CASE_STATUS_CLOSED);
      *c.mutable_closed_at() = at;
      c.set_closure_reason(e.case_closed().reason());
      break;
    case CaseEvent::kPersonLinked: {
      const asb::v1::Person& p = e.person_linked().person();
      asb::v1::Person* slot = nullptr;
      for (asb::v1::Person& existing : *c.mutable_people()) {
        if (existing.person_id() == p.person_id() && existing.role() == p.role()) {
          slot = &existing;
          break;
        }
      }
      if (slot == nullptr) {
        slot = c.add_people();
      }
      // The hub's own facts about the person (a repeat victim, the latest band) outlive a feed's
      // update of their details, and reach the person's entry in another role.
      bool repeat_victim = false;
      asb::v1::RiskLevel risk_band = asb::v1::RISK_LEVEL_UNSPECIFIED;
      for (const asb::v1::Person& existing : c.people()) {
        if (existing.person_id() == p.person_id()) {
          repeat_victim = repeat_victim || existing.repeat_victim();
          risk_band = std::max(risk_band, existing.risk_band());
        }
      }
      *slot = p;
      slot->set_source_agency(source_agency);
      slot->set_repeat_victim(repeat_victim);
      slot->set_risk_band(risk_band);
      break;
    }
    case CaseEvent::kRiskAssessed: {
      const asb::v1::RiskAssessed& r = e.risk_assessed();
      asb::v1::RiskAssessment* a = c.add_risk_assessments();
      a->set_person_id(r.person_id());
      a->set_template_id(r.template_id());
      a->set_template_version(r.template_version());
      *a->mutable_answers() = r.answers();
      a->set_band(r.level());
      a->set_assessed_by(r.assessed_by());
      a->set_agency(source_agency);
      *a->mutable_assessed_at() = at;
      a->set_notes(r.notes());
      if (!r.template_id().empty() && context.risk != nullptr) {
        // Scored as intake checked it; never dropped if the matrix here is older (the level
        // given, if any, is kept).
        if (absl::StatusOr<victims::RiskMatrix::Scored> scored = context.risk->Score(
                r.template_id(), r.template_version(), r.answers(), "risk_assessed");
            scored.ok()) {
          a->set_score(scored->score);
          a->set_band(scored->band);
          a->set_template_version(scored->tmpl->version());
        }
      }
      if (!r.person_id().empty()) {
        for (asb::v1::Person& p : *c.mutable_people()) {
          if (p.person_id() == r.person_id()) {
            p.set_risk_band(a->band());
          }
        }
      }
      c.set_victim_risk(HighestLatest(c));
      c.set_risk_notes(r.notes());
      break;
    }
    case CaseEvent::kCasesLinked:
      if (std::find(c.linked_cases().begin(), c.linked_cases().end(),
                    e.cases_linked().other_case_id()) == c.linked_cases().end()) {
        c.add_linked_cases(e.cases_linked().other_case_id());
      }
      break;
    case CaseEvent::kCaseReviewNotice: {
      const asb::v1::CaseReviewNotice& n = e.case_review_notice();
      asb::v1::CaseReview* cr = c.mutable_case_review();
      bool known = false;
      for (const asb::v1::CaseReviewNotice& old : cr->notices()) {
        known = known || old.notice_id() == n.notice_id();
      }
      if (!known) {
        *cr->add_notices() = n;
      }
      if (n.kind() == asb::v1::CASE_REVIEW_NOTICE_KIND_ADVISORY ||
          n.kind() == asb::v1::CASE_REVIEW_NOTICE_KIND_THRESHOLD_MET) {
        cr->set_complaints(n.complaints());
        cr->set_individuals(n.individuals());
        const asb::v1::CaseReviewStatus to = n.kind() == asb::v1::CASE_REVIEW_NOTICE_KIND_ADVISORY
                                                 ? asb::v1::CASE_REVIEW_STATUS_ADVISED
                                                 : asb::v1::CASE_REVIEW_STATUS_THRESHOLD_MET;
        if (cr->status() < to) {
          cr->set_status(to);
        }
      }
      break;
    }
    case CaseEvent::kVictimNotice: {
      const asb::v1::VictimNotice& n = e.victim_notice();
      bool known = false;
      for (const asb::v1::VictimNotice& old : c.victim_notices()) {
        known = known || old.notice_id() == n.notice_id();
      }
      if (!known) {
        *c.add_victim_notices() = n;
      }
      break;
    }
    case CaseEvent::kCaseReviewApplied: {
      const asb::v1::CaseReviewApplied& r = e.case_review_applied();
      if (FindApplication(&c, r.application_id()) != nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            "case_review_applied: application '", r.application_id(), "' already received"));
      }
      asb::v1::CaseReviewApplication* a = c.mutable_case_review()->add_applications();
      a->set_application_id(r.application_id());
      a->set_applicant_person_id(r.applicant_person_id());
      *a->mutable_applied_at() = at;
      if (context.procedure != nullptr) {
        *a->mutable_decision_due() =
            model::ToTimestamp(context.procedure->DecisionDue(model::ToTime(at)));
      }
      c.mutable_case_review()->set_status(asb::v1::CASE_REVIEW_STATUS_APPLIED);
      break;
    }
    case CaseEvent::kCaseReviewDecided: {
      const asb::v1::CaseReviewDecided& r = e.case_review_decided();
      asb::v1::CaseReviewApplication* a = FindApplication(&c, r.application_id());
      if (a == nullptr) {
        return NoApplication("case_review_decided", r.application_id(), c);
      }
      *a->mutable_decided_at() = at;
      a->set_threshold_met(r.threshold_met());
      a->set_decision_reason(r.reason());
      if (r.threshold_met() && context.procedure != nullptr) {
        *a->mutable_review_due() =
            model::ToTimestamp(context.procedure->ReviewDue(model::ToTime(at)));
      }
      c.mutable_case_review()->set_status(r.threshold_met() ? asb::v1::CASE_REVIEW_STATUS_REVIEW_DUE
                                                            : asb::v1::CASE_REVIEW_STATUS_NOT_MET);
      break;
    }
    case CaseEvent::kCaseReviewCompleted: {
      const asb::v1::CaseReviewCompleted& r = e.case_review_completed();
      asb::v1::CaseReviewApplication* a = FindApplication(&c, r.application_id());
      if (a == nullptr) {
        return NoApplication("case_review_completed", r.application_id(), c);
      }
      *a->mutable_completed_at() = at;
      a->set_recommendations(r.recommendations());
      c.mutable_case_review()->set_status(asb::v1::CASE_REVIEW_STATUS_COMPLETED);
      break;
    }
    case CaseEvent::kCaseReviewAppealed: {
      const asb::v1::CaseReviewAppealed& r = e.case_review_appealed();
      asb::v1::CaseReviewApplication* a = FindApplication(&c, r.application_id());
      if (a == nullptr) {
        return NoApplication("case_review_appealed", r.application_id(), c);
      }
      *a->mutable_appealed_at() = at;
      a->set_appeal_body(!r.appeal_body().empty()       ? r.appeal_body()
                         : context.procedure != nullptr ? context.procedure->config().appeal_body()
                                                        : "pcc");
      if (context.procedure != nullptr) {
        *a->mutable_appeal_due() =
            model::ToTimestamp(context.procedure->AppealDue(model::ToTime(at)));
      }
      c.mutable_case_review()->set_status(asb::v1::CASE_REVIEW_STATUS_APPEALED);
      break;
    }
    case CaseEvent::kCaseReviewAppealDecided: {
      const asb::v1::CaseReviewAppealDecided& r = e.case_review_appeal_decided();
      asb::v1::CaseReviewApplication* a = FindApplication(&c, r.application_id());
      if (a == nullptr) {
        return NoApplication("case_review_appeal_decided", r.application_id(), c);
      }
      *a->mutable_appeal_decided_at() = at;
      a->set_appeal_upheld(r.upheld());
      a->set_appeal_outcome(r.outcome());
      c.mutable_case_review()->set_status(asb::v1::CASE_REVIEW_STATUS_APPEAL_DECIDED);
      break;
    }
    case CaseEvent::kIncidentReported: {
      const asb::v1::Incident& inc = e.incident_reported().incident();
      asb::v1::Incident* slot = nullptr;
      for (asb::v1::Incident& existing : *c.mutable_incidents()) {
        if (existing.incident_id() == inc.incident_id()) {
          slot = &existing;  // a correction from the reporting system
          break;
        }
      }
      if (slot == nullptr) {
        slot = c.add_incidents();
      }
      *slot = inc;
      if (!slot->has_occurred_at()) {
        *slot->mutable_occurred_at() = at;
      }
      slot->set_source_agency(source_agency);
      break;
    }
    case CaseEvent::EVENT_NOT_SET:
      return absl::InvalidArgumentError("event: none set");
    default:
      // Every other event concerns one order: the one order lifecycle (common/orders), which
      // asb-intake's ledger runs too (a re-issue, a variation of an order no longer in force, a
      // breach after its end cannot apply; anything else is kInvalidArgument).
      ASB_RETURN_IF_ERROR(orders::ApplyOrderEvent(
          e, c.case_id().empty() ? e.case_id() : c.case_id(), c.mutable_orders()));
      // The order, and a breach, record the feed that submitted them (ISP source conditions).
      if (e.has_order_issued()) {
        asb::v1::Order* o =
            orders::FindOrder(c.mutable_orders(), e.order_issued().order().order_id());
        if (o != nullptr) {
          o->set_source_agency(source_agency);
          for (asb::v1::Breach& b : *o->mutable_breaches()) {
            b.set_source_agency(source_agency);
          }
        }
      } else if (e.has_order_breached()) {
        asb::v1::Order* o = orders::FindOrder(c.mutable_orders(), e.order_breached().order_id());
        if (o != nullptr && o->breaches_size() > 0) {
          o->mutable_breaches(o->breaches_size() - 1)->set_source_agency(source_agency);
        }
      }
      break;
  }
  if (c.status() == asb::v1::CASE_STATUS_UNSPECIFIED) {
    return absl::FailedPreconditionError(
        absl::StrCat("case '", e.case_id(), "' is not opened yet"));
  }
  if (!c.has_updated_at() || Before(c.updated_at(), at)) {
    *c.mutable_updated_at() = at;
  }
  // A council tenant among the people makes it a council-tenancy case.
  for (const asb::v1::Person& p : c.people()) {
    if (p.tenure() == asb::v1::TENURE_COUNCIL_TENANT) {
      c.mutable_flags()->set_council_tenancy(true);
      break;
    }
  }
  *out = std::move(c);
  return absl::OkStatus();
}

void CaseFolder::DiscardUncommitted() {
  dirty_cases_.clear();
  dirty_pending_.clear();
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

absl::Status CaseFolder::LoadPending(const std::string& case_id,
                                     std::map<uint64_t, asb::v1::Envelope>* out) const {
  const std::string prefix = PendingPrefix(case_id);
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
  Prior prior = PriorOf(event, c);
  const FoldContext context = Context();
  ASB_RETURN_IF_ERROR(Fold(event, envelope.accepted_event().source_agency(), &c, context));
  applied.push_back(MakeApplied(envelope, c, std::move(prior), context));

  std::map<uint64_t, asb::v1::Envelope> pending;
  if (!current.has_value()) {
    ASB_RETURN_IF_ERROR(LoadPending(case_id, &pending));
  }
  std::string bytes;
  if (!c.SerializeToString(&bytes)) {
    return absl::InternalError("cannot serialise a case");
  }

  // From here on the batch changes; no more early returns.
  Track(batch);
  for (const auto& [seq, env] : pending) {
    batch->Delete(kPendingColumnFamily, PendingKey(case_id, seq));
    Prior pending_prior = PriorOf(env.accepted_event().event(), c);
    absl::Status folded =
        Fold(env.accepted_event().event(), env.accepted_event().source_agency(), &c, context);
    if (!folded.ok()) {
      SPDLOG_LOGGER_WARN(Logger(), "[evt {}] pending event not applied: {}", seq,
                         std::string(folded.message()));
      if (on_pending_skipped_) {
        on_pending_skipped_(env, folded, batch);
      }
      continue;
    }
    applied.push_back(MakeApplied(env, c, std::move(pending_prior), context));
  }
  if (!pending.empty() && !c.SerializeToString(&bytes)) {
    return absl::InternalError("cannot serialise a case");  // unreachable for valid protos
  }
  dirty_pending_.erase(case_id);
  batch->Put(kCasesColumnFamily, case_id, bytes);
  dirty_cases_[case_id] = std::move(c);
  dirty_count_ = batch->count();
  return applied;
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
  const std::string prefix = PendingPrefix(case_id);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kPendingColumnFamily);
  std::size_t n = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    ++n;
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading pending events"));
  return n;
}

absl::Status CaseFolder::Delete(const std::string& case_id, store::Batch* batch) {
  const std::string prefix = PendingPrefix(case_id);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kPendingColumnFamily);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    batch->Delete(kPendingColumnFamily, it->key().ToStringView());
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading pending events"));
  batch->Delete(kCasesColumnFamily, case_id);
  if (dirty_batch_ == batch) {
    dirty_cases_.erase(case_id);
    dirty_pending_.erase(case_id);
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
