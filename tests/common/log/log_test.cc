#include "common/log/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::log {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
using ::asb::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

asb::config::v1::LogConfig Config(const std::string& level, const std::string& file = "") {
  asb::config::v1::LogConfig c;
  c.set_level(level);
  c.set_file(file);
  return c;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class LogTest : public ::testing::Test {
 protected:
  // Each test starts from stderr only at info, whatever ran before in this process.
  void SetUp() override { ASB_ASSERT_OK(Init("test", Config("info"))); }
  void TearDown() override { ASB_EXPECT_OK(Init("test", Config("info"))); }
};

TEST_F(LogTest, InitRejectsAnUnknownLevelAndKeepsTheOldOne) {
  spdlog::logger* lg = Get("levels");
  EXPECT_THAT(Init("test", Config("loud")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "log level 'loud'"));
  EXPECT_EQ(lg->level(), spdlog::level::info);
}

TEST_F(LogTest, InitAcceptsEveryDocumentedLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_TRUE(Init("test", Config(level)).ok()) << level;
  }
  // Empty means the default, info.
  ASB_ASSERT_OK(Init("test", Config("")));
  EXPECT_EQ(Get("levels")->level(), spdlog::level::info);
}

TEST_F(LogTest, SetLevelChangesExistingAndFutureLoggers) {
  spdlog::logger* before = Get("set-level-before");
  ASB_ASSERT_OK(SetLevel("warn"));
  EXPECT_EQ(before->level(), spdlog::level::warn);
  EXPECT_EQ(Get("set-level-after")->level(), spdlog::level::warn);
  ASB_ASSERT_OK(SetLevel("debug"));
  EXPECT_EQ(before->level(), spdlog::level::debug);
  EXPECT_THAT(SetLevel("verbose"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(before->level(), spdlog::level::debug);
}

TEST_F(LogTest, GetReturnsOneLoggerPerName) {
  spdlog::logger* a = Get("bus");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(Get("bus"), a);
  EXPECT_EQ(a->name(), "bus");
  spdlog::logger* b = Get("store");
  EXPECT_NE(b, a);
  EXPECT_EQ(b->name(), "store");
}

TEST_F(LogTest, FileSinkWritesLinesWithTheComponent) {
  TempDir dir;
  const std::string file = dir.Sub("asb.log");
  ASB_ASSERT_OK(Init("intake", Config("info", file)));
  spdlog::logger* lg = Get("file-sink");
  SPDLOG_LOGGER_INFO(lg, "bound {} to {}", "api", "ipc://x");
  SPDLOG_LOGGER_DEBUG(lg, "filtered out at info");
  lg->flush();
  const std::string text = ReadFile(file);
  EXPECT_THAT(text, HasSubstr("intake/file-sink: bound api to ipc://x"));
  EXPECT_THAT(text, Not(HasSubstr("filtered out")));
}

// Components cache the pointer (`static auto* lg = Get("bus")`), often before main() has
// called Init: that logger must follow the new sinks and level, not dangle or keep the old ones.
TEST_F(LogTest, LoggerFetchedBeforeInitFollowsInit) {
  spdlog::logger* early = Get("early-cached");
  TempDir dir;
  const std::string file = dir.Sub("early.log");
  ASB_ASSERT_OK(Init("notify", Config("debug", file)));
  EXPECT_EQ(Get("early-cached"), early);
  EXPECT_EQ(early->level(), spdlog::level::debug);
  SPDLOG_LOGGER_DEBUG(early, "still here after init");
  early->flush();
  EXPECT_THAT(ReadFile(file), HasSubstr("notify/early-cached: still here after init"));

  // A second Init (another file) re-points it again; the first file gets nothing more.
  const std::string second = dir.Sub("second.log");
  ASB_ASSERT_OK(Init("notify", Config("info", second)));
  SPDLOG_LOGGER_INFO(early, "to the second file");
  early->flush();
  EXPECT_THAT(ReadFile(second), HasSubstr("to the second file"));
  EXPECT_THAT(ReadFile(file), Not(HasSubstr("to the second file")));
}

TEST_F(LogTest, InitReportsAFileItCannotOpen) {
  EXPECT_THAT(Init("test", Config("info", "/proc/asb-no-such-dir/x.log")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "log.file"));
}

}  // namespace
}  // namespace asb::log
