// Every shipped asbctl config (config/asbctl*.yaml, deploy/**/asbctl*.yaml) loads as an
// asb.config.v1.ClientConfig naming every daemon's endpoint, and every partner's client config
// (config/**/partner*.yaml) as one naming a keys folder and an endpoint. (The daemons' configs and
// the ISPs are checked by validate_configs.sh with the binaries' own --validate and `policy
// check`.)
#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "asb/config/v1/daemons.pb.h"
#include "common/config/config.h"
#include "tests/support/status_matchers.h"

namespace asb {
namespace {

// The files under config/ and deploy/ whose name starts with `prefix`.
std::vector<std::string> ClientConfigs(const std::string& prefix = "asbctl") {
  std::vector<std::string> out;
  for (const char* dir : {"config", "deploy"}) {
    const std::filesystem::path root = std::filesystem::path(ASB_SOURCE_DIR) / dir;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && name.rfind(prefix, 0) == 0 &&
          (name.ends_with(".yaml") || name.ends_with(".json"))) {
        out.push_back(entry.path().string());
      }
    }
  }
  return out;
}

TEST(ClientConfigs, EveryShippedAsbctlConfigLoads) {
  const std::vector<std::string> files = ClientConfigs();
  ASSERT_FALSE(files.empty());
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    asb::config::v1::ClientConfig c;
    ASB_EXPECT_OK(config::LoadConfigFile(file, &c));
    EXPECT_FALSE(c.intake_endpoint().empty());
    EXPECT_FALSE(c.sharing_endpoint().empty());
    EXPECT_FALSE(c.notify_endpoint().empty());
    EXPECT_FALSE(c.audit_endpoint().empty());
    EXPECT_FALSE(c.keys_dir().empty());
  }
}

TEST(ClientConfigs, EveryShippedPartnerConfigLoads) {
  for (const std::string& file : ClientConfigs("partner")) {
    SCOPED_TRACE(file);
    asb::config::v1::ClientConfig c;
    ASB_EXPECT_OK(config::LoadConfigFile(file, &c));
    EXPECT_FALSE(c.keys_dir().empty());
    EXPECT_FALSE(c.sharing_endpoint().empty() && c.notify_endpoint().empty());
  }
}

}  // namespace
}  // namespace asb
