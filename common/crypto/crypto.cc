// HmacSha256Key keeps prepared SHA256_CTX states and copies them by value per MAC: OpenSSL 3's
// EVP_MD_CTX_copy_ex allocates a provider context on every copy, which cost more than the
// hashing itself for the ISP engine's short inputs. The low-level SHA-256 API is deprecated in
// OpenSSL 3.0 but present throughout 3.x.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "common/crypto/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdint>
#include <cstring>
#include <memory>

namespace asb::crypto {

std::string Sha256(std::string_view data) {
  // Not the one-shot SHA256(): in OpenSSL 3 it fetches the digest and allocates an EVP context
  // on every call, which costs more than hashing a Merkle node.
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256_Final(reinterpret_cast<unsigned char*>(out.data()), &ctx);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       reinterpret_cast<unsigned char*>(out.data()), &len);
  out.resize(len);
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

absl::StatusOr<std::string> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError("hex string has odd length");
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]);
    int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError("not a hex string");
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

namespace {

constexpr char kZ85Alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

}  // namespace

struct HmacSha256Key::State {
  SHA256_CTX inner;  // after absorbing key XOR ipad
  SHA256_CTX outer;  // after absorbing key XOR opad
};

HmacSha256Key::HmacSha256Key(std::unique_ptr<State> state) : state_(std::move(state)) {}
HmacSha256Key::HmacSha256Key(HmacSha256Key&&) noexcept = default;
HmacSha256Key& HmacSha256Key::operator=(HmacSha256Key&&) noexcept = default;
HmacSha256Key::~HmacSha256Key() = default;

absl::StatusOr<HmacSha256Key> HmacSha256Key::Create(std::string_view key) {
  if (key.empty()) {
    return absl::InvalidArgumentError("HMAC key is empty");
  }
  constexpr std::size_t kBlock = 64;
  unsigned char block[kBlock] = {};
  if (key.size() > kBlock) {
    std::string digest = Sha256(key);
    std::memcpy(block, digest.data(), digest.size());
  } else {
    std::memcpy(block, key.data(), key.size());
  }
  unsigned char ipad[kBlock];
  unsigned char opad[kBlock];
  for (std::size_t i = 0; i < kBlock; ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  auto state = std::make_unique<State>();
  if (SHA256_Init(&state->inner) != 1 || SHA256_Update(&state->inner, ipad, kBlock) != 1 ||
      SHA256_Init(&state->outer) != 1 || SHA256_Update(&state->outer, opad, kBlock) != 1) {
    return absl::InternalError("OpenSSL SHA-256 initialisation failed");
  }
  return HmacSha256Key(std::move(state));
}

void HmacSha256Key::MacTo(std::string_view data, unsigned char out[32]) const {
  unsigned char inner[32];
  SHA256_CTX ctx = state_->inner;
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(inner, &ctx);
  ctx = state_->outer;
  SHA256_Update(&ctx, inner, sizeof(inner));
  SHA256_Final(out, &ctx);
}

std::string HmacSha256Key::Mac(std::string_view data) const {
  std::string out(32, '\0');
  MacTo(data, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

absl::StatusOr<std::string> Z85Encode(std::string_view bytes) {
  if (bytes.size() % 4 != 0) {
    return absl::InvalidArgumentError("Z85 input length is not a multiple of 4");
  }
  std::string out;
  out.reserve(bytes.size() / 4 * 5);
  for (std::size_t i = 0; i < bytes.size(); i += 4) {
    uint32_t value = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      value = value * 256 + static_cast<unsigned char>(bytes[i + j]);
    }
    char group[5];
    for (int j = 4; j >= 0; --j) {
      group[j] = kZ85Alphabet[value % 85];
      value /= 85;
    }
    out.append(group, 5);
  }
  return out;
}

absl::StatusOr<std::string> Z85Decode(std::string_view text) {
  if (text.size() % 5 != 0) {
    return absl::InvalidArgumentError("Z85 text length is not a multiple of 5");
  }
  int digit[256];
  for (int& d : digit) {
    d = -1;
  }
  for (int i = 0; i < 85; ++i) {
    digit[static_cast<unsigned char>(kZ85Alphabet[i])] = i;
  }
  std::string out;
  out.reserve(text.size() / 5 * 4);
  for (std::size_t i = 0; i < text.size(); i += 5) {
    uint64_t value = 0;
    for (std::size_t j = 0; j < 5; ++j) {
      int d = digit[static_cast<unsigned char>(text[i + j])];
      if (d < 0) {
        return absl::InvalidArgumentError("not a Z85 character");
      }
      value = value * 85 + static_cast<uint64_t>(d);
    }
    if (value > 0xffffffffULL) {
      return absl::InvalidArgumentError("Z85 group out of range");
    }
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((value >> shift) & 0xff));
    }
  }
  return out;
}

absl::StatusOr<std::string> RandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return out;
}

}  // namespace asb::crypto
