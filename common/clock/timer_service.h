#pragma once

// Fires the durable timers of a TimerStore when they fall due, in the daemon's loop. Firing a
// timer calls the owner's FireFn, which adds the timer's effects to a Batch (asb-intake: it
// appends the hub's own event to its events log); the service removes the timer in that same
// batch and writes it: the effects and the timer's removal commit together, so a timer fires
// exactly once whatever crashes, and one whose due time has already passed when it is scheduled
// (backfill of old data) fires at once, at the next turn of the loop.
//
// Time comes from an injectable clock::Clock; the loop only decides when to look again (never
// later than Options::max_sleep, so a clock that jumps is noticed). Tests drive FireDue() with a
// SimulatedClock instead of the loop.
//
// Thread-compatible: the loop's thread. The loop, store, timer store and clock must outlive it.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/bus/loop.h"
#include "common/clock/clock.h"
#include "common/clock/timer_store.h"
#include "common/store/store.h"

namespace asb::clock {

class TimerService {
 public:
  // Adds the effects of firing `timer` to `batch`. Return:
  //  - OK: fired (the service has removed the timer in the same batch before calling: firing may
  //    schedule the same name again);
  //  - kUnavailable: not now (a store error): nothing of this round is written; retried after
  //    Options::retry_after;
  //  - anything else: the timer can never fire (its subject is gone, its payload is bad): it is
  //    removed without effects and reported to OnDropped.
  // It may schedule or cancel other timers in `batch` (through the same TimerStore).
  using FireFn = std::function<absl::Status(const Timer&, store::Batch*)>;

  struct Options {
    // Timers fired per batch (one write, one fsync).
    std::size_t max_per_batch = 500;
    // The longest the loop waits before looking again.
    absl::Duration max_sleep = absl::Seconds(30);
    // The wait after a failed round.
    absl::Duration retry_after = absl::Seconds(1);
    // Asked before each round writes (e.g. the store's file system has room: Debian's RocksDB
    // must never meet a full disk); an error postpones the round (retry_after).
    std::function<absl::Status()> may_write;
  };

  TimerService(bus::Loop* loop, store::Store* store, TimerStore* timers, const Clock* clock,
               FireFn fire, Options options);
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // Arms the loop for the earliest timer (at once if it is due).
  void Start();
  // After a write that may have scheduled an earlier timer: re-arms if needed.
  void Poke();

  // Fires up to max_per_batch timers due now in one batch and writes it; returns how many fired
  // (dropped ones not counted). kUnavailable (or the write's error): nothing was written.
  absl::StatusOr<std::size_t> FireDue();
  // FireDue until nothing is due (tests; the loop does one round per turn).
  absl::StatusOr<std::size_t> FireAllDue();

  void OnDropped(std::function<void(const Timer&, const absl::Status&)> fn) {
    on_dropped_ = std::move(fn);
  }
  // Called after each round that fired something was written (e.g. to wake consumers).
  void OnFired(std::function<void(std::size_t)> fn) { on_fired_ = std::move(fn); }

  uint64_t fired() const { return fired_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t failed_rounds() const { return failed_rounds_; }

 private:
  void Arm(absl::Duration delay);
  void OnTimer();

  bus::Loop* loop_;
  store::Store* store_;
  TimerStore* timers_;
  const Clock* clock_;
  FireFn fire_;
  Options options_;
  std::function<void(const Timer&, const absl::Status&)> on_dropped_;
  std::function<void(std::size_t)> on_fired_;
  uint64_t loop_timer_ = 0;  // 0: not armed
  bus::Clock::time_point armed_for_{};
  uint64_t fired_ = 0;
  uint64_t dropped_ = 0;
  uint64_t failed_rounds_ = 0;
};

}  // namespace asb::clock
