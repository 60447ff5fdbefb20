// The risk matrix's follow-up of a case's victims (config/risk/ RiskFollowUp) on the hub's clock:
// their "assess" and "reassess" timers and the notices those and new incidents raise. Part of
// VictimLedger (victim_ledger.h); the case review's count and applications are victim_ledger.cc.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model/model.h"
#include "common/status/macros.h"
#include "services/intake/order_ledger.h"
#include "services/intake/victim_ledger.h"

namespace asb::intake {
namespace {

using asb::v1::CaseEvent;
using asb::v1::LedgerCaseReview;
using asb::v1::LedgerVictim;
using model::ToTime;
using model::ToTimestamp;
using victims::When;

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

}  // namespace asb::intake
