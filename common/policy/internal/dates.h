#pragma once

// Small date helpers for the ISP's age and postcode generalisers.

#include <cstdint>
#include <string>
#include <string_view>

namespace asb::policy::internal {

struct Date {
  int year = 0;
  int month = 0;
  int day = 0;
};

// Parses "YYYY-MM-DD" strictly (a real calendar date). False otherwise.
bool ParseIsoDate(std::string_view text, Date* out);

// The UTC calendar date of a Unix time.
Date DateOfUnixSeconds(int64_t seconds);

// Whole years from `birth` to `as_of`; negative if `birth` is later.
int AgeOn(const Date& birth, const Date& as_of);

// "under 18", "18-24", "25-34", "35-44", "45-54", "55-64" or "65+".
const char* AgeBand(int age);

// Outward code of a UK postcode: "S40 1LP" -> "S40", "s401lp" -> "S40". Empty if it does not
// look like a postcode.
std::string OutwardCode(std::string_view postcode);

// Seconds at UTC midnight of the day containing `seconds`.
int64_t TruncateToUtcDay(int64_t seconds);

}  // namespace asb::policy::internal
