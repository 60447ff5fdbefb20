#pragma once

// The HTTP endpoints every daemon serves to operators (ServerConfig.metrics_bind), owned by the
// Runtime so the four daemons keep one shape:
//   GET /metrics  the daemon's metrics::Registry in the Prometheus text format;
//   GET /healthz  200 "ok" while the daemon's loop answers (liveness);
//   GET /readyz   200 "ready" while the daemon serves and its readiness check passes, else 503
//                 with the reasons (one per line).
// cpp-httplib serves them on two threads of its own; every answer is computed in the daemon's
// loop (bus::Loop::Post), so nothing reads the daemon's state off its thread. A loop that does
// not answer within kLoopTimeout gets 503 from every endpoint.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/bus/loop.h"

namespace httplib {
class Server;
}

namespace asb::daemon {

class AdminServer {
 public:
  struct Handlers {
    // The /metrics body. Runs in the loop.
    std::function<std::string()> metrics;
    // OK when ready; otherwise the reasons. Runs in the loop.
    std::function<absl::Status()> ready;
  };

  static constexpr std::chrono::seconds kLoopTimeout{5};

  // Listens on `bind` ("HOST:PORT"; port 0: any free port) and serves until destroyed.
  // kInvalidArgument for a malformed address; kUnavailable naming the address and the cause
  // when it cannot listen (e.g. the port is in use).
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const std::string& bind,
                                                            bus::Loop* loop, Handlers handlers);
  // Stops listening and joins the server's threads (a request waiting on the loop is answered
  // 503 at once).
  ~AdminServer();

  // "HOST:PORT" as bound (the port chosen when 0 was asked for).
  const std::string& endpoint() const { return endpoint_; }

 private:
  AdminServer() = default;
  // Runs fn in the loop and waits for its result; nullopt if the loop did not answer in time.
  template <class T>
  std::optional<T> InLoop(std::function<T()> fn);

  bus::Loop* loop_ = nullptr;
  Handlers handlers_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::string endpoint_;
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<std::atomic<bool>> listening_done_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace asb::daemon
