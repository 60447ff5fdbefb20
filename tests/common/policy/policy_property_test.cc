// Property test: for thousands of random cases under random policies, nothing outside the
// grants reaches an agency. The oracle below is written independently of the engine: it works on
// dotted path strings and prefix matching over the ISP's grants, evaluates the (few) random
// conditions itself, and checks the view two ways:
//  1. every field present in the view is covered by a non-denied grant of a matching rule whose
//     action can produce a value there (SHOW; PSEUDONYMISE on strings; GENERALISE only on the
//     generalisers' outputs);
//  2. every string in the case carries a unique marker; a marker whose field is not SHOWn to
//     that agency (for that person) must not appear anywhere in the serialised view.

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/policy/policy.h"
#include "google/protobuf/util/message_differencer.h"

namespace asb::policy {
namespace {

using asb::config::v1::Isp;
using asb::v1::FieldAction;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// ---------------------------------------------------------------- the schema as path strings

struct PathInfo {
  std::string path;
  bool is_string = false;
  bool is_message = false;
};

bool IsTimestamp(const FieldDescriptor* f) {
  return f->message_type() != nullptr &&
         f->message_type()->full_name() == "google.protobuf.Timestamp";
}

void CollectPaths(const google::protobuf::Descriptor* d, const std::string& prefix,
                  std::vector<PathInfo>* out) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    std::string path = prefix.empty() ? f->name() : prefix + "." + f->name();
    const bool message = f->type() == FieldDescriptor::TYPE_MESSAGE && !IsTimestamp(f);
    out->push_back({path, f->type() == FieldDescriptor::TYPE_STRING, message});
    if (message) {
      CollectPaths(f->message_type(), path, out);
    }
  }
}

const std::set<std::string>& GeneralisablePaths() {
  static const auto* paths = new std::set<std::string>{"location",
                                                       "opened_at",
                                                       "updated_at",
                                                       "closed_at",
                                                       "people.date_of_birth",
                                                       "people.address",
                                                       "people.address.postcode",
                                                       "incidents.occurred_at",
                                                       "incidents.location",
                                                       "orders.issued_at",
                                                       "orders.expires_at",
                                                       "orders.review_at",
                                                       "orders.area",
                                                       "orders.breaches.occurred_at"};
  return *paths;
}

// Where GENERALISE may leave a value in the view.
bool IsGeneraliserOutput(const std::string& path) {
  static const std::set<std::string> outputs = {"location.lsoa_code",
                                                "location.ward",
                                                "people.age_band",
                                                "people.address.postcode_district",
                                                "incidents.location.lsoa_code",
                                                "incidents.location.ward",
                                                "orders.area.lsoa_code",
                                                "orders.area.ward",
                                                "opened_at",
                                                "updated_at",
                                                "closed_at",
                                                "incidents.occurred_at",
                                                "orders.issued_at",
                                                "orders.expires_at",
                                                "orders.review_at",
                                                "orders.breaches.occurred_at"};
  return outputs.count(path) > 0;
}

// ---------------------------------------------------------------- random policies

struct OracleGrant {
  std::string path;
  FieldAction action;
};
struct OracleRule {
  std::string agency;
  std::set<int> nsir;  // empty: any
  int fire_risk = -1;  // -1: any
  int tenancy = -1;
  std::set<int> roles;  // empty: any
  int min_risk = 0;
  std::vector<OracleGrant> grants;
};

class Random {
 public:
  explicit Random(uint32_t seed) : gen_(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_); }
  bool Chance(int percent) { return Int(1, 100) <= percent; }
  template <class T>
  const T& Pick(const std::vector<T>& v) {
    return v[Int(0, static_cast<int>(v.size()) - 1)];
  }

 private:
  std::mt19937 gen_;
};

