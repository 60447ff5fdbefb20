// asbctl audit verify and prove: check the hub's access log against its signed tree heads — the
// whole log (or a range), or one entry with its inclusion proof.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asb/v1/api.pb.h"
#include "common/auditlog/verifier.h"
#include "common/auditlog/witness.h"
#include "common/config/config.h"
#include "common/crypto/merkle.h"
#include "common/status/macros.h"
#include "google/protobuf/util/time_util.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/internal/audit_commands.h"
#include "tools/asbctl/internal/audit_helpers.h"
#include "tools/asbctl/options.h"
#include "tools/asbctl/outcome.h"

namespace asb::ctl {
namespace internal {

namespace {

// The PEM of --public-key FILE ("" without one), for the witness to insist on.
absl::StatusOr<std::string> TrustedPem(const std::string& public_key_file) {
  std::string pem;
  if (!public_key_file.empty()) {
    ASB_RETURN_IF_ERROR(config::ReadFile(public_key_file, &pem));
  }
  return pem;
}

// Checks that the log holds the head kept in witness `file`: its signature, then a consistency
// proof from it to the hub's latest head `head` (or, equal in size, the same root). Prints the
// verdict for the file; the error says FORK or TRUNCATED.
absl::Status CheckWitnessFile(const std::string& file, const crypto::Ed25519PublicKey& key,
                              const std::string& key_pem, const HeadInfo& heads, HubClient& hub,
                              asb::v1::SignedTreeHead* saved) {
  std::string text;
  ASB_RETURN_IF_ERROR(config::ReadFile(file, &text));
  auto witness = audit::ParseWitness(text);
  if (!witness.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": ", witness.status().message()));
  }
  *saved = witness->tree_head();
  if (!witness->public_key_pem().empty() && witness->public_key_pem() != key_pem) {
    return absl::DataLossError(
        absl::StrCat("the witness ", file,
                     " was signed with another tree-head key than the one checked "
                     "with now: the hub's key was replaced, or this is another hub's witness"));
  }
  if (absl::Status s = audit::VerifyTreeHeadSignature(*saved, key); !s.ok()) {
    return absl::DataLossError(absl::StrCat("the witness ", file, ": ", s.message()));
  }
  uint64_t log_size = heads.head.tree_size();
  for (const auto& d : heads.damage) {
    if (d.first() > 0 && d.first() - 1 < log_size) {
      log_size = d.first() - 1;  // asb-audit found the log shorter than its head
    }
  }
  if (saved->tree_size() > heads.head.tree_size()) {
    return audit::Truncated(*saved, log_size, file);
  }
  std::vector<std::string> proof;
  if (saved->tree_size() < heads.head.tree_size()) {
    asb::v1::Request request;
    request.mutable_audit_consistency_proof()->set_first_size(saved->tree_size());
    request.mutable_audit_consistency_proof()->set_second_size(heads.head.tree_size());
    auto response = hub.Call(request);
    if (absl::IsOutOfRange(response.status())) {
      return audit::Truncated(*saved, log_size, file);
    }
    ASB_RETURN_IF_ERROR(response.status());
    proof.assign(response->audit_consistency_proof().proof().begin(),
                 response->audit_consistency_proof().proof().end());
  }
  ASB_RETURN_IF_ERROR(audit::CheckWitness(*saved, heads.head, proof).status());
  std::printf("witness %s: the log contains it (%s)\n", file.c_str(), Describe(*saved).c_str());
  return absl::OkStatus();
}

}  // namespace

