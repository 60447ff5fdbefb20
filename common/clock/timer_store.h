#pragma once

// Durable timers in a daemon's own Store: the hub's clock (docs/architecture.md, "The hub's
// clock"), reusable by any daemon (asb-intake keeps the orders' statutory deadlines on it). A
// timer is a name, a due time and a payload the owner interprets. They live in two column
// families the owner lists in its store layout:
//   due   EncodeSeq(due unix ms) + name -> payload    (earliest first: what is due is a prefix)
//   index name -> EncodeSeq(due unix ms)               (to replace or cancel a timer by name)
// Scheduling, replacing and cancelling join the caller's Batch, so a timer is written in the same
// atomic write as the state change that called for it, and removed in the same write as the
// effects of firing it (TimerService): a crash (kill -9) at any point either keeps a timer and
// none of its effects or its effects and no timer. That is how every timer fires exactly once.
//
// Names are the owner's business; for encryption at rest a name should start with its subject
// (asbhub: the case id) followed by '\0', so the owner's layout can seal the payload under the
// subject's data key (SubjectOfName) and an erased case's timers can no longer be read (the
// store's iterators skip them: they never fire). The index holds names and times only.
//
// Within one batch, reads see the batch's own changes (store::Staged). Thread-compatible: the
// daemon's loop thread only. The Store must outlive it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/store/staged.h"
#include "common/store/store.h"

namespace asb::clock {

// One timer.
struct Timer {
  std::string name;
  absl::Time due;  // millisecond precision
  std::string payload;
};

class TimerStore {
 public:
  // `due_cf` and `index_cf` must be column families of `store`, written only through this
  // TimerStore (it remembers how early a timer can be: floor_ms_).
  TimerStore(store::Store* store, std::string due_cf, std::string index_cf);

  // Schedules timer `name` at `due` with `payload` in `batch`, replacing any timer of that name.
  // Reads the index (kUnavailable / kDataLoss on a store error; then nothing is added).
  absl::Status Schedule(const std::string& name, absl::Time due, std::string_view payload,
                        store::Batch* batch);
  // The same without reading: the caller knows the timer's current due time (nullopt: none).
  void Replace(const std::string& name, std::optional<absl::Time> current_due, absl::Time due,
               std::string_view payload, store::Batch* batch);
  // Cancels timer `name` (nothing if there is none). Reads the index.
  absl::Status Cancel(const std::string& name, store::Batch* batch);
  // Cancels timer `name` due at `due` without reading.
  void Remove(const std::string& name, absl::Time due, store::Batch* batch);

  // The due time of timer `name` (nullopt: none), this batch's changes included.
  absl::StatusOr<std::optional<absl::Time>> DueOf(const std::string& name) const;

  // Committed timers due at or before `now`, earliest first, at most `max`. Timers whose payload
  // cannot be read (an erased subject) are not returned.
  absl::StatusOr<std::vector<Timer>> Due(absl::Time now, std::size_t max) const;
  // The committed earliest due time (nullopt: no timer).
  absl::StatusOr<std::optional<absl::Time>> Next() const;
  // Committed timers in due order, for tools and tests (at most `max`).
  absl::StatusOr<std::vector<Timer>> List(std::size_t max) const;

  // The subject of a `due` or `index` key (see above): the name up to its first '\0', or "".
  static std::string SubjectOfDueKey(std::string_view key);
  static std::string SubjectOfName(std::string_view name);

 private:
  static std::string DueKey(absl::Time due, std::string_view name);

  store::Store* store_;
  std::string due_cf_;
  std::string index_cf_;
  // Names this batch scheduled (due unix ms) or cancelled (nullopt).
  store::Staged<int64_t> staged_;
  // No committed timer is due before this (unix ms): Next and Due seek here rather than to the
  // first key, so they do not step again over the tombstones of timers already fired, moved or
  // cancelled (a queue's deletes sit at its front until compaction; asb-intake asks for the next
  // timer after every submission). Raised by what a scan finds first, lowered at once by a
  // timer scheduled earlier (committed or not: too low is only slower, never wrong).
  mutable int64_t floor_ms_ = 0;
};

}  // namespace asb::clock
