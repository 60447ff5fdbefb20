#pragma once

// AES-256-GCM (OpenSSL EVP) and the at-rest master key ring.
//
// A key ring is a path prefix P naming key files P.<id>.key (id = 1, 2, …): each holds one
// 256-bit key in hex, is readable by its owner only (mode 0600; anything else is refused), and is
// written by `asbctl keys rotate --ring P` (WriteNextRingKey). The newest key (highest id)
// encrypts new data; older keys stay to read what they encrypted. E.g. the demo ring
// config/keys/demo/at-rest-intake is config/keys/demo/at-rest-intake.1.key.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace asb::crypto {

inline constexpr std::size_t kAeadKeySize = 32;    // AES-256
inline constexpr std::size_t kAeadNonceSize = 12;  // GCM's 96-bit IV
inline constexpr std::size_t kAeadTagSize = 16;    // GCM's 128-bit tag

// A fresh random AES-GCM nonce (kAeadNonceSize bytes). Drawn from a per-thread buffer of
// RAND_bytes output refilled 4 KiB at a time: as random as a RAND_bytes call per nonce, without
// its per-call cost (OpenSSL checks getpid() on every call). A child process discards the
// buffer it inherits at fork(), so parent and child never share nonces. kInternal if OpenSSL
// fails.
absl::StatusOr<std::string> NewAeadNonce();

// AES-256-GCM encryption of `plaintext` under `key` (32 bytes) and `nonce` (12 bytes, never
// reused with the same key: callers draw it at random), authenticating `aad` too. Appends
// ciphertext || tag (plaintext.size() + 16 bytes) to *out. kInvalidArgument for a bad key or
// nonce size; kInternal if OpenSSL fails.
absl::Status AeadSeal(std::string_view key, std::string_view nonce, std::string_view plaintext,
                      std::string_view aad, std::string* out);

// Decrypts ciphertext || tag as written by AeadSeal, into *out (replaced). kDataLoss ("does not
// authenticate") if the key, nonce, aad or any byte differs; kInvalidArgument for bad sizes.
absl::Status AeadOpen(std::string_view key, std::string_view nonce, std::string_view sealed,
                      std::string_view aad, std::string* out);

// Master keys by id. Immutable after loading.
class KeyRing {
 public:
  // Loads every P.<id>.key. kNotFound if there is none; kPermissionDenied (naming the file) if a
  // key file is readable or writable by group or others; kInvalidArgument for a file that does
  // not hold exactly one 64-hex-digit key.
  static absl::StatusOr<KeyRing> Load(const std::string& prefix);
  // A ring from keys in memory (tests, benchmarks). REQUIRES: every key is 32 bytes.
  static KeyRing FromKeys(std::map<uint32_t, std::string> keys, std::string prefix = "");

  // The key with this id, or nullptr.
  const std::string* Find(uint32_t id) const;
  // The highest id (the key new data is encrypted with).
  uint32_t newest_id() const { return keys_.rbegin()->first; }
  const std::string& newest_key() const { return keys_.rbegin()->second; }
  std::size_t size() const { return keys_.size(); }
  const std::string& prefix() const { return prefix_; }

  KeyRing(KeyRing&&) noexcept = default;
  KeyRing& operator=(KeyRing&&) noexcept = default;
  // Overwrites the key bytes.
  ~KeyRing();

 private:
  KeyRing() = default;
  std::string prefix_;
  std::map<uint32_t, std::string> keys_;
};

// The key file name of key `id` in ring `prefix`: "<prefix>.<id>.key".
std::string RingKeyFile(const std::string& prefix, uint32_t id);

// Writes a fresh random key as the next id of ring `prefix` (1 for a new ring), mode 0600,
// never overwriting a file; creates the directory (0700) if missing. Returns the new id.
absl::StatusOr<uint32_t> WriteNextRingKey(const std::string& prefix);

}  // namespace asb::crypto
