// The ASB case review count (ASBCPA 2014 s.104) on both sides of every edge: the one-month
// qualifying period (s.104(11)(a)), the six-month window (s.104(11)(b)), the same incident
// reported to two agencies, the advisory at the second complaint, the threshold at the third
// (s.104(4)) or at five individuals (s.104(5)), and the procedure's own checks.
#include "common/victims/case_review.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config/config.h"
#include "tests/support/status_matchers.h"

namespace asb::victims {
namespace {

using ::asb::testing::StatusIsWith;
using ::testing::ElementsAre;

const std::vector<std::string> kAgencies = {"council", "police",    "fire", "county",     "housing",
                                            "yot",     "probation", "nhs",  "partnership"};

absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << rfc3339 << ": " << err;
  return t;
}

std::shared_ptr<const CaseReviewProcedure> Shipped() {
  static auto p = [] {
    auto r = CaseReviewProcedure::LoadFile(
        std::string(ASB_SOURCE_DIR) + "/config/casereview/derbyshire.yaml", kAgencies);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }();
  return p;
}

// A complaint made at `reported` about behaviour at `occurred` (default: the same time).
Complaint C(const std::string& id, const std::string& agency, const std::string& reported,
            const std::string& occurred = "") {
  Complaint c;
  c.case_id = "CBC-1";
  c.incident_id = id;
  c.reported_by = agency;
  c.category = asb::v1::NSIR_CATEGORY_PERSONAL;
  c.reported_at = At(reported);
  c.occurred_at = At(occurred.empty() ? reported : occurred);
  return c;
}

TEST(CaseReviewProcedureTest, ShippedDerbyshireDefaults) {
  const auto& c = Shipped()->config();
  EXPECT_EQ(c.complaint_threshold(), 3u);
  EXPECT_EQ(c.window_months(), 6u);
  EXPECT_EQ(c.qualifying_months(), 1u);
  EXPECT_EQ(c.individuals_threshold(), 5u);
  EXPECT_EQ(c.advisory_at(), 2u);
  EXPECT_THAT(c.alert_agencies(), ElementsAre("partnership"));
}

// s.104(11)(a): within the period of one month beginning with the date of the behaviour.
TEST(CaseReviewProcedureTest, QualifyingWithinOneMonthOfTheBehaviour) {
  const auto p = Shipped();
  // Behaviour on 10 January: a complaint on 9 February qualifies, on 10 February it does not.
  EXPECT_TRUE(p->Qualifies(C("I1", "police", "2026-02-09T20:00:00Z", "2026-01-10T10:00:00Z")));
  EXPECT_FALSE(p->Qualifies(C("I1", "police", "2026-02-10T09:00:00Z", "2026-01-10T10:00:00Z")));
  // The 31st plus a month is the last day of the next month: 31 January -> 27 February counts,
  // 28 February does not.
  EXPECT_TRUE(p->Qualifies(C("I1", "police", "2026-02-27T12:00:00Z", "2026-01-31T12:00:00Z")));
  EXPECT_FALSE(p->Qualifies(C("I1", "police", "2026-02-28T12:00:00Z", "2026-01-31T12:00:00Z")));
  // Reported the same day.
  EXPECT_TRUE(p->Qualifies(C("I1", "police", "2026-03-01T12:00:00Z")));
}

// s.104(11)(b): a complaint counts for six months beginning with the date it was made.
TEST(CaseReviewProcedureTest, SixMonthWindow) {
  const auto p = Shipped();
  const absl::Time made = At("2026-01-10T10:00:00Z");
  EXPECT_TRUE(p->InWindow(made, At("2026-07-09T22:59:00Z")));   // 23:59 in London (BST)
  EXPECT_FALSE(p->InWindow(made, At("2026-07-09T23:00:00Z")));  // midnight: 10 July
  EXPECT_FALSE(p->InWindow(made, At("2026-07-10T08:00:00Z")));
  EXPECT_FALSE(p->InWindow(made, At("2026-01-09T08:00:00Z")));  // before it was made
}

TEST(CaseReviewProcedureTest, SecondComplaintAdvisesThirdMeetsTheThreshold) {
  const auto p = Shipped();
  std::vector<Complaint> cs = {C("P-1", "police", "2026-01-05T10:00:00Z")};
  Count n = p->CountAt(cs, At("2026-01-05T10:00:00Z"));
  EXPECT_EQ(n.complaints, 1u);
  EXPECT_FALSE(p->AdvisoryDue(n));
  EXPECT_FALSE(p->ThresholdMet(n));

  cs.push_back(C("C-7", "council", "2026-02-10T10:00:00Z"));
  n = p->CountAt(cs, At("2026-02-10T10:00:00Z"));
  EXPECT_EQ(n.complaints, 2u);
  EXPECT_TRUE(p->AdvisoryDue(n));
  EXPECT_FALSE(p->ThresholdMet(n));

  cs.push_back(C("H-3", "housing", "2026-04-01T10:00:00Z"));
  n = p->CountAt(cs, At("2026-04-01T10:00:00Z"));
  EXPECT_EQ(n.complaints, 3u);
  EXPECT_TRUE(p->ThresholdMet(n));
  EXPECT_THAT(n.incident_ids, ElementsAre("P-1", "C-7", "H-3"));
  EXPECT_EQ(n.window_start, p->StartOf(absl::CivilDay(2025, 10, 2)));
}

TEST(CaseReviewProcedureTest, TheSevenMonthOldComplaintDropsOut) {
  const auto p = Shipped();
  const std::vector<Complaint> cs = {C("P-1", "police", "2025-09-01T10:00:00Z"),
                                     C("C-7", "council", "2026-02-10T10:00:00Z"),
                                     C("H-3", "housing", "2026-04-01T10:00:00Z")};
  const Count n = p->CountAt(cs, At("2026-04-01T10:00:00Z"));
  EXPECT_EQ(n.complaints, 2u);  // September is seven months before April
  EXPECT_FALSE(p->ThresholdMet(n));
  EXPECT_THAT(n.incident_ids, ElementsAre("C-7", "H-3"));
  // On the last day of its six months it still counted.
  const std::vector<Complaint> edge = {C("P-1", "police", "2025-10-01T10:00:00Z"),
                                       C("C-7", "council", "2026-02-10T10:00:00Z"),
                                       C("H-3", "housing", "2026-03-31T10:00:00Z")};
  EXPECT_TRUE(p->ThresholdMet(p->CountAt(edge, At("2026-03-31T10:00:00Z"))));
  EXPECT_FALSE(p->ThresholdMet(p->CountAt(edge, At("2026-04-01T10:00:00Z"))));
}

TEST(CaseReviewProcedureTest, ANonQualifyingComplaintDoesNotCount) {
  const auto p = Shipped();
  // The third complaint was made five weeks after the behaviour.
  const std::vector<Complaint> cs = {
      C("P-1", "police", "2026-01-05T10:00:00Z"), C("C-7", "council", "2026-02-10T10:00:00Z"),
      C("H-3", "housing", "2026-04-06T10:00:00Z", "2026-03-01T10:00:00Z")};
  EXPECT_EQ(p->CountAt(cs, At("2026-04-06T10:00:00Z")).complaints, 2u);
}

TEST(CaseReviewProcedureTest, TheSameIncidentReportedToTwoAgenciesCountsOnce) {
  const auto p = Shipped();
  // Police and housing both recorded the incident of 2 February, 20 minutes apart.
  std::vector<Complaint> cs = {C("P-1", "police", "2026-01-05T10:00:00Z"),
                               C("P-2", "police", "2026-02-02T21:00:00Z", "2026-02-02T20:00:00Z"),
                               C("H-9", "housing", "2026-02-03T09:00:00Z", "2026-02-02T20:20:00Z")};
  Count n = p->CountAt(cs, At("2026-02-03T09:00:00Z"));
  EXPECT_EQ(n.complaints, 2u);
  EXPECT_FALSE(p->ThresholdMet(n));
  EXPECT_THAT(n.incident_ids, ElementsAre("P-1", "P-2"));

  // Named by reference (same_incident_as), however far apart the times.
  cs = {C("P-1", "police", "2026-01-05T10:00:00Z"), C("P-2", "police", "2026-02-02T21:00:00Z"),
        C("C-4", "council", "2026-02-20T09:00:00Z", "2026-02-10T09:00:00Z")};
  cs[2].same_incident_as = "P-2";
  EXPECT_EQ(p->CountAt(cs, At("2026-02-20T09:00:00Z")).complaints, 2u);
  cs[2].same_incident_as.clear();
  EXPECT_EQ(p->CountAt(cs, At("2026-02-20T09:00:00Z")).complaints, 3u);

  // The same incident id from two agencies (a shared reference).
  cs = {C("X-1", "police", "2026-01-05T10:00:00Z"),
        C("X-1", "council", "2026-01-06T10:00:00Z", "2026-01-05T10:00:00Z")};
  EXPECT_EQ(p->CountAt(cs, At("2026-01-06T10:00:00Z")).complaints, 1u);

  // Two incidents 61 minutes apart from two agencies are two; two reports from ONE agency an
  // hour apart are two as well (an agency does not double-record).
  cs = {C("P-1", "police", "2026-01-05T10:00:00Z"), C("H-1", "housing", "2026-01-05T11:01:00Z")};
  EXPECT_EQ(p->CountAt(cs, At("2026-01-05T12:00:00Z")).complaints, 2u);
  cs = {C("P-1", "police", "2026-01-05T10:00:00Z"), C("P-2", "police", "2026-01-05T10:30:00Z")};
  EXPECT_EQ(p->CountAt(cs, At("2026-01-05T12:00:00Z")).complaints, 2u);
  // Another category at the same time is another incident.
  cs = {C("P-1", "police", "2026-01-05T10:00:00Z"), C("H-1", "housing", "2026-01-05T10:10:00Z")};
  cs[1].category = asb::v1::NSIR_CATEGORY_ENVIRONMENTAL;
  EXPECT_EQ(p->CountAt(cs, At("2026-01-05T12:00:00Z")).complaints, 2u);
}

TEST(CaseReviewProcedureTest, FiveSeparateIndividualsMeetTheThreshold) {
  auto config = Shipped()->config();
  config.set_complaint_threshold(3);
  auto p = CaseReviewProcedure::FromConfig(config, "t.yaml", nullptr, kAgencies);
  ASSERT_TRUE(p.ok()) << p.status();
  // Five people report the same incident (one behaviour on one evening): one complaint, five
  // individuals.
  std::vector<Complaint> cs;
  for (int i = 0; i < 5; ++i) {
    Complaint c = C("I-1", "police", "2026-03-01T21:00:00Z");
    c.reporter_person_id = "R" + std::to_string(i);
    cs.push_back(c);
  }
  Count n = (*p)->CountAt(cs, At("2026-03-01T22:00:00Z"));
  EXPECT_EQ(n.complaints, 1u);
  EXPECT_EQ(n.individuals, 5u);
  EXPECT_TRUE((*p)->ThresholdMet(n));
  EXPECT_THAT((*p)->ThresholdWords(n), ::testing::HasSubstr("5 separate individuals"));
  cs.pop_back();
  n = (*p)->CountAt(cs, At("2026-03-01T22:00:00Z"));
  EXPECT_EQ(n.individuals, 4u);
  EXPECT_FALSE((*p)->ThresholdMet(n));
  // Not configured: individuals never meet it.
  config.set_individuals_threshold(0);
  auto off = CaseReviewProcedure::FromConfig(config, "t.yaml", nullptr, kAgencies);
  ASSERT_TRUE(off.ok());
  cs.push_back(cs.back());
  cs.back().reporter_person_id = "R9";
  EXPECT_FALSE((*off)->ThresholdMet((*off)->CountAt(cs, At("2026-03-01T22:00:00Z"))));
}

TEST(CaseReviewProcedureTest, ALowerThresholdOfTheProcedure) {
  auto config = Shipped()->config();
  config.set_complaint_threshold(2);
  config.set_advisory_at(1);
  auto p = CaseReviewProcedure::FromConfig(config, "t.yaml", nullptr, kAgencies);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<Complaint> cs = {C("P-1", "police", "2026-01-05T10:00:00Z")};
  EXPECT_TRUE((*p)->AdvisoryDue((*p)->CountAt(cs, At("2026-01-05T10:00:00Z"))));
  cs.push_back(C("C-1", "council", "2026-01-20T10:00:00Z"));
  EXPECT_TRUE((*p)->ThresholdMet((*p)->CountAt(cs, At("2026-01-20T10:00:00Z"))));
}

TEST(CaseReviewProcedureTest, Deadlines) {
  const auto p = Shipped();
  const absl::Time applied = At("2026-04-02T09:00:00Z");
  EXPECT_EQ(p->DecisionDue(applied), At("2026-04-12T09:00:00Z"));
  EXPECT_EQ(p->ReviewDue(applied), At("2026-04-30T09:00:00Z"));
  EXPECT_EQ(p->AppealDue(applied), At("2026-04-30T09:00:00Z"));
}

TEST(CaseReviewProcedureTest, BadProceduresNameEveryProblem) {
  asb::config::v1::CaseReviewProcedure c = Shipped()->config();
  c.set_complaint_threshold(4);
  c.set_window_months(7);
  c.set_qualifying_months(2);
  c.set_advisory_at(5);
  c.set_decision_days(0);
  c.clear_alert_agencies();
  c.add_alert_agencies("coordinator");
  c.set_time_zone("Mars/Olympus");
  c.clear_version();
  auto p = CaseReviewProcedure::FromConfig(c, "cr.yaml", nullptr, kAgencies);
  EXPECT_THAT(p, StatusIsWith(absl::StatusCode::kInvalidArgument, "complaint_threshold: 1 to 3"));
  const std::string m(p.status().message());
  EXPECT_THAT(m, ::testing::HasSubstr("s.104(4)"));
  EXPECT_THAT(m, ::testing::HasSubstr("window_months: 1 to 6: s.104(11)(b)"));
  EXPECT_THAT(m, ::testing::HasSubstr("qualifying_months: must be 1: s.104(11)(a)"));
  EXPECT_THAT(m, ::testing::HasSubstr("advisory_at: below complaint_threshold"));
  EXPECT_THAT(m, ::testing::HasSubstr("decision_days"));
  EXPECT_THAT(m, ::testing::HasSubstr("unknown agency 'coordinator'"));
  EXPECT_THAT(m, ::testing::HasSubstr("unknown time zone 'Mars/Olympus'"));
  EXPECT_THAT(m, ::testing::HasSubstr("version: required"));
}

TEST(CaseReviewProcedureTest, RuleIds) {
  EXPECT_EQ(CaseReviewRuleId(asb::v1::CASE_REVIEW_NOTICE_KIND_THRESHOLD_MET),
            "casereview:threshold_met");
  EXPECT_EQ(CaseReviewKindWord(asb::v1::CASE_REVIEW_NOTICE_KIND_DECISION_OVERDUE),
            "decision_overdue");
}

}  // namespace
}  // namespace asb::victims
