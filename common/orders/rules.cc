#include "common/orders/rules.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/config/violations.h"
#include "common/crypto/crypto.h"
#include "common/model/model.h"
#include "common/orders/names.h"

namespace asb::orders {

namespace cfg = asb::config::v1;
using asb::v1::Order;
using asb::v1::OrderType;
using model::ToTime;
using model::ToTimestamp;

// The table compiled for lookups.
struct StatutoryRules::Compiled {
  struct Rule {
    const cfg::StatutoryRule* config = nullptr;
    OrderType type = asb::v1::ORDER_TYPE_UNSPECIFIED;
    absl::CivilDay from;
    std::optional<absl::CivilDay> until;
    bool hard = false;
    std::set<int> stages;  // cfg::Stage values
    std::optional<Period> period;
    OrderType prior_type = asb::v1::ORDER_TYPE_UNSPECIFIED;
  };
  struct TypeInfo {
    std::string term_section;
    std::optional<Period> default_review;
    std::string default_review_basis;
  };
  std::vector<Rule> rules;
  std::map<OrderType, TypeInfo> types;
  std::vector<Period> review_leads;
  std::optional<Period> consultation_warning;
  std::optional<Period> escalate_after;
  std::string escalation_agency;
};

namespace {

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-' || c == '_';
  });
}

std::string KnownOrderTypes() {
  std::vector<std::string> names;
  const auto* d = asb::v1::OrderType_descriptor();
  for (int i = 0; i < d->value_count(); ++i) {
    if (d->value(i)->number() != 0) {
      names.push_back(d->value(i)->name());
    }
  }
  return absl::StrJoin(names, ", ");
}

// An asb.v1.OrderType name, checked with its path.
OrderType ParseOrderType(const std::string& path, const std::string& name, config::Violations* v) {
  OrderType t = asb::v1::ORDER_TYPE_UNSPECIFIED;
  if (name.empty()) {
    v->Add(path, "required");
  } else if (!asb::v1::OrderType_Parse(name, &t) || t == asb::v1::ORDER_TYPE_UNSPECIFIED) {
    v->Add(path, absl::StrCat("unknown order type '", name, "' (one of ", KnownOrderTypes(), ")"));
    t = asb::v1::ORDER_TYPE_UNSPECIFIED;
  }
  return t;
}

std::optional<Period> CheckPeriod(const std::string& path, const std::string& text, bool required,
                                  config::Violations* v) {
  if (text.empty()) {
    if (required) {
      v->Add(path, "required");
    }
    return std::nullopt;
  }
  absl::StatusOr<Period> p = ParsePeriod(text);
  if (!p.ok()) {
    v->Add(path, std::string(p.status().message()));
    return std::nullopt;
  }
  return *p;
}

bool PoliceRank(asb::v1::AuthorisingRank r) {
  return r >= asb::v1::AUTHORISING_RANK_CONSTABLE && r <= asb::v1::AUTHORISING_RANK_CHIEF_CONSTABLE;
}
bool LocalAuthorityRank(asb::v1::AuthorisingRank r) {
  return r >= asb::v1::AUTHORISING_RANK_LOCAL_AUTHORITY_OFFICER &&
         r <= asb::v1::AUTHORISING_RANK_LOCAL_AUTHORITY_CHIEF_EXECUTIVE_DESIGNATE;
}

void CheckAuthority(const std::string& path, const cfg::AuthorityRequirement& a,
                    config::Violations* v) {
  if (a.min_police_rank() != asb::v1::AUTHORISING_RANK_UNSPECIFIED &&
      !PoliceRank(a.min_police_rank())) {
    v->Add(path + ".min_police_rank", "must be a police rank (CONSTABLE .. CHIEF_CONSTABLE)");
  }
  for (int i = 0; i < a.local_authority_ranks_size(); ++i) {
    if (!LocalAuthorityRank(a.local_authority_ranks(i))) {
      v->Add(absl::StrCat(path, ".local_authority_ranks[", i, "]"),
             "must be a local authority role (AUTHORISING_RANK_LOCAL_AUTHORITY_*)");
    }
  }
  if (a.min_police_rank() == asb::v1::AUTHORISING_RANK_UNSPECIFIED &&
      a.local_authority_ranks_size() == 0) {
    v->Add(path, "names no one: set min_police_rank or local_authority_ranks");
  }
}

bool Satisfies(const asb::v1::Authorisation& a, const cfg::AuthorityRequirement& req) {
  if (PoliceRank(a.rank())) {
    return req.min_police_rank() != asb::v1::AUTHORISING_RANK_UNSPECIFIED &&
           a.rank() >= req.min_police_rank();
  }
  for (int r : req.local_authority_ranks()) {
    if (r == a.rank()) {
      return true;
    }
  }
  return false;
}

bool Authorised(const Order& o, const cfg::AuthorityRequirement& req) {
  for (const asb::v1::Authorisation& a : o.authorisations()) {
    if (Satisfies(a, req)) {
      return true;
    }
  }
  return false;
}

