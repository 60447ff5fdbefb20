#pragma once

// Periods of time as the statutory rules table writes them ("48 hours", "3 months", "1 year")
// and the date arithmetic the rules need: calendar months and years (UTC), Christmas Day
// disregarded (ASBCPA 2014 s.77(3), s.80(4)), ages.

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace asb::orders {

// A period of one unit: hours, days, months or years.
struct Period {
  enum class Unit { kHours, kDays, kMonths, kYears };
  Unit unit = Unit::kHours;
  int count = 0;

  // Hour periods compare exact times; the others compare calendar dates.
  bool calendar() const { return unit != Unit::kHours; }
  // "48 hours", "1 month".
  std::string ToString() const;
};

// Parses "N unit": N a whole number from 1 to 100000, unit hour(s), day(s), month(s) or
// year(s). kInvalidArgument saying what is wrong ("a negative duration", "unknown unit").
absl::StatusOr<Period> ParsePeriod(std::string_view text);

// `from` plus `p` (months and years in the calendar, UTC; the 31st plus a month is the last day
// of the next month).
absl::Time AddPeriod(absl::Time from, const Period& p);
// `from` minus `p`.
absl::Time SubtractPeriod(absl::Time from, const Period& p);

// The end of `p` from `from`; with `christmas_day_disregarded`, moved later by the part of any
// 25 December (UTC, which is UK time in December) the period covers.
absl::Time PeriodEnd(absl::Time from, const Period& p, bool christmas_day_disregarded);

// True if `end` is no later than the end of `p` from `from` (for a calendar period: its date is
// no later than that end's date).
bool WithinPeriod(absl::Time from, absl::Time end, const Period& p, bool christmas_day_disregarded);
// True if `end` is no earlier than the end of `p` from `from` (calendar periods: by date).
bool AtLeastPeriod(absl::Time from, absl::Time end, const Period& p);

// A date "YYYY-MM-DD", or nullopt if it is not a valid calendar date.
std::optional<absl::CivilDay> ParseDate(std::string_view text);
// The UTC date of a time.
absl::CivilDay DayOf(absl::Time t);
// "2026-12-01".
std::string FormatDay(absl::CivilDay day);
// "2026-12-01 10:00 UTC" (minutes; no seconds).
std::string FormatWhen(absl::Time t);
// Whole years between a date of birth and a date.
int AgeOn(absl::CivilDay date_of_birth, absl::CivilDay day);
// The first moment of `day` (UTC).
absl::Time StartOf(absl::CivilDay day);

}  // namespace asb::orders
