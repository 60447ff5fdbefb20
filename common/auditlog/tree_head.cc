#include "common/auditlog/tree_head.h"

#include "absl/strings/str_cat.h"
#include "common/status/macros.h"

namespace asb::audit {

std::string TreeHeadSigningInput(const asb::v1::SignedTreeHead& sth) {
  std::string out("asbhub-audit-sth-v1");
  out.push_back('\0');
  for (uint64_t v : {sth.tree_size(), sth.timestamp_ms()}) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((v >> shift) & 0xff));
    }
  }
  out.append(sth.root_hash());
  return out;
}

absl::Status VerifyTreeHeadSignature(const asb::v1::SignedTreeHead& sth,
                                     const crypto::Ed25519PublicKey& key) {
  if (sth.root_hash().size() != crypto::merkle::kHashSize) {
    return absl::DataLossError(
        absl::StrCat("tree head of size ", sth.tree_size(), ": root hash is not 32 bytes"));
  }
  if (absl::Status s = key.Verify(TreeHeadSigningInput(sth), sth.signature()); !s.ok()) {
    return absl::DataLossError(absl::StrCat(
        "tree head of size ", sth.tree_size(),
        ": signature does not verify with the public key (forged, altered or another key)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TreeHeadSigner> TreeHeadSigner::Create(crypto::Ed25519PrivateKey key) {
  ASB_ASSIGN_OR_RETURN(std::string pem, key.PublicPem());
  ASB_ASSIGN_OR_RETURN(std::string raw, key.RawPublicKey());
  return TreeHeadSigner(std::move(key), std::move(pem), crypto::Sha256(raw));
}

absl::StatusOr<asb::v1::SignedTreeHead> TreeHeadSigner::Sign(uint64_t tree_size,
                                                             const std::string& root_hash,
                                                             uint64_t timestamp_ms) const {
  asb::v1::SignedTreeHead sth;
  sth.set_tree_size(tree_size);
  sth.set_root_hash(root_hash);
  sth.set_timestamp_ms(timestamp_ms);
  sth.set_key_id(key_id_);
  ASB_ASSIGN_OR_RETURN(std::string signature, key_.Sign(TreeHeadSigningInput(sth)));
  sth.set_signature(std::move(signature));
  return sth;
}

absl::StatusOr<AuditRange> RangeFromFrontier(uint64_t size,
                                             const std::vector<std::string>& frontier) {
  if (static_cast<std::size_t>(__builtin_popcountll(size)) != frontier.size()) {
    return absl::DataLossError(absl::StrCat("compact range of ", size,
                                            " entries: ", frontier.size(), " hashes instead of ",
                                            __builtin_popcountll(size)));
  }
  std::size_t next = 0;
  return AuditRange::FromNodes(size, [&](int, uint64_t) -> absl::StatusOr<std::string> {
    if (frontier[next].size() != crypto::merkle::kHashSize) {
      return absl::DataLossError("compact range: a hash is not 32 bytes");
    }
    return frontier[next++];
  });
}

}  // namespace asb::audit
