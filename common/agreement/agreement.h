#pragma once

// The data sharing agreement an ISP carries (asb.config.v1.DataSharingAgreement): its checks at
// load, whether it is in force on a day, and what it says about retention. Read by the policy
// engine (asb-sharing, asbctl) and by common/auth (every daemon, which reads the ISP's principals
// only), so this library knows the ISP's schema and nothing of its rules' semantics.
//
// Time: an agreement's dates are UTC days. Its review runs in stages: current, then (from
// Review.remind_days_before days before `due`) a reminder, then (after `due`) overdue, when every
// daemon warns, and (Review.grace_days after `due`) lapsed, when the hub refuses to load the ISP.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "asb/config/v1/isp.pb.h"
#include "common/config/violations.h"

namespace asb::agreement {

using Agreement = asb::config::v1::DataSharingAgreement;

// The notification rule ids of the hub's own notices (Disclosure.notification_rules of a
// HubNotice): no ISP notification rule may use the "hub/" prefix.
inline constexpr char kReviewNoticeRule[] = "hub/agreement-review";
inline constexpr char kCaseDeletedNoticeRule[] = "hub/case-deleted";

inline constexpr uint32_t kDefaultRemindDays = 30;
inline constexpr uint32_t kDefaultGraceDays = 30;

// "YYYY-MM-DD" as a day; nullopt unless it is exactly that shape and a real date.
std::optional<absl::CivilDay> ParseDay(std::string_view text);
// The day `t` falls on, in UTC.
absl::CivilDay DayOf(absl::Time t);
// The start of `day` (UTC midnight).
absl::Time StartOf(absl::CivilDay day);

// Checks isp.agreement() against itself and the rest of the ISP (its agencies), adding every
// problem to `v` under its path ("agreement.parties[1].ico_registration: ..."), so a Violations
// made with the file and its source map names file and line. Does nothing for an ISP without an
// agreement. Timeless: whether the agreement is in force today is CheckInForce's question.
void Check(const asb::config::v1::Isp& isp, config::Violations* v);

// Where an agreement's review stands on one day.
struct ReviewStatus {
  enum class State {
    kNoAgreement,  // the ISP carries none (or its review date does not parse)
    kCurrent,      // before the reminder
    kReminder,     // within remind_days_before of the review date
    kOverdue,      // past the review date, within the grace
    kLapsed,       // past the grace: the hub refuses to load the ISP
  };
  State state = State::kNoAgreement;
  std::string reference;
  absl::CivilDay due;
  absl::CivilDay remind_from;  // due - remind_days_before
  absl::CivilDay grace_ends;   // due + grace_days: the last day the ISP still loads
  // Days from today to `due` (negative once past it).
  int64_t days_to_due = 0;

  // True from the reminder on: the partnership coordinator is alerted (once per stage).
  bool needs_notice() const { return state == State::kReminder || state == State::kOverdue; }
  // One sentence for logs, asbctl and the coordinator's alert, e.g. "data sharing agreement
  // CCSP-DSA-ASB-2026 is due for review on 2028-03-31 (in 12 days)".
  std::string Describe() const;
};

// The review stage of isp.agreement() at `now`.
ReviewStatus AssessReview(const asb::config::v1::Isp& isp, absl::Time now);

// Adds a violation at agreement.review.due if the agreement has lapsed at `now` (past its
// review date and its grace): the ISP must not be loaded until the parties have reviewed it.
void CheckInForce(const asb::config::v1::Isp& isp, absl::Time now, config::Violations* v);

// The retention the agreement sets for `data`, in days; 0 if it sets none (or has no agreement).
uint32_t RetentionDays(const asb::config::v1::Isp& isp, Agreement::RetentionData data);

}  // namespace asb::agreement
