// Ed25519 through OpenSSL 3's EVP interface (one-shot EVP_DigestSign/Verify with no digest, as
// Ed25519 requires). Keys and contexts live in unique_ptrs with their OpenSSL deleters.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/crypto/crypto.h"

namespace asb::crypto {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// The OpenSSL error queue (emptied) as a Status of `code`.
absl::Status OpenSslError(absl::StatusCode code, std::string_view what) {
  std::string detail;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&detail, detail.empty() ? "" : "; ", buf);
  }
  return absl::Status(code, detail.empty() ? std::string(what) : std::string(what) + ": " + detail);
}

absl::StatusOr<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0) {
    return absl::InternalError("BIO_get_mem_data failed");
  }
  return std::string(data, static_cast<std::size_t>(len));
}

absl::StatusOr<std::string> RawPublic(EVP_PKEY* key) {
  std::string raw(32, '\0');
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != 32) {
    return OpenSslError(absl::StatusCode::kInternal, "Ed25519 raw public key");
  }
  return raw;
}

absl::StatusOr<std::string> PublicPemOf(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "writing an Ed25519 public key");
  }
  return BioContents(bio.get());
}

}  // namespace

struct Ed25519PrivateKey::Impl {
  PkeyPtr key;
};
struct Ed25519PublicKey::Impl {
  PkeyPtr key;
};

Ed25519PrivateKey::Ed25519PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ed25519PrivateKey::Ed25519PrivateKey(Ed25519PrivateKey&&) noexcept = default;
Ed25519PrivateKey& Ed25519PrivateKey::operator=(Ed25519PrivateKey&&) noexcept = default;
Ed25519PrivateKey::~Ed25519PrivateKey() = default;

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate() {
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "generating an Ed25519 key");
  }
  auto impl = std::make_unique<Impl>();
  impl->key.reset(raw);
  return Ed25519PrivateKey(std::move(impl));
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return OpenSslError(absl::StatusCode::kInternal, "BIO_new_mem_buf");
  }
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not a PEM private key");
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("the PEM private key is not an Ed25519 key");
  }
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return Ed25519PrivateKey(std::move(impl));
}

absl::StatusOr<std::string> Ed25519PrivateKey::PrivatePem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "writing an Ed25519 private key");
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> Ed25519PrivateKey::PublicPem() const {
  return PublicPemOf(impl_->key.get());
}

absl::StatusOr<std::string> Ed25519PrivateKey::RawPublicKey() const {
  return RawPublic(impl_->key.get());
}

absl::StatusOr<std::string> Ed25519PrivateKey::Sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  std::size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "Ed25519 signing");
  }
  sig.resize(len);
  return sig;
}

Ed25519PublicKey::Ed25519PublicKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ed25519PublicKey::Ed25519PublicKey(Ed25519PublicKey&&) noexcept = default;
Ed25519PublicKey& Ed25519PublicKey::operator=(Ed25519PublicKey&&) noexcept = default;
Ed25519PublicKey::~Ed25519PublicKey() = default;

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return OpenSslError(absl::StatusCode::kInternal, "BIO_new_mem_buf");
  }
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not a PEM public key");
  }
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("the PEM public key is not an Ed25519 key");
  }
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return Ed25519PublicKey(std::move(impl));
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromRaw(std::string_view raw) {
  if (raw.size() != 32) {
    return absl::InvalidArgumentError("an Ed25519 public key is 32 bytes");
  }
  PkeyPtr key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size()));
  if (!key) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not an Ed25519 public key");
  }
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return Ed25519PublicKey(std::move(impl));
}

absl::Status Ed25519PublicKey::Verify(std::string_view message, std::string_view signature) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, impl_->key.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "Ed25519 verify init");
  }
  const int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();  // a bad signature leaves an entry; it is not an OpenSSL failure
  if (rc != 1) {
    return absl::InvalidArgumentError("signature does not verify");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Ed25519PublicKey::RawPublicKey() const {
  return RawPublic(impl_->key.get());
}

}  // namespace asb::crypto
