#include "services/intake/event_validation.h"

#include <cctype>
#include <cmath>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/config/violations.h"
#include "common/model/model.h"
#include "google/protobuf/timestamp.pb.h"

namespace asb::intake {
namespace {

using ::asb::model::ToTime;
using ::asb::model::ToTimestamp;

using asb::v1::CaseEvent;
using config::Violations;
using google::protobuf::Timestamp;

// Oldest timestamp any event may carry.
const absl::Time kEarliest = absl::FromCivil(absl::CivilSecond(1990, 1, 1), absl::UTCTimeZone());
// Tolerance for clocks ahead of ours (and for time zones).
constexpr absl::Duration kFutureSlack = absl::Hours(24);
// End dates and review dates look ahead; this bounds them.
constexpr absl::Duration kFarFuture = absl::Hours(24 * 366 * 100);

// Timestamp's own valid range (0001-01-01 .. 9999-12-31).
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

bool HasControlChars(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

// Length in characters (UTF-8 code points; proto3 strings are valid UTF-8).
std::size_t CharLength(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xc0) != 0x80) {
      ++n;
    }
  }
  return n;
}

// Collects violations with a path prefix so nested messages report full paths.
class Checker {
 public:
  Checker(Violations* v, absl::Time now) : v_(v), now_(now) {}

  void Add(const std::string& path, const std::string& what) { v_->Add(path, what); }

  // An identifier: no control characters, at most `max` characters. Required if `required`.
  void Id(const std::string& path, const std::string& value, bool required,
          std::size_t max = kMaxIdLength) {
    if (value.empty()) {
      if (required) {
        Add(path, "required");
      }
      return;
    }
    if (CharLength(value) > max) {
      Add(path, absl::StrCat("longer than ", max, " characters"));
    }
    if (HasControlChars(value)) {
      Add(path, "must not contain control characters");
    }
  }

  // Free text or a name: at most `max` characters.
  void Text(const std::string& path, const std::string& value, bool required, std::size_t max) {
    if (value.empty()) {
      if (required) {
        Add(path, "required");
      }
      return;
    }
    if (CharLength(value) > max) {
      Add(path, absl::StrCat("longer than ", max, " characters"));
    }
  }

  // A point in time that has happened: 1990 .. now + 1 day.
  void PastTime(const std::string& path, const Timestamp& ts, bool present, bool required) {
    if (!present) {
      if (required) {
        Add(path, "required");
      }
      return;
    }
    if (!ValidTimestamp(path, ts)) {
      return;
    }
    const absl::Time t = ToTime(ts);
    if (t < kEarliest) {
      Add(path, "year out of range (before 1990)");
    } else if (t > now_ + kFutureSlack) {
      Add(path, "in the future (more than 1 day ahead)");
    }
  }

  // An end or review date: 1990 .. now + 100 years.
  void FutureTime(const std::string& path, const Timestamp& ts, bool present) {
    if (!present || !ValidTimestamp(path, ts)) {
      return;
    }
    const absl::Time t = ToTime(ts);
    if (t < kEarliest) {
      Add(path, "year out of range (before 1990)");
    } else if (t > now_ + kFarFuture) {
      Add(path, "year out of range (more than 100 years ahead)");
    }
  }

