#include "common/orders/period.h"

#include <cctype>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace asb::orders {
namespace {

absl::CivilSecond AddMonths(absl::CivilSecond t, int months) {
  // absl normalises 31 January + 1 month to 3 March; a legal month ends on the last day of the
  // next month instead.
  const absl::CivilMonth target = absl::CivilMonth(t) + months;
  const absl::CivilDay last = absl::CivilDay(target + 1) - 1;
  const int day = std::min(t.day(), last.day());
  return absl::CivilSecond(target.year(), target.month(), day, t.hour(), t.minute(), t.second());
}

}  // namespace

std::string Period::ToString() const {
  const char* name = "hour";
  switch (unit) {
    case Unit::kHours:
      name = "hour";
      break;
    case Unit::kDays:
      name = "day";
      break;
    case Unit::kMonths:
      name = "month";
      break;
    case Unit::kYears:
      name = "year";
      break;
  }
  return absl::StrCat(count, " ", name, count == 1 ? "" : "s");
}

absl::StatusOr<Period> ParsePeriod(std::string_view text_view) {
  // Debian's Abseil has its own string_view: work on a std::string.
  const std::string text(text_view);
  std::vector<std::string> parts =
      absl::StrSplit(absl::StripAsciiWhitespace(text), ' ', absl::SkipEmpty());
  if (parts.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a period (write it \"N unit\", e.g. \"48 hours\")"));
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(parts[0], &n)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': '", parts[0], "' is not a whole number"));
  }
  if (n <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': ", n < 0 ? "a negative duration" : "a zero duration",
                     " (a period is a whole number above 0)"));
  }
  if (n > 100000) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "': more than 100000"));
  }
  std::string unit = absl::AsciiStrToLower(parts[1]);
  if (!unit.empty() && unit.back() == 's') {
    unit.pop_back();
  }
  Period p;
  p.count = static_cast<int>(n);
  if (unit == "hour") {
    p.unit = Period::Unit::kHours;
  } else if (unit == "day") {
    p.unit = Period::Unit::kDays;
  } else if (unit == "month") {
    p.unit = Period::Unit::kMonths;
  } else if (unit == "year") {
    p.unit = Period::Unit::kYears;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "': unknown unit '", parts[1], "' (hours, days, months or years)"));
  }
  return p;
}

absl::Time AddPeriod(absl::Time from, const Period& p) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  switch (p.unit) {
    case Period::Unit::kHours:
      return from + absl::Hours(p.count);
    case Period::Unit::kDays:
      return from + absl::Hours(24) * p.count;
    case Period::Unit::kMonths:
    case Period::Unit::kYears: {
      const int months = p.unit == Period::Unit::kMonths ? p.count : 12 * p.count;
      const absl::CivilSecond start = absl::ToCivilSecond(from, utc);
      const absl::Time whole = absl::FromCivil(AddMonths(start, months), utc);
      return whole + (from - absl::FromCivil(start, utc));  // keep sub-second parts
    }
  }
  return from;
}

absl::Time SubtractPeriod(absl::Time from, const Period& p) {
  Period back = p;
  back.count = -p.count;
  return AddPeriod(from, back);
}

absl::Time PeriodEnd(absl::Time from, const Period& p, bool christmas_day_disregarded) {
  absl::Time end = AddPeriod(from, p);
  if (!christmas_day_disregarded) {
    return end;
  }
  // Each pass adds the Christmas time the (extended) period covers that earlier passes did not.
  absl::Duration counted = absl::ZeroDuration();
  for (int pass = 0; pass < 4; ++pass) {
    absl::Duration covered = absl::ZeroDuration();
    for (int y = DayOf(from).year(); y <= DayOf(end).year(); ++y) {
      const absl::Time xmas = StartOf(absl::CivilDay(y, 12, 25));
      const absl::Time lo = std::max(from, xmas);
      const absl::Time hi = std::min(end, xmas + absl::Hours(24));
      if (hi > lo) {
        covered += hi - lo;
      }
    }
    if (covered == counted) {
      break;
    }
    end += covered - counted;
    counted = covered;
  }
  return end;
}

bool WithinPeriod(absl::Time from, absl::Time end, const Period& p,
                  bool christmas_day_disregarded) {
  const absl::Time limit = PeriodEnd(from, p, christmas_day_disregarded);
  return p.calendar() ? DayOf(end) <= DayOf(limit) : end <= limit;
}

bool AtLeastPeriod(absl::Time from, absl::Time end, const Period& p) {
  const absl::Time limit = AddPeriod(from, p);
  return p.calendar() ? DayOf(end) >= DayOf(limit) : end >= limit;
}

std::optional<absl::CivilDay> ParseDate(std::string_view view) {
  const std::string s(view);
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') {
    return std::nullopt;
  }
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
      return std::nullopt;
    }
  }
  int y = 0, m = 0, d = 0;
  if (!absl::SimpleAtoi(s.substr(0, 4), &y) || !absl::SimpleAtoi(s.substr(5, 2), &m) ||
      !absl::SimpleAtoi(s.substr(8, 2), &d)) {
    return std::nullopt;
  }
  const absl::CivilDay day(y, m, d);
  if (day.year() != y || day.month() != m || day.day() != d) {
    return std::nullopt;
  }
  return day;
}

absl::CivilDay DayOf(absl::Time t) { return absl::ToCivilDay(t, absl::UTCTimeZone()); }

absl::Time StartOf(absl::CivilDay day) { return absl::FromCivil(day, absl::UTCTimeZone()); }

std::string FormatDay(absl::CivilDay day) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", static_cast<int>(day.year()), day.month(),
                day.day());
  return buf;
}

std::string FormatWhen(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", t, absl::UTCTimeZone());
}

int AgeOn(absl::CivilDay dob, absl::CivilDay day) {
  int age = static_cast<int>(day.year() - dob.year());
  if (day.month() < dob.month() || (day.month() == dob.month() && day.day() < dob.day())) {
    --age;
  }
  return age;
}

}  // namespace asb::orders
