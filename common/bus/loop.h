#pragma once

// The single-threaded event loop every daemon runs: zmq::poll over its sockets, plus timers.
// Debian's libzmq 4.3.4 has no draft poller API, so this uses zmq::poll. Nothing here is
// thread-safe except Stop() and Post(), the one way other threads (an HTTP worker, the metrics
// server) hand work to the loop.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>
#include <zmq.hpp>

namespace asb::bus {

using Clock = std::chrono::steady_clock;

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Calls on_readable (in the loop) whenever `socket` has a message. The socket must outlive
  // the loop or be removed first. on_readable should drain with non-blocking receives.
  void AddSocket(zmq::socket_t* socket, std::function<void()> on_readable);
  void RemoveSocket(zmq::socket_t* socket);

  // Calls fn once at `when` (or soon after). Returns an id for CancelTimer.
  uint64_t RunAt(Clock::time_point when, std::function<void()> fn);
  uint64_t RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
    return RunAt(Clock::now() + delay, std::move(fn));
  }
  // Calls fn every `interval` until cancelled.
  uint64_t Every(std::chrono::milliseconds interval, std::function<void()> fn);
  void CancelTimer(uint64_t id);

  // Runs fn in the loop, soon (the loop wakes at once: an eventfd is among its poll items).
  // Safe from any thread (not from a signal handler). Functions posted before the loop is
  // destroyed and never run are dropped with it.
  void Post(std::function<void()> fn);

  // Runs until Stop(). Socket errors other than EINTR end the loop with a log line.
  void Run();
  // Runs one iteration, waiting at most `max_wait` (for tests and harnesses).
  void RunOnce(std::chrono::milliseconds max_wait);
  // Safe from any thread and from a signal handler (only sets a flag; Run() notices within
  // kStopCheck).
  void Stop() { stop_.store(true); }
  bool stopped() const { return stop_.load(); }

  static constexpr std::chrono::milliseconds kStopCheck{100};

 private:
  struct Entry {
    zmq::socket_t* socket;
    std::function<void()> on_readable;
  };
  struct Timer {
    uint64_t id;
    Clock::time_point when;
    std::chrono::milliseconds interval;  // 0 = one-shot
    std::function<void()> fn;
  };
  // Runs what other threads posted.
  void RunPosted();

  std::vector<Entry> sockets_;
  std::vector<Timer> timers_;
  uint64_t next_timer_id_ = 1;
  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;  // eventfd written by Post
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;  // guarded by posted_mu_
};

}  // namespace asb::bus
