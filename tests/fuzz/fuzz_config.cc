// Fuzzes the loading of a daemon's config file: ${VAR} expansion, YAML → JSON (yaml-cpp), the
// protobuf JSON mapping into each daemon's config message, and the shared checks of
// services/daemon/config_checks. The same text is also tried as a .json config.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "asb/config/v1/daemons.pb.h"
#include "common/config/config.h"
#include "common/config/violations.h"
#include "services/daemon/config_checks.h"

namespace {

template <class C>
void CheckCommon(const C& c, const asb::config::SourceMap* lines = nullptr) {
  asb::config::Violations v("fuzz.yaml", lines);
  asb::daemon::CheckLog(c.log(), "log", &v);
  asb::daemon::CheckStore(c.store(), "store", &v);
  asb::daemon::CheckServer(c.server(), "server", &v);
  (void)v.ToStatus();
}

// Parses `json` (already converted from YAML) into every config message.
void ParseAll(std::string_view json) {
  asb::config::v1::IntakeConfig intake;
  if (asb::config::ParseJson(json, &intake).ok()) {
    CheckCommon(intake);
  }
  asb::config::v1::SharingConfig sharing;
  if (asb::config::ParseJson(json, &sharing).ok()) {
    CheckCommon(sharing);
    asb::config::Violations v;
    asb::daemon::CheckUpstream(sharing.intake(), "intake", &v);
  }
  asb::config::v1::NotifyConfig notify;
  if (asb::config::ParseJson(json, &notify).ok()) {
    CheckCommon(notify);
  }
  asb::config::v1::AuditConfig audit;
  if (asb::config::ParseJson(json, &audit).ok()) {
    CheckCommon(audit);
  }
  asb::config::v1::ClientConfig client;
  (void)asb::config::ParseJson(json, &client);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The whole YAML path (what LoadConfigFile does for a .yaml file), with line numbers.
  asb::config::v1::IntakeConfig intake;
  asb::config::SourceMap lines;
  if (asb::config::ParseYaml(text, "fuzz.yaml", &intake, &lines).ok()) {
    CheckCommon(intake, &lines);  // violations located through the source map
  }
  // And its steps, so every daemon's message sees the converted document.
  std::string expanded;
  if (!asb::config::ExpandEnv(text, &expanded).ok()) {
    return 0;
  }
  std::string json;
  if (asb::config::YamlToJson(expanded, &json).ok()) {
    ParseAll(json);
  }
  // A .json config file.
  ParseAll(expanded);
  return 0;
}
