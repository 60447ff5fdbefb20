#include "common/orders/lifecycle.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/model/model.h"
#include "common/orders/names.h"
#include "common/orders/period.h"

namespace asb::orders {
namespace {

using asb::v1::CaseEvent;
using asb::v1::Order;
using google::protobuf::Timestamp;

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

std::string StatusName(const Order& o) {
  return EnumSuffix(asb::v1::OrderStatus_Name(o.status()), "ORDER_STATUS_");
}

std::string EndedWords(const Order& o) {
  const char* how = o.status() == asb::v1::ORDER_STATUS_DISCHARGED ? "discharged" : "expired";
  if (!o.has_ended_at()) {
    return how;
  }
  return absl::StrCat(how, " on ", FormatDay(DayOf(model::ToTime(o.ended_at()))));
}

absl::Status NeverIssued(const char* what, const std::string& order_id,
                         const std::string& case_id) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, ": order '", order_id, "' was never issued on case '", case_id, "'"));
}

absl::Status NotIssuedYet(const char* what, const std::string& order_id,
                          const std::string& case_id) {
  return absl::FailedPreconditionError(absl::StrCat(
      what, ": order '", order_id, "' of case '", case_id, "' is only proposed (not issued yet)"));
}

absl::Status NotInForce(const char* what, const char* refused, const Order& o,
                        const std::string& case_id) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": order '", o.order_id(), "' of case '",
                                                    case_id, "' is no longer in force (",
                                                    EndedWords(o), "): ", refused));
}

// An order that must be issued and in force.
absl::StatusOr<Order*> InForce(const char* what, const char* refused, Orders* orders,
                               const std::string& order_id, const std::string& case_id) {
  Order* o = FindOrder(orders, order_id);
  if (o == nullptr) {
    return NeverIssued(what, order_id, case_id);
  }
  if (o->status() == asb::v1::ORDER_STATUS_PROPOSED) {
    return NotIssuedYet(what, order_id, case_id);
  }
  if (Ended(*o)) {
    return NotInForce(what, refused, *o, case_id);
  }
  return o;
}

// The order a consultation or hearing is about: existing (in any state), or a new PROPOSED one.
absl::StatusOr<Order*> ForRecord(const char* what, Orders* orders, const std::string& order_id,
                                 asb::v1::OrderType type, const std::string& subject,
                                 const std::string& case_id) {
  Order* o = FindOrder(orders, order_id);
  if (o == nullptr) {
    if (type == asb::v1::ORDER_TYPE_UNSPECIFIED) {
      return absl::FailedPreconditionError(absl::StrCat(what, ".order_type: required: order '",
                                                        order_id, "' is not known on case '",
                                                        case_id, "' yet"));
    }
    o = orders->Add();
    o->set_order_id(order_id);
    o->set_type(type);
    o->set_status(asb::v1::ORDER_STATUS_PROPOSED);
  } else if (type != asb::v1::ORDER_TYPE_UNSPECIFIED && type != o->type()) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ".order_type: order '", order_id, "' of case '", case_id, "' is a ",
        asb::v1::OrderType_Name(o->type()), ", not a ", asb::v1::OrderType_Name(type)));
  }
  if (o->subject_person_id().empty() && !subject.empty()) {
    o->set_subject_person_id(subject);
  }
  return o;
}

// The order a consultation is about (ForRecord), which must not have ended: consultations come
// before an application, an issue or a variation.
absl::StatusOr<Order*> ForConsultation(const char* what, Orders* orders,
                                       const std::string& order_id, asb::v1::OrderType type,
                                       const std::string& subject, const std::string& case_id) {
  absl::StatusOr<Order*> o = ForRecord(what, orders, order_id, type, subject, case_id);
  if (o.ok() && Ended(**o)) {
    return NotInForce(what, "a consultation is refused", **o, case_id);
  }
  return o;
}

asb::v1::Hearing* FindHearing(Order* o, const std::string& hearing_id) {
  for (asb::v1::Hearing& h : *o->mutable_hearings()) {
    if (h.hearing_id() == hearing_id) {
      return &h;
    }
  }
  return nullptr;
}

