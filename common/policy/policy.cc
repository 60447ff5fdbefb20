#include "common/policy/policy.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/config/violations.h"
#include "common/crypto/crypto.h"
#include "common/policy/internal/dates.h"
#include "common/policy/internal/schema.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace asb::policy {

namespace {

using asb::config::v1::Condition;
using asb::config::v1::Isp;
using asb::config::v1::NotificationRule;
using asb::config::v1::Purpose;
using asb::config::v1::Rule;
using asb::v1::FieldAction;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using internal::GenKind;
using internal::Schema;
using internal::SchemaNode;

constexpr int kMaxRulesPerAgency = 64;
constexpr char kHubAgency[] = "hub";

// Action bits, so a field's set of applicable actions is one byte.
enum : uint8_t {
  kShow = 1,
  kGeneralise = 2,
  kPseudonymise = 4,
  kRedact = 8,
  kDeny = 16,
};
constexpr int kNumActions = 5;
constexpr uint8_t kReveal = kShow | kGeneralise | kPseudonymise;

int ActionIndex(FieldAction a) {
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
constexpr FieldAction kActionOfIndex[kNumActions] = {
    asb::v1::FIELD_ACTION_SHOW, asb::v1::FIELD_ACTION_GENERALISE,
    asb::v1::FIELD_ACTION_PSEUDONYMISE, asb::v1::FIELD_ACTION_REDACT, asb::v1::FIELD_ACTION_DENY};

// A row condition with its enum lists as bit masks (0 = no constraint).
struct CompiledCondition {
  uint32_t nsir = 0;
  uint32_t events = 0;
  uint32_t orders = 0;
  int8_t fire_risk = -1;  // -1 unset, else 0/1
  int8_t council_tenancy = -1;
  int8_t hate_motivated = -1;
  uint32_t roles = 0;
  int8_t subject_under_18 = -1;
  int min_victim_risk = 0;
  std::vector<std::string> wards;
  std::vector<std::string> lsoa_codes;
  uint32_t tenures = 0;
  int8_t has_vulnerable = -1;
};

struct RulePlan {
  const Rule* rule = nullptr;
  const Purpose* purpose = nullptr;
  CompiledCondition when;
  bool reveals = false;  // grants at least one field with a non-DENY action
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
  std::vector<NodePlan> nodes;       // indexed by schema node id
  uint64_t rules_for_role[32] = {};  // rules whose people.* grants apply to a role
  uint64_t reveal_rules = 0;         // rules with any non-DENY grant
  bool needs_ages = false;           // some rule tests subject_under_18
  std::vector<int> decision_nodes;   // nodes some rule names, in schema order
};

uint32_t Bit(int value) { return value >= 0 && value < 32 ? (1u << value) : 0; }

int8_t Tri(bool has, bool value) { return has ? (value ? 1 : 0) : -1; }

}  // namespace

struct Policy::Impl {
  static constexpr std::size_t kMaxCachedTokens = 1 << 16;
  // Unique per compiled policy in this process (never reused, unlike an address).
  const uint64_t generation = NextGeneration();
  static uint64_t NextGeneration() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1);
  }
  Isp isp;
  std::string version;
  std::optional<crypto::HmacSha256Key> key;
  std::vector<AgencyPlan> agencies;

  const AgencyPlan* Find(const std::string& agency) const {
    for (const AgencyPlan& a : agencies) {
      if (a.id == agency) {
        return &a;
      }
    }
    return nullptr;
  }

  // Tokens are pure functions of (key, prefix, data); the sharing daemon derives the same
  // subject keys and pseudonyms for every agency of a case, so each thread remembers recent
  // ones (per policy generation: a reloaded policy may have another key).
  std::string Token(const char* prefix, std::string_view data, std::size_t hex_chars) const {
    struct Cache {
      uint64_t generation = 0;
      std::string scratch;
      absl::flat_hash_map<std::string, std::string> tokens;
    };
    thread_local Cache cache;
    if (cache.generation != generation) {
      cache.tokens.clear();
      cache.generation = generation;
    }
    cache.scratch.assign(prefix).append(data.data(), data.size());
    if (auto it = cache.tokens.find(cache.scratch); it != cache.tokens.end()) {
      return it->second;
    }
    std::string token = ComputeToken(prefix, data, hex_chars);
    if (cache.tokens.size() >= kMaxCachedTokens) {
      cache.tokens.clear();
    }
    cache.tokens.emplace(cache.scratch, token);
    return token;
  }

  std::string ComputeToken(const char* prefix, std::string_view data, std::size_t hex_chars) const {
    unsigned char mac[32];
    key->MacTo(data, mac);
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(prefix);
    out.reserve(out.size() + hex_chars);
    for (std::size_t i = 0; i < hex_chars / 2; ++i) {
      out.push_back(kDigits[mac[i] >> 4]);
      out.push_back(kDigits[mac[i] & 0xf]);
    }
    return out;
  }
};

