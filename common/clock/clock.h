#pragma once

// The hub's sense of time, injectable: daemons use SystemClock (the system clock, optionally
// shifted by ClockConfig.offset_seconds for rehearsals and tests that replay old data "as of" a
// date); unit tests use SimulatedClock and move it by hand, so timer tests run in simulated time
// without sleeping.

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace asb::clock {

// What time it is. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The system clock plus a fixed offset (zero in production).
class SystemClock : public Clock {
 public:
  explicit SystemClock(absl::Duration offset = absl::ZeroDuration()) : offset_(offset) {}
  absl::Time Now() const override { return absl::Now() + offset_; }
  absl::Duration offset() const { return offset_; }

 private:
  absl::Duration offset_;
};

// A clock that stands still until a test moves it.
class SimulatedClock : public Clock {
 public:
  explicit SimulatedClock(absl::Time start) : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Set(absl::Time t) { nanos_.store(absl::ToUnixNanos(t)); }
  void Advance(absl::Duration d) { nanos_.fetch_add(absl::ToInt64Nanoseconds(d)); }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace asb::clock
