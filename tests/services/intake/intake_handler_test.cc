// Unit tests of asb-intake's handler on a real store: validation, de-duplication, conflicting
// resubmissions, group commit and failed writes. Over 800 lines because it holds one case per
// refusal reason an event can get, beside the store they share.

#include "services/intake/intake_handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "asb/v1/audit.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/config/config.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::intake {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
using asb::v1::CaseEvent;
using asb::v1::SubmitResult;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 26, 12, 0, 0), absl::UTCTimeZone());

CaseEvent Parse(const std::string& json) {
  CaseEvent e;
  absl::Status s = config::ParseJson(json, &e);
  EXPECT_TRUE(s.ok()) << s << " in " << json;
  return e;
}

// A valid event of each kind (occurred 2026-10-01).
CaseEvent Opened(const std::string& id = "e1", const std::string& case_id = "CBC-1") {
  return Parse(R"({"sourceEventId":")" + id + R"(","caseId":")" + case_id +
               R"(","occurredAt":"2026-10-01T10:00:00Z","caseOpened":{
      "nsirCategory":"NSIR_CATEGORY_PERSONAL","title":"Noise, Brimington North",
      "leadAgency":"council","location":{"latitude":53.25,"longitude":-1.40,
      "lsoaCode":"E01019381","ward":"Brimington North"}}})");
}

CaseEvent WithBody(const std::string& body) {
  return Parse(R"({"sourceEventId":"e2","caseId":"CBC-1","occurredAt":"2026-10-01T10:00:00Z",)" +
               body + "}");
}

CaseEvent PersonEvent(const std::string& person_fields) {
  return WithBody(R"("personLinked":{"person":{"personId":"P1","role":"PERSON_ROLE_VICTIM")" +
                  person_fields + "}}");
}

CaseEvent OrderEvent(const std::string& order_fields) {
  return WithBody(
      R"("orderIssued":{"order":{"orderId":"CBO-1","type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER")" +
      order_fields + "}}");
}

absl::Status Validate(const CaseEvent& e) { return ValidateEvent(e, kNow); }

// ---------------------------------------------------------------------------------------------
// Validation: one case per rule.

TEST(ValidateEventTest, ValidEventsOfEveryKindPass) {
  ASB_EXPECT_OK(Validate(Opened()));
  ASB_EXPECT_OK(Validate(WithBody(R"("incidentReported":{"incident":{"incidentId":"I1",
      "category":"NSIR_CATEGORY_NUISANCE","occurredAt":"2026-09-30T22:00:00Z"}})")));
  ASB_EXPECT_OK(Validate(WithBody(R"("caseUpdated":{"title":"New title"})")));
  ASB_EXPECT_OK(Validate(WithBody(R"("caseClosed":{"reason":"Resolved"})")));
  ASB_EXPECT_OK(Validate(PersonEvent(R"(,"dateOfBirth":"1970-02-28","phone":"+44 114 496 0000",
      "address":{"postcode":"S40 1LP","uprn":"123456"},"tenure":"TENURE_COUNCIL_TENANT")")));
  ASB_EXPECT_OK(Validate(WithBody(R"("riskAssessed":{"level":"RISK_LEVEL_HIGH"})")));
  ASB_EXPECT_OK(Validate(OrderEvent(R"(,"issuedAt":"2026-10-01T00:00:00Z",
      "expiresAt":"2028-10-01T00:00:00Z")")));
  ASB_EXPECT_OK(Validate(WithBody(R"("orderVaried":{"orderId":"CBO-1","conditions":"x"})")));
  ASB_EXPECT_OK(Validate(WithBody(R"("orderBreached":{"orderId":"CBO-1"})")));
  ASB_EXPECT_OK(Validate(WithBody(R"("orderDischarged":{"orderId":"CBO-1"})")));
  ASB_EXPECT_OK(Validate(WithBody(R"("orderExpired":{"orderId":"CBO-1"})")));
}

TEST(ValidateEventTest, EnvelopeFields) {
  CaseEvent e = Opened();
  e.clear_source_event_id();
  EXPECT_THAT(Validate(e),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "source_event_id: required"));
  e = Opened(std::string(129, 'x'));
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "source_event_id: longer than 128 characters"));
  e = Opened(std::string(128, 'x'));
  ASB_EXPECT_OK(Validate(e));
  e = Opened(std::string("a\nb"));
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "source_event_id: must not contain control characters"));
  e = Opened();
  e.clear_case_id();
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument, "case_id: required"));
  e = Opened("e1", std::string(65, 'C'));
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_id: longer than 64 characters"));
  e = Opened("e1", std::string("C\0X", 3));
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_id: must not contain control characters"));
}

TEST(ValidateEventTest, OccurredAt) {
  CaseEvent e = Opened();
  e.clear_occurred_at();
  EXPECT_THAT(Validate(e),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "occurred_at: required"));
  e = Opened();
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(1989, 12, 31, 23, 59, 59), absl::UTCTimeZone())));
  EXPECT_THAT(Validate(e),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "occurred_at: year out of range"));
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow + absl::Hours(23)));
  ASB_EXPECT_OK(Validate(e));
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow + absl::Hours(25)));
  EXPECT_THAT(Validate(e),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "occurred_at: in the future"));
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(kNow));
  e.mutable_occurred_at()->set_nanos(-1);
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "occurred_at: not a valid timestamp"));
}

