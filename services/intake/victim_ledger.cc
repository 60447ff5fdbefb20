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
using victims::When;

constexpr char kDecision[] = "decision";
constexpr char kReview[] = "review";
constexpr char kAppeal[] = "appeal";

// case_id '\0' kind [id]: the head ('r'), the window ('w'), an incident ('i').
std::string LedgerKey(const std::string& case_id, char kind = 'r', std::string_view id = {}) {
  std::string key = case_id;
  key.push_back('\0');
  key.push_back(kind);
  key.append(id);
  return key;
}

// Reads one ledger record into `out`; false if there is none.
absl::StatusOr<bool> ReadRecord(const store::Store* store, const std::string& key,
                                google::protobuf::Message* out, absl::string_view what) {
  std::string bytes;
  absl::Status got = store->Get(kLedgerColumnFamily, key, &bytes);
  if (absl::IsNotFound(got)) {
    return false;
  }
  ASB_RETURN_IF_ERROR(got);
  if (!out->ParseFromString(bytes)) {
    return absl::DataLossError(absl::StrCat(what, " in the case review ledger does not parse"));
  }
  return true;
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
  ASB_RETURN_IF_ERROR(
      ReadRecord(store_, LedgerKey(case_id), &e.ledger, "the head of a case").status());
  if (e.ledger.complaints_size() > 0 || e.ledger.incident_ids_size() > 0) {
    // Written whole by an earlier version: what is now a record of its own moves out.
    e.legacy = true;
    e.window_loaded = true;
    e.window.mutable_complaints()->Swap(e.ledger.mutable_complaints());
    for (std::string& id : *e.ledger.mutable_incident_ids()) {
      e.incidents[id] = true;
      e.legacy_ids.push_back(std::move(id));
    }
    e.ledger.clear_incident_ids();
  }
  e.loaded = true;
  return absl::OkStatus();
}

absl::Status VictimLedger::LoadWindow(const std::string& case_id, store::Batch* batch) {
  ASB_RETURN_IF_ERROR(Load(case_id, batch));
  Entry& e = cache_[case_id];
  if (e.window_loaded) {
    return absl::OkStatus();
  }
  ASB_RETURN_IF_ERROR(
      ReadRecord(store_, LedgerKey(case_id, 'w'), &e.window, "the complaints of a case").status());
  e.window_loaded = true;
  return absl::OkStatus();
}

absl::Status VictimLedger::LoadIncident(const std::string& case_id, const std::string& incident_id,
                                        store::Batch* batch) {
  ASB_RETURN_IF_ERROR(Load(case_id, batch));
  Entry& e = cache_[case_id];
  if (e.incidents.count(incident_id) != 0) {
    return absl::OkStatus();
  }
  asb::v1::LedgerIncident incident;
  ASB_ASSIGN_OR_RETURN(
      e.incidents[incident_id],
      ReadRecord(store_, LedgerKey(case_id, 'i', incident_id), &incident, "an incident of a case"));
  return absl::OkStatus();
}