std::string RankWords(asb::v1::AuthorisingRank r) {
  return EnumWords(asb::v1::AuthorisingRank_Name(r), "AUTHORISING_RANK_");
}

std::string AuthorityWords(const cfg::AuthorityRequirement& req) {
  std::vector<std::string> who;
  if (req.min_police_rank() != asb::v1::AUTHORISING_RANK_UNSPECIFIED) {
    who.push_back(absl::StrCat("a police officer of at least the rank of ",
                               RankWords(req.min_police_rank())));
  }
  for (int r : req.local_authority_ranks()) {
    who.push_back(RankWords(static_cast<asb::v1::AuthorisingRank>(r)));
  }
  return absl::StrJoin(who, " or ");
}

std::string Cite(const cfg::StatutoryRule& r) {
  return absl::StrCat("rule ", r.id(), ": ", r.section(), ", in force from ", r.effective_from());
}

int64_t Unix(absl::Time t) { return absl::ToUnixSeconds(t); }

// The words for a term from `from` to `to`: hours for an hour period, dates otherwise.
std::string TermWords(absl::Time from, absl::Time to, const Period& p) {
  if (!p.calendar()) {
    const double hours = absl::ToDoubleHours(to - from);
    if (hours == static_cast<double>(static_cast<int64_t>(hours))) {
      return absl::StrCat(static_cast<int64_t>(hours), " hours");
    }
    return absl::StrCat(absl::FormatDuration(absl::Trunc(to - from, absl::Minutes(1))));
  }
  return absl::StrCat(FormatDay(DayOf(from)), " to ", FormatDay(DayOf(to)));
}

}  // namespace

StatutoryRules::StatutoryRules() = default;
StatutoryRules::~StatutoryRules() = default;

std::size_t StatutoryRules::rule_count() const { return compiled_->rules.size(); }

std::shared_ptr<const StatutoryRules> StatutoryRules::Empty() {
  static const std::shared_ptr<const StatutoryRules> empty = [] {
    std::shared_ptr<StatutoryRules> r(new StatutoryRules());
    r->version_ = "none";
    r->compiled_ = std::make_unique<Compiled>();
    return r;
  }();
  return empty;
}

std::string StatutoryRules::TypeWords(OrderType type) {
  return EnumWords(asb::v1::OrderType_Name(type), "ORDER_TYPE_");
}

absl::StatusOr<std::shared_ptr<const StatutoryRules>> StatutoryRules::LoadFile(
    const std::string& path, const std::vector<std::string>& agencies) {
  cfg::StatutoryRules table;
  config::SourceMap lines;
  if (absl::Status s = config::LoadConfigFile(path, &table, &lines); !s.ok()) {
    return s;
  }
  return FromConfig(table, path, &lines, agencies);
}

