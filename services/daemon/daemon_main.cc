#include "services/daemon/daemon_main.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "CLI/CLI.hpp"
#include "common/log/log.h"
#include "systemd/sd-daemon.h"

namespace asb::daemon {
namespace {

Runtime* g_runtime = nullptr;
// A stop asked for before the runtime exists (during start-up) is remembered here.
volatile std::sig_atomic_t g_stop_requested = 0;

void OnStopSignal(int) {
  g_stop_requested = 1;
  if (g_runtime != nullptr) {
    g_runtime->Stop();
  }
}

void OnHangup(int) {
  if (g_runtime != nullptr) {
    g_runtime->RequestReload();
  }
}

void InstallSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = OnHangup;
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Written atomically (temp file + rename) so a harness never reads half a file.
absl::Status WriteReadyFile(const std::string& path, const Runtime& runtime) {
  std::string text =
      "{\"component\":\"" + runtime.component() + "\",\"pid\":" + std::to_string(::getpid());
  for (const auto& [name, endpoint] : runtime.endpoints()) {
    text += ",\"" + name + "\":\"" + endpoint + "\"";
  }
  text += "}\n";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) {
      return absl::UnavailableError("cannot write ready file " + tmp);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return absl::UnavailableError("cannot write ready file " + path + ": " + ec.message());
  }
  return absl::OkStatus();
}

int Fail(const std::string& name, const absl::Status& status) {
  std::fprintf(stderr, "asb-%s: error: %s\n", name.c_str(), std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int DaemonMain(int argc, char** argv, const DaemonSpec& spec) {
  CLI::App app{"asb-" + spec.name + ": the asbhub " + spec.name + " daemon"};
  std::string config_path;
  std::string ready_file;
  std::string log_level;
  bool validate_only = false;
  app.add_option("--config", config_path, "daemon config file (.yaml or .json)")->required();
  app.add_flag("--validate", validate_only,
               "check the config and exit 0 (valid) or 1, without opening sockets or the DB");
  app.add_option("--ready-file", ready_file,
                 "write the bound endpoints here (JSON) once the daemon is serving");
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical or off (overrides the config)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  asb::config::v1::LogConfig log_config;
  if (absl::Status s = spec.validate(config_path, &log_config); !s.ok()) {
    return Fail(spec.name, s);
  }
  if (validate_only) {
    std::printf("%s: valid\n", config_path.c_str());
    return 0;
  }
  if (!log_level.empty()) {
    log_config.set_level(log_level);
  }
  // Everything the daemon creates from here on — its store's directories and files, its log
  // file, its ready file, its ipc:// sockets and their directory — is its user's alone: the
  // stores keep plaintext metadata (case ids in index keys, offsets, tree heads).
  ::umask(077);
  if (absl::Status s = log::Init(spec.name, log_config); !s.ok()) {
    return Fail(spec.name, s);
  }
  InstallSignals();  // before opening anything, so SIGTERM during start-up stops cleanly
  auto daemon = spec.create(config_path);
  if (!daemon.ok()) {
    return Fail(spec.name, daemon.status());
  }
  Runtime& runtime = (*daemon)->runtime();
  g_runtime = &runtime;
  if (g_stop_requested) {
    runtime.Stop();
  }
  if (absl::Status s = (*daemon)->Start(); !s.ok()) {
    return Fail(spec.name, s);
  }
  if (!ready_file.empty()) {
    if (absl::Status s = WriteReadyFile(ready_file, runtime); !s.ok()) {
      return Fail(spec.name, s);
    }
  }
  // Under systemd (Type=notify) the unit is started once this arrives; elsewhere (no
  // NOTIFY_SOCKET) it does nothing.
  sd_notify(0, "READY=1\nSTATUS=serving");
  runtime.Run();
  sd_notify(0, "STOPPING=1");
  SPDLOG_LOGGER_INFO(log::Get("daemon"), "asb-{} shutting down", spec.name);
  g_runtime = nullptr;
  daemon->reset();
  if (!ready_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(ready_file, ec);
  }
  return 0;
}

}  // namespace asb::daemon
