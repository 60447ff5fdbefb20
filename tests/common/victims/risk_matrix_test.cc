// The risk matrix as data: the shipped local-configuration example loads; bands that overlap,
// leave gaps or miss a level are refused naming the scores; answers to unknown questions, unknown
// options, questions answered twice and required questions left out are refused by name; scores
// fall in the right band on both sides of each bound; old versions keep their scores; the
// follow-up times are checked (in range, HIGH no slower than MEDIUM, a basis given).
#include "common/victims/risk_matrix.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config/config.h"
#include "tests/support/status_matchers.h"

namespace asb::victims {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
using ::testing::HasSubstr;

const std::vector<std::string> kAgencies = {
    "community-safety",   "housing", "police",    "fire", "adult-social-care",
    "childrens-services", "yot",     "probation", "nhs",  "partnership"};

std::shared_ptr<const RiskMatrix> Shipped() {
  static auto m = [] {
    auto r =
        RiskMatrix::LoadFile(std::string(ASB_SOURCE_DIR) + "/config/risk/matrix.yaml", kAgencies);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : RiskMatrix::Empty();
  }();
  return m;
}

google::protobuf::RepeatedPtrField<asb::v1::RiskAnswer> Answers(
    const std::vector<std::pair<std::string, std::string>>& qa) {
  google::protobuf::RepeatedPtrField<asb::v1::RiskAnswer> out;
  for (const auto& [q, a] : qa) {
    asb::v1::RiskAnswer* x = out.Add();
    x->set_question_id(q);
    x->set_option_id(a);
  }
  return out;
}

asb::config::v1::RiskMatrix Parse(const std::string& yaml) {
  asb::config::v1::RiskMatrix m;
  EXPECT_TRUE(config::ParseYaml(yaml, "m.yaml", &m).ok());
  return m;
}

// One template: two required questions (0/5 and 0/5), optional third (0/10): scores 0..20.
constexpr char kTemplate[] = R"(
templates:
  - id: t
    version: "1"
    questions:
      - { id: a, required: true, options: [ { id: "no", weight: 0 }, { id: "yes", weight: 5 } ] }
      - { id: b, required: true, options: [ { id: "no", weight: 0 }, { id: "yes", weight: 5 } ] }
      - { id: c, options: [ { id: "no", weight: 0 }, { id: "yes", weight: 10 } ] }
    bands:
)";

absl::StatusOr<std::shared_ptr<const RiskMatrix>> WithBands(const std::string& bands) {
  return RiskMatrix::FromConfig(Parse(std::string(kTemplate) + bands), "m.yaml", nullptr,
                                kAgencies);
}

TEST(RiskMatrixTest, ShippedExampleLoadsAndScores) {
  auto m = Shipped();
  ASSERT_EQ(m->size(), 1u);
  auto low = m->Score(
      "asb-victim", "",
      Answers({{"repeat", "no"}, {"targeted", "no"}, {"health", "no"}, {"vulnerable", "no"}}),
      "risk_assessed");
  ASSERT_TRUE(low.ok()) << low.status();
  EXPECT_EQ(low->score, 0);
  EXPECT_EQ(low->band, asb::v1::RISK_LEVEL_STANDARD);
  auto high = m->Score(
      "asb-victim", "example-1",
      Answers(
          {{"repeat", "more"}, {"targeted", "yes"}, {"health", "severe"}, {"vulnerable", "yes"}}),
      "risk_assessed");
  ASSERT_TRUE(high.ok()) << high.status();
  EXPECT_EQ(high->score, 17);
  EXPECT_EQ(high->band, asb::v1::RISK_LEVEL_HIGH);
  // The shipped ISP's safeguarding agencies (split by age since the ISP named each service).
  EXPECT_EQ(high->tmpl->safeguarding_adults(), "adult-social-care");
  EXPECT_EQ(high->tmpl->safeguarding_children(), "childrens-services");
}

