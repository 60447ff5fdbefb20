#include "common/auth/principals.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "absl/time/civil_time.h"
#include "common/config/config.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::auth {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// Demo public keys (config/keys/demo/*.pub).
constexpr char kPoliceFeedKey[] = "l>4U@.G:]2]rG*IrGuFODG.zJX-UW=m67esuM3=/";
constexpr char kIntakeKey[] = "ASRW/%47D0vlSJp>Q]/$sEi8s&-.O]xDwwFKsU/s";

// A small ISP whose key file does not exist and whose one rule names a field the Case schema
// does not have: neither is the authenticator's business.
std::string Isp(const std::string& principals) {
  return std::string(
             "name: Test partnership\n"                                   // 1
             "pseudonymisation_key_file: no/such/pseudonymisation.key\n"  // 2
             "agencies:\n"                                                // 3
             "  - { id: police, name: Test Constabulary }\n"              // 4
             "  - { id: council, name: Test Council }\n"                  // 5
             "rules:\n"                                                   // 6
             "  - { id: r1, agency: police, purpose: nowhere, fields: [{path: no.such.field, "
             "action: FIELD_ACTION_SHOW}] }\n"  // 7
             "principals:\n") +                 // 8
         principals;                            // 9 …
}

class PrincipalsTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path = dir_.Sub("isp.yaml");
    std::ofstream(path) << text;
    return path;
  }
  asb::testing::TempDir dir_;
};

TEST_F(PrincipalsTest, LoadsTheShippedIsp) {
  auto p = Principals::LoadFile(std::string(ASB_SOURCE_DIR) + "/config/isp/chesterfield.yaml");
  ASB_ASSERT_OK(p);
  EXPECT_THAT(p->isp_name(), HasSubstr("Chesterfield"));
  EXPECT_THAT(p->version(), MatchesRegex("[0-9a-f]{64}"));
  const bus::Principal* feed = p->table()->ByName("police-feed");
  ASSERT_NE(feed, nullptr);
  EXPECT_EQ(feed->agency, "police");
  EXPECT_EQ(feed->role, asb::v1::ROLE_FEED);
  EXPECT_EQ(feed->public_key, kPoliceFeedKey);
  ASSERT_NE(p->table()->ByKey(kIntakeKey), nullptr);
  EXPECT_EQ(p->table()->ByKey(kIntakeKey)->role, asb::v1::ROLE_DAEMON);
}

TEST_F(PrincipalsTest, NeedsNeitherTheKeyNorValidRules) {
  auto p = Principals::LoadFile(Write(Isp(std::string("  - { name: police-feed, agency: police, "
                                                      "role: ROLE_FEED, public_key: \"") +
                                          kPoliceFeedKey + "\" }\n")));
  ASB_ASSERT_OK(p);
  EXPECT_EQ(p->table()->size(), 1u);
}

TEST_F(PrincipalsTest, VersionFollowsAgenciesAndPrincipalsOnly) {
  const std::string isp = Isp(std::string("  - { name: police-feed, agency: police, role: "
                                          "ROLE_FEED, public_key: \"") +
                              kPoliceFeedKey + "\" }\n");
  auto version_of = [this](std::string text, const std::string& from, const std::string& to) {
    text.replace(text.find(from), from.size(), to);
    auto p = Principals::LoadFile(Write(text));
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? p->version() : std::string();
  };
  const std::string version = version_of(isp, "", "");
  EXPECT_EQ(version_of(isp, "no.such.field", "case_id"), version);  // a rule: not ours
  EXPECT_NE(version_of(isp, "name: police-feed", "name: police-feed-2"), version);
  EXPECT_NE(version_of(isp, "id: council", "id: county"), version);
}

