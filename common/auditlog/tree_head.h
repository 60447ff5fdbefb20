#pragma once

// Signed tree heads: the bytes a head's signature covers, checking that signature, signing a
// head (asb-audit; when it signs is its own schedule), and the compact range — the right edge
// of the tree — whose root a head is compared with.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/audit.pb.h"
#include "common/crypto/crypto.h"
#include "common/crypto/merkle.h"

namespace asb::audit {

// What a tree head's signature covers: "asbhub-audit-sth-v1" 0x00, big-endian tree_size and
// timestamp_ms, then root_hash.
std::string TreeHeadSigningInput(const asb::v1::SignedTreeHead& sth);

// OK if `sth` is signed by `key`; kDataLoss ("tree head of size N: ...") otherwise.
absl::Status VerifyTreeHeadSignature(const asb::v1::SignedTreeHead& sth,
                                     const crypto::Ed25519PublicKey& key);

// Signs tree heads with one key. Immutable; thread-safe.
class TreeHeadSigner {
 public:
  static absl::StatusOr<TreeHeadSigner> Create(crypto::Ed25519PrivateKey key);

  // A signed tree head for `tree_size` entries with `root_hash`, issued at `timestamp_ms`.
  absl::StatusOr<asb::v1::SignedTreeHead> Sign(uint64_t tree_size, const std::string& root_hash,
                                               uint64_t timestamp_ms) const;

  const std::string& public_key_pem() const { return public_key_pem_; }
  // SHA-256 of the raw public key.
  const std::string& key_id() const { return key_id_; }

 private:
  TreeHeadSigner(crypto::Ed25519PrivateKey key, std::string public_key_pem, std::string key_id)
      : key_(std::move(key)),
        public_key_pem_(std::move(public_key_pem)),
        key_id_(std::move(key_id)) {}
  crypto::Ed25519PrivateKey key_;
  std::string public_key_pem_;
  std::string key_id_;
};

// The right edge of a tree being appended to: the log's and the verifier's compact range.
using AuditRange = crypto::merkle::CompactRange;

// Builds the compact range of `size` leaves from its hashes (one per set bit of size, largest
// subtree first), as AuditLog::Frontier gives them. kDataLoss if the count or a hash length is
// wrong.
absl::StatusOr<AuditRange> RangeFromFrontier(uint64_t size,
                                             const std::vector<std::string>& frontier);

}  // namespace asb::audit
