#include "common/auth/on_behalf_of.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/config/config.h"
#include "tests/support/status_matchers.h"

namespace asb::auth {
namespace {

using ::asb::testing::StatusIsWith;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

asb::config::v1::Isp TestIsp() {
  asb::config::v1::Isp isp;
  absl::Status s = config::ParseYaml(R"(name: T
agencies: [{ id: police, name: P }, { id: council, name: C }]
purposes:
  - { id: law-enforcement, description: d, lawful_basis: b }
  - { id: housing-management, description: d, lawful_basis: b }
rules:
  - { id: police-r, agency: police, purpose: law-enforcement, fields: [] }
  - { id: council-r, agency: council, purpose: housing-management, fields: [] }
)",
                                     "t.yaml", &isp);
  EXPECT_TRUE(s.ok()) << s;
  return isp;
}

asb::v1::OnBehalfOf Officer(const std::string& id, const std::string& reason,
                            const std::string& purpose = "") {
  asb::v1::OnBehalfOf o;
  o.set_officer_id(id);
  o.set_officer_name("PC Jane Ashworth");
  o.set_reason(reason);
  o.set_purpose(purpose);
  return o;
}

TEST(OnBehalfOfTest, AnOfficerAndAReasonPass) {
  const auto isp = TestIsp();
  ASB_EXPECT_OK(CheckOnBehalfOf(Officer("PC-4471", "CBO breach file"), isp));
  ASB_EXPECT_OK(CheckOnBehalfOf(Officer("PC-4471", "CBO breach file", "law-enforcement"), isp));
}

TEST(OnBehalfOfTest, SaysWhatIsMissing) {
  const auto isp = TestIsp();
  EXPECT_THAT(
      CheckOnBehalfOf(Officer("", "CBO breach file"), isp),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.officer_id: required"));
  EXPECT_THAT(CheckOnBehalfOf(Officer("PC-4471", "   "), isp),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.reason: required"));
  // Both missing: both named, in one message.
  absl::Status both = CheckOnBehalfOf(asb::v1::OnBehalfOf(), isp);
  EXPECT_THAT(both.message(),
              AllOf(HasSubstr("officer_id: required"), HasSubstr("reason: required")));
}

TEST(OnBehalfOfTest, APurposeMustBeTheIsps) {
  const auto isp = TestIsp();
  EXPECT_THAT(CheckOnBehalfOf(Officer("PC-1", "r", "curiosity"), isp),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "'curiosity' is not a purpose of the ISP (law-enforcement, "
                           "housing-management)"));
  // Any purpose of the ISP: it is recorded; what an agency sees its rules decide.
  ASB_EXPECT_OK(CheckOnBehalfOf(Officer("PC-1", "r", "housing-management"), isp));
}

TEST(OnBehalfOfTest, LimitsAndControlCharactersButNeverTheReasonsText) {
  const auto isp = TestIsp();
  EXPECT_THAT(
      CheckOnBehalfOf(Officer(std::string(65, 'x'), "r"), isp),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "officer_id: at most 64 characters"));
  // 64 characters of two bytes each are 64 characters.
  std::string wide;
  for (int i = 0; i < 64; ++i) {
    wide += "\xc3\xa9";  // é
  }
  ASB_EXPECT_OK(CheckOnBehalfOf(Officer(wide, "r"), isp));
  const std::string secret = "Mrs Smith at 7 Hollingwood Crescent" + std::string(500, '.');
  absl::Status long_reason = CheckOnBehalfOf(Officer("PC-1", secret), isp);
  EXPECT_THAT(long_reason,
              StatusIsWith(absl::StatusCode::kInvalidArgument, "reason: at most 500 characters"));
  EXPECT_THAT(long_reason.message(), Not(HasSubstr("Hollingwood")));
  EXPECT_THAT(
      CheckOnBehalfOf(Officer("PC\n1", "r"), isp),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "officer_id: no control characters"));
}

}  // namespace
}  // namespace asb::auth
