#pragma once

// asb-sharing's durable timers: the smallest mechanism that fires exactly once across kill -9,
// for the case retention of the data sharing agreement (services/sharing/retention.h). Kept in
// column family "timers" (plaintext: kinds, ids and times, no personal data):
//   "at/" + kind + '\0' + EncodeSeq(at, µs since the epoch) + id  → payload
//   "id/" + kind + '\0' + id                                      → EncodeSeq(at)
// A timer is set in the caller's batch — the same batch as the fold of the event that decides
// it — so it exists exactly when that decision is committed. The loop asks for the timers of a
// kind whose time is at or before a cutoff (from the caller's clock, injectable), and a timer is
// removed (Done) in the batch that carries the effects of firing it, so it fires once.
//
// The hub's own clock (issue #14) is meant to take this over: its timers keyed by due time the
// same way; this one's `at` is the time the timer counts from, and the caller's cutoff carries
// the offset (retention: cutoff = now - the agreement's retention), so a reviewed agreement's new
// retention applies to every closed case at once, with nothing to reschedule.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/store/store.h"

namespace asb::sharing {

inline constexpr char kTimersColumnFamily[] = "timers";

// Owns no storage: the Store belongs to the daemon. Thread-compatible (the loop thread only).
class DueTimers {
 public:
  explicit DueTimers(store::Store* store);

  // One timer.
  struct Timer {
    std::string kind;
    std::string id;
    absl::Time at;
    std::string payload;
    // Left behind by a Set that moved the timer within one batch: Done removes it and fires
    // nothing.
    bool stale = false;
  };

  // Sets timer (kind, id) to `at` with `payload` in `batch`, moving it if it was set before
  // (committed, or earlier in the same batch). kind and id must not contain '\0'.
  // kUnavailable/kDataLoss if the store cannot be read.
  absl::Status Set(std::string_view kind, std::string_view id, absl::Time at,
                   std::string_view payload, store::Batch* batch);
  // Removes timer (kind, id) in `batch`, if it is set.
  absl::Status Cancel(std::string_view kind, std::string_view id, store::Batch* batch);

  // Committed timers of `kind` with `at` <= cutoff, oldest first, at most `max` (stale ones
  // included, marked). kUnavailable/kDataLoss for storage errors.
  absl::StatusOr<std::vector<Timer>> Due(std::string_view kind, absl::Time cutoff,
                                         std::size_t max) const;
  // The committed time of timer (kind, id); kNotFound if it is not set.
  absl::StatusOr<absl::Time> When(std::string_view kind, std::string_view id) const;
  // Removes a fired (or stale) timer in `batch`, the batch that carries its effects.
  void Done(const Timer& timer, store::Batch* batch);

 private:
  // The time of (kind, id) as `batch` would leave it: this batch's own Set, else committed.
  absl::StatusOr<std::optional<uint64_t>> Current(const std::string& id_key,
                                                  store::Batch* batch) const;
  void Track(store::Batch* batch);

  store::Store* store_;
  // Times set in the batch in progress (id key → µs), dropped when it commits or fails.
  store::Batch* dirty_batch_ = nullptr;
  uint64_t generation_ = 0;
  std::map<std::string, uint64_t> dirty_;
};

}  // namespace asb::sharing
