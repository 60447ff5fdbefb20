// Property test: for thousands of random cases under random policies, nothing outside the
// grants reaches an agency. The oracle below is written independently of the engine: it works on
// dotted path strings and prefix matching over the ISP's grants, evaluates the random conditions
// itself — row conditions, person selectors (role, child by date of birth or flag, vulnerable,
// subject of an order, tenure, confidential), the lead agency, source conditions — decides per
// fact (the case's own fields, each person, incident, order and breach) which matching rules
// cover it, and checks the view three ways:
//  1. every field present in the view is covered, for some fact of its kind, by a non-denied
//     grant of a covering rule whose action can produce a value there (SHOW; PSEUDONYMISE on
//     strings; GENERALISE only on the generalisers' outputs); free text only by a grant naming it;
//  2. every string in the case carries a unique marker; a marker whose field is not SHOWn to
//     that agency (for that fact) must not appear anywhere in the serialised view;
//  3. the view has no more people than the rules cover (an uncovered person is absent, not even
//     their role), and no confidential person outside the lead agency's view.
//
// Over 800 lines because the oracle must be whole to be independent: split, it would share
// pieces with the engine it checks.

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
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

// Free text: shown only by a grant naming the path (listed here independently of the engine).
bool IsFreeText(const std::string& path) {
  static const std::set<std::string> free = {"summary",
                                             "risk_notes",
                                             "closure_reason",
                                             "people.vulnerability",
                                             "incidents.description",
                                             "orders.conditions",
                                             "orders.discharge_reason",
                                             "orders.breaches.description"};
  return free.count(path) > 0;
}

// ---------------------------------------------------------------- random policies

const std::vector<int> kRoles = {1, 2, 3, 4, 300};  // PersonRole values, PARENT_CARER = 300

struct OracleSelector {
  std::set<int> roles;  // empty: any
  int child = -1;       // -1: any
  int vulnerable = -1;
  int order_subject = -1;
  std::set<int> order_types;  // non-empty alone means order_subject: true
  std::set<int> tenures;
  int confidential = -1;
  bool Empty() const {
    return roles.empty() && child < 0 && vulnerable < 0 && order_subject < 0 &&
           order_types.empty() && tenures.empty() && confidential < 0;
  }
};

struct OracleGrant {
  std::string path;
  FieldAction action;
};
struct OracleRule {
  std::string agency;
  std::set<int> nsir;  // empty: any
  int fire_risk = -1;  // -1: any
  int tenancy = -1;
  int licensed = -1;
  int lead = -1;
  int under_18 = -1;
  std::set<int> roles;  // when.person_roles; empty: any
  int min_risk = 0;
  bool has_any_person = false;
  OracleSelector any_person;
  bool has_people = false;
  OracleSelector people;
  std::set<std::string> sources;          // empty: any
  std::set<std::string> exclude_sources;  // empty: none
  std::vector<OracleGrant> grants;
};

class Random {
 public:
  explicit Random(uint32_t seed) : gen_(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_); }
  bool Chance(int percent) { return Int(1, 100) <= percent; }
  int Tri(int percent) { return Chance(percent) ? Int(0, 1) : -1; }
  template <class T>
  const T& Pick(const std::vector<T>& v) {
    return v[Int(0, static_cast<int>(v.size()) - 1)];
  }

 private:
  std::mt19937 gen_;
};

OracleSelector RandomSelector(Random& rnd) {
  OracleSelector s;
  while (s.Empty()) {
    if (rnd.Chance(50)) {
      s.roles.insert(rnd.Pick(kRoles));
      if (rnd.Chance(40)) {
        s.roles.insert(rnd.Pick(kRoles));
      }
    }
    s.child = rnd.Tri(30);
    s.vulnerable = rnd.Tri(25);
    if (rnd.Chance(20)) {
      s.order_subject = rnd.Int(0, 1);
    }
    if (rnd.Chance(15)) {
      s.order_types.insert(rnd.Int(1, 9));
    }
    if (rnd.Chance(15)) {
      s.tenures.insert(rnd.Int(0, 5));
    }
    s.confidential = rnd.Tri(20);
  }
  return s;
}

