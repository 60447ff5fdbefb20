#include "common/bus/loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log/log.h"

namespace asb::bus {

Loop::Loop() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (wake_fd_ < 0) {
    // Without it, posted functions still run: within kStopCheck, when the poll times out.
    SPDLOG_LOGGER_WARN(log::Get("loop"), "eventfd failed ({}): posted work waits for the poll",
                       std::strerror(errno));
  }
}

Loop::~Loop() {
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
  }
}

void Loop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    // EAGAIN only when the counter is near overflow: the loop is woken already.
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }
}

void Loop::RunPosted() {
  if (wake_fd_ >= 0) {
    uint64_t count = 0;
    [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof(count));
  }
  std::vector<std::function<void()>> posted;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted.swap(posted_);
  }
  for (auto& fn : posted) {
    fn();
  }
}

void Loop::AddSocket(zmq::socket_t* socket, std::function<void()> on_readable) {
  RemoveSocket(socket);
  sockets_.push_back(Entry{socket, std::move(on_readable)});
}

void Loop::RemoveSocket(zmq::socket_t* socket) {
  sockets_.erase(std::remove_if(sockets_.begin(), sockets_.end(),
                                [socket](const Entry& e) { return e.socket == socket; }),
                 sockets_.end());
}

uint64_t Loop::RunAt(Clock::time_point when, std::function<void()> fn) {
  uint64_t id = next_timer_id_++;
  timers_.push_back(Timer{id, when, std::chrono::milliseconds(0), std::move(fn)});
  return id;
}

uint64_t Loop::Every(std::chrono::milliseconds interval, std::function<void()> fn) {
  uint64_t id = next_timer_id_++;
  timers_.push_back(Timer{id, Clock::now() + interval, interval, std::move(fn)});
  return id;
}

void Loop::CancelTimer(uint64_t id) {
  timers_.erase(
      std::remove_if(timers_.begin(), timers_.end(), [id](const Timer& t) { return t.id == id; }),
      timers_.end());
}

void Loop::Run() {
  static auto* lg = log::Get("loop");
  while (!stop_.load()) {
    RunOnce(kStopCheck);
  }
  SPDLOG_LOGGER_DEBUG(lg, "loop stopped");
}

void Loop::RunOnce(std::chrono::milliseconds max_wait) {
  static auto* lg = log::Get("loop");
  auto now = Clock::now();
  auto wait = max_wait;
  for (const Timer& t : timers_) {
    auto until = std::chrono::duration_cast<std::chrono::milliseconds>(t.when - now);
    if (until < wait) {
      wait = std::max(until, std::chrono::milliseconds(0));
    }
  }
  std::vector<zmq::pollitem_t> items;
  items.reserve(sockets_.size() + 1);
  for (const Entry& e : sockets_) {
    items.push_back(zmq::pollitem_t{e.socket->handle(), 0, ZMQ_POLLIN, 0});
  }
  // The last item is the eventfd Post writes (zmq::poll takes plain file descriptors too).
  items.push_back(zmq::pollitem_t{nullptr, wake_fd_ >= 0 ? wake_fd_ : 0, 0, 0});
  if (wake_fd_ >= 0) {
    items.back().events = ZMQ_POLLIN;
  }
  int ready = 0;
  try {
    ready = zmq::poll(items.data(), items.size(), wait);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) {
      SPDLOG_LOGGER_ERROR(lg, "poll failed: {}", e.what());
      stop_.store(true);
    }
    return;
  }
  if (wake_fd_ < 0 || (items.back().revents & ZMQ_POLLIN) != 0) {
    RunPosted();
  }
  if (ready > 0) {
    // Callbacks may add or remove sockets: work on a snapshot and re-check membership.
    std::vector<zmq::socket_t*> readable;
    for (std::size_t i = 0; i + 1 < items.size(); ++i) {
      if (items[i].revents & ZMQ_POLLIN) {
        readable.push_back(sockets_[i].socket);
      }
    }
    for (zmq::socket_t* socket : readable) {
      auto it = std::find_if(sockets_.begin(), sockets_.end(),
                             [socket](const Entry& e) { return e.socket == socket; });
      if (it != sockets_.end()) {
        auto fn = it->on_readable;  // copy: the callback may remove its own entry
        fn();
      }
    }
  }
  // Timers due now; callbacks may add or cancel timers.
  now = Clock::now();
  std::vector<uint64_t> due;
  for (const Timer& t : timers_) {
    if (t.when <= now) {
      due.push_back(t.id);
    }
  }
  for (uint64_t id : due) {
    auto it =
        std::find_if(timers_.begin(), timers_.end(), [id](const Timer& t) { return t.id == id; });
    if (it == timers_.end()) {
      continue;  // cancelled by an earlier callback
    }
    auto fn = it->fn;
    if (it->interval.count() > 0) {
      it->when = now + it->interval;
    } else {
      timers_.erase(it);
    }
    fn();
  }
}

}  // namespace asb::bus
