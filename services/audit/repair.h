#pragma once

// An admin's explicit repair of asb-audit's access log after damage found at start
// (AuditRepairRequest): the tree rebuilt from the leaf hashes kept, the signed tree heads it no
// longer matches set aside, one REPAIR entry recording all of it, then a new signed tree head.
// Nothing else ever rebuilds the tree or signs over damage.

#include "absl/status/statusor.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"
#include "common/store/store.h"
#include "services/audit/audit_log.h"
#include "services/audit/tree_heads.h"

namespace asb::audit {

// Repairs `log` as `request` asks, with `who`'s actor and actor_agency on the REPAIR entry.
// kInvalidArgument without a reference; kFailedPrecondition if the log is whole (nothing to
// repair) or cannot be rebuilt (see AuditLog::PlanRepair). A dry run changes nothing.
absl::StatusOr<asb::v1::AuditRepairResponse> RepairLog(AuditLog* log, TreeHeads* heads,
                                                       store::Store* store,
                                                       const asb::v1::AuditRepairRequest& request,
                                                       const asb::v1::AuditRecord& who);

}  // namespace asb::audit