TEST(ValidateEventTest, ExactlyOneEventRequired) {
  CaseEvent e = Opened();
  e.clear_case_opened();
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument, "event: required"));
}

TEST(ValidateEventTest, CaseOpenedFields) {
  EXPECT_THAT(Validate(WithBody(R"("caseOpened":{"nsirCategory":"NSIR_CATEGORY_PERSONAL",
      "leadAgency":"council"})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "case_opened.title: required"));
  CaseEvent e = Opened();
  e.mutable_case_opened()->set_title(std::string(201, 't'));
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_opened.title: longer than 200 characters"));
  // Characters, not bytes: 200 two-byte characters are fine.
  std::string accented;
  for (int i = 0; i < 200; ++i) {
    accented += "\xc3\xa9";
  }
  e.mutable_case_opened()->set_title(accented);
  ASB_EXPECT_OK(Validate(e));
  e = Opened();
  e.mutable_case_opened()->set_summary(std::string(10'001, 's'));
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_opened.summary: longer than 10000 characters"));
  e = Opened();
  e.mutable_case_opened()->clear_nsir_category();
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_opened.nsir_category: required"));
  e = Opened();
  e.mutable_case_opened()->set_nsir_category(static_cast<asb::v1::NsirCategory>(42));
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_opened.nsir_category: not a defined value"));
  e = Opened();
  e.mutable_case_opened()->clear_lead_agency();
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_opened.lead_agency: required"));
}

TEST(ValidateEventTest, Location) {
  CaseEvent e = Opened();
  e.mutable_case_opened()->mutable_location()->set_latitude(90.5);
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_opened.location.latitude: out of range"));
  e = Opened();
  e.mutable_case_opened()->mutable_location()->set_longitude(-180.01);
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_opened.location.longitude: out of range"));
  e = Opened();
  e.mutable_case_opened()->mutable_location()->set_latitude(std::nan(""));
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_opened.location.latitude: out of range"));
  e = Opened();
  e.mutable_case_opened()->mutable_location()->set_lsoa_code("E0101");
  EXPECT_THAT(Validate(e),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "case_opened.location.lsoa_code"));
  e = Opened();
  e.mutable_case_opened()->mutable_location()->set_ward(std::string(201, 'w'));
  EXPECT_THAT(Validate(e), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                        "case_opened.location.ward: longer than 200"));
}

