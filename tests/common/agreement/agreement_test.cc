#include "common/agreement/agreement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "common/config/config.h"
#include "common/policy/policy.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::agreement {
namespace {

using ::asb::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using State = ReviewStatus::State;

std::string Src(const std::string& rel) { return std::string(ASB_SOURCE_DIR) + "/" + rel; }

absl::Time Day(int y, int m, int d, int hour = 12) {
  return absl::FromCivil(absl::CivilHour(y, m, d, hour), absl::UTCTimeZone());
}

class AgreementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(config::ReadFile(Src("tests/common/agreement/testdata/isp.yaml"), &base_).ok());
  }

  // `base_` with `from` (which must occur) replaced by `to`.
  std::string With(const std::string& from, const std::string& to) const {
    EXPECT_NE(base_.find(from), std::string::npos) << from;
    return absl::StrReplaceAll(base_, {{from, to}});
  }

  // The violations agreement::Check finds in `text` (written as isp.yaml), one per entry.
  std::vector<std::string> Problems(const std::string& text) {
    const std::string path = dir_.Sub("isp.yaml");
    std::ofstream(path) << text;
    asb::config::v1::Isp isp;
    lines_.clear();
    absl::Status loaded = config::LoadConfigFile(path, &isp, &lines_);
    EXPECT_TRUE(loaded.ok()) << loaded;
    config::Violations v(path, &lines_);
    Check(isp, &v);
    return v.items();
  }

  // `text` has exactly one violation, at the line of `needle`, for `path`, saying `what`.
  void ExpectOne(const std::string& text, const std::string& needle, const std::string& path,
                 const std::string& what) {
    const std::vector<std::string> problems = Problems(text);
    ASSERT_EQ(problems.size(), 1u) << ::testing::PrintToString(problems);
    const std::size_t at = text.find(needle);
    ASSERT_NE(at, std::string::npos) << needle;
    const int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
    EXPECT_THAT(problems[0],
                HasSubstr(absl::StrCat(dir_.Sub("isp.yaml"), ":", line, ": ", path, ": ")));
    EXPECT_THAT(problems[0], HasSubstr(what));
  }

  asb::config::v1::Isp Parse(const std::string& text) {
    asb::config::v1::Isp isp;
    EXPECT_TRUE(config::ParseYaml(text, "isp.yaml", &isp).ok());
    return isp;
  }

  asb::testing::TempDir dir_;
  std::string base_;
  config::SourceMap lines_;
};

TEST_F(AgreementTest, TheTestAgreementAndTheShippedOneAreClean) {
  EXPECT_THAT(Problems(base_), IsEmpty());
  std::string shipped;
  ASSERT_TRUE(config::ReadFile(Src("config/isp/chesterfield.yaml"), &shipped).ok());
  EXPECT_THAT(Problems(shipped), IsEmpty());
  asb::config::v1::Isp isp = Parse(shipped);
  ASSERT_TRUE(isp.has_agreement());
  EXPECT_GT(RetentionDays(isp, Agreement::RETENTION_CASE_DATA), 0u);
}

TEST_F(AgreementTest, AnIspWithoutOneIsNotChecked) {
  std::string text = base_;
  text.erase(text.find("agreement:"), text.find("\nagencies:") + 1 - text.find("agreement:"));
  EXPECT_THAT(Problems(text), IsEmpty());
  EXPECT_EQ(AssessReview(Parse(text), Day(2026, 6, 1)).state, State::kNoAgreement);
  EXPECT_EQ(RetentionDays(Parse(text), Agreement::RETENTION_CASE_DATA), 0u);
}

// Every load-time error of the agreement names its file, line and path.
TEST_F(AgreementTest, ReferenceAndTitleAreRequired) {
  ExpectOne(With("  reference: \"TEST-DSA-1\"\n", "  reference: \" \"\n"),
            "  reference:", "agreement.reference", "required");
  ExpectOne(With("  title: \"Test partnership data sharing agreement\"\n", ""),
            "agreement:", "agreement.title", "required");
}

