#include "common/crypto/aead.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/crypto/crypto.h"

namespace asb::crypto {
namespace {

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

// OpenSSL 3 looks the algorithm up in its providers on every init given EVP_aes_256_gcm();
// fetching it once and reusing one context per thread more than halves the cost of a 1 KiB
// value.
const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* cipher = [] {
    EVP_CIPHER* fetched = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    return fetched != nullptr ? static_cast<const EVP_CIPHER*>(fetched) : EVP_aes_256_gcm();
  }();
  return cipher;
}

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// One context per thread and direction that keeps the key it was last given: values under the
// same key (nearly all of them: a ring's newest master key) then only set a new nonce, skipping
// the AES key schedule and the GCM setup (a third of the cost of a 300-byte value).
class KeyedCtx {
 public:
  // The thread's context for `encrypt`, initialised with `key` and `nonce`; nullptr if OpenSSL
  // fails.
  static EVP_CIPHER_CTX* Get(bool encrypt, std::string_view key, std::string_view nonce) {
    thread_local KeyedCtx contexts[2];
    return contexts[encrypt ? 1 : 0].Init(encrypt, key, nonce);
  }
  ~KeyedCtx() { OPENSSL_cleanse(key_, sizeof key_); }

 private:
  EVP_CIPHER_CTX* Init(bool encrypt, std::string_view key, std::string_view nonce) {
    if (ctx_ == nullptr) {
      return nullptr;
    }
    const bool same = keyed_ && CRYPTO_memcmp(key_, key.data(), sizeof key_) == 0;
    const int ok = encrypt ? EVP_EncryptInit_ex(ctx_.get(), same ? nullptr : Aes256Gcm(), nullptr,
                                                same ? nullptr : U(key), U(nonce))
                           : EVP_DecryptInit_ex(ctx_.get(), same ? nullptr : Aes256Gcm(), nullptr,
                                                same ? nullptr : U(key), U(nonce));
    keyed_ = ok == 1;
    if (!keyed_) {
      return nullptr;
    }
    std::memcpy(key_, key.data(), sizeof key_);
    return ctx_.get();
  }

  CtxPtr ctx_{EVP_CIPHER_CTX_new()};
  unsigned char key_[kAeadKeySize] = {};
  bool keyed_ = false;
};

absl::Status CheckSizes(std::string_view key, std::string_view nonce) {
  if (key.size() != kAeadKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM key must be 32 bytes, not ", key.size()));
  }
  if (nonce.size() != kAeadNonceSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM nonce must be 12 bytes, not ", nonce.size()));
  }
  return absl::OkStatus();
}

// EVP lengths are int; values are bounded far below that by the bus limits.
absl::Status CheckLength(std::size_t n) {
  if (n > static_cast<std::size_t>(INT32_MAX) / 2) {
    return absl::InvalidArgumentError("AES-256-GCM input too large");
  }
  return absl::OkStatus();
}

constexpr char kKeyField[] = "key:";

std::string KeyFileText(uint32_t id, std::string_view key) {
  return absl::StrCat(
      "# asbhub at-rest master key ", id,
      " (AES-256-GCM), written by `asbctl keys rotate`.\n"
      "# SECRET: keep this file private (mode 0600). Data encrypted under it cannot be read "
      "without it.\n",
      kKeyField, " ", HexEncode(key), "\n");
}

// Reads a key file through one descriptor, checking its mode on that descriptor.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  if ((st.st_mode & 0077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": at-rest key file is accessible by group or others (mode ", mode,
                     "); chmod 600 it"));
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > 64 * 1024) {
      ::close(fd);
      return absl::InvalidArgumentError(path + ": too large for a key file");
    }
  }
  ::close(fd);
  if (n < 0) {
    return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  std::string key;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') {
      continue;
    }
    if (!key.empty() || !absl::ConsumePrefix(&line, kKeyField)) {
      return absl::InvalidArgumentError(
          path + ": expected one line \"key: <64 hex digits>\" (and # comments)");
    }
    const absl::string_view hex = absl::StripAsciiWhitespace(line);
    auto decoded = HexDecode(std::string_view(hex.data(), hex.size()));
    if (!decoded.ok() || decoded->size() != kAeadKeySize) {
      OPENSSL_cleanse(text.data(), text.size());
      return absl::InvalidArgumentError(path + ": key: must be 64 hex digits (256 bits)");
    }
    key = std::move(*decoded);
  }
  OPENSSL_cleanse(text.data(), text.size());
  if (key.empty()) {
    return absl::InvalidArgumentError(path + ": no \"key:\" line");
  }
  return key;
}