absl::Status Apply(const CaseEvent& e, const std::string& case_id, Orders* orders) {
  const Timestamp& at = e.occurred_at();
  switch (e.event_case()) {
    case CaseEvent::kOrderIssued: {
      const Order& issued = e.order_issued().order();
      Order* slot = FindOrder(orders, issued.order_id());
      if (slot != nullptr && slot->status() != asb::v1::ORDER_STATUS_PROPOSED) {
        return absl::FailedPreconditionError(absl::StrCat(
            "order_issued: order '", issued.order_id(), "' is already issued on case '", case_id,
            "' (", StatusName(*slot), "): vary it instead"));
      }
      Order merged = issued;
      if (slot != nullptr) {
        if (slot->type() != issued.type()) {
          return absl::FailedPreconditionError(
              absl::StrCat("order_issued.order.type: order '", issued.order_id(), "' of case '",
                           case_id, "' was proposed as a ", asb::v1::OrderType_Name(slot->type())));
        }
        // What was recorded while it was proposed stays with it.
        *merged.mutable_consultations() = slot->consultations();
        *merged.mutable_hearings() = slot->hearings();
        google::protobuf::RepeatedPtrField<asb::v1::Authorisation> auths = slot->authorisations();
        for (const auto& a : issued.authorisations()) {
          *auths.Add() = a;
        }
        *merged.mutable_authorisations() = std::move(auths);
        *merged.mutable_notices() = slot->notices();
        if (merged.subject_person_id().empty()) {
          merged.set_subject_person_id(slot->subject_person_id());
        }
      } else {
        slot = orders->Add();
      }
      merged.set_status(asb::v1::ORDER_STATUS_ACTIVE);
      if (!merged.has_issued_at()) {
        *merged.mutable_issued_at() = at;
      }
      for (asb::v1::Authorisation& a : *merged.mutable_authorisations()) {
        if (!a.has_authorised_at()) {
          *a.mutable_authorised_at() = merged.issued_at();
        }
      }
      *slot = std::move(merged);
      return absl::OkStatus();
    }
    case CaseEvent::kOrderVaried: {
      const auto& v = e.order_varied();
      absl::StatusOr<Order*> o =
          InForce("order_varied", "a variation is refused", orders, v.order_id(), case_id);
      if (!o.ok()) {
        return o.status();
      }
      if (v.has_conditions()) {
        (*o)->set_conditions(v.conditions());
      }
      if (v.has_expires_at()) {
        *(*o)->mutable_expires_at() = v.expires_at();
      }
      if (v.has_review_at()) {
        *(*o)->mutable_review_at() = v.review_at();
      }
      *(*o)->mutable_varied_at() = at;
      return absl::OkStatus();
    }
    case CaseEvent::kOrderBreached: {
      const auto& b = e.order_breached();
      Order* o = FindOrder(orders, b.order_id());
      if (o == nullptr) {
        return NeverIssued("order_breached", b.order_id(), case_id);
      }
      if (o->status() == asb::v1::ORDER_STATUS_PROPOSED) {
        return NotIssuedYet("order_breached", b.order_id(), case_id);
      }
      const Timestamp& when = b.breach().has_occurred_at() ? b.breach().occurred_at() : at;
      if (Ended(*o) && (!o->has_ended_at() || !Before(when, o->ended_at()))) {
        return NotInForce("order_breached", "a breach after its end is refused", *o, case_id);
      }
      asb::v1::Breach* breach = o->add_breaches();
      *breach = b.breach();
      if (!breach->has_occurred_at()) {
        *breach->mutable_occurred_at() = at;
      }
      return absl::OkStatus();
    }
    case CaseEvent::kOrderDischarged: {
      absl::StatusOr<Order*> o = InForce("order_discharged", "it cannot be discharged", orders,
                                         e.order_discharged().order_id(), case_id);
      if (!o.ok()) {
        return o.status();
      }
      (*o)->set_status(asb::v1::ORDER_STATUS_DISCHARGED);
      (*o)->set_discharge_reason(e.order_discharged().reason());
      *(*o)->mutable_ended_at() = at;
      return absl::OkStatus();
    }
    case CaseEvent::kOrderExpired: {
      absl::StatusOr<Order*> o = InForce("order_expired", "it cannot expire", orders,
                                         e.order_expired().order_id(), case_id);
      if (!o.ok()) {
        return o.status();
      }
      (*o)->set_status(asb::v1::ORDER_STATUS_EXPIRED);
      *(*o)->mutable_ended_at() = at;
      return absl::OkStatus();
    }
    case CaseEvent::kConsultationRequested: {
      const auto& c = e.consultation_requested();
      absl::StatusOr<Order*> o = ForConsultation("consultation_requested", orders, c.order_id(),
                                                 c.order_type(), c.subject_person_id(), case_id);
      if (!o.ok()) {
        return o.status();
      }
      asb::v1::Consultation* rec = (*o)->add_consultations();
      rec->set_consultee(c.consultee());
      *rec->mutable_requested_at() = at;
      return absl::OkStatus();
    }
    case CaseEvent::kConsultationGiven: {
      const auto& c = e.consultation_given();
      absl::StatusOr<Order*> o = ForConsultation("consultation_given", orders, c.order_id(),
                                                 c.order_type(), c.subject_person_id(), case_id);
      if (!o.ok()) {
        return o.status();
      }
      asb::v1::Consultation* rec = nullptr;
      for (int i = (*o)->consultations_size() - 1; i >= 0; --i) {
        asb::v1::Consultation* x = (*o)->mutable_consultations(i);
        if (x->consultee() == c.consultee() && !x->has_given_at()) {
          rec = x;
          break;
        }
      }
      if (rec == nullptr) {
        rec = (*o)->add_consultations();
        rec->set_consultee(c.consultee());
      }
      *rec->mutable_given_at() = at;
      rec->set_response(c.response());
      return absl::OkStatus();
    }
    case CaseEvent::kHearingListed: {
      const auto& h = e.hearing_listed();
      absl::StatusOr<Order*> o = ForRecord("hearing_listed", orders, h.order_id(), h.order_type(),
                                           h.subject_person_id(), case_id);
      if (!o.ok()) {
        return o.status();
      }
      asb::v1::Hearing* rec = FindHearing(*o, h.hearing_id());
      if (rec == nullptr) {
        rec = (*o)->add_hearings();
        rec->set_hearing_id(h.hearing_id());
      }
      if (!h.court().empty()) {
        rec->set_court(h.court());
      }
      *rec->mutable_listed_for() = h.listed_for();
      return absl::OkStatus();
    }
    case CaseEvent::kHearingHeld: {
      const auto& h = e.hearing_held();
      absl::StatusOr<Order*> o =
          ForRecord("hearing_held", orders, h.order_id(), h.order_type(), "", case_id);
      if (!o.ok()) {
        return o.status();
      }
      asb::v1::Hearing* rec = FindHearing(*o, h.hearing_id());
      if (rec == nullptr) {
        rec = (*o)->add_hearings();
        rec->set_hearing_id(h.hearing_id());
      }
      if (!h.court().empty()) {
        rec->set_court(h.court());
      }
      *rec->mutable_held_at() = at;
      rec->set_outcome(h.outcome());
      rec->set_notes(h.notes());
      return absl::OkStatus();
    }
    case CaseEvent::kAuthorisationRecorded: {
      const auto& a = e.authorisation_recorded();
      Order* o = FindOrder(orders, a.order_id());
      if (o == nullptr) {
        return NeverIssued("authorisation_recorded", a.order_id(), case_id);
      }
      // A record of who authorised it: kept whatever its state (it may be recorded late).
      asb::v1::Authorisation* rec = o->add_authorisations();
      *rec = a.authorisation();
      if (!rec->has_authorised_at()) {
        *rec->mutable_authorised_at() = at;
      }
      return absl::OkStatus();
    }
    case CaseEvent::kReviewHeld: {
      const auto& r = e.review_held();
      absl::StatusOr<Order*> o =
          InForce("review_held", "a review is refused", orders, r.order_id(), case_id);
      if (!o.ok()) {
        return o.status();
      }
      asb::v1::Review* rec = (*o)->add_reviews();
      *rec->mutable_held_at() = at;
      rec->set_outcome(r.outcome());
      if (r.has_next_review_at()) {
        *rec->mutable_next_review_at() = r.next_review_at();
        *(*o)->mutable_review_at() = r.next_review_at();
      } else {
        (*o)->clear_review_at();  // the review that was due has been held
      }
      return absl::OkStatus();
    }
    case CaseEvent::kStatutoryNotice: {
      const asb::v1::StatutoryNotice& n = e.statutory_notice();
      Order* o = FindOrder(orders, n.order_id());
      if (o == nullptr) {
        return NeverIssued("statutory_notice", n.order_id(), case_id);
      }
      for (const asb::v1::StatutoryNotice& existing : o->notices()) {
        if (existing.notice_id() == n.notice_id()) {
          return absl::FailedPreconditionError(
              absl::StrCat("statutory_notice: notice '", n.notice_id(), "' is already recorded"));
        }
      }
      *o->add_notices() = n;
      if (n.kind() == asb::v1::NOTICE_KIND_REVIEW_DATE_DEFAULTED && n.context().has_deadline() &&
          !o->has_review_at()) {
        *o->mutable_review_at() = n.context().deadline();
      }
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError("not an order event");
  }
}

}  // namespace

