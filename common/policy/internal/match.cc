#include "common/policy/internal/match.h"

#include <algorithm>
#include <cstddef>
#include <optional>

#include "absl/time/clock.h"

namespace asb::policy::internal {

namespace {

const EnumMask kSubjectRoles =
    RoleBits()(asb::v1::PERSON_ROLE_VICTIM) | RoleBits()(asb::v1::PERSON_ROLE_PERPETRATOR);

bool Matches(const CompiledCondition& w, const asb::v1::Case& c, const EventContext& ctx,
             const CaseFacts& facts) {
  if (w.nsir != 0 && (w.nsir & NsirBits()(c.nsir_category())) == 0) {
    return false;
  }
  if (w.events != 0 && (w.events & EventBits()(ctx.event_type)) == 0) {
    return false;
  }
  if (w.orders != 0 && (w.orders & (OrderBits()(ctx.order_type) | facts.orders)) == 0) {
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
  if (w.licensed_premises >= 0 && c.flags().licensed_premises() != (w.licensed_premises == 1)) {
    return false;
  }
  if (w.lead_agency >= 0 && facts.lead != (w.lead_agency == 1)) {
    return false;
  }
  if (w.roles != 0 && (w.roles & facts.roles) == 0) {
    return false;
  }
  if (w.subject_under_18 >= 0) {
    EnumMask subjects = kSubjectRoles;
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
  if (w.any_person.any) {
    bool any = false;
    for (std::size_t i = 0; i < facts.people.size() && !any; ++i) {
      // A confidential person is never covered outside the lead agency: nor do they count here.
      any = (facts.lead || !facts.people[i].confidential) && Selects(w.any_person, facts.people[i]);
    }
    if (!any) {
      return false;
    }
  }
  return true;
}

// The rules (with source conditions) that cover at least one fact of the case.
uint64_t SourcesPresent(const AgencyPlan& plan, const asb::v1::Case& c) {
  uint64_t out = SourceCovers(plan, c.source_agency());
  for (const asb::v1::Person& p : c.people()) {
    out |= SourceCovers(plan, p.source_agency());
  }
  for (const asb::v1::Incident& i : c.incidents()) {
    out |= SourceCovers(plan, i.source_agency());
  }
  for (const asb::v1::Order& o : c.orders()) {
    out |= SourceCovers(plan, o.source_agency());
    for (const asb::v1::Breach& b : o.breaches()) {
      out |= SourceCovers(plan, b.source_agency());
    }
  }
  return out;
}

}  // namespace

Date AsOf(const asb::v1::Case& c) {
  if (c.has_updated_at()) {
    return DateOfUnixSeconds(c.updated_at().seconds());
  }
  return DateOfUnixSeconds(absl::ToUnixSeconds(absl::Now()));
}

bool Selects(const CompiledSelector& s, const PersonFacts& p) {
  if (s.roles != 0 && (s.roles & p.role) == 0) {
    return false;
  }
  if (s.child >= 0 && p.child != (s.child == 1)) {
    return false;
  }
  if (s.vulnerable >= 0 && p.vulnerable != (s.vulnerable == 1)) {
    return false;
  }
  if (s.confidential >= 0 && p.confidential != (s.confidential == 1)) {
    return false;
  }
  if (s.tenures != 0 && (s.tenures & p.tenure) == 0) {
    return false;
  }
  if (s.order_subject >= 0 || s.order_types != 0) {
    const EnumMask orders = s.order_types != 0 ? p.subject_of & s.order_types : p.subject_of;
    if ((orders != 0) != (s.order_subject != 0)) {
      return false;
    }
  }
  return true;
}

uint64_t MatchMask(const AgencyPlan& plan, const asb::v1::Case& c, const EventContext& context,
                   CaseFacts* facts) {
  facts->people.clear();
  facts->roles = facts->tenures = facts->orders = facts->under_18_roles = 0;
  facts->any_vulnerable = false;
  facts->lead = !c.lead_agency().empty() && c.lead_agency() == plan.id;
  std::optional<Date> as_of;
  for (const asb::v1::Person& p : c.people()) {
    const EnumMask role = RoleBits()(p.role());
    facts->roles |= role;
    facts->tenures |= TenureBits()(p.tenure());
    facts->any_vulnerable |= p.vulnerable();
    bool child = false;
    if (plan.needs_ages) {
      Date dob;
      if (ParseIsoDate(p.date_of_birth(), &dob)) {
        if (!as_of) {
          as_of = AsOf(c);
        }
        const int age = AgeOn(dob, *as_of);
        child = age >= 0 && age < 18;
      } else {
        child = p.child();
      }
      if (child) {
        facts->under_18_roles |= role;
      }
    }
    if (plan.needs_people) {
      PersonFacts& pf = facts->people.emplace_back();
      pf.role = role;
      pf.tenure = TenureBits()(p.tenure());
      pf.vulnerable = p.vulnerable();
      pf.confidential = p.confidential();
      pf.child = child;
      if (plan.needs_subjects) {
        for (const asb::v1::Order& o : c.orders()) {
          if (!o.subject_person_id().empty() && o.subject_person_id() == p.person_id()) {
            pf.subject_of |= OrderBits()(o.type());
          }
        }
      }
    }
  }
  for (const asb::v1::Order& o : c.orders()) {
    facts->orders |= OrderBits()(o.type());
  }
  uint64_t mask = 0;
  for (std::size_t i = 0; i < plan.rules.size(); ++i) {
    if (Matches(plan.rules[i].when, c, context, *facts)) {
      mask |= uint64_t{1} << i;
    }
  }
  if ((mask & plan.source_rules) != 0) {
    // A rule with a source condition applies only where it covers some fact.
    mask &= ~plan.source_rules | SourcesPresent(plan, c);
  }
  return mask;
}

uint64_t PersonMask(const AgencyPlan& plan, const asb::v1::Person& person, const CaseFacts& facts,
                    int i, uint64_t mask) {
  return PersonSelected(plan, person, facts, i, mask) & SourceCovers(plan, person.source_agency());
}

uint64_t PersonSelected(const AgencyPlan& plan, const asb::v1::Person& person,
                        const CaseFacts& facts, int i, uint64_t mask) {
  if (person.confidential() && !facts.lead) {
    return 0;
  }
  const int role = RoleBits().Index(person.role());
  uint64_t m = mask & plan.rules_for_role[role < 0 ? 0 : role];
  for (uint64_t sel = m & plan.selector_rules; sel != 0; sel &= sel - 1) {
    const int r = __builtin_ctzll(sel);
    if (!Selects(plan.rules[r].people, facts.people[i])) {
      m &= ~(uint64_t{1} << r);
    }
  }
  return m;
}

Coverage::Coverage(const AgencyPlan& plan, const asb::v1::Case& c, const CaseFacts& facts,
                   uint64_t mask)
    : plan_(plan), case_(c), mask_(mask), root_(mask & SourceCovers(plan, c.source_agency())) {
  people_.resize(c.people_size());
  selected_.resize(c.people_size());
  for (int i = 0; i < c.people_size(); ++i) {
    selected_[i] = PersonSelected(plan, c.people(i), facts, i, mask);
    people_[i] = selected_[i] & SourceCovers(plan, c.people(i).source_agency());
  }
}

uint64_t Coverage::order(const asb::v1::Order& o) const {
  uint64_t m = mask_ & SourceCovers(plan_, o.source_agency());
  const uint64_t restricting = m & plan_.restricting_rules;
  if (restricting == 0 || o.subject_person_id().empty()) {
    return m;
  }
  // A rule that covers only some people covers an order on a person only if it selects them
  // (whoever's feed linked the person: the order's own source is tested above).
  uint64_t subject = 0;
  for (int i = 0; i < case_.people_size(); ++i) {
    if (case_.people(i).person_id() == o.subject_person_id()) {
      subject |= selected_[i];
    }
  }
  return (m & ~restricting) | (restricting & subject);
}

uint64_t Coverage::element(FactKind kind, const google::protobuf::Message& element, int i,
                           uint64_t base) const {
  switch (kind) {
    case FactKind::kPerson:
      return person(i);
    case FactKind::kIncident:
      return incident(static_cast<const asb::v1::Incident&>(element));
    case FactKind::kOrder:
      return order(static_cast<const asb::v1::Order&>(element));
    case FactKind::kBreach:
      return breach(static_cast<const asb::v1::Breach&>(element), base);
    case FactKind::kNone:
      break;
  }
  return base;
}

}  // namespace asb::policy::internal
