#pragma once

// asb-audit's signing of tree heads: the Ed25519 key in a PEM file (created on first start) and
// the signer that turns (size, root, time) into a SignedTreeHead.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "asb/v1/audit.pb.h"
#include "common/crypto/crypto.h"

namespace asb::audit {

// "x.pem" -> "x.pub.pem"; any other name gets ".pub.pem" appended.
std::string PublicKeyPathFor(const std::string& private_key_path);

// Loads the Ed25519 private key from `path` (PKCS#8 PEM). If the file does not exist, generates
// one, writes it with mode 0600 (creating the directory if needed) and writes the public key to
// PublicKeyPathFor(path) (mode 0644). kFailedPrecondition if the file is readable or writable by
// group or others; kInvalidArgument if it is not an Ed25519 key; kUnavailable on I/O errors.
absl::StatusOr<crypto::Ed25519PrivateKey> LoadOrCreateSigningKey(const std::string& path);

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

}  // namespace asb::audit