absl::Status RunAuditVerify(const Globals& g, const AuditVerifyOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::string trusted_pem, TrustedPem(o.public_key));
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       OpenHub(g, Daemon::kAudit, o.as, "auditor", trusted_pem));
  absl::StatusOr<HeadInfo> fetched = FetchHeads(*hub, /*with_history=*/true);
  if (absl::IsDataLoss(fetched.status())) {
    return NotVerified(fetched.status());  // asbctl's own witness: a fork or truncation
  }
  ASB_ASSIGN_OR_RETURN(HeadInfo heads, std::move(fetched));
  // The first reason the log is not whole: damage asb-audit reports, then a witness it does not
  // contain, then the entries themselves.
  absl::Status not_whole = ReportHubDamage(heads.damage);
  if (heads.head.tree_size() == 0 && o.witnesses.empty()) {
    if (!not_whole.ok()) {
      return NotVerified(not_whole);
    }
    std::printf("the log is empty: nothing to verify\n");
    return absl::OkStatus();
  }
  ASB_ASSIGN_OR_RETURN(crypto::Ed25519PublicKey key,
                       TrustedKey(o.public_key, heads.public_key_pem, "the hub"));
  const std::string key_pem = trusted_pem.empty() ? heads.public_key_pem : trusted_pem;
  std::vector<asb::v1::SignedTreeHead> checkpoints = heads.history;
  checkpoints.push_back(heads.head);
  if (absl::Status s = CheckSignatures(checkpoints, key); !s.ok() && heads.head.tree_size() > 0) {
    return NotVerified(s);
  }
  std::vector<asb::v1::SignedTreeHead> history = heads.history;
  for (const std::string& file : o.witnesses) {
    asb::v1::SignedTreeHead saved;
    absl::Status s = CheckWitnessFile(file, key, key_pem, heads, *hub, &saved);
    if (absl::IsDataLoss(s)) {
      std::printf("witness %s: %s\n", file.c_str(), std::string(s.message()).c_str());
      if (not_whole.ok()) {
        not_whole = s;
      }
      continue;
    }
    ASB_RETURN_IF_ERROR(s);
    history.push_back(saved);  // and the entries must give its root too
  }
  if (heads.head.tree_size() == 0) {
    return NotVerified(not_whole.ok() ? absl::DataLossError("the hub has no signed tree head")
                                      : not_whole);
  }
  audit::VerifyRange range;
  range.from = o.from;
  range.to = o.to;
  range.expired_through = heads.expired_through;
  audit::VerifyReport report = audit::VerifyLog(heads.head, history, range, HubSource(*hub));
  absl::Status verdict = ReportVerification(
      report, heads.head,
      absl::StrCat(
          heads.history.size() + 1, " tree heads in all",
          o.witnesses.empty() ? "" : absl::StrCat(", ", o.witnesses.size(), " witness(es)")));
  if (verdict.ok() && !not_whole.ok()) {
    return NotVerified(not_whole);
  }
  return verdict;
}

absl::Status RunAuditHead(const Globals& g, const AuditHeadOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::string trusted_pem, TrustedPem(o.public_key));
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       OpenHub(g, Daemon::kAudit, o.as, "auditor", trusted_pem));
  ASB_ASSIGN_OR_RETURN(HeadInfo heads, FetchHeads(*hub, /*with_history=*/false));
  if (absl::Status s = ReportHubDamage(heads.damage); !s.ok()) {
    std::fprintf(stderr, "asbctl: warning: %s\n", std::string(s.message()).c_str());
  }
  if (heads.head.tree_size() == 0) {
    return absl::NotFoundError("the hub has signed no tree head yet (its log is empty)");
  }
  ASB_ASSIGN_OR_RETURN(crypto::Ed25519PublicKey key,
                       TrustedKey(o.public_key, heads.public_key_pem, "the hub"));
  if (absl::Status s = audit::VerifyTreeHeadSignature(heads.head, key); !s.ok()) {
    return NotVerified(s);
  }
  asb::v1::AuditWitness witness;
  witness.set_format_version(1);
  witness.set_hub(hub->config().audit_endpoint());
  witness.set_public_key_pem(trusted_pem.empty() ? heads.public_key_pem : trusted_pem);
  *witness.mutable_tree_head() = heads.head;
  *witness.mutable_saved_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  const std::string json = audit::WitnessJson(witness);
  if (o.out.empty()) {
    std::printf("%s", json.c_str());
  } else {
    const std::string tmp = o.out + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << json;
      if (!out) {
        return absl::UnavailableError(o.out + ": cannot write");
      }
    }
    if (std::rename(tmp.c_str(), o.out.c_str()) != 0) {
      return absl::UnavailableError(o.out + ": cannot write");
    }
  }
  std::fprintf(stderr, "signed tree head: %s%s\n", Describe(heads.head).c_str(),
               o.out.empty() ? "" : absl::StrCat("; saved in ", o.out).c_str());
  return absl::OkStatus();
}

absl::Status RunAuditProve(const Globals& g, const AuditProveOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub, OpenHub(g, Daemon::kAudit, o.as, "auditor"));
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
  cmd->add_option("--witness", o.witnesses,
                  "signed tree heads saved before (`audit head --out`, or asbctl's witness "
                  "file): the log must contain each one, or the check fails saying the log was "
                  "truncated or forked")
      ->expected(1, -1);
  return cmd;
}

CLI::App* AddAuditHeadOptions(CLI::App& parent, AuditHeadOptions& o) {
  auto* cmd = parent.add_subcommand(
      "head",
      "print the hub's latest signed tree head, checked with its signing key, or save it as a "
      "witness (--out FILE) for a later `audit verify --witness FILE`: keep it outside the hub");
  cmd->add_option("--out", o.out, "write it here (JSON, asb.v1.AuditWitness)");
  cmd->add_option("--as", o.as, "principal (an auditor signs a fresh head; others get the last)")
      ->capture_default_str();
  cmd->add_option("--public-key", o.public_key, "the tree-head signing key you trust (PEM)");
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
