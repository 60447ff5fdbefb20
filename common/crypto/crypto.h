#pragma once

// OpenSSL behind Status-returning functions. EVP objects live in unique_ptrs with custom
// deleters; the OpenSSL error queue becomes the Status message.

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

// n cryptographically random bytes.
absl::StatusOr<std::string> RandomBytes(std::size_t n);

}  // namespace asb::crypto
