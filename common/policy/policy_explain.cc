// Policy::Explain: why each field of a case reaches an agency or not, for people (asbctl policy
// explain, policy test files). It reads the same plans and the same matching as Apply and
// follows Apply's order of preference, field by field with path strings: slow, and never on the
// hot path.

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/policy/internal/match.h"
#include "common/policy/internal/plan.h"
#include "common/policy/internal/schema.h"
#include "common/policy/policy.h"

namespace asb::policy {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using internal::AgencyPlan;
using internal::Bit;
using internal::GenKind;
using internal::kNumActions;
using internal::Schema;
using internal::SchemaNode;

// Explains one present leaf under the action set s (the path chain's grants under mask m).
void ExplainLeaf(const AgencyPlan& plan, const SchemaNode& n, uint64_t m, std::string path,
                 Policy::Explanation* out) {
  const Schema& schema = Schema::Get();
  uint64_t by_action[kNumActions] = {0, 0, 0, 0, 0};
  for (int at = n.id; at > 0; at = schema.node(at).parent) {
    for (int a = 0; a < kNumActions; ++a) {
      by_action[a] |= plan.nodes[at].explicit_rules[a] & m;
    }
  }
  // The same order of preference as Walker::Leaf (policy_apply.cc).
  int winner = -1;
  Policy::FieldExplanation fe;
  fe.path = std::move(path);
  fe.schema_path = n.path;
  const bool repeated = n.field->is_repeated();
  if (by_action[4] != 0) {
    winner = 4;
    fe.outcome = "denied";
  } else if (by_action[0] != 0) {
    winner = 0;
    fe.outcome = "shown";
  } else if (by_action[1] != 0 && n.gen != GenKind::kNone && !repeated) {
    winner = 1;
    fe.outcome = "generalised";
  } else if (by_action[2] != 0 && n.is_string) {
    winner = 2;
    fe.outcome = "pseudonymised";
  } else if (by_action[3] != 0) {
    winner = 3;
    fe.outcome = "redacted";
  } else {
    fe.outcome = "withheld";
    if (by_action[1] != 0) {
      fe.note = "GENERALISE has no generaliser for this field";
      fe.rule_id = plan.rules[__builtin_ctzll(by_action[1])].rule->id();
    } else if (by_action[2] != 0) {
      fe.note = "PSEUDONYMISE applies only to strings";
      fe.rule_id = plan.rules[__builtin_ctzll(by_action[2])].rule->id();
    } else {
      fe.note = "default deny: no matching rule grants it";
    }
  }
  if (winner >= 0) {
    fe.rule_id = plan.rules[__builtin_ctzll(by_action[winner])].rule->id();
  }
  out->fields.push_back(std::move(fe));
}

void ExplainMessage(const AgencyPlan& plan, const SchemaNode& n, const Message& src, uint64_t mask,
                    const std::string& prefix, Policy::Explanation* out) {
  const Schema& schema = Schema::Get();
  const Reflection* r = src.GetReflection();
  for (int child : n.children) {
    const SchemaNode& cn = schema.node(child);
    const FieldDescriptor* f = cn.field;
    const std::string path = prefix.empty() ? f->name() : prefix + "." + f->name();
    if (cn.leaf) {
      if (f->is_repeated() ? r->FieldSize(src, f) > 0 : r->HasField(src, f)) {
        ExplainLeaf(plan, cn, mask, path, out);
      }
      continue;
    }
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(src, f); ++i) {
        const Message& element = r->GetRepeatedMessage(src, f, i);
        uint64_t m = mask;
        if (cn.is_people) {
          const auto& person = static_cast<const asb::v1::Person&>(element);
          m &= plan.rules_for_role[Bit(person.role()) != 0 ? person.role() : 0];
        }
        ExplainMessage(plan, cn, element, m, absl::StrCat(path, "[", i, "]"), out);
      }
    } else if (r->HasField(src, f)) {
      ExplainMessage(plan, cn, r->GetMessage(src, f), mask, path, out);
    }
  }
}

}  // namespace

absl::StatusOr<Policy::Explanation> Policy::Explain(const std::string& agency,
                                                    const asb::v1::Case& c,
                                                    const EventContext& context) const {
  const AgencyPlan* plan = impl_->Find(agency);
  if (plan == nullptr) {
    return absl::NotFoundError("the ISP names no agency '" + agency + "'");
  }
  Explanation out;
  uint64_t mask = internal::MatchMask(*plan, c, context);
  for (std::size_t i = 0; i < plan->rules.size(); ++i) {
    if ((mask & (uint64_t{1} << i)) != 0) {
      out.matched_rules.push_back(plan->rules[i].rule->id());
    }
  }
  out.visible = (mask & plan->reveal_rules) != 0;
  // Apply() discloses nothing at all unless a revealing rule matches.
  ExplainMessage(*plan, Schema::Get().node(0), c, out.visible ? mask : 0, "", &out);
  if (!out.visible) {
    for (FieldExplanation& fe : out.fields) {
      fe.rule_id.clear();
      fe.outcome = "withheld";
      fe.note = "no rule of this agency matches the case";
    }
  }
  return out;
}

}  // namespace asb::policy
