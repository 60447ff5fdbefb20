// asb-intake: the edge for feeds. All wiring lives in IntakeDaemon.
#include "services/daemon/daemon_main.h"
#include "services/intake/intake_daemon.h"

int main(int argc, char** argv) {
  return asb::daemon::DaemonMain(argc, argv, asb::intake::IntakeSpec());
}