std::vector<OracleRule> RandomRules(Random& rnd, const std::vector<PathInfo>& paths) {
  std::vector<OracleRule> rules;
  const int n = rnd.Int(1, 6);
  for (int i = 0; i < n; ++i) {
    OracleRule r;
    r.agency = rnd.Chance(50) ? "a" : "b";
    if (rnd.Chance(25)) {
      r.nsir.insert(rnd.Int(1, 3));
    }
    if (rnd.Chance(20)) {
      r.fire_risk = rnd.Int(0, 1);
    }
    if (rnd.Chance(20)) {
      r.tenancy = rnd.Int(0, 1);
    }
    if (rnd.Chance(40)) {
      r.roles.insert(rnd.Int(1, 4));
      if (rnd.Chance(30)) {
        r.roles.insert(rnd.Int(1, 4));
      }
    }
    if (rnd.Chance(20)) {
      r.min_risk = rnd.Int(1, 3);
    }
    std::set<std::string> used;
    const int grants = rnd.Int(1, 8);
    for (int g = 0; g < grants; ++g) {
      const PathInfo& p = rnd.Pick(paths);
      if (!used.insert(p.path).second) {
        continue;
      }
      std::vector<FieldAction> actions = {asb::v1::FIELD_ACTION_SHOW, asb::v1::FIELD_ACTION_REDACT,
                                          asb::v1::FIELD_ACTION_DENY};
      if (p.is_string) {
        actions.push_back(asb::v1::FIELD_ACTION_PSEUDONYMISE);
      }
      if (GeneralisablePaths().count(p.path) > 0) {
        actions.push_back(asb::v1::FIELD_ACTION_GENERALISE);
        actions.push_back(asb::v1::FIELD_ACTION_GENERALISE);
      }
      r.grants.push_back({p.path, rnd.Pick(actions)});
    }
    rules.push_back(std::move(r));
  }
  return rules;
}

Isp ToIsp(const std::vector<OracleRule>& rules) {
  Isp isp;
  isp.set_name("random");
  isp.set_pseudonymisation_key_file("k");
  for (const char* id : {"a", "b"}) {
    auto* a = isp.add_agencies();
    a->set_id(id);
    a->set_name(id);
  }
  auto* p = isp.add_purposes();
  p->set_id("p");
  p->set_description("d");
  p->set_lawful_basis("l");
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const OracleRule& o = rules[i];
    auto* r = isp.add_rules();
    r->set_id(absl::StrCat("r", i));
    r->set_agency(o.agency);
    r->set_purpose("p");
    for (int v : o.nsir) {
      r->mutable_when()->add_nsir_categories(static_cast<asb::v1::NsirCategory>(v));
    }
    if (o.fire_risk >= 0) {
      r->mutable_when()->set_fire_risk(o.fire_risk == 1);
    }
    if (o.tenancy >= 0) {
      r->mutable_when()->set_council_tenancy(o.tenancy == 1);
    }
    for (int v : o.roles) {
      r->mutable_when()->add_person_roles(static_cast<asb::v1::PersonRole>(v));
    }
    r->mutable_when()->set_min_victim_risk(static_cast<asb::v1::RiskLevel>(o.min_risk));
    for (const auto& g : o.grants) {
      auto* f = r->add_fields();
      f->set_path(g.path);
      f->set_action(g.action);
    }
  }
  return isp;
}

// ---------------------------------------------------------------- random cases

class CaseMaker {
 public:
  explicit CaseMaker(Random& rnd) : rnd_(rnd) {}

