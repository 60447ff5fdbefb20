// asb-notify. All wiring lives in NotifyDaemon.
#include "services/daemon/daemon_main.h"
#include "services/notify/notify_daemon.h"

int main(int argc, char** argv) {
  return asb::daemon::DaemonMain(argc, argv, asb::notify::NotifySpec());
}