absl::StatusOr<std::shared_ptr<const StatutoryRules>> StatutoryRules::FromConfig(
    const cfg::StatutoryRules& config, const std::string& file, const config::SourceMap* lines,
    const std::vector<std::string>& agencies) {
  std::shared_ptr<StatutoryRules> out(new StatutoryRules());
  out->config_ = config;
  const cfg::StatutoryRules& t = out->config_;
  auto c = std::make_unique<Compiled>();
  config::Violations v(file, lines);
  const std::set<std::string> agency_set(agencies.begin(), agencies.end());

  v.Required("name", t.name());
  v.Required("version", t.version());

  // Reminders.
  const cfg::Reminders& rem = t.reminders();
  for (int i = 0; i < rem.review_lead_times_size(); ++i) {
    if (auto p = CheckPeriod(absl::StrCat("reminders.review_lead_times[", i, "]"),
                             rem.review_lead_times(i), true, &v)) {
      c->review_leads.push_back(*p);
    }
  }
  c->consultation_warning =
      CheckPeriod("reminders.consultation_warning", rem.consultation_warning(), false, &v);
  c->escalate_after = CheckPeriod("reminders.escalate_after", rem.escalate_after(), false, &v);
  if (!rem.escalate_after().empty() && rem.escalation_agency().empty()) {
    v.Add("reminders.escalation_agency", "required with escalate_after");
  } else if (!rem.escalation_agency().empty() && agency_set.count(rem.escalation_agency()) == 0) {
    v.Add("reminders.escalation_agency",
          absl::StrCat("unknown agency '", rem.escalation_agency(), "' (not in the ISP)"));
  }
  c->escalation_agency = rem.escalation_agency();

  // Bodies.
  std::set<std::string> bodies;
  for (int i = 0; i < t.bodies_size(); ++i) {
    const std::string at = absl::StrCat("bodies[", i, "]");
    const cfg::ConsultedBody& b = t.bodies(i);
    if (!ValidId(b.id())) {
      v.Add(at + ".id", "required; lower-case letters, digits, '-' and '_'");
    } else if (agency_set.count(b.id()) != 0) {
      v.Add(at + ".id", absl::StrCat("'", b.id(), "' is an ISP agency: name it as one"));
    } else if (!bodies.insert(b.id()).second) {
      v.Add(at + ".id", absl::StrCat("duplicate body '", b.id(), "'"));
    }
    v.Required(at + ".name", b.name());
  }
  auto known_party = [&](const std::string& id) {
    return agency_set.count(id) != 0 || bodies.count(id) != 0;
  };

  // Order types.
  for (int i = 0; i < t.order_types_size(); ++i) {
    const std::string at = absl::StrCat("order_types[", i, "]");
    const cfg::OrderTypeInfo& info = t.order_types(i);
    const OrderType type = ParseOrderType(at + ".order_type", info.order_type(), &v);
    Compiled::TypeInfo ti;
    ti.term_section = info.term_section();
    ti.default_review = CheckPeriod(at + ".default_review", info.default_review(), false, &v);
    ti.default_review_basis = info.default_review_basis();
    if (!info.default_review().empty() && info.default_review_basis().empty()) {
      v.Add(at + ".default_review_basis", "required with default_review (where it comes from)");
    }
    if (type != asb::v1::ORDER_TYPE_UNSPECIFIED && !c->types.emplace(type, ti).second) {
      v.Add(at + ".order_type", absl::StrCat("'", info.order_type(), "' listed twice"));
    }
  }

  // Rules.
  std::set<std::string> ids;
  for (int i = 0; i < t.rules_size(); ++i) {
    const std::string at = absl::StrCat("rules[", i, "]");
    const cfg::StatutoryRule& r = t.rules(i);
    Compiled::Rule cr;
    cr.config = &r;
    if (!ValidId(r.id())) {
      v.Add(at + ".id", "required; lower-case letters, digits, '-' and '_'");
    } else if (!ids.insert(r.id()).second) {
      v.Add(at + ".id", absl::StrCat("duplicate rule '", r.id(), "'"));
    }
    cr.type = ParseOrderType(at + ".order_type", r.order_type(), &v);
    v.Required(at + ".section", r.section());
    if (r.effective_from().empty()) {
      v.Add(at + ".effective_from", "required (YYYY-MM-DD)");
    } else if (auto d = ParseDate(r.effective_from())) {
      cr.from = *d;
    } else {
      v.Add(at + ".effective_from",
            absl::StrCat("'", r.effective_from(), "' is not a date (YYYY-MM-DD)"));
    }
    if (!r.effective_until().empty()) {
      if (auto d = ParseDate(r.effective_until())) {
        cr.until = *d;
        if (*d < cr.from) {
          v.Add(at + ".effective_until", "before effective_from");
        }
      } else {
        v.Add(at + ".effective_until",
              absl::StrCat("'", r.effective_until(), "' is not a date (YYYY-MM-DD)"));
      }
    }
    if (r.enforcement() == cfg::ENFORCEMENT_UNSPECIFIED) {
      v.Add(at + ".enforcement", "required: ENFORCEMENT_HARD or ENFORCEMENT_SOFT");
    }
    cr.hard = r.enforcement() == cfg::ENFORCEMENT_HARD;
    for (int s = 0; s < r.stages_size(); ++s) {
      if (r.stages(s) == cfg::STAGE_UNSPECIFIED) {
        v.Add(absl::StrCat(at, ".stages[", s, "]"), "not a stage");
      }
      cr.stages.insert(r.stages(s));
    }
    if (cr.stages.empty()) {
      cr.stages.insert(cfg::STAGE_ISSUE);
    }
    auto soft_deadline = [&](const char* what) {
      if (cr.hard) {
        v.Add(at + ".enforcement", absl::StrCat(what, " is a deadline the clock keeps: SOFT"));
      }
      if (cr.stages != std::set<int>{cfg::STAGE_ISSUE}) {
        v.Add(at + ".stages", absl::StrCat(what, " is set at issue (no other stage)"));
      }
    };
    switch (r.check_case()) {
      case cfg::StatutoryRule::kMaxDuration:
        cr.period = CheckPeriod(at + ".max_duration.period", r.max_duration().period(), true, &v);
        if (r.max_duration().has_unless_authorised()) {
          CheckAuthority(at + ".max_duration.unless_authorised",
                         r.max_duration().unless_authorised(), &v);
        }
        break;
      case cfg::StatutoryRule::kMinDuration:
        cr.period = CheckPeriod(at + ".min_duration.period", r.min_duration().period(), true, &v);
        break;
      case cfg::StatutoryRule::kMinSubjectAge:
        if (r.min_subject_age() == 0 || r.min_subject_age() > 25) {
          v.Add(at + ".min_subject_age", "between 1 and 25 (years)");
        }
        break;
      case cfg::StatutoryRule::kAuthorisation:
        CheckAuthority(at + ".authorisation", r.authorisation(), &v);
        break;
      case cfg::StatutoryRule::kConsultation:
        if (r.consultation().consultees_size() == 0) {
          v.Add(at + ".consultation.consultees", "required: at least one");
        }
        for (int k = 0; k < r.consultation().consultees_size(); ++k) {
          if (!known_party(r.consultation().consultees(k))) {
            v.Add(absl::StrCat(at, ".consultation.consultees[", k, "]"),
                  absl::StrCat("unknown agency '", r.consultation().consultees(k),
                               "' (neither an ISP agency nor a body of this table)"));
          }
        }
        break;
      case cfg::StatutoryRule::kPriorOrder:
        cr.prior_type =
            ParseOrderType(at + ".prior_order.order_type", r.prior_order().order_type(), &v);
        break;
      case cfg::StatutoryRule::kHearingWithin:
        cr.period =
            CheckPeriod(at + ".hearing_within.period", r.hearing_within().period(), true, &v);
        soft_deadline("hearing_within");
        break;
      case cfg::StatutoryRule::kPeriodicReview:
        cr.period =
            CheckPeriod(at + ".periodic_review.every", r.periodic_review().every(), true, &v);
        soft_deadline("periodic_review");
        break;
      case cfg::StatutoryRule::kInformAgency:
        if (r.inform_agency().agency().empty()) {
          v.Add(at + ".inform_agency.agency", "required");
        } else if (agency_set.count(r.inform_agency().agency()) == 0) {
          v.Add(at + ".inform_agency.agency",
                absl::StrCat("unknown agency '", r.inform_agency().agency(), "' (not in the ISP)"));
        }
        soft_deadline("inform_agency");
        break;
      case cfg::StatutoryRule::CHECK_NOT_SET:
        v.Add(at,
              "no check: set one of max_duration, min_duration, min_subject_age, authorisation, "
              "consultation, prior_order, hearing_within, periodic_review, inform_agency");
        break;
    }
    c->rules.push_back(cr);
  }
  if (absl::Status s = v.ToStatus(); !s.ok()) {
    return s;
  }
  std::string bytes;
  t.SerializeToString(&bytes);  // deterministic enough for one build: a hash for the record
  out->version_ =
      absl::StrCat(t.version(), "/", crypto::HexEncode(crypto::Sha256(bytes)).substr(0, 12));
  out->compiled_ = std::move(c);
  return std::shared_ptr<const StatutoryRules>(std::move(out));
}

