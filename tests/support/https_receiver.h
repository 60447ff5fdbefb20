#pragma once

// A real HTTPS server for webhook tests, as a partner's receiver would run it: cpp-httplib's
// SSLServer on 127.0.0.1 with a certificate (for 127.0.0.1 and localhost) issued by a CA made
// for the test (ECDSA P-256, OpenSSL), written to a temp directory. Each request is recorded,
// and answered as the test says: a status, or held unanswered (the client times out) until
// Release(). Thread-safe.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/temp_dir.h"

namespace httplib {
class SSLServer;
}

namespace asb::testing {

// A CA and a certificate it issued, as PEM files.
struct TestPki {
  std::string ca_file;    // the CA certificate
  std::string cert_file;  // the server certificate (SAN IP:127.0.0.1, DNS:localhost)
  std::string key_file;   // its private key
};

// Makes a fresh CA and a server certificate under `dir` (files named with `prefix`).
absl::StatusOr<TestPki> MakeTestPki(const std::string& dir, const std::string& prefix = "");

class HttpsReceiver {
 public:
  struct Request {
    std::string path;
    std::string body;
    std::string signature;  // X-Asbhub-Signature
    std::string alert_id;   // X-Asbhub-Alert-Id
    std::string attempt;    // X-Asbhub-Attempt
    std::size_t index = 0;  // 0 for the first request this receiver got, then 1, ...
  };
  // What to do with a request: an HTTP status, or kHold (no answer until Release()). Called
  // with the receiver's lock held: it must not call back into the receiver.
  static constexpr int kHold = -1;
  using Behaviour = std::function<int(const Request&)>;

  // Listens on 127.0.0.1 (a free port) with a new test PKI. Answers 200 until told otherwise.
  static absl::StatusOr<std::unique_ptr<HttpsReceiver>> Start();
  ~HttpsReceiver();

  void SetBehaviour(Behaviour behaviour);
  // Answers every held request (with 503) and stops holding new ones until SetBehaviour.
  void Release();

  // "https://127.0.0.1:PORT/alerts"
  std::string url() const;
  const TestPki& pki() const { return pki_; }
  std::vector<Request> requests() const;
  // Waits until at least `n` requests arrived; false at the deadline.
  bool WaitForRequests(std::size_t n, absl::Duration timeout) const;

 private:
  HttpsReceiver() = default;

  TempDir dir_;
  TestPki pki_;
  int port_ = 0;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Behaviour behaviour_;              // guarded by mu_
  std::vector<Request> requests_;    // guarded by mu_
  uint64_t release_generation_ = 0;  // guarded by mu_
  bool stopping_ = false;            // guarded by mu_
};

}  // namespace asb::testing
