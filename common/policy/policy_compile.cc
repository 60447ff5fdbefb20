// Policy::LoadFile and Policy::Compile: reading an ISP and its pseudonymisation key, checking the
// ISP against the asb.v1.Case descriptors (every problem at once, each with file and line through
// config::Violations; its agencies and principals by common/auth's check, the one every daemon's
// authenticator makes) and compiling it into the per-agency plans of internal/plan.h.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/auth/principals.h"
#include "common/config/config.h"
#include "common/config/violations.h"
#include "common/crypto/crypto.h"
#include "common/policy/internal/plan.h"
#include "common/policy/internal/schema.h"
#include "common/policy/policy.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace asb::policy {

namespace {

using asb::config::v1::Condition;
using asb::config::v1::Isp;
using asb::config::v1::NotificationRule;
using asb::config::v1::Purpose;
using asb::config::v1::Rule;
using config::Violations;
using google::protobuf::FieldDescriptor;
using google::protobuf::Reflection;
using internal::ActionIndex;
using internal::AgencyPlan;
using internal::Bit;
using internal::CompiledCondition;
using internal::kNumActions;
using internal::NodePlan;
using internal::RulePlan;
using internal::Schema;
using internal::SchemaNode;

constexpr int kMaxRulesPerAgency = 64;

int8_t Tri(bool has, bool value) { return has ? (value ? 1 : 0) : -1; }

template <class EnumList, class IsValid>
void CheckEnumList(Violations* p, const std::string& path, const EnumList& list, IsValid is_valid,
                   bool unspecified_ok) {
  for (int i = 0; i < list.size(); ++i) {
    int v = list.Get(i);
    if (!is_valid(v) || v >= 32) {
      p->Add(absl::StrCat(path, "[", i, "]"), absl::StrCat("unknown value ", v));
    } else if (v == 0 && !unspecified_ok) {
      p->Add(absl::StrCat(path, "[", i, "]"), "the UNSPECIFIED value never matches");
    }
  }
}

void CheckCondition(Violations* p, const std::string& base, const Condition& c) {
  // A list the file wrote but left empty reads as "match nothing" to a person and as "match
  // anything" to the engine: refuse it.
  const auto* d = Condition::descriptor();
  const Reflection* r = c.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated() && r->FieldSize(c, f) == 0 && p->Present(base + "." + f->name())) {
      p->Add(base + "." + f->name(),
             "empty list can never match; remove the key to mean 'any', or list values");
    }
  }
  CheckEnumList(p, base + ".nsir_categories", c.nsir_categories(), asb::v1::NsirCategory_IsValid,
                false);
  CheckEnumList(p, base + ".event_types", c.event_types(), asb::v1::EventType_IsValid, false);
  CheckEnumList(p, base + ".order_types", c.order_types(), asb::v1::OrderType_IsValid, false);
  CheckEnumList(p, base + ".person_roles", c.person_roles(), asb::v1::PersonRole_IsValid, false);
  CheckEnumList(p, base + ".tenures", c.tenures(), asb::v1::Tenure_IsValid, true);
  if (!asb::v1::RiskLevel_IsValid(c.min_victim_risk())) {
    p->Add(base + ".min_victim_risk", absl::StrCat("unknown risk level ", c.min_victim_risk()));
  }
  if (c.has_subject_under_18() && c.subject_under_18() && c.person_roles_size() > 0) {
    bool subject = false;
    for (int role : c.person_roles()) {
      subject |= role == asb::v1::PERSON_ROLE_VICTIM || role == asb::v1::PERSON_ROLE_PERPETRATOR;
    }
    if (!subject) {
      p->Add(base + ".subject_under_18",
             "can never match: person_roles names neither victims nor perpetrators");
    }
  }
  for (int i = 0; i < c.wards_size(); ++i) {
    if (c.wards(i).empty()) {
      p->Add(absl::StrCat(base, ".wards[", i, "]"), "empty ward name");
    }
  }
  for (int i = 0; i < c.lsoa_codes_size(); ++i) {
    if (c.lsoa_codes(i).empty()) {
      p->Add(absl::StrCat(base, ".lsoa_codes[", i, "]"), "empty LSOA code");
    }
  }
}

