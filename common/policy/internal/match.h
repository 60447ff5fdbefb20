#pragma once

// Which rules of an agency's plan hold for a case (the row conditions, Condition in the ISP), and
// which facts of the case each matching rule covers (person selectors, source conditions, the
// confidential marker): shared by Apply, ApplyEncoded and Explain, so the three decide alike.

#include <cstdint>
#include <string>

#include "absl/container/inlined_vector.h"
#include "asb/v1/case.pb.h"
#include "common/policy/internal/dates.h"
#include "common/policy/internal/plan.h"
#include "common/policy/internal/schema.h"
#include "common/policy/policy.h"

namespace asb::policy::internal {

// What the person predicates test of one linked person (one entry of Case.people).
struct PersonFacts {
  EnumMask role = 0;    // RoleBits of the role
  EnumMask tenure = 0;  // TenureBits of the tenure
  // OrderBits of the types of the case's orders whose subject this person is (only when the plan
  // needs_subjects).
  EnumMask subject_of = 0;
  bool vulnerable = false;
  bool confidential = false;
  bool child = false;  // under 18 by date of birth, else Person.child (only when needs_ages)
};

// The facts of a case one agency's plan decides on, computed once per application.
struct CaseFacts {
  bool lead = false;  // the plan's agency is the case's lead agency
  // One per Case.people entry, in order; filled only when the plan needs_people.
  absl::InlinedVector<PersonFacts, 8> people;
  // Whole-case facts for the row conditions.
  EnumMask roles = 0;
  EnumMask tenures = 0;
  EnumMask orders = 0;
  EnumMask under_18_roles = 0;  // roles of children (when needs_ages)
  bool any_vulnerable = false;
};

// Fills `facts` and returns the rules of `plan` whose row condition holds for this case and
// event, as a bit mask (bit i is plan.rules[i]).
uint64_t MatchMask(const AgencyPlan& plan, const asb::v1::Case& c, const EventContext& context,
                   CaseFacts* facts);

// Whether a selector covers a person with these facts.
bool Selects(const CompiledSelector& s, const PersonFacts& p);

// The rules (of `mask`) whose source conditions let them cover a fact from `source`.
inline uint64_t SourceCovers(const AgencyPlan& plan, const std::string& source) {
  if (plan.source_rules == 0) {
    return ~uint64_t{0};
  }
  for (const SourceCover& s : plan.source_covers) {
    if (s.agency == source) {
      return s.rules;
    }
  }
  return plan.other_source_rules;
}

// The rules of `mask` that cover Case.people[i]: not a confidential person unless the agency
// leads the case; the rule's when.person_roles and people selector; its source conditions.
uint64_t PersonMask(const AgencyPlan& plan, const asb::v1::Person& person, const CaseFacts& facts,
                    int i, uint64_t mask);
// The same without the source conditions: the rules that select the person (for orders, which
// follow their subject whoever's feed linked them).
uint64_t PersonSelected(const AgencyPlan& plan, const asb::v1::Person& person,
                        const CaseFacts& facts, int i, uint64_t mask);

// Per fact of one case, the rules of the matching mask that cover it.
class Coverage {
 public:
  Coverage(const AgencyPlan& plan, const asb::v1::Case& c, const CaseFacts& facts, uint64_t mask);

  uint64_t mask() const { return mask_; }
  // The case's own fields (everything but the fact lists).
  uint64_t root() const { return root_; }
  uint64_t person(int i) const { return people_[i]; }
  uint64_t incident(const asb::v1::Incident& i) const {
    return mask_ & SourceCovers(plan_, i.source_agency());
  }
  // An order: its source, and for rules that restrict people, whether they select its subject.
  uint64_t order(const asb::v1::Order& o) const;
  // A breach of an order whose coverage is `order_mask`.
  uint64_t breach(const asb::v1::Breach& b, uint64_t order_mask) const {
    return order_mask & SourceCovers(plan_, b.source_agency());
  }
  // Element i of a fact list of kind `kind` (`base`: the rules in force around it; returned
  // for elements that are no fact).
  uint64_t element(FactKind kind, const google::protobuf::Message& element, int i,
                   uint64_t base) const;

 private:
  const AgencyPlan& plan_;
  const asb::v1::Case& case_;
  uint64_t mask_;
  uint64_t root_;
  absl::InlinedVector<uint64_t, 8> people_;
  absl::InlinedVector<uint64_t, 8> selected_;  // people_ before source conditions
};

// The date ages are computed on: the case's updated_at, or today if it has none.
Date AsOf(const asb::v1::Case& c);

}  // namespace asb::policy::internal
