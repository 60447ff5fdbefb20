#include "services/audit/repair.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/auditlog/entry.h"
#include "common/log/log.h"
#include "common/status/macros.h"

namespace asb::audit {
namespace {

// Superseded tree heads listed in the REPAIR entry at most (the count says how many in all).
constexpr int kMaxListed = 100;

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("audit");
  return lg;
}

}  // namespace

absl::StatusOr<asb::v1::AuditRepairResponse> RepairLog(AuditLog* log, TreeHeads* heads,
                                                       store::Store* store,
                                                       const asb::v1::AuditRepairRequest& request,
                                                       const asb::v1::AuditRecord& who) {
  if (request.reference().empty() || request.reference().size() > 128) {
    return absl::InvalidArgumentError(
        "reference: required (the repair's incident reference, at most 128 characters)");
  }
  if (!log->read_only()) {
    return absl::FailedPreconditionError(
        "the access log is whole (no damage was found at start): nothing to repair");
  }
  ASB_ASSIGN_OR_RETURN(AuditLog::RepairPlan plan, log->PlanRepair());
  asb::v1::AuditRepairResponse response;
  asb::v1::AuditRepair* repair = response.mutable_repair();
  repair->set_reference(request.reference());
  for (const auto& d : plan.damage) {
    *repair->add_damage() = d;
  }
  repair->set_recomputed_first(plan.recompute_first);
  repair->set_recomputed_last(plan.recompute_last);
  repair->set_tree_size(plan.tree_size);
  if (request.dry_run()) {
    // Which heads would go is known only once the tree is rebuilt; a dry run lists those that
    // cover entries beyond it.
    ASB_ASSIGN_OR_RETURN(std::vector<uint64_t> sizes, log->TreeHeadSizes());
    repair->set_superseded_count(static_cast<uint64_t>(
        std::count_if(sizes.begin(), sizes.end(), [&](uint64_t s) { return s > plan.tree_size; })));
    return response;
  }
  SPDLOG_LOGGER_WARN(Logger(), "repairing the access log (reference {}): {} problem(s)",
                     request.reference(), plan.damage.size());
  ASB_RETURN_IF_ERROR(log->Repair(plan));
  ASB_ASSIGN_OR_RETURN(std::vector<asb::v1::SignedTreeHead> superseded,
                       heads->Supersede(/*dry_run=*/false));
  repair->set_superseded_count(superseded.size());
  for (int i = 0; i < static_cast<int>(superseded.size()) && i < kMaxListed; ++i) {
    *repair->add_superseded() = superseded[i];
  }
  // The repair itself is on the record, before any head is signed over the rebuilt tree.
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_REPAIR);
  r.set_component("audit");
  r.set_actor(who.actor());
  r.set_actor_agency(who.actor_agency());
  std::string what = plan.damage.empty() ? "unreadable tree" : plan.damage[0].what();
  r.set_detail(absl::StrCat("repaired the access log (reference ", request.reference(),
                            "): the tree of ", plan.tree_size, " entries rebuilt; ",
                            superseded.size(), " signed tree head(s) set aside; ",
                            plan.damage.size(), " problem(s), first: ", what)
                   .substr(0, 1000));
  *r.mutable_repair() = *repair;
  store::Batch batch = store->NewBatch();
  response.set_repair_index(log->Append(r, kSelfOrigin, 0, &batch));
  ASB_RETURN_IF_ERROR(store->Write(&batch));
  ASB_ASSIGN_OR_RETURN(std::optional<asb::v1::SignedTreeHead> head, heads->Issue());
  if (head.has_value()) {
    *response.mutable_tree_head() = *head;
  }
  SPDLOG_LOGGER_WARN(Logger(),
                     "access log repaired (REPAIR entry {}): {} signed tree head(s) set "
                     "aside",
                     response.repair_index(), superseded.size());
  return response;
}

}  // namespace asb::audit
