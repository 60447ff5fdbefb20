#pragma once

// asbctl's commands. Each Add* registers one command (and its subcommands) on `app`; the command
// sets *exit_code when it runs. Output goes to stdout; errors go to stderr in words a person can
// act on.

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace asb::ctl {

struct Globals {
  std::string hub_config = "config/asbctl.yaml";
  int exit_code = 0;
};

void AddKeysCommand(CLI::App& app, Globals& g);
void AddSubmitCommand(CLI::App& app, Globals& g);
void AddAlertsCommand(CLI::App& app, Globals& g);
void AddCaseCommand(CLI::App& app, Globals& g);
void AddAuditCommand(CLI::App& app, Globals& g);
void AddPolicyCommand(CLI::App& app, Globals& g);
void AddPingCommand(CLI::App& app, Globals& g);
void AddStatusCommand(CLI::App& app, Globals& g);
void AddDeadLettersCommand(CLI::App& app, Globals& g);

// Prints "asbctl: error: <message>" to stderr and returns 1 (2 for kPermissionDenied, so
// scripts can tell "not authorised" from other failures).
int ReportError(const absl::Status& status);

}  // namespace asb::ctl
