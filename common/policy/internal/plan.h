#pragma once

// The compiled form of an ISP, shared by the rooms of the engine: policy_compile.cc builds it,
// policy_apply.cc (Apply, ApplyEncoded) and policy_explain.cc read it.
//
// Each agency gets a plan: its rules in file order (at most 64, so a set of rules is one
// uint64_t bit mask) and, per node of the Case schema (internal/schema.h), which rules grant
// which action on that node, on an enclosing node and below it. Deciding a field is then a few
// mask operations; no path string is looked at after load.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asb/config/v1/isp.pb.h"
#include "asb/v1/types.pb.h"
#include "common/crypto/crypto.h"
#include "common/policy/policy.h"
#include "google/protobuf/descriptor.h"

namespace asb::policy {
namespace internal {

// Action bits, so a field's set of applicable actions is one byte. Bit i is action index i.
enum : uint8_t {
  kShow = 1,
  kGeneralise = 2,
  kPseudonymise = 4,
  kRedact = 8,
  kDeny = 16,
};
constexpr int kNumActions = 5;
constexpr uint8_t kReveal = kShow | kGeneralise | kPseudonymise;

// The action index (0 SHOW, 1 GENERALISE, 2 PSEUDONYMISE, 3 REDACT, 4 DENY) of a grant's
// action; -1 for UNSPECIFIED or an unknown value.
inline int ActionIndex(asb::v1::FieldAction a) {
  switch (a) {
    case asb::v1::FIELD_ACTION_SHOW:
      return 0;
    case asb::v1::FIELD_ACTION_GENERALISE:
      return 1;
    case asb::v1::FIELD_ACTION_PSEUDONYMISE:
      return 2;
    case asb::v1::FIELD_ACTION_REDACT:
      return 3;
    case asb::v1::FIELD_ACTION_DENY:
      return 4;
    default:
      return -1;
  }
}
constexpr asb::v1::FieldAction kActionOfIndex[kNumActions] = {
    asb::v1::FIELD_ACTION_SHOW, asb::v1::FIELD_ACTION_GENERALISE,
    asb::v1::FIELD_ACTION_PSEUDONYMISE, asb::v1::FIELD_ACTION_REDACT, asb::v1::FIELD_ACTION_DENY};

// A set of values of one enum, as a bit mask (0 = empty).
using EnumMask = uint64_t;
constexpr int kMaxEnumBits = 64;

// The bits of an enum's values in an EnumMask: bit i is the value declared i-th, so the set
// stays dense where the numbers are not (PERSON_ROLE_PARENT_CARER = 300 is bit 5,
// EVENT_TYPE_STATUTORY_NOTICE = 356 bit 18). An unknown value has no bit (0); so would one
// declared past the 64th, which PolicyEnumBitsTest.EveryConditionEnumFitsTheMask keeps from
// happening unnoticed (the ISP check names it: "declared past the 64th value").
class EnumBits {
 public:
  explicit EnumBits(const google::protobuf::EnumDescriptor* type);
  EnumMask operator()(int value) const {
    if (value >= 0 && value < kSmall) {
      return small_[value];
    }
    for (const auto& [v, bit] : large_) {
      if (v == value) {
        return bit;
      }
    }
    return 0;
  }
  // The index of the value's bit (0..63), or -1 if it has none.
  int Index(int value) const {
    const EnumMask b = (*this)(value);
    return b == 0 ? -1 : __builtin_ctzll(b);
  }
  // How many values the enum declares (some may exceed kMaxEnumBits and so have no bit).
  int declared() const { return declared_; }

