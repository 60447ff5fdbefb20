#include "common/agreement/agreement.h"

#include <cctype>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace asb::agreement {
namespace {

using asb::config::v1::Isp;
using config::Violations;
using Contact = Agreement::Contact;

constexpr uint32_t kMaxDays = 365;
constexpr uint32_t kMaxRetentionDays = 36500;
// UK GDPR Art 33(1).
constexpr uint32_t kArt33Hours = 72;

std::string FormatDay(absl::CivilDay d) { return absl::FormatCivilTime(d); }

bool Blank(const std::string& s) { return absl::StripAsciiWhitespace(s).empty(); }

// Required text: present and not only spaces.
bool RequireText(Violations* v, const std::string& path, const std::string& value,
                 const std::string& what = "required") {
  if (Blank(value)) {
    v->Add(path, what);
    return false;
  }
  return true;
}

// A plausible address: one '@' with text either side and no spaces (the agreement is read by
// people; the hub never sends mail, so no more than that is checked).
bool PlausibleEmail(std::string_view s) {
  const std::size_t at = s.find('@');
  return at != std::string_view::npos && at > 0 && at + 1 < s.size() &&
         s.find('@', at + 1) == std::string_view::npos && s.find(' ') == std::string_view::npos &&
         s.find('.', at) != std::string_view::npos;
}

// Digits, spaces and + ( ) -, with at least 6 digits.
bool PlausiblePhone(std::string_view s) {
  int digits = 0;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      ++digits;
    } else if (c != ' ' && c != '+' && c != '(' && c != ')' && c != '-') {
      return false;
    }
  }
  return digits >= 6;
}

void CheckContact(Violations* v, const std::string& path, const Contact& c, bool present) {
  if (!present) {
    v->Add(path, "required: a name and an email or phone");
    return;
  }
  RequireText(v, path + ".name", c.name());
  if (c.email().empty() && c.phone().empty()) {
    v->Add(path, "an email or a phone is required");
  }
  if (!c.email().empty() && !PlausibleEmail(c.email())) {
    v->Add(path + ".email", "'" + c.email() + "' is not an email address");
  }
  if (!c.phone().empty() && !PlausiblePhone(c.phone())) {
    v->Add(path + ".phone", "'" + c.phone() + "' is not a telephone number");
  }
}

// A required day; nullopt (and a violation) if missing or malformed.
std::optional<absl::CivilDay> RequireDay(Violations* v, const std::string& path,
                                         const std::string& value) {
  if (value.empty()) {
    v->Add(path, "required: a day, YYYY-MM-DD");
    return std::nullopt;
  }
  std::optional<absl::CivilDay> day = ParseDay(value);
  if (!day) {
    v->Add(path, "'" + value + "' is not a day (YYYY-MM-DD)");
  }
  return day;
}

bool ValidIcoRegistration(const std::string& s) {
  if (s.size() != 8 || s[0] != 'Z') {
    return false;
  }
  for (char c : s.substr(1)) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) ||
          std::isupper(static_cast<unsigned char>(c)))) {
      return false;
    }
  }
  return true;
}