  bool ValidTimestamp(const std::string& path, const Timestamp& ts) {
    if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds ||
        ts.nanos() < 0 || ts.nanos() > 999'999'999) {
      Add(path, "not a valid timestamp");
      return false;
    }
    return true;
  }

  template <class IsValid>
  void Enum(const std::string& path, int value, bool required, IsValid is_valid) {
    if (!is_valid(value)) {
      Add(path, "not a defined value");
    } else if (required && value == 0) {
      Add(path, "required (must not be UNSPECIFIED)");
    }
  }

  void Location(const std::string& path, const asb::v1::Location& loc) {
    if (!std::isfinite(loc.latitude()) || loc.latitude() < -90 || loc.latitude() > 90) {
      Add(path + ".latitude", "out of range [-90, 90]");
    }
    if (!std::isfinite(loc.longitude()) || loc.longitude() < -180 || loc.longitude() > 180) {
      Add(path + ".longitude", "out of range [-180, 180]");
    }
    Text(path + ".description", loc.description(), false, kMaxNameLength * 5);
    if (!loc.lsoa_code().empty() && !IsLsoaCode(loc.lsoa_code())) {
      Add(path + ".lsoa_code", "not an LSOA code (a letter and 8 digits, e.g. E01019400)");
    }
    Text(path + ".ward", loc.ward(), false, kMaxNameLength);
    Text(path + ".district", loc.district(), false, kMaxNameLength);
    Text(path + ".lsoa_name", loc.lsoa_name(), false, kMaxNameLength);
  }

  void Address(const std::string& path, const asb::v1::Address& a) {
    Text(path + ".line1", a.line1(), false, kMaxNameLength);
    Text(path + ".line2", a.line2(), false, kMaxNameLength);
    Text(path + ".town", a.town(), false, kMaxNameLength);
    if (!a.postcode().empty() && !IsPostcode(a.postcode())) {
      Add(path + ".postcode", "not a UK postcode (e.g. S40 1LP)");
    }
    if (!a.uprn().empty() && !IsDigits(a.uprn(), 1, 12)) {
      Add(path + ".uprn", "must be 1 to 12 digits");
    }
    if (!a.postcode_district().empty()) {
      Add(path + ".postcode_district", "set by the hub (feeds leave it empty)");
    }
  }

  void Person(const std::string& path, const asb::v1::Person& p) {
    Id(path + ".person_id", p.person_id(), true);
    Enum(path + ".role", p.role(), true, asb::v1::PersonRole_IsValid);
    Text(path + ".given_name", p.given_name(), false, kMaxNameLength);
    Text(path + ".family_name", p.family_name(), false, kMaxNameLength);
    if (!p.date_of_birth().empty()) {
      DateOfBirth(path + ".date_of_birth", p.date_of_birth());
    }
    if (!p.age_band().empty()) {
      Add(path + ".age_band", "set by the hub (feeds leave it empty)");
    }
    if (p.child() && !p.date_of_birth().empty()) {
      ChildFlag(path + ".child", p.date_of_birth());
    }
    SourceAgency(path + ".source_agency", p.source_agency());
    Address(path + ".address", p.address());
    Text(path + ".vulnerability", p.vulnerability(), false, kMaxTextLength);
    Enum(path + ".tenure", p.tenure(), false, asb::v1::Tenure_IsValid);
    if (!p.phone().empty()) {
      if (CharLength(p.phone()) > kMaxPhoneLength) {
        Add(path + ".phone", absl::StrCat("longer than ", kMaxPhoneLength, " characters"));
      } else if (!IsPhone(p.phone())) {
        Add(path + ".phone", "not a telephone number (digits, spaces, + - ( ) only)");
      }
    }
  }

  // Fields the hub sets from the feed's key: a feed cannot say where a fact came from.
  void SourceAgency(const std::string& path, const std::string& value) {
    if (!value.empty()) {
      Add(path, "set by the hub from the feed's key (feeds leave it empty)");
    }
  }

  // A child flag beside a date of birth must agree with it: the date decides, so a flag that
  // contradicts it is a data error to correct at the source.
  void ChildFlag(const std::string& path, const std::string& dob) {
    int y = 0, m = 0, d = 0;
    if (!ParseDate(dob, &y, &m, &d)) {
      return;  // date_of_birth reports it
    }
    const absl::CivilDay today = absl::ToCivilDay(now_, absl::UTCTimeZone());
    const absl::CivilDay eighteenth(y + 18, m, d);
    // CivilDay normalises 29 February to 1 March in other years: the day after, as the law reads.
    if (eighteenth <= today) {
      Add(path,
          "contradicts date_of_birth (18 or over today): leave the flag unset when the "
          "date of birth is known");
    }
  }

  void DateOfBirth(const std::string& path, const std::string& dob) {
    int y = 0, m = 0, d = 0;
    if (!ParseDate(dob, &y, &m, &d)) {
      Add(path, "not a date (YYYY-MM-DD)");
      return;
    }
    const absl::CivilDay day(y, m, d);
    if (day.year() != y || day.month() != m || day.day() != d) {
      Add(path, "not a valid calendar date");
      return;
    }
    if (y < 1900) {
      Add(path, "year out of range (before 1900)");
      return;
    }
    // The latest time zone is UTC+14: a date that is today anywhere is accepted.
    const absl::CivilDay today = absl::ToCivilDay(now_ + absl::Hours(14), absl::UTCTimeZone());
    if (day > today) {
      Add(path, "in the future");
    }
  }

  void Incident(const std::string& path, const asb::v1::Incident& inc) {
    Id(path + ".incident_id", inc.incident_id(), true);
    PastTime(path + ".occurred_at", inc.occurred_at(), inc.has_occurred_at(), false);
    Enum(path + ".category", inc.category(), true, asb::v1::NsirCategory_IsValid);
    Text(path + ".description", inc.description(), false, kMaxTextLength);
    Location(path + ".location", inc.location());
    Id(path + ".reported_by", inc.reported_by(), false);
    SourceAgency(path + ".source_agency", inc.source_agency());
    Text(path + ".crime_type", inc.crime_type(), false, kMaxNameLength);
  }

  void Breach(const std::string& path, const asb::v1::Breach& b) {
    PastTime(path + ".occurred_at", b.occurred_at(), b.has_occurred_at(), false);
    Text(path + ".description", b.description(), false, kMaxTextLength);
    SourceAgency(path + ".source_agency", b.source_agency());
  }

  void Order(const std::string& path, const asb::v1::Order& o) {
    Id(path + ".order_id", o.order_id(), true);
    Enum(path + ".type", o.type(), true, asb::v1::OrderType_IsValid);
    if (o.status() != asb::v1::ORDER_STATUS_UNSPECIFIED &&
        o.status() != asb::v1::ORDER_STATUS_ACTIVE) {
      Add(path + ".status", "set by the hub (leave it unset or ACTIVE)");
    }
    Id(path + ".subject_person_id", o.subject_person_id(), false);
    Id(path + ".issued_by", o.issued_by(), false);
    PastTime(path + ".issued_at", o.issued_at(), o.has_issued_at(), false);
    FutureTime(path + ".expires_at", o.expires_at(), o.has_expires_at());
    FutureTime(path + ".review_at", o.review_at(), o.has_review_at());
    if (o.has_issued_at() && o.has_expires_at() && ToTime(o.expires_at()) < ToTime(o.issued_at())) {
      Add(path + ".expires_at", "before issued_at");
    }
    Text(path + ".conditions", o.conditions(), false, kMaxTextLength);
    Text(path + ".court", o.court(), false, kMaxNameLength);
    Location(path + ".area", o.area());
    for (int i = 0; i < o.breaches_size(); ++i) {
      Breach(absl::StrCat(path, ".breaches[", i, "]"), o.breaches(i));
    }
    for (int i = 0; i < o.authorisations_size(); ++i) {
      Authorisation(absl::StrCat(path, ".authorisations[", i, "]"), o.authorisations(i));
    }
    PastTime(path + ".applied_at", o.applied_at(), o.has_applied_at(), false);
    if (o.has_ended_at() || o.has_varied_at() || o.consultations_size() > 0 ||
        o.hearings_size() > 0 || o.reviews_size() > 0 || o.notices_size() > 0) {
      Add(path,
          "ended_at, varied_at, consultations, hearings, reviews and notices are set by "
          "the hub (record them with their own events)");
    }
    SourceAgency(path + ".source_agency", o.source_agency());
  }

  void Authorisation(const std::string& path, const asb::v1::Authorisation& a) {
    Enum(path + ".rank", a.rank(), true, asb::v1::AuthorisingRank_IsValid);
    Text(path + ".officer", a.officer(), false, kMaxNameLength);
    PastTime(path + ".authorised_at", a.authorised_at(), a.has_authorised_at(), false);
    Id(path + ".reference", a.reference(), false);
  }

  static bool IsDigits(std::string_view s, std::size_t min, std::size_t max) {
    if (s.size() < min || s.size() > max) {
      return false;
    }
    for (unsigned char c : s) {
      if (!std::isdigit(c)) {
        return false;
      }
    }
    return true;
  }

  // Loose UK postcode check: outward code (letter, then letters/digits with a digit in the
  // second or third place, 2–4 characters), optional space, inward code digit+letter+letter.
  static bool IsPostcode(std::string_view s) {
    std::string compact;
    for (unsigned char c : s) {
      if (c == ' ') {
        continue;
      }
      if (!std::isalnum(c)) {
        return false;
      }
      compact.push_back(static_cast<char>(std::toupper(c)));
    }
    if (compact.size() < 5 || compact.size() > 7 || s.size() > 8) {
      return false;
    }
    const std::string_view inward = std::string_view(compact).substr(compact.size() - 3);
    const std::string_view outward = std::string_view(compact).substr(0, compact.size() - 3);
    if (!std::isdigit(static_cast<unsigned char>(inward[0])) ||
        !std::isalpha(static_cast<unsigned char>(inward[1])) ||
        !std::isalpha(static_cast<unsigned char>(inward[2]))) {
      return false;
    }
    if (!std::isalpha(static_cast<unsigned char>(outward[0]))) {
      return false;
    }
    return std::isdigit(static_cast<unsigned char>(outward[1])) ||
           std::isdigit(static_cast<unsigned char>(outward[2]));
  }

  static bool IsLsoaCode(std::string_view s) {
    return s.size() == 9 && std::isalpha(static_cast<unsigned char>(s[0])) &&
           IsDigits(s.substr(1), 8, 8);
  }

  static bool IsPhone(std::string_view s) {
    int digits = 0;
    for (unsigned char c : s) {
      if (std::isdigit(c)) {
        ++digits;
      } else if (c != ' ' && c != '+' && c != '-' && c != '(' && c != ')') {
        return false;
      }
    }
    return digits >= 3;
  }

  static bool ParseDate(std::string_view s, int* y, int* m, int* d) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-' || !IsDigits(s.substr(0, 4), 4, 4) ||
        !IsDigits(s.substr(5, 2), 2, 2) || !IsDigits(s.substr(8, 2), 2, 2)) {
      return false;
    }
    *y = std::stoi(std::string(s.substr(0, 4)));
    *m = std::stoi(std::string(s.substr(5, 2)));
    *d = std::stoi(std::string(s.substr(8, 2)));
    return true;
  }

 private:
  Violations* v_;
  absl::Time now_;
};

