#pragma once

// The HTTP side of asb-notify's webhook delivery: worker threads that POST attempts over HTTPS
// (cpp-httplib with OpenSSL: the receiver's certificate is verified against the configured CA,
// host name included) and hand each result to a callback — in asb-notify one that posts it back
// to the daemon's loop, which alone touches the store. The queue is bounded; nothing here is
// durable (services/notify/webhooks.h keeps the state).

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace asb::notify {

// One agency's receiver.
struct WebhookEndpoint {
  std::string agency;
  std::string url;      // https://host[:port]/path
  std::string ca_file;  // PEM
  std::string secret;   // HMAC key
  absl::Duration timeout = absl::Seconds(10);
};

// One POST to make.
struct WebhookAttempt {
  std::string agency;
  uint64_t seq = 0;
  uint32_t attempt = 0;  // 1 for the first
  std::string body;      // the alert as JSON
};

// What came of it.
struct WebhookResult {
  std::string agency;
  uint64_t seq = 0;
  uint32_t attempt = 0;
  int http_status = 0;  // 0: no HTTP answer (see error)
  std::string error;    // "HTTP 503", "timed out", "TLS: certificate verify failed", ...
  bool ok() const { return http_status >= 200 && http_status < 300; }
};

// Splits "https://host[:port]/path" into host, port (default 443) and path (default "/").
// kInvalidArgument naming what is wrong (not https, no host, bad port).
absl::Status ParseHttpsUrl(const std::string& url, std::string* host, int* port, std::string* path);

// Thread-safe. Destroy it before whatever the result callback touches.
class WebhookSender {
 public:
  // Called on a worker thread, once per submitted attempt (never after destruction began).
  using ResultFn = std::function<void(WebhookResult)>;

  // kInvalidArgument for a bad URL; kNotFound if a CA file is missing.
  static absl::StatusOr<std::unique_ptr<WebhookSender>> Create(
      std::vector<WebhookEndpoint> endpoints, ResultFn on_result, std::size_t threads = 2,
      std::size_t capacity = 256);
  // Cancels what is in flight (no result is reported for it) and joins the workers.
  ~WebhookSender();

  // Queues `attempt` for its agency's endpoint. False (nothing queued) if the queue is full or
  // the agency has no endpoint.
  bool Submit(WebhookAttempt attempt);

 private:
  WebhookSender() = default;
  // Worker `slot`'s loop; Post makes one attempt with the worker's connections.
  void Work(std::size_t slot);
  WebhookResult Post(const WebhookAttempt& attempt, void* clients, std::size_t slot);

  std::vector<WebhookEndpoint> endpoints_;
  ResultFn on_result_;
  std::size_t capacity_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WebhookAttempt> queue_;           // guarded by mu_
  bool stopping_ = false;                      // guarded by mu_
  std::vector<std::function<void()>> cancel_;  // guarded by mu_: stops a worker's request
  std::vector<std::thread> workers_;
};

}  // namespace asb::notify
