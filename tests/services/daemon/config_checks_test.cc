#include "services/daemon/config_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "absl/strings/str_replace.h"
#include "asb/config/v1/daemons.pb.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::daemon {
namespace {

using ::asb::testing::StatusIs;
using ::testing::HasSubstr;

// The checks every daemon runs on its common sections.
void ValidateCommon(const asb::config::v1::IntakeConfig& c, config::Violations* v) {
  CheckLog(c.log(), "log", v);
  CheckStore(c.store(), "store", v);
  CheckServer(c.server(), "server", v);
}

class LoadDaemonConfigTest : public ::testing::Test {
 protected:
  absl::Status Load(const std::string& name, const std::string& text) {
    path_ = dir_.Sub(name);
    std::ofstream(path_) << text;
    asb::config::v1::IntakeConfig config;
    return LoadDaemonConfig(path_, &config, &ValidateCommon);
  }

  asb::testing::TempDir dir_;
  std::string path_;
};

constexpr char kGood[] = R"(log:
  level: info
store:
  path: db
server:
  api_bind: "ipc://api"
  hints_bind: "ipc://hints"
  key_file: intake.key
)";

TEST_F(LoadDaemonConfigTest, AValidConfigLoads) { ASB_EXPECT_OK(Load("intake.yaml", kGood)); }

TEST_F(LoadDaemonConfigTest, ABadValueNamesFileAndLine) {
  absl::Status s = Load("intake.yaml", absl::StrReplaceAll(kGood, {{"ipc://hints", "http://x"}}));
  ASSERT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(s.message(), path_ +
                             ":7: server.hints_bind: must start with tcp:// or ipc:// (got "
                             "'http://x')");
}

TEST_F(LoadDaemonConfigTest, EveryViolationHasItsOwnLine) {
  const std::string text =
      absl::StrReplaceAll(kGood, {{"level: info", "level: loud"}, {"path: db", "path: \"\""}});
  absl::Status s = Load("intake.yaml", text + "  maxMessageBytes: 12\n");
  ASSERT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string message(s.message());
  EXPECT_THAT(message, HasSubstr(path_ + ":2: log.level: must be trace"));
  EXPECT_THAT(message, HasSubstr(path_ + ":4: store.path: required"));
  // camelCase in the file, snake_case in the check.
  EXPECT_THAT(message, HasSubstr(path_ + ":9: server.max_message_bytes: must be between"));
}

TEST_F(LoadDaemonConfigTest, AMissingKeyNamesItsSectionsLine) {
  absl::Status s =
      Load("intake.yaml", absl::StrReplaceAll(kGood, {{"  key_file: intake.key\n", ""}}));
  EXPECT_EQ(s.message(), path_ + ":5: server.key_file: required");
}

TEST_F(LoadDaemonConfigTest, JsonHasNoLinesButNamesTheFile) {
  absl::Status s = Load("intake.json", R"({"server": {"apiBind": "ipc://a", "hintsBind": "ipc://h"},
                                          "store": {"path": "db"}})");
  EXPECT_EQ(s.message(), path_ + ": server.key_file: required");
}

}  // namespace
}  // namespace asb::daemon
