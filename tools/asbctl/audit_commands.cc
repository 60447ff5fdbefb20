// asbctl audit: query the access log, verify it against signed tree heads (and saved ones:
// witnesses), prove entries, save the signed tree head, export it for an auditor's own check
// (verify-export needs no hub), subject access reports, erasure and repair. Each command lives in
// the file internal/audit_commands.h names.
#include "tools/asbctl/internal/audit_commands.h"

namespace asb::ctl {

void AddAuditCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("audit", "the access log");
  cmd->require_subcommand(1);
  AddCommand(*cmd, g, AddAuditQueryOptions, internal::RunAuditQuery);
  AddCommand(*cmd, g, AddAuditVerifyOptions, internal::RunAuditVerify);
  AddCommand(*cmd, g, AddAuditProveOptions, internal::RunAuditProve);
  AddCommand(*cmd, g, AddAuditHeadOptions, internal::RunAuditHead);
  AddCommand(*cmd, g, AddAuditExportOptions, internal::RunAuditExport);
  AddCommand(*cmd, g, AddAuditVerifyExportOptions, internal::RunAuditVerifyExport);
  AddCommand(*cmd, g, AddAuditSubjectOptions, internal::RunAuditSubject);
  AddCommand(*cmd, g, AddAuditEraseOptions, internal::RunAuditErase);
  AddCommand(*cmd, g, AddAuditRepairOptions, internal::RunAuditRepair);
}

}  // namespace asb::ctl