TEST_F(PrincipalsTest, EveryProblemIsNamedWithFileAndLine) {
  const std::string path = Write(
      Isp(std::string("  - { name: a, agency: polce, role: ROLE_FEED, public_key: \"") +  // 9
          kPoliceFeedKey + "\" }\n" +
          "  - { name: a, agency: police, role: ROLE_DAEMON, public_key: \"short\" }\n" +  // 10
          "  - { name: b, agency: hub, role: ROLE_PARTNER, public_key: \"" + kPoliceFeedKey +
          "\" }\n" +                                                 // 11
          "  - { name: c, agency: council, public_key: \"\" }\n"));  // 12
  auto p = Principals::LoadFile(path);
  ASSERT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string message(p.status().message());
  for (const std::string& expected : {
           path + ":9: principals[0].agency: unknown agency 'polce'",
           path + ":10: principals[1].name: duplicate principal 'a'",
           path + ":10: principals[1].role: role DAEMON is only for agency 'hub'",
           path + ":10: principals[1].public_key: not a CurveZMQ public key",
           path + ":11: principals[2].role: agency 'hub' is for the hub's daemons",
           path + ":11: principals[2].public_key: key already used by another principal",
           path + ":12: principals[3].role: required",
           path + ":12: principals[3].public_key: required",
       }) {
    EXPECT_THAT(message, HasSubstr(expected));
  }
}

TEST_F(PrincipalsTest, AgencyIdsMustBeValidAndUnique) {
  std::string text = Isp("");
  text.replace(text.find("id: council"), 11, "id: police");
  text.replace(text.find("  - { id: police, name: Test Constabulary }"), 0,
               "  - { id: Hub!, name: x }\n  - { id: hub, name: y }\n");
  const std::string path = Write(text);
  auto p = Principals::LoadFile(path);
  ASSERT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(p.status().message(),
              HasSubstr(path + ":4: agencies[0].id: 'Hub!' is not a valid id"));
  EXPECT_THAT(p.status().message(), HasSubstr(path + ":5: agencies[1].id: 'hub' is reserved"));
  EXPECT_THAT(p.status().message(),
              HasSubstr(path + ":7: agencies[3].id: duplicate agency 'police'"));
}

TEST_F(PrincipalsTest, FileErrors) {
  EXPECT_THAT(Principals::LoadFile(dir_.Sub("missing.yaml")),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Principals::LoadFile(Write("name: x\nprincipal: []\n")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "principal"));
}

// The agreement is every daemon's business: once past its review date and grace the ISP does
// not load, naming the file and line of the review date; while overdue it loads (and the
// daemons warn), and the agreement is kept for them to judge.
TEST_F(PrincipalsTest, ALapsedAgreementIsRefusedAtLoad) {
  std::string text;
  ASSERT_TRUE(config::ReadFile(
                  std::string(ASB_SOURCE_DIR) + "/tests/common/agreement/testdata/isp.yaml", &text)
                  .ok());
  const std::string path = Write(text);
  // Due 2027-04-01, 30 days of grace.
  const absl::Time overdue = absl::FromCivil(absl::CivilDay(2027, 4, 20), absl::UTCTimeZone());
  auto p = Principals::LoadFile(path, overdue);
  ASB_ASSERT_OK(p);
  EXPECT_EQ(p->agreement_isp().agreement().reference(), "TEST-DSA-1");
  EXPECT_EQ(p->agreement_isp().principals_size(), 0);  // the agreement only

  const absl::Time lapsed = absl::FromCivil(absl::CivilDay(2027, 5, 2), absl::UTCTimeZone());
  p = Principals::LoadFile(path, lapsed);
  ASSERT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument));
  const int line =
      1 + static_cast<int>(std::count(text.begin(), text.begin() + text.find("    due:"), '\n'));
  EXPECT_THAT(p.status().message(),
              HasSubstr(path + ":" + std::to_string(line) + ": agreement.review.due: "));
  EXPECT_THAT(p.status().message(), HasSubstr("before the hub loads it again"));

  // A malformed agreement is refused whatever the day.
  text.replace(text.find("ZTEST002"), 8, "nonsense");
  EXPECT_THAT(
      Principals::LoadFile(Write(text), overdue),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "agreement.parties[1].ico_registration"));
}

}  // namespace
}  // namespace asb::auth
