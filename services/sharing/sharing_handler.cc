#include "services/sharing/sharing_handler.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asb/v1/audit.pb.h"
#include "common/auth/on_behalf_of.h"
#include "common/log/log.h"
#include "common/model/model.h"
#include "common/orders/names.h"
#include "common/status/macros.h"
#include "google/protobuf/timestamp.pb.h"

namespace asb::sharing {
namespace {

using ::asb::model::ToTime;
using ::asb::model::ToTimestamp;

constexpr char kComponent[] = "sharing";
constexpr char kLinkSuggestionRule[] = "victims:link_suggestion";

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("sharing");
  return lg;
}

// Paths whose values (or transformed values) went to the agency.
bool Discloses(asb::v1::FieldAction action) {
  return action == asb::v1::FIELD_ACTION_SHOW || action == asb::v1::FIELD_ACTION_PSEUDONYMISE ||
         action == asb::v1::FIELD_ACTION_GENERALISE;
}

std::string NotFoundMessage(const std::string& case_id) {
  return absl::StrCat("case '", case_id, "' not found or not shared with your agency");
}

}  // namespace

SharingHandler::SharingHandler(CaseFolder* folder, stream::Log* disclosures, stream::Log* audit,
                               std::function<absl::Time()> clock)
    : folder_(folder), disclosures_(disclosures), audit_(audit), clock_(std::move(clock)) {
  folder_->OnPendingSkipped([this](const asb::v1::Envelope& envelope, const absl::Status& reason,
                                   store::Batch* batch) { AuditSkipped(envelope, reason, batch); });
}

void SharingHandler::SetPolicy(std::shared_ptr<const policy::Policy> policy) {
  policy_ = std::move(policy);
}

