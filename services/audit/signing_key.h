#pragma once

// asb-audit's tree-head signing key: the Ed25519 key in a PEM file, created on first start,
// with its public key beside it. What a head signs, and the signer: common/auditlog/tree_head.h.

#include <string>

#include "absl/status/statusor.h"
#include "common/crypto/crypto.h"

namespace asb::audit {

// "x.pem" -> "x.pub.pem"; any other name gets ".pub.pem" appended.
std::string PublicKeyPathFor(const std::string& private_key_path);

// Loads the Ed25519 private key from `path` (PKCS#8 PEM). If the file does not exist, generates
// one, writes it with mode 0600 (creating the directory if needed) and writes the public key to
// PublicKeyPathFor(path) (mode 0644). kFailedPrecondition if the file is readable or writable by
// group or others; kInvalidArgument if it is not an Ed25519 key; kUnavailable on I/O errors.
absl::StatusOr<crypto::Ed25519PrivateKey> LoadOrCreateSigningKey(const std::string& path);

}  // namespace asb::audit
