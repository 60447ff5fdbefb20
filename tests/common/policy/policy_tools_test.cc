// Policy::Explain, policy test files (the shipped protocol's own) and DiffIsp.
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_join.h"
#include "common/config/config.h"
#include "common/policy/policy.h"
#include "common/policy/policy_diff.h"
#include "common/policy/policy_suite.h"
#include "tests/support/status_matchers.h"

namespace asb::policy {
namespace {

const std::string kIsp = std::string(ASB_SOURCE_DIR) + "/config/isp/chesterfield.yaml";
const std::string kSuite = std::string(ASB_SOURCE_DIR) + "/config/isp/chesterfield.test.yaml";

TEST(ShippedPolicySuite, AllTestsPass) {
  auto result = RunPolicyTestFile(kSuite);
  ASB_ASSERT_OK(result.status());
  EXPECT_GE(result->tests, 15);
  EXPECT_EQ(result->passed, result->tests) << absl::StrJoin(result->failures, "\n");
}

absl::StatusOr<asb::config::v1::PolicyTestSuite> Suite() {
  asb::config::v1::PolicyTestSuite suite;
  if (absl::Status s = config::LoadConfigFile(kSuite, &suite); !s.ok()) {
    return s;
  }
  return suite;
}

TEST(PolicySuite, ReportsEachFailurePlainly) {
  auto suite = Suite();
  ASB_ASSERT_OK(suite.status());
  auto policy = Policy::LoadFile(kIsp);
  ASB_ASSERT_OK(policy.status());
  asb::config::v1::PolicyTestSuite bad;
  auto* t = bad.add_tests();
  t->set_name("police see no names");
  t->set_case_name("cbo-demo");
  t->set_agency("police");
  t->set_expect_visible(false);
  t->add_withheld("people[0].given_name");
  t->add_shown("people.phone");
  t->add_rules("fire-premises-risk");
  (*bad.mutable_cases())["cbo-demo"] = suite->cases().at("cbo-demo");
  auto result = RunPolicyTests(bad, **policy, "");
  ASB_ASSERT_OK(result.status());
  EXPECT_EQ(result->passed, 0);
  const std::string all = absl::StrJoin(result->failures, "\n");
  EXPECT_NE(all.find("test 'police see no names': expected police not to see the case, but "
                     "rules match: police-personal-parties"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("test 'police see no names': expected withheld people[0].given_name, got "
                     "shown by rule police-personal-parties"),
            std::string::npos)
      << all;
  EXPECT_NE(
      all.find("expected shown people[0].phone, got redacted by rule police-personal-parties"),
      std::string::npos)
      << all;
  EXPECT_NE(all.find("expected rule fire-premises-risk to match"), std::string::npos) << all;
}

TEST(PolicySuite, MalformedSuiteIsAnError) {
  auto policy = Policy::LoadFile(kIsp);
  ASB_ASSERT_OK(policy.status());
  asb::config::v1::PolicyTestSuite bad;
  bad.add_tests()->set_name("no case");
  EXPECT_THAT(RunPolicyTests(bad, **policy, "").status(),
              testing::StatusIsWith(absl::StatusCode::kInvalidArgument, "exactly one of case"));
}

// Explain agrees with Apply: redacted fields are listed as redacted, withheld ones are absent,
// and a case the agency cannot see explains as all withheld.
TEST(Explain, AgreesWithApply) {
  auto suite = Suite();
  ASB_ASSERT_OK(suite.status());
  auto policy = Policy::LoadFile(kIsp);
  ASB_ASSERT_OK(policy.status());
  for (const auto& [name, c] : suite->cases()) {
    for (const std::string& agency : (*policy)->agencies()) {
      asb::v1::Disclosure d;
      const bool visible = (*policy)->Apply(agency, c, {}, &d);
      auto e = (*policy)->Explain(agency, c, {});
      ASB_ASSERT_OK(e.status());
      EXPECT_EQ(e->visible, visible) << name << " " << agency;
      for (const auto& f : e->fields) {
        if (!visible) {
          EXPECT_EQ(f.outcome, "withheld") << name << " " << agency << " " << f.path;
          continue;
        }
        if (f.outcome == "redacted") {
          bool listed = false;
          for (const auto& p : d.redacted_paths()) {
            listed |= f.schema_path.rfind(p, 0) == 0;
          }
          EXPECT_TRUE(listed) << name << " " << agency << " " << f.path;
        }
      }
    }
  }
  EXPECT_THAT((*policy)->Explain("nobody", asb::v1::Case(), {}).status(),
              testing::StatusIs(absl::StatusCode::kNotFound));
}

TEST(DiffIsp, ReportsGainsLossesAddedAndRemovedRules) {
  auto policy = Policy::LoadFile(kIsp);
  ASB_ASSERT_OK(policy.status());
  const asb::config::v1::Isp& old_isp = (*policy)->isp();
  EXPECT_TRUE(DiffIsp(old_isp, old_isp).empty());
  asb::config::v1::Isp changed = old_isp;
  for (auto& rule : *changed.mutable_rules()) {
    if (rule.id() == "police-personal-parties") {
      for (auto& g : *rule.mutable_fields()) {
        if (g.path() == "people.phone") {
          g.set_action(asb::v1::FIELD_ACTION_SHOW);
        }
      }
    }
    if (rule.id() == "fire-premises-risk") {
      rule.mutable_when()->set_hate_motivated(true);
    }
  }
  std::string removed_id;
  for (int i = 0; i < changed.rules_size(); ++i) {
    if (changed.rules(i).id() == "nhs-high-risk-vulnerable-victims") {
      changed.mutable_rules()->DeleteSubrange(i, 1);
      break;
    }
  }
  changed.mutable_notification_rules(0)->add_agencies("fire");
  auto* added = changed.add_rules();
  added->set_id("fire-arson");
  added->set_agency("fire");
  added->set_purpose("fire-safety");
  auto* g = added->add_fields();
  g->set_path("people.given_name");
  g->set_action(asb::v1::FIELD_ACTION_SHOW);

  const std::string all = absl::StrJoin(DiffIsp(old_isp, changed), "\n");
  EXPECT_NE(
      all.find(
          "~ rule police-personal-parties (police): police gains people.phone: REDACT -> SHOW"),
      std::string::npos)
      << all;
  EXPECT_NE(all.find("~ rule fire-premises-risk (fire): condition when"), std::string::npos) << all;
  EXPECT_NE(all.find("hateMotivated"), std::string::npos) << all;
  EXPECT_NE(all.find("+ rule fire-arson (fire, purpose fire-safety) always: fire gains "
                     "people.given_name SHOW"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("- rule nhs-high-risk-vulnerable-victims (nhs"), std::string::npos) << all;
  EXPECT_NE(all.find("~ notification rule " + old_isp.notification_rules(0).id()),
            std::string::npos)
      << all;
}

}  // namespace
}  // namespace asb::policy
