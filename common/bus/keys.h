#pragma once

// CurveZMQ key pairs and key files. A key file is YAML (asb.config.v1.CurveKeyFile):
//   name: police-partner
//   public_key: "…40 Z85 characters…"
//   secret_key: "…"          # only in NAME.key (mode 0600), never in NAME.pub

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace asb::bus {

struct KeyPair {
  std::string name;
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters; empty for a public-only key
};

// A fresh key pair from libzmq (libsodium).
absl::StatusOr<KeyPair> GenerateKeyPair(const std::string& name);

// Writes dir/NAME.key (mode 0600, both keys) and dir/NAME.pub. kAlreadyExists if NAME.key
// exists (keys are never silently overwritten).
absl::Status WriteKeyFiles(const std::string& dir, const KeyPair& keys);

// Loads a key file. With require_secret, kInvalidArgument unless it holds a valid secret key
// whose public key is the file's public_key; kPermissionDenied if a secret key file is
// readable by group or others.
absl::StatusOr<KeyPair> LoadKeyFile(const std::string& path, bool require_secret);

// True if `key` is 40 Z85 characters that decode to 32 bytes.
bool IsValidZ85Key(const std::string& key);

// The first 8 characters and an ellipsis: enough to name a key in a log or error, no more.
std::string KeyPrefix(const std::string& public_key);

}  // namespace asb::bus