absl::Status SharingHandler::ApplyEvent(const asb::v1::Envelope& envelope, store::Batch* batch) {
  // Hold the policy for the whole event even if a reload swaps it meanwhile.
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy, policy::InForce(policy_));
  ASB_ASSIGN_OR_RETURN(std::vector<CaseFolder::Applied> applied, folder_->Apply(envelope, batch));
  if (applied.empty()) {
    return absl::OkStatus();  // held until its case is opened
  }
  google::protobuf::Timestamp now;
  ToTimestamp(clock_(), &now);
  if (aggregates_ != nullptr) {
    for (const CaseFolder::Applied& a : applied) {
      ASB_RETURN_IF_ERROR(aggregates_->Record(a, batch));
    }
  }
  for (CaseFolder::Applied& a : applied) {
    if (retention_ != nullptr && a.type == asb::v1::EVENT_TYPE_CASE_CLOSED) {
      // The agreement's retention counts from the closure; the timer commits with the fold.
      ASB_RETURN_IF_ERROR(
          retention_->Closed(a.case_after.case_id(), ToTime(a.case_after.closed_at()), batch));
    }
    // Link suggestions by agency, carried by this event's disclosures (one per agency and
    // event: never a second disclosure of the same event to an agency).
    std::map<std::string, std::vector<asb::v1::LinkSuggestion>> links;
    if (victim_index_ != nullptr && !a.linked_person_id.empty()) {
      ASB_RETURN_IF_ERROR(MatchVictim(*policy, &a, &links, now, batch));
    }
    const policy::EventContext context{a.type, a.order_type};
    // Which disclosures are alerts is decided here, under the same ISP as the views, and
    // stamped into each one: asb-notify only reads the stamp.
    const std::vector<policy::Policy::Notification> notifications =
        policy->NotificationsFor(context);
    // A statutory notice also alerts the agencies it is addressed to (the issuing agency, the
    // partnership coordinator), each under "statutory:<kind>" — if the ISP lets it see the case.
    std::vector<std::string> undelivered = a.recipients;
    const std::string notice_rule = !a.recipient_rule.empty() ? a.recipient_rule
                                    : a.notice_kind == asb::v1::NOTICE_KIND_UNSPECIFIED
                                        ? std::string()
                                        : NoticeRuleId(a.notice_kind);
    std::vector<std::string> rules;  // one agency's notification rules (reused)
    for (const asb::config::v1::Agency& recipient : policy->isp().agencies()) {
      const std::string& agency = recipient.id();
      // Its reasons to be told of this event, the hub's own first (an alert is queued under the
      // first rule): the notice addressed to it (or a safeguarding alert), a link suggestion;
      // then the ISP's rules for the event.
      const auto notice = std::find(undelivered.begin(), undelivered.end(), agency);
      const auto link = links.find(agency);
      rules.clear();
      if (notice != undelivered.end()) {
        rules.push_back(notice_rule);
      }
      if (link != links.end()) {
        rules.push_back(kLinkSuggestionRule);
      }
      for (const policy::Policy::Notification& n : notifications) {
        if (n.agency == agency) {
          rules.push_back(n.rule_id);
        }
      }
      // Only what leaves the hub is written: a disclosure is an alert, so an agency with no
      // reason to be told of this event gets none, and its view is not even derived. It sees the
      // case when an officer asks (GetCase, recorded in the access log). Views no partner will
      // receive are not stored: fewer copies of personal data (UK GDPR Art. 5(1)(c)).
      if (rules.empty()) {
        continue;
      }
      // The policy writes the disclosure's bytes straight from the case (the fast path); the
      // fields that are ours follow, and the log wraps them in an envelope as they are.
      encoded_.clear();
      if (!policy->ApplyEncoded(agency, a.case_after, context, &encoded_)) {
        continue;
      }
      // An order event reaches only the agencies that may see the order: the others learn
      // nothing of it, not even the order's id and type (say, the YOT of an adult's injunction).
      if (!a.order_id.empty() && !policy->ShowsOrder(agency, a.case_after, context, a.order_id)) {
        continue;
      }
      asb::v1::Disclosure own;
      own.set_agency(agency);
      own.set_case_id(a.case_after.case_id());
      own.set_event_seq(a.event_seq);
      own.set_event_type(a.type);
      own.set_order_type(a.order_type);
      own.set_order_id(a.order_id);
      *own.mutable_decided_at() = now;
      for (const std::string& rule : rules) {
        own.add_notification_rules(rule);
      }
      if (notice != undelivered.end()) {
        if (!a.safeguarding_person_id.empty()) {
          own.set_safeguarding_person_id(a.safeguarding_person_id);
        }
        undelivered.erase(notice);
      }
      if (link != links.end()) {
        for (const asb::v1::LinkSuggestion& s : link->second) {
          *own.add_link_suggestions() = s;
        }
        links.erase(link);
      }
      if (a.made_by_hub && !a.statutory.rule_id().empty()) {
        *own.mutable_statutory() = a.statutory;
      }
      own.set_notice_kind(a.notice_kind);
      own.set_case_review_notice_kind(a.case_review_kind);
      own.set_victim_notice_kind(a.victim_kind);
      own.AppendToString(&encoded_);
      asb::v1::Envelope out;
      *out.mutable_produced_at() = now;
      disclosures_->AppendEncoded(batch, &out, asb::v1::Envelope::kDisclosureFieldNumber, encoded_);
      ++disclosures_made_;
      if (retention_ != nullptr) {
        retention_->Disclosed(a.case_after.case_id(), agency, batch);  // told when it is deleted
      }
    }
    // A coordinator told of a link between cases it may not see: a disclosure without a view.
    for (auto& [agency, suggestions] : links) {
      asb::v1::Disclosure d;
      d.set_agency(agency);
      d.set_case_id(a.case_after.case_id());
      d.set_event_seq(a.event_seq);
      d.set_event_type(a.type);
      d.set_isp_version(policy->version());
      *d.mutable_decided_at() = now;
      d.add_notification_rules(kLinkSuggestionRule);
      for (asb::v1::LinkSuggestion& s : suggestions) {
        *d.add_link_suggestions() = std::move(s);
      }
      asb::v1::Envelope out;
      *out.mutable_produced_at() = now;
      *out.mutable_disclosure() = std::move(d);
      disclosures_->Append(batch, &out);
      ++disclosures_made_;
    }
    // Never dropped silently: a recipient the ISP does not let see the case is on the record.
    for (const std::string& agency : undelivered) {
      const char* what = !a.safeguarding_person_id.empty() ? "safeguarding alert ("
                         : a.victim_kind != asb::v1::VICTIM_NOTICE_KIND_UNSPECIFIED
                             ? "victim notice ("
                         : a.case_review_kind != asb::v1::CASE_REVIEW_NOTICE_KIND_UNSPECIFIED
                             ? "case review notice ("
                             : "statutory notice (";
      AuditHubRefusal(
          a.case_after.case_id(), a.type, a.event_seq, agency,
          absl::StrCat(what, notice_rule, ", rule ",
                       a.safeguarding_person_id.empty() ? a.statutory.rule_id() : "risk band HIGH",
                       ") not delivered to ", agency,
                       ": no ISP rule lets that agency see the case"),
          policy->version(), now, batch);
      ++undelivered_notices_;
    }
  }
  return absl::OkStatus();
}

