#include "common/policy/internal/dates.h"

#include <cctype>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace asb::policy::internal {

bool ParseIsoDate(std::string_view text, Date* out) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return false;
  }
  auto digits = [&](std::size_t from, std::size_t n, int* value) {
    *value = 0;
    for (std::size_t i = from; i < from + n; ++i) {
      if (text[i] < '0' || text[i] > '9') {
        return false;
      }
      *value = *value * 10 + (text[i] - '0');
    }
    return true;
  };
  Date d;
  if (!digits(0, 4, &d.year) || !digits(5, 2, &d.month) || !digits(8, 2, &d.day)) {
    return false;
  }
  // CivilDay normalises out-of-range fields (Feb 30 -> Mar 2); a real date survives unchanged.
  absl::CivilDay civil(d.year, d.month, d.day);
  if (civil.year() != d.year || civil.month() != d.month || civil.day() != d.day) {
    return false;
  }
  *out = d;
  return true;
}

Date DateOfUnixSeconds(int64_t seconds) {
  absl::CivilDay day = absl::ToCivilDay(absl::FromUnixSeconds(seconds), absl::UTCTimeZone());
  return Date{static_cast<int>(day.year()), day.month(), day.day()};
}

int AgeOn(const Date& birth, const Date& as_of) {
  int age = as_of.year - birth.year;
  if (as_of.month < birth.month || (as_of.month == birth.month && as_of.day < birth.day)) {
    --age;
  }
  return age;
}

const char* AgeBand(int age) {
  if (age < 18) {
    return "under 18";
  }
  if (age < 25) {
    return "18-24";
  }
  if (age < 35) {
    return "25-34";
  }
  if (age < 45) {
    return "35-44";
  }
  if (age < 55) {
    return "45-54";
  }
  if (age < 65) {
    return "55-64";
  }
  return "65+";
}

std::string OutwardCode(std::string_view postcode) {
  std::string compact;
  for (char c : postcode) {
    if (c != ' ' && c != '\t') {
      compact.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  // A UK inward code is always digit + two letters; the outward code is 2-4 characters.
  if (compact.size() < 5 || compact.size() > 7) {
    return "";
  }
  for (char c : compact) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      return "";
    }
  }
  const std::size_t inward = compact.size() - 3;
  if (!std::isdigit(static_cast<unsigned char>(compact[inward])) ||
      !std::isalpha(static_cast<unsigned char>(compact[0]))) {
    return "";
  }
  return compact.substr(0, inward);
}

int64_t TruncateToUtcDay(int64_t seconds) {
  constexpr int64_t kDay = 86400;
  int64_t days = seconds / kDay;
  if (seconds % kDay < 0) {
    --days;
  }
  return days * kDay;
}

}  // namespace asb::policy::internal