CompiledCondition CompileCondition(const Condition& c) {
  CompiledCondition out;
  for (int v : c.nsir_categories()) {
    out.nsir |= Bit(v);
  }
  for (int v : c.event_types()) {
    out.events |= Bit(v);
  }
  for (int v : c.order_types()) {
    out.orders |= Bit(v);
  }
  for (int v : c.person_roles()) {
    out.roles |= Bit(v);
  }
  for (int v : c.tenures()) {
    out.tenures |= Bit(v);
  }
  out.fire_risk = Tri(c.has_fire_risk(), c.fire_risk());
  out.council_tenancy = Tri(c.has_council_tenancy(), c.council_tenancy());
  out.hate_motivated = Tri(c.has_hate_motivated(), c.hate_motivated());
  out.subject_under_18 = Tri(c.has_subject_under_18(), c.subject_under_18());
  out.has_vulnerable = Tri(c.has_has_vulnerable_person(), c.has_vulnerable_person());
  out.min_victim_risk = c.min_victim_risk();
  out.wards.assign(c.wards().begin(), c.wards().end());
  out.lsoa_codes.assign(c.lsoa_codes().begin(), c.lsoa_codes().end());
  return out;
}

void CheckRuleFields(Violations* p, const std::string& base, const Rule& rule,
                     std::vector<std::pair<int, int>>* resolved) {
  const Schema& schema = Schema::Get();
  if (rule.fields_size() == 0) {
    p->Add(base + ".fields", "required: at least one field grant");
  }
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < rule.fields_size(); ++i) {
    const auto& g = rule.fields(i);
    const std::string at = absl::StrCat(base, ".fields[", i, "]");
    int node = -1;
    if (g.path().empty()) {
      p->Add(at + ".path", "required");
    } else {
      std::string error;
      node = schema.Resolve(g.path(), &error);
      if (node < 0) {
        p->Add(at + ".path", error);
      } else if (!seen.insert(g.path()).second) {
        p->Add(at + ".path", "'" + g.path() + "' is named twice in this rule");
        node = -1;
      }
    }
    const int action = ActionIndex(g.action());
    if (action < 0) {
      p->Add(at + ".action", "required: SHOW, PSEUDONYMISE, GENERALISE, REDACT or DENY");
    }
    if (node < 0 || action < 0) {
      continue;
    }
    const SchemaNode& n = schema.node(node);
    if (g.action() == asb::v1::FIELD_ACTION_GENERALISE && !n.explicit_generalise_ok) {
      p->Add(at + ".action",
             "no generaliser for '" + g.path() +
                 "' (GENERALISE applies to Address, Location, timestamps, date_of_birth and "
                 "postcode)");
      continue;
    }
    if (g.action() == asb::v1::FIELD_ACTION_PSEUDONYMISE && !n.is_string) {
      p->Add(at + ".action",
             "PSEUDONYMISE applies only to string fields; '" + g.path() + "' is not a string");
      continue;
    }
    resolved->emplace_back(node, action);
  }
}

void CheckKey(Violations* p, const std::string& key) {
  if (key.size() < 32) {
    p->Add("pseudonymisation_key_file", absl::StrCat("pseudonymisation key is ", key.size(),
                                                     " bytes, at least 32 are required"));
  }
}

