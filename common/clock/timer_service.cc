#include "common/clock/timer_service.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "common/log/log.h"

namespace asb::clock {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("clock");
  return lg;
}

}  // namespace

TimerService::TimerService(bus::Loop* loop, store::Store* store, TimerStore* timers,
                           const Clock* clock, FireFn fire, Options options)
    : loop_(loop),
      store_(store),
      timers_(timers),
      clock_(clock),
      fire_(std::move(fire)),
      options_(options) {}

TimerService::~TimerService() {
  if (loop_timer_ != 0 && loop_ != nullptr) {
    loop_->CancelTimer(loop_timer_);
  }
}

void TimerService::Arm(absl::Duration delay) {
  delay = std::clamp(delay, absl::ZeroDuration(), options_.max_sleep);
  const auto when = bus::Clock::now() + std::chrono::milliseconds(absl::ToInt64Milliseconds(delay));
  if (loop_timer_ != 0) {
    if (armed_for_ <= when) {
      return;  // already armed for earlier
    }
    loop_->CancelTimer(loop_timer_);
  }
  armed_for_ = when;
  loop_timer_ = loop_->RunAt(when, [this] {
    loop_timer_ = 0;
    OnTimer();
  });
}

void TimerService::Start() { Poke(); }

void TimerService::Poke() {
  if (loop_ == nullptr) {
    return;
  }
  absl::StatusOr<std::optional<absl::Time>> next = timers_->Next();
  if (!next.ok()) {
    SPDLOG_LOGGER_WARN(Logger(), "reading the next timer: {}", next.status().ToString());
    Arm(options_.retry_after);
    return;
  }
  if (!next->has_value()) {
    Arm(options_.max_sleep);  // nothing scheduled: look again later (cheap)
    return;
  }
  Arm(**next - clock_->Now());
}

void TimerService::OnTimer() {
  absl::StatusOr<std::size_t> fired = FireDue();
  if (!fired.ok()) {
    ++failed_rounds_;
    SPDLOG_LOGGER_WARN(Logger(), "timers not fired (retrying in {}): {}",
                       absl::FormatDuration(options_.retry_after), fired.status().ToString());
    Arm(options_.retry_after);
    return;
  }
  Poke();
}

absl::StatusOr<std::size_t> TimerService::FireDue() {
  absl::StatusOr<std::vector<Timer>> due = timers_->Due(clock_->Now(), options_.max_per_batch);
  if (!due.ok()) {
    return due.status();
  }
  if (due->empty()) {
    return 0;
  }
  if (options_.may_write) {
    if (absl::Status room = options_.may_write(); !room.ok()) {
      return room;
    }
  }
  store::Batch batch = store_->NewBatch();
  std::size_t fired = 0;
  std::vector<std::pair<const Timer*, absl::Status>> dropped;
  for (const Timer& t : *due) {
    // Removed first, so that firing may schedule the same name again (a recurring deadline).
    timers_->Remove(t.name, t.due, &batch);
    absl::Status s = fire_(t, &batch);
    if (absl::IsUnavailable(s)) {
      return s;  // the batch is abandoned: its staged changes roll back
    }
    if (s.ok()) {
      ++fired;
    } else {
      dropped.emplace_back(&t, s);
    }
  }
  if (absl::Status written = store_->Write(&batch); !written.ok()) {
    return written;
  }
  fired_ += fired;
  dropped_ += dropped.size();
  for (const auto& [t, why] : dropped) {
    SPDLOG_LOGGER_WARN(Logger(), "a timer was dropped without firing: {}", why.ToString());
    if (on_dropped_) {
      on_dropped_(*t, why);
    }
  }
  if (fired > 0) {
    SPDLOG_LOGGER_DEBUG(Logger(), "{} timers fired", fired);
    if (on_fired_) {
      on_fired_(fired);
    }
  }
  return fired;
}

absl::StatusOr<std::size_t> TimerService::FireAllDue() {
  std::size_t total = 0;
  while (true) {
    absl::StatusOr<std::size_t> fired = FireDue();
    if (!fired.ok()) {
      return fired.status();
    }
    absl::StatusOr<std::vector<Timer>> more = timers_->Due(clock_->Now(), 1);
    if (!more.ok()) {
      return more.status();
    }
    total += *fired;
    if (more->empty()) {
      return total;
    }
  }
}

}  // namespace asb::clock
