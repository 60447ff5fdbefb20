#include "common/orders/period.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace asb::orders {
namespace {

using ::asb::testing::StatusIsWith;

absl::Time At(int y, int m, int d, int h = 0, int min = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, h, min, 0), absl::UTCTimeZone());
}

TEST(PeriodTest, ParsesTheTableSpelling) {
  auto p = ParsePeriod("48 hours");
  ASB_ASSERT_OK(p.status());
  EXPECT_EQ(p->unit, Period::Unit::kHours);
  EXPECT_EQ(p->count, 48);
  EXPECT_FALSE(p->calendar());
  EXPECT_EQ(p->ToString(), "48 hours");
  p = ParsePeriod(" 1 Year ");
  ASB_ASSERT_OK(p.status());
  EXPECT_EQ(p->unit, Period::Unit::kYears);
  EXPECT_EQ(p->ToString(), "1 year");
  EXPECT_TRUE(p->calendar());
}

TEST(PeriodTest, RefusesWhatIsNotAPeriod) {
  EXPECT_THAT(ParsePeriod("-48 hours"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "a negative duration"));
  EXPECT_THAT(ParsePeriod("0 days"), StatusIsWith(absl::StatusCode::kInvalidArgument, "zero"));
  EXPECT_THAT(ParsePeriod("48 fortnights"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "unknown unit"));
  EXPECT_THAT(ParsePeriod("48"), StatusIsWith(absl::StatusCode::kInvalidArgument, "N unit"));
  EXPECT_THAT(ParsePeriod("two days"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "not a whole number"));
}

TEST(PeriodTest, CalendarMonthsEndOnTheLastDayOfAShortMonth) {
  const Period month{Period::Unit::kMonths, 1};
  EXPECT_EQ(AddPeriod(At(2026, 1, 31, 9), month), At(2026, 2, 28, 9));
  EXPECT_EQ(AddPeriod(At(2028, 1, 31), month), At(2028, 2, 29));
  EXPECT_EQ(AddPeriod(At(2026, 8, 5, 11, 30), Period{Period::Unit::kMonths, 3}),
            At(2026, 11, 5, 11, 30));
  EXPECT_EQ(AddPeriod(At(2028, 2, 29), Period{Period::Unit::kYears, 1}), At(2029, 2, 28));
  EXPECT_EQ(SubtractPeriod(At(2026, 3, 31), month), At(2026, 2, 28));
}

TEST(PeriodTest, CalendarPeriodsCompareDatesHourPeriodsCompareTimes) {
  const Period two_years{Period::Unit::kYears, 2};
  // An order "until 14 October 2028" made at 11:00 on 14 October 2026 lasts two years.
  EXPECT_TRUE(AtLeastPeriod(At(2026, 10, 14, 11), At(2028, 10, 14, 0), two_years));
  EXPECT_FALSE(AtLeastPeriod(At(2026, 10, 14, 11), At(2028, 10, 13, 23), two_years));
  EXPECT_TRUE(WithinPeriod(At(2026, 10, 14, 11), At(2028, 10, 14, 23), two_years, false));
  EXPECT_FALSE(WithinPeriod(At(2026, 10, 14, 11), At(2028, 10, 15, 0), two_years, false));
  const Period day_hours{Period::Unit::kHours, 48};
  EXPECT_TRUE(WithinPeriod(At(2026, 4, 12, 20), At(2026, 4, 14, 20), day_hours, false));
  EXPECT_FALSE(WithinPeriod(At(2026, 4, 12, 20), At(2026, 4, 14, 20, 1), day_hours, false));
}

TEST(PeriodTest, ChristmasDayIsDisregarded) {
  const Period p{Period::Unit::kHours, 48};
  // Served at 20:00 on 24 December: the 24 hours of Christmas Day do not count.
  EXPECT_EQ(PeriodEnd(At(2026, 12, 24, 20), p, true), At(2026, 12, 27, 20));
  // Served at 10:00 on Christmas Day: the 14 hours left of it do not count.
  EXPECT_EQ(PeriodEnd(At(2026, 12, 25, 10), p, true), At(2026, 12, 28, 0));
  // Before it and after it: no change.
  EXPECT_EQ(PeriodEnd(At(2026, 12, 20, 10), p, true), At(2026, 12, 22, 10));
  EXPECT_EQ(PeriodEnd(At(2026, 12, 24, 20), p, false), At(2026, 12, 26, 20));
  // A period that reaches Christmas Day only once extended by it still counts it once.
  EXPECT_EQ(PeriodEnd(At(2026, 12, 23, 12), p, true), At(2026, 12, 26, 12));
}

TEST(PeriodTest, AgesAndDates) {
  EXPECT_EQ(AgeOn(absl::CivilDay(2008, 12, 2), absl::CivilDay(2026, 12, 1)), 17);
  EXPECT_EQ(AgeOn(absl::CivilDay(2008, 12, 1), absl::CivilDay(2026, 12, 1)), 18);
  // Born on 29 February: 18 on 1 March in a common year.
  EXPECT_EQ(AgeOn(absl::CivilDay(2008, 2, 29), absl::CivilDay(2026, 2, 28)), 17);
  EXPECT_EQ(AgeOn(absl::CivilDay(2008, 2, 29), absl::CivilDay(2026, 3, 1)), 18);
  EXPECT_EQ(ParseDate("2026-02-28"), absl::CivilDay(2026, 2, 28));
  EXPECT_FALSE(ParseDate("2026-02-30").has_value());
  EXPECT_FALSE(ParseDate("26-02-28").has_value());
  EXPECT_EQ(FormatDay(absl::CivilDay(2026, 3, 5)), "2026-03-05");
  EXPECT_EQ(FormatWhen(At(2026, 3, 5, 7, 9)), "2026-03-05 07:09 UTC");
}

}  // namespace
}  // namespace asb::orders
