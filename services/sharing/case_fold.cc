// CaseFolder::Fold: one case event applied to a case (pure: no store).

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/orders/lifecycle.h"
#include "common/status/macros.h"
#include "google/protobuf/util/time_util.h"
#include "services/sharing/case_folder.h"

namespace asb::sharing {
namespace {

using asb::v1::Case;
using asb::v1::CaseEvent;
using google::protobuf::Timestamp;

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

}  // namespace

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
  if (!c.has_updated_at() || c.updated_at() < at) {
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

}  // namespace asb::sharing
