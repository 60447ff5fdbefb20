#include "services/notify/webhook_sender.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "httplib.h"
#include "services/notify/webhook_signature.h"

namespace asb::notify {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("webhook");
  return lg;
}

// What a failed attempt is called in the audit record and the log: no body, no secret.
std::string Describe(httplib::Error error, long verify_result) {
  switch (error) {
    case httplib::Error::Connection:
      return "could not connect";
    case httplib::Error::ConnectionTimeout:
      return "timed out connecting";
    case httplib::Error::Read:
      return "timed out or failed reading the answer";
    case httplib::Error::Write:
      return "failed sending the request";
    case httplib::Error::SSLConnection:
      return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts:
      return "TLS: could not load the CA file";
    case httplib::Error::SSLServerVerification:
      return absl::StrCat("TLS: the receiver's certificate did not verify against the CA (",
                          X509_verify_cert_error_string(verify_result), ")");
    case httplib::Error::Canceled:
      return "cancelled";
    default:
      return "failed (" + std::to_string(static_cast<int>(error)) + ")";
  }
}

// A worker's connections, one per agency (kept alive between attempts).
using Clients = std::map<std::string, std::unique_ptr<httplib::SSLClient>>;

}  // namespace

absl::Status ParseHttpsUrl(const std::string& url, std::string* host, int* port,
                           std::string* path) {
  constexpr std::string_view kScheme = "https://";
  if (!std::string_view(url).starts_with(kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat("'", url, "' is not an https:// URL"));
  }
  std::string rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  *path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string authority = rest.substr(0, slash);
  *port = 443;
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    if (!absl::SimpleAtoi(authority.substr(colon + 1), port) || *port <= 0 || *port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("'", url, "': bad port"));
    }
    authority = authority.substr(0, colon);
  }
  if (authority.size() >= 2 && authority.front() == '[' && authority.back() == ']') {
    authority = authority.substr(1, authority.size() - 2);
  }
  if (authority.empty() || authority.find('@') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("'", url, "': no host (or user info)"));
  }
  *host = authority;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WebhookSender>> WebhookSender::Create(
    std::vector<WebhookEndpoint> endpoints, ResultFn on_result, std::size_t threads,
    std::size_t capacity) {
  for (const WebhookEndpoint& e : endpoints) {
    std::string host, path;
    int port = 0;
    if (absl::Status s = ParseHttpsUrl(e.url, &host, &port, &path); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("webhook of ", e.agency, ": ", s.message()));
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(e.ca_file, ec)) {
      return absl::NotFoundError(
          absl::StrCat("webhook of ", e.agency, ": CA file ", e.ca_file, " not found"));
    }
  }
  std::unique_ptr<WebhookSender> s(new WebhookSender());
  s->endpoints_ = std::move(endpoints);
  s->on_result_ = std::move(on_result);
  s->capacity_ = capacity;
  threads = std::max<std::size_t>(threads, 1);
  s->cancel_.resize(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    s->workers_.emplace_back([p = s.get(), i] { p->Work(i); });
  }
  return s;
}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& cancel : cancel_) {
      if (cancel) {
        cancel();
      }
    }
  }
  cv_.notify_all();
  for (std::thread& t : workers_) {
    t.join();
  }
}

bool WebhookSender::Submit(WebhookAttempt attempt) {
  const bool known =
      std::any_of(endpoints_.begin(), endpoints_.end(),
                  [&](const WebhookEndpoint& e) { return e.agency == attempt.agency; });
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!known || stopping_ || queue_.size() >= capacity_) {
      return false;
    }
    queue_.push_back(std::move(attempt));
  }
  cv_.notify_one();
  return true;
}

void WebhookSender::Work(std::size_t slot) {
  Clients clients;
  while (true) {
    WebhookAttempt attempt;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        return;
      }
      attempt = std::move(queue_.front());
      queue_.pop_front();
    }
    WebhookResult result = Post(attempt, &clients, slot);
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancel_[slot] = nullptr;
      if (stopping_) {
        return;  // the daemon is going away: the attempt is made again after a restart
      }
    }
    on_result_(std::move(result));
  }
}

WebhookResult WebhookSender::Post(const WebhookAttempt& attempt, void* clients_ptr,
                                  std::size_t slot) {
  Clients& clients = *static_cast<Clients*>(clients_ptr);
  WebhookResult result;
  result.agency = attempt.agency;
  result.seq = attempt.seq;
  result.attempt = attempt.attempt;
  const WebhookEndpoint* endpoint = nullptr;
  for (const WebhookEndpoint& e : endpoints_) {
    if (e.agency == attempt.agency) {
      endpoint = &e;
    }
  }
  std::string host, path;
  int port = 0;
  if (endpoint == nullptr || !ParseHttpsUrl(endpoint->url, &host, &port, &path).ok()) {
    result.error = "no endpoint";
    return result;
  }
  std::unique_ptr<httplib::SSLClient>& client = clients[attempt.agency];
  if (client == nullptr) {
    client = std::make_unique<httplib::SSLClient>(host, port);
    client->set_ca_cert_path(endpoint->ca_file);
    client->enable_server_certificate_verification(true);
    const int64_t us = absl::ToInt64Microseconds(endpoint->timeout);
    client->set_connection_timeout(us / 1000000, us % 1000000);
    client->set_read_timeout(us / 1000000, us % 1000000);
    client->set_write_timeout(us / 1000000, us % 1000000);
    client->set_keep_alive(true);
  }
  {
    // Registered so the destructor can stop a request waiting on a slow receiver.
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      result.error = "cancelled";
      return result;
    }
    httplib::SSLClient* raw = client.get();
    cancel_[slot] = [raw] { raw->stop(); };
  }
  httplib::Headers headers = {
      {kAlertIdHeader, absl::StrCat(attempt.agency, "/", attempt.seq)},
      {kAttemptHeader, absl::StrCat(attempt.attempt)},
      {kSignatureHeader, SignWebhook(endpoint->secret, absl::Now(), attempt.body)},
      {"User-Agent", "asb-notify"},
  };
  httplib::Result res = client->Post(path, headers, attempt.body, "application/json");
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_[slot] = nullptr;  // before the client may go
  }
  if (!res) {
    result.error = Describe(res.error(), client->get_openssl_verify_result());
    // A broken connection is not reused.
    client.reset();
  } else {
    result.http_status = res->status;
    if (!result.ok()) {
      result.error = absl::StrCat("HTTP ", res->status);
    }
  }
  SPDLOG_LOGGER_DEBUG(Logger(), "[{}] alert {} attempt {}: {}", attempt.agency, attempt.seq,
                      attempt.attempt, result.ok() ? "acknowledged" : result.error);
  return result;
}

}  // namespace asb::notify
