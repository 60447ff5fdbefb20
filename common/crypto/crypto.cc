#include "common/crypto/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "common/status/check.h"

namespace asb::crypto {

std::string Sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
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

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// A per-thread scratch context: copying a prepared state into it needs no allocation.
EVP_MD_CTX* Scratch() {
  thread_local MdCtx ctx(EVP_MD_CTX_new());
  return ctx.get();
}

constexpr char kZ85Alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

}  // namespace

struct HmacSha256Key::State {
  MdCtx inner;  // SHA-256 state after absorbing key XOR ipad
  MdCtx outer;  // SHA-256 state after absorbing key XOR opad
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
  state->inner.reset(EVP_MD_CTX_new());
  state->outer.reset(EVP_MD_CTX_new());
  if (state->inner == nullptr || state->outer == nullptr ||
      EVP_DigestInit_ex(state->inner.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(state->inner.get(), ipad, kBlock) != 1 ||
      EVP_DigestInit_ex(state->outer.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(state->outer.get(), opad, kBlock) != 1) {
    return absl::InternalError("OpenSSL SHA-256 initialisation failed");
  }
  return HmacSha256Key(std::move(state));
}

void HmacSha256Key::MacTo(std::string_view data, unsigned char out[32]) const {
  EVP_MD_CTX* ctx = Scratch();
  unsigned char inner[32];
  unsigned int len = 0;
  // These calls fail only on allocation failure inside OpenSSL; the check keeps it loud.
  bool ok = EVP_MD_CTX_copy_ex(ctx, state_->inner.get()) == 1 &&
            EVP_DigestUpdate(ctx, data.data(), data.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, inner, &len) == 1 &&
            EVP_MD_CTX_copy_ex(ctx, state_->outer.get()) == 1 &&
            EVP_DigestUpdate(ctx, inner, sizeof(inner)) == 1 &&
            EVP_DigestFinal_ex(ctx, out, &len) == 1;
  ASB_CHECK(ok);
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
