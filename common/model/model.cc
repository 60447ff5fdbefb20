#include "common/model/model.h"

namespace asb::model {

void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(t);
  int64_t seconds = nanos / 1'000'000'000;
  int64_t rem = nanos % 1'000'000'000;
  if (rem < 0) {
    rem += 1'000'000'000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rem));
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  ToTimestamp(t, &ts);
  return ts;
}

absl::Time ToTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

asb::v1::EventType EventTypeOf(const asb::v1::CaseEvent& event) {
  using asb::v1::CaseEvent;
  switch (event.event_case()) {
    case CaseEvent::kIncidentReported:
      return asb::v1::EVENT_TYPE_INCIDENT_REPORTED;
    case CaseEvent::kCaseOpened:
      return asb::v1::EVENT_TYPE_CASE_OPENED;
    case CaseEvent::kCaseUpdated:
      return asb::v1::EVENT_TYPE_CASE_UPDATED;
    case CaseEvent::kCaseClosed:
      return asb::v1::EVENT_TYPE_CASE_CLOSED;
    case CaseEvent::kPersonLinked:
      return asb::v1::EVENT_TYPE_PERSON_LINKED;
    case CaseEvent::kRiskAssessed:
      return asb::v1::EVENT_TYPE_RISK_ASSESSED;
    case CaseEvent::kOrderIssued:
      return asb::v1::EVENT_TYPE_ORDER_ISSUED;
    case CaseEvent::kOrderVaried:
      return asb::v1::EVENT_TYPE_ORDER_VARIED;
    case CaseEvent::kOrderBreached:
      return asb::v1::EVENT_TYPE_ORDER_BREACHED;
    case CaseEvent::kOrderDischarged:
      return asb::v1::EVENT_TYPE_ORDER_DISCHARGED;
    case CaseEvent::kOrderExpired:
      return asb::v1::EVENT_TYPE_ORDER_EXPIRED;
    case CaseEvent::kConsultationRequested:
      return asb::v1::EVENT_TYPE_CONSULTATION_REQUESTED;
    case CaseEvent::kConsultationGiven:
      return asb::v1::EVENT_TYPE_CONSULTATION_GIVEN;
    case CaseEvent::kHearingListed:
      return asb::v1::EVENT_TYPE_HEARING_LISTED;
    case CaseEvent::kHearingHeld:
      return asb::v1::EVENT_TYPE_HEARING_HELD;
    case CaseEvent::kAuthorisationRecorded:
      return asb::v1::EVENT_TYPE_AUTHORISATION_RECORDED;
    case CaseEvent::kReviewHeld:
      return asb::v1::EVENT_TYPE_REVIEW_HELD;
    case CaseEvent::kStatutoryNotice:
      return asb::v1::EVENT_TYPE_STATUTORY_NOTICE;
    case CaseEvent::EVENT_NOT_SET:
      break;
  }
  return asb::v1::EVENT_TYPE_UNSPECIFIED;
}

}  // namespace asb::model
