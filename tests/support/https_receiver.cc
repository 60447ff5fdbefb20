#include "tests/support/https_receiver.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace asb::testing {
namespace {

struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter>;
using Cert = std::unique_ptr<X509, Deleter>;

bool AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Deleter> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  return ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1;
}

// A certificate for `cn` with `key`, signed by issuer_key (self-signed when issuer is null).
Cert Issue(const char* cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, long serial,
           bool ca) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (ca) {
    ok = AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE") &&
         AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExtension(cert.get(), signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") &&
         AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
  }
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) {
    return nullptr;
  }
  return cert;
}

bool WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return false;
  }
  const bool ok = cert != nullptr
                      ? PEM_write_X509(f, cert) == 1
                      : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir, const std::string& prefix) {
  Key ca_key(EVP_EC_gen("P-256"));
  Key server_key(EVP_EC_gen("P-256"));
  if (ca_key == nullptr || server_key == nullptr) {
    return absl::InternalError("EC key generation failed");
  }
  Cert ca = Issue("asbhub test CA", ca_key.get(), nullptr, ca_key.get(), 1, true);
  Cert server = ca == nullptr
                    ? nullptr
                    : Issue("localhost", server_key.get(), ca.get(), ca_key.get(), 2, false);
  if (server == nullptr) {
    return absl::InternalError("certificate issue failed");
  }
  TestPki pki;
  pki.ca_file = absl::StrCat(dir, "/", prefix, "ca.pem");
  pki.cert_file = absl::StrCat(dir, "/", prefix, "server.pem");
  pki.key_file = absl::StrCat(dir, "/", prefix, "server.key");
  if (!WritePem(pki.ca_file, ca.get(), nullptr) ||
      !WritePem(pki.cert_file, server.get(), nullptr) ||
      !WritePem(pki.key_file, nullptr, server_key.get())) {
    return absl::InternalError("cannot write the test PKI under " + dir);
  }
  return pki;
}

absl::StatusOr<std::unique_ptr<HttpsReceiver>> HttpsReceiver::Start() {
  std::unique_ptr<HttpsReceiver> r(new HttpsReceiver());
  auto pki = MakeTestPki(r->dir_.path());
  if (!pki.ok()) {
    return pki.status();
  }
  r->pki_ = *pki;
  r->server_ =
      std::make_unique<httplib::SSLServer>(r->pki_.cert_file.c_str(), r->pki_.key_file.c_str());
  if (!r->server_->is_valid()) {
    return absl::InternalError("the test HTTPS server did not take its certificate");
  }
  HttpsReceiver* self = r.get();
  r->server_->Post(".*", [self](const httplib::Request& req, httplib::Response& res) {
    Request got{req.path, req.body, req.get_header_value("X-Asbhub-Signature"),
                req.get_header_value("X-Asbhub-Alert-Id"),
                req.get_header_value("X-Asbhub-Attempt")};
    std::unique_lock<std::mutex> lock(self->mu_);
    got.index = self->requests_.size();
    self->requests_.push_back(got);
    self->cv_.notify_all();
    int status = self->behaviour_ ? self->behaviour_(got) : 200;
    if (status == kHold) {
      // Held until released (or 60 s, a bound so a broken test cannot hang here forever).
      const uint64_t generation = self->release_generation_;
      self->cv_.wait_for(lock, std::chrono::seconds(60), [self, generation] {
        return self->stopping_ || self->release_generation_ != generation;
      });
      status = 503;
    }
    res.status = status;
    res.set_content("", "text/plain");
  });
  r->port_ = r->server_->bind_to_any_port("127.0.0.1");
  if (r->port_ <= 0) {
    return absl::UnavailableError("the test HTTPS server could not listen");
  }
  r->thread_ = std::thread([self] {
    self->server_->listen_after_bind();
    self->done_.store(true);
  });
  return r;
}

HttpsReceiver::~HttpsReceiver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    // stop() before the listen loop began would be lost: repeat until the thread has left it.
    while (!done_.load()) {
      server_->stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    thread_.join();
  }
}

void HttpsReceiver::SetBehaviour(Behaviour behaviour) {
  std::lock_guard<std::mutex> lock(mu_);
  behaviour_ = std::move(behaviour);
}

void HttpsReceiver::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++release_generation_;
    behaviour_ = nullptr;
  }
  cv_.notify_all();
}

std::string HttpsReceiver::url() const {
  return absl::StrCat("https://127.0.0.1:", port_, "/alerts");
}

std::vector<HttpsReceiver::Request> HttpsReceiver::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

bool HttpsReceiver::WaitForRequests(std::size_t n, absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                      [this, n] { return requests_.size() >= n; });
}

}  // namespace asb::testing
