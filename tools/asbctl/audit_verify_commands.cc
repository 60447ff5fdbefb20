// asbctl audit verify and prove: check the hub's access log against its signed tree heads — the
// whole log (or a range), or one entry with its inclusion proof.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asb/v1/api.pb.h"
#include "common/auditlog/verifier.h"
#include "common/config/config.h"
#include "common/crypto/merkle.h"
#include "common/status/macros.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/internal/audit_commands.h"
#include "tools/asbctl/internal/audit_helpers.h"
#include "tools/asbctl/options.h"
#include "tools/asbctl/outcome.h"

namespace asb::ctl {
namespace internal {

absl::Status RunAuditVerify(const Globals& g, const AuditVerifyOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kAudit, o.as, "auditor"));
  ASB_ASSIGN_OR_RETURN(HeadInfo heads, FetchHeads(*hub, /*with_history=*/true));
  if (heads.head.tree_size() == 0) {
    std::printf("the log is empty: nothing to verify\n");
    return absl::OkStatus();
  }
  ASB_ASSIGN_OR_RETURN(crypto::Ed25519PublicKey key,
                       TrustedKey(o.public_key, heads.public_key_pem, "the hub"));
  std::vector<asb::v1::SignedTreeHead> checkpoints = heads.history;
  checkpoints.push_back(heads.head);
  if (absl::Status s = CheckSignatures(checkpoints, key); !s.ok()) {
    return NotVerified(s);
  }
  audit::VerifyRange range;
  range.from = o.from;
  range.to = o.to;
  range.expired_through = heads.expired_through;
  return ReportVerification(audit::VerifyLog(heads.head, heads.history, range, HubSource(*hub)),
                            heads.head,
                            absl::StrCat(heads.history.size() + 1, " tree heads in all"));
}

absl::Status RunAuditProve(const Globals& g, const AuditProveOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kAudit, o.as, "auditor"));
  ASB_ASSIGN_OR_RETURN(HeadInfo heads, FetchHeads(*hub, /*with_history=*/false));
  asb::v1::Request request;
  request.mutable_audit_inclusion_proof()->set_index(o.index);
  request.mutable_audit_inclusion_proof()->set_tree_size(o.tree_size);
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
  const auto& r = response.audit_inclusion_proof();
  std::printf("%s\n", config::ToJson(r).c_str());
  if (!r.has_tree_head()) {
    return NotVerified(absl::FailedPreconditionError(
        absl::StrCat("no signed tree head of size ", r.tree_size(),
                     " is stored; prove against the latest one (omit --tree-size)")));
  }
  ASB_ASSIGN_OR_RETURN(crypto::Ed25519PublicKey key,
                       TrustedKey(o.public_key, heads.public_key_pem, "the hub"));
  if (absl::Status s = audit::VerifyTreeHeadSignature(r.tree_head(), key); !s.ok()) {
    return NotVerified(s);
  }
  const std::string leaf = audit::LeafHash(r.entry());
  if (leaf != r.entry().leaf_hash() || r.entry().index() != o.index) {
    return NotVerified(
        absl::DataLossError(absl::StrCat("entry ", o.index, " does not match its leaf hash")),
        o.index);
  }
  const std::vector<std::string> proof(r.proof().begin(), r.proof().end());
  if (absl::Status s = crypto::merkle::VerifyInclusion(o.index - 1, r.tree_head().tree_size(), leaf,
                                                       proof, r.tree_head().root_hash());
      !s.ok()) {
    return NotVerified(absl::DataLossError(absl::StrCat("entry ", o.index, ": ", s.message())),
                       o.index);
  }
  std::fprintf(stderr, "OK: entry %llu is in the signed tree head (%s); proof of %zu hashes\n",
               static_cast<unsigned long long>(o.index), Describe(r.tree_head()).c_str(),
               proof.size());
  return absl::OkStatus();
}

}  // namespace internal

CLI::App* AddAuditVerifyOptions(CLI::App& parent, AuditVerifyOptions& o) {
  auto* cmd = parent.add_subcommand(
      "verify",
      "re-fetch the log (or entries --from..--to), recompute every leaf hash and the Merkle "
      "root, and check them against the hub's signed tree heads; says which entries expired "
      "or were erased, and names the first bad entry (exit 3 if bad)");
  cmd->add_option("--as", o.as, "auditor (keys_dir/NAME.key or NAME-auditor.key)")
      ->capture_default_str();
  cmd->add_option("--public-key", o.public_key,
                  "the tree-head signing key you trust (PEM), e.g. sth-signing.pub.pem");
  cmd->add_option("--from", o.from, "first entry to check (default: the first kept)");
  cmd->add_option("--to", o.to, "last entry to check (default: the latest signed tree head's)");
  return cmd;
}

CLI::App* AddAuditProveOptions(CLI::App& parent, AuditProveOptions& o) {
  auto* cmd = parent.add_subcommand(
      "prove", "print an entry with its inclusion proof and check it against a signed tree head");
  cmd->add_option("ENTRY", o.index, "entry index (from 1)")->required();
  cmd->add_option("--tree-size", o.tree_size, "prove against this tree size (default: latest)");
  cmd->add_option("--as", o.as, "auditor")->capture_default_str();
  cmd->add_option("--public-key", o.public_key, "the tree-head signing key you trust (PEM)");
  return cmd;
}

}  // namespace asb::ctl