std::string NoticeRuleId(asb::v1::NoticeKind kind) {
  return absl::StrCat("statutory:", orders::NoticeKindWord(kind));
}

absl::Status SharingHandler::CheckOfficer(const std::string& what, const std::string& principal,
                                          const std::string& agency, const std::string& case_id,
                                          const asb::v1::OnBehalfOf& on_behalf_of,
                                          const policy::Policy& policy, store::Batch* batch) {
  absl::Status checked = auth::CheckOnBehalfOf(on_behalf_of, policy.isp());
  if (checked.ok()) {
    return checked;
  }
  // Refused before any case data is read, and on the record with what the request said.
  google::protobuf::Timestamp now;
  ToTimestamp(clock_(), &now);
  asb::v1::Envelope record;
  *record.mutable_produced_at() = now;
  asb::v1::AuditRecord* r = record.mutable_audit();
  r->set_kind(asb::v1::AUDIT_KIND_ACCESS_REFUSED);
  *r->mutable_at() = now;
  r->set_component(kComponent);
  r->set_actor(principal);
  r->set_actor_agency(agency);
  r->set_case_id(case_id);
  r->set_isp_version(policy.version());
  *r->mutable_on_behalf_of() = auth::Bounded(on_behalf_of);
  r->set_detail(absl::StrCat(what, " refused: ", checked.message()));
  audit_->Append(batch, &record);
  return checked;
}

absl::StatusOr<asb::v1::Disclosure> SharingHandler::GetCase(const std::string& principal,
                                                            const std::string& agency,
                                                            const asb::v1::GetCaseRequest& request,
                                                            store::Batch* batch) {
  const std::string& case_id = request.case_id();
  if (case_id.empty()) {
    return absl::InvalidArgumentError("case_id: required");
  }
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy, policy::InForce(policy_));
  ASB_RETURN_IF_ERROR(
      CheckOfficer("GetCase", principal, agency, case_id, request.on_behalf_of(), *policy, batch));
  absl::StatusOr<asb::v1::Case> c = folder_->Get(case_id);
  if (absl::IsNotFound(c.status())) {
    return absl::NotFoundError(NotFoundMessage(case_id));
  }
  ASB_RETURN_IF_ERROR(c.status());

  google::protobuf::Timestamp now;
  ToTimestamp(clock_(), &now);
  asb::v1::Envelope record;
  *record.mutable_produced_at() = now;
  asb::v1::AuditRecord* r = record.mutable_audit();
  *r->mutable_at() = now;
  r->set_component(kComponent);
  r->set_actor(principal);
  r->set_actor_agency(agency);
  r->set_recipient_agency(agency);
  r->set_case_id(case_id);
  r->set_isp_version(policy->version());
  *r->mutable_on_behalf_of() = request.on_behalf_of();

  asb::v1::Disclosure d;
  if (!policy->Apply(agency, *c, policy::EventContext{}, &d)) {
    r->set_kind(asb::v1::AUDIT_KIND_ACCESS_REFUSED);
    r->set_detail("GetCase: no ISP rule lets this agency see the case");
    audit_->Append(batch, &record);
    return absl::NotFoundError(NotFoundMessage(case_id));
  }
  d.set_agency(agency);
  d.set_case_id(case_id);
  d.set_event_seq(0);
  d.set_event_type(asb::v1::EVENT_TYPE_UNSPECIFIED);
  *d.mutable_decided_at() = now;

  r->set_kind(asb::v1::AUDIT_KIND_CONSULTATION);
  *r->mutable_subject_keys() = d.subject_keys();
  *r->mutable_justifications() = d.justifications();
  r->set_isp_version(d.isp_version().empty() ? policy->version() : d.isp_version());
  for (const asb::v1::FieldDecision& f : d.fields()) {
    if (Discloses(f.action())) {
      r->add_fields(f.path());
    }
  }
  r->set_detail("GetCase");
  audit_->Append(batch, &record);
  ++consultations_;
  return d;
}

