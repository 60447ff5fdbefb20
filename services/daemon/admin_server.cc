#include "services/daemon/admin_server.h"

#include <sys/socket.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/metrics/registry.h"
#include "httplib.h"
#include "services/daemon/config_checks.h"

namespace asb::daemon {
namespace {

// A result handed from the loop to the HTTP thread waiting for it.
template <class T>
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<T> value;
};

}  // namespace

template <class T>
std::optional<T> AdminServer::InLoop(std::function<T()> fn) {
  auto pending = std::make_shared<Pending<T>>();
  loop_->Post([pending, fn = std::move(fn)] {
    T value = fn();
    std::lock_guard<std::mutex> lock(pending->mu);
    pending->value = std::move(value);
    pending->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(pending->mu);
  const auto deadline = std::chrono::steady_clock::now() + kLoopTimeout;
  // Wakes every 100 ms to notice a stop (the loop may be gone already).
  while (!pending->value.has_value() && !stopping_->load() &&
         std::chrono::steady_clock::now() < deadline) {
    pending->cv.wait_for(lock, std::chrono::milliseconds(100));
  }
  return std::move(pending->value);
}

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& bind,
                                                                bus::Loop* loop,
                                                                Handlers handlers) {
  static auto* lg = log::Get("daemon");
  std::string host;
  int port = 0;
  if (absl::Status s = ParseHostPort(bind, &host, &port); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("server.metrics_bind: ", s.message()));
  }
  std::unique_ptr<AdminServer> a(new AdminServer());
  a->loop_ = loop;
  a->handlers_ = std::move(handlers);
  a->http_ = std::make_unique<httplib::Server>();
  httplib::Server& http = *a->http_;
  // Two threads are plenty for a scraper and a health checker (the default is eight or more).
  http.new_task_queue = [] { return new httplib::ThreadPool(2); };
  // SO_REUSEADDR only: cpp-httplib's default also sets SO_REUSEPORT, with which a second daemon
  // on the same port would share it silently instead of failing to start.
  http.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http.set_keep_alive_timeout(5);
  http.set_read_timeout(5);
  http.set_payload_max_length(4096);
  AdminServer* self = a.get();
  http.Get("/metrics", [self](const httplib::Request&, httplib::Response& res) {
    std::optional<std::string> body = self->InLoop<std::string>(self->handlers_.metrics);
    if (!body.has_value()) {
      res.status = 503;
      res.set_content("the daemon's loop did not answer in time\n", "text/plain");
      return;
    }
    res.set_content(*body, metrics::Registry::kContentType);
  });
  http.Get("/healthz", [self](const httplib::Request&, httplib::Response& res) {
    const bool alive = self->InLoop<bool>([] { return true; }).has_value();
    res.status = alive ? 200 : 503;
    res.set_content(alive ? "ok\n" : "the daemon's loop did not answer in time\n", "text/plain");
  });
  http.Get("/readyz", [self](const httplib::Request&, httplib::Response& res) {
    std::optional<absl::Status> ready = self->InLoop<absl::Status>(self->handlers_.ready);
    if (!ready.has_value()) {
      ready = absl::UnavailableError("the daemon's loop did not answer in time");
    }
    res.status = ready->ok() ? 200 : 503;
    res.set_content(
        ready->ok() ? std::string("ready\n") : absl::StrCat("not ready: ", ready->message(), "\n"),
        "text/plain");
  });

  errno = 0;
  if (port == 0) {
    port = http.bind_to_any_port(host);
    if (port < 0) {
      port = 0;
    }
  } else if (!http.bind_to_port(host, port)) {
    port = 0;
  }
  if (port == 0) {
    const int err = errno;
    return absl::UnavailableError(absl::StrCat("server.metrics_bind: cannot listen on ", bind, " (",
                                               err == EADDRINUSE || err == 0
                                                   ? "port in use: is another daemon on it?"
                                                   : std::strerror(err),
                                               ")"));
  }
  a->endpoint_ =
      absl::StrCat(host.find(':') != std::string::npos ? "[" + host + "]" : host, ":", port);
  a->thread_ = std::thread([self] {
    self->http_->listen_after_bind();
    self->listening_done_->store(true);
  });
  SPDLOG_LOGGER_INFO(lg, "metrics and health on http://{}/metrics, /healthz, /readyz",
                     a->endpoint_);
  return a;
}

AdminServer::~AdminServer() {
  stopping_->store(true);
  if (thread_.joinable()) {
    // cpp-httplib's stop() does nothing until its listen loop has begun: repeat it until the
    // thread has left the loop.
    while (!listening_done_->load()) {
      http_->stop();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    thread_.join();
  }
}

}  // namespace asb::daemon
