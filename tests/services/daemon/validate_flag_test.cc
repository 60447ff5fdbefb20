// `asb-<daemon> --config F --validate` checks F and exits 0 or 1 without opening sockets or the
// DB; its one error line names the file and line of each bad value. Run on the real asb-intake.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_replace.h"
#include "tests/support/temp_dir.h"

namespace {

using ::testing::HasSubstr;

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs asb-intake --config `config` --validate from the source tree, as an operator would.
Outcome Validate(const std::string& config) {
  const std::string command = std::string("cd '") + ASB_SOURCE_DIR + "' && '" + ASB_INTAKE_BIN +
                              "' --config '" + config + "' --validate 2>&1";
  Outcome run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return run;
  }
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) {
    run.output.append(buf.data(), n);
  }
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

std::string ShippedIntakeConfig() {
  std::ifstream in(std::string(ASB_SOURCE_DIR) + "/config/intake.yaml");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ValidateFlagTest, ShippedConfigIsValid) {
  Outcome run = Validate("config/intake.yaml");
  EXPECT_EQ(run.exit_code, 0) << run.output;
}

TEST(ValidateFlagTest, BadValueIsReportedWithFileAndLine) {
  const std::string shipped = ShippedIntakeConfig();
  const std::string from = "  api_bind: \"ipc://";
  const std::size_t at = shipped.find(from);
  ASSERT_NE(at, std::string::npos) << "config/intake.yaml has no server.api_bind";
  const int line = 1 + static_cast<int>(std::count(shipped.begin(), shipped.begin() + at, '\n'));

  asb::testing::TempDir dir;
  const std::string path = dir.Sub("intake.yaml");
  std::ofstream(path) << absl::StrReplaceAll(shipped, {{from, "  api_bind: \"http://"}});
  Outcome run = Validate(path);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr("asb-intake: error: " + path + ":" + std::to_string(line) +
                                    ": server.api_bind: must start with tcp:// or ipc://"));
}

}  // namespace