void ValidateBody(const CaseEvent& e, Checker* c) {
  switch (e.event_case()) {
    case CaseEvent::kIncidentReported:
      if (!e.incident_reported().has_incident()) {
        c->Add("incident_reported.incident", "required");
      } else {
        c->Incident("incident_reported.incident", e.incident_reported().incident());
      }
      break;
    case CaseEvent::kCaseOpened: {
      const auto& o = e.case_opened();
      c->Enum("case_opened.nsir_category", o.nsir_category(), true, asb::v1::NsirCategory_IsValid);
      c->Text("case_opened.title", o.title(), true, kMaxNameLength);
      c->Text("case_opened.summary", o.summary(), false, kMaxTextLength);
      c->Id("case_opened.lead_agency", o.lead_agency(), true);
      c->Text("case_opened.lead_officer", o.lead_officer(), false, kMaxNameLength);
      c->Location("case_opened.location", o.location());
      break;
    }
    case CaseEvent::kCaseUpdated: {
      const auto& u = e.case_updated();
      if (u.has_nsir_category()) {
        c->Enum("case_updated.nsir_category", u.nsir_category(), true,
                asb::v1::NsirCategory_IsValid);
      }
      if (u.has_title()) {
        c->Text("case_updated.title", u.title(), true, kMaxNameLength);
      }
      if (u.has_summary()) {
        c->Text("case_updated.summary", u.summary(), false, kMaxTextLength);
      }
      if (u.has_lead_agency()) {
        c->Id("case_updated.lead_agency", u.lead_agency(), true);
      }
      if (u.has_lead_officer()) {
        c->Text("case_updated.lead_officer", u.lead_officer(), false, kMaxNameLength);
      }
      c->Location("case_updated.location", u.location());
      if (u.has_flags() && !u.replace_flags()) {
        c->Add("case_updated.flags", "given without replace_flags: true");
      }
      if (!u.has_nsir_category() && !u.has_title() && !u.has_summary() && !u.has_lead_agency() &&
          !u.has_lead_officer() && !u.has_location() && !u.replace_flags()) {
        c->Add("case_updated", "changes nothing (set at least one field)");
      }
      break;
    }
    case CaseEvent::kCaseClosed:
      c->Text("case_closed.reason", e.case_closed().reason(), true, kMaxTextLength);
      break;
    case CaseEvent::kPersonLinked:
      if (!e.person_linked().has_person()) {
        c->Add("person_linked.person", "required");
      } else {
        c->Person("person_linked.person", e.person_linked().person());
      }
      break;
    case CaseEvent::kRiskAssessed:
      c->Enum("risk_assessed.level", e.risk_assessed().level(), true, asb::v1::RiskLevel_IsValid);
      c->Text("risk_assessed.notes", e.risk_assessed().notes(), false, kMaxTextLength);
      break;
    case CaseEvent::kOrderIssued:
      if (!e.order_issued().has_order()) {
        c->Add("order_issued.order", "required");
      } else {
        c->Order("order_issued.order", e.order_issued().order());
      }
      break;
    case CaseEvent::kOrderVaried: {
      const auto& v = e.order_varied();
      c->Id("order_varied.order_id", v.order_id(), true);
      if (v.has_conditions()) {
        c->Text("order_varied.conditions", v.conditions(), false, kMaxTextLength);
      }
      c->FutureTime("order_varied.expires_at", v.expires_at(), v.has_expires_at());
      c->FutureTime("order_varied.review_at", v.review_at(), v.has_review_at());
      if (!v.has_conditions() && !v.has_expires_at() && !v.has_review_at()) {
        c->Add("order_varied", "changes nothing (set conditions, expires_at or review_at)");
      }
      break;
    }
    case CaseEvent::kOrderBreached:
      c->Id("order_breached.order_id", e.order_breached().order_id(), true);
      c->Breach("order_breached.breach", e.order_breached().breach());
      break;
    case CaseEvent::kOrderDischarged:
      c->Id("order_discharged.order_id", e.order_discharged().order_id(), true);
      c->Text("order_discharged.reason", e.order_discharged().reason(), false, kMaxTextLength);
      break;
    case CaseEvent::kOrderExpired:
      c->Id("order_expired.order_id", e.order_expired().order_id(), true);
      if (e.order_expired().has_context()) {
        c->Add("order_expired.context", "set by the hub (feeds leave it empty)");
      }
      break;
    case CaseEvent::kConsultationRequested: {
      const auto& r = e.consultation_requested();
      c->Id("consultation_requested.order_id", r.order_id(), true);
      c->Enum("consultation_requested.order_type", r.order_type(), false,
              asb::v1::OrderType_IsValid);
      c->Id("consultation_requested.consultee", r.consultee(), true);
      c->Id("consultation_requested.subject_person_id", r.subject_person_id(), false);
      break;
    }
    case CaseEvent::kConsultationGiven: {
      const auto& g = e.consultation_given();
      c->Id("consultation_given.order_id", g.order_id(), true);
      c->Enum("consultation_given.order_type", g.order_type(), false, asb::v1::OrderType_IsValid);
      c->Id("consultation_given.consultee", g.consultee(), true);
      c->Text("consultation_given.response", g.response(), false, kMaxTextLength);
      c->Id("consultation_given.subject_person_id", g.subject_person_id(), false);
      break;
    }
    case CaseEvent::kHearingListed: {
      const auto& h = e.hearing_listed();
      c->Id("hearing_listed.order_id", h.order_id(), true);
      c->Enum("hearing_listed.order_type", h.order_type(), false, asb::v1::OrderType_IsValid);
      c->Id("hearing_listed.hearing_id", h.hearing_id(), true);
      c->Text("hearing_listed.court", h.court(), false, kMaxNameLength);
      if (!h.has_listed_for()) {
        c->Add("hearing_listed.listed_for", "required");
      } else {
        c->FutureTime("hearing_listed.listed_for", h.listed_for(), true);
      }
      c->Id("hearing_listed.subject_person_id", h.subject_person_id(), false);
      break;
    }
    case CaseEvent::kHearingHeld: {
      const auto& h = e.hearing_held();
      c->Id("hearing_held.order_id", h.order_id(), true);
      c->Id("hearing_held.hearing_id", h.hearing_id(), true);
      c->Text("hearing_held.court", h.court(), false, kMaxNameLength);
      c->Enum("hearing_held.outcome", h.outcome(), false, asb::v1::HearingOutcome_IsValid);
      c->Text("hearing_held.notes", h.notes(), false, kMaxTextLength);
      c->Enum("hearing_held.order_type", h.order_type(), false, asb::v1::OrderType_IsValid);
      break;
    }
    case CaseEvent::kAuthorisationRecorded: {
      const auto& a = e.authorisation_recorded();
      c->Id("authorisation_recorded.order_id", a.order_id(), true);
      if (!a.has_authorisation()) {
        c->Add("authorisation_recorded.authorisation", "required");
      } else {
        c->Authorisation("authorisation_recorded.authorisation", a.authorisation());
      }
      break;
    }
    case CaseEvent::kReviewHeld: {
      const auto& r = e.review_held();
      c->Id("review_held.order_id", r.order_id(), true);
      c->Text("review_held.outcome", r.outcome(), false, kMaxTextLength);
      c->FutureTime("review_held.next_review_at", r.next_review_at(), r.has_next_review_at());
      break;
    }
    case CaseEvent::kStatutoryNotice:
      c->Add("statutory_notice", "made by the hub only (a feed may not submit it)");
      break;
    case CaseEvent::EVENT_NOT_SET:
      c->Add("event",
             "required (exactly one of incident_reported, case_opened, case_updated, "
             "case_closed, person_linked, risk_assessed, order_issued, order_varied, "
             "order_breached, order_discharged, order_expired, consultation_requested, "
             "consultation_given, hearing_listed, hearing_held, authorisation_recorded, "
             "review_held)");
      break;
  }
}

}  // namespace

absl::Status ValidateEvent(const CaseEvent& event, absl::Time now) {
  Violations v;
  Checker c(&v, now);
  c.Id("source_event_id", event.source_event_id(), true);
  c.Id("case_id", event.case_id(), true, kMaxCaseIdLength);
  c.PastTime("occurred_at", event.occurred_at(), event.has_occurred_at(), true);
  ValidateBody(event, &c);
  return v.ToStatus();
}

// A case_id safe to put on an audit record of a refused event.
bool UsableCaseId(const std::string& case_id) {
  return !case_id.empty() && case_id.size() <= kMaxCaseIdLength && !HasControlChars(case_id);
}

}  // namespace asb::intake
