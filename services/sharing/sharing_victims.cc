// SharingHandler's victims part (issue 15): repeat-victim matching as events are folded, and the
// case-review and repeat-victim queries. The rest of the class is in sharing_handler.cc.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asb/v1/audit.pb.h"
#include "common/model/model.h"
#include "common/status/macros.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/sharing/sharing_handler.h"

namespace asb::sharing {
namespace {

using ::asb::model::ToTime;
using ::asb::model::ToTimestamp;

}  // namespace

absl::Status SharingHandler::MatchVictim(
    const policy::Policy& policy, CaseFolder::Applied* a,
    std::map<std::string, std::vector<asb::v1::LinkSuggestion>>* links,
    const google::protobuf::Timestamp& now, store::Batch* batch) {
  const asb::v1::Person* person = nullptr;
  for (const asb::v1::Person& p : a->case_after.people()) {
    if (p.person_id() == a->linked_person_id && p.role() == asb::v1::PERSON_ROLE_VICTIM) {
      person = &p;
    }
  }
  if (person == nullptr) {
    return absl::OkStatus();
  }
  const std::string case_id = a->case_after.case_id();
  const std::string person_id = person->person_id();
  ASB_ASSIGN_OR_RETURN(
      std::vector<VictimIndex::Entry> matches,
      victim_index_->AddAndMatch(case_id, person_id, MatchKeysOf(policy, *person), batch));
  if (matches.empty()) {
    return absl::OkStatus();
  }
  ASB_ASSIGN_OR_RETURN(std::optional<asb::v1::Case> marked,
                       folder_->MarkRepeatVictim(case_id, person_id, batch));
  if (marked.has_value()) {
    a->case_after = *std::move(marked);
  }
  std::vector<std::string> coordinators;
  if (std::shared_ptr<const victims::CaseReviewProcedure> p = folder_->procedure(); p != nullptr) {
    coordinators.assign(p->config().alert_agencies().begin(), p->config().alert_agencies().end());
  }
  std::set<std::string> done;
  for (const VictimIndex::Entry& m : matches) {
    if (!done.insert(m.case_id).second) {
      continue;
    }
    ASB_ASSIGN_OR_RETURN(std::optional<asb::v1::Case> other,
                         folder_->MarkRepeatVictim(m.case_id, m.person_id, batch));
    if (!other.has_value()) {
      ASB_ASSIGN_OR_RETURN(other, folder_->Peek(m.case_id));
    }
    if (!other.has_value()) {
      continue;  // not opened yet (its own link, when it comes, finds this one)
    }
    const std::string& la = a->case_after.lead_agency();
    const std::string& lb = other->lead_agency();
    asb::v1::Disclosure probe;
    const bool a_sees_b = !la.empty() && policy.Apply(la, *other, policy::EventContext{}, &probe);
    const bool b_sees_a =
        !lb.empty() && policy.Apply(lb, a->case_after, policy::EventContext{}, &probe);
    asb::v1::LinkSuggestion s;
    s.set_case_id(case_id);
    s.set_other_case_id(m.case_id);
    s.set_matched_by(m.basis);
    s.set_match_key(m.key);
    s.set_lead_agency(la);
    s.set_other_lead_agency(lb);
    if (a_sees_b && b_sees_a) {
      // Both lead agencies may see both cases: each is told, in its disclosure of this event.
      s.set_person_id(person_id);
      s.set_other_person_id(m.person_id);
      (*links)[la].push_back(s);
      if (lb != la) {
        (*links)[lb].push_back(s);
      }
      continue;
    }
    // The ISP keeps the cases apart: the coordinator is told that a link exists, no more.
    s.set_details_withheld(true);
    for (const std::string& coordinator : coordinators) {
      (*links)[coordinator].push_back(s);
    }
    if (coordinators.empty()) {
      AuditHubRefusal(case_id, a->type, a->event_seq, /*recipient=*/"",
                      absl::StrCat("link suggestion with case ", m.case_id,
                                   " not made: the ISP does not let the lead agencies see each "
                                   "other's case and no coordinator is configured"),
                      policy.version(), now, batch);
    }
  }
  return absl::OkStatus();
}

namespace {

absl::Status Problems(const std::vector<std::string>& problems) {
  return problems.empty() ? absl::OkStatus()
                          : absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

bool HasCaseReview(const asb::v1::Case& c) {
  const asb::v1::CaseReview& r = c.case_review();
  return r.status() != asb::v1::CASE_REVIEW_STATUS_UNSPECIFIED || r.notices_size() > 0 ||
         r.applications_size() > 0 || r.complaints() > 0;
}

// True if one of the hub's case review notices on the case was addressed to `agency`.
bool AddressedTo(const asb::v1::CaseReview& r, const std::string& agency) {
  for (const asb::v1::CaseReviewNotice& n : r.notices()) {
    if (std::find(n.recipients().begin(), n.recipients().end(), agency) != n.recipients().end()) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<asb::v1::ListCaseReviewsResponse> SharingHandler::ListCaseReviews(
    const std::string& principal, const std::string& agency,
    const asb::v1::ListCaseReviewsRequest& request, store::Batch* batch) {
  std::vector<std::string> problems;
  if (!asb::v1::CaseReviewStatus_IsValid(request.status())) {
    problems.push_back("status: not a defined value");
  }
  if (request.limit() > 5000) {
    problems.push_back("limit: at most 5000");
  }
  ASB_RETURN_IF_ERROR(Problems(problems));
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy, policy::InForce(policy_));
  ASB_RETURN_IF_ERROR(CheckOfficer("ListCaseReviews", principal, agency, "", request.on_behalf_of(),
                                   *policy, batch));
  google::protobuf::Timestamp now;
  ToTimestamp(clock_(), &now);
  const uint32_t limit = request.limit() != 0 ? request.limit() : 500;
  asb::v1::ListCaseReviewsResponse out;
  out.set_isp_version(policy->version());
  ASB_RETURN_IF_ERROR(folder_->ForEachCase(request.after_case_id(), [&](const asb::v1::Case& c) {
    if (c.case_id() == request.after_case_id() || !HasCaseReview(c)) {
      return true;
    }
    asb::v1::Disclosure d;
    bool granted =
        policy->Apply(agency, c, policy::EventContext{}, &d) && d.view().has_case_review();
    if (!granted && AddressedTo(c.case_review(), agency)) {
      // An agency the hub told of this case review (the partnership coordinator at the
      // threshold) sees it as the ISP lets it see it when told: its rules for a case review
      // notice, e.g. the header and the case review, no people.
      d.Clear();
      policy::EventContext told;
      told.event_type = asb::v1::EVENT_TYPE_CASE_REVIEW_NOTICE;
      granted = policy->Apply(agency, c, told, &d) && d.view().has_case_review();
    }
    if (!granted) {
      return true;  // not shared, or the case review not granted to this agency
    }
    const asb::v1::CaseReview& review = d.view().case_review();
    if (request.status() != asb::v1::CASE_REVIEW_STATUS_UNSPECIFIED &&
        review.status() != request.status()) {
      return true;
    }
    if (static_cast<uint32_t>(out.reviews_size()) == limit) {
      out.set_more(true);
      return false;
    }
    asb::v1::CaseReviewSummary* s = out.add_reviews();
    s->set_case_id(c.case_id());
    s->set_lead_agency(d.view().lead_agency());
    s->set_lead_officer(d.view().lead_officer());
    *s->mutable_case_review() = review;
    const google::protobuf::Timestamp* next = nullptr;
    const char* what = "";
    auto consider = [&](const google::protobuf::Timestamp& t, const char* label) {
      if (t.seconds() != 0 && (next == nullptr || ToTime(t) < ToTime(*next))) {
        next = &t;
        what = label;
      }
    };
    for (const asb::v1::CaseReviewApplication& a : review.applications()) {
      if (!a.has_decided_at()) {
        consider(a.decision_due(), "decision");
      } else if (a.threshold_met() && !a.has_completed_at()) {
        consider(a.review_due(), "review");
      }
      if (a.has_appealed_at() && !a.has_appeal_decided_at()) {
        consider(a.appeal_due(), "appeal");
      }
    }
    if (next != nullptr) {
      *s->mutable_next_deadline() = *next;
      s->set_next_due(what);
    }
    d.set_case_id(c.case_id());
    AuditConsultation(principal, agency, d, request.on_behalf_of(), "ListCaseReviews",
                      policy->version(), now, batch);
    return true;
  }));
  return out;
}

absl::StatusOr<asb::v1::RepeatVictimsResponse> SharingHandler::RepeatVictims(
    const std::string& principal, const std::string& agency,
    const asb::v1::RepeatVictimsRequest& request, store::Batch* batch) {
  std::vector<std::string> problems;
  if (request.min_cases() == 1 || request.min_cases() > 100) {
    problems.push_back("min_cases: 2 to 100 (0 means 2)");
  }
  if (request.limit() > 5000) {
    problems.push_back("limit: at most 5000");
  }
  ASB_RETURN_IF_ERROR(Problems(problems));
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy, policy::InForce(policy_));
  ASB_RETURN_IF_ERROR(
      CheckOfficer("RepeatVictims", principal, agency, "", request.on_behalf_of(), *policy, batch));
  asb::v1::RepeatVictimsResponse out;
  out.set_isp_version(policy->version());
  if (victim_index_ == nullptr) {
    return out;
  }
  google::protobuf::Timestamp now;
  ToTimestamp(clock_(), &now);
  const uint32_t min_cases = request.min_cases() != 0 ? request.min_cases() : 2;
  const uint32_t limit = request.limit() != 0 ? request.limit() : 500;
  // Views are decided once per case; a person counts only if the agency's view shows them.
  std::map<std::string, std::optional<asb::v1::Disclosure>> views;
  std::set<std::string> consulted;
  std::vector<asb::v1::RepeatVictim> found;
  absl::Status read;
  ASB_RETURN_IF_ERROR(victim_index_->ForEachShared([&](const std::vector<VictimIndex::Entry>& g) {
    asb::v1::RepeatVictim v;
    v.set_match_key(g.front().key);
    v.set_matched_by(g.front().basis);
    std::set<std::string> cases;
    for (const VictimIndex::Entry& e : g) {
      auto it = views.find(e.case_id);
      if (it == views.end()) {
        std::optional<asb::v1::Disclosure> view;
        absl::StatusOr<asb::v1::Case> c = folder_->Get(e.case_id);
        if (c.ok()) {
          asb::v1::Disclosure d;
          if (policy->Apply(agency, *c, policy::EventContext{}, &d)) {
            d.set_case_id(e.case_id);
            view = std::move(d);
          }
        } else if (!absl::IsNotFound(c.status())) {
          read = c.status();
          return false;
        }
        it = views.emplace(e.case_id, std::move(view)).first;
      }
      if (!it->second.has_value() || cases.count(e.case_id) != 0) {
        continue;
      }
      const std::string sk = policy->SubjectKey(e.person_id);
      const auto& keys = it->second->subject_keys();
      if (std::find(keys.begin(), keys.end(), sk) == keys.end()) {
        continue;  // the view does not show this person
      }
      cases.insert(e.case_id);
      v.add_case_ids(e.case_id);
      std::string shown = sk;
      for (const asb::v1::Person& p : it->second->view().people()) {
        if (p.person_id() == e.person_id) {
          shown = e.person_id;
          if (p.risk_band() > v.risk_band()) {
            v.set_risk_band(p.risk_band());
          }
        }
      }
      v.add_person_ids(shown);
    }
    if (cases.size() >= min_cases) {
      found.push_back(std::move(v));
    }
    return true;
  }));
  ASB_RETURN_IF_ERROR(read);
  std::stable_sort(found.begin(), found.end(),
                   [](const asb::v1::RepeatVictim& a, const asb::v1::RepeatVictim& b) {
                     return a.case_ids_size() > b.case_ids_size();
                   });
  for (asb::v1::RepeatVictim& v : found) {
    if (static_cast<uint32_t>(out.victims_size()) == limit) {
      out.set_more(true);
      break;
    }
    for (const std::string& id : v.case_ids()) {
      if (consulted.insert(id).second) {
        AuditConsultation(principal, agency, *views[id], request.on_behalf_of(), "RepeatVictims",
                          policy->version(), now, batch);
      }
    }
    *out.add_victims() = std::move(v);
  }
  return out;
}

}  // namespace asb::sharing