// Bumped in every child after fork(): thread buffers of another generation are refilled.
std::atomic<uint64_t> nonce_generation{0};

}  // namespace

absl::StatusOr<std::string> NewAeadNonce() {
  static std::once_flag registered;
  std::call_once(registered,
                 [] { ::pthread_atfork(nullptr, nullptr, [] { nonce_generation.fetch_add(1); }); });
  constexpr std::size_t kBufferSize = 4096 / kAeadNonceSize * kAeadNonceSize;
  thread_local unsigned char buffer[kBufferSize];
  thread_local std::size_t used = kBufferSize;
  thread_local uint64_t generation = 0;
  const uint64_t now = nonce_generation.load(std::memory_order_relaxed);
  if (used == kBufferSize || generation != now) {
    if (RAND_bytes(buffer, static_cast<int>(kBufferSize)) != 1) {
      return absl::InternalError("RAND_bytes failed");
    }
    used = 0;
    generation = now;
  }
  std::string nonce(reinterpret_cast<const char*>(buffer + used), kAeadNonceSize);
  used += kAeadNonceSize;
  return nonce;
}

absl::Status AeadSeal(std::string_view key, std::string_view nonce, std::string_view plaintext,
                      std::string_view aad, std::string* out) {
  if (absl::Status s = CheckSizes(key, nonce); !s.ok()) return s;
  if (absl::Status s = CheckLength(plaintext.size() + aad.size()); !s.ok()) return s;
  EVP_CIPHER_CTX* ctx = KeyedCtx::Get(/*encrypt=*/true, key, nonce);
  int len = 0;
  const std::size_t start = out->size();
  out->resize(start + plaintext.size() + kAeadTagSize);
  auto* dst = reinterpret_cast<unsigned char*>(out->data() + start);
  bool ok =
      ctx != nullptr &&
      (aad.empty() ||
       EVP_EncryptUpdate(ctx, nullptr, &len, U(aad), static_cast<int>(aad.size())) == 1) &&
      EVP_EncryptUpdate(ctx, dst, &len, U(plaintext), static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx, dst + len, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kAeadTagSize, dst + plaintext.size()) == 1;
  if (!ok) {
    out->resize(start);
    return absl::InternalError("AES-256-GCM encryption failed (OpenSSL)");
  }
  return absl::OkStatus();
}

absl::Status AeadOpen(std::string_view key, std::string_view nonce, std::string_view sealed,
                      std::string_view aad, std::string* out) {
  if (absl::Status s = CheckSizes(key, nonce); !s.ok()) return s;
  if (sealed.size() < kAeadTagSize) {
    return absl::DataLossError("sealed value is shorter than its tag");
  }
  if (absl::Status s = CheckLength(sealed.size() + aad.size()); !s.ok()) return s;
  const std::size_t n = sealed.size() - kAeadTagSize;
  EVP_CIPHER_CTX* ctx = KeyedCtx::Get(/*encrypt=*/false, key, nonce);
  out->resize(n);
  auto* dst = reinterpret_cast<unsigned char*>(out->data());
  int len = 0;
  // The tag is only read by OpenSSL; the ctrl API takes a non-const pointer.
  unsigned char tag[kAeadTagSize];
  std::memcpy(tag, sealed.data() + n, kAeadTagSize);
  bool setup = ctx != nullptr &&
               (aad.empty() ||
                EVP_DecryptUpdate(ctx, nullptr, &len, U(aad), static_cast<int>(aad.size())) == 1) &&
               EVP_DecryptUpdate(ctx, dst, &len, U(sealed), static_cast<int>(n)) == 1 &&
               EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kAeadTagSize, tag) == 1;
  if (!setup) {
    out->clear();
    return absl::InternalError("AES-256-GCM decryption failed (OpenSSL)");
  }
  if (EVP_DecryptFinal_ex(ctx, dst + len, &len) != 1) {
    OPENSSL_cleanse(out->data(), out->size());
    out->clear();
    return absl::DataLossError("ciphertext does not authenticate (wrong key, or altered or moved)");
  }
  return absl::OkStatus();
}