std::set<std::string> RandomSources(Random& rnd) {
  std::set<std::string> out;
  const std::vector<std::string> agencies = {"a", "b", "hub"};
  out.insert(rnd.Pick(agencies));
  if (rnd.Chance(30)) {
    out.insert(rnd.Pick(agencies));
  }
  return out;
}

std::vector<OracleRule> RandomRules(Random& rnd, const std::vector<PathInfo>& paths) {
  std::vector<OracleRule> rules;
  const int n = rnd.Int(1, 6);
  for (int i = 0; i < n; ++i) {
    OracleRule r;
    r.agency = rnd.Chance(50) ? "a" : "b";
    if (rnd.Chance(25)) {
      r.nsir.insert(rnd.Int(1, 3));
    }
    r.fire_risk = rnd.Tri(20);
    r.tenancy = rnd.Tri(20);
    r.licensed = rnd.Tri(10);
    r.lead = rnd.Tri(15);
    if (rnd.Chance(40)) {
      r.roles.insert(rnd.Pick(kRoles));
      if (rnd.Chance(30)) {
        r.roles.insert(rnd.Pick(kRoles));
      }
    }
    if (rnd.Chance(12)) {
      r.under_18 = rnd.Int(0, 1);
      if (r.under_18 == 1 && !r.roles.empty() && r.roles.count(1) == 0 && r.roles.count(3) == 0) {
        r.roles.insert(3);  // else it can never match (a load error)
      }
    }
    if (rnd.Chance(20)) {
      r.min_risk = rnd.Int(1, 3);
    }
    if (rnd.Chance(20)) {
      r.has_any_person = true;
      r.any_person = RandomSelector(rnd);
    }
    if (rnd.Chance(15)) {
      r.sources = RandomSources(rnd);
    }
    if (rnd.Chance(15)) {
      for (const std::string& s : RandomSources(rnd)) {
        if (r.sources.count(s) == 0) {
          r.exclude_sources.insert(s);
        }
      }
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
      if (p.is_message) {
        actions.push_back(asb::v1::FIELD_ACTION_SHOW);  // whole messages: free text below them
      }
      r.grants.push_back({p.path, rnd.Pick(actions)});
    }
    bool about_people = false;
    for (const OracleGrant& g : r.grants) {
      about_people |= absl::StartsWith(g.path, "people") || absl::StartsWith(g.path, "orders");
    }
    if (about_people && rnd.Chance(40)) {
      r.has_people = true;
      r.people = RandomSelector(rnd);
      if (!r.roles.empty() && !r.people.roles.empty()) {
        r.people.roles.insert(*r.roles.begin());  // sharing no role is a load error
      }
    }
    rules.push_back(std::move(r));
  }
  return rules;
}

