// Policy::LoadFile and Policy::Compile: reading an ISP and its pseudonymisation key, checking the
// ISP against the asb.v1.Case descriptors (every problem at once, each with file and line through
// config::Violations; its agencies and principals by common/auth's check, the one every daemon's
// authenticator makes) and compiling it into the per-agency plans of internal/plan.h.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/agreement/agreement.h"
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
using asb::config::v1::PersonSelector;
using asb::config::v1::Purpose;
using asb::config::v1::Rule;
using auth::kHubAgency;
using config::Violations;
using google::protobuf::FieldDescriptor;
using google::protobuf::Reflection;
using internal::ActionIndex;
using internal::AgencyPlan;
using internal::CompiledCondition;
using internal::CompiledSelector;
using internal::EnumBits;
using internal::kNumActions;
using internal::NodePlan;
using internal::RulePlan;
using internal::Schema;
using internal::SchemaNode;
using internal::Tri;

constexpr int kMaxRulesPerAgency = 64;

template <class EnumList, class IsValid>
void CheckEnumList(Violations* p, const std::string& path, const EnumList& list, IsValid is_valid,
                   const EnumBits& bits, bool unspecified_ok) {
  for (int i = 0; i < list.size(); ++i) {
    int v = list.Get(i);
    if (!is_valid(v)) {
      p->Add(absl::StrCat(path, "[", i, "]"), absl::StrCat("unknown value ", v));
    } else if (bits(v) == 0) {
      p->Add(absl::StrCat(path, "[", i, "]"),
             absl::StrCat("value ", v, " is declared past the ", internal::kMaxEnumBits,
                          "th value of its enum: the policy engine cannot test it (widen "
                          "internal::EnumMask)"));
    } else if (v == 0 && !unspecified_ok) {
      p->Add(absl::StrCat(path, "[", i, "]"), "the UNSPECIFIED value never matches");
    }
  }
}

// A list the file wrote but left empty reads as "match nothing" to a person and as "match
// anything" to the engine: refuse it.
void CheckEmptyLists(Violations* p, const std::string& base, const google::protobuf::Message& m) {
  const auto* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated() && r->FieldSize(m, f) == 0 && p->Present(base + "." + f->name())) {
      p->Add(base + "." + f->name(),
             "empty list can never match; remove the key to mean 'any', or list values");
    }
  }
}

void CheckSelector(Violations* p, const std::string& base, const PersonSelector& s) {
  CheckEmptyLists(p, base, s);
  CheckEnumList(p, base + ".roles", s.roles(), asb::v1::PersonRole_IsValid, internal::RoleBits(),
                false);
  CheckEnumList(p, base + ".order_types", s.order_types(), asb::v1::OrderType_IsValid,
                internal::OrderBits(), false);
  CheckEnumList(p, base + ".tenures", s.tenures(), asb::v1::Tenure_IsValid, internal::TenureBits(),
                true);
}

// Source agencies must be agencies of this ISP (or the hub, whose clock emits events).
void CheckSources(Violations* p, const std::string& base, const Condition& c,
                  const absl::flat_hash_set<std::string>& agencies) {
  auto known = [&](const std::string& a) { return a == kHubAgency || agencies.contains(a); };
  for (int i = 0; i < c.source_agencies_size(); ++i) {
    if (!known(c.source_agencies(i))) {
      p->Add(absl::StrCat(base, ".source_agencies[", i, "]"),
             "unknown agency '" + c.source_agencies(i) + "'");
    }
  }
  for (int i = 0; i < c.exclude_source_agencies_size(); ++i) {
    const std::string& a = c.exclude_source_agencies(i);
    if (!known(a)) {
      p->Add(absl::StrCat(base, ".exclude_source_agencies[", i, "]"), "unknown agency '" + a + "'");
    } else if (std::find(c.source_agencies().begin(), c.source_agencies().end(), a) !=
               c.source_agencies().end()) {
      p->Add(absl::StrCat(base, ".exclude_source_agencies[", i, "]"),
             "'" + a +
                 "' is both required (source_agencies) and excluded: the rule can never "
                 "cover its facts");
    }
  }
}