TEST(RiskMatrixTest, BandEdges) {
  auto m = WithBands(R"(
      - { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 4 }
      - { level: RISK_LEVEL_MEDIUM, min_score: 5, max_score: 10 }
      - { level: RISK_LEVEL_HIGH, min_score: 11, max_score: 20 }
)");
  ASSERT_TRUE(m.ok()) << m.status();
  auto band = [&](std::vector<std::pair<std::string, std::string>> qa) {
    auto s = (*m)->Score("t", "1", Answers(qa), "r");
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->band : asb::v1::RISK_LEVEL_UNSPECIFIED;
  };
  EXPECT_EQ(band({{"a", "no"}, {"b", "no"}}), asb::v1::RISK_LEVEL_STANDARD);              // 0
  EXPECT_EQ(band({{"a", "yes"}, {"b", "no"}}), asb::v1::RISK_LEVEL_MEDIUM);               // 5
  EXPECT_EQ(band({{"a", "yes"}, {"b", "yes"}}), asb::v1::RISK_LEVEL_MEDIUM);              // 10
  EXPECT_EQ(band({{"a", "no"}, {"b", "no"}, {"c", "yes"}}), asb::v1::RISK_LEVEL_MEDIUM);  // 10
  EXPECT_EQ(band({{"a", "yes"}, {"b", "no"}, {"c", "yes"}}), asb::v1::RISK_LEVEL_HIGH);   // 15
}

TEST(RiskMatrixTest, OverlappingBandsAreRefusedNamingTheScores) {
  auto m = WithBands(R"(
      - { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 6 }
      - { level: RISK_LEVEL_MEDIUM, min_score: 5, max_score: 10 }
      - { level: RISK_LEVEL_HIGH, min_score: 11, max_score: 20 }
)");
  EXPECT_THAT(m, StatusIsWith(absl::StatusCode::kInvalidArgument,
                              "overlap: scores 5 to 6 are in both RISK_LEVEL_STANDARD and "
                              "RISK_LEVEL_MEDIUM"));
}