void ToSelector(const OracleSelector& o, asb::config::v1::PersonSelector* s) {
  for (int v : o.roles) {
    s->add_roles(static_cast<asb::v1::PersonRole>(v));
  }
  if (o.child >= 0) {
    s->set_child(o.child == 1);
  }
  if (o.vulnerable >= 0) {
    s->set_vulnerable(o.vulnerable == 1);
  }
  if (o.order_subject >= 0) {
    s->set_order_subject(o.order_subject == 1);
  }
  for (int v : o.order_types) {
    s->add_order_types(static_cast<asb::v1::OrderType>(v));
  }
  for (int v : o.tenures) {
    s->add_tenures(static_cast<asb::v1::Tenure>(v));
  }
  if (o.confidential >= 0) {
    s->set_confidential(o.confidential == 1);
  }
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
    auto* w = r->mutable_when();
    for (int v : o.nsir) {
      w->add_nsir_categories(static_cast<asb::v1::NsirCategory>(v));
    }
    if (o.fire_risk >= 0) {
      w->set_fire_risk(o.fire_risk == 1);
    }
    if (o.tenancy >= 0) {
      w->set_council_tenancy(o.tenancy == 1);
    }
    if (o.licensed >= 0) {
      w->set_licensed_premises(o.licensed == 1);
    }
    if (o.lead >= 0) {
      w->set_lead_agency(o.lead == 1);
    }
    if (o.under_18 >= 0) {
      w->set_subject_under_18(o.under_18 == 1);
    }
    for (int v : o.roles) {
      w->add_person_roles(static_cast<asb::v1::PersonRole>(v));
    }
    w->set_min_victim_risk(static_cast<asb::v1::RiskLevel>(o.min_risk));
    if (o.has_any_person) {
      ToSelector(o.any_person, w->mutable_any_person());
    }
    for (const std::string& a : o.sources) {
      w->add_source_agencies(a);
    }
    for (const std::string& a : o.exclude_sources) {
      w->add_exclude_source_agencies(a);
    }
    if (o.has_people) {
      ToSelector(o.people, r->mutable_people());
    }
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
    const int lead = rnd_.Int(0, 3);
    if (lead < 2) {
      c.set_lead_agency(lead == 0 ? "a" : "b");
    } else if (lead == 2) {
      MaybeString(c.mutable_lead_agency());
    }
    MaybeString(c.mutable_lead_officer());
    Source(c.mutable_source_agency());
    if (rnd_.Chance(80)) {
      FillLocation(c.mutable_location());
    }
    c.mutable_flags()->set_fire_risk(rnd_.Chance(50));
    c.mutable_flags()->set_council_tenancy(rnd_.Chance(50));
    c.mutable_flags()->set_hate_motivated(rnd_.Chance(20));
    c.mutable_flags()->set_licensed_premises(rnd_.Chance(20));
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
    const int people = rnd_.Int(0, 5);
    for (int i = 0; i < people; ++i) {
      auto* p = c.add_people();
      p->set_person_id(Marker());
      p->set_role(static_cast<asb::v1::PersonRole>(rnd_.Pick(kRoles)));
      MaybeString(p->mutable_given_name());
      MaybeString(p->mutable_family_name());
      if (rnd_.Chance(70)) {
        p->set_date_of_birth(
            absl::StrCat(1930 + (serial_++ % 95), "-0", rnd_.Int(1, 9), "-1", rnd_.Int(0, 9)));
      }
      p->set_child(rnd_.Chance(30));
      p->set_confidential(rnd_.Chance(15));
      Source(p->mutable_source_agency());
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
      Source(inc->mutable_source_agency());
    }
    const int orders = rnd_.Int(0, 3);
    for (int i = 0; i < orders; ++i) {
      auto* o = c.add_orders();
      o->set_order_id(Marker());
      o->set_type(static_cast<asb::v1::OrderType>(rnd_.Int(1, 9)));
      o->set_status(static_cast<asb::v1::OrderStatus>(rnd_.Int(1, 3)));
      if (c.people_size() > 0 && rnd_.Chance(60)) {
        o->set_subject_person_id(c.people(rnd_.Int(0, c.people_size() - 1)).person_id());
      } else {
        MaybeString(o->mutable_subject_person_id());
      }
      MaybeString(o->mutable_issued_by());
      Source(o->mutable_source_agency());
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
        Source(br->mutable_source_agency());
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
  // A fact's source: an agency of the ISP, the hub, one the ISP does not know, or none.
  void Source(std::string* s) {
    static const std::vector<std::string> sources = {"a", "b", "hub", "c", ""};
    *s = rnd_.Pick(sources);
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

// Age in whole years on the case's date (its updated_at, or today), from a strict YYYY-MM-DD.
bool IsChild(const asb::v1::Person& p, const asb::v1::Case& c) {
  int y = 0, m = 0, d = 0;
  const std::string& dob = p.date_of_birth();
  const bool parsed = dob.size() == 10 && dob[4] == '-' && dob[7] == '-' &&
                      std::sscanf(dob.c_str(), "%4d-%2d-%2d", &y, &m, &d) == 3 &&
                      absl::CivilDay(y, m, d).month() == m && absl::CivilDay(y, m, d).day() == d;
  if (!parsed) {
    return p.child();
  }
  const absl::Time at =
      c.has_updated_at() ? absl::FromUnixSeconds(c.updated_at().seconds()) : absl::Now();
  const absl::CivilDay today = absl::ToCivilDay(at, absl::UTCTimeZone());
  int age = static_cast<int>(today.year()) - y;
  if (today.month() < m || (today.month() == m && today.day() < d)) {
    --age;
  }
  return age >= 0 && age < 18;
}

class Oracle {
 public:
  // Which facts a view value at `path` can belong to.
  enum class Kind { kRoot, kPerson, kIncident, kOrder, kBreach };
  static Kind KindOf(const std::string& path) {
    if (absl::StartsWith(path, "people.")) {
      return Kind::kPerson;
    }
    if (absl::StartsWith(path, "incidents.")) {
      return Kind::kIncident;
    }
    if (absl::StartsWith(path, "orders.breaches.")) {
      return Kind::kBreach;
    }
    if (absl::StartsWith(path, "orders.")) {
      return Kind::kOrder;
    }
    return Kind::kRoot;
  }

  Oracle(const std::vector<OracleRule>& rules, const std::string& agency, const asb::v1::Case& c)
      : c_(c) {
    lead_ = !c.lead_agency().empty() && c.lead_agency() == agency;
    std::set<int> roles, tenures, orders, child_subject_roles;
    bool any_vulnerable = false;
    for (const auto& p : c.people()) {
      roles.insert(p.role());
      tenures.insert(p.tenure());
      any_vulnerable |= p.vulnerable();
      if ((p.role() == 1 || p.role() == 3) && IsChild(p, c)) {
        child_subject_roles.insert(p.role());
      }
    }
    for (const auto& o : c.orders()) {
      orders.insert(o.type());
    }
    for (const OracleRule& r : rules) {
      if (r.agency != agency) {
        continue;
      }
      bool ok = (r.nsir.empty() || r.nsir.count(c.nsir_category()) > 0) &&
                (r.fire_risk < 0 || c.flags().fire_risk() == (r.fire_risk == 1)) &&
                (r.tenancy < 0 || c.flags().council_tenancy() == (r.tenancy == 1)) &&
                (r.licensed < 0 || c.flags().licensed_premises() == (r.licensed == 1)) &&
                (r.lead < 0 || lead_ == (r.lead == 1)) &&
                static_cast<int>(c.victim_risk()) >= r.min_risk;
      if (ok && !r.roles.empty()) {
        bool any = false;
        for (int role : r.roles) {
          any |= roles.count(role) > 0;
        }
        ok = any;
      }
      if (ok && r.under_18 >= 0) {
        bool has = false;
        for (int role : child_subject_roles) {
          has |= r.roles.empty() || r.roles.count(role) > 0;
        }
        ok = has == (r.under_18 == 1);
      }
      if (ok && r.has_any_person) {
        bool any = false;
        for (const auto& p : c.people()) {
          any |= (lead_ || !p.confidential()) && Selects(r.any_person, p);
        }
        ok = any;
      }
      if (ok && (!r.sources.empty() || !r.exclude_sources.empty())) {
        bool any = SourceOk(r, c.source_agency());
        for (const auto& p : c.people()) {
          any |= SourceOk(r, p.source_agency());
        }
        for (const auto& i : c.incidents()) {
          any |= SourceOk(r, i.source_agency());
        }
        for (const auto& o : c.orders()) {
          any |= SourceOk(r, o.source_agency());
          for (const auto& b : o.breaches()) {
            any |= SourceOk(r, b.source_agency());
          }
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

  // The matching rules that cover each fact.
  using Rules = std::vector<const OracleRule*>;
  Rules Root() const {
    Rules out;
    for (const OracleRule* r : matching_) {
      if (SourceOk(*r, c_.source_agency())) {
        out.push_back(r);
      }
    }
    return out;
  }
  // The rules whose people predicates select a person (a confidential one: lead agency only).
  Rules Selected(const asb::v1::Person& p) const {
    Rules out;
    if (p.confidential() && !lead_) {
      return out;
    }
    for (const OracleRule* r : matching_) {
      if ((r->roles.empty() || r->roles.count(p.role()) > 0) &&
          (!r->has_people || Selects(r->people, p))) {
        out.push_back(r);
      }
    }
    return out;
  }
  Rules Person(const asb::v1::Person& p) const {
    Rules out;
    for (const OracleRule* r : Selected(p)) {
      if (SourceOk(*r, p.source_agency())) {
        out.push_back(r);
      }
    }
    return out;
  }
  Rules Incident(const asb::v1::Incident& i) const {
    Rules out;
    for (const OracleRule* r : matching_) {
      if (SourceOk(*r, i.source_agency())) {
        out.push_back(r);
      }
    }
    return out;
  }
  Rules Order(const asb::v1::Order& o) const {
    Rules out;
    for (const OracleRule* r : matching_) {
      if (!SourceOk(*r, o.source_agency())) {
        continue;
      }
      const bool restricts = r->has_people || !r->roles.empty();
      if (restricts && !o.subject_person_id().empty()) {
        bool covered = false;
        for (const auto& p : c_.people()) {
          if (p.person_id() == o.subject_person_id()) {
            const Rules pr = Selected(p);
            covered |= std::find(pr.begin(), pr.end(), r) != pr.end();
          }
        }
        if (!covered) {
          continue;
        }
      }
      out.push_back(r);
    }
    return out;
  }
  Rules Breach(const asb::v1::Order& o, const asb::v1::Breach& b) const {
    Rules out;
    for (const OracleRule* r : Order(o)) {
      if (SourceOk(*r, b.source_agency())) {
        out.push_back(r);
      }
    }
    return out;
  }
  // Every fact of a kind, by its covering rules.
  std::vector<Rules> FactsOf(Kind kind) const {
    std::vector<Rules> out;
    switch (kind) {
      case Kind::kRoot:
        out.push_back(Root());
        break;
      case Kind::kPerson:
        for (const auto& p : c_.people()) {
          out.push_back(Person(p));
        }
        break;
      case Kind::kIncident:
        for (const auto& i : c_.incidents()) {
          out.push_back(Incident(i));
        }
        break;
      case Kind::kOrder:
        for (const auto& o : c_.orders()) {
          out.push_back(Order(o));
        }
        break;
      case Kind::kBreach:
        for (const auto& o : c_.orders()) {
          for (const auto& b : o.breaches()) {
            out.push_back(Breach(o, b));
          }
        }
        break;
    }
    return out;
  }

  // The actions that apply to `path` under `rules`. Empty if denied. Free text takes SHOW,
  // GENERALISE and PSEUDONYMISE only from a grant naming it.
  static std::set<FieldAction> Allowed(const std::string& path, const Rules& rules) {
    std::set<FieldAction> out;
    for (const OracleRule* r : rules) {
      for (const auto& g : r->grants) {
        if (!Covers(g.path, path)) {
          continue;
        }
        if (g.action == asb::v1::FIELD_ACTION_DENY) {
          return {};
        }
        if (IsFreeText(path) && g.path != path && g.action != asb::v1::FIELD_ACTION_REDACT) {
          continue;
        }
        out.insert(g.action);
      }
    }
    return out;
  }

  static bool Denied(const std::string& path, const Rules& rules) {
    for (const OracleRule* r : rules) {
      for (const auto& g : r->grants) {
        if (Covers(g.path, path) && g.action == asb::v1::FIELD_ACTION_DENY) {
          return true;
        }
      }
    }
    return false;
  }

  // May a value appear at `path` (in the view) under `rules`?
  static bool MayProduce(const std::string& path, const Rules& rules, bool is_string) {
    auto a = Allowed(path, rules);
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
      return Allowed("people.date_of_birth", rules).count(asb::v1::FIELD_ACTION_GENERALISE) > 0;
    }
    if (path == "people.address.postcode_district") {
      return Allowed("people.address.postcode", rules).count(asb::v1::FIELD_ACTION_GENERALISE) > 0;
    }
    return false;
  }

  bool lead() const { return lead_; }

 private:
  static bool SourceOk(const OracleRule& r, const std::string& source) {
    return (r.sources.empty() || r.sources.count(source) > 0) &&
           r.exclude_sources.count(source) == 0;
  }
  bool Selects(const OracleSelector& s, const asb::v1::Person& p) const {
    if (!s.roles.empty() && s.roles.count(p.role()) == 0) {
      return false;
    }
    if (s.child >= 0 && IsChild(p, c_) != (s.child == 1)) {
      return false;
    }
    if (s.vulnerable >= 0 && p.vulnerable() != (s.vulnerable == 1)) {
      return false;
    }
    if (s.confidential >= 0 && p.confidential() != (s.confidential == 1)) {
      return false;
    }
    if (!s.tenures.empty() && s.tenures.count(p.tenure()) == 0) {
      return false;
    }
    if (s.order_subject >= 0 || !s.order_types.empty()) {
      bool subject = false;
      for (const auto& o : c_.orders()) {
        subject |= !o.subject_person_id().empty() && o.subject_person_id() == p.person_id() &&
                   (s.order_types.empty() || s.order_types.count(o.type()) > 0);
      }
      if (subject != (s.order_subject != 0)) {
        return false;
      }
    }
    return true;
  }

  const asb::v1::Case& c_;
  bool lead_ = false;
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

// What the random rounds exercised, so the test fails if a generator stops producing a case.
struct Exercised {
  int applications = 0;
  int visible = 0;
  int checked_values = 0;
  int encoded_checked = 0;
  int free_text_withheld_under_enclosing_show = 0;
  int free_text_shown_by_name = 0;
  int people_left_out = 0;
  int confidential_left_out = 0;
  int facts_left_out_by_source = 0;
  int orders_left_out_with_subject = 0;
};

TEST(PolicyPropertyTest, NothingOutsideTheGrantsReachesAnAgency) {
  std::vector<PathInfo> paths;
  CollectPaths(asb::v1::Case::descriptor(), "", &paths);
  const uint32_t seed = 20240610;
  Random rnd(seed);
  CaseMaker maker(rnd);
  Exercised ex;
  for (int policy_round = 0; policy_round < 200; ++policy_round) {
    const std::vector<OracleRule> rules = RandomRules(rnd, paths);
    auto policy = Policy::Compile(ToIsp(rules), std::string(32, 'k'), "random", nullptr);
    ASSERT_TRUE(policy.ok()) << policy.status() << "\n" << ToIsp(rules).DebugString();
    for (int case_round = 0; case_round < 40; ++case_round) {
      const asb::v1::Case c = maker.Make();
      for (const char* agency : {"a", "b"}) {
        ++ex.applications;
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
        ++ex.encoded_checked;
        ++ex.visible;
        const asb::v1::Case& v = d.view();
        // 1. Every value in the view is covered, for some fact of its kind, by a grant that can
        // produce it.
        for (int i = 0; i < v.people_size(); ++i) {
          ASSERT_GT(v.people(i).ByteSizeLong(), 0u) << "empty person entry";
        }
        Walk(v, "", [&](const std::string& path, const Message&, const FieldDescriptor* f) {
          bool ok = false;
          for (const Oracle::Rules& fact : oracle.FactsOf(Oracle::KindOf(path))) {
            ok |= Oracle::MayProduce(path, fact, f->type() == FieldDescriptor::TYPE_STRING);
          }
          EXPECT_TRUE(ok) << "leaked " << path;
          ++ex.checked_values;
        });
        // 2. No unshown marker appears anywhere in the view. A marker may stand in two places
        // (an order's subject_person_id is a person's id): it may appear if either shows it.
        std::map<std::string, bool> markers;  // value -> shown somewhere
        auto collect = [&](const Message& m, const std::string& prefix,
                           const Oracle::Rules& rules) {
          Walk(m, prefix,
               [&](const std::string& path, const Message& mm, const FieldDescriptor* f) {
                 if (f->type() != FieldDescriptor::TYPE_STRING || f->is_repeated()) {
                   return;
                 }
                 std::string scratch;
                 const std::string& value = mm.GetReflection()->GetStringReference(mm, f, &scratch);
                 if (!absl::StartsWith(value, "MK")) {
                   return;  // agency ids and the like: not unique, not checked
                 }
                 const auto allowed = Oracle::Allowed(path, rules);
                 // Generalising a location keeps its LSOA and ward as they are.
                 const bool kept =
                     allowed.count(asb::v1::FIELD_ACTION_GENERALISE) > 0 &&
                     (absl::EndsWith(path, ".lsoa_code") || absl::EndsWith(path, ".ward"));
                 markers[value] |= allowed.count(asb::v1::FIELD_ACTION_SHOW) > 0 || kept;
                 if (IsFreeText(path)) {
                   bool enclosing_show = false;
                   for (const OracleRule* r : rules) {
                     for (const auto& g : r->grants) {
                       enclosing_show |= g.path != path && Covers(g.path, path) &&
                                         g.action == asb::v1::FIELD_ACTION_SHOW;
                     }
                   }
                   if (allowed.count(asb::v1::FIELD_ACTION_SHOW) > 0) {
                     ++ex.free_text_shown_by_name;
                   } else if (enclosing_show && !Oracle::Denied(path, rules)) {
                     ++ex.free_text_withheld_under_enclosing_show;
                   }
                 }
               });
        };
        asb::v1::Case rest = c;
        rest.clear_people();
        rest.clear_incidents();
        rest.clear_orders();
        collect(rest, "", oracle.Root());
        int covered_people = 0;
        for (const auto& p : c.people()) {
          const Oracle::Rules pr = oracle.Person(p);
          collect(p, "people", pr);
          if (!pr.empty()) {
            ++covered_people;
          } else {
            ++ex.people_left_out;
            ex.confidential_left_out += p.confidential() && !oracle.lead();
          }
        }
        for (const auto& i : c.incidents()) {
          const Oracle::Rules ir = oracle.Incident(i);
          collect(i, "incidents", ir);
          ex.facts_left_out_by_source += ir.size() < oracle.Root().size();
        }
        for (const auto& o : c.orders()) {
          asb::v1::Order head = o;
          head.clear_breaches();
          const Oracle::Rules orules = oracle.Order(o);
          collect(head, "orders", orules);
          ex.orders_left_out_with_subject += orules.empty() && !o.subject_person_id().empty();
          for (const auto& b : o.breaches()) {
            collect(b, "orders.breaches", oracle.Breach(o, b));
          }
        }
        const std::string bytes = d.SerializeAsString();
        for (const auto& [value, shown_somewhere] : markers) {
          if (!shown_somewhere) {
            EXPECT_EQ(bytes.find(value), std::string::npos) << "value " << value << " leaked";
          }
        }
        // 3. Nobody the rules do not cover, not even their role; confidential people only for
        // the lead agency.
        EXPECT_LE(v.people_size(), covered_people);
        if (::testing::Test::HasFailure()) {
          return;
        }
      }
    }
  }
  std::printf(
      "%d applications, %d visible, %d values checked; free text withheld under an enclosing "
      "SHOW %d, shown by name %d; people left out %d (confidential %d); facts left out by "
      "source %d; orders left out with their subject %d\n",
      ex.applications, ex.visible, ex.checked_values, ex.free_text_withheld_under_enclosing_show,
      ex.free_text_shown_by_name, ex.people_left_out, ex.confidential_left_out,
      ex.facts_left_out_by_source, ex.orders_left_out_with_subject);
  EXPECT_EQ(ex.applications, 200 * 40 * 2);
  EXPECT_GT(ex.visible, ex.applications / 5);  // the random policies do show things
  EXPECT_GT(ex.checked_values, 10000);
  EXPECT_EQ(ex.encoded_checked, ex.visible);
  // Every new kind of decision was met many times.
  EXPECT_GT(ex.free_text_withheld_under_enclosing_show, 100);
  EXPECT_GT(ex.free_text_shown_by_name, 100);
  EXPECT_GT(ex.people_left_out, 1000);
  EXPECT_GT(ex.confidential_left_out, 100);
  EXPECT_GT(ex.facts_left_out_by_source, 100);
  EXPECT_GT(ex.orders_left_out_with_subject, 100);
}

}  // namespace
}  // namespace asb::policy