// Everything but the key; fills `plans` if there is no problem.
void CheckAndPlan(const Isp& isp, Violations* p, std::vector<AgencyPlan>* plans) {
  if (isp.name().empty()) {
    p->Add("name", "required");
  }
  if (isp.pseudonymisation_key_file().empty()) {
    p->Add("pseudonymisation_key_file", "required");
  }
  if (isp.agencies_size() == 0) {
    p->Add("agencies", "required: at least one agency");
  }
  // The agencies and principals: the same check every daemon's authenticator makes.
  const absl::flat_hash_set<std::string> agencies = auth::CheckAgenciesAndPrincipals(isp, p);

  absl::flat_hash_set<std::string> purposes;
  for (int i = 0; i < isp.purposes_size(); ++i) {
    const auto& pu = isp.purposes(i);
    const std::string at = absl::StrCat("purposes[", i, "]");
    if (pu.id().empty()) {
      p->Add(at + ".id", "required");
    } else if (!purposes.insert(pu.id()).second) {
      p->Add(at + ".id", "duplicate purpose '" + pu.id() + "'");
    }
    if (pu.description().empty()) {
      p->Add(at + ".description", "required");
    }
    if (pu.lawful_basis().empty()) {
      p->Add(at + ".lawful_basis", "required: the legal gateway for this sharing");
    }
  }

  const Schema& schema = Schema::Get();
  plans->clear();
  for (const auto& a : isp.agencies()) {
    if (agencies.contains(a.id()) &&
        std::none_of(plans->begin(), plans->end(),
                     [&](const AgencyPlan& x) { return x.id == a.id(); })) {
      AgencyPlan plan;
      plan.id = a.id();
      plan.nodes.resize(schema.nodes().size());
      plans->push_back(std::move(plan));
    }
  }
  auto plan_of = [&](const std::string& id) -> AgencyPlan* {
    for (AgencyPlan& x : *plans) {
      if (x.id == id) {
        return &x;
      }
    }
    return nullptr;
  };

  absl::flat_hash_set<std::string> rule_ids;
  for (int i = 0; i < isp.rules_size(); ++i) {
    const Rule& rule = isp.rules(i);
    const std::string at = absl::StrCat("rules[", i, "]");
    if (rule.id().empty()) {
      p->Add(at + ".id", "required");
    } else if (!rule_ids.insert(rule.id()).second) {
      p->Add(at + ".id", "duplicate rule '" + rule.id() + "'");
    }
    AgencyPlan* plan = nullptr;
    if (rule.agency().empty()) {
      p->Add(at + ".agency", "required");
    } else if (!agencies.contains(rule.agency())) {
      p->Add(at + ".agency", "unknown agency '" + rule.agency() + "'");
    } else {
      plan = plan_of(rule.agency());
    }
    const Purpose* purpose = nullptr;
    if (rule.purpose().empty()) {
      p->Add(at + ".purpose", "required");
    } else {
      for (const Purpose& pu : isp.purposes()) {
        if (pu.id() == rule.purpose()) {
          purpose = &pu;
          break;
        }
      }
      if (purpose == nullptr) {
        p->Add(at + ".purpose", "unknown purpose '" + rule.purpose() + "'");
      }
    }
    CheckCondition(p, at + ".when", rule.when());
    std::vector<std::pair<int, int>> grants;
    CheckRuleFields(p, at, rule, &grants);
    if (plan == nullptr) {
      continue;
    }
    if (plan->rules.size() >= kMaxRulesPerAgency) {
      p->Add(at,
             absl::StrCat("agency '", plan->id, "' has more than ", kMaxRulesPerAgency, " rules"));
      continue;
    }
    const uint64_t bit = uint64_t{1} << plan->rules.size();
    RulePlan rp;
    rp.rule = &rule;
    rp.purpose = purpose;
    rp.when = CompileCondition(rule.when());
    for (auto [node, action] : grants) {
      plan->nodes[node].explicit_rules[action] |= bit;
      rp.reveals |= action != 4;
    }
    plan->needs_ages |= rp.when.subject_under_18 >= 0;
    plan->rules.push_back(std::move(rp));
  }

  absl::flat_hash_set<std::string> notification_ids;
  for (int i = 0; i < isp.notification_rules_size(); ++i) {
    const NotificationRule& n = isp.notification_rules(i);
    const std::string at = absl::StrCat("notification_rules[", i, "]");
    if (n.id().empty()) {
      p->Add(at + ".id", "required");
    } else if (!notification_ids.insert(n.id()).second) {
      p->Add(at + ".id", "duplicate notification rule '" + n.id() + "'");
    }
    if (n.event_types_size() == 0) {
      p->Add(at + ".event_types", "required: at least one event type");
    }
    CheckEnumList(p, at + ".event_types", n.event_types(), asb::v1::EventType_IsValid, false);
    CheckEnumList(p, at + ".order_types", n.order_types(), asb::v1::OrderType_IsValid, false);
    if (n.order_types_size() == 0 && p->Present(at + ".order_types")) {
      p->Add(at + ".order_types",
             "empty list can never match; remove the key to mean 'any', or list values");
    }
    if (n.order_types_size() > 0) {
      bool order_event = false;
      for (int e : n.event_types()) {
        order_event |=
            e >= asb::v1::EVENT_TYPE_ORDER_ISSUED && e <= asb::v1::EVENT_TYPE_ORDER_EXPIRED;
      }
      if (!order_event) {
        p->Add(at + ".order_types", "can never match: none of event_types is an order event");
      }
    }
    if (n.agencies_size() == 0) {
      p->Add(at + ".agencies", "required: at least one agency");
    }
    for (int j = 0; j < n.agencies_size(); ++j) {
      if (!agencies.contains(n.agencies(j))) {
        p->Add(absl::StrCat(at, ".agencies[", j, "]"), "unknown agency '" + n.agencies(j) + "'");
      }
    }
  }

  // Depersonalised aggregates (issue 16): who may ask, under which gateway.
  if (isp.has_aggregates()) {
    const asb::config::v1::AggregateAccess& ag = isp.aggregates();
    if (!auth::ValidId(ag.purpose())) {
      p->Add("aggregates.purpose", "required: a purpose id ([a-z0-9_-]+)");
    }
    if (ag.lawful_basis().empty()) {
      p->Add("aggregates.lawful_basis", "required: the legal gateway (e.g. CDA 1998 s.17A)");
    }
    if (ag.agencies_size() == 0) {
      p->Add("aggregates.agencies", "required: at least one agency, or \"*\" for every agency");
    }
    for (int j = 0; j < ag.agencies_size(); ++j) {
      const std::string& a = ag.agencies(j);
      if (a == "*" ? ag.agencies_size() != 1 : !agencies.contains(a)) {
        p->Add(absl::StrCat("aggregates.agencies[", j, "]"),
               a == "*" ? "\"*\" must be alone" : "unknown agency '" + a + "'");
      }
    }
    if (ag.suppress_below() > 100) {
      p->Add("aggregates.suppress_below", "at most 100");
    }
  }

  // Finish the plans: below-masks, per-role rule masks, the decision node list.
  for (AgencyPlan& plan : *plans) {
    for (std::size_t r = 0; r < plan.rules.size(); ++r) {
      const uint64_t bit = uint64_t{1} << r;
      if (plan.rules[r].reveals) {
        plan.reveal_rules |= bit;
      }
      const uint32_t roles = plan.rules[r].when.roles;
      for (int role = 0; role < 32; ++role) {
        if (roles == 0 || (roles & Bit(role)) != 0) {
          plan.rules_for_role[role] |= bit;
        }
      }
    }
    const auto& nodes = schema.nodes();
    // Children have larger ids than their parents: one reverse pass folds masks upwards.
    for (int id = static_cast<int>(nodes.size()) - 1; id >= 0; --id) {
      NodePlan& np = plan.nodes[id];
      for (int a = 0; a < kNumActions; ++a) {
        np.any_explicit |= np.explicit_rules[a];
      }
      if (nodes[id].parent >= 0) {
        NodePlan& parent = plan.nodes[nodes[id].parent];
        parent.below_any |= np.any_explicit | np.below_any;
        parent.below_deny |= np.explicit_rules[4] | np.below_deny;
        parent.below_reveal |=
            np.explicit_rules[0] | np.explicit_rules[1] | np.explicit_rules[2] | np.below_reveal;
      }
    }
    // Parents have smaller ids: one forward pass folds masks downwards.
    for (std::size_t id = 1; id < nodes.size(); ++id) {
      NodePlan& np = plan.nodes[id];
      for (int a = 0; a < kNumActions; ++a) {
        np.chain_rules[a] = np.explicit_rules[a];
        if (nodes[id].parent > 0) {
          np.chain_rules[a] |= plan.nodes[nodes[id].parent].chain_rules[a];
        }
      }
    }
    for (std::size_t id = 0; id < nodes.size(); ++id) {
      if (plan.nodes[id].any_explicit != 0) {
        plan.decision_nodes.push_back(static_cast<int>(id));
      }
    }
  }
}