absl::StatusOr<asb::v1::ExplainCaseResponse> SharingHandler::ExplainCase(
    const std::string& principal, const std::string& principal_agency,
    const asb::v1::ExplainCaseRequest& request, store::Batch* batch) {
  if (request.case_id().empty()) {
    return absl::InvalidArgumentError("case_id: required");
  }
  if (request.agency().empty()) {
    return absl::InvalidArgumentError("agency: required (whose view to explain)");
  }
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy, policy::InForce(policy_));
  ASB_RETURN_IF_ERROR(CheckOfficer("ExplainCase", principal, principal_agency, request.case_id(),
                                   request.on_behalf_of(), *policy, batch));
  absl::StatusOr<asb::v1::Case> c = folder_->Get(request.case_id());
  if (absl::IsNotFound(c.status())) {
    return absl::NotFoundError(absl::StrCat("no case '", request.case_id(), "'"));
  }
  ASB_RETURN_IF_ERROR(c.status());
  ASB_ASSIGN_OR_RETURN(
      policy::Policy::Explanation e,
      policy->Explain(request.agency(), *c,
                      policy::EventContext{request.event_type(), request.order_type()}));

  asb::v1::ExplainCaseResponse out;
  out.set_isp_version(policy->version());
  out.set_visible(e.visible);
  for (std::string& rule : e.matched_rules) {
    out.add_matched_rules(std::move(rule));
  }
  for (policy::Policy::FieldExplanation& f : e.fields) {
    asb::v1::FieldExplanation* o = out.add_fields();
    o->set_path(std::move(f.path));
    o->set_schema_path(std::move(f.schema_path));
    o->set_outcome(std::move(f.outcome));
    o->set_rule_id(std::move(f.rule_id));
    o->set_note(std::move(f.note));
  }

  google::protobuf::Timestamp now;
  ToTimestamp(clock_(), &now);
  asb::v1::Envelope record;
  *record.mutable_produced_at() = now;
  asb::v1::AuditRecord* r = record.mutable_audit();
  r->set_kind(asb::v1::AUDIT_KIND_CONSULTATION);
  *r->mutable_at() = now;
  r->set_component(kComponent);
  r->set_actor(principal);
  r->set_actor_agency(principal_agency);
  r->set_recipient_agency(principal_agency);
  r->set_case_id(request.case_id());
  r->set_isp_version(policy->version());
  *r->mutable_on_behalf_of() = request.on_behalf_of();
  r->set_detail(absl::StrCat("ExplainCase for agency ", request.agency(),
                             ": field paths and outcomes, no values"));
  audit_->Append(batch, &record);
  ++consultations_;
  return out;
}