TEST_F(AgreementTest, ControllerModel) {
  ExpectOne(With("  controller_model: CONTROLLER_MODEL_SEPARATE\n", ""),
            "agreement:", "agreement.controller_model",
            "CONTROLLER_MODEL_SEPARATE or CONTROLLER_MODEL_JOINT");
  ExpectOne(With("CONTROLLER_MODEL_SEPARATE", "CONTROLLER_MODEL_JOINT"),
            "agreement:", "agreement.joint_arrangement", "Art 26");
  ExpectOne(With("  controller_model: CONTROLLER_MODEL_SEPARATE\n",
                 "  controller_model: CONTROLLER_MODEL_SEPARATE\n  joint_arrangement: \"J-1\"\n"),
            "joint_arrangement", "agreement.joint_arrangement", "only for CONTROLLER_MODEL_JOINT");
}

TEST_F(AgreementTest, EveryAgencyHasExactlyOneParty) {
  // Each mistake also leaves the police without a controller: both are said.
  const std::string polis = With("agencies: [police]", "agencies: [polis]");
  std::vector<std::string> problems = Problems(polis);
  ASSERT_EQ(problems.size(), 2u);
  const int line =
      1 + static_cast<int>(std::count(polis.begin(), polis.begin() + polis.find("[polis]"), '\n'));
  EXPECT_THAT(problems[0],
              HasSubstr(absl::StrCat(":", line,
                                     ": agreement.parties[1].agencies[0]: unknown agency "
                                     "'polis'")));
  EXPECT_THAT(problems[1], HasSubstr("agreement.parties: agency 'police' belongs to no party"));
  problems = Problems(With("agencies: [police]", "agencies: [council]"));
  EXPECT_THAT(::testing::PrintToString(problems), HasSubstr("already belongs to party"));
  EXPECT_THAT(::testing::PrintToString(problems), HasSubstr("agency 'police' belongs to no party"));
  problems = Problems(With("      agencies: [police]\n", "      agencies: []\n"));
  EXPECT_THAT(::testing::PrintToString(problems),
              HasSubstr("agreement.parties[1].agencies: required"));
  ExpectOne(
      With("\"Test Constabulary\"\n      agencies", "\"Test Borough Council\"\n      agencies"),
      "organisation: \"Test Borough Council\"\n      agencies: [police]",
      "agreement.parties[1].organisation", "a party twice");
}

TEST_F(AgreementTest, PartyDetails) {
  ExpectOne(With("ZTEST002", "12345678"), "12345678", "agreement.parties[1].ico_registration",
            "not an ICO registration number");
  ExpectOne(With("      ico_registration: \"ZTEST002\"\n", ""),
            "  - organisation: \"Test Constabulary\"", "agreement.parties[1].ico_registration",
            "required");
  ExpectOne(With("{ name: \"B Signer\", role: \"IAO\" }", "{ name: \"B Signer\" }"), "B Signer",
            "agreement.parties[1].signatory.role", "required");
  ExpectOne(With("signed_on: \"2026-03-20\"", "signed_on: \"20/03/2026\""), "signed_on",
            "agreement.parties[0].signatory.signed_on", "not a day");
  ExpectOne(With("{ name: \"Force DPO\", phone: \"01632 960001\" }", "{ name: \"Force DPO\" }"),
            "Force DPO", "agreement.parties[1].data_protection_officer",
            "an email or a phone is required");
  ExpectOne(With("dpo@council.example.org", "dpo at council"), "dpo at council",
            "agreement.parties[0].data_protection_officer.email", "not an email address");
  ExpectOne(With("      appropriate_policy_document: \"TEST-APD-2\"\n", ""),
            "  - organisation: \"Test Constabulary\"",
            "agreement.parties[1].appropriate_policy_document", "Sch 1 Part 4");
}