void CheckParties(const Isp& isp, const Agreement& a, Violations* v) {
  absl::flat_hash_set<std::string> agencies;
  for (const auto& agency : isp.agencies()) {
    agencies.insert(agency.id());
  }
  if (a.parties_size() == 0) {
    v->Add("agreement.parties", "required: at least one party (a controller that signs)");
  }
  absl::flat_hash_map<std::string, std::string> party_of;  // agency -> organisation
  absl::flat_hash_set<std::string> organisations;
  for (int i = 0; i < a.parties_size(); ++i) {
    const Agreement::Party& p = a.parties(i);
    const std::string at = absl::StrCat("agreement.parties[", i, "]");
    if (RequireText(v, at + ".organisation", p.organisation()) &&
        !organisations.insert(p.organisation()).second) {
      v->Add(at + ".organisation", "'" + p.organisation() + "' is a party twice");
    }
    if (p.agencies_size() == 0) {
      v->Add(at + ".agencies", "required: the ISP agencies this party is the controller for");
    }
    for (int j = 0; j < p.agencies_size(); ++j) {
      const std::string& id = p.agencies(j);
      const std::string aj = absl::StrCat(at, ".agencies[", j, "]");
      if (!agencies.contains(id)) {
        v->Add(aj, "unknown agency '" + id + "'");
      } else if (auto [it, fresh] = party_of.emplace(id, p.organisation()); !fresh) {
        v->Add(aj, "agency '" + id + "' already belongs to party '" + it->second +
                       "': each agency has one controller");
      }
    }
    if (!p.has_signatory()) {
      v->Add(at + ".signatory", "required: who signs for the party (name and role)");
    } else {
      RequireText(v, at + ".signatory.name", p.signatory().name());
      RequireText(v, at + ".signatory.role", p.signatory().role());
      if (!p.signatory().signed_on().empty() && !ParseDay(p.signatory().signed_on())) {
        v->Add(at + ".signatory.signed_on",
               "'" + p.signatory().signed_on() + "' is not a day (YYYY-MM-DD)");
      }
    }
    if (p.ico_registration().empty()) {
      v->Add(at + ".ico_registration", "required: the party's ICO registration number");
    } else if (!ValidIcoRegistration(p.ico_registration())) {
      v->Add(at + ".ico_registration",
             "'" + p.ico_registration() + "' is not an ICO registration number (Z and 7 more)");
    }
    CheckContact(v, at + ".data_protection_officer", p.data_protection_officer(),
                 p.has_data_protection_officer());
    RequireText(v, at + ".appropriate_policy_document", p.appropriate_policy_document(),
                "required: the party's appropriate policy document (DPA 2018 Sch 1 Part 4)");
  }
  for (int i = 0; i < isp.agencies_size(); ++i) {
    const std::string& id = isp.agencies(i).id();
    if (!id.empty() && a.parties_size() > 0 && !party_of.contains(id)) {
      v->Add("agreement.parties",
             "agency '" + id + "' belongs to no party: name its controller in a party's agencies");
    }
  }
}

void CheckReview(const Agreement& a, std::optional<absl::CivilDay> effective, Violations* v) {
  if (!a.has_review()) {
    v->Add("agreement.review", "required: the day the agreement is next reviewed (due)");
    return;
  }
  const Agreement::Review& r = a.review();
  std::optional<absl::CivilDay> due = RequireDay(v, "agreement.review.due", r.due());
  if (due && effective && *due <= *effective) {
    v->Add("agreement.review.due", "must be after effective_date (" + FormatDay(*effective) + ")");
  }
  if (r.has_remind_days_before() && r.remind_days_before() > kMaxDays) {
    v->Add("agreement.review.remind_days_before", "at most 365");
  }
  if (r.has_grace_days() && r.grace_days() > kMaxDays) {
    v->Add("agreement.review.grace_days", "at most 365");
  }
}

void CheckRetention(const Agreement& a, Violations* v) {
  absl::flat_hash_set<int> kinds;
  bool case_data = false;
  for (int i = 0; i < a.retention_size(); ++i) {
    const Agreement::Retention& r = a.retention(i);
    const std::string at = absl::StrCat("agreement.retention[", i, "]");
    if (r.data() == Agreement::RETENTION_DATA_UNSPECIFIED ||
        !Agreement::RetentionData_IsValid(r.data())) {
      v->Add(at + ".data",
             "required: RETENTION_CASE_DATA, RETENTION_ACCESS_LOG, RETENTION_ALERTS or "
             "RETENTION_PARTNER_COPIES");
    } else if (!kinds.insert(r.data()).second) {
      v->Add(at + ".data", Agreement::RetentionData_Name(r.data()) + " is listed twice");
    }
    case_data |= r.data() == Agreement::RETENTION_CASE_DATA;
    if (r.days() == 0 || r.days() > kMaxRetentionDays) {
      v->Add(at + ".days", "required: 1 to 36500 days");
    }
  }
  if (!case_data) {
    v->Add("agreement.retention",
           "required: how long the hub keeps a case after it closes (RETENTION_CASE_DATA)");
  }
}