TEST(RiskMatrixTest, GapsAreRefusedNamingTheScores) {
  EXPECT_THAT(
      WithBands(R"(
      - { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 4 }
      - { level: RISK_LEVEL_MEDIUM, min_score: 7, max_score: 10 }
      - { level: RISK_LEVEL_HIGH, min_score: 11, max_score: 20 }
)"),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "gap: scores 5 to 6 are in no band"));
  // The top: answers can reach 20.
  EXPECT_THAT(
      WithBands(R"(
      - { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 4 }
      - { level: RISK_LEVEL_MEDIUM, min_score: 5, max_score: 10 }
      - { level: RISK_LEVEL_HIGH, min_score: 11, max_score: 15 }
)"),
      StatusIsWith(absl::StatusCode::kInvalidArgument,
                   "gap: scores 16 to 20 are in no band (the highest possible score is 20)"));
  // The bottom.
  EXPECT_THAT(
      WithBands(R"(
      - { level: RISK_LEVEL_STANDARD, min_score: 1, max_score: 4 }
      - { level: RISK_LEVEL_MEDIUM, min_score: 5, max_score: 10 }
      - { level: RISK_LEVEL_HIGH, min_score: 11, max_score: 20 }
)"),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "gap: scores 0 to 0 are in no band"));
}

TEST(RiskMatrixTest, MissingOrRepeatedLevelsAndInvertedBandsAreRefused) {
  EXPECT_THAT(WithBands(R"(
      - { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 10 }
      - { level: RISK_LEVEL_HIGH, min_score: 11, max_score: 20 }
)"),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "STANDARD, MEDIUM and HIGH are each required once"));
  EXPECT_THAT(WithBands(R"(
      - { level: RISK_LEVEL_HIGH, min_score: 0, max_score: 4 }
      - { level: RISK_LEVEL_MEDIUM, min_score: 5, max_score: 10 }
      - { level: RISK_LEVEL_STANDARD, min_score: 11, max_score: 20 }
)"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "covers lower scores than"));
  EXPECT_THAT(
      WithBands(R"(
      - { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 4 }
      - { level: RISK_LEVEL_MEDIUM, min_score: 10, max_score: 5 }
      - { level: RISK_LEVEL_HIGH, min_score: 11, max_score: 20 }
)"),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "min_score 10 is above max_score 5"));
}

TEST(RiskMatrixTest, BadTemplatesAreRefused) {
  auto m = RiskMatrix::FromConfig(Parse(R"(
templates:
  - id: t
    version: "1"
    safeguarding_adults: "social-care"
    questions:
      - { id: a, options: [ { id: x, weight: 0 }, { id: x, weight: 101 } ] }
      - { id: a, options: [] }
    bands:
      - { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 30 }
      - { level: RISK_LEVEL_MEDIUM, min_score: 31, max_score: 40 }
      - { level: RISK_LEVEL_HIGH, min_score: 41, max_score: 200 }
  - { id: t, version: "1", questions: [ { id: q, options: [ { id: o } ] } ],
      bands: [ { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 0 },
               { level: RISK_LEVEL_MEDIUM, min_score: 1, max_score: 1 },
               { level: RISK_LEVEL_HIGH, min_score: 2, max_score: 2 } ] }
)"),
                                  "m.yaml", nullptr, kAgencies);
  ASSERT_FALSE(m.ok());
  const std::string msg(m.status().message());
  EXPECT_THAT(msg, HasSubstr("duplicate option 'x'"));
  EXPECT_THAT(msg, HasSubstr("weight: 0 to 100"));
  EXPECT_THAT(msg, HasSubstr("duplicate question 'a'"));
  EXPECT_THAT(msg, HasSubstr("options: at least one option"));
  EXPECT_THAT(msg, HasSubstr("unknown agency 'social-care'"));
  EXPECT_THAT(msg, HasSubstr("template t 1 given twice"));
}

TEST(RiskMatrixTest, BadAnswersAreRefusedByName) {
  auto m = Shipped();
  auto s = m->Score("asb-victim", "",
                    Answers({{"repeat", "no"},
                             {"repeat", "once"},
                             {"targeted", "maybe"},
                             {"pets", "yes"},
                             {"health", "no"}}),
                    "risk_assessed");
  ASSERT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string msg(s.status().message());
  EXPECT_THAT(msg,
              HasSubstr("risk_assessed.answers[1].question_id: question 'repeat' answered twice"));
  EXPECT_THAT(msg,
              HasSubstr("risk_assessed.answers[2].option_id: question 'targeted' has no option "
                        "'maybe' (options: no, yes)"));
  EXPECT_THAT(msg, HasSubstr("risk_assessed.answers[3].question_id: the template asb-victim "
                             "example-1 has no question 'pets'"));
  EXPECT_THAT(msg, HasSubstr("required question 'vulnerable' of the template asb-victim example-1 "
                             "is not answered"));
  EXPECT_THAT(m->Score("nope", "", Answers({}), "risk_assessed"),
              StatusIsWith(absl::StatusCode::kNotFound,
                           "risk_assessed.template_id: no risk template 'nope' (the risk matrix "
                           "has asb-victim example-1)"));
  EXPECT_THAT(m->Score("asb-victim", "9", Answers({}), "risk_assessed"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(RiskMatrixTest, OldVersionsKeepTheirScores) {
  auto m = RiskMatrix::FromConfig(Parse(R"(
templates:
  - id: t
    version: "1"
    questions: [ { id: a, options: [ { id: y, weight: 5 }, { id: n, weight: 0 } ] } ]
    bands: [ { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 1 },
             { level: RISK_LEVEL_MEDIUM, min_score: 2, max_score: 4 },
             { level: RISK_LEVEL_HIGH, min_score: 5, max_score: 5 } ]
  - id: t
    version: "2"
    questions: [ { id: a, options: [ { id: y, weight: 3 }, { id: n, weight: 0 } ] } ]
    bands: [ { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 1 },
             { level: RISK_LEVEL_MEDIUM, min_score: 2, max_score: 2 },
             { level: RISK_LEVEL_HIGH, min_score: 3, max_score: 3 } ]
)"),
                                  "m.yaml", nullptr, kAgencies);
  ASSERT_TRUE(m.ok()) << m.status();
  auto v1 = (*m)->Score("t", "1", Answers({{"a", "y"}}), "r");
  auto latest = (*m)->Score("t", "", Answers({{"a", "y"}}), "r");
  ASSERT_TRUE(v1.ok() && latest.ok());
  EXPECT_EQ(v1->score, 5);
  EXPECT_EQ(latest->score, 3);
  EXPECT_EQ(latest->tmpl->version(), "2");
}

TEST(RiskMatrixTest, ShippedFollowUpTimes) {
  auto m = Shipped();
  EXPECT_EQ(m->AssessWithin(), absl::Hours(24 * 5));
  EXPECT_EQ(m->ReassessWithin(asb::v1::RISK_LEVEL_HIGH), absl::Hours(24));
  EXPECT_EQ(m->ReassessWithin(asb::v1::RISK_LEVEL_MEDIUM), absl::Hours(120));
  EXPECT_EQ(m->ReassessWithin(asb::v1::RISK_LEVEL_STANDARD), absl::ZeroDuration());
  EXPECT_EQ(m->ReassessWithin(asb::v1::RISK_LEVEL_UNSPECIFIED), absl::ZeroDuration());
  EXPECT_THAT(m->follow_up().basis(), HasSubstr("no statutory limit"));
  EXPECT_EQ(VictimNoticeRuleId(asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_DUE),
            "victims:reassessment_due");
  EXPECT_EQ(VictimNoticeKindWord(asb::v1::VICTIM_NOTICE_KIND_ASSESSMENT_MISSING),
            "assessment_missing");
}

TEST(RiskMatrixTest, BadFollowUpTimesAreRefusedByName) {
  const std::string bands = R"(
      - { level: RISK_LEVEL_STANDARD, min_score: 0, max_score: 4 }
      - { level: RISK_LEVEL_MEDIUM, min_score: 5, max_score: 10 }
      - { level: RISK_LEVEL_HIGH, min_score: 11, max_score: 20 }
)";
  auto load = [&](const std::string& follow_up) {
    return RiskMatrix::FromConfig(Parse(std::string(kTemplate) + bands + follow_up), "m.yaml",
                                  nullptr, kAgencies);
  };
  // Within range, with a basis: loads; the edges are allowed.
  auto good = load(R"(
follow_up: { assess_within_days: 365, reassess_high_hours: 8760, reassess_medium_hours: 8760,
             basis: "local" }
)");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ((*good)->AssessWithin(), absl::Hours(24 * 365));
  EXPECT_THAT(load("follow_up: { assess_within_days: 366, basis: \"local\" }\n"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "follow_up.assess_within_days"));
  EXPECT_THAT(load("follow_up: { reassess_medium_hours: 8761, basis: \"local\" }\n"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "follow_up.reassess_medium_hours"));
  EXPECT_THAT(load("follow_up: { reassess_high_hours: 8761, basis: \"local\" }\n"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "follow_up.reassess_high_hours"));
  // A HIGH risk victim may not wait longer than a MEDIUM one.
  EXPECT_THAT(
      load("follow_up: { reassess_high_hours: 48, reassess_medium_hours: 24, basis: \"l\" }\n"),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "must not wait longer (48 hours)"));
  // A time with no basis: where does it come from?
  EXPECT_THAT(load("follow_up: { assess_within_days: 5 }\n"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "follow_up.basis: required"));
  // No follow-up at all: no times, no basis needed.
  auto none = load("");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ((*none)->AssessWithin(), absl::ZeroDuration());
  EXPECT_EQ((*none)->ReassessWithin(asb::v1::RISK_LEVEL_HIGH), absl::ZeroDuration());
}

}  // namespace
}  // namespace asb::victims