TEST_F(AgreementTest, ProcessorAndDates) {
  ExpectOne(With("    contract: \"TEST-ART28-1\"\n", ""),
            "  processor:", "agreement.processor.contract", "Art 28(3)");
  ExpectOne(With("  effective_date: \"2026-04-01\"", "  effective_date: \"2026-02-30\""),
            "effective_date", "agreement.effective_date", "not a day");
  ExpectOne(With("    due: \"2027-04-01\"", "    due: \"2026-03-31\""),
            "    due:", "agreement.review.due", "after effective_date");
  ExpectOne(With("    grace_days: 30", "    grace_days: 400"), "grace_days",
            "agreement.review.grace_days", "at most 365");
  ExpectOne(With("    completed_on: \"2026-03-01\"", "    completed_on: \"2026-05-01\""),
            "completed_on", "agreement.dpia.completed_on", "before the sharing starts");
}

TEST_F(AgreementTest, Retention) {
  ExpectOne(With("    - { data: RETENTION_CASE_DATA, days: 730, basis: \"two years\" }\n", ""),
            "  retention:", "agreement.retention", "RETENTION_CASE_DATA");
  ExpectOne(With("days: 730", "days: 0"), "days: 0", "agreement.retention[0].days", "1 to 36500");
  ExpectOne(With("RETENTION_ACCESS_LOG", "RETENTION_CASE_DATA"),
            "{ data: RETENTION_CASE_DATA, days: 2190", "agreement.retention[1].data",
            "listed twice");
}

TEST_F(AgreementTest, BreachRouteAndTheSeventyTwoHours) {
  ExpectOne(With("report_to_ico_within_hours: 72", "report_to_ico_within_hours: 96"),
            "report_to_ico_within_hours", "agreement.breach.report_to_ico_within_hours",
            "72 hours of UK GDPR Art 33(1)");
  ExpectOne(absl::StrReplaceAll(
                base_, {{"notify_partners_within_hours: 24", "notify_partners_within_hours: 48"},
                        {"report_to_ico_within_hours: 72", "report_to_ico_within_hours: 36"}}),
            "notify_partners_within_hours", "agreement.breach.notify_partners_within_hours",
            "no time to report to the ICO within 36 hours");
  ExpectOne(
      With("      - \"Tell the breach line.\"\n      - \"The controller reports to the ICO.\"\n",
           "      - \"\"\n"),
      "      - \"\"", "agreement.breach.route[0]", "empty step");
  ExpectOne(With("      - { name: \"Breach line\", email: \"breach@test.example.org\" }\n",
                 "      - { name: \"Breach line\" }\n"),
            "{ name: \"Breach line\" }", "agreement.breach.contacts[0]",
            "an email or a phone is required");
}

TEST_F(AgreementTest, RightsOnwardDisclosureAndCoordinator) {
  ExpectOne(
      With("  subject_rights: { name: \"Rights team\", email: \"rights@test.example.org\" }\n", ""),
      "agreement:", "agreement.subject_rights", "required");
  ExpectOne(With("  onward_disclosure:\n    - \"Only with the provider's agreement.\"\n", ""),
            "agreement:", "agreement.onward_disclosure", "at least one");
  ExpectOne(With("coordinator_agency: council", "coordinator_agency: csp"), "coordinator_agency",
            "agreement.coordinator_agency", "unknown agency 'csp'");
  ExpectOne(With("  - id: orders\n", "  - id: hub/orders\n"), "hub/orders",
            "notification_rules[0].id", "the hub's own notices");
}