  asb::v1::Case Make() {
    asb::v1::Case c;
    c.set_case_id(Marker());
    c.set_status(static_cast<asb::v1::CaseStatus>(rnd_.Int(0, 2)));
    c.set_nsir_category(static_cast<asb::v1::NsirCategory>(rnd_.Int(1, 3)));
    MaybeString(c.mutable_title());
    MaybeString(c.mutable_summary());
    MaybeString(c.mutable_lead_agency());
    MaybeString(c.mutable_lead_officer());
    if (rnd_.Chance(80)) {
      FillLocation(c.mutable_location());
    }
    c.mutable_flags()->set_fire_risk(rnd_.Chance(50));
    c.mutable_flags()->set_council_tenancy(rnd_.Chance(50));
    c.mutable_flags()->set_hate_motivated(rnd_.Chance(20));
    c.set_victim_risk(static_cast<asb::v1::RiskLevel>(rnd_.Int(0, 3)));
    MaybeString(c.mutable_risk_notes());
    Time(c.mutable_opened_at());
    if (rnd_.Chance(90)) {
      Time(c.mutable_updated_at());
    }
    if (rnd_.Chance(30)) {
      Time(c.mutable_closed_at());
      MaybeString(c.mutable_closure_reason());
    }
    const int people = rnd_.Int(0, 4);
    for (int i = 0; i < people; ++i) {
      auto* p = c.add_people();
      p->set_person_id(Marker());
      p->set_role(static_cast<asb::v1::PersonRole>(rnd_.Int(1, 4)));
      MaybeString(p->mutable_given_name());
      MaybeString(p->mutable_family_name());
      if (rnd_.Chance(80)) {
        p->set_date_of_birth(
            absl::StrCat(1930 + (serial_++ % 90), "-0", rnd_.Int(1, 9), "-1", rnd_.Int(0, 9)));
      }
      if (rnd_.Chance(80)) {
        auto* a = p->mutable_address();
        MaybeString(a->mutable_line1());
        MaybeString(a->mutable_line2());
        MaybeString(a->mutable_town());
        a->set_postcode(absl::StrCat("S", 10 + (serial_++ % 90), " ", rnd_.Int(1, 9), "QZ"));
        MaybeString(a->mutable_uprn());
      }
      MaybeString(p->mutable_vulnerability());
      p->set_vulnerable(rnd_.Chance(30));
      p->set_tenure(static_cast<asb::v1::Tenure>(rnd_.Int(0, 5)));
      MaybeString(p->mutable_phone());
    }
    const int incidents = rnd_.Int(0, 3);
    for (int i = 0; i < incidents; ++i) {
      auto* inc = c.add_incidents();
      inc->set_incident_id(Marker());
      Time(inc->mutable_occurred_at());
      inc->set_category(static_cast<asb::v1::NsirCategory>(rnd_.Int(1, 3)));
      MaybeString(inc->mutable_description());
      if (rnd_.Chance(70)) {
        FillLocation(inc->mutable_location());
      }
      MaybeString(inc->mutable_reported_by());
    }
    const int orders = rnd_.Int(0, 2);
    for (int i = 0; i < orders; ++i) {
      auto* o = c.add_orders();
      o->set_order_id(Marker());
      o->set_type(static_cast<asb::v1::OrderType>(rnd_.Int(1, 9)));
      o->set_status(static_cast<asb::v1::OrderStatus>(rnd_.Int(1, 3)));
      MaybeString(o->mutable_subject_person_id());
      MaybeString(o->mutable_issued_by());
      Time(o->mutable_issued_at());
      Time(o->mutable_expires_at());
      MaybeString(o->mutable_conditions());
      MaybeString(o->mutable_court());
      if (rnd_.Chance(40)) {
        FillLocation(o->mutable_area());
      }
      const int breaches = rnd_.Int(0, 2);
      for (int b = 0; b < breaches; ++b) {
        auto* br = o->add_breaches();
        Time(br->mutable_occurred_at());
        MaybeString(br->mutable_description());
      }
    }
    return c;
  }

 private:
  // Unique, and long enough never to occur by chance inside another value or a token.
  std::string Marker() { return absl::StrCat("MK", serial_++, "x", rnd_.Int(100000, 999999)); }
  void MaybeString(std::string* s) {
    if (rnd_.Chance(75)) {
      *s = Marker();
    }
  }
  void Time(google::protobuf::Timestamp* t) {
    t->set_seconds(1500000000 + rnd_.Int(0, 300000000));
    t->set_nanos(rnd_.Int(0, 1) * 1000);
  }
  void FillLocation(asb::v1::Location* l) {
    l->set_latitude(53 + rnd_.Int(1, 999) / 1000.0);
    l->set_longitude(-1 - rnd_.Int(1, 999) / 1000.0);
    MaybeString(l->mutable_description());
    MaybeString(l->mutable_lsoa_code());
    MaybeString(l->mutable_ward());
  }

  Random& rnd_;
  int serial_ = 0;
};

// ---------------------------------------------------------------- the oracle

bool Covers(const std::string& grant, const std::string& path) {
  return path == grant || absl::StartsWith(path, grant + ".");
}