bool IsOrderEvent(const CaseEvent& e) {
  switch (e.event_case()) {
    case CaseEvent::kOrderIssued:
    case CaseEvent::kOrderVaried:
    case CaseEvent::kOrderBreached:
    case CaseEvent::kOrderDischarged:
    case CaseEvent::kOrderExpired:
    case CaseEvent::kConsultationRequested:
    case CaseEvent::kConsultationGiven:
    case CaseEvent::kHearingListed:
    case CaseEvent::kHearingHeld:
    case CaseEvent::kAuthorisationRecorded:
    case CaseEvent::kReviewHeld:
    case CaseEvent::kStatutoryNotice:
      return true;
    default:
      return false;
  }
}

const std::string& OrderIdOf(const CaseEvent& e) {
  static const std::string kNone;
  switch (e.event_case()) {
    case CaseEvent::kOrderIssued:
      return e.order_issued().order().order_id();
    case CaseEvent::kOrderVaried:
      return e.order_varied().order_id();
    case CaseEvent::kOrderBreached:
      return e.order_breached().order_id();
    case CaseEvent::kOrderDischarged:
      return e.order_discharged().order_id();
    case CaseEvent::kOrderExpired:
      return e.order_expired().order_id();
    case CaseEvent::kConsultationRequested:
      return e.consultation_requested().order_id();
    case CaseEvent::kConsultationGiven:
      return e.consultation_given().order_id();
    case CaseEvent::kHearingListed:
      return e.hearing_listed().order_id();
    case CaseEvent::kHearingHeld:
      return e.hearing_held().order_id();
    case CaseEvent::kAuthorisationRecorded:
      return e.authorisation_recorded().order_id();
    case CaseEvent::kReviewHeld:
      return e.review_held().order_id();
    case CaseEvent::kStatutoryNotice:
      return e.statutory_notice().order_id();
    default:
      return kNone;
  }
}

