// asb-audit. All wiring lives in AuditDaemon.
#include "services/audit/audit_daemon.h"
#include "services/daemon/daemon_main.h"

int main(int argc, char** argv) {
  return asb::daemon::DaemonMain(argc, argv, asb::audit::AuditSpec());
}