void CheckBreach(const Agreement& a, Violations* v) {
  if (!a.has_breach()) {
    v->Add("agreement.breach", "required: the breach contacts, deadlines and route");
    return;
  }
  const Agreement::BreachProcedure& b = a.breach();
  if (b.contacts_size() == 0) {
    v->Add("agreement.breach.contacts", "required: at least one contact");
  }
  for (int i = 0; i < b.contacts_size(); ++i) {
    CheckContact(v, absl::StrCat("agreement.breach.contacts[", i, "]"), b.contacts(i), true);
  }
  const uint32_t ico = b.report_to_ico_within_hours();
  if (ico == 0) {
    v->Add("agreement.breach.report_to_ico_within_hours",
           "required: hours from awareness to the report to the ICO (at most 72, UK GDPR Art 33)");
  } else if (ico > kArt33Hours) {
    v->Add("agreement.breach.report_to_ico_within_hours",
           absl::StrCat(ico, " hours is beyond the 72 hours of UK GDPR Art 33(1)"));
  }
  const uint32_t partners = b.notify_partners_within_hours();
  if (partners == 0) {
    v->Add("agreement.breach.notify_partners_within_hours",
           "required: hours within which a party tells the breach contacts");
  } else if (partners > kArt33Hours || (ico > 0 && partners > ico)) {
    v->Add(
        "agreement.breach.notify_partners_within_hours",
        absl::StrCat(partners, " hours leaves the controller no time to report to the ICO within ",
                     ico > 0 ? ico : kArt33Hours, " hours"));
  }
  if (b.route_size() == 0) {
    v->Add("agreement.breach.route", "required: the steps from discovery to the ICO report");
  }
  for (int i = 0; i < b.route_size(); ++i) {
    RequireText(v, absl::StrCat("agreement.breach.route[", i, "]"), b.route(i), "empty step");
  }
}

}  // namespace

std::optional<absl::CivilDay> ParseDay(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return std::nullopt;
  }
  absl::CivilDay day;
  if (!absl::ParseCivilTime(absl::string_view(text.data(), text.size()), &day)) {
    return std::nullopt;
  }
  // ParseCivilTime normalises (2026-02-30 → 2026-03-02): accept real dates only.
  if (FormatDay(day) != text) {
    return std::nullopt;
  }
  return day;
}

absl::CivilDay DayOf(absl::Time t) { return absl::ToCivilDay(t, absl::UTCTimeZone()); }

absl::Time StartOf(absl::CivilDay day) { return absl::FromCivil(day, absl::UTCTimeZone()); }

void Check(const Isp& isp, Violations* v) {
  if (!isp.has_agreement()) {
    return;
  }
  const Agreement& a = isp.agreement();
  RequireText(v, "agreement.reference", a.reference());
  RequireText(v, "agreement.title", a.title());
  switch (a.controller_model()) {
    case Agreement::CONTROLLER_MODEL_SEPARATE:
      if (!a.joint_arrangement().empty()) {
        v->Add("agreement.joint_arrangement",
               "only for CONTROLLER_MODEL_JOINT (separate controllers have no Art 26 "
               "arrangement)");
      }
      break;
    case Agreement::CONTROLLER_MODEL_JOINT:
      RequireText(v, "agreement.joint_arrangement", a.joint_arrangement(),
                  "required for joint controllers: the Art 26 arrangement's reference");
      break;
    default:
      v->Add("agreement.controller_model",
             "required: CONTROLLER_MODEL_SEPARATE or CONTROLLER_MODEL_JOINT");
  }
  CheckParties(isp, a, v);
  if (!a.has_processor()) {
    v->Add("agreement.processor", "required: the hub's operator (UK GDPR Art 28)");
  } else {
    RequireText(v, "agreement.processor.organisation", a.processor().organisation());
    RequireText(v, "agreement.processor.contract", a.processor().contract(),
                "required: the Art 28(3) contract's reference");
    CheckContact(v, "agreement.processor.contact", a.processor().contact(),
                 a.processor().has_contact());
  }
  std::optional<absl::CivilDay> effective =
      RequireDay(v, "agreement.effective_date", a.effective_date());
  CheckReview(a, effective, v);
  if (!a.has_dpia()) {
    v->Add("agreement.dpia", "required: the DPIA's reference and completion day (Art 35)");
  } else {
    RequireText(v, "agreement.dpia.reference", a.dpia().reference());
    std::optional<absl::CivilDay> done =
        RequireDay(v, "agreement.dpia.completed_on", a.dpia().completed_on());
    if (done && effective && *done > *effective) {
      v->Add("agreement.dpia.completed_on",
             "the DPIA must be completed before the sharing starts (effective_date " +
                 FormatDay(*effective) + ", UK GDPR Art 35(1))");
    }
  }
  CheckRetention(a, v);
  CheckBreach(a, v);
  CheckContact(v, "agreement.subject_rights", a.subject_rights(), a.has_subject_rights());
  if (a.onward_disclosure_size() == 0) {
    v->Add("agreement.onward_disclosure",
           "required: at least one statement of what recipients may pass on");
  }
  for (int i = 0; i < a.onward_disclosure_size(); ++i) {
    RequireText(v, absl::StrCat("agreement.onward_disclosure[", i, "]"), a.onward_disclosure(i),
                "empty statement");
  }
  if (a.coordinator_agency().empty()) {
    v->Add("agreement.coordinator_agency",
           "required: the agency that receives the hub's notices about this agreement");
  } else {
    bool known = false;
    for (const auto& agency : isp.agencies()) {
      known |= agency.id() == a.coordinator_agency();
    }
    if (!known) {
      v->Add("agreement.coordinator_agency", "unknown agency '" + a.coordinator_agency() + "'");
    }
  }
  for (int i = 0; i < isp.notification_rules_size(); ++i) {
    if (isp.notification_rules(i).id().rfind("hub/", 0) == 0) {
      v->Add(absl::StrCat("notification_rules[", i, "].id"),
             "ids starting 'hub/' are the hub's own notices");
    }
  }
}

