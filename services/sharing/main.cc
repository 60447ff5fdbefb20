// asb-sharing. All wiring lives in SharingDaemon.
#include "services/daemon/daemon_main.h"
#include "services/sharing/sharing_daemon.h"

int main(int argc, char** argv) {
  return asb::daemon::DaemonMain(argc, argv, asb::sharing::SharingSpec());
}