namespace {

bool InForceOn(const StatutoryRules::Compiled::Rule& r, absl::CivilDay day) {
  return day >= r.from && (!r.until.has_value() || day <= *r.until);
}

asb::v1::StatutoryContext ContextOf(const cfg::StatutoryRule& r, const std::string& version) {
  asb::v1::StatutoryContext ctx;
  ctx.set_rule_id(r.id());
  ctx.set_section(r.section());
  ctx.set_effective_from(r.effective_from());
  ctx.set_rules_version(version);
  return ctx;
}

// A consultation of `consultee` recorded (or answered) no later than `by`.
bool Consulted(const Order& o, const std::string& consultee, bool response_required,
               absl::Time by) {
  for (const asb::v1::Consultation& c : o.consultations()) {
    if (c.consultee() != consultee) {
      continue;
    }
    if (c.has_given_at() && ToTime(c.given_at()) <= by) {
      return true;
    }
    if (!response_required && c.has_requested_at() && ToTime(c.requested_at()) <= by) {
      return true;
    }
  }
  return false;
}

// The consultees of `r` not consulted by `by`.
std::vector<std::string> MissingConsultees(const Order& o, const cfg::ConsultationRequirement& r,
                                           absl::Time by) {
  std::vector<std::string> missing;
  for (const std::string& who : r.consultees()) {
    if (!Consulted(o, who, r.response_required(), by)) {
      missing.push_back(who);
    }
  }
  return missing;
}

bool HearingHeld(const Order& o) {
  for (const asb::v1::Hearing& h : o.hearings()) {
    if (h.has_held_at()) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<Finding> StatutoryRules::Check(const asb::v1::CaseEvent& event, const Order* before,
                                           const OrderFacts& facts,
                                           const Orders& case_orders) const {
  std::vector<Finding> out;
  const Order& o = *facts.order;
  std::set<int> stages;
  std::string prefix;
  if (event.has_order_issued()) {
    stages.insert(cfg::STAGE_ISSUE);
    prefix = "order_issued.order.";
  } else if (event.has_order_varied()) {
    stages.insert(cfg::STAGE_VARIATION);
    prefix = "order_varied.";
    if (before != nullptr && before->has_expires_at() && o.has_expires_at() &&
        ToTime(o.expires_at()) > ToTime(before->expires_at())) {
      stages.insert(cfg::STAGE_EXTENSION);
    }
  } else {
    return out;
  }
  const Compiled& c = *compiled_;
  const absl::Time issued = ToTime(o.issued_at());
  const absl::Time event_at = ToTime(event.occurred_at());
  const std::string words = TypeWords(o.type());

  auto finding = [&](const Compiled::Rule& r, const std::string& field, std::string what) {
    Finding f;
    f.refuse = r.hard;
    f.kind = asb::v1::NOTICE_KIND_COMPLIANCE;
    f.path = prefix + field;
    f.context = ContextOf(*r.config, version_);
    f.context.set_due(what);
    f.message = absl::StrCat(f.path, ": ", what, " (", Cite(*r.config), ")");
    f.recipients = {facts.issuing_agency};
    out.push_back(std::move(f));
  };

  for (const Compiled::Rule& r : c.rules) {
    if (r.type != o.type() || !InForceOn(r, DayOf(issued))) {
      continue;
    }
    int stage = 0;
    for (int s : {cfg::STAGE_ISSUE, cfg::STAGE_VARIATION, cfg::STAGE_EXTENSION}) {
      if (stages.count(s) != 0 && r.stages.count(s) != 0) {
        stage = s;  // the most specific stage both share (EXTENSION after VARIATION)
      }
    }
    if (stage == 0) {
      continue;
    }
    const cfg::StatutoryRule& rc = *r.config;
    const bool consultation = rc.has_consultation();
    // When the rule looks at the subject's age: the application (or the event) for
    // consultations, the issue for everything else.
    absl::Time age_at = issued;
    if (consultation) {
      age_at = stage == cfg::STAGE_ISSUE ? (o.has_applied_at() ? ToTime(o.applied_at()) : issued)
                                         : event_at;
    }
    if (rc.subject_age() != cfg::SUBJECT_AGE_ANY || rc.has_min_subject_age()) {
      if (o.subject_person_id().empty()) {
        continue;  // a place or a body: no age to check
      }
      if (!facts.subject_dob.has_value()) {
        Finding f;
        f.kind = asb::v1::NOTICE_KIND_COMPLIANCE;
        f.path = prefix + "subject_person_id";
        f.context = ContextOf(rc, version_);
        f.context.set_due(absl::StrCat("the subject's date of birth is not recorded, so rule ",
                                       rc.id(), " could not be checked"));
        f.message = absl::StrCat(f.path, ": ", f.context.due(), " (", Cite(rc), ")");
        f.recipients = {facts.issuing_agency};
        out.push_back(std::move(f));
        continue;
      }
      const int age = AgeOn(*facts.subject_dob, DayOf(age_at));
      if ((rc.subject_age() == cfg::SUBJECT_AGE_UNDER_18 && age >= 18) ||
          (rc.subject_age() == cfg::SUBJECT_AGE_18_OR_OVER && age < 18)) {
        continue;
      }
      if (rc.has_min_subject_age() && age < static_cast<int>(rc.min_subject_age())) {
        finding(
            r, "subject_person_id",
            absl::StrCat("the subject is under ", rc.min_subject_age(), " on the date of issue; a ",
                         words, " may not be made against a person under ", rc.min_subject_age()));
        continue;
      }
    }
    switch (rc.check_case()) {
      case cfg::StatutoryRule::kMaxDuration: {
        const cfg::DurationLimit& lim = rc.max_duration();
        if (lim.has_unless_authorised() && Authorised(o, lim.unless_authorised())) {
          break;
        }
        const absl::Time from =
            stage == cfg::STAGE_EXTENSION ? ToTime(before->expires_at()) : issued;
        const char* term = stage == cfg::STAGE_EXTENSION ? "an extension" : "a term";
        if (!o.has_expires_at()) {
          finding(r, "expires_at",
                  absl::StrCat("required: a ", words, " may last at most ", r.period->ToString(),
                               " and this one has no end date"));
          break;
        }
        const absl::Time end = ToTime(o.expires_at());
        if (!WithinPeriod(from, end, *r.period, lim.christmas_day_disregarded())) {
          std::string unless;
          if (lim.has_unless_authorised()) {
            unless =
                absl::StrCat(" unless authorised by ", AuthorityWords(lim.unless_authorised()));
          }
          finding(r, "expires_at",
                  absl::StrCat(
                      term, " of ", TermWords(from, end, *r.period), " exceeds the maximum of ",
                      r.period->ToString(), " for a ", words, unless,
                      lim.christmas_day_disregarded() ? " (Christmas Day disregarded)" : ""));
        }
        break;
      }
      case cfg::StatutoryRule::kMinDuration: {
        if (!o.has_expires_at()) {
          break;  // indefinite
        }
        const absl::Time end = ToTime(o.expires_at());
        if (!AtLeastPeriod(issued, end, *r.period)) {
          finding(r, "expires_at",
                  absl::StrCat("a term of ", TermWords(issued, end, *r.period),
                               " is shorter than the minimum of ", r.period->ToString(), " for a ",
                               words));
        }
        break;
      }
      case cfg::StatutoryRule::kAuthorisation:
        if (!Authorised(o, rc.authorisation())) {
          finding(r, "authorisations",
                  absl::StrCat("a ", words, " needs an authorisation by ",
                               AuthorityWords(rc.authorisation()), "; none is recorded"));
        }
        break;
      case cfg::StatutoryRule::kConsultation: {
        if (rc.consultation().except_without_notice() && o.without_notice()) {
          break;
        }
        const absl::Time by = stage == cfg::STAGE_ISSUE ? age_at : event_at;
        std::vector<std::string> missing = MissingConsultees(o, rc.consultation(), by);
        if (!missing.empty()) {
          finding(
              r, "consultations",
              absl::StrCat(
                  rc.consultation().response_required() ? "no views of " : "no consultation of ",
                  absl::StrJoin(missing, ", "), " recorded before the ",
                  stage == cfg::STAGE_ISSUE ? (o.has_applied_at() ? "application" : "issue")
                                            : "variation",
                  " of this ", words));
        }
        break;
      }
      case cfg::StatutoryRule::kPriorOrder: {
        bool found = false;
        for (const Order& other : case_orders) {
          if (other.order_id() != o.order_id() && other.type() == r.prior_type &&
              other.status() != asb::v1::ORDER_STATUS_PROPOSED && !o.subject_person_id().empty() &&
              other.subject_person_id() == o.subject_person_id() &&
              ToTime(other.issued_at()) <= issued) {
            found = true;
            break;
          }
        }
        if (!found) {
          finding(r, "subject_person_id",
                  absl::StrCat("no ", TypeWords(r.prior_type),
                               " to the same subject is recorded before this ", words));
        }
        break;
      }
      case cfg::StatutoryRule::kInformAgency:
        if (!rc.inform_agency().when_premises_licensed() || o.premises_licensed()) {
          Finding f;
          f.kind = asb::v1::NOTICE_KIND_INFORM;
          f.path = prefix + "premises_licensed";
          f.context = ContextOf(rc, version_);
          f.context.set_due(absl::StrCat(
              "the ", words,
              rc.inform_agency().when_premises_licensed() ? " concerns licensed premises: " : ": ",
              rc.inform_agency().agency(), " must be told"));
          f.message = absl::StrCat(f.path, ": ", f.context.due(), " (", Cite(rc), ")");
          f.recipients = {rc.inform_agency().agency()};
          if (facts.issuing_agency != rc.inform_agency().agency()) {
            f.recipients.push_back(facts.issuing_agency);
          }
          out.push_back(std::move(f));
        }
        break;
      default:
        break;  // deadlines (hearing_within, periodic_review) and min_subject_age (above)
    }
  }

  // A review date by local practice when none was given.
  if (stages.count(cfg::STAGE_ISSUE) != 0 && !o.has_review_at()) {
    if (auto it = c.types.find(o.type()); it != c.types.end() && it->second.default_review) {
      Finding f;
      f.kind = asb::v1::NOTICE_KIND_REVIEW_DATE_DEFAULTED;
      f.path = prefix + "review_at";
      f.context.set_rule_id("default-review");
      f.context.set_section(it->second.default_review_basis);
      f.context.set_rules_version(version_);
      *f.context.mutable_deadline() = ToTimestamp(AddPeriod(issued, *it->second.default_review));
      f.context.set_due(absl::StrCat("no review date was given: the hub set one ",
                                     it->second.default_review->ToString(), " after issue, ",
                                     FormatDay(DayOf(ToTime(f.context.deadline())))));
      f.message = absl::StrCat(f.path, ": ", f.context.due());
      f.recipients = {facts.issuing_agency};
      out.push_back(std::move(f));
    }
  }
  return out;
}

std::vector<Deadline> StatutoryRules::Deadlines(const OrderFacts& facts) const {
  std::vector<Deadline> open;
  const Order& o = *facts.order;
  const Compiled& c = *compiled_;
  if (o.status() == asb::v1::ORDER_STATUS_DISCHARGED ||
      o.status() == asb::v1::ORDER_STATUS_UNSPECIFIED) {
    return open;
  }
  const bool active = o.status() == asb::v1::ORDER_STATUS_ACTIVE;
  const std::string words = TypeWords(o.type());
  const absl::Time issued = ToTime(o.issued_at());
  // Which rules are in force: those of the issue, or for a proposal (not issued yet) those of
  // its latest hearing or consultation.
  absl::Time in_force_at = issued;
  if (!o.has_issued_at()) {
    in_force_at = absl::InfinitePast();
    for (const asb::v1::Hearing& h : o.hearings()) {
      in_force_at = std::max(in_force_at, ToTime(h.listed_for()));
    }
    for (const asb::v1::Consultation& c : o.consultations()) {
      in_force_at = std::max({in_force_at, ToTime(c.requested_at()), ToTime(c.given_at())});
    }
  }
  const std::vector<std::string> to_issuer = {facts.issuing_agency};
  auto info = c.types.find(o.type());

  std::vector<Deadline> items;  // obligations: noticed or not
  auto review_items = [&](const std::string& rule_id, asb::v1::StatutoryContext ctx, absl::Time due,
                          const std::string& what) {
    *ctx.mutable_deadline() = ToTimestamp(due);
    const std::string tail = absl::StrCat(rule_id, "/", Unix(due));
    for (const Period& lead : c.review_leads) {
      Deadline d;
      d.kind = asb::v1::NOTICE_KIND_REVIEW_DUE;
      d.name = absl::StrCat("review_due/", tail, "/", lead.ToString());
      absl::StrReplaceAll({{" ", ""}}, &d.name);
      d.fire_at = SubtractPeriod(due, lead);
      d.context = ctx;
      d.context.set_due(absl::StrCat(what, " is due by ", FormatWhen(due), " (a reminder ",
                                     lead.ToString(), " before)"));
      d.recipients = to_issuer;
      items.push_back(std::move(d));
    }
    Deadline d;
    d.kind = asb::v1::NOTICE_KIND_REVIEW_OVERDUE;
    d.name = absl::StrCat("review_overdue/", tail);
    d.fire_at = due;
    d.context = ctx;
    d.context.set_due(
        absl::StrCat(what, " was due by ", FormatWhen(due), " and no review is recorded"));
    d.recipients = to_issuer;
    items.push_back(std::move(d));
  };

  if (active && o.has_expires_at()) {
    Deadline d;
    d.expiry = true;
    d.name = absl::StrCat("expiry/", Unix(ToTime(o.expires_at())));
    d.fire_at = ToTime(o.expires_at());
    d.context.set_rule_id("order-term");
    d.context.set_section(info != c.types.end() && !info->second.term_section.empty()
                              ? info->second.term_section
                              : "the order's own end date");
    d.context.set_rules_version(version_);
    *d.context.mutable_deadline() = o.expires_at();
    d.context.set_due(absl::StrCat("the ", words, " ends: the hub records it as expired"));
    open.push_back(std::move(d));  // not a notice: never "already noticed"
  }
  if (active && o.has_review_at()) {
    asb::v1::StatutoryContext ctx;
    ctx.set_rule_id("review-date");
    std::string basis = "the review date set for the order (Order.review_at)";
    for (const asb::v1::StatutoryNotice& n : o.notices()) {
      if (n.kind() == asb::v1::NOTICE_KIND_REVIEW_DATE_DEFAULTED &&
          n.context().deadline().seconds() == o.review_at().seconds()) {
        basis = n.context().section();
      }
    }
    ctx.set_section(basis);
    ctx.set_rules_version(version_);
    review_items("review-date", ctx, ToTime(o.review_at()),
                 absl::StrCat("the ", words, "'s review"));
  }
  for (const Compiled::Rule& r : c.rules) {
    if (r.type != o.type() || in_force_at == absl::InfinitePast() ||
        !InForceOn(r, DayOf(in_force_at))) {
      continue;
    }
    const cfg::StatutoryRule& rc = *r.config;
    if (rc.has_periodic_review() && active) {
      // Sentencing Act 2020 s.337: review periods of 12 months from the day the order takes
      // effect, restarted by a variation; a review held in a period satisfies it.
      const absl::Time anchor = o.has_varied_at() ? ToTime(o.varied_at()) : issued;
      absl::Time last_review = absl::InfinitePast();
      for (const asb::v1::Review& rv : o.reviews()) {
        last_review = std::max(last_review, ToTime(rv.held_at()));
      }
      // Periods are contiguous from the anchor; the one after the period of the latest review
      // (or the first, if none was held since the anchor) is the one due.
      absl::Time start = anchor;
      absl::Time end = AddPeriod(start, *r.period);
      if (last_review >= anchor) {
        for (int guard = 0; guard < 200 && last_review >= end; ++guard) {
          start = end;
          end = AddPeriod(start, *r.period);
        }
        start = end;
        end = AddPeriod(start, *r.period);
      }
      const bool runs_to_end = !o.has_expires_at() || ToTime(o.expires_at()) >= end;
      bool applies = runs_to_end;
      if (rc.subject_age() != cfg::SUBJECT_AGE_ANY) {
        if (!facts.subject_dob.has_value()) {
          applies = false;  // Check() raised a notice that it could not be checked
        } else {
          const int age = AgeOn(*facts.subject_dob, DayOf(end));
          applies =
              applies && (rc.subject_age() == cfg::SUBJECT_AGE_UNDER_18 ? age < 18 : age >= 18);
        }
      }
      if (applies) {
        review_items(rc.id(), ContextOf(rc, version_), end,
                     absl::StrCat("the review of the ", words, " for the period from ",
                                  FormatDay(DayOf(start)), " (", rc.section(), ")"));
      }
    }
    if (rc.has_hearing_within() && !HearingHeld(o) &&
        o.status() != asb::v1::ORDER_STATUS_PROPOSED) {
      const absl::Time due =
          PeriodEnd(issued, *r.period, rc.hearing_within().christmas_day_disregarded());
      Deadline d;
      d.kind = asb::v1::NOTICE_KIND_HEARING_OVERDUE;
      d.name = absl::StrCat("hearing_overdue/", rc.id(), "/", Unix(due));
      d.fire_at = due;
      d.context = ContextOf(rc, version_);
      *d.context.mutable_deadline() = ToTimestamp(due);
      d.context.set_due(absl::StrCat("a hearing within ", r.period->ToString(), " of the ", words,
                                     " (served ", FormatWhen(issued), ") was due by ",
                                     FormatWhen(due), " and none is recorded"));
      d.recipients = to_issuer;
      items.push_back(std::move(d));
    }
    if (rc.has_consultation() && c.consultation_warning.has_value() &&
        (active || o.status() == asb::v1::ORDER_STATUS_PROPOSED)) {
      const int stage = active ? cfg::STAGE_VARIATION : cfg::STAGE_ISSUE;
      if (r.stages.count(stage) == 0 ||
          (rc.consultation().except_without_notice() && o.without_notice())) {
        continue;
      }
      for (const asb::v1::Hearing& h : o.hearings()) {
        if (h.has_held_at() || !h.has_listed_for()) {
          continue;
        }
        const absl::Time listed = ToTime(h.listed_for());
        if (rc.subject_age() != cfg::SUBJECT_AGE_ANY) {
          if (!facts.subject_dob.has_value()) {
            continue;
          }
          const int age = AgeOn(*facts.subject_dob, DayOf(listed));
          if ((rc.subject_age() == cfg::SUBJECT_AGE_UNDER_18) != (age < 18)) {
            continue;
          }
        }
        std::vector<std::string> missing =
            MissingConsultees(o, rc.consultation(), absl::InfiniteFuture());
        if (missing.empty()) {
          continue;
        }
        Deadline d;
        d.kind = asb::v1::NOTICE_KIND_CONSULTATION_MISSING;
        d.name =
            absl::StrCat("consultation_missing/", rc.id(), "/", h.hearing_id(), "/", Unix(listed));
        d.fire_at = SubtractPeriod(listed, *c.consultation_warning);
        d.context = ContextOf(rc, version_);
        *d.context.mutable_deadline() = ToTimestamp(listed);
        d.context.set_due(absl::StrCat(
            rc.consultation().response_required() ? "the views of " : "a consultation of ",
            absl::StrJoin(missing, ", "), " must be recorded before the hearing listed for ",
            FormatWhen(listed), " about this ", words));
        d.recipients = to_issuer;
        items.push_back(std::move(d));
      }
    }
  }

  std::set<std::string> noticed, escalated, open_names;
  for (const asb::v1::StatutoryNotice& n : o.notices()) {
    noticed.insert(n.notice_id());
    if (n.kind() == asb::v1::NOTICE_KIND_ESCALATION) {
      escalated.insert(n.escalates());
    }
  }
  // A reminder is done once it, or a later reminder of the same deadline, was noticed (a
  // backfilled order gets only the latest reminder still useful; the earlier ones must not fire
  // after it).
  auto superseded = [&](const Deadline& d) {
    if (d.kind != asb::v1::NOTICE_KIND_REVIEW_DUE) {
      return false;
    }
    for (const Deadline& other : items) {
      if (other.kind == asb::v1::NOTICE_KIND_REVIEW_DUE && other.fire_at > d.fire_at &&
          other.context.deadline().seconds() == d.context.deadline().seconds() &&
          other.context.rule_id() == d.context.rule_id() && noticed.count(other.name) != 0) {
        return true;
      }
    }
    return false;
  };
  for (Deadline& d : items) {
    open_names.insert(d.name);
    if (noticed.count(d.name) == 0 && !superseded(d)) {
      open.push_back(std::move(d));
    }
  }
  if (c.escalate_after.has_value() && !c.escalation_agency.empty()) {
    for (const asb::v1::StatutoryNotice& n : o.notices()) {
      const bool overdue = n.kind() == asb::v1::NOTICE_KIND_REVIEW_OVERDUE ||
                           n.kind() == asb::v1::NOTICE_KIND_HEARING_OVERDUE ||
                           n.kind() == asb::v1::NOTICE_KIND_CONSULTATION_MISSING;
      if (!overdue || open_names.count(n.notice_id()) == 0 || escalated.count(n.notice_id()) != 0) {
        continue;
      }
      Deadline d;
      d.kind = asb::v1::NOTICE_KIND_ESCALATION;
      d.name = absl::StrCat("escalation/", n.notice_id());
      d.fire_at = AddPeriod(ToTime(n.context().deadline()), *c.escalate_after);
      d.context = n.context();
      d.context.set_due(absl::StrCat("still open ", c.escalate_after->ToString(),
                                     " after its deadline: ", n.context().due()));
      d.recipients = {c.escalation_agency};
      d.escalates = n.notice_id();
      if (noticed.count(d.name) == 0) {
        open.push_back(std::move(d));
      }
    }
  }
  return open;
}

}  // namespace asb::orders
