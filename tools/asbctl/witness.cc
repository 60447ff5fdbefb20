#include "tools/asbctl/witness.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auditlog/tree_head.h"
#include "common/auditlog/witness.h"
#include "common/config/config.h"
#include "common/crypto/crypto.h"
#include "common/model/model.h"
#include "common/status/macros.h"

namespace asb::ctl {
namespace {

absl::Status WriteAtomically(const std::string& path, const std::string& text) {
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    std::filesystem::create_directories(dir, ec);
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) {
      return absl::UnavailableError(absl::StrCat("cannot write the witness file ", tmp));
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot write the witness file ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DefaultWitnessFile(const std::string& audit_endpoint) {
  std::string dir;
  if (const char* d = std::getenv("ASBHUB_WITNESS_DIR"); d != nullptr && *d != '\0') {
    dir = d;
  } else if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x != '\0') {
    dir = absl::StrCat(x, "/asbhub");
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    dir = absl::StrCat(h, "/.local/state/asbhub");
  } else {
    dir = ".";
  }
  std::string name;
  for (char c : audit_endpoint) {
    name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  }
  if (name.size() > 80) {
    name = name.substr(name.size() - 80);
  }
  return absl::StrCat(dir, "/witness-", name, "-",
                      crypto::HexEncode(crypto::Sha256(audit_endpoint)).substr(0, 8), ".json");
}

HeadWitness::HeadWitness(std::string path, std::string hub, WitnessSource source,
                         std::string trusted_key_pem)
    : path_(std::move(path)),
      hub_(std::move(hub)),
      source_(std::move(source)),
      trusted_key_pem_(std::move(trusted_key_pem)) {}

absl::Status HeadWitness::See(const asb::v1::SignedTreeHead& head) {
  if (head.tree_size() == 0 || head.SerializeAsString() == last_checked_) {
    return absl::OkStatus();
  }
  asb::v1::AuditWitness kept;
  bool have = false;
  {
    std::string text;
    absl::Status read = config::ReadFile(path_, &text);
    if (read.ok()) {
      auto parsed = audit::ParseWitness(text);
      if (!parsed.ok()) {
        return absl::DataLossError(absl::StrCat(path_, ": ", parsed.status().message()));
      }
      kept = *std::move(parsed);
      have = true;
    } else if (!absl::IsNotFound(read)) {
      return read;
    }
  }
  std::string pem = !trusted_key_pem_.empty() ? trusted_key_pem_ : kept.public_key_pem();
  if (pem.empty()) {
    ASB_ASSIGN_OR_RETURN(pem, source_.public_key_pem());
  }
  ASB_ASSIGN_OR_RETURN(crypto::Ed25519PublicKey key, crypto::Ed25519PublicKey::FromPem(pem));
  if (absl::Status s = audit::VerifyTreeHeadSignature(head, key); !s.ok()) {
    return absl::DataLossError(absl::StrCat("the hub showed a tree head that the key kept in ",
                                            path_, " does not verify (", s.message(),
                                            "): another hub, or its signing key was replaced"));
  }
  if (have && !kept.public_key_pem().empty() && !trusted_key_pem_.empty() &&
      kept.public_key_pem() != trusted_key_pem_) {
    return absl::DataLossError(absl::StrCat("the witness file ", path_,
                                            " was kept for another signing key than the one "
                                            "given with --public-key"));
  }
  bool keep = !have;
  if (have) {
    const audit::ProofSizes sizes = audit::WitnessProofSizes(kept.tree_head(), head);
    std::vector<std::string> proof;
    if (sizes.first > 0 && sizes.first != sizes.second) {
      auto got = source_.consistency(sizes.first, sizes.second);
      if (absl::IsOutOfRange(got.status()) && head.tree_size() < kept.tree_head().tree_size()) {
        auto size = source_.log_size();
        return audit::Truncated(kept.tree_head(), size.ok() ? *size : head.tree_size(), path_);
      }
      ASB_ASSIGN_OR_RETURN(proof, std::move(got));
    }
    ASB_ASSIGN_OR_RETURN(audit::WitnessStep step,
                         audit::CheckWitness(kept.tree_head(), head, proof));
    keep = step == audit::WitnessStep::kNewer;
  }
  if (keep) {
    asb::v1::AuditWitness next;
    next.set_format_version(1);
    next.set_hub(hub_);
    next.set_public_key_pem(pem);
    *next.mutable_tree_head() = head;
    *next.mutable_saved_at() = model::ToTimestamp(absl::Now());
    ASB_RETURN_IF_ERROR(WriteAtomically(path_, audit::WitnessJson(next)));
    if (!have) {
      std::fprintf(stderr,
                   "asbctl: keeping this hub's signed tree heads in %s (first seen: size %llu); "
                   "every later head is checked against it\n",
                   path_.c_str(), static_cast<unsigned long long>(head.tree_size()));
    }
  }
  last_checked_ = head.SerializeAsString();
  return absl::OkStatus();
}

}  // namespace asb::ctl
