// Only asb-sharing holds the policy engine and the partnership's pseudonymisation key: the
// other daemons read the ISP's agencies and principals only (common/auth). With the key file
// absent, asb-intake, asb-notify and asb-audit start, serve and know their callers, and
// asb-sharing refuses to start with an error naming the file. A rule error refuses sharing's
// reload alone (its old policy and principals stay); the others take the new principals.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_replace.h"
#include "common/config/config.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::testing {
namespace {

using ::asb::testing::StatusIsWith;
using ::testing::HasSubstr;

// The file's bytes; fails the test if it cannot be read.
std::string ReadAll(const std::string& path) {
  std::string text;
  absl::Status read = config::ReadFile(path, &text);
  EXPECT_TRUE(read.ok()) << read;
  return text;
}

class IspHoldersTest : public ::testing::Test {
 protected:
  // A copy of the shipped ISP in a directory of the test's own, whose pseudonymisation key file
  // (keys/pseudonymisation.key, relative to the ISP file) therefore does not exist, and copies
  // of the four daemon configs pointing at it.
  void SetUp() override {
    const std::string isp = ReadAll(std::string(ASB_SOURCE_DIR) + "/config/isp/chesterfield.yaml");
    ASSERT_NE(isp.find("pseudonymisation_key_file: \"keys/pseudonymisation.key\""),
              std::string::npos);
    isp_path_ = work_.Sub("chesterfield.yaml");
    std::ofstream(isp_path_) << isp;
    key_path_ = work_.Sub("keys/pseudonymisation.key");
    options_ = BuiltHubOptions();
    for (const std::string& d : Hub::Daemons()) {
      std::string config = ReadAll(std::string(ASB_SOURCE_DIR) + "/config/" + d + ".yaml");
      const std::string line = "isp_file: \"config/isp/chesterfield.yaml\"";
      ASSERT_NE(config.find(line), std::string::npos) << d << ".yaml";
      config = absl::StrReplaceAll(config, {{line, "isp_file: \"" + isp_path_ + "\""}});
      options_.config_files[d] = work_.Sub(d + ".yaml");
      std::ofstream(options_.config_files[d]) << config;
    }
  }

  // Waits until the tail of `daemon`'s log has `line` (a line no daemon logs at start).
  static absl::Status WaitForLog(Hub& hub, const std::string& daemon, const std::string& line) {
    return WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          return hub.LogTail(daemon).find(line) != std::string::npos;
        },
        absl::Now() + absl::Seconds(10), daemon + " to log '" + line + "'");
  }

  TempDir work_;
  std::string isp_path_;
  std::string key_path_;
  HubOptions options_;
};

TEST_F(IspHoldersTest, OnlySharingNeedsThePseudonymisationKey) {
  Hub hub(options_);
  for (const std::string d : {"intake", "notify", "audit"}) {
    ASB_ASSERT_OK(hub.StartAndWait(d)) << d;
    // Serving, and the ZAP handler knows its callers from the ISP's principals.
    auto ping = hub.Ping(d, "hub-admin");
    ASB_ASSERT_OK(ping.status()) << d;
    EXPECT_EQ(ping->component(), d);
    EXPECT_EQ(ping->agency(), "partnership");
    EXPECT_EQ(ping->role(), asb::v1::ROLE_ADMIN);
    EXPECT_FALSE(ping->isp_version().empty());
  }

  ASB_ASSERT_OK(hub.Start("sharing"));
  EXPECT_FALSE(hub.WaitReady("sharing", absl::Now() + absl::Seconds(30)).ok());
  EXPECT_FALSE(hub.Running("sharing"));
  const std::string log = hub.LogTail("sharing");
  EXPECT_THAT(log, HasSubstr("asb-sharing: error: "));
  EXPECT_THAT(log, HasSubstr(key_path_ + ": no such file")) << log;

  ASB_ASSERT_OK(hub.StopAll());
}

TEST_F(IspHoldersTest, ARuleErrorRefusesOnlySharingsReload) {
  std::filesystem::create_directories(work_.Sub("keys"));
  std::filesystem::copy_file(std::string(ASB_SOURCE_DIR) + "/config/isp/keys/pseudonymisation.key",
                             key_path_);
  Hub hub(options_);
  ASB_ASSERT_OK(hub.StartAndWait("intake"));
  ASB_ASSERT_OK(hub.StartAndWait("sharing"));
  auto sharing_before = hub.Ping("sharing", "police-partner");
  ASB_ASSERT_OK(sharing_before.status());
  auto intake_before = hub.Ping("intake", "police-partner");
  ASB_ASSERT_OK(intake_before.status());

  // The police partner is removed and a rule names a field the Case schema does not have.
  std::string isp = ReadAll(isp_path_);
  const std::size_t partner = isp.find("  - { name: police-partner,");
  ASSERT_NE(partner, std::string::npos);
  isp.erase(partner, isp.find('\n', partner) - partner + 1);
  const std::string rules = "\nrules:\n";
  ASSERT_NE(isp.find(rules), std::string::npos);
  isp.insert(isp.find(rules) + rules.size(),
             "  - { id: broken, agency: police, purpose: prevent-crime-disorder, fields: "
             "[{path: people.adress, action: FIELD_ACTION_SHOW}] }\n");
  std::ofstream(isp_path_, std::ios::trunc) << isp;
  ASB_ASSERT_OK(hub.Signal("intake", SIGHUP));
  ASB_ASSERT_OK(hub.Signal("sharing", SIGHUP));
  ASB_ASSERT_OK(WaitForLog(hub, "intake", "ISP agencies and principals reloaded"));
  ASB_ASSERT_OK(WaitForLog(hub, "sharing", "ISP reload refused, old policy stays"));
  EXPECT_THAT(hub.LogTail("sharing"), HasSubstr("people.adress"));

  // Intake took the new principals: the police partner is cut off there.
  EXPECT_THAT(hub.Ping("intake", "police-partner"),
              StatusIsWith(absl::StatusCode::kUnauthenticated, "no longer authorised"));
  // Sharing kept its policy and its principals.
  auto sharing_after = hub.Ping("sharing", "police-partner");
  ASB_ASSERT_OK(sharing_after.status());
  EXPECT_EQ(sharing_after->isp_version(), sharing_before->isp_version());
  ASB_ASSERT_OK(hub.StopAll());
}

}  // namespace
}  // namespace asb::testing