ReviewStatus AssessReview(const Isp& isp, absl::Time now) {
  ReviewStatus s;
  if (!isp.has_agreement()) {
    return s;
  }
  const Agreement& a = isp.agreement();
  std::optional<absl::CivilDay> due = ParseDay(a.review().due());
  if (!due) {
    return s;
  }
  const Agreement::Review& r = a.review();
  const uint32_t remind = r.has_remind_days_before() ? r.remind_days_before() : kDefaultRemindDays;
  const uint32_t grace = r.has_grace_days() ? r.grace_days() : kDefaultGraceDays;
  s.reference = a.reference();
  s.due = *due;
  s.remind_from = *due - remind;
  s.grace_ends = *due + grace;
  const absl::CivilDay today = DayOf(now);
  s.days_to_due = *due - today;
  if (today > s.grace_ends) {
    s.state = ReviewStatus::State::kLapsed;
  } else if (today > s.due) {
    s.state = ReviewStatus::State::kOverdue;
  } else if (today >= s.remind_from) {
    s.state = ReviewStatus::State::kReminder;
  } else {
    s.state = ReviewStatus::State::kCurrent;
  }
  return s;
}

std::string ReviewStatus::Describe() const {
  const std::string what = "data sharing agreement " + reference;
  switch (state) {
    case State::kNoAgreement:
      return "the ISP carries no data sharing agreement";
    case State::kCurrent:
    case State::kReminder:
      return absl::StrFormat("%s is due for review on %s (in %d days)", what, FormatDay(due),
                             days_to_due);
    case State::kOverdue:
      return absl::StrFormat(
          "%s was due for review on %s (%d days ago): after %s the hub refuses to load it "
          "until the parties review it and record the next review date",
          what, FormatDay(due), -days_to_due, FormatDay(grace_ends));
    case State::kLapsed:
      return absl::StrFormat(
          "%s was due for review on %s and its grace ended on %s: the parties must review it "
          "and record the next review date (agreement.review.due) before the hub loads it again",
          what, FormatDay(due), FormatDay(grace_ends));
  }
  return what;
}

void CheckInForce(const Isp& isp, absl::Time now, Violations* v) {
  const ReviewStatus s = AssessReview(isp, now);
  if (s.state == ReviewStatus::State::kLapsed) {
    v->Add("agreement.review.due", s.Describe());
  }
}

uint32_t RetentionDays(const Isp& isp, Agreement::RetentionData data) {
  for (const Agreement::Retention& r : isp.agreement().retention()) {
    if (r.data() == data) {
      return r.days();
    }
  }
  return 0;
}

}  // namespace asb::agreement
