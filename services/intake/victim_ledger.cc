#include "services/intake/victim_ledger.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/model/model.h"
#include "common/status/macros.h"
#include "services/intake/order_ledger.h"

namespace asb::intake {
namespace {

using asb::v1::CaseEvent;
using asb::v1::CaseReviewApplication;
using asb::v1::CaseReviewNoticeKind;
using asb::v1::LedgerApplication;
using asb::v1::LedgerCaseReview;
using asb::v1::LedgerComplaint;
using asb::v1::LedgerVictim;
using model::ToTime;
using model::ToTimestamp;

constexpr char kDecision[] = "decision";
constexpr char kReview[] = "review";
constexpr char kAppeal[] = "appeal";
// A victim's timers (LedgerVictim.timers).
constexpr char kAssess[] = "assess";
constexpr char kReassess[] = "reassess";

std::string LedgerKey(const std::string& case_id) {
  std::string key = case_id;
  key.push_back('\0');
  key.push_back('r');
  return key;
}

victims::Complaint ToComplaint(const std::string& case_id, const LedgerComplaint& c) {
  victims::Complaint out;
  out.case_id = case_id;
  out.incident_id = c.incident_id();
  out.reported_by = c.reported_by();
  out.reporter_person_id = c.reporter_person_id();
  out.same_incident_as = c.same_incident_as();
  out.category = c.category();
  out.reported_at = ToTime(c.reported_at());
  out.occurred_at = c.has_occurred_at() ? ToTime(c.occurred_at()) : out.reported_at;
  return out;
}

std::string When(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }
std::string WhenHour(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", t, absl::UTCTimeZone());
}

std::string BandWord(asb::v1::RiskLevel band) {
  switch (band) {
    case asb::v1::RISK_LEVEL_HIGH:
      return "HIGH";
    case asb::v1::RISK_LEVEL_MEDIUM:
      return "MEDIUM";
    case asb::v1::RISK_LEVEL_STANDARD:
      return "STANDARD";
    default:
      return "no";
  }
}

}  // namespace

VictimLedger::VictimLedger(store::Store* store, clock::TimerStore* timers)
    : store_(store), timers_(timers), risk_(victims::RiskMatrix::Empty()) {}

void VictimLedger::SetProcedure(std::shared_ptr<const victims::CaseReviewProcedure> procedure) {
  procedure_ = std::move(procedure);
}

void VictimLedger::SetRiskMatrix(std::shared_ptr<const victims::RiskMatrix> matrix) {
  risk_ = matrix != nullptr ? std::move(matrix) : victims::RiskMatrix::Empty();
}

std::string VictimLedger::TimerName(const std::string& case_id, const std::string& application_id,
                                    const std::string& deadline) {
  // '\1' cannot start an order id (ids have no control characters): no clash with the order
  // ledger's timer names (case_id '\0' order_id '\0' name).
  std::string name = case_id;
  name.push_back('\0');
  name.push_back('\1');
  name.append(application_id);
  name.push_back('\0');
  name.append(deadline);
  return name;
}

std::string VictimLedger::VictimTimerName(const std::string& case_id, uint32_t slot,
                                          const std::string& name) {
  // '\2' as '\1' above; the victim's slot, not their person id: the timer index is plaintext.
  std::string out = case_id;
  out.push_back('\0');
  out.push_back('\2');
  out.append(absl::StrCat(slot));
  out.push_back('\0');
  out.append(name);
  return out;
}

bool VictimLedger::Concerns(const CaseEvent& e) {
  switch (e.event_case()) {
    case CaseEvent::kCaseOpened:
    case CaseEvent::kCaseUpdated:
    case CaseEvent::kCaseClosed:
    case CaseEvent::kPersonLinked:
    case CaseEvent::kIncidentReported:
    case CaseEvent::kRiskAssessed:
    case CaseEvent::kCasesLinked:
    case CaseEvent::kCaseReviewApplied:
    case CaseEvent::kCaseReviewDecided:
    case CaseEvent::kCaseReviewCompleted:
    case CaseEvent::kCaseReviewAppealed:
    case CaseEvent::kCaseReviewAppealDecided:
      return true;
    default:
      return false;
  }
}

void VictimLedger::Bind(store::Batch* batch) {
  if (bound_ == batch) {
    return;
  }
  cache_.clear();
  bound_ = batch;
  const uint64_t generation = ++generation_;
  auto reset = [this, generation] {
    if (generation_ == generation) {
      cache_.clear();
      bound_ = nullptr;
      ++generation_;
    }
  };
  batch->OnCommit(reset);
  batch->OnAbort(reset);
}

absl::Status VictimLedger::Load(const std::string& case_id, store::Batch* batch) {
  Bind(batch);
  Entry& e = cache_[case_id];
  if (e.loaded) {
    return absl::OkStatus();
  }
  std::string bytes;
  absl::Status got = store_->Get(kLedgerColumnFamily, LedgerKey(case_id), &bytes);
  if (got.ok()) {
    if (!e.ledger.ParseFromString(bytes)) {
      return absl::DataLossError(
          absl::StrCat("the case review ledger of case '", case_id, "' does not parse"));
    }
  } else if (!absl::IsNotFound(got)) {
    return got;
  }
  e.loaded = true;
  return absl::OkStatus();
}

absl::Status VictimLedger::Prefetch(const CaseEvent& event, store::Batch* batch) {
  if (!Concerns(event)) {
    return absl::OkStatus();
  }
  ASB_RETURN_IF_ERROR(Load(event.case_id(), batch));
  std::vector<std::string> more(cache_[event.case_id()].ledger.linked_cases().begin(),
                                cache_[event.case_id()].ledger.linked_cases().end());
  if (event.has_cases_linked()) {
    const std::string& other = event.cases_linked().other_case_id();
    ASB_RETURN_IF_ERROR(Load(other, batch));
    more.push_back(other);
    for (const std::string& l : cache_[other].ledger.linked_cases()) {
      more.push_back(l);
    }
  }
  for (const std::string& id : more) {
    ASB_RETURN_IF_ERROR(Load(id, batch));
  }
  return absl::OkStatus();
}

absl::Status VictimLedger::Check(const CaseEvent& event) const {
  if (!Concerns(event)) {
    return absl::OkStatus();
  }
  auto it = cache_.find(event.case_id());
  if (it == cache_.end() || !it->second.loaded) {
    return absl::InternalError("the victim ledger of the case was not loaded");
  }
  const LedgerCaseReview& l = it->second.ledger;
  const std::string& case_id = event.case_id();

  if (event.has_risk_assessed()) {
    const asb::v1::RiskAssessed& r = event.risk_assessed();
    if (!r.person_id().empty() && l.people().count(r.person_id()) == 0) {
      return absl::FailedPreconditionError(absl::StrCat("risk_assessed.person_id: person '",
                                                        r.person_id(), "' is not linked to case '",
                                                        case_id, "' (link them first)"));
    }
    if (!r.template_id().empty()) {
      ASB_ASSIGN_OR_RETURN(
          victims::RiskMatrix::Scored scored,
          risk_->Score(r.template_id(), r.template_version(), r.answers(), "risk_assessed"));
      if (r.level() != asb::v1::RISK_LEVEL_UNSPECIFIED && r.level() != scored.band) {
        return absl::InvalidArgumentError(
            absl::StrCat("risk_assessed.level: ", asb::v1::RiskLevel_Name(r.level()),
                         " is not the template's band for these answers (score ", scored.score,
                         ": ", asb::v1::RiskLevel_Name(scored.band), "); leave it unset"));
      }
    }
    return absl::OkStatus();
  }

  const std::string& app_id = victims::ApplicationIdOf(event);
  if (app_id.empty()) {
    return absl::OkStatus();
  }
  const auto app_it = l.applications().find(app_id);
  const CaseReviewApplication* app =
      app_it == l.applications().end() ? nullptr : &app_it->second.application();
  auto none = [&](const char* field) {
    return absl::FailedPreconditionError(
        absl::StrCat(field, ".application_id: no ASB case review application '", app_id,
                     "' on case '", case_id, "' (record case_review_applied first)"));
  };
  switch (event.event_case()) {
    case CaseEvent::kCaseReviewApplied:
      if (app != nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            "case_review_applied.application_id: application '", app_id,
            "' was already received on case '", case_id, "' on ", When(ToTime(app->applied_at()))));
      }
      return absl::OkStatus();
    case CaseEvent::kCaseReviewDecided:
      if (app == nullptr) {
        return none("case_review_decided");
      }
      if (app->has_decided_at()) {
        return absl::FailedPreconditionError(
            absl::StrCat("case_review_decided: application '", app_id, "' was already decided on ",
                         When(ToTime(app->decided_at())), " (s.104(6))"));
      }
      return absl::OkStatus();
    case CaseEvent::kCaseReviewCompleted:
      if (app == nullptr) {
        return none("case_review_completed");
      }
      if (!app->has_decided_at() || !app->threshold_met()) {
        return absl::FailedPreconditionError(
            absl::StrCat("case_review_completed: application '", app_id,
                         "' has no decision that the threshold is met (s.104(4)-(6)): record "
                         "case_review_decided with threshold_met first"));
      }
      if (app->has_completed_at()) {
        return absl::FailedPreconditionError(
            absl::StrCat("case_review_completed: the review of application '", app_id,
                         "' was already completed on ", When(ToTime(app->completed_at()))));
      }
      return absl::OkStatus();
    case CaseEvent::kCaseReviewAppealed:
      if (app == nullptr) {
        return none("case_review_appealed");
      }
      if (!app->has_decided_at()) {
        return absl::FailedPreconditionError(
            absl::StrCat("case_review_appealed: application '", app_id,
                         "' is not decided yet (Sch 4 para 3: an appeal is about how the "
                         "application or the review was dealt with)"));
      }
      if (app->has_appealed_at()) {
        return absl::FailedPreconditionError(absl::StrCat("case_review_appealed: application '",
                                                          app_id, "' was already appealed on ",
                                                          When(ToTime(app->appealed_at()))));
      }
      return absl::OkStatus();
    case CaseEvent::kCaseReviewAppealDecided:
      if (app == nullptr) {
        return none("case_review_appeal_decided");
      }
      if (!app->has_appealed_at()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "case_review_appeal_decided: application '", app_id, "' was not appealed"));
      }
      if (app->has_appeal_decided_at()) {
        return absl::FailedPreconditionError(
            absl::StrCat("case_review_appeal_decided: the appeal of application '", app_id,
                         "' was already decided on ", When(ToTime(app->appeal_decided_at()))));
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

void VictimLedger::Put(const std::string& case_id, store::Batch* batch) {
  batch->Put(kLedgerColumnFamily, LedgerKey(case_id), cache_[case_id].ledger.SerializeAsString());
}

void VictimLedger::Schedule(const std::string& case_id, LedgerApplication* app,
                            const std::string& deadline, absl::Time due, store::Batch* batch) {
  asb::v1::ClockTimer payload;
  payload.set_case_id(case_id);
  payload.set_application_id(app->application().application_id());
  payload.set_name(deadline);
  ReplaceTimer(TimerName(case_id, app->application().application_id(), deadline), payload, due,
               app->mutable_timers(), batch);
}

void VictimLedger::Unschedule(const std::string& case_id, LedgerApplication* app,
                              const std::string& deadline, store::Batch* batch) {
  RemoveTimer(TimerName(case_id, app->application().application_id(), deadline), deadline,
              app->mutable_timers(), batch);
}

void VictimLedger::ScheduleVictim(const std::string& case_id, const std::string& person_id,
                                  LedgerVictim* v, const std::string& name, absl::Time due,
                                  store::Batch* batch) {
  asb::v1::ClockTimer payload;
  payload.set_case_id(case_id);
  payload.set_person_id(person_id);
  payload.set_name(name);
  ReplaceTimer(VictimTimerName(case_id, v->slot(), name), payload, due, v->mutable_timers(), batch);
}

void VictimLedger::UnscheduleVictim(const std::string& case_id, LedgerVictim* v,
                                    const std::string& name, store::Batch* batch) {
  RemoveTimer(VictimTimerName(case_id, v->slot(), name), name, v->mutable_timers(), batch);
}

void VictimLedger::ReplaceTimer(const std::string& timer_name, const asb::v1::ClockTimer& payload,
                                absl::Time due, DueByName* due_by_name, store::Batch* batch) {
  std::optional<absl::Time> current;
  if (auto it = due_by_name->find(payload.name()); it != due_by_name->end()) {
    current = absl::FromUnixMillis(it->second);
  }
  timers_->Replace(timer_name, current, due, payload.SerializeAsString(), batch);
  (*due_by_name)[payload.name()] = absl::ToUnixMillis(due);
}

absl::Time VictimLedger::TakeDue(DueByName* due_by_name, const std::string& name,
                                 absl::Time fallback) {
  auto it = due_by_name->find(name);
  if (it == due_by_name->end()) {
    return fallback;
  }
  const absl::Time due = absl::FromUnixMillis(it->second);
  due_by_name->erase(it);  // the service removed the timer as it fired
  return due;
}

void VictimLedger::RemoveTimer(const std::string& timer_name, const std::string& name,
                               DueByName* due_by_name, store::Batch* batch) {
  auto it = due_by_name->find(name);
  if (it == due_by_name->end()) {
    return;
  }
  timers_->Remove(timer_name, absl::FromUnixMillis(it->second), batch);
  due_by_name->erase(it);
}

LedgerVictim& VictimLedger::VictimOf(LedgerCaseReview* l, const std::string& person_id) {
  auto it = l->mutable_victims()->find(person_id);
  if (it != l->mutable_victims()->end()) {
    return it->second;
  }
  uint32_t slot = 0;
  for (const auto& [id, v] : l->victims()) {
    slot = std::max(slot, v.slot());
  }
  LedgerVictim& v = (*l->mutable_victims())[person_id];
  v.set_slot(slot + 1);
  return v;
}

CaseEvent VictimLedger::MakeVictimNotice(const std::string& case_id, const LedgerCaseReview& l,
                                         asb::v1::VictimNoticeKind kind,
                                         const std::string& person_id, const LedgerVictim& v,
                                         absl::Time deadline, const std::string& fallback_agency,
                                         absl::Time at) const {
  const asb::config::v1::RiskFollowUp& f = risk_->follow_up();
  asb::v1::StatutoryContext context;
  context.set_section(f.basis());
  context.set_rules_version(risk_->version());
  *context.mutable_deadline() = ToTimestamp(deadline);
  const std::string band = BandWord(v.band());
  const std::string assessed =
      v.has_assessed_at() ? absl::StrCat(" (assessed ", When(ToTime(v.assessed_at())), ")") : "";
  std::string id_tail;
  switch (kind) {
    case asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_DUE:
      context.set_rule_id("risk-reassessment");
      context.set_due(absl::StrCat("A new incident (", v.reassess_incident_id(), ") for victim ",
                                   person_id, ", whose latest risk band is ", band, assessed,
                                   ": reassess the victim's risk by ", WhenHour(deadline), "."));
      id_tail = absl::StrCat(person_id, "/", v.reassess_incident_id());
      break;
    case asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_OVERDUE:
      context.set_rule_id("risk-reassessment");
      context.set_due(absl::StrCat("Victim ", person_id, " (latest risk band ", band, assessed,
                                   ") was to be reassessed after incident ",
                                   v.reassess_incident_id(), " by ", WhenHour(deadline),
                                   "; no new assessment is recorded."));
      id_tail = absl::StrCat(person_id, "/", v.reassess_incident_id());
      break;
    default:
      context.set_rule_id("risk-assessment-missing");
      context.set_due(absl::StrCat(
          "Victim ", person_id, " was linked to the case on ", When(ToTime(v.linked_at())),
          " and has no risk assessment (due by ", When(deadline), "): assess the victim's risk."));
      id_tail = person_id;
      break;
  }
  const std::string word = victims::VictimNoticeKindWord(kind);
  const std::string notice_id = absl::StrCat("victims/", word, "/", id_tail);
  CaseEvent e;
  e.set_source_event_id(OrderLedger::HubEventId(case_id, "victims", notice_id));
  e.set_case_id(case_id);
  *e.mutable_occurred_at() = ToTimestamp(at);
  asb::v1::VictimNotice* n = e.mutable_victim_notice();
  n->set_notice_id(notice_id);
  n->set_kind(kind);
  *n->mutable_context() = std::move(context);
  const std::string& lead = l.lead_agency().empty() ? fallback_agency : l.lead_agency();
  if (!lead.empty()) {
    n->add_recipients(lead);
  }
  n->set_person_id(person_id);
  if (kind != asb::v1::VICTIM_NOTICE_KIND_ASSESSMENT_MISSING) {
    n->set_band(v.band());
    if (v.has_assessed_at()) {
      *n->mutable_assessed_at() = v.assessed_at();
    }
    n->set_incident_id(v.reassess_incident_id());
  } else {
    *n->mutable_linked_at() = v.linked_at();
  }
  return e;
}

void VictimLedger::Assessed(const std::string& case_id, LedgerVictim* v, absl::Time at,
                            asb::v1::RiskLevel band, const CaseEvent& event, store::Batch* batch) {
  if (!v->has_assessed_at() || at >= ToTime(v->assessed_at())) {
    *v->mutable_assessed_at() = event.occurred_at();
    v->set_band(band);
  }
  UnscheduleVictim(case_id, v, kAssess, batch);
  if (v->has_reassess_from() && at >= ToTime(v->reassess_from())) {
    UnscheduleVictim(case_id, v, kReassess, batch);
    v->clear_reassess_from();
    v->clear_reassess_incident_id();
  }
}

void VictimLedger::FollowUpIncident(const std::string& case_id, const CaseEvent& event,
                                    const std::string& source_agency, LedgerCaseReview* l,
                                    std::vector<CaseEvent>* raised, store::Batch* batch) {
  if (l->closed()) {
    return;  // an incident recorded on a closed case asks for no reassessment
  }
  std::vector<std::string> victims;  // in person id order: the notices' order is deterministic
  for (const auto& [person_id, v] : l->victims()) {
    if (v.has_linked_at()) {
      victims.push_back(person_id);
    }
  }
  if (victims.empty()) {
    return;
  }
  std::sort(victims.begin(), victims.end());
  const std::string& incident_id = event.incident_reported().incident().incident_id();
  if (std::find(l->incident_ids().begin(), l->incident_ids().end(), incident_id) !=
      l->incident_ids().end()) {
    return;  // a correction of an incident already recorded: nothing new happened
  }
  l->add_incident_ids(incident_id);
  Put(case_id, batch);
  const absl::Time at = ToTime(event.occurred_at());
  for (const std::string& person_id : victims) {
    LedgerVictim& v = (*l->mutable_victims())[person_id];
    const absl::Duration within = risk_->ReassessWithin(v.band());
    if (within <= absl::ZeroDuration()) {
      continue;  // not MEDIUM or HIGH
    }
    const absl::Time due = at + within;
    // A reassessment already due keeps the earliest deadline any incident asks for: a later
    // incident never postpones it; one whose own deadline falls earlier (reported late, or after
    // a backdated assessment raised the band) brings it forward, with a new notice.
    if (auto pending = v.timers().find(kReassess); pending != v.timers().end()) {
      if (absl::FromUnixMillis(pending->second) <= due) {
        continue;
      }
    }
    v.set_reassess_incident_id(incident_id);
    if (!v.has_reassess_from() || at < ToTime(v.reassess_from())) {
      *v.mutable_reassess_from() = event.occurred_at();
    }
    ScheduleVictim(case_id, person_id, &v, kReassess, due, batch);
    raised->push_back(MakeVictimNotice(case_id, *l, asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_DUE,
                                       person_id, v, due, source_agency, at));
  }
  Put(case_id, batch);
}

absl::StatusOr<std::optional<CaseEvent>> VictimLedger::FireVictim(const clock::Timer& timer,
                                                                  const asb::v1::ClockTimer& t,
                                                                  store::Batch* batch) {
  if (t.case_id().empty() || (t.name() != kAssess && t.name() != kReassess)) {
    return absl::InvalidArgumentError("a victim timer's payload does not parse");
  }
  ASB_RETURN_IF_ERROR(Load(t.case_id(), batch));
  LedgerCaseReview& l = cache_[t.case_id()].ledger;
  auto it = l.mutable_victims()->find(t.person_id());
  if (it == l.mutable_victims()->end()) {
    return absl::NotFoundError("a victim timer names a person the ledger does not have");
  }
  LedgerVictim& v = it->second;
  const absl::Time due = TakeDue(v.mutable_timers(), t.name(), timer.due);
  Put(t.case_id(), batch);
  if (t.name() == kAssess) {
    if (v.has_assessed_at()) {
      return std::optional<CaseEvent>();
    }
    return std::optional<CaseEvent>(MakeVictimNotice(t.case_id(), l,
                                                     asb::v1::VICTIM_NOTICE_KIND_ASSESSMENT_MISSING,
                                                     t.person_id(), v, due, "", due));
  }
  if (!v.has_reassess_from()) {
    return std::optional<CaseEvent>();  // reassessed meanwhile
  }
  CaseEvent overdue =
      MakeVictimNotice(t.case_id(), l, asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_OVERDUE,
                       t.person_id(), v, due, "", due);
  // Told; the next new incident starts a new reassessment.
  v.clear_reassess_from();
  v.clear_reassess_incident_id();
  return std::optional<CaseEvent>(std::move(overdue));
}

void VictimLedger::Recount(const std::string& case_id, absl::Time at, const CaseEvent& cause,
                           std::vector<CaseEvent>* raised, store::Batch* batch) {
  Entry& e = cache_[case_id];
  LedgerCaseReview& l = e.ledger;
  std::vector<victims::Complaint> complaints;
  for (const LedgerComplaint& c : l.complaints()) {
    complaints.push_back(ToComplaint(case_id, c));
  }
  for (const std::string& linked : l.linked_cases()) {
    auto it = cache_.find(linked);
    if (it == cache_.end() || !it->second.loaded) {
      continue;  // linked within this submission: counted from the next event on
    }
    for (const LedgerComplaint& c : it->second.ledger.complaints()) {
      complaints.push_back(ToComplaint(linked, c));
    }
  }
  const victims::Count count = procedure_->CountAt(complaints, at);
  const bool met = procedure_->ThresholdMet(count);
  const bool advisory = procedure_->AdvisoryDue(count);
  const bool was_advised = l.advised();
  const bool was_met = l.threshold_met();
  l.set_advised(met || advisory);
  l.set_threshold_met(met);
  std::optional<CaseReviewNoticeKind> kind;
  if (met && !was_met) {
    kind = asb::v1::CASE_REVIEW_NOTICE_KIND_THRESHOLD_MET;
  } else if (advisory && !met && !was_advised) {
    kind = asb::v1::CASE_REVIEW_NOTICE_KIND_ADVISORY;
  }
  if (l.advised() != was_advised || l.threshold_met() != was_met) {
    Put(case_id, batch);
  }
  if (!kind.has_value() || count.incident_ids.empty()) {
    return;
  }
  const std::string lead = l.lead_agency();
  std::vector<std::string> recipients;
  auto add = [&](const std::string& agency) {
    if (!agency.empty() &&
        std::find(recipients.begin(), recipients.end(), agency) == recipients.end()) {
      recipients.push_back(agency);
    }
  };
  add(lead.empty() ? cause.incident_reported().incident().reported_by() : lead);
  const asb::config::v1::CaseReviewProcedure& p = procedure_->config();
  asb::v1::StatutoryContext context;
  context.set_rules_version(procedure_->version());
  if (*kind == asb::v1::CASE_REVIEW_NOTICE_KIND_THRESHOLD_MET) {
    for (const std::string& a : p.alert_agencies()) {
      add(a);
    }
    const bool by_complaints = count.complaints >= p.complaint_threshold();
    context.set_rule_id(by_complaints ? "casereview-threshold" : "casereview-individuals");
    context.set_section(by_complaints ? victims::kSectionThreshold : victims::kSectionIndividuals);
    context.set_due(absl::StrCat(
        "The threshold for an ASB case review is met: ", procedure_->ThresholdWords(count),
        ", counted since ", When(count.window_start),
        ". If the victim (or someone for them) applies, the relevant bodies must carry out the "
        "review; the lead officer should tell the victim."));
  } else {
    context.set_rule_id("casereview-advisory");
    context.set_section(victims::kSectionAdvisory);
    context.set_due(absl::StrCat("Tell the victim about the ASB case review: ", count.complaints,
                                 " related qualifying complaints since ", When(count.window_start),
                                 " (the threshold is ", p.complaint_threshold(), " in ",
                                 p.window_months(), " months, s.104(4))."));
  }
  const std::string word = victims::CaseReviewKindWord(*kind);
  const std::string notice_id = absl::StrCat("casereview/", word, "/", count.incident_ids.back());
  CaseEvent n;
  n.set_source_event_id(OrderLedger::HubEventId(case_id, "casereview", notice_id));
  n.set_case_id(case_id);
  *n.mutable_occurred_at() = cause.occurred_at();
  asb::v1::CaseReviewNotice* notice = n.mutable_case_review_notice();
  notice->set_notice_id(notice_id);
  notice->set_kind(*kind);
  *notice->mutable_context() = std::move(context);
  for (std::string& r : recipients) {
    notice->add_recipients(std::move(r));
  }
  notice->set_complaints(count.complaints);
  notice->set_individuals(count.individuals);
  *notice->mutable_window_start() = ToTimestamp(count.window_start);
  for (const std::string& id : count.incident_ids) {
    notice->add_incident_ids(id);
  }
  raised->push_back(std::move(n));
}

std::vector<CaseEvent> VictimLedger::Commit(const CaseEvent& event,
                                            const std::string& source_agency, absl::Time now,
                                            store::Batch* batch) {
  std::vector<CaseEvent> raised;
  if (!Concerns(event)) {
    return raised;
  }
  Bind(batch);
  const std::string& case_id = event.case_id();
  Entry& entry = cache_[case_id];
  entry.loaded = true;  // Prefetch loaded it; a hub event's case is loaded by Fire
  LedgerCaseReview& l = entry.ledger;
  const absl::Time at = ToTime(event.occurred_at());
  switch (event.event_case()) {
    case CaseEvent::kCaseOpened:
      l.set_lead_agency(event.case_opened().lead_agency());
      Put(case_id, batch);
      break;
    case CaseEvent::kCaseUpdated:
      if (event.case_updated().has_lead_agency()) {
        l.set_lead_agency(event.case_updated().lead_agency());
        Put(case_id, batch);
      }
      break;
    case CaseEvent::kCaseClosed:
      // A closed case asks for no more assessments: its victims' timers stop.
      l.set_closed(true);
      for (auto& [person_id, v] : *l.mutable_victims()) {
        UnscheduleVictim(case_id, &v, kAssess, batch);
        UnscheduleVictim(case_id, &v, kReassess, batch);
      }
      Put(case_id, batch);
      break;
    case CaseEvent::kPersonLinked: {
      const asb::v1::Person& p = event.person_linked().person();
      (*l.mutable_people())[p.person_id()] = p.role();
      if (p.role() == asb::v1::PERSON_ROLE_VICTIM) {
        LedgerVictim& v = VictimOf(&l, p.person_id());
        if (!v.has_linked_at()) {
          // The first link as a victim starts the time to assess them (the hub's clock).
          *v.mutable_linked_at() = event.occurred_at();
          const absl::Duration within = risk_->AssessWithin();
          if (within > absl::ZeroDuration() && !v.has_assessed_at() && !l.closed()) {
            ScheduleVictim(case_id, p.person_id(), &v, kAssess, at + within, batch);
          }
        }
      }
      Put(case_id, batch);
      break;
    }
    case CaseEvent::kRiskAssessed: {
      const asb::v1::RiskAssessed& r = event.risk_assessed();
      asb::v1::RiskLevel band = r.level();
      if (!r.template_id().empty()) {
        // Check scored it already; the band is the template's.
        if (absl::StatusOr<victims::RiskMatrix::Scored> scored =
                risk_->Score(r.template_id(), r.template_version(), r.answers(), "risk_assessed");
            scored.ok()) {
          band = scored->band;
        }
      }
      if (!r.person_id().empty()) {
        Assessed(case_id, &VictimOf(&l, r.person_id()), at, band, event, batch);
      } else {
        // A case-level assessment (a feed with one risk value per case) assesses every victim
        // linked so far.
        for (auto& [person_id, v] : *l.mutable_victims()) {
          if (v.has_linked_at()) {
            Assessed(case_id, &v, at, band, event, batch);
          }
        }
      }
      Put(case_id, batch);
      break;
    }
    case CaseEvent::kIncidentReported: {
      const asb::v1::Incident& inc = event.incident_reported().incident();
      FollowUpIncident(case_id, event, source_agency, &l, &raised, batch);
      if (procedure_ == nullptr) {
        break;
      }
      LedgerComplaint c;
      c.set_incident_id(inc.incident_id());
      c.set_reported_by(inc.reported_by().empty() ? source_agency : inc.reported_by());
      *c.mutable_reported_at() = event.occurred_at();
      if (inc.has_occurred_at()) {
        *c.mutable_occurred_at() = inc.occurred_at();
      }
      c.set_reporter_person_id(inc.reporter_person_id());
      c.set_same_incident_as(inc.same_incident_as());
      c.set_category(inc.category());
      // A correction of an incident already recorded replaces it; old complaints are forgotten.
      auto* list = l.mutable_complaints();
      std::vector<LedgerComplaint> kept;
      absl::Time newest = at;
      for (const LedgerComplaint& old : *list) {
        newest = std::max(newest, ToTime(old.reported_at()));
      }
      const absl::Time forget = procedure_->ForgetBefore(newest);
      for (LedgerComplaint& old : *list) {
        if (old.incident_id() != c.incident_id() && ToTime(old.reported_at()) >= forget) {
          kept.push_back(std::move(old));
        }
      }
      kept.push_back(std::move(c));
      std::sort(kept.begin(), kept.end(), [](const LedgerComplaint& a, const LedgerComplaint& b) {
        return ToTime(a.reported_at()) < ToTime(b.reported_at());
      });
      list->Clear();
      for (LedgerComplaint& k : kept) {
        *list->Add() = std::move(k);
      }
      Put(case_id, batch);
      // The count as of the newest complaint of the case and of its linked cases.
      for (const std::string& linked : l.linked_cases()) {
        if (auto it = cache_.find(linked); it != cache_.end()) {
          for (const LedgerComplaint& o : it->second.ledger.complaints()) {
            newest = std::max(newest, ToTime(o.reported_at()));
          }
        }
      }
      Recount(case_id, newest, event, &raised, batch);
      const std::vector<std::string> linked(l.linked_cases().begin(), l.linked_cases().end());
      for (const std::string& other : linked) {
        if (cache_.count(other) != 0 && cache_[other].loaded) {
          Recount(other, newest, event, &raised, batch);
        }
      }
      break;
    }
    case CaseEvent::kCasesLinked: {
      const std::string& other = event.cases_linked().other_case_id();
      auto add_link = [&](const std::string& from, const std::string& to) {
        LedgerCaseReview& from_l = cache_[from].ledger;
        cache_[from].loaded = true;
        if (std::find(from_l.linked_cases().begin(), from_l.linked_cases().end(), to) ==
            from_l.linked_cases().end()) {
          from_l.add_linked_cases(to);
          Put(from, batch);
        }
      };
      add_link(case_id, other);
      add_link(other, case_id);
      if (procedure_ != nullptr) {
        absl::Time newest = at;
        for (const std::string& id : {case_id, other}) {
          for (const LedgerComplaint& o : cache_[id].ledger.complaints()) {
            newest = std::max(newest, ToTime(o.reported_at()));
          }
        }
        Recount(case_id, newest, event, &raised, batch);
        Recount(other, newest, event, &raised, batch);
      }
      break;
    }
    case CaseEvent::kCaseReviewApplied: {
      LedgerApplication& app = (*l.mutable_applications())[victims::ApplicationIdOf(event)];
      CaseReviewApplication* a = app.mutable_application();
      a->set_application_id(victims::ApplicationIdOf(event));
      a->set_applicant_person_id(event.case_review_applied().applicant_person_id());
      *a->mutable_applied_at() = event.occurred_at();
      if (procedure_ != nullptr) {
        const absl::Time due = procedure_->DecisionDue(at);
        *a->mutable_decision_due() = ToTimestamp(due);
        Schedule(case_id, &app, kDecision, due, batch);
      }
      Put(case_id, batch);
      break;
    }
    case CaseEvent::kCaseReviewDecided: {
      LedgerApplication& app = (*l.mutable_applications())[victims::ApplicationIdOf(event)];
      CaseReviewApplication* a = app.mutable_application();
      *a->mutable_decided_at() = event.occurred_at();
      a->set_threshold_met(event.case_review_decided().threshold_met());
      Unschedule(case_id, &app, kDecision, batch);
      if (a->threshold_met() && procedure_ != nullptr) {
        const absl::Time due = procedure_->ReviewDue(at);
        *a->mutable_review_due() = ToTimestamp(due);
        Schedule(case_id, &app, kReview, due, batch);
      }
      Put(case_id, batch);
      break;
    }
    case CaseEvent::kCaseReviewCompleted: {
      LedgerApplication& app = (*l.mutable_applications())[victims::ApplicationIdOf(event)];
      *app.mutable_application()->mutable_completed_at() = event.occurred_at();
      Unschedule(case_id, &app, kReview, batch);
      Put(case_id, batch);
      break;
    }
    case CaseEvent::kCaseReviewAppealed: {
      LedgerApplication& app = (*l.mutable_applications())[victims::ApplicationIdOf(event)];
      CaseReviewApplication* a = app.mutable_application();
      *a->mutable_appealed_at() = event.occurred_at();
      if (procedure_ != nullptr) {
        const absl::Time due = procedure_->AppealDue(at);
        *a->mutable_appeal_due() = ToTimestamp(due);
        Schedule(case_id, &app, kAppeal, due, batch);
      }
      Put(case_id, batch);
      break;
    }
    case CaseEvent::kCaseReviewAppealDecided: {
      LedgerApplication& app = (*l.mutable_applications())[victims::ApplicationIdOf(event)];
      *app.mutable_application()->mutable_appeal_decided_at() = event.occurred_at();
      Unschedule(case_id, &app, kAppeal, batch);
      Put(case_id, batch);
      break;
    }
    default:
      break;
  }
  (void)now;
  return raised;
}

absl::StatusOr<std::optional<CaseEvent>> VictimLedger::Fire(const clock::Timer& timer,
                                                            const asb::v1::ClockTimer& t,
                                                            absl::Time now, store::Batch* batch) {
  (void)now;
  if (!t.person_id().empty()) {
    return FireVictim(timer, t, batch);
  }
  if (t.case_id().empty() || t.application_id().empty() ||
      (t.name() != kDecision && t.name() != kReview && t.name() != kAppeal)) {
    return absl::InvalidArgumentError("a case review timer's payload does not parse");
  }
  ASB_RETURN_IF_ERROR(Load(t.case_id(), batch));
  LedgerCaseReview& l = cache_[t.case_id()].ledger;
  auto it = l.mutable_applications()->find(t.application_id());
  if (it == l.mutable_applications()->end()) {
    return absl::NotFoundError("a case review timer names an application the ledger does not have");
  }
  LedgerApplication& app = it->second;
  const CaseReviewApplication& a = app.application();
  const absl::Time due = TakeDue(app.mutable_timers(), t.name(), timer.due);
  Put(t.case_id(), batch);
  CaseReviewNoticeKind kind;
  const char* section;
  std::string due_words;
  if (t.name() == kDecision) {
    if (a.has_decided_at()) {
      return std::optional<CaseEvent>();
    }
    kind = asb::v1::CASE_REVIEW_NOTICE_KIND_DECISION_OVERDUE;
    section = victims::kSectionDecision;
    due_words = absl::StrCat("Application '", a.application_id(),
                             "' for an ASB case review (received ", When(ToTime(a.applied_at())),
                             ") is not decided: the applicant was to be "
                             "told whether the threshold is met by ",
                             When(due), ".");
  } else if (t.name() == kReview) {
    if (a.has_completed_at()) {
      return std::optional<CaseEvent>();
    }
    kind = asb::v1::CASE_REVIEW_NOTICE_KIND_REVIEW_OVERDUE;
    section = victims::kSectionReview;
    due_words = absl::StrCat("The ASB case review of application '", a.application_id(),
                             "' was to be carried out and its outcome given by ", When(due), ".");
  } else {
    if (a.has_appeal_decided_at()) {
      return std::optional<CaseEvent>();
    }
    kind = asb::v1::CASE_REVIEW_NOTICE_KIND_APPEAL_OVERDUE;
    section = victims::kSectionAppeal;
    due_words = absl::StrCat("The appeal of application '", a.application_id(), "' to ",
                             a.appeal_body().empty() ? "the appeal body" : a.appeal_body(),
                             " was to be decided by ", When(due), ".");
  }
  const std::string word = victims::CaseReviewKindWord(kind);
  const std::string notice_id = absl::StrCat("casereview/", word, "/", a.application_id());
  CaseEvent e;
  e.set_source_event_id(OrderLedger::HubEventId(t.case_id(), "casereview", notice_id));
  e.set_case_id(t.case_id());
  *e.mutable_occurred_at() = ToTimestamp(due);
  asb::v1::CaseReviewNotice* n = e.mutable_case_review_notice();
  n->set_notice_id(notice_id);
  n->set_kind(kind);
  n->set_application_id(a.application_id());
  asb::v1::StatutoryContext* c = n->mutable_context();
  c->set_rule_id(absl::StrCat("casereview-", t.name(), "-time"));
  c->set_section(section);
  *c->mutable_deadline() = ToTimestamp(due);
  c->set_due(due_words);
  if (procedure_ != nullptr) {
    c->set_rules_version(procedure_->version());
  }
  std::vector<std::string> recipients;
  if (!l.lead_agency().empty()) {
    recipients.push_back(l.lead_agency());
  }
  if (procedure_ != nullptr) {
    for (const std::string& agency : procedure_->config().alert_agencies()) {
      if (std::find(recipients.begin(), recipients.end(), agency) == recipients.end()) {
        recipients.push_back(agency);
      }
    }
  }
  for (const std::string& r : recipients) {
    n->add_recipients(r);
  }
  return std::optional<CaseEvent>(std::move(e));
}

absl::StatusOr<LedgerCaseReview> VictimLedger::Get(const std::string& case_id) {
  if (auto it = cache_.find(case_id); it != cache_.end() && it->second.loaded) {
    return it->second.ledger;
  }
  std::string bytes;
  absl::Status got = store_->Get(kLedgerColumnFamily, LedgerKey(case_id), &bytes);
  if (absl::IsNotFound(got)) {
    return absl::NotFoundError(absl::StrCat("no case review ledger for case '", case_id, "'"));
  }
  ASB_RETURN_IF_ERROR(got);
  LedgerCaseReview l;
  if (!l.ParseFromString(bytes)) {
    return absl::DataLossError("a case review ledger does not parse");
  }
  return l;
}

}  // namespace asb::intake
