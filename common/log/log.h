#pragma once

// Logging for every asb component (spdlog). main() calls Init() once; each component fetches
// its named logger once:   static auto* lg = asb::log::Get("bus");
//                          SPDLOG_LOGGER_INFO(lg, "bound {} to {}", name, endpoint);
// Never log payloads, personal data, keys or tokens.

#include <string>

#include "absl/status/status.h"
#include "asb/config/v1/common.pb.h"
#include "spdlog/spdlog.h"

namespace asb::log {

// Sets the sinks and level of every logger, present and future. `component` prefixes each line
// ("intake"). Returns kInvalidArgument for an unknown level name.
absl::Status Init(const std::string& component, const asb::config::v1::LogConfig& config);

// Overrides the level (the --log-level flag). Returns kInvalidArgument for an unknown name.
absl::Status SetLevel(const std::string& level);

// The named logger, created on first use. Never null; thread-safe.
spdlog::logger* Get(const std::string& name);

}  // namespace asb::log