namespace {

// ---------------------------------------------------------------------------------------------
// Validation.

class Problems {
 public:
  Problems(std::string file, const config::SourceMap* lines)
      : file_(std::move(file)), lines_(lines) {}

  void Add(const std::string& path, const std::string& what) {
    std::string where = file_;
    if (int line = Line(path); line > 0) {
      absl::StrAppend(&where, ":", line);
    }
    violations_.Add(absl::StrCat(where, ": ", path), what);
  }

  // True if the file spelled out this (empty) key, e.g. "wards: []".
  bool Present(const std::string& path) const {
    return lines_ != nullptr && (lines_->count(path) > 0 || lines_->count(Camel(path)) > 0);
  }

  absl::Status ToStatus() const { return violations_.ToStatus(); }
  bool empty() const { return violations_.empty(); }

 private:
  // protobuf's JSON mapping accepts snake_case and lowerCamelCase keys; the map holds whichever
  // the file used.
  static std::string Camel(const std::string& path) {
    std::string out;
    bool up = false;
    for (char c : path) {
      if (c == '_') {
        up = true;
        continue;
      }
      out.push_back(up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
      up = false;
    }
    return out;
  }

  int Line(std::string path) const {
    if (lines_ == nullptr) {
      return 0;
    }
    // Fall back to the nearest enclosing value the file has (a missing key has no line).
    while (!path.empty()) {
      if (auto it = lines_->find(path); it != lines_->end()) {
        return it->second;
      }
      if (auto it = lines_->find(Camel(path)); it != lines_->end()) {
        return it->second;
      }
      std::size_t cut = path.find_last_of(".[");
      if (cut == std::string::npos) {
        break;
      }
      path.resize(cut);
    }
    return 0;
  }

  std::string file_;
  const config::SourceMap* lines_;
  config::Violations violations_;
};

bool ValidId(const std::string& id) {
  if (id.empty()) {
    return false;
  }
  for (char c : id) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

template <class EnumList, class IsValid>
void CheckEnumList(Problems* p, const std::string& path, const EnumList& list, IsValid is_valid,
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

void CheckCondition(Problems* p, const std::string& base, const Condition& c) {
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

void CheckRuleFields(Problems* p, const std::string& base, const Rule& rule,
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

void CheckKey(Problems* p, const std::string& key) {
  if (key.size() < 32) {
    p->Add("pseudonymisation_key_file", absl::StrCat("pseudonymisation key is ", key.size(),
                                                     " bytes, at least 32 are required"));
  }
}

// Everything but the key; fills `plans` if there is no problem.
void CheckAndPlan(const Isp& isp, Problems* p, std::vector<AgencyPlan>* plans) {
  if (isp.name().empty()) {
    p->Add("name", "required");
  }
  if (isp.pseudonymisation_key_file().empty()) {
    p->Add("pseudonymisation_key_file", "required");
  }
  if (isp.agencies_size() == 0) {
    p->Add("agencies", "required: at least one agency");
  }
  absl::flat_hash_set<std::string> agencies;
  for (int i = 0; i < isp.agencies_size(); ++i) {
    const auto& a = isp.agencies(i);
    const std::string at = absl::StrCat("agencies[", i, "]");
    if (!ValidId(a.id())) {
      p->Add(at + ".id",
             a.id().empty() ? "required" : "'" + a.id() + "' is not a valid id ([a-z0-9_-]+)");
    } else if (a.id() == kHubAgency) {
      p->Add(at + ".id", "'hub' is reserved for the hub's own daemons");
    } else if (!agencies.insert(a.id()).second) {
      p->Add(at + ".id", "duplicate agency '" + a.id() + "'");
    }
    if (a.name().empty()) {
      p->Add(at + ".name", "required");
    }
  }

  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<std::string> keys;
  for (int i = 0; i < isp.principals_size(); ++i) {
    const auto& pr = isp.principals(i);
    const std::string at = absl::StrCat("principals[", i, "]");
    if (pr.name().empty()) {
      p->Add(at + ".name", "required");
    } else if (!names.insert(pr.name()).second) {
      p->Add(at + ".name", "duplicate principal '" + pr.name() + "'");
    }
    const bool hub = pr.agency() == kHubAgency;
    if (pr.agency().empty()) {
      p->Add(at + ".agency", "required");
    } else if (!hub && !agencies.contains(pr.agency())) {
      p->Add(at + ".agency", "unknown agency '" + pr.agency() + "'");
    }
    if (pr.role() == asb::v1::ROLE_UNSPECIFIED || !asb::v1::Role_IsValid(pr.role())) {
      p->Add(at + ".role", "required: FEED, PARTNER, AUDITOR, ADMIN or DAEMON");
    } else if (hub != (pr.role() == asb::v1::ROLE_DAEMON)) {
      p->Add(at + ".role", hub ? "agency 'hub' is for the hub's daemons: role must be DAEMON"
                               : "role DAEMON is only for agency 'hub'");
    }
    if (pr.public_key().empty()) {
      p->Add(at + ".public_key", "required");
    } else {
      auto decoded = crypto::Z85Decode(pr.public_key());
      if (pr.public_key().size() != 40 || !decoded.ok()) {
        // The key itself is public, but keep messages short and uniform.
        p->Add(at + ".public_key", "not a CurveZMQ public key (40 Z85 characters)");
      } else if (!keys.insert(pr.public_key()).second) {
        p->Add(at + ".public_key", "key already used by another principal");
      }
    }
  }

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
    if (ValidId(a.id()) && a.id() != kHubAgency &&
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
                                                    Problems* problems) {
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

// ---------------------------------------------------------------------------------------------
// Application.

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

internal::Date AsOf(const asb::v1::Case& c) {
  if (c.has_updated_at()) {
    return internal::DateOfUnixSeconds(c.updated_at().seconds());
  }
  return internal::DateOfUnixSeconds(absl::ToUnixSeconds(absl::Now()));
}

uint8_t Bits(const NodePlan& np, uint64_t mask) {
  uint8_t s = 0;
  for (int a = 0; a < kNumActions; ++a) {
    if ((np.explicit_rules[a] & mask) != 0) {
      s |= static_cast<uint8_t>(1u << a);
    }
  }
  return s;
}

void CopyField(const Reflection* r, const Message& src, Message* dst, const FieldDescriptor* f) {
  if (f->is_repeated()) {
    const int n = r->FieldSize(src, f);
    for (int i = 0; i < n; ++i) {
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          r->AddInt32(dst, f, r->GetRepeatedInt32(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          r->AddInt64(dst, f, r->GetRepeatedInt64(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          r->AddUInt32(dst, f, r->GetRepeatedUInt32(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          r->AddUInt64(dst, f, r->GetRepeatedUInt64(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          r->AddDouble(dst, f, r->GetRepeatedDouble(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          r->AddFloat(dst, f, r->GetRepeatedFloat(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          r->AddBool(dst, f, r->GetRepeatedBool(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_ENUM:
          r->AddEnumValue(dst, f, r->GetRepeatedEnumValue(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          r->AddString(dst, f, r->GetRepeatedString(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_MESSAGE:
          r->AddMessage(dst, f)->MergeFrom(r->GetRepeatedMessage(src, f, i));
          break;
      }
    }
    return;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      r->SetInt32(dst, f, r->GetInt32(src, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      r->SetInt64(dst, f, r->GetInt64(src, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      r->SetUInt32(dst, f, r->GetUInt32(src, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      r->SetUInt64(dst, f, r->GetUInt64(src, f));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      r->SetDouble(dst, f, r->GetDouble(src, f));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      r->SetFloat(dst, f, r->GetFloat(src, f));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      r->SetBool(dst, f, r->GetBool(src, f));
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      r->SetEnumValue(dst, f, r->GetEnumValue(src, f));
      break;
    case FieldDescriptor::CPPTYPE_STRING: {
      // One copy: GetString would copy once more.
      std::string scratch;
      r->SetString(dst, f, std::string(r->GetStringReference(src, f, &scratch)));
    } break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      r->MutableMessage(dst, f)->MergeFrom(r->GetMessage(src, f));
      break;
  }
}

// The justifications, field decisions and ISP version of a disclosure: a function of the plan
// and the matching rules only, not of the case.
void FillDecisions(const Policy::Impl& impl, const AgencyPlan& plan, uint64_t mask,
                   asb::v1::Disclosure* out) {
  out->set_isp_version(impl.version);
  for (std::size_t i = 0; i < plan.rules.size(); ++i) {
    if ((mask & plan.reveal_rules & (uint64_t{1} << i)) != 0) {
      const RulePlan& rp = plan.rules[i];
      auto* j = out->add_justifications();
      j->set_rule_id(rp.rule->id());
      j->set_purpose(rp.purpose->id());
      j->set_lawful_basis(rp.purpose->lawful_basis());
    }
  }
  const Schema& schema = Schema::Get();
  for (int id : plan.decision_nodes) {
    if ((plan.nodes[id].any_explicit & mask) == 0) {
      continue;
    }
    // The actions in force here: this path's and every enclosing path's.
    uint64_t by_action[kNumActions];
    for (int a = 0; a < kNumActions; ++a) {
      by_action[a] = plan.nodes[id].chain_rules[a] & mask;
    }
    int winner = by_action[4] != 0 ? 4 : -1;
    for (int a = 0; winner < 0 && a < kNumActions; ++a) {
      if (by_action[a] != 0) {
        winner = a;
      }
    }
    auto* d = out->add_fields();
    d->set_path(schema.node(id).path);
    d->set_action(kActionOfIndex[winner]);
    d->set_rule_id(plan.rules[__builtin_ctzll(by_action[winner])].rule->id());
  }
}

// FillDecisions, serialised, remembered per thread for each (policy, agency, matching rules):
// a partnership's cases fall into few such combinations.
const std::string& DecisionBytes(const Policy::Impl& impl, const AgencyPlan& plan, uint64_t mask) {
  static constexpr std::size_t kMaxEntries = 4096;
  struct Cache {
    uint64_t generation = 0;
    absl::flat_hash_map<std::pair<const AgencyPlan*, uint64_t>, std::string> bytes;
  };
  thread_local Cache cache;
  if (cache.generation != impl.generation) {
    cache.bytes.clear();
    cache.generation = impl.generation;
  }
  auto [it, inserted] = cache.bytes.try_emplace({&plan, mask});
  if (inserted) {
    if (cache.bytes.size() > kMaxEntries) {
      cache.bytes.clear();
      it = cache.bytes.try_emplace({&plan, mask}).first;
    }
    asb::v1::Disclosure d;
    FillDecisions(impl, plan, mask, &d);
    d.SerializeToString(&it->second);
  }
  return it->second;
}

// Appends protobuf wire format to a string. Nested messages are written in place: a length
// slot of kLenSlot bytes is reserved and closed up once the length is known.
class WireWriter {
 public:
  struct Mark {
    std::size_t start;   // where the field's tag begins (to drop it)
    std::size_t length;  // where its length slot begins
  };

  explicit WireWriter(std::string* out) : out_(out) {}

  void Varint(uint64_t v) {
    char buf[10];
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_->append(buf, n);
  }
  void Tag(int field, int wire_type) {
    Varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
  }
  void Fixed(uint64_t bits, std::size_t bytes) {
    char buf[8];
    for (std::size_t i = 0; i < bytes; ++i) {
      buf[i] = static_cast<char>(bits >> (8 * i));
    }
    out_->append(buf, bytes);
  }
  void Bytes(int field, std::string_view value) {
    Tag(field, 2);
    Varint(value.size());
    out_->append(value.data(), value.size());
  }
  Mark Begin(int field) {
    Mark m{out_->size(), 0};
    Tag(field, 2);
    m.length = out_->size();
    out_->append(kLenSlot, '\0');
    return m;
  }
  void End(const Mark& m) {
    const std::size_t body = m.length + kLenSlot;
    uint64_t len = out_->size() - body;
    char buf[kLenSlot];
    std::size_t n = 0;
    while (len >= 0x80) {
      buf[n++] = static_cast<char>(len | 0x80);
      len >>= 7;
    }
    buf[n++] = static_cast<char>(len);
    std::memcpy(out_->data() + m.length, buf, n);
    if (n < kLenSlot) {
      out_->erase(m.length + n, kLenSlot - n);
    }
  }
  void Drop(const Mark& m) { out_->resize(m.start); }
  std::string* out() { return out_; }

 private:
  static constexpr std::size_t kLenSlot = 5;  // a varint of up to 2^35 - 1
  std::string* out_;
};

// Writes element i of repeated field f (or the singular f when i < 0) in wire format.
void WriteValue(WireWriter* w, const Reflection* r, const Message& src, const FieldDescriptor* f,
                int i) {
  const int n = f->number();
  const bool rep = i >= 0;
  switch (f->type()) {
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES: {
      std::string scratch;
      w->Bytes(n, rep ? r->GetRepeatedStringReference(src, f, i, &scratch)
                      : r->GetStringReference(src, f, &scratch));
      return;
    }
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP: {
      const WireWriter::Mark m = w->Begin(n);
      (rep ? r->GetRepeatedMessage(src, f, i) : r->GetMessage(src, f))
          .AppendPartialToString(w->out());
      w->End(m);
      return;
    }
    default:
      break;
  }
  uint64_t bits = 0;
  int wire_type = 0;  // varint
  std::size_t fixed = 0;
  switch (f->type()) {
    case FieldDescriptor::TYPE_DOUBLE: {
      const double v = rep ? r->GetRepeatedDouble(src, f, i) : r->GetDouble(src, f);
      std::memcpy(&bits, &v, 8);
      wire_type = 1, fixed = 8;
    } break;
    case FieldDescriptor::TYPE_FLOAT: {
      const float v = rep ? r->GetRepeatedFloat(src, f, i) : r->GetFloat(src, f);
      uint32_t b32;
      std::memcpy(&b32, &v, 4);
      bits = b32, wire_type = 5, fixed = 4;
    } break;
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SFIXED64:
      bits = static_cast<uint64_t>(rep ? r->GetRepeatedInt64(src, f, i) : r->GetInt64(src, f));
      break;
    case FieldDescriptor::TYPE_SINT64: {
      const int64_t v = rep ? r->GetRepeatedInt64(src, f, i) : r->GetInt64(src, f);
      bits = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
    } break;
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64:
      bits = rep ? r->GetRepeatedUInt64(src, f, i) : r->GetUInt64(src, f);
      break;
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SFIXED32:
      bits = static_cast<uint64_t>(
          static_cast<int64_t>(rep ? r->GetRepeatedInt32(src, f, i) : r->GetInt32(src, f)));
      break;
    case FieldDescriptor::TYPE_SINT32: {
      const int32_t v = rep ? r->GetRepeatedInt32(src, f, i) : r->GetInt32(src, f);
      bits =
          static_cast<uint32_t>((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
    } break;
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
      bits = rep ? r->GetRepeatedUInt32(src, f, i) : r->GetUInt32(src, f);
      break;
    case FieldDescriptor::TYPE_BOOL:
      bits = (rep ? r->GetRepeatedBool(src, f, i) : r->GetBool(src, f)) ? 1 : 0;
      break;
    case FieldDescriptor::TYPE_ENUM:
      bits = static_cast<uint64_t>(
          static_cast<int64_t>(rep ? r->GetRepeatedEnumValue(src, f, i) : r->GetEnumValue(src, f)));
      break;
    default:
      return;
  }
  if (f->type() == FieldDescriptor::TYPE_SFIXED64 || f->type() == FieldDescriptor::TYPE_FIXED64) {
    wire_type = 1, fixed = 8;
  } else if (f->type() == FieldDescriptor::TYPE_SFIXED32 ||
             f->type() == FieldDescriptor::TYPE_FIXED32) {
    wire_type = 5, fixed = 4;
  }
  if (!f->is_packed()) {
    w->Tag(n, wire_type);
  }
  if (fixed != 0) {
    w->Fixed(bits, fixed);
  } else {
    w->Varint(bits);
  }
}

// Writes field f of src (present) as a shown field: every element of a repeated field, packed
// where the field is.
void WriteField(WireWriter* w, const Reflection* r, const Message& src, const FieldDescriptor* f) {
  if (!f->is_repeated()) {
    WriteValue(w, r, src, f, -1);
    return;
  }
  const int size = r->FieldSize(src, f);
  if (f->is_packed()) {
    const WireWriter::Mark m = w->Begin(f->number());
    for (int i = 0; i < size; ++i) {
      WriteValue(w, r, src, f, i);
    }
    w->End(m);
    return;
  }
  for (int i = 0; i < size; ++i) {
    WriteValue(w, r, src, f, i);
  }
}

// Builds the view as a message (Apply): a scope is the message being filled.
class MessageOut {
 public:
  using Scope = Message*;

  explicit MessageOut(asb::v1::Case* view) : view_(view) {}
  Scope Root() { return view_; }
  void CloseRoot(Scope) {}

  Scope Open(Scope parent, const FieldDescriptor* f) {
    const Reflection* r = parent->GetReflection();
    return f->is_repeated() ? r->AddMessage(parent, f) : r->MutableMessage(parent, f);
  }
  void Close(Scope parent, const FieldDescriptor* f, Scope, bool keep) {
    if (keep) {
      return;
    }
    const Reflection* r = parent->GetReflection();
    if (f->is_repeated()) {
      r->RemoveLast(parent, f);
    } else {
      r->ClearField(parent, f);
    }
  }
  // `to` is empty, so MergeFrom is a copy without CopyFrom's whole-tree descendant check.
  void CopyWhole(Scope to, const Message& src) { to->MergeFrom(src); }
  void ShowString(Scope to, const SchemaNode& n, const std::string& value) {
    n.mutable_string(to)->assign(value);
  }
  void ShowTyped(Scope to, const SchemaNode& n, const Message& src) { n.copy_leaf(src, to); }
  void ShowField(Scope to, const Reflection* r, const Message& src, const FieldDescriptor* f) {
    CopyField(r, src, to, f);
  }
  void String(Scope to, const FieldDescriptor* f, std::string value) {
    const Reflection* r = to->GetReflection();
    if (f->is_repeated()) {
      r->AddString(to, f, std::move(value));
    } else {
      r->SetString(to, f, std::move(value));
    }
  }
  void Timestamp(Scope to, const FieldDescriptor* f, int64_t seconds, int32_t nanos) {
    auto* ts =
        static_cast<google::protobuf::Timestamp*>(to->GetReflection()->MutableMessage(to, f));
    ts->set_seconds(seconds);
    ts->set_nanos(nanos);
  }

 private:
  asb::v1::Case* view_;
};

// Writes the view's bytes (ApplyEncoded): a scope is the open length-delimited field; values
// go to the end of the output, so the scope a value belongs to needs no name.
class WireOut {
 public:
  using Scope = WireWriter::Mark;

  explicit WireOut(std::string* out) : w_(out) {}
  WireWriter& writer() { return w_; }
  Scope Root() { return w_.Begin(asb::v1::Disclosure::kViewFieldNumber); }
  void CloseRoot(Scope root) { w_.End(root); }

  Scope Open(Scope, const FieldDescriptor* f) { return w_.Begin(f->number()); }
  void Close(Scope, const FieldDescriptor*, Scope child, bool keep) {
    if (keep) {
      w_.End(child);
    } else {
      w_.Drop(child);
    }
  }
  void CopyWhole(Scope, const Message& src) { src.AppendPartialToString(w_.out()); }
  void ShowString(Scope, const SchemaNode& n, const std::string& value) {
    w_.Bytes(n.field->number(), value);
  }
  void ShowTyped(Scope, const SchemaNode& n, const Message& src) {
    if (n.get_int != nullptr) {
      w_.Tag(n.field->number(), 0);
      w_.Varint(static_cast<uint64_t>(n.get_int(src)));
    } else {
      const google::protobuf::Timestamp* ts = n.get_timestamp(src);
      Timestamp(Scope{}, n.field, ts->seconds(), ts->nanos());
    }
  }
  void ShowField(Scope, const Reflection* r, const Message& src, const FieldDescriptor* f) {
    WriteField(&w_, r, src, f);
  }
  void String(Scope, const FieldDescriptor* f, std::string value) { w_.Bytes(f->number(), value); }
  void Timestamp(Scope, const FieldDescriptor* f, int64_t seconds, int32_t nanos) {
    const WireWriter::Mark m = w_.Begin(f->number());
    if (seconds != 0) {
      w_.Tag(google::protobuf::Timestamp::kSecondsFieldNumber, 0);
      w_.Varint(static_cast<uint64_t>(seconds));
    }
    if (nanos != 0) {
      w_.Tag(google::protobuf::Timestamp::kNanosFieldNumber, 0);
      w_.Varint(static_cast<uint64_t>(static_cast<int64_t>(nanos)));
    }
    w_.End(m);
  }

 private:
  WireWriter w_;
};

// One application of a plan to a case: walks the schema tree over the case and hands what the
// agency may see to `Out` (MessageOut for Apply, WireOut for ApplyEncoded), so both outputs
// come from one walk. Collects the redacted paths and the subject keys of the people shown.
template <class Out>
class Walker {
 public:
  using Scope = typename Out::Scope;

  Walker(const Policy::Impl& impl, const AgencyPlan& plan, const asb::v1::Case& c, Out* out)
      : impl_(impl), plan_(plan), case_(c), out_(*out), schema_(Schema::Get()) {}

  void Run(uint64_t mask) {
    const Scope root = out_.Root();
    CopyMessage(schema_.node(0), case_, root, 0, mask);
    out_.CloseRoot(root);
  }

  // Paths present in the case withheld by a REDACT decision, once each, in walk order.
  const std::vector<const std::string*>& redacted() const { return redacted_; }
  // Subject keys of the people in the view, once each, in walk order.
  std::vector<std::string>& subject_keys() { return subject_keys_; }

 private:
  // Hands the granted part of `src` (of node n's message type) to `dst`. True if anything was
  // written.
  bool CopyMessage(const SchemaNode& n, const Message& src, Scope dst, uint8_t inherited,
                   uint64_t mask) {
    bool wrote = false;
    const Reflection* r = src.GetReflection();
    for (int child : n.children) {
      const SchemaNode& cn = schema_.node(child);
      const NodePlan& np = plan_.nodes[child];
      if (inherited == 0 && ((np.any_explicit | np.below_any) & mask) == 0) {
        continue;  // nothing granted here or below
      }
      const FieldDescriptor* f = cn.field;
      if (cn.leaf) {
        const uint8_t s = inherited | Bits(np, mask);
        if ((s & kDeny) == 0) {
          wrote |= Leaf(cn, s, r, src, dst);
        }
        continue;
      }
      if (f->is_repeated()) {
        const int size = r->FieldSize(src, f);
        for (int i = 0; i < size; ++i) {
          const Message& element = r->GetRepeatedMessage(src, f, i);
          uint64_t m = mask;
          if (cn.is_people) {
            const auto& person = static_cast<const asb::v1::Person&>(element);
            m &= plan_.rules_for_role[Bit(person.role()) != 0 ? person.role() : 0];
          }
          const uint8_t s = inherited | Bits(np, m);
          if ((s & kDeny) != 0 || (s == 0 && (np.below_any & m) == 0)) {
            continue;
          }
          const Scope d = out_.Open(dst, f);
          const bool kept = SubMessage(cn, np, s, m, element, d);
          out_.Close(dst, f, d, kept);
          if (kept) {
            wrote = true;
            if (cn.is_people) {
              AddSubjectKey(static_cast<const asb::v1::Person&>(element).person_id());
            }
          }
        }
      } else if (r->HasField(src, f)) {
        const uint8_t s = inherited | Bits(np, mask);
        if ((s & kDeny) != 0) {
          continue;
        }
        const Scope d = out_.Open(dst, f);
        const bool kept = SubMessage(cn, np, s, mask, r->GetMessage(src, f), d);
        out_.Close(dst, f, d, kept);
        wrote |= kept;
      }
    }
    return wrote;
  }

  // A present message value under action set s (no DENY). True if anything was written.
  bool SubMessage(const SchemaNode& n, const NodePlan& np, uint8_t s, uint64_t mask,
                  const Message& src, Scope d) {
    if ((s & kShow) != 0 && (np.below_deny & mask) == 0) {
      out_.CopyWhole(d, src);  // shown whole, nothing denied below: the fast path
      return true;
    }
    if ((s & kReveal) == 0 && (s & kRedact) != 0 && (np.below_reveal & mask) == 0) {
      Redacted(n);
      return false;
    }
    return CopyMessage(n, src, d, s, mask);
  }

  bool Leaf(const SchemaNode& n, uint8_t s, const Reflection* r, const Message& src, Scope dst) {
    const FieldDescriptor* f = n.field;
    // Absent: nothing to show or withhold. Typed accessors where the schema has them.
    if (n.get_string != nullptr) {
      const std::string& value = n.get_string(src);
      if (value.empty()) {
        return false;
      }
      if ((s & kShow) != 0) {
        out_.ShowString(dst, n, value);
        return true;
      }
    } else if (n.get_int != nullptr || n.get_timestamp != nullptr) {
      if (n.get_int != nullptr ? n.get_int(src) == 0 : n.get_timestamp(src) == nullptr) {
        return false;
      }
      if ((s & kShow) != 0) {
        out_.ShowTyped(dst, n, src);
        return true;
      }
    } else if (f->is_repeated() ? r->FieldSize(src, f) == 0 : !r->HasField(src, f)) {
      return false;
    } else if ((s & kShow) != 0) {
      out_.ShowField(dst, r, src, f);
      return true;
    }
    if ((s & kGeneralise) != 0 && n.gen != GenKind::kNone && !f->is_repeated()) {
      return Generalise(n, r, src, dst);
    }
    if ((s & kPseudonymise) != 0 && n.is_string) {
      std::string scratch;
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(src, f); ++i) {
          out_.String(dst, f, Pseudonym(n, r->GetRepeatedStringReference(src, f, i, &scratch)));
        }
      } else {
        out_.String(dst, f, Pseudonym(n, r->GetStringReference(src, f, &scratch)));
      }
      return true;
    }
    if ((s & kRedact) != 0) {
      Redacted(n);
    }
    return false;
  }

  bool Generalise(const SchemaNode& n, const Reflection* r, const Message& src, Scope dst) {
    const FieldDescriptor* f = n.field;
    std::string scratch;
    switch (n.gen) {
      case GenKind::kAgeBand: {
        internal::Date dob;
        if (!internal::ParseIsoDate(r->GetStringReference(src, f, &scratch), &dob)) {
          return false;
        }
        const int age = internal::AgeOn(dob, as_of());
        if (age < 0) {
          return false;
        }
        out_.String(dst, n.gen_target, internal::AgeBand(age));
        return true;
      }
      case GenKind::kPostcodeDistrict: {
        std::string outward = internal::OutwardCode(r->GetStringReference(src, f, &scratch));
        if (outward.empty()) {
          return false;
        }
        out_.String(dst, n.gen_target != nullptr ? n.gen_target : f, std::move(outward));
        return true;
      }
      case GenKind::kKeep:
        out_.ShowField(dst, r, src, f);
        return true;
      case GenKind::kDate: {
        const auto& ts = static_cast<const google::protobuf::Timestamp&>(r->GetMessage(src, f));
        out_.Timestamp(dst, f, internal::TruncateToUtcDay(ts.seconds()), 0);
        return true;
      }
      case GenKind::kNone:
      case GenKind::kDescend:
        return false;
    }
    return false;
  }

  std::string Pseudonym(const SchemaNode& n, const std::string& value) {
    std::string data;
    data.reserve(n.path.size() + 1 + value.size());
    data.append(n.path).push_back(':');
    data.append(value);
    return impl_.Token("ps_", data, 24);
  }

  void Redacted(const SchemaNode& n) {
    // Each node has one path string: pointer equality is path equality.
    if (std::find(redacted_.begin(), redacted_.end(), &n.path) == redacted_.end()) {
      redacted_.push_back(&n.path);
    }
  }

  void AddSubjectKey(const std::string& person_id) {
    if (person_id.empty()) {
      return;
    }
    std::string key = impl_.Token("sk_", person_id, 32);
    if (std::find(subject_keys_.begin(), subject_keys_.end(), key) == subject_keys_.end()) {
      subject_keys_.push_back(std::move(key));
    }
  }

  const internal::Date& as_of() {
    if (!as_of_) {
      as_of_ = AsOf(case_);
    }
    return *as_of_;
  }

  const Policy::Impl& impl_;
  const AgencyPlan& plan_;
  const asb::v1::Case& case_;
  Out& out_;
  const Schema& schema_;
  std::optional<internal::Date> as_of_;
  std::vector<const std::string*> redacted_;
  std::vector<std::string> subject_keys_;
};

}  // namespace

Policy::Policy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Policy::~Policy() = default;

absl::StatusOr<std::shared_ptr<const Policy>> Policy::LoadFile(const std::string& path) {
  Isp isp;
  config::SourceMap lines;
  if (absl::Status s = config::LoadConfigFile(path, &isp, &lines); !s.ok()) {
    return s;
  }
  Problems problems(path, &lines);
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
  Problems problems(file_name, lines);
  CheckKey(&problems, key);
  return Build(isp, key, &problems);
}

const std::string& Policy::version() const { return impl_->version; }
const Isp& Policy::isp() const { return impl_->isp; }

namespace {

// The rules of `plan` whose row condition holds for this case and event, as a bit mask.
uint64_t MatchMask(const AgencyPlan* plan, const asb::v1::Case& c, const EventContext& context) {
  CaseFacts facts;
  std::optional<internal::Date> as_of;
  for (const asb::v1::Person& p : c.people()) {
    facts.roles |= Bit(p.role());
    facts.tenures |= Bit(p.tenure());
    facts.any_vulnerable |= p.vulnerable();
    if (plan->needs_ages &&
        (p.role() == asb::v1::PERSON_ROLE_VICTIM || p.role() == asb::v1::PERSON_ROLE_PERPETRATOR)) {
      internal::Date dob;
      if (internal::ParseIsoDate(p.date_of_birth(), &dob)) {
        if (!as_of) {
          as_of = AsOf(c);
        }
        const int age = internal::AgeOn(dob, *as_of);
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
  for (std::size_t i = 0; i < plan->rules.size(); ++i) {
    if (Matches(plan->rules[i].when, c, context, facts)) {
      mask |= uint64_t{1} << i;
    }
  }
  return mask;
}

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
  // The same order of preference as Applier::Leaf.
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
  uint64_t mask = MatchMask(plan, c, context);
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

namespace {

// The agency's plan and its rules matching this case, if any of them grants something;
// null when the agency may not see the case at all.
const AgencyPlan* RevealingPlan(const Policy::Impl& impl, const std::string& agency,
                                const asb::v1::Case& c, const EventContext& context,
                                uint64_t* mask) {
  const AgencyPlan* plan = impl.Find(agency);
  if (plan == nullptr || plan->reveal_rules == 0) {
    return nullptr;
  }
  *mask = MatchMask(plan, c, context);
  return (*mask & plan->reveal_rules) != 0 ? plan : nullptr;
}

}  // namespace

bool Policy::Apply(const std::string& agency, const asb::v1::Case& c, const EventContext& context,
                   asb::v1::Disclosure* out) const {
  uint64_t mask = 0;
  const AgencyPlan* plan = RevealingPlan(*impl_, agency, c, context, &mask);
  if (plan == nullptr) {
    return false;
  }

  // Clear, not clear_view(): a reused Disclosure keeps its allocated messages and strings.
  out->mutable_view()->Clear();
  out->clear_redacted_paths();
  out->clear_justifications();
  out->clear_fields();
  out->clear_subject_keys();
  MessageOut view(out->mutable_view());
  Walker<MessageOut> walker(*impl_, *plan, c, &view);
  walker.Run(mask);
  for (const std::string* path : walker.redacted()) {
    out->add_redacted_paths(*path);
  }
  for (std::string& key : walker.subject_keys()) {
    out->add_subject_keys(std::move(key));
  }
  FillDecisions(*impl_, *plan, mask, out);
  return true;
}

bool Policy::ApplyEncoded(const std::string& agency, const asb::v1::Case& c,
                          const EventContext& context, std::string* out) const {
  uint64_t mask = 0;
  const AgencyPlan* plan = RevealingPlan(*impl_, agency, c, context, &mask);
  if (plan == nullptr) {
    return false;
  }
  WireOut wire(out);
  Walker<WireOut> walker(*impl_, *plan, c, &wire);
  walker.Run(mask);
  for (const std::string* path : walker.redacted()) {
    wire.writer().Bytes(asb::v1::Disclosure::kRedactedPathsFieldNumber, *path);
  }
  for (const std::string& key : walker.subject_keys()) {
    wire.writer().Bytes(asb::v1::Disclosure::kSubjectKeysFieldNumber, key);
  }
  out->append(DecisionBytes(*impl_, *plan, mask));
  return true;
}

std::vector<Policy::Notification> Policy::NotificationsFor(const EventContext& context) const {
  std::vector<Notification> out;
  for (const NotificationRule& n : impl_->isp.notification_rules()) {
    if (std::find(n.event_types().begin(), n.event_types().end(), context.event_type) ==
        n.event_types().end()) {
      continue;
    }
    if (n.order_types_size() > 0 && std::find(n.order_types().begin(), n.order_types().end(),
                                              context.order_type) == n.order_types().end()) {
      continue;
    }
    for (const std::string& agency : n.agencies()) {
      out.push_back(Notification{n.id(), agency});
    }
  }
  return out;
}

std::string Policy::SubjectKey(const std::string& person_id) const {
  return impl_->Token("sk_", person_id, 32);
}

std::vector<std::string> Policy::agencies() const {
  std::vector<std::string> out;
  for (const AgencyPlan& a : impl_->agencies) {
    out.push_back(a.id);
  }
  return out;
}

}  // namespace asb::policy