TEST(ValidateEventTest, CaseUpdatedAndClosed) {
  EXPECT_THAT(Validate(WithBody(R"("caseUpdated":{})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "case_updated: changes nothing"));
  EXPECT_THAT(Validate(WithBody(R"("caseUpdated":{"title":""})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "case_updated.title: required"));
  EXPECT_THAT(Validate(WithBody(R"("caseUpdated":{"flags":{"fireRisk":true}})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "case_updated.flags: given without replace_flags"));
  ASB_EXPECT_OK(Validate(WithBody(R"("caseUpdated":{"replaceFlags":true})")));
  EXPECT_THAT(Validate(WithBody(R"("caseClosed":{})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "case_closed.reason: required"));
}

TEST(ValidateEventTest, PersonFields) {
  EXPECT_THAT(Validate(WithBody(R"("personLinked":{})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "person_linked.person: required"));
  EXPECT_THAT(
      Validate(WithBody(R"("personLinked":{"person":{"personId":"P1"}})")),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "person_linked.person.role: required"));
  EXPECT_THAT(
      Validate(WithBody(R"("personLinked":{"person":{"role":"PERSON_ROLE_VICTIM"}})")),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "person_linked.person.person_id: required"));
  EXPECT_THAT(Validate(PersonEvent(R"(,"givenName":")" + std::string(201, 'g') + "\"")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.given_name: longer than 200"));
  EXPECT_THAT(Validate(PersonEvent(R"(,"dateOfBirth":"17/04/1951")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.date_of_birth: not a date (YYYY-MM-DD)"));
  EXPECT_THAT(Validate(PersonEvent(R"(,"dateOfBirth":"2001-02-29")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.date_of_birth: not a valid calendar date"));
  ASB_EXPECT_OK(Validate(PersonEvent(R"(,"dateOfBirth":"2004-02-29")")));
  EXPECT_THAT(Validate(PersonEvent(R"(,"dateOfBirth":"2026-12-01")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.date_of_birth: in the future"));
  ASB_EXPECT_OK(Validate(PersonEvent(R"(,"dateOfBirth":"2026-11-26")")));
  EXPECT_THAT(Validate(PersonEvent(R"(,"dateOfBirth":"1850-01-01")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.date_of_birth: year out of range"));
  EXPECT_THAT(Validate(PersonEvent(R"(,"ageBand":"18-24")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.age_band: set by the hub"));
  EXPECT_THAT(Validate(PersonEvent(R"(,"tenure":9)")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.tenure: not a defined value"));
  EXPECT_THAT(Validate(PersonEvent(R"(,"phone":"01246 ABC")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.phone: not a telephone number"));
  EXPECT_THAT(Validate(PersonEvent(R"(,"phone":")" + std::string(33, '1') + "\"")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.phone: longer than 32"));
  EXPECT_THAT(Validate(PersonEvent(R"(,"vulnerability":")" + std::string(10'001, 'v') + "\"")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.vulnerability: longer than 10000"));
}

// Where a fact came from is the hub's to say (from the feed's key); a child flag must agree with
// a date of birth recorded beside it.
TEST(ValidateEventTest, SourceAgencyIsTheHubsAndTheChildFlagAgreesWithTheDateOfBirth) {
  EXPECT_THAT(Validate(PersonEvent(R"(,"sourceAgency":"police")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.source_agency: set by the hub from the feed's "
                           "key"));
  EXPECT_THAT(Validate(WithBody(R"("incidentReported":{"incident":{"incidentId":"I1",
      "category":"NSIR_CATEGORY_PERSONAL","sourceAgency":"police"}})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "incident_reported.incident.source_agency: set by the hub"));
  EXPECT_THAT(Validate(WithBody(R"("orderIssued":{"order":{"orderId":"O1",
      "type":"ORDER_TYPE_CIVIL_INJUNCTION","sourceAgency":"police",
      "breaches":[{"sourceAgency":"police"}]}})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "order_issued.order.source_agency: set by the hub"));
  EXPECT_THAT(Validate(WithBody(R"("orderBreached":{"orderId":"O1",
      "breach":{"sourceAgency":"council"}})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "order_breached.breach.source_agency: set by the hub"));
  ASB_EXPECT_OK(Validate(PersonEvent(R"(,"child":true)")));
  ASB_EXPECT_OK(Validate(PersonEvent(R"(,"child":true,"dateOfBirth":"2015-03-01")")));
  EXPECT_THAT(Validate(PersonEvent(R"(,"child":true,"dateOfBirth":"1990-03-01")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.child: contradicts date_of_birth"));
  ASB_EXPECT_OK(Validate(PersonEvent(R"(,"confidential":true)")));
  ASB_EXPECT_OK(Validate(WithBody(
      R"("personLinked":{"person":{"personId":"P2","role":"PERSON_ROLE_PARENT_CARER"}})")));
}

TEST(ValidateEventTest, Postcodes) {
  for (const char* good : {"S40 1LP", "s41 8ey", "S431QX", "SW1A 1AA", "M1 1AE", "B33 8TH"}) {
    ASB_EXPECT_OK(Validate(PersonEvent(R"(,"address":{"postcode":")" + std::string(good) + "\"}")))
        << good;
  }
  for (const char* bad : {"S40", "NOT A POSTCODE", "40S 1LP", "S40 LP1", "S40-1LP", "S40 1LPX"}) {
    EXPECT_THAT(Validate(PersonEvent(R"(,"address":{"postcode":")" + std::string(bad) + "\"}")),
                StatusIsWith(absl::StatusCode::kInvalidArgument,
                             "person_linked.person.address.postcode: not a UK postcode"))
        << bad;
  }
  EXPECT_THAT(
      Validate(PersonEvent(R"(,"address":{"uprn":"12ab"})")),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "person_linked.person.address.uprn"));
  EXPECT_THAT(Validate(PersonEvent(R"(,"address":{"postcodeDistrict":"S40"})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "person_linked.person.address.postcode_district: set by the hub"));
}

TEST(ValidateEventTest, IncidentAndRisk) {
  EXPECT_THAT(
      Validate(WithBody(R"("incidentReported":{})")),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "incident_reported.incident: required"));
  EXPECT_THAT(Validate(WithBody(
                  R"("incidentReported":{"incident":{"category":"NSIR_CATEGORY_PERSONAL"}})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "incident_reported.incident.incident_id: required"));
  EXPECT_THAT(Validate(WithBody(R"("incidentReported":{"incident":{"incidentId":"I1"}})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "incident_reported.incident.category: required"));
  EXPECT_THAT(Validate(WithBody(R"("incidentReported":{"incident":{"incidentId":"I1",
      "category":"NSIR_CATEGORY_PERSONAL","occurredAt":"1980-01-01T00:00:00Z"}})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "incident_reported.incident.occurred_at: year out of range"));
  EXPECT_THAT(Validate(WithBody(R"("riskAssessed":{})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "risk_assessed.level: required"));
  EXPECT_THAT(
      Validate(WithBody(R"("riskAssessed":{"level":7})")),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "risk_assessed.level: not a defined value"));
}

TEST(ValidateEventTest, Orders) {
  EXPECT_THAT(Validate(WithBody(R"("orderIssued":{})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "order_issued.order: required"));
  EXPECT_THAT(
      Validate(WithBody(R"("orderIssued":{"order":{"orderId":"O1"}})")),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "order_issued.order.type: required"));
  EXPECT_THAT(
      Validate(WithBody(R"("orderIssued":{"order":{"type":"ORDER_TYPE_CLOSURE_ORDER"}})")),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "order_issued.order.order_id: required"));
  EXPECT_THAT(Validate(OrderEvent(R"(,"status":"ORDER_STATUS_EXPIRED")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "order_issued.order.status: set by the hub"));
  EXPECT_THAT(Validate(OrderEvent(R"(,"issuedAt":"2026-10-01T00:00:00Z",
      "expiresAt":"2026-09-01T00:00:00Z")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "order_issued.order.expires_at: before issued_at"));
  EXPECT_THAT(Validate(OrderEvent(R"(,"expiresAt":"2200-01-01T00:00:00Z")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "order_issued.order.expires_at: year out of range"));
  EXPECT_THAT(Validate(OrderEvent(R"(,"issuedAt":"2027-01-01T00:00:00Z")")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "order_issued.order.issued_at: in the future"));
  EXPECT_THAT(Validate(OrderEvent(R"(,"court":")" + std::string(201, 'c') + "\"")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "order_issued.order.court: longer than 200"));
  EXPECT_THAT(Validate(OrderEvent(R"(,"breaches":[{},{"occurredAt":"1970-01-01T00:00:00Z"}])")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "order_issued.order.breaches[1].occurred_at: year out of range"));
  EXPECT_THAT(Validate(OrderEvent(R"(,"area":{"latitude":-91})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "order_issued.order.area.latitude: out of range"));
  EXPECT_THAT(Validate(WithBody(R"("orderVaried":{"orderId":"O1"})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "order_varied: changes nothing"));
  EXPECT_THAT(Validate(WithBody(R"("orderVaried":{"conditions":"x"})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "order_varied.order_id: required"));
  EXPECT_THAT(
      Validate(WithBody(R"("orderBreached":{"breach":{}})")),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "order_breached.order_id: required"));
  EXPECT_THAT(
      Validate(WithBody(R"("orderDischarged":{})")),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "order_discharged.order_id: required"));
  EXPECT_THAT(Validate(WithBody(R"("orderExpired":{})")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "order_expired.order_id: required"));
}

TEST(ValidateEventTest, ReportsEveryProblemAndNoValues) {
  CaseEvent e = PersonEvent(R"(,"dateOfBirth":"31-12-1999","address":{"postcode":"ZZZZZZ"})");
  e.clear_case_id();
  absl::Status s = Validate(e);
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "case_id: required"));
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "date_of_birth"));
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "postcode"));
  EXPECT_EQ(std::string(s.message()).find("ZZZZZZ"), std::string::npos) << s;
  EXPECT_EQ(std::string(s.message()).find("31-12-1999"), std::string::npos) << s;
}

// ---------------------------------------------------------------------------------------------
// Samples: every line parses; good files are valid, every bad line is refused for its own reason.

std::vector<std::string> ReadLines(const std::string& name) {
  std::ifstream in(std::string(ASB_SOURCE_DIR) + "/config/samples/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

TEST(SamplesTest, GoodSamplesAreValid) {
  for (const char* file : {"cbo-demo.jsonl", "all-events.jsonl"}) {
    std::vector<std::string> lines = ReadLines(file);
    ASSERT_FALSE(lines.empty()) << file;
    std::set<std::string> ids;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      CaseEvent e;
      ASB_ASSERT_OK(config::ParseJson(lines[i], &e));
      EXPECT_TRUE(ValidateEvent(e, kNow).ok())
          << file << ":" << i + 1 << ": " << ValidateEvent(e, kNow);
      EXPECT_TRUE(ids.insert(e.source_event_id()).second) << file << ":" << i + 1;
    }
  }
}

TEST(SamplesTest, AllEventsCoversEveryEventAndOrderType) {
  std::set<int> event_types, order_types, categories;
  bool under_18 = false, fire = false;
  for (const std::string& line : ReadLines("all-events.jsonl")) {
    CaseEvent e;
    ASB_ASSERT_OK(config::ParseJson(line, &e));
    event_types.insert(EventTypeOf(e));
    if (e.has_order_issued()) {
      order_types.insert(e.order_issued().order().type());
    }
    if (e.has_case_opened()) {
      categories.insert(e.case_opened().nsir_category());
      fire = fire || e.case_opened().flags().fire_risk();
    }
    if (e.has_person_linked() && e.person_linked().person().date_of_birth() > "2008-11-26") {
      under_18 = true;
    }
  }
  // Every kind a feed may submit (the hub's own STATUTORY_NOTICE excepted).
  EXPECT_EQ(event_types.size(), 17u);
  EXPECT_EQ(order_types.size(), 9u);
  EXPECT_TRUE(categories.count(asb::v1::NSIR_CATEGORY_ENVIRONMENTAL));
  EXPECT_TRUE(fire);
  EXPECT_TRUE(under_18);
}

TEST(SamplesTest, BadSamplesAreRefusedEachForItsOwnReason) {
  std::vector<std::string> lines = ReadLines("bad-events.jsonl");
  ASSERT_GE(lines.size(), 20u);
  std::set<std::string> reasons;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CaseEvent e;
    ASB_ASSERT_OK(config::ParseJson(lines[i], &e)) << "line " << i + 1;
    absl::Status s = ValidateEvent(e, kNow);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument)) << "line " << i + 1;
    // One problem per line, so each line tests one rule.
    EXPECT_EQ(s.message().find("; "), absl::string_view::npos) << "line " << i + 1 << ": " << s;
    EXPECT_TRUE(reasons.insert(std::string(s.message())).second)
        << "line " << i + 1 << " repeats a reason: " << s;
  }
}

// ---------------------------------------------------------------------------------------------
// Submit: durable append, de-duplication, audit, faults.

class IntakeHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    handler_.reset();
    events_.reset();
    audit_.reset();
    store_.reset();
    store::StoreOptions options;
    options.path = dir_.Sub("db");
    options.sync = false;
    options.column_families = IntakeColumnFamilies();
    auto store = store::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto events = stream::Log::Open(store_.get(), "events", "intake");
    ASSERT_TRUE(events.ok()) << events.status();
    events_ = std::move(*events);
    auto audit = stream::Log::Open(store_.get(), "audit", "intake");
    ASSERT_TRUE(audit.ok()) << audit.status();
    audit_ = std::move(*audit);
    handler_ = std::make_unique<IntakeHandler>(
        store_.get(), events_.get(), audit_.get(), [] { return kNow; }, 5);
  }

  std::vector<asb::v1::Envelope> ReadAll(stream::Log* log) {
    std::vector<asb::v1::Envelope> out;
    absl::Status s = log->Read(1, 1000, &out);
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  asb::v1::SubmitRequest Request(std::vector<CaseEvent> events) {
    asb::v1::SubmitRequest r;
    for (CaseEvent& e : events) {
      *r.add_events() = std::move(e);
    }
    return r;
  }

  const Source feed_{"cbc-cms-feed", "council"};
  asb::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<stream::Log> events_;
  std::unique_ptr<stream::Log> audit_;
  std::unique_ptr<IntakeHandler> handler_;
};

TEST_F(IntakeHandlerTest, AcceptsAndStoresWithAudit) {
  auto response = handler_->Submit(feed_, Request({Opened("e1"), Opened("e2", "CBC-2")}));
  ASB_ASSERT_OK(response);
  ASSERT_EQ(response->results_size(), 2);
  EXPECT_EQ(response->results(0).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(response->results(0).hub_seq(), 1u);
  EXPECT_EQ(response->results(0).source_event_id(), "e1");
  EXPECT_EQ(response->results(1).hub_seq(), 2u);
  EXPECT_EQ(response->results(1).index(), 1u);

  std::vector<asb::v1::Envelope> events = ReadAll(events_.get());
  ASSERT_EQ(events.size(), 2u);
  const asb::v1::AcceptedEvent& a = events[0].accepted_event();
  EXPECT_EQ(a.source(), "cbc-cms-feed");
  EXPECT_EQ(a.source_agency(), "council");
  EXPECT_EQ(a.received_at().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(a.event().case_opened().title(), "Noise, Brimington North");
  EXPECT_EQ(events[1].accepted_event().event().case_id(), "CBC-2");

  std::vector<asb::v1::Envelope> audit = ReadAll(audit_.get());
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0].audit().kind(), asb::v1::AUDIT_KIND_COLLECTION);
  EXPECT_EQ(audit[0].audit().component(), "intake");
  EXPECT_EQ(audit[0].audit().actor(), "cbc-cms-feed");
  EXPECT_EQ(audit[0].audit().actor_agency(), "council");
  EXPECT_EQ(audit[0].audit().case_id(), "CBC-1");
  EXPECT_EQ(audit[0].audit().event_type(), asb::v1::EVENT_TYPE_CASE_OPENED);
  EXPECT_EQ(audit[0].audit().ref_seq(), 1u);
  EXPECT_EQ(audit[1].audit().ref_seq(), 2u);
  EXPECT_EQ(handler_->accepted(), 2u);
}

TEST_F(IntakeHandlerTest, DuplicatesAcrossRequestsAreStoredOnce) {
  ASB_ASSERT_OK(handler_->Submit(feed_, Request({Opened("e1"), Opened("e2")})));
  auto again = handler_->Submit(feed_, Request({Opened("e3"), Opened("e2")}));
  ASB_ASSERT_OK(again);
  EXPECT_EQ(again->results(0).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(again->results(0).hub_seq(), 3u);
  EXPECT_EQ(again->results(1).outcome(), SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_EQ(again->results(1).hub_seq(), 2u);
  EXPECT_EQ(events_->head(), 3u);
  EXPECT_EQ(handler_->duplicates(), 1u);

  // A different feed may use the same source_event_id.
  auto other = handler_->Submit(Source{"police-niche-feed", "police"}, Request({Opened("e2")}));
  ASB_ASSERT_OK(other);
  EXPECT_EQ(other->results(0).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(other->results(0).hub_seq(), 4u);

  // The index survives a restart.
  Open();
  auto after = handler_->Submit(feed_, Request({Opened("e1")}));
  ASB_ASSERT_OK(after);
  EXPECT_EQ(after->results(0).outcome(), SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_EQ(after->results(0).hub_seq(), 1u);
  EXPECT_EQ(events_->head(), 4u);
}

TEST_F(IntakeHandlerTest, DuplicatesWithinOneRequestAreStoredOnce) {
  auto response = handler_->Submit(feed_, Request({Opened("e1"), Opened("e9"), Opened("e1")}));
  ASB_ASSERT_OK(response);
  EXPECT_EQ(response->results(0).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(response->results(2).outcome(), SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_EQ(response->results(2).hub_seq(), response->results(0).hub_seq());
  EXPECT_EQ(ReadAll(events_.get()).size(), 2u);
  EXPECT_EQ(ReadAll(audit_.get()).size(), 2u);  // two COLLECTIONs, none for the duplicate
}

// The same source_event_id with other content is a conflict: refused ALREADY_EXISTS naming the
// stored copy's hub_seq, audited, never stored — neither a silent duplicate nor a replacement.
TEST_F(IntakeHandlerTest, ResubmissionWithOtherContentIsAConflict) {
  ASB_ASSERT_OK(handler_->Submit(feed_, Request({Opened("e1")})));
  CaseEvent corrected = Opened("e1");
  corrected.mutable_case_opened()->set_title("Noise and threats, Brimington North");
  auto again = handler_->Submit(feed_, Request({corrected, Opened("e1")}));
  ASB_ASSERT_OK(again);
  const SubmitResult& conflict = again->results(0);
  EXPECT_EQ(conflict.outcome(), SubmitResult::OUTCOME_REFUSED);
  EXPECT_EQ(conflict.status().code(), asb::v1::STATUS_CODE_ALREADY_EXISTS);
  EXPECT_THAT(conflict.status().message(), ::testing::HasSubstr("different content"));
  EXPECT_THAT(conflict.status().message(), ::testing::HasSubstr("hub seq 1"));
  EXPECT_EQ(conflict.hub_seq(), 1u);
  EXPECT_EQ(conflict.source_event_id(), "e1");
  // The identical copy in the same request is still a plain duplicate.
  EXPECT_EQ(again->results(1).outcome(), SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_EQ(events_->head(), 1u);
  EXPECT_EQ(ReadAll(events_.get())[0].accepted_event().event().case_opened().title(),
            "Noise, Brimington North");
  EXPECT_EQ(handler_->conflicts(), 1u);
  EXPECT_EQ(handler_->refused(), 1u);
  EXPECT_EQ(handler_->duplicates(), 1u);

  const std::vector<asb::v1::Envelope> audit = ReadAll(audit_.get());
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[1].audit().kind(), asb::v1::AUDIT_KIND_REJECTION);
  EXPECT_EQ(audit[1].audit().ref_seq(), 1u);
  EXPECT_EQ(audit[1].audit().case_id(), "CBC-1");
  EXPECT_THAT(audit[1].audit().detail(), ::testing::HasSubstr("different content"));
  EXPECT_THAT(audit[1].audit().detail(), ::testing::Not(::testing::HasSubstr("threats")));

  // Within one request: the second copy conflicts with the first, which is accepted.
  CaseEvent other = Opened("e5");
  other.mutable_case_opened()->set_title("Graffiti");
  auto within = handler_->Submit(feed_, Request({Opened("e5"), other}));
  ASB_ASSERT_OK(within);
  EXPECT_EQ(within->results(0).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(within->results(1).status().code(), asb::v1::STATUS_CODE_ALREADY_EXISTS);
  EXPECT_EQ(within->results(1).hub_seq(), within->results(0).hub_seq());
}

// Content, not spelling: the same event written with another JSON layout is a duplicate.
TEST_F(IntakeHandlerTest, SameContentSpeltOtherwiseIsADuplicate) {
  ASB_ASSERT_OK(handler_->Submit(feed_, Request({Opened("e1")})));
  CaseEvent respelt = Parse(R"({"caseOpened":{"leadAgency":"council","title":
      "Noise, Brimington North","nsirCategory":1,"location":{"ward":"Brimington North",
      "lsoaCode":"E01019381","longitude":-1.4,"latitude":53.250}},
      "occurredAt":"2026-10-01T11:00:00+01:00","caseId":"CBC-1","sourceEventId":"e1"})");
  auto again = handler_->Submit(feed_, Request({respelt}));
  ASB_ASSERT_OK(again);
  EXPECT_EQ(again->results(0).outcome(), SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_EQ(EventDigest(respelt), EventDigest(Opened("e1")));
}

// A de-duplication entry written before digests were kept (hub_seq only) is compared with its
// record in the events log; once retention has deleted that record, nothing can be compared and
// the resubmission is answered as a duplicate, as before.
TEST_F(IntakeHandlerTest, OldIndexEntriesWithoutDigest) {
  ASB_ASSERT_OK(handler_->Submit(feed_, Request({Opened("e1"), Opened("e2")})));
  store::Batch legacy = store_->NewBatch();
  for (const auto& [id, seq] : {std::pair<std::string, uint64_t>{"e1", 1}, {"e2", 2}}) {
    legacy.Put(kDedupeColumnFamily, feed_.principal + std::string(1, '\0') + id,
               store::EncodeSeq(seq));
  }
  ASB_ASSERT_OK(store_->Write(&legacy));
  CaseEvent changed = Opened("e1");
  changed.mutable_case_opened()->set_title("Changed");
  auto again = handler_->Submit(feed_, Request({Opened("e1"), changed}));
  ASB_ASSERT_OK(again);
  EXPECT_EQ(again->results(0).outcome(), SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_EQ(again->results(1).status().code(), asb::v1::STATUS_CODE_ALREADY_EXISTS);

  ASB_ASSERT_OK(events_->TrimBefore(2));  // record 1 deleted under retention
  CaseEvent changed2 = Opened("e2");
  changed2.mutable_case_opened()->set_title("Changed");
  auto trimmed = handler_->Submit(feed_, Request({changed, changed2}));
  ASB_ASSERT_OK(trimmed);
  EXPECT_EQ(trimmed->results(0).outcome(), SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_EQ(trimmed->results(0).hub_seq(), 1u);
  EXPECT_EQ(trimmed->results(1).status().code(), asb::v1::STATUS_CODE_ALREADY_EXISTS);
  EXPECT_EQ(events_->head(), 2u);
}

TEST_F(IntakeHandlerTest, RefusedEventsAreAuditedWithoutValues) {
  CaseEvent bad = PersonEvent(R"(,"address":{"postcode":"QQ9 ZZZ"})");
  auto response = handler_->Submit(feed_, Request({Opened("e1"), bad}));
  ASB_ASSERT_OK(response);
  EXPECT_EQ(response->results(0).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  const SubmitResult& refused = response->results(1);
  EXPECT_EQ(refused.outcome(), SubmitResult::OUTCOME_REFUSED);
  EXPECT_EQ(refused.hub_seq(), 0u);
  EXPECT_EQ(refused.status().code(), asb::v1::STATUS_CODE_INVALID_ARGUMENT);
  EXPECT_THAT(refused.status().message(),
              ::testing::HasSubstr("events[1].person_linked.person.address.postcode"));
  EXPECT_EQ(ReadAll(events_.get()).size(), 1u);

  std::vector<asb::v1::Envelope> audit = ReadAll(audit_.get());
  ASSERT_EQ(audit.size(), 2u);
  const asb::v1::AuditRecord& r = audit[1].audit();
  EXPECT_EQ(r.kind(), asb::v1::AUDIT_KIND_REJECTION);
  EXPECT_EQ(r.case_id(), "CBC-1");
  EXPECT_EQ(r.event_type(), asb::v1::EVENT_TYPE_PERSON_LINKED);
  EXPECT_THAT(r.detail(), ::testing::HasSubstr("postcode"));
  EXPECT_THAT(r.detail(), ::testing::Not(::testing::HasSubstr("QQ9")));
  EXPECT_EQ(handler_->refused(), 1u);

  // A refused event is not remembered: corrected and resubmitted, it is accepted.
  CaseEvent fixed = PersonEvent(R"(,"address":{"postcode":"S40 1LP"})");
  auto retry = handler_->Submit(feed_, Request({fixed}));
  ASB_ASSERT_OK(retry);
  EXPECT_EQ(retry->results(0).outcome(), SubmitResult::OUTCOME_ACCEPTED);
}

TEST_F(IntakeHandlerTest, TooManyEventsRefusesTheWholeRequest) {
  std::vector<CaseEvent> events;
  for (int i = 0; i < 6; ++i) {
    events.push_back(Opened("e" + std::to_string(i)));
  }
  EXPECT_THAT(handler_->Submit(feed_, Request(events)),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "at most 5"));
  EXPECT_EQ(events_->head(), 0u);
  std::vector<asb::v1::Envelope> audit = ReadAll(audit_.get());
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].audit().kind(), asb::v1::AUDIT_KIND_REJECTION);
  EXPECT_EQ(audit[0].audit().actor(), "cbc-cms-feed");

  events.pop_back();  // five is allowed
  ASB_EXPECT_OK(handler_->Submit(feed_, Request(events)));
  EXPECT_EQ(events_->head(), 5u);
}

TEST_F(IntakeHandlerTest, StoreFailureAcknowledgesNothingAndRetryWorks) {
  ASB_ASSERT_OK(handler_->Submit(feed_, Request({Opened("e0")})));
  store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
  EXPECT_THAT(handler_->Submit(feed_, Request({Opened("e1"), Opened("e2")})),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(events_->head(), 1u);
  EXPECT_EQ(audit_->head(), 1u);
  EXPECT_EQ(handler_->accepted(), 1u);

  store_->SetWriteFaultForTest(nullptr);
  auto retry = handler_->Submit(feed_, Request({Opened("e1"), Opened("e2")}));
  ASB_ASSERT_OK(retry);
  // Nothing of the failed attempt was remembered: both are new, with dense sequence numbers.
  EXPECT_EQ(retry->results(0).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(retry->results(0).hub_seq(), 2u);
  EXPECT_EQ(retry->results(1).hub_seq(), 3u);
  std::vector<asb::v1::Envelope> events = ReadAll(events_.get());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].seq(), 3u);
  EXPECT_EQ(events[2].accepted_event().event().source_event_id(), "e2");
}

TEST_F(IntakeHandlerTest, GroupCommitWritesOneBatchAndAnswersEach) {
  asb::v1::SubmitRequest a = Request({Opened("g1"), Opened("g2")});
  asb::v1::SubmitRequest b = Request({Opened("g3")});
  // Another feed's event with the same source_event_id is a different event.
  asb::v1::SubmitRequest c = Request({Opened("g1")});
  // A resubmission of g2 inside the same group: a duplicate of the first copy.
  asb::v1::SubmitRequest d = Request({Opened("g2")});
  // Too many events: refused on its own, the others still go through.
  asb::v1::SubmitRequest big =
      Request({Opened("x1"), Opened("x2"), Opened("x3"), Opened("x4"), Opened("x5"), Opened("x6")});
  const Source other{"housing-feed", "housing"};
  auto results =
      handler_->SubmitGroup({{feed_, &a}, {feed_, &b}, {other, &c}, {feed_, &d}, {feed_, &big}});
  ASSERT_EQ(results.size(), 5u);
  ASB_ASSERT_OK(results[0]);
  ASB_ASSERT_OK(results[1]);
  ASB_ASSERT_OK(results[2]);
  ASB_ASSERT_OK(results[3]);
  EXPECT_THAT(results[4], StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(results[0]->results(0).hub_seq(), 1u);
  EXPECT_EQ(results[0]->results(1).hub_seq(), 2u);
  EXPECT_EQ(results[1]->results(0).hub_seq(), 3u);
  EXPECT_EQ(results[2]->results(0).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(results[2]->results(0).hub_seq(), 4u);
  EXPECT_EQ(results[3]->results(0).outcome(), SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_EQ(results[3]->results(0).hub_seq(), 2u);
  EXPECT_EQ(handler_->groups(), 1u);  // one Write, one fsync
  EXPECT_EQ(events_->head(), 4u);

  // A later resubmission returns the original hub_seq and stores nothing.
  auto again = handler_->SubmitGroup({{feed_, &b}});
  ASB_ASSERT_OK(again[0]);
  EXPECT_EQ(again[0]->results(0).outcome(), SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_EQ(again[0]->results(0).hub_seq(), 3u);
  EXPECT_EQ(events_->head(), 4u);
}

TEST_F(IntakeHandlerTest, GroupWriteFailureRefusesEveryRequestAndRecovers) {
  asb::v1::SubmitRequest a = Request({Opened("f1")});
  asb::v1::SubmitRequest b = Request({Opened("f2"), Opened("f3")});
  bool full = true;
  store_->SetWriteFaultForTest([&full] {
    return full ? absl::ResourceExhaustedError("No space left on device") : absl::OkStatus();
  });
  auto failed = handler_->SubmitGroup({{feed_, &a}, {feed_, &b}});
  ASSERT_EQ(failed.size(), 2u);
  for (const auto& r : failed) {
    // Whatever the store said, the feed is told to retry.
    EXPECT_THAT(r, StatusIsWith(absl::StatusCode::kUnavailable, "retry"));
  }
  EXPECT_EQ(events_->head(), 0u);
  EXPECT_EQ(handler_->accepted(), 0u);
  EXPECT_EQ(handler_->failed_groups(), 1u);

  full = false;  // space returns: the same submissions go through, nothing remembered
  auto ok = handler_->SubmitGroup({{feed_, &b}, {feed_, &a}});
  ASB_ASSERT_OK(ok[0]);
  ASB_ASSERT_OK(ok[1]);
  EXPECT_EQ(ok[0]->results(0).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(ok[0]->results(0).hub_seq(), 1u);
  EXPECT_EQ(ok[1]->results(0).hub_seq(), 3u);
  EXPECT_EQ(events_->head(), 3u);
  EXPECT_EQ(handler_->accepted(), 3u);
}

TEST_F(IntakeHandlerTest, EmptyRequestAndMissingPrincipal) {
  auto empty = handler_->Submit(feed_, asb::v1::SubmitRequest());
  ASB_ASSERT_OK(empty);
  EXPECT_EQ(empty->results_size(), 0);
  EXPECT_THAT(handler_->Submit(Source{}, Request({Opened()})),
              StatusIs(absl::StatusCode::kInternal));
}

TEST(IntakeColumnFamiliesTest, Names) {
  EXPECT_THAT(IntakeColumnFamilies(),
              ::testing::UnorderedElementsAre("log.events", "log.audit", "dedupe", "ledger",
                                              "timers", "timer_index"));
}

// At rest, an "events" record is sealed under its case's data key (so erasing the case erases
// it), audit records under the master key, and the duplicate index stays plaintext.
TEST(IntakeStoreLayoutTest, EventsRecordsBelongToTheirCase) {
  const store::StoreOptions layout = IntakeStoreLayout();
  EXPECT_EQ(layout.column_families, IntakeColumnFamilies());
  EXPECT_THAT(layout.plaintext_column_families,
              ::testing::ElementsAre(kDedupeColumnFamily, kTimerIndexColumnFamily));
  ASSERT_TRUE(layout.subject_of);
  asb::v1::Envelope event;
  event.set_seq(7);
  event.mutable_accepted_event()->set_source("council-feed");
  event.mutable_accepted_event()->mutable_event()->set_case_id("CHE-7");
  EXPECT_EQ(layout.subject_of("log.events", store::EncodeSeq(7), event.SerializeAsString()),
            "CHE-7");
  asb::v1::Envelope audit;
  audit.mutable_audit()->set_case_id("CHE-7");
  EXPECT_EQ(layout.subject_of("log.audit", store::EncodeSeq(1), audit.SerializeAsString()), "");
  // The order ledger and the clock's timers belong to their case too.
  EXPECT_EQ(layout.subject_of(kLedgerColumnFamily, std::string("CHE-7\0oCBO-1", 12), ""), "CHE-7");
  EXPECT_EQ(
      layout.subject_of(kTimersColumnFamily,
                        store::EncodeSeq(1) + OrderLedger::TimerName("CHE-7", "CBO-1", "x"), ""),
      "CHE-7");
}

}  // namespace
}  // namespace asb::intake
