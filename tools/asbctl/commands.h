#pragma once

// asbctl's commands. AddCommands() registers every command on the app; each command's options
// (tools/asbctl/options.h) live in a struct of their own, and its Run function returns an
// absl::Status that Finish() (tools/asbctl/outcome.h) turns into the output and the exit code.
// Output goes to stdout; errors go to stderr in words a person can act on.

#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/types.pb.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/outcome.h"

namespace asb::ctl {

// What every command may use: the global options, and the exit code of the command that ran.
struct Globals {
  std::string hub_config = "config/asbctl.yaml";
  // Where the signed tree heads this hub shows are kept and checked (--witness-file,
  // $ASBHUB_WITNESS_FILE): "" the hub's default file (DefaultWitnessFile), "none" not at all.
  std::string witness_file;
  int exit_code = kExitOk;
};

// HubClient::Open, then KeepWitness with g's witness file (unless "none"), insisting on
// `trusted_pem` (the tree-head key) if it is not empty. For the commands whose answers carry
// signed tree heads: asb-audit's, and alert pulls.
absl::StatusOr<std::unique_ptr<HubClient>> OpenHub(const Globals& g, Daemon daemon,
                                                   const std::string& as, const std::string& suffix,
                                                   const std::string& trusted_pem = "");

// Registers every command of asbctl on `app`. `g` must outlive `app`.
void AddCommands(CLI::App& app, Globals& g);

// Adds one command under `parent`: `add_options` creates it and binds its options into an
// `Options` that lives as long as the command does; when the command line picks it, `run` runs
// and Finish() prints its outcome and sets g.exit_code.
template <class Options>
CLI::App* AddCommand(CLI::App& parent, Globals& g, CLI::App* (*add_options)(CLI::App&, Options&),
                     absl::Status (*run)(const Globals&, const Options&)) {
  auto options = std::make_shared<Options>();
  CLI::App* cmd = add_options(parent, *options);
  cmd->callback([&g, options, run] { g.exit_code = Finish(run(g, *options)); });
  return cmd;
}

struct OfficerOptions;
// The OnBehalfOf a command sends for its officer options (options.h: AddOfficerOptions).
asb::v1::OnBehalfOf OnBehalfOf(const OfficerOptions& o);

// The commands of the other files, each a group or a command on its own (AddCommands adds them,
// with those of commands.cc, in the order of `asbctl --help`).
void AddAuditCommand(CLI::App& app, Globals& g);
void AddPolicyCommand(CLI::App& app, Globals& g);
void AddStatusCommand(CLI::App& app, Globals& g);
void AddDeadLettersCommand(CLI::App& app, Globals& g);
void AddOrdersCommand(CLI::App& app, Globals& g);
void AddImportCommand(CLI::App& app, Globals& g);
void AddIntelligenceCommands(CLI::App& app, Globals& g);
void AddVictimsCommands(CLI::App& app, Globals& g);

}  // namespace asb::ctl