std::string ComputeVersion(const Isp& isp, const std::string& key) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    isp.SerializeToCodedStream(&coded);
  }
  bytes += crypto::Sha256(key);
  return crypto::HexEncode(crypto::Sha256(bytes));
}

absl::StatusOr<std::shared_ptr<const Policy>> Build(const Isp& isp, const std::string& key,
                                                    Violations* problems) {
  auto impl = std::make_unique<Policy::Impl>();
  impl->isp = isp;
  // Plans point into impl->isp, so plan over the copy.
  CheckAndPlan(impl->isp, problems, &impl->agencies);
  if (!problems->empty()) {
    return problems->ToStatus();
  }
  auto hmac = crypto::HmacSha256Key::Create(key);
  if (!hmac.ok()) {
    return hmac.status();
  }
  impl->key.emplace(std::move(*hmac));
  impl->version = ComputeVersion(impl->isp, key);
  return std::shared_ptr<const Policy>(std::make_shared<Policy>(std::move(impl)));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Policy>> Policy::LoadFile(const std::string& path) {
  Isp isp;
  config::SourceMap lines;
  if (absl::Status s = config::LoadConfigFile(path, &isp, &lines); !s.ok()) {
    return s;
  }
  Violations problems(path, &lines);
  std::string key;
  if (!isp.pseudonymisation_key_file().empty()) {
    std::filesystem::path key_path(isp.pseudonymisation_key_file());
    if (key_path.is_relative()) {
      key_path = std::filesystem::path(path).parent_path() / key_path;
    }
    std::string text;
    if (absl::Status s = config::ReadFile(key_path.string(), &text); !s.ok()) {
      problems.Add("pseudonymisation_key_file",
                   absl::StrCat("cannot read key file: ", s.message()));
    } else {
      // Lines starting with '#' are comments (the demo key file says it is a demo key).
      std::string hex;
      for (absl::string_view line : absl::StrSplit(text, '\n')) {
        line = absl::StripAsciiWhitespace(line);
        if (!line.empty() && line[0] != '#') {
          hex.append(line.data(), line.size());
        }
      }
      auto decoded = crypto::HexDecode(hex);
      if (!decoded.ok()) {
        problems.Add("pseudonymisation_key_file",
                     "key file '" + key_path.string() + "' must hold the key in hex");
      } else {
        key = std::move(*decoded);
        CheckKey(&problems, key);
      }
    }
  }
  return Build(isp, key, &problems);
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::Compile(const Isp& isp,
                                                              const std::string& key,
                                                              const std::string& file_name,
                                                              const config::SourceMap* lines) {
  Violations problems(file_name, lines);
  CheckKey(&problems, key);
  return Build(isp, key, &problems);
}

}  // namespace asb::policy