// The engine refuses an ISP whose agreement is malformed, naming file and line.
TEST_F(AgreementTest, PolicyLoadFileChecksTheAgreement) {
  const std::string path = dir_.Sub("isp.yaml");
  std::string key;
  ASSERT_TRUE(config::ReadFile(Src("tests/common/agreement/testdata/test.key"), &key).ok());
  std::ofstream(dir_.Sub("test.key")) << key;
  std::ofstream(path) << base_;
  ASB_EXPECT_OK(policy::Policy::LoadFile(path).status());
  const std::string bad = With("ZTEST001", "Z1");
  std::ofstream(path, std::ios::trunc) << bad;
  auto policy = policy::Policy::LoadFile(path);
  ASSERT_THAT(policy, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(policy.status().message(),
              HasSubstr(absl::StrCat(
                  path, ":", 1 + std::count(bad.begin(), bad.begin() + bad.find("Z1\""), '\n'),
                  ": agreement.parties[0].ico_registration")));
}

TEST(ParseDayTest, OnlyRealDaysInIsoForm) {
  EXPECT_EQ(ParseDay("2028-02-29"), absl::CivilDay(2028, 2, 29));
  EXPECT_FALSE(ParseDay("2027-02-29").has_value());
  EXPECT_FALSE(ParseDay("2026-4-1").has_value());
  EXPECT_FALSE(ParseDay("2026-04-01T00:00:00Z").has_value());
  EXPECT_FALSE(ParseDay("").has_value());
}

// The review stages, on both sides of each boundary (due 2027-04-01, reminder 30 days before,
// grace 30 days after: the last day the ISP loads is 2027-05-01).
TEST_F(AgreementTest, ReviewStages) {
  const asb::config::v1::Isp isp = Parse(base_);
  EXPECT_EQ(AssessReview(isp, Day(2027, 3, 1)).state, State::kCurrent);
  EXPECT_EQ(AssessReview(isp, Day(2027, 3, 2, 0)).state, State::kReminder);
  const ReviewStatus due_day = AssessReview(isp, Day(2027, 4, 1, 23));
  EXPECT_EQ(due_day.state, State::kReminder);
  EXPECT_EQ(due_day.days_to_due, 0);
  EXPECT_TRUE(due_day.needs_notice());
  const ReviewStatus overdue = AssessReview(isp, Day(2027, 4, 2, 0));
  EXPECT_EQ(overdue.state, State::kOverdue);
  EXPECT_EQ(overdue.days_to_due, -1);
  EXPECT_THAT(overdue.Describe(), HasSubstr("TEST-DSA-1 was due for review on 2027-04-01"));
  EXPECT_THAT(overdue.Describe(), HasSubstr("after 2027-05-01 the hub refuses to load it"));
  EXPECT_EQ(AssessReview(isp, Day(2027, 5, 1, 23)).state, State::kOverdue);
  const ReviewStatus lapsed = AssessReview(isp, Day(2027, 5, 2, 0));
  EXPECT_EQ(lapsed.state, State::kLapsed);
  EXPECT_FALSE(lapsed.needs_notice());

  // Defaults: 30 days either side.
  asb::config::v1::Isp defaults = isp;
  defaults.mutable_agreement()->mutable_review()->clear_remind_days_before();
  defaults.mutable_agreement()->mutable_review()->clear_grace_days();
  EXPECT_EQ(AssessReview(defaults, Day(2027, 3, 2)).state, State::kReminder);
  EXPECT_EQ(AssessReview(defaults, Day(2027, 5, 2)).state, State::kLapsed);
}

TEST_F(AgreementTest, ALapsedAgreementIsRefusedAtLoadWithFileAndLine) {
  const std::string path = dir_.Sub("isp.yaml");
  std::ofstream(path) << base_;
  asb::config::v1::Isp isp;
  ASSERT_TRUE(config::LoadConfigFile(path, &isp, &lines_).ok());
  config::Violations in_grace(path, &lines_);
  CheckInForce(isp, Day(2027, 5, 1), &in_grace);
  EXPECT_TRUE(in_grace.empty());
  config::Violations lapsed(path, &lines_);
  CheckInForce(isp, Day(2027, 5, 2), &lapsed);
  ASSERT_EQ(lapsed.items().size(), 1u);
  const int line =
      1 + static_cast<int>(std::count(base_.begin(), base_.begin() + base_.find("    due:"), '\n'));
  EXPECT_THAT(lapsed.items()[0],
              HasSubstr(absl::StrCat(path, ":", line, ": agreement.review.due: ")));
  EXPECT_THAT(lapsed.items()[0], HasSubstr("its grace ended on 2027-05-01"));
}

}  // namespace
}  // namespace asb::agreement