class Oracle {
 public:
  Oracle(const std::vector<OracleRule>& rules, const std::string& agency, const asb::v1::Case& c) {
    std::set<int> roles;
    for (const auto& p : c.people()) {
      roles.insert(p.role());
    }
    for (const OracleRule& r : rules) {
      if (r.agency != agency) {
        continue;
      }
      bool ok = (r.nsir.empty() || r.nsir.count(c.nsir_category()) > 0) &&
                (r.fire_risk < 0 || c.flags().fire_risk() == (r.fire_risk == 1)) &&
                (r.tenancy < 0 || c.flags().council_tenancy() == (r.tenancy == 1)) &&
                static_cast<int>(c.victim_risk()) >= r.min_risk;
      if (ok && !r.roles.empty()) {
        bool any = false;
        for (int role : r.roles) {
          any |= roles.count(role) > 0;
        }
        ok = any;
      }
      if (ok) {
        matching_.push_back(&r);
      }
    }
  }

  // True if the agency may see the case: some matching rule grants something not denied.
  bool Visible() const {
    for (const OracleRule* r : matching_) {
      for (const auto& g : r->grants) {
        if (g.action != asb::v1::FIELD_ACTION_DENY) {
          return true;
        }
      }
    }
    return false;
  }

  // The actions that apply to `path`, for a person of `role` (0: not a people.* path). Empty if
  // denied.
  std::set<FieldAction> Allowed(const std::string& path, int role) const {
    std::set<FieldAction> out;
    const bool person = absl::StartsWith(path, "people.") || path == "people";
    for (const OracleRule* r : matching_) {
      if (person && !r->roles.empty() && r->roles.count(role) == 0) {
        continue;
      }
      for (const auto& g : r->grants) {
        if (Covers(g.path, path)) {
          if (g.action == asb::v1::FIELD_ACTION_DENY) {
            return {};
          }
          out.insert(g.action);
        }
      }
    }
    return out;
  }

  // May a value appear at `path` (in the view) for a person of `role`?
  bool MayProduce(const std::string& path, int role, bool is_string) const {
    auto a = Allowed(path, role);
    if (a.count(asb::v1::FIELD_ACTION_SHOW) > 0) {
      return true;
    }
    if (is_string && a.count(asb::v1::FIELD_ACTION_PSEUDONYMISE) > 0) {
      return true;
    }
    if (a.count(asb::v1::FIELD_ACTION_GENERALISE) > 0 && IsGeneraliserOutput(path)) {
      return true;
    }
    if (path == "people.age_band") {
      return Allowed("people.date_of_birth", role).count(asb::v1::FIELD_ACTION_GENERALISE) > 0;
    }
    if (path == "people.address.postcode_district") {
      return Allowed("people.address.postcode", role).count(asb::v1::FIELD_ACTION_GENERALISE) > 0;
    }
    return false;
  }

 private:
  std::vector<const OracleRule*> matching_;
};

// Every set leaf of `m` as (path, field), Timestamps as leaves; calls fn(path, msg, field).
template <class Fn>
void Walk(const Message& m, const std::string& prefix, Fn&& fn) {
  std::vector<const FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    const std::string path = prefix.empty() ? f->name() : prefix + "." + f->name();
    if (f->type() == FieldDescriptor::TYPE_MESSAGE && !IsTimestamp(f)) {
      if (f->is_repeated()) {
        for (int i = 0; i < m.GetReflection()->FieldSize(m, f); ++i) {
          Walk(m.GetReflection()->GetRepeatedMessage(m, f, i), path, fn);
        }
      } else {
        Walk(m.GetReflection()->GetMessage(m, f), path, fn);
      }
    } else {
      fn(path, m, f);
    }
  }
}

