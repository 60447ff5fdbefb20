#pragma once

// OpenSSL behind Status-returning functions. EVP objects live in unique_ptrs with custom
// deleters; the OpenSSL error queue becomes the Status message.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace asb::crypto {

// Raw 32-byte SHA-256 digest.
std::string Sha256(std::string_view data);

// Raw 32-byte HMAC-SHA256 of data under key.
std::string HmacSha256(std::string_view key, std::string_view data);

// Lower-case hex.
std::string HexEncode(std::string_view bytes);
// kInvalidArgument on odd length or a non-hex character.
absl::StatusOr<std::string> HexDecode(std::string_view hex);

// HMAC-SHA256 under one fixed key, with the key's inner and outer SHA-256 states computed once,
// so each Mac() costs two SHA-256 finalisations and no key schedule (the ISP engine pseudonymises
// many short values under one partnership key). Immutable after Create; Mac() is thread-safe.
class HmacSha256Key {
 public:
  // kInvalidArgument if key is empty; kInternal if OpenSSL fails.
  static absl::StatusOr<HmacSha256Key> Create(std::string_view key);

  // Raw 32-byte HMAC-SHA256(key, data); equal to HmacSha256(key, data).
  std::string Mac(std::string_view data) const;
  // Writes the 32-byte MAC to out[0..31].
  void MacTo(std::string_view data, unsigned char out[32]) const;

  HmacSha256Key(HmacSha256Key&&) noexcept;
  HmacSha256Key& operator=(HmacSha256Key&&) noexcept;
  ~HmacSha256Key();

 private:
  struct State;
  explicit HmacSha256Key(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Z85 (ZeroMQ RFC 32) encoding of a byte string whose length is a multiple of 4.
absl::StatusOr<std::string> Z85Encode(std::string_view bytes);
// Z85 decoding; kInvalidArgument unless the length is a multiple of 5 and every character is in
// the Z85 alphabet and every 5-character group fits in 32 bits.
absl::StatusOr<std::string> Z85Decode(std::string_view text);

// n cryptographically random bytes.
absl::StatusOr<std::string> RandomBytes(std::size_t n);

// An Ed25519 private key (OpenSSL EVP_PKEY_ED25519). Immutable; Sign() is thread-safe.
class Ed25519PrivateKey {
 public:
  // A fresh random key. kInternal if OpenSSL fails.
  static absl::StatusOr<Ed25519PrivateKey> Generate();
  // From PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). kInvalidArgument if it is not an Ed25519
  // private key.
  static absl::StatusOr<Ed25519PrivateKey> FromPem(std::string_view pem);

  // PKCS#8 PEM of the private key (keep it secret).
  absl::StatusOr<std::string> PrivatePem() const;
  // SubjectPublicKeyInfo PEM of the public key ("-----BEGIN PUBLIC KEY-----").
  absl::StatusOr<std::string> PublicPem() const;
  // The raw 32-byte public key.
  absl::StatusOr<std::string> RawPublicKey() const;
  // The 64-byte Ed25519 signature of `message`.
  absl::StatusOr<std::string> Sign(std::string_view message) const;

  Ed25519PrivateKey(Ed25519PrivateKey&&) noexcept;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&&) noexcept;
  ~Ed25519PrivateKey();

 private:
  struct Impl;
  explicit Ed25519PrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// An Ed25519 public key. Immutable; Verify() is thread-safe.
class Ed25519PublicKey {
 public:
  // From SubjectPublicKeyInfo PEM. kInvalidArgument if it is not an Ed25519 public key.
  static absl::StatusOr<Ed25519PublicKey> FromPem(std::string_view pem);
  // From the raw 32 bytes. kInvalidArgument otherwise.
  static absl::StatusOr<Ed25519PublicKey> FromRaw(std::string_view raw);

  // OK if `signature` is a valid signature of `message` under this key; kInvalidArgument
  // ("signature does not verify") otherwise.
  absl::Status Verify(std::string_view message, std::string_view signature) const;
  // The raw 32-byte public key.
  absl::StatusOr<std::string> RawPublicKey() const;

  Ed25519PublicKey(Ed25519PublicKey&&) noexcept;
  Ed25519PublicKey& operator=(Ed25519PublicKey&&) noexcept;
  ~Ed25519PublicKey();

 private:
  struct Impl;
  explicit Ed25519PublicKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace asb::crypto
