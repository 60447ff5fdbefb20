// asbctl: the one command line for integrators, partners, auditors and admins.
#include <cstdlib>

#include "tools/asbctl/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "asbctl: submit events, read alerts and case views, query the audit log, manage "
      "keys and policy of an asbhub"};
  app.require_subcommand(1);
  asb::ctl::Globals g;
  if (const char* env = std::getenv("ASBHUB_CLIENT_CONFIG"); env != nullptr && *env != '\0') {
    g.hub_config = env;
  }
  app.add_option("--hub", g.hub_config,
                 "client config: endpoints and keys (default config/asbctl.yaml, or "
                 "$ASBHUB_CLIENT_CONFIG)");
  asb::ctl::AddSubmitCommand(app, g);
  asb::ctl::AddAlertsCommand(app, g);
  asb::ctl::AddCaseCommand(app, g);
  asb::ctl::AddAuditCommand(app, g);
  asb::ctl::AddKeysCommand(app, g);
  asb::ctl::AddPolicyCommand(app, g);
  asb::ctl::AddPingCommand(app, g);
  asb::ctl::AddStatusCommand(app, g);
  asb::ctl::AddDeadLettersCommand(app, g);
  CLI11_PARSE(app, argc, argv);
  return g.exit_code;
}