 private:
  static constexpr int kSmall = 64;
  EnumMask small_[kSmall] = {};
  std::vector<std::pair<int, EnumMask>> large_;
  int declared_ = 0;
};
const EnumBits& NsirBits();
const EnumBits& EventBits();
const EnumBits& OrderBits();
const EnumBits& RoleBits();
const EnumBits& TenureBits();

// -1 unset, else 0/1: an `optional bool` of the ISP.
inline int8_t Tri(bool has, bool value) { return has ? (value ? 1 : 0) : -1; }

// A person selector (Rule.people, Condition.any_person) with its enum lists as bit masks.
struct CompiledSelector {
  bool any = false;  // some predicate is set
  EnumMask roles = 0;
  int8_t child = -1;
  int8_t vulnerable = -1;
  int8_t order_subject = -1;
  EnumMask order_types = 0;
  EnumMask tenures = 0;
  int8_t confidential = -1;
};

// A row condition with its enum lists as bit masks (0 = no constraint).
struct CompiledCondition {
  EnumMask nsir = 0;
  EnumMask events = 0;
  EnumMask orders = 0;
  int8_t fire_risk = -1;  // -1 unset, else 0/1
  int8_t council_tenancy = -1;
  int8_t hate_motivated = -1;
  int8_t licensed_premises = -1;
  int8_t lead_agency = -1;
  EnumMask roles = 0;
  int8_t subject_under_18 = -1;
  int min_victim_risk = 0;
  std::vector<std::string> wards;
  std::vector<std::string> lsoa_codes;
  EnumMask tenures = 0;
  int8_t has_vulnerable = -1;
  CompiledSelector any_person;
  bool has_sources = false;  // source_agencies or exclude_source_agencies given
};

struct RulePlan {
  const asb::config::v1::Rule* rule = nullptr;  // points into Policy::Impl::isp
  const asb::config::v1::Purpose* purpose = nullptr;
  CompiledCondition when;
  CompiledSelector people;  // Rule.people
  bool reveals = false;     // grants at least one field with a non-DENY action
};

// For a fact's source agency: the rules whose source conditions let their grants cover it.
struct SourceCover {
  std::string agency;
  uint64_t rules = 0;
};

// Per schema node: which rules name this exact path with each action, and which name a path
// strictly below it.
struct NodePlan {
  uint64_t explicit_rules[kNumActions] = {0, 0, 0, 0, 0};
  uint64_t any_explicit = 0;
  uint64_t below_any = 0;
  uint64_t below_deny = 0;
  uint64_t below_reveal = 0;
  // explicit_rules of this node and every enclosing node.
  uint64_t chain_rules[kNumActions] = {0, 0, 0, 0, 0};
};

struct AgencyPlan {
  std::string id;
  std::vector<RulePlan> rules;
  std::vector<NodePlan> nodes;  // indexed by schema node id
  // By role bit index (RoleBits): rules whose people.* grants apply to a person of that role
  // (when.person_roles).
  uint64_t rules_for_role[kMaxEnumBits] = {};
  uint64_t reveal_rules = 0;    // rules with any non-DENY grant
  uint64_t selector_rules = 0;  // rules with a Rule.people selector
  // Rules that cover only some people (a selector or when.person_roles): an order with a subject
  // is theirs only if its subject is.
  uint64_t restricting_rules = 0;
  uint64_t source_rules = 0;  // rules with a source condition
  // Per agency id the ISP names (and "hub"): the rules covering a fact from it; other sources
  // (unknown, empty) are covered by other_source_rules.
  std::vector<SourceCover> source_covers;
  uint64_t other_source_rules = ~uint64_t{0};
  bool needs_people = false;        // per-person facts are needed (selectors, any_person, ages)
  bool needs_ages = false;          // some rule tests childhood
  bool needs_subjects = false;      // some selector tests order_subject
  std::vector<int> decision_nodes;  // nodes some rule names, in schema order
};

}  // namespace internal

// What a Policy holds. Immutable once built (the token cache is per thread).
struct Policy::Impl {
  // Unique per compiled policy in this process (never reused, unlike an address).
  const uint64_t generation = NextGeneration();
  static uint64_t NextGeneration() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1);
  }
  asb::config::v1::Isp isp;
  std::string version;
  std::optional<crypto::HmacSha256Key> key;
  std::vector<internal::AgencyPlan> agencies;
  std::vector<std::string> warnings;  // Policy::warnings()
  std::vector<std::string> reviewed;  // Policy::reviewed()

  const internal::AgencyPlan* Find(const std::string& agency) const {
    for (const internal::AgencyPlan& a : agencies) {
      if (a.id == agency) {
        return &a;
      }
    }
    return nullptr;
  }

  // prefix + the first hex_chars hex digits of HMAC-SHA256(key, data): pseudonyms ("ps_") and
  // subject keys ("sk_"). Remembered per thread.
  std::string Token(const char* prefix, std::string_view data, std::size_t hex_chars) const;

 private:
  std::string ComputeToken(const char* prefix, std::string_view data, std::size_t hex_chars) const;
};

}  // namespace asb::policy