void CheckCondition(Violations* p, const std::string& base, const Condition& c) {
  CheckEmptyLists(p, base, c);
  CheckEnumList(p, base + ".nsir_categories", c.nsir_categories(), asb::v1::NsirCategory_IsValid,
                internal::NsirBits(), false);
  CheckEnumList(p, base + ".event_types", c.event_types(), asb::v1::EventType_IsValid,
                internal::EventBits(), false);
  CheckEnumList(p, base + ".order_types", c.order_types(), asb::v1::OrderType_IsValid,
                internal::OrderBits(), false);
  CheckEnumList(p, base + ".person_roles", c.person_roles(), asb::v1::PersonRole_IsValid,
                internal::RoleBits(), false);
  CheckEnumList(p, base + ".tenures", c.tenures(), asb::v1::Tenure_IsValid, internal::TenureBits(),
                true);
  if (c.has_any_person()) {
    CheckSelector(p, base + ".any_person", c.any_person());
  }
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

template <class List>
internal::EnumMask Bits(const List& list, const EnumBits& bits) {
  internal::EnumMask out = 0;
  for (int v : list) {
    out |= bits(v);
  }
  return out;
}

CompiledSelector CompileSelector(const PersonSelector& s) {
  CompiledSelector out;
  out.roles = Bits(s.roles(), internal::RoleBits());
  out.child = Tri(s.has_child(), s.child());
  out.vulnerable = Tri(s.has_vulnerable(), s.vulnerable());
  out.order_subject = Tri(s.has_order_subject(), s.order_subject());
  out.order_types = Bits(s.order_types(), internal::OrderBits());
  if (out.order_types != 0 && out.order_subject < 0) {
    out.order_subject = 1;  // listing types alone means "the subject of such an order"
  }
  out.tenures = Bits(s.tenures(), internal::TenureBits());
  out.confidential = Tri(s.has_confidential(), s.confidential());
  out.any = out.roles != 0 || out.child >= 0 || out.vulnerable >= 0 || out.order_subject >= 0 ||
            out.tenures != 0 || out.confidential >= 0;
  return out;
}

CompiledCondition CompileCondition(const Condition& c) {
  CompiledCondition out;
  out.nsir = Bits(c.nsir_categories(), internal::NsirBits());
  out.events = Bits(c.event_types(), internal::EventBits());
  out.orders = Bits(c.order_types(), internal::OrderBits());
  out.roles = Bits(c.person_roles(), internal::RoleBits());
  out.tenures = Bits(c.tenures(), internal::TenureBits());
  out.fire_risk = Tri(c.has_fire_risk(), c.fire_risk());
  out.council_tenancy = Tri(c.has_council_tenancy(), c.council_tenancy());
  out.hate_motivated = Tri(c.has_hate_motivated(), c.hate_motivated());
  out.licensed_premises = Tri(c.has_licensed_premises(), c.licensed_premises());
  out.lead_agency = Tri(c.has_lead_agency(), c.lead_agency());
  out.subject_under_18 = Tri(c.has_subject_under_18(), c.subject_under_18());
  out.has_vulnerable = Tri(c.has_has_vulnerable_person(), c.has_vulnerable_person());
  out.min_victim_risk = c.min_victim_risk();
  out.wards.assign(c.wards().begin(), c.wards().end());
  out.lsoa_codes.assign(c.lsoa_codes().begin(), c.lsoa_codes().end());
  if (c.has_any_person()) {
    out.any_person = CompileSelector(c.any_person());
  }
  out.has_sources = c.source_agencies_size() > 0 || c.exclude_source_agencies_size() > 0;
  return out;
}

// Does a rule whose source condition is `c` cover a fact from `source`?
bool CoversSource(const Condition& c, const std::string& source) {
  if (c.source_agencies_size() > 0 &&
      std::find(c.source_agencies().begin(), c.source_agencies().end(), source) ==
          c.source_agencies().end()) {
    return false;
  }
  return std::find(c.exclude_source_agencies().begin(), c.exclude_source_agencies().end(),
                   source) == c.exclude_source_agencies().end();
}

// Whether two rules of one agency can match the same case (as far as their flags, the lead
// agency and NSIR categories tell): a warning about free text only counts rules that can.
bool MayCoOccur(const Condition& a, const Condition& b) {
  auto clash = [](bool ha, bool va, bool hb, bool vb) { return ha && hb && va != vb; };
  if (clash(a.has_fire_risk(), a.fire_risk(), b.has_fire_risk(), b.fire_risk()) ||
      clash(a.has_council_tenancy(), a.council_tenancy(), b.has_council_tenancy(),
            b.council_tenancy()) ||
      clash(a.has_hate_motivated(), a.hate_motivated(), b.has_hate_motivated(),
            b.hate_motivated()) ||
      clash(a.has_licensed_premises(), a.licensed_premises(), b.has_licensed_premises(),
            b.licensed_premises()) ||
      clash(a.has_lead_agency(), a.lead_agency(), b.has_lead_agency(), b.lead_agency()) ||
      clash(a.has_subject_under_18(), a.subject_under_18(), b.has_subject_under_18(),
            b.subject_under_18()) ||
      clash(a.has_has_vulnerable_person(), a.has_vulnerable_person(), b.has_has_vulnerable_person(),
            b.has_vulnerable_person())) {
    return false;
  }
  if (a.nsir_categories_size() > 0 && b.nsir_categories_size() > 0) {
    return std::any_of(a.nsir_categories().begin(), a.nsir_categories().end(), [&](int v) {
      return std::find(b.nsir_categories().begin(), b.nsir_categories().end(), v) !=
             b.nsir_categories().end();
    });
  }
  return true;
}

bool CoversPath(const std::string& grant, const std::string& path) {
  return path == grant || absl::StartsWith(path, grant + ".");
}

// True if `r` SHOWs `path` (by that path or an enclosing one).
bool Shows(const Rule& r, const std::string& path) {
  return std::any_of(r.fields().begin(), r.fields().end(), [&](const auto& g) {
    return g.action() == asb::v1::FIELD_ACTION_SHOW && CoversPath(g.path(), path);
  });
}

// The person fields that identify someone: a free-text field shown beside any of these
// withheld can name or locate the person the plan withholds.
bool IsIdentityPath(const std::string& path) {
  return path == "people" || path == "people.person_id" || path == "people.given_name" ||
         path == "people.family_name" || path == "people.date_of_birth" || path == "people.phone" ||
         path == "people.address" || absl::StartsWith(path, "people.address.");
}

// `policy check`'s warnings: a rule that shows free text (explicitly: nothing else can) where,
// in a case it matches, its agency's plan withholds person fields — another rule that can match
// with it pseudonymises, generalises, redacts or denies an identity field this rule does not
// show; the agency sees no one's name; or the rule covers only some of the case's people.
void FreeTextWarnings(const Isp& isp, Violations* warnings, Violations* reviewed) {
  const auto& free = Schema::Get().free_text_paths();
  for (int i = 0; i < isp.rules_size(); ++i) {
    const Rule& r = isp.rules(i);
    std::string withheld;
    bool names_shown = Shows(r, "people.given_name") || Shows(r, "people.family_name");
    for (const Rule& other : isp.rules()) {
      if (other.agency() != r.agency() || (&other != &r && !MayCoOccur(r.when(), other.when()))) {
        continue;
      }
      names_shown |= Shows(other, "people.given_name") || Shows(other, "people.family_name");
      for (const auto& g : other.fields()) {
        if (withheld.empty() && IsIdentityPath(g.path()) &&
            g.action() != asb::v1::FIELD_ACTION_SHOW && !Shows(r, g.path())) {
          withheld = absl::StrCat(
              "rule ", other.id(), " ",
              absl::AsciiStrToLower(
                  asb::v1::FieldAction_Name(g.action()).substr(strlen("FIELD_ACTION_"))),
              "s ", g.path());
        }
      }
    }
    const bool selects = r.has_people() || r.when().person_roles_size() > 0;
    for (int j = 0; j < r.fields_size(); ++j) {
      const auto& g = r.fields(j);
      if ((g.action() != asb::v1::FIELD_ACTION_SHOW &&
           g.action() != asb::v1::FIELD_ACTION_PSEUDONYMISE) ||
          std::find(free.begin(), free.end(), g.path()) == free.end()) {
        continue;
      }
      std::vector<std::string> why;
      if (!withheld.empty()) {
        why.push_back(withheld);
      }
      if (!names_shown) {
        why.push_back(r.agency() + " sees no one's name");
      }
      if (selects && !absl::StartsWith(g.path(), "people.")) {
        why.push_back("this rule covers only some of the case's people");
      }
      if (why.empty()) {
        continue;
      }
      const std::string at = absl::StrCat("rules[", i, "].fields[", j, "].path");
      const std::string what =
          absl::StrCat("free text '", g.path(), "' shown to ", r.agency(),
                       " beside withheld person fields (", absl::StrJoin(why, "; "),
                       "): free text can name or locate the people the plan withholds");
      if (g.reason().empty()) {
        warnings->Add(at, what +
                              "; grant it only if the purpose needs it, and say why in "
                              "`reason`");
      } else {
        reviewed->Add(at, what + "; reviewed: " + g.reason());
      }
    }
  }
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
    CheckSources(p, at + ".when", rule.when(), agencies);
    std::vector<std::pair<int, int>> grants;
    CheckRuleFields(p, at, rule, &grants);
    if (rule.has_people()) {
      CheckSelector(p, at + ".people", rule.people());
      const CompiledSelector sel = CompileSelector(rule.people());
      const internal::EnumMask roles = Bits(rule.when().person_roles(), internal::RoleBits());
      if (sel.roles != 0 && roles != 0 && (sel.roles & roles) == 0) {
        p->Add(at + ".people.roles",
               "can never cover anyone: shares no role with when.person_roles");
      }
      const bool about_people = std::any_of(
          rule.fields().begin(), rule.fields().end(), [](const asb::config::v1::FieldGrant& g) {
            return g.path() == "people" || g.path() == "orders" ||
                   absl::StartsWith(g.path(), "people.") || absl::StartsWith(g.path(), "orders.");
          });
      if (!about_people) {
        p->Add(at + ".people",
               "selects people, but the rule grants no people.* or orders.* field: remove it, "
               "or put the predicates in when.any_person to decide whether the rule applies");
      }
    }
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
    if (rule.has_people()) {
      rp.people = CompileSelector(rule.people());
    }
    for (auto [node, action] : grants) {
      plan->nodes[node].explicit_rules[action] |= bit;
      rp.reveals |= action != 4;
    }
    const CompiledSelector* selectors[] = {&rp.people, &rp.when.any_person};
    for (const CompiledSelector* s : selectors) {
      plan->needs_people |= s->any;
      plan->needs_ages |= s->child >= 0;
      plan->needs_subjects |= s->order_subject >= 0;
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
    CheckEnumList(p, at + ".event_types", n.event_types(), asb::v1::EventType_IsValid,
                  internal::EventBits(), false);
    CheckEnumList(p, at + ".order_types", n.order_types(), asb::v1::OrderType_IsValid,
                  internal::OrderBits(), false);
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

  // Finish the plans: below-masks, per-role rule masks, people and source masks, the decision
  // node list.
  std::vector<std::string> sources;  // every agency a fact can come from
  for (const auto& a : isp.agencies()) {
    sources.push_back(a.id());
  }
  sources.push_back(kHubAgency);
  for (AgencyPlan& plan : *plans) {
    for (const std::string& source : sources) {
      plan.source_covers.push_back({source, 0});
    }
    plan.other_source_rules = 0;
    for (std::size_t r = 0; r < plan.rules.size(); ++r) {
      const uint64_t bit = uint64_t{1} << r;
      const RulePlan& rp = plan.rules[r];
      if (rp.reveals) {
        plan.reveal_rules |= bit;
      }
      const internal::EnumMask roles = rp.when.roles;
      for (int role = 0; role < internal::kMaxEnumBits; ++role) {
        if (roles == 0 || (roles & (internal::EnumMask{1} << role)) != 0) {
          plan.rules_for_role[role] |= bit;
        }
      }
      if (rp.people.any) {
        plan.selector_rules |= bit;
      }
      if (rp.people.any || roles != 0) {
        plan.restricting_rules |= bit;
      }
      const Condition& when = rp.rule->when();
      if (rp.when.has_sources) {
        plan.source_rules |= bit;
      }
      for (auto& cover : plan.source_covers) {
        if (CoversSource(when, cover.agency)) {
          cover.rules |= bit;
        }
      }
      // An unknown or empty source is no agency a rule requires, and none it excludes.
      if (when.source_agencies_size() == 0) {
        plan.other_source_rules |= bit;
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
    // Parents have smaller ids: one forward pass folds masks downwards. Free text inherits only
    // REDACT and DENY: SHOW, GENERALISE and PSEUDONYMISE must name it.
    for (std::size_t id = 1; id < nodes.size(); ++id) {
      NodePlan& np = plan.nodes[id];
      for (int a = 0; a < kNumActions; ++a) {
        np.chain_rules[a] = np.explicit_rules[a];
        const bool inherits = !nodes[id].free_text || a == 3 || a == 4;
        if (nodes[id].parent > 0 && inherits) {
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
                                                    Violations* problems,
                                                    const std::string& file_name,
                                                    const config::SourceMap* lines) {
  auto impl = std::make_unique<Policy::Impl>();
  impl->isp = isp;
  // Plans point into impl->isp, so plan over the copy.
  CheckAndPlan(impl->isp, problems, &impl->agencies);
  // The data sharing agreement, if any (whether it is in force today is the loader's question:
  // common/auth refuses a lapsed one in every daemon).
  agreement::Check(impl->isp, problems);
  if (!problems->empty()) {
    return problems->ToStatus();
  }
  Violations warnings(file_name, lines);
  Violations reviewed(file_name, lines);
  FreeTextWarnings(impl->isp, &warnings, &reviewed);
  impl->warnings = warnings.items();
  impl->reviewed = reviewed.items();
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
  return Build(isp, key, &problems, path, &lines);
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::Compile(const Isp& isp,
                                                              const std::string& key,
                                                              const std::string& file_name,
                                                              const config::SourceMap* lines) {
  Violations problems(file_name, lines);
  CheckKey(&problems, key);
  return Build(isp, key, &problems, file_name, lines);
}

}  // namespace asb::policy