asb::v1::OrderType OrderTypeNamedBy(const CaseEvent& e) {
  switch (e.event_case()) {
    case CaseEvent::kOrderIssued:
      return e.order_issued().order().type();
    case CaseEvent::kConsultationRequested:
      return e.consultation_requested().order_type();
    case CaseEvent::kConsultationGiven:
      return e.consultation_given().order_type();
    case CaseEvent::kHearingListed:
      return e.hearing_listed().order_type();
    case CaseEvent::kHearingHeld:
      return e.hearing_held().order_type();
    default:
      return asb::v1::ORDER_TYPE_UNSPECIFIED;
  }
}

Order* FindOrder(Orders* orders, const std::string& order_id) {
  for (Order& o : *orders) {
    if (o.order_id() == order_id) {
      return &o;
    }
  }
  return nullptr;
}

const Order* FindOrder(const Orders& orders, const std::string& order_id) {
  for (const Order& o : orders) {
    if (o.order_id() == order_id) {
      return &o;
    }
  }
  return nullptr;
}

bool Ended(const Order& o) {
  return o.status() == asb::v1::ORDER_STATUS_DISCHARGED ||
         o.status() == asb::v1::ORDER_STATUS_EXPIRED;
}

absl::Status ApplyOrderEvent(const CaseEvent& event, const std::string& case_id, Orders* orders) {
  Orders copy = *orders;
  absl::Status s = Apply(event, case_id, &copy);
  if (s.ok()) {
    *orders = std::move(copy);
  }
  return s;
}

}  // namespace asb::orders
