#pragma once

// The `asbctl audit` commands, one Run function each; AddAuditCommand (audit_commands.cc) adds
// them with their options (options.h) in the order of `asbctl audit --help`.

#include "absl/status/status.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/options.h"

namespace asb::ctl::internal {

// audit_query_commands.cc
absl::Status RunAuditQuery(const Globals& g, const AuditQueryOptions& o);
absl::Status RunAuditSubject(const Globals& g, const AuditSubjectOptions& o);

// audit_verify_commands.cc
absl::Status RunAuditVerify(const Globals& g, const AuditVerifyOptions& o);
absl::Status RunAuditProve(const Globals& g, const AuditProveOptions& o);
absl::Status RunAuditHead(const Globals& g, const AuditHeadOptions& o);

// audit_export_commands.cc
absl::Status RunAuditExport(const Globals& g, const AuditExportOptions& o);
absl::Status RunAuditVerifyExport(const Globals& g, const AuditVerifyExportOptions& o);

// audit_erase_command.cc
absl::Status RunAuditErase(const Globals& g, const AuditEraseOptions& o);
absl::Status RunAuditRepair(const Globals& g, const AuditRepairOptions& o);

}  // namespace asb::ctl::internal
