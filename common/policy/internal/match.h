#pragma once

// Which rules of an agency's plan hold for a case: the row conditions (Condition in the ISP),
// shared by Apply, ApplyEncoded and Explain.

#include <cstdint>

#include "asb/v1/case.pb.h"
#include "common/policy/internal/dates.h"
#include "common/policy/internal/plan.h"
#include "common/policy/policy.h"

namespace asb::policy::internal {

// The rules of `plan` whose row condition holds for this case and event, as a bit mask (bit i
// is plan.rules[i]).
uint64_t MatchMask(const AgencyPlan& plan, const asb::v1::Case& c, const EventContext& context);

// The date ages are computed on: the case's updated_at, or today if it has none.
Date AsOf(const asb::v1::Case& c);

}  // namespace asb::policy::internal
