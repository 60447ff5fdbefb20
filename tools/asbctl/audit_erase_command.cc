// asbctl audit erase: admins erase a person's or a case's identifiers from the access log; the
// entries keep their leaf hashes, so the log still verifies.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "asb/v1/api.pb.h"
#include "common/status/macros.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/internal/audit_commands.h"
#include "tools/asbctl/options.h"

namespace asb::ctl {
namespace internal {

absl::Status RunAuditErase(const Globals& g, const AuditEraseOptions& o) {
  if (o.subject.empty() && o.case_id.empty()) {
    return absl::InvalidArgumentError("give --subject or --case (or both)");
  }
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub, OpenHub(g, Daemon::kAudit, o.as, "admin"));
  asb::v1::Request request;
  auto* q = request.mutable_audit_erase();
  q->set_subject_key(o.subject);
  q->set_case_id(o.case_id);
  q->set_reference(o.reference);
  q->set_dry_run(o.dry_run);
  uint64_t total = 0;
  std::vector<std::string> records;
  while (true) {
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
    const auto& r = response.audit_erase();
    total += static_cast<uint64_t>(r.erased_size());
    if (r.erasure_index() != 0) {
      records.push_back(std::to_string(r.erasure_index()));
    }
    if (o.dry_run) {
      std::printf("would erase %d entries%s: %s\n", r.erased_size(), r.more() ? " (and more)" : "",
                  absl::StrJoin(r.erased(), ",").c_str());
      return absl::OkStatus();
    }
    if (!r.more()) {
      break;
    }
  }
  std::printf("erased the personal data of %llu entries; recorded as ERASURE entry %s\n",
              static_cast<unsigned long long>(total), absl::StrJoin(records, ", ").c_str());
  return absl::OkStatus();
}

absl::Status RunAuditRepair(const Globals& g, const AuditRepairOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub, OpenHub(g, Daemon::kAudit, o.as, "admin"));
  asb::v1::Request request;
  request.mutable_audit_repair()->set_reference(o.reference);
  request.mutable_audit_repair()->set_dry_run(o.dry_run);
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request, std::chrono::minutes(30)));
  const auto& r = response.audit_repair();
  for (const auto& d : r.repair().damage()) {
    std::printf("damage: %s\n", d.what().c_str());
  }
  if (r.repair().recomputed_first() != 0) {
    std::printf("%s the leaf hashes of entries %llu..%llu from their stored bytes\n",
                o.dry_run ? "would recompute" : "recomputed",
                static_cast<unsigned long long>(r.repair().recomputed_first()),
                static_cast<unsigned long long>(r.repair().recomputed_last()));
  }
  for (const auto& h : r.repair().superseded()) {
    std::printf(
        "set aside: the signed tree head of size %llu (it covers entries or hashes the "
        "rebuilt tree does not have)\n",
        static_cast<unsigned long long>(h.tree_size()));
  }
  if (o.dry_run) {
    std::printf(
        "dry run: would rebuild the tree of %llu entries; at least %llu signed tree "
        "head(s) would be set aside\n",
        static_cast<unsigned long long>(r.repair().tree_size()),
        static_cast<unsigned long long>(r.repair().superseded_count()));
    return absl::OkStatus();
  }
  std::printf(
      "repaired: the tree of %llu entries rebuilt, %llu signed tree head(s) set aside, "
      "recorded as REPAIR entry %llu; new signed tree head of size %llu\n",
      static_cast<unsigned long long>(r.repair().tree_size()),
      static_cast<unsigned long long>(r.repair().superseded_count()),
      static_cast<unsigned long long>(r.repair_index()),
      static_cast<unsigned long long>(r.tree_head().tree_size()));
  std::printf(
      "witnesses holding a head that was set aside will no longer verify: that is the "
      "damage, now on the record\n");
  return absl::OkStatus();
}

}  // namespace internal

CLI::App* AddAuditRepairOptions(CLI::App& parent, AuditRepairOptions& o) {
  auto* cmd = parent.add_subcommand(
      "repair",
      "admins: after asb-audit found damage at start (see `audit verify`), rebuild the access "
      "log's Merkle tree from the leaf hashes kept, set aside the signed tree heads it no "
      "longer matches, and record all of it as a REPAIR entry; then asb-audit signs and "
      "consumes again. Witnesses of the heads set aside will fail: the damage stays visible");
  cmd->add_option("--reference", o.reference,
                  "the incident's reference, recorded in the REPAIR entry (never personal data)")
      ->required();
  cmd->add_flag("--dry-run", o.dry_run, "only say what would be done");
  cmd->add_option("--as", o.as, "admin (keys_dir/NAME.key or NAME-admin.key)")
      ->capture_default_str();
  return cmd;
}

CLI::App* AddAuditEraseOptions(CLI::App& parent, AuditEraseOptions& o) {
  auto* cmd = parent.add_subcommand(
      "erase",
      "admins: erase a person's (--subject) or a case's (--case) identifiers from the access "
      "log; the entries keep their leaf hashes (the log still verifies) and one ERASURE entry "
      "records which were erased");
  cmd->add_option("--subject", o.subject, "the pseudonymous subject key to erase");
  cmd->add_option("--case", o.case_id, "the case to erase (with --subject: only that case)");
  cmd->add_option("--reference", o.reference,
                  "the erasure request's reference, recorded (e.g. DSR-2026-0042)")
      ->required();
  cmd->add_flag("--dry-run", o.dry_run, "only list the entries that would be erased");
  cmd->add_option("--as", o.as, "admin (keys_dir/NAME.key or NAME-admin.key)")
      ->capture_default_str();
  return cmd;
}

}  // namespace asb::ctl
