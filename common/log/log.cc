#include "common/log/log.h"

#include <mutex>
#include <vector>

#include "spdlog/sinks/basic_file_sink.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace asb::log {
namespace {

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}

std::vector<spdlog::sink_ptr>& Sinks() {
  static std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>()};
  return sinks;
}

std::string& Pattern() {
  static std::string pattern = "%Y-%m-%dT%H:%M:%S.%e %^%L%$ %n: %v";
  return pattern;
}

absl::Status ParseLevel(const std::string& name, spdlog::level::level_enum* out) {
  if (name.empty()) {
    *out = spdlog::level::info;
    return absl::OkStatus();
  }
  auto level = spdlog::level::from_str(name);
  if (level == spdlog::level::off && name != "off") {
    return absl::InvalidArgumentError(
        "log level '" + name + "': must be trace, debug, info, warn, error, critical or off");
  }
  *out = level;
  return absl::OkStatus();
}

}  // namespace

absl::Status Init(const std::string& component, const asb::config::v1::LogConfig& config) {
  spdlog::level::level_enum level;
  if (absl::Status s = ParseLevel(config.level(), &level); !s.ok()) {
    return s;
  }
  std::lock_guard<std::mutex> lock(Mu());
  Sinks().clear();
  Sinks().push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (!config.file().empty()) {
    try {
      Sinks().push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.file()));
    } catch (const spdlog::spdlog_ex& e) {
      return absl::InvalidArgumentError("log.file '" + config.file() + "': " + e.what());
    }
  }
  Pattern() = "%Y-%m-%dT%H:%M:%S.%e %^%L%$ " + component + "/%n: %v";
  // Loggers already handed out keep their address (callers cache the pointer): re-point them.
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& logger) {
    logger->sinks() = Sinks();
    logger->set_pattern(Pattern());
  });
  spdlog::set_level(level);
  return absl::OkStatus();
}

absl::Status SetLevel(const std::string& name) {
  spdlog::level::level_enum level;
  if (absl::Status s = ParseLevel(name, &level); !s.ok()) {
    return s;
  }
  spdlog::set_level(level);
  return absl::OkStatus();
}

spdlog::logger* Get(const std::string& name) {
  std::lock_guard<std::mutex> lock(Mu());
  if (auto existing = spdlog::get(name)) {
    return existing.get();
  }
  auto logger = std::make_shared<spdlog::logger>(name, Sinks().begin(), Sinks().end());
  logger->set_pattern(Pattern());
  logger->set_level(spdlog::get_level());
  spdlog::register_logger(logger);
  return logger.get();
}

}  // namespace asb::log