TEST(PolicyPropertyTest, NothingOutsideTheGrantsReachesAnAgency) {
  std::vector<PathInfo> paths;
  CollectPaths(asb::v1::Case::descriptor(), "", &paths);
  const uint32_t seed = 20240610;
  Random rnd(seed);
  CaseMaker maker(rnd);
  int applications = 0;
  int visible = 0;
  int checked_values = 0;
  int encoded_checked = 0;
  for (int policy_round = 0; policy_round < 150; ++policy_round) {
    const std::vector<OracleRule> rules = RandomRules(rnd, paths);
    auto policy = Policy::Compile(ToIsp(rules), std::string(32, 'k'), "random", nullptr);
    ASSERT_TRUE(policy.ok()) << policy.status() << "\n" << ToIsp(rules).DebugString();
    for (int case_round = 0; case_round < 40; ++case_round) {
      const asb::v1::Case c = maker.Make();
      for (const char* agency : {"a", "b"}) {
        ++applications;
        Oracle oracle(rules, agency, c);
        asb::v1::Disclosure d;
        const bool shown = (*policy)->Apply(agency, c, {}, &d);
        SCOPED_TRACE(absl::StrCat("seed ", seed, " round ", policy_round, "/", case_round,
                                  " agency ", agency, "\nISP:\n", ToIsp(rules).DebugString(),
                                  "\ncase:\n", c.DebugString(), "\nview:\n", d.DebugString()));
        ASSERT_EQ(shown, oracle.Visible());
        // The wire encoder gives exactly the disclosure Apply() builds.
        std::string encoded;
        ASSERT_EQ((*policy)->ApplyEncoded(agency, c, {}, &encoded), shown);
        if (!shown) {
          EXPECT_TRUE(encoded.empty());
          continue;
        }
        asb::v1::Disclosure parsed;
        ASSERT_TRUE(parsed.ParseFromString(encoded));
        ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, d))
            << "ApplyEncoded gave:\n"
            << parsed.DebugString();
        ++encoded_checked;
        ++visible;
        const asb::v1::Case& v = d.view();
        // 1. Every value in the view is covered by a grant that can produce it.
        std::set<int> case_roles;
        for (const auto& p : c.people()) {
          case_roles.insert(p.role());
        }
        for (int i = 0; i < v.people_size(); ++i) {
          ASSERT_GT(v.people(i).ByteSizeLong(), 0u) << "empty person entry";
        }
        Walk(v, "", [&](const std::string& path, const Message& m, const FieldDescriptor* f) {
          (void)m;
          // A view person's role may itself be withheld: allow any role on the case.
          const std::set<int> roles =
              absl::StartsWith(path, "people.") ? case_roles : std::set<int>{0};
          bool ok = false;
          for (int role : roles) {
            ok |= oracle.MayProduce(path, role, f->type() == FieldDescriptor::TYPE_STRING);
          }
          EXPECT_TRUE(ok) << "leaked " << path;
          ++checked_values;
        });
        // 2. No unshown string value appears anywhere in the view.
        const std::string bytes = d.SerializeAsString();
        auto check = [&](const Message& m, const std::string& prefix, int role) {
          Walk(m, prefix,
               [&](const std::string& path, const Message& mm, const FieldDescriptor* f) {
                 if (f->type() != FieldDescriptor::TYPE_STRING || f->is_repeated()) {
                   return;
                 }
                 std::string scratch;
                 const std::string& value = mm.GetReflection()->GetStringReference(mm, f, &scratch);
                 const auto allowed = oracle.Allowed(path, role);
                 // Generalising a location keeps its LSOA and ward as they are.
                 const bool kept =
                     allowed.count(asb::v1::FIELD_ACTION_GENERALISE) > 0 &&
                     (absl::EndsWith(path, ".lsoa_code") || absl::EndsWith(path, ".ward"));
                 if (allowed.count(asb::v1::FIELD_ACTION_SHOW) == 0 && !kept) {
                   EXPECT_EQ(bytes.find(value), std::string::npos)
                       << "value of " << path << " leaked";
                 }
               });
        };
        asb::v1::Case rest = c;
        rest.clear_people();
        check(rest, "", 0);
        for (const auto& p : c.people()) {
          check(p, "people", p.role());
        }
        if (::testing::Test::HasFailure()) {
          return;
        }
      }
    }
  }
  EXPECT_EQ(applications, 150 * 40 * 2);
  EXPECT_GT(visible, applications / 5);  // the random policies do show things
  EXPECT_GT(checked_values, 10000);
  EXPECT_EQ(encoded_checked, visible);
}

}  // namespace
}  // namespace asb::policy
