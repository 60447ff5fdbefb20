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
using internal::CaseFacts;
using internal::Coverage;
using internal::FactKind;
using internal::GenKind;
using internal::kNumActions;
using internal::Schema;
using internal::SchemaNode;

// Explains one present leaf under the rules of mask m (those covering its fact). `note`, if not
// empty, says why the fact is not covered at all.
void ExplainLeaf(const AgencyPlan& plan, const SchemaNode& n, uint64_t m, std::string path,
                 const std::string& note, Policy::Explanation* out) {
  uint64_t by_action[kNumActions];
  for (int a = 0; a < kNumActions; ++a) {
    // This path's and every enclosing path's grants (for free text, only REDACT and DENY from
    // enclosing paths).
    by_action[a] = plan.nodes[n.id].chain_rules[a] & m;
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
    if (!note.empty()) {
      fe.note = note;
    } else if (by_action[1] != 0) {
      fe.note = "GENERALISE has no generaliser for this field";
      fe.rule_id = plan.rules[__builtin_ctzll(by_action[1])].rule->id();
    } else if (by_action[2] != 0) {
      fe.note = "PSEUDONYMISE applies only to strings";
      fe.rule_id = plan.rules[__builtin_ctzll(by_action[2])].rule->id();
    } else if (n.free_text) {
      fe.note = "free text: shown only by a grant naming this path";
    } else {
      fe.note = "default deny: no matching rule grants it";
    }
  }
  if (winner >= 0) {
    fe.rule_id = plan.rules[__builtin_ctzll(by_action[winner])].rule->id();
  }
  out->fields.push_back(std::move(fe));
}

// Why a fact no matching rule covers is left out, for the people reading the explanation.
std::string UncoveredNote(const SchemaNode& n, const Message& element, const CaseFacts& facts,
                          uint64_t mask) {
  if (mask == 0) {
    return "";
  }
  if (n.fact == FactKind::kPerson && static_cast<const asb::v1::Person&>(element).confidential() &&
      !facts.lead) {
    return "confidential person: shown to the case's lead agency only";
  }
  switch (n.fact) {
    case FactKind::kPerson:
      return "no matching rule covers this person (roles, person selectors, source conditions)";
    case FactKind::kOrder:
      return "no matching rule covers this order (its subject or its source)";
    case FactKind::kIncident:
    case FactKind::kBreach:
      return "no matching rule covers facts from this source";
    case FactKind::kNone:
      break;
  }
  return "";
}

class Explainer {
 public:
  Explainer(const AgencyPlan& plan, const CaseFacts& facts, const Coverage& coverage,
            Policy::Explanation* out)
      : plan_(plan), facts_(facts), coverage_(coverage), out_(out) {}

  // Explains the fields of `src` (node n's message) under the rules of `mask`.
  void Walk(const SchemaNode& n, const google::protobuf::Message& src, uint64_t mask,
            const std::string& prefix, const std::string& note) {
    const Schema& schema = Schema::Get();
    const Reflection* r = src.GetReflection();
    for (int child : n.children) {
      const SchemaNode& cn = schema.node(child);
      const FieldDescriptor* f = cn.field;
      const std::string path = prefix.empty() ? f->name() : prefix + "." + f->name();
      if (cn.leaf) {
        if (f->is_repeated() ? r->FieldSize(src, f) > 0 : r->HasField(src, f)) {
          ExplainLeaf(plan_, cn, mask, path, note, out_);
        }
        continue;
      }
      if (f->is_repeated()) {
        const uint64_t base = n.id == 0 && cn.fact != FactKind::kNone ? coverage_.mask() : mask;
        for (int i = 0; i < r->FieldSize(src, f); ++i) {
          const google::protobuf::Message& element = r->GetRepeatedMessage(src, f, i);
          const uint64_t m = coverage_.element(cn.fact, element, i, base);
          const std::string why = !note.empty() ? note
                                  : m == 0      ? UncoveredNote(cn, element, facts_, base)
                                                : "";
          Walk(cn, element, m, absl::StrCat(path, "[", i, "]"), why);
        }
      } else if (r->HasField(src, f)) {
        Walk(cn, r->GetMessage(src, f), mask, path, note);
      }
    }
  }

 private:
  const AgencyPlan& plan_;
  const CaseFacts& facts_;
  const Coverage& coverage_;
  Policy::Explanation* out_;
};

}  // namespace

absl::StatusOr<Policy::Explanation> Policy::Explain(const std::string& agency,
                                                    const asb::v1::Case& c,
                                                    const EventContext& context) const {
  const AgencyPlan* plan = impl_->Find(agency);
  if (plan == nullptr) {
    return absl::NotFoundError("the ISP names no agency '" + agency + "'");
  }
  Explanation out;
  CaseFacts facts;
  uint64_t mask = internal::MatchMask(*plan, c, context, &facts);
  for (std::size_t i = 0; i < plan->rules.size(); ++i) {
    if ((mask & (uint64_t{1} << i)) != 0) {
      out.matched_rules.push_back(plan->rules[i].rule->id());
    }
  }
  out.visible = (mask & plan->reveal_rules) != 0;
  // Apply() discloses nothing at all unless a revealing rule matches.
  const Coverage coverage(*plan, c, facts, out.visible ? mask : 0);
  Explainer(*plan, facts, coverage, &out).Walk(Schema::Get().node(0), c, coverage.root(), "", "");
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