absl::Status VictimLedger::Prefetch(const CaseEvent& event, store::Batch* batch) {
  if (!Concerns(event)) {
    return absl::OkStatus();
  }
  if (event.has_incident_reported()) {
    ASB_RETURN_IF_ERROR(
        LoadIncident(event.case_id(), event.incident_reported().incident().incident_id(), batch));
  }
  // An incident or a link counts the complaints of the case and of the cases linked to it.
  const bool counts =
      procedure_ != nullptr && (event.has_incident_reported() || event.has_cases_linked());
  auto load = [&](const std::string& case_id) {
    return counts ? LoadWindow(case_id, batch) : Load(case_id, batch);
  };
  ASB_RETURN_IF_ERROR(load(event.case_id()));
  std::vector<std::string> more(cache_[event.case_id()].ledger.linked_cases().begin(),
                                cache_[event.case_id()].ledger.linked_cases().end());
  if (event.has_cases_linked()) {
    const std::string& other = event.cases_linked().other_case_id();
    ASB_RETURN_IF_ERROR(load(other));
    more.push_back(other);
    for (const std::string& l : cache_[other].ledger.linked_cases()) {
      more.push_back(l);
    }
  }
  for (const std::string& id : more) {
    ASB_RETURN_IF_ERROR(load(id));
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
  if (event.has_incident_reported() &&
      it->second.incidents.count(event.incident_reported().incident().incident_id()) == 0) {
    return absl::InternalError("the incident was not looked up in the victim ledger");
  }

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
  Entry& e = cache_[case_id];
  batch->Put(kLedgerColumnFamily, LedgerKey(case_id), e.ledger.SerializeAsString());
  if (e.legacy) {
    e.legacy = false;
    PutWindow(case_id, batch);
    asb::v1::LedgerIncident incident;
    const std::string bytes = incident.SerializeAsString();  // when is not known: unset
    for (const std::string& id : e.legacy_ids) {
      batch->Put(kLedgerColumnFamily, LedgerKey(case_id, 'i', id), bytes);
    }
    e.legacy_ids.clear();
  }
}

void VictimLedger::PutWindow(const std::string& case_id, store::Batch* batch) {
  batch->Put(kLedgerColumnFamily, LedgerKey(case_id, 'w'),
             cache_[case_id].window.SerializeAsString());
}

void VictimLedger::PutIncident(const std::string& case_id, const std::string& incident_id,
                               const google::protobuf::Timestamp& at, store::Batch* batch) {
  cache_[case_id].incidents[incident_id] = true;
  asb::v1::LedgerIncident incident;
  *incident.mutable_first_reported_at() = at;
  batch->Put(kLedgerColumnFamily, LedgerKey(case_id, 'i', incident_id),
             incident.SerializeAsString());
}

absl::Time VictimLedger::AddComplaint(Entry* entry, LedgerComplaint c, bool correction) {
  auto* list = entry->window.mutable_complaints();
  const absl::Time at = ToTime(c.reported_at());
  // Oldest report first: the newest is the last.
  const absl::Time newest =
      list->empty() ? at : std::max(at, ToTime(list->rbegin()->reported_at()));
  if (correction) {
    for (int i = 0; i < list->size(); ++i) {
      if (list->Get(i).incident_id() == c.incident_id()) {
        list->DeleteSubrange(i, 1);
        break;
      }
    }
  }
  const absl::Time forget = procedure_->ForgetBefore(newest);
  int old = 0;
  while (old < list->size() && ToTime(list->Get(old).reported_at()) < forget) {
    ++old;
  }
  list->DeleteSubrange(0, old);
  *list->Add() = std::move(c);
  for (int i = list->size() - 1; i > 0 && ToTime(list->Get(i - 1).reported_at()) > at; --i) {
    list->SwapElements(i - 1, i);  // a report made late: in its place
  }
  return newest;
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

void VictimLedger::Recount(const std::string& case_id, absl::Time at, const CaseEvent& cause,
                           std::vector<CaseEvent>* raised, store::Batch* batch) {
  Entry& e = cache_[case_id];
  LedgerCaseReview& l = e.ledger;
  std::vector<victims::Complaint> complaints;
  complaints.reserve(e.window.complaints_size());
  for (const LedgerComplaint& c : e.window.complaints()) {
    complaints.push_back(ToComplaint(case_id, c));
  }
  for (const std::string& linked : l.linked_cases()) {
    auto it = cache_.find(linked);
    if (it == cache_.end() || !it->second.window_loaded) {
      continue;  // linked within this submission: counted from the next event on
    }
    for (const LedgerComplaint& c : it->second.window.complaints()) {
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
      // A correction of an incident already recorded is not a new incident.
      const bool correction = entry.incidents[inc.incident_id()];
      if (!correction) {
        PutIncident(case_id, inc.incident_id(), event.occurred_at(), batch);
        FollowUpIncident(case_id, event, source_agency, &l, &raised, batch);
      }
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
      absl::Time newest = AddComplaint(&entry, std::move(c), correction);
      PutWindow(case_id, batch);
      if (entry.legacy) {
        Put(case_id, batch);
      }
      // The count as of the newest complaint of the case and of its linked cases.
      for (const std::string& linked : l.linked_cases()) {
        if (auto it = cache_.find(linked); it != cache_.end() && it->second.window_loaded &&
                                           !it->second.window.complaints().empty()) {
          newest = std::max(newest, ToTime(it->second.window.complaints().rbegin()->reported_at()));
        }
      }
      Recount(case_id, newest, event, &raised, batch);
      const std::vector<std::string> linked(l.linked_cases().begin(), l.linked_cases().end());
      for (const std::string& other : linked) {
        if (auto it = cache_.find(other); it != cache_.end() && it->second.window_loaded) {
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
          if (const auto& list = cache_[id].window.complaints(); !list.empty()) {
            newest = std::max(newest, ToTime(list.rbegin()->reported_at()));
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

}  // namespace asb::intake