namespace {

// A ListOrdersRequest's bounds (its on_behalf_of is CheckOfficer's); kInvalidArgument names
// what is wrong.
absl::Status CheckListOrders(const asb::v1::ListOrdersRequest& r) {
  std::vector<std::string> problems;
  if (!asb::v1::OrderStatus_IsValid(r.status())) {
    problems.push_back("status: not a defined value");
  }
  for (int t : r.types()) {
    if (!asb::v1::OrderType_IsValid(t) || t == asb::v1::ORDER_TYPE_UNSPECIFIED) {
      problems.push_back("types: not a defined order type");
      break;
    }
  }
  if (r.due_within_days() > 3660) {
    problems.push_back("due_within_days: at most 3660");
  }
  if (r.limit() > 5000) {
    problems.push_back("limit: at most 5000");
  }
  if (problems.empty()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

}  // namespace

absl::StatusOr<asb::v1::ListOrdersResponse> SharingHandler::ListOrders(
    const std::string& principal, const std::string& agency,
    const asb::v1::ListOrdersRequest& request, store::Batch* batch) {
  ASB_RETURN_IF_ERROR(CheckListOrders(request));
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy, policy::InForce(policy_));
  ASB_RETURN_IF_ERROR(
      CheckOfficer("ListOrders", principal, agency, "", request.on_behalf_of(), *policy, batch));
  const absl::Time now_time = clock_();
  google::protobuf::Timestamp now;
  ToTimestamp(now_time, &now);
  const uint32_t limit = request.limit() != 0 ? request.limit() : 500;
  const std::set<int> types(request.types().begin(), request.types().end());
  asb::v1::ListOrdersResponse out;
  out.set_isp_version(policy->version());
  uint32_t listed = 0;

  ASB_RETURN_IF_ERROR(folder_->ForEachCase(request.after_case_id(), [&](const asb::v1::Case& c) {
    if (c.orders_size() == 0) {
      return true;
    }
    asb::v1::Disclosure d;
    if (!policy->Apply(agency, c, policy::EventContext{}, &d)) {
      return true;
    }
    std::vector<const asb::v1::Order*> view_orders;
    for (const asb::v1::Order& o : d.view().orders()) {
      view_orders.push_back(&o);
    }
    std::sort(view_orders.begin(), view_orders.end(),
              [](const asb::v1::Order* a, const asb::v1::Order* b) {
                return a->order_id() < b->order_id();
              });
    int from_case = 0;
    for (const asb::v1::Order* o : view_orders) {
      if (c.case_id() == request.after_case_id() && o->order_id() <= request.after_order_id()) {
        continue;
      }
      if (request.status() != asb::v1::ORDER_STATUS_UNSPECIFIED &&
          o->status() != request.status()) {
        continue;
      }
      if (!types.empty() && types.count(o->type()) == 0) {
        continue;
      }
      // The next thing due, as this agency's view shows it.
      const google::protobuf::Timestamp* next = nullptr;
      const char* what = "";
      if (o->has_review_at()) {
        next = &o->review_at();
        what = "review";
      }
      if (o->has_expires_at() && (next == nullptr || ToTime(o->expires_at()) < ToTime(*next))) {
        next = &o->expires_at();
        what = "expiry";
      }
      if (request.due_within_days() != 0) {
        if (next == nullptr || o->status() != asb::v1::ORDER_STATUS_ACTIVE ||
            ToTime(*next) > now_time + absl::Hours(24) * request.due_within_days()) {
          continue;
        }
      }
      if (listed == limit) {
        out.set_more(true);
        break;
      }
      asb::v1::OrderSummary* summary = out.add_orders();
      summary->set_case_id(c.case_id());
      *summary->mutable_order() = *o;
      if (next != nullptr) {
        *summary->mutable_next_deadline() = *next;
        summary->set_next_due(what);
      }
      ++listed;
      ++from_case;
    }
    if (from_case > 0) {
      // The consultation is recorded before the data leaves: one record per case consulted.
      asb::v1::Envelope record;
      *record.mutable_produced_at() = now;
      asb::v1::AuditRecord* r = record.mutable_audit();
      r->set_kind(asb::v1::AUDIT_KIND_CONSULTATION);
      *r->mutable_at() = now;
      r->set_component(kComponent);
      r->set_actor(principal);
      r->set_actor_agency(agency);
      r->set_recipient_agency(agency);
      r->set_case_id(c.case_id());
      *r->mutable_subject_keys() = d.subject_keys();
      *r->mutable_justifications() = d.justifications();
      r->set_isp_version(d.isp_version().empty() ? policy->version() : d.isp_version());
      for (const asb::v1::FieldDecision& f : d.fields()) {
        if (Discloses(f.action()) && f.path().rfind("orders", 0) == 0) {
          r->add_fields(f.path());
        }
      }
      r->set_detail(absl::StrCat("ListOrders: ", from_case, " order(s) of the case"));
      *r->mutable_on_behalf_of() = request.on_behalf_of();
      audit_->Append(batch, &record);
      ++consultations_;
    }
    return !out.more();
  }));
  return out;
}

void SharingHandler::AuditSkipped(const asb::v1::Envelope& envelope, const absl::Status& reason,
                                  store::Batch* batch) {
  google::protobuf::Timestamp now;
  ToTimestamp(clock_(), &now);
  asb::v1::Envelope record;
  *record.mutable_produced_at() = now;
  asb::v1::AuditRecord* r = record.mutable_audit();
  r->set_kind(asb::v1::AUDIT_KIND_REJECTION);
  *r->mutable_at() = now;
  r->set_component(kComponent);
  if (envelope.has_accepted_event()) {
    const asb::v1::AcceptedEvent& ae = envelope.accepted_event();
    r->set_actor(ae.source());
    r->set_actor_agency(ae.source_agency());
    r->set_case_id(ae.event().case_id());
    r->set_event_type(EventTypeOf(ae.event()));
  }
  r->set_ref_seq(envelope.seq());
  // Folder messages name ids and event kinds only, never personal values.
  r->set_detail(absl::StrCat("event not applied: ", reason.message()));
  audit_->Append(batch, &record);
  SPDLOG_LOGGER_INFO(Logger(), "[evt {}] skipped: {}", envelope.seq(),
                     absl::StatusCodeToString(reason.code()));
}

void SharingHandler::AuditConsultation(const std::string& principal, const std::string& agency,
                                       const asb::v1::Disclosure& d, const asb::v1::OnBehalfOf& who,
                                       const std::string& detail, const std::string& isp_version,
                                       const google::protobuf::Timestamp& now,
                                       store::Batch* batch) {
  asb::v1::Envelope record;
  *record.mutable_produced_at() = now;
  asb::v1::AuditRecord* r = record.mutable_audit();
  r->set_kind(asb::v1::AUDIT_KIND_CONSULTATION);
  *r->mutable_at() = now;
  r->set_component(kComponent);
  r->set_actor(principal);
  r->set_actor_agency(agency);
  r->set_recipient_agency(agency);
  r->set_case_id(d.case_id());
  *r->mutable_subject_keys() = d.subject_keys();
  *r->mutable_justifications() = d.justifications();
  r->set_isp_version(d.isp_version().empty() ? isp_version : d.isp_version());
  *r->mutable_on_behalf_of() = who;
  r->set_detail(detail);
  audit_->Append(batch, &record);
  ++consultations_;
}

void SharingHandler::AuditHubRefusal(const std::string& case_id, asb::v1::EventType type,
                                     uint64_t seq, const std::string& recipient,
                                     const std::string& detail, const std::string& isp_version,
                                     const google::protobuf::Timestamp& now, store::Batch* batch) {
  asb::v1::Envelope record;
  *record.mutable_produced_at() = now;
  asb::v1::AuditRecord* r = record.mutable_audit();
  r->set_kind(asb::v1::AUDIT_KIND_ACCESS_REFUSED);
  *r->mutable_at() = now;
  r->set_component(kComponent);
  r->set_actor("hub");
  r->set_actor_agency("hub");
  r->set_recipient_agency(recipient);
  r->set_case_id(case_id);
  r->set_event_type(type);
  r->set_ref_seq(seq);
  r->set_isp_version(isp_version);
  r->set_detail(detail);
  audit_->Append(batch, &record);
}

}  // namespace asb::sharing
