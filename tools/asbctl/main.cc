// asbctl: the one command line for integrators, partners, auditors and admins.
#include <cstdlib>

#include "tools/asbctl/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "asbctl: submit events, read alerts and case views, query the audit log, manage "
      "keys and policy of an asbhub"};
  asb::ctl::Globals g;
  if (const char* env = std::getenv("ASBHUB_CLIENT_CONFIG"); env != nullptr && *env != '\0') {
    g.hub_config = env;
  }
  if (const char* env = std::getenv("ASBHUB_WITNESS_FILE"); env != nullptr && *env != '\0') {
    g.witness_file = env;
  }
  asb::ctl::AddCommands(app, g);
  CLI11_PARSE(app, argc, argv);
  return g.exit_code;
}
