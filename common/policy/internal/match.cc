#include "common/policy/internal/match.h"

#include <algorithm>
#include <cstddef>
#include <optional>

#include "absl/time/clock.h"

namespace asb::policy::internal {

namespace {

struct CaseFacts {
  uint32_t roles = 0;    // roles of linked people
  uint32_t tenures = 0;  // tenures of linked people
  uint32_t orders = 0;   // types of the case's orders
  bool any_vulnerable = false;
  uint32_t under_18_roles = 0;  // roles of victims/perpetrators under 18 (if computed)
};

bool Matches(const CompiledCondition& w, const asb::v1::Case& c, const EventContext& ctx,
             const CaseFacts& facts) {
  if (w.nsir != 0 && (w.nsir & Bit(c.nsir_category())) == 0) {
    return false;
  }
  if (w.events != 0 && (w.events & Bit(ctx.event_type)) == 0) {
    return false;
  }
  if (w.orders != 0 && (w.orders & (Bit(ctx.order_type) | facts.orders)) == 0) {
    return false;
  }
  if (w.fire_risk >= 0 && c.flags().fire_risk() != (w.fire_risk == 1)) {
    return false;
  }
  if (w.council_tenancy >= 0 && c.flags().council_tenancy() != (w.council_tenancy == 1)) {
    return false;
  }
  if (w.hate_motivated >= 0 && c.flags().hate_motivated() != (w.hate_motivated == 1)) {
    return false;
  }
  if (w.roles != 0 && (w.roles & facts.roles) == 0) {
    return false;
  }
  if (w.subject_under_18 >= 0) {
    uint32_t subjects = Bit(asb::v1::PERSON_ROLE_VICTIM) | Bit(asb::v1::PERSON_ROLE_PERPETRATOR);
    if (w.roles != 0) {
      subjects &= w.roles;
    }
    const bool has = (facts.under_18_roles & subjects) != 0;
    if (has != (w.subject_under_18 == 1)) {
      return false;
    }
  }
  if (w.min_victim_risk > 0 && static_cast<int>(c.victim_risk()) < w.min_victim_risk) {
    return false;
  }
  if (!w.wards.empty() &&
      std::find(w.wards.begin(), w.wards.end(), c.location().ward()) == w.wards.end()) {
    return false;
  }
  if (!w.lsoa_codes.empty() && std::find(w.lsoa_codes.begin(), w.lsoa_codes.end(),
                                         c.location().lsoa_code()) == w.lsoa_codes.end()) {
    return false;
  }
  if (w.tenures != 0 && (w.tenures & facts.tenures) == 0) {
    return false;
  }
  if (w.has_vulnerable >= 0 && facts.any_vulnerable != (w.has_vulnerable == 1)) {
    return false;
  }
  return true;
}

}  // namespace

Date AsOf(const asb::v1::Case& c) {
  if (c.has_updated_at()) {
    return DateOfUnixSeconds(c.updated_at().seconds());
  }
  return DateOfUnixSeconds(absl::ToUnixSeconds(absl::Now()));
}

uint64_t MatchMask(const AgencyPlan& plan, const asb::v1::Case& c, const EventContext& context) {
  CaseFacts facts;
  std::optional<Date> as_of;
  for (const asb::v1::Person& p : c.people()) {
    facts.roles |= Bit(p.role());
    facts.tenures |= Bit(p.tenure());
    facts.any_vulnerable |= p.vulnerable();
    if (plan.needs_ages &&
        (p.role() == asb::v1::PERSON_ROLE_VICTIM || p.role() == asb::v1::PERSON_ROLE_PERPETRATOR)) {
      Date dob;
      if (ParseIsoDate(p.date_of_birth(), &dob)) {
        if (!as_of) {
          as_of = AsOf(c);
        }
        const int age = AgeOn(dob, *as_of);
        if (age >= 0 && age < 18) {
          facts.under_18_roles |= Bit(p.role());
        }
      }
    }
  }
  for (const asb::v1::Order& o : c.orders()) {
    facts.orders |= Bit(o.type());
  }
  uint64_t mask = 0;
  for (std::size_t i = 0; i < plan.rules.size(); ++i) {
    if (Matches(plan.rules[i].when, c, context, facts)) {
      mask |= uint64_t{1} << i;
    }
  }
  return mask;
}

}  // namespace asb::policy::internal