absl::StatusOr<KeyRing> KeyRing::Load(const std::string& prefix) {
  namespace fs = std::filesystem;
  if (prefix.empty()) {
    return absl::InvalidArgumentError("key ring: path prefix required");
  }
  const fs::path p(prefix);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string base = p.filename().string() + ".";
  KeyRing ring;
  ring.prefix_ = prefix;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    absl::string_view rest = name;
    if (!absl::ConsumePrefix(&rest, base) || !absl::ConsumeSuffix(&rest, ".key")) {
      continue;
    }
    uint32_t id = 0;
    if (rest.empty() || !absl::SimpleAtoi(rest, &id) || id == 0 ||
        rest.find_first_not_of("0123456789") != absl::string_view::npos) {
      continue;  // not a ring key file name (e.g. "<prefix>.old.key")
    }
    auto key = ReadKeyFile(entry.path().string());
    if (!key.ok()) {
      return key.status();
    }
    if (!ring.keys_.emplace(id, std::move(*key)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, ": two key files have id ", id, " (e.g. leading zeros)"));
    }
  }
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("key ring ", prefix, ": cannot list ", dir.string(), ": ", ec.message()));
  }
  if (ring.keys_.empty()) {
    return absl::NotFoundError(absl::StrCat("key ring ", prefix, ": no key files ", prefix,
                                            ".<id>.key (asbctl keys rotate --ring ", prefix,
                                            " writes one)"));
  }
  return ring;
}

KeyRing KeyRing::FromKeys(std::map<uint32_t, std::string> keys, std::string prefix) {
  KeyRing ring;
  ring.keys_ = std::move(keys);
  ring.prefix_ = std::move(prefix);
  return ring;
}

KeyRing::~KeyRing() {
  for (auto& [id, key] : keys_) {
    OPENSSL_cleanse(key.data(), key.size());
  }
}

const std::string* KeyRing::Find(uint32_t id) const {
  auto it = keys_.find(id);
  return it == keys_.end() ? nullptr : &it->second;
}

std::string RingKeyFile(const std::string& prefix, uint32_t id) {
  return absl::StrCat(prefix, ".", id, ".key");
}

absl::StatusOr<uint32_t> WriteNextRingKey(const std::string& prefix) {
  namespace fs = std::filesystem;
  if (prefix.empty() || fs::path(prefix).filename().empty()) {
    return absl::InvalidArgumentError("key ring: a path prefix such as DIR/NAME is required");
  }
  const fs::path p(prefix);
  if (p.has_parent_path()) {
    std::error_code ec;
    if (!fs::exists(p.parent_path(), ec)) {
      fs::create_directories(p.parent_path(), ec);
      if (ec) {
        return absl::UnavailableError(p.parent_path().string() + ": " + ec.message());
      }
      fs::permissions(p.parent_path(), fs::perms::owner_all, ec);
    }
  }
  uint32_t next = 1;
  auto ring = KeyRing::Load(prefix);
  if (ring.ok()) {
    next = ring->newest_id() + 1;
  } else if (!absl::IsNotFound(ring.status())) {
    return ring.status();
  }
  auto key = RandomBytes(kAeadKeySize);
  if (!key.ok()) {
    return key.status();
  }
  std::string text = KeyFileText(next, *key);
  OPENSSL_cleanse(key->data(), key->size());
  const std::string path = RingKeyFile(prefix, next);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    OPENSSL_cleanse(text.data(), text.size());
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(path + " exists; refusing to overwrite a key");
    }
    return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  ::fchmod(fd, 0600);  // whatever the umask
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  OPENSSL_cleanse(text.data(), text.size());
  if (!ok) {
    ::unlink(path.c_str());
    return absl::UnavailableError(path + ": write failed");
  }
  return next;
}

}  // namespace asb::crypto
