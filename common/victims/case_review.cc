#include "common/victims/case_review.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/config/violations.h"

namespace asb::victims {
namespace {

namespace cfg = ::asb::config::v1;

void CheckDays(const std::string& path, uint32_t days, config::Violations* v) {
  if (days < 1 || days > 365) {
    v->Add(path, "required: 1 to 365 days (the procedure's response time)");
  }
}

// Union-find over complaint indexes.
struct Groups {
  explicit Groups(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  std::size_t Find(std::size_t i) {
    while (parent[i] != i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  }
  void Join(std::size_t a, std::size_t b) { parent[Find(a)] = Find(b); }
  std::vector<std::size_t> parent;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const CaseReviewProcedure>> CaseReviewProcedure::LoadFile(
    const std::string& path, const std::vector<std::string>& agencies) {
  cfg::CaseReviewProcedure c;
  config::SourceMap lines;
  if (absl::Status s = config::LoadConfigFile(path, &c, &lines); !s.ok()) {
    return s;
  }
  return FromConfig(c, path, &lines, agencies);
}

absl::StatusOr<std::shared_ptr<const CaseReviewProcedure>> CaseReviewProcedure::FromConfig(
    const cfg::CaseReviewProcedure& config, const std::string& file, const config::SourceMap* lines,
    const std::vector<std::string>& agencies) {
  std::shared_ptr<CaseReviewProcedure> p(new CaseReviewProcedure());
  p->config_ = config;
  config::Violations v(file, lines);
  v.Required("version", config.version());
  if (config.complaint_threshold() < 1 || config.complaint_threshold() > 3) {
    v.Add("complaint_threshold",
          "1 to 3: s.104(4) ASBCPA 2014 makes at least three qualifying complaints meet the "
          "threshold (the procedure may set fewer, never more)");
  }
  if (config.window_months() < 1 || config.window_months() > 6) {
    v.Add("window_months",
          "1 to 6: s.104(11)(b) counts a complaint for an application made within six months of "
          "it");
  }
  if (config.qualifying_months() != 1) {
    v.Add("qualifying_months",
          "must be 1: s.104(11)(a) makes a complaint qualifying if made within one month of the "
          "behaviour");
  }
  if (config.advisory_at() != 0 && config.advisory_at() >= config.complaint_threshold()) {
    v.Add("advisory_at",
          "below complaint_threshold (the advisory comes before the threshold), or 0");
  }
  if (config.individuals_threshold() > 100) {
    v.Add("individuals_threshold", "at most 100 (0: not used)");
  }
  if (config.same_incident_minutes() > 7 * 24 * 60) {
    v.Add("same_incident_minutes", "at most 10080 (a week)");
  }
  const std::set<std::string> known(agencies.begin(), agencies.end());
  for (int i = 0; i < config.alert_agencies_size(); ++i) {
    if (!agencies.empty() && known.count(config.alert_agencies(i)) == 0) {
      v.Add(absl::StrCat("alert_agencies[", i, "]"),
            absl::StrCat("unknown agency '", config.alert_agencies(i), "' (not in the ISP)"));
    }
  }
  CheckDays("decision_days", config.decision_days(), &v);
  CheckDays("review_days", config.review_days(), &v);
  CheckDays("appeal_days", config.appeal_days(), &v);
  const std::string zone = config.time_zone().empty() ? "Europe/London" : config.time_zone();
  if (!absl::LoadTimeZone(zone, &p->zone_)) {
    v.Add("time_zone", absl::StrCat("unknown time zone '", zone, "' (an IANA name)"));
  }
  if (!v.empty()) {
    return v.ToStatus("ASB case review procedure");
  }
  if (p->config_.appeal_body().empty()) {
    p->config_.set_appeal_body("pcc");
  }
  return std::shared_ptr<const CaseReviewProcedure>(std::move(p));
}

absl::CivilDay CaseReviewProcedure::DayOf(absl::Time t) const { return absl::ToCivilDay(t, zone_); }

absl::CivilDay CaseReviewProcedure::AddMonths(absl::CivilDay day, int months) const {
  const absl::CivilMonth m = absl::CivilMonth(day) + months;
  const absl::CivilDay first(m);
  const int last = static_cast<int>(absl::CivilDay(m + 1) - first);
  return first + (std::min(day.day(), last) - 1);
}

absl::Time CaseReviewProcedure::StartOf(absl::CivilDay day) const {
  return absl::FromCivil(day, zone_);
}

bool CaseReviewProcedure::Qualifies(const Complaint& c) const {
  const absl::Time behaviour = std::min(c.occurred_at, c.reported_at);
  // "the period of one month beginning with the date on which the behaviour occurred": that
  // date up to the day before the same date a month later.
  return DayOf(c.reported_at) <
         AddMonths(DayOf(behaviour), static_cast<int>(config_.qualifying_months()));
}

bool CaseReviewProcedure::InWindow(absl::Time reported_at, absl::Time at) const {
  return InWindow(reported_at, at, DayOf(at));
}

bool CaseReviewProcedure::InWindow(absl::Time reported_at, absl::Time at,
                                   absl::CivilDay at_day) const {
  if (reported_at > at) {
    return false;
  }
  return at_day < AddMonths(DayOf(reported_at), static_cast<int>(config_.window_months()));
}

absl::Time CaseReviewProcedure::ForgetBefore(absl::Time at) const {
  // The earliest report date still in the window at `at`: the day after `at`'s date less the
  // window (months), and a margin of a month for late-arriving backfill.
  return StartOf(AddMonths(DayOf(at), -static_cast<int>(config_.window_months()) - 1));
}

Count CaseReviewProcedure::CountAt(const std::vector<Complaint>& complaints, absl::Time at) const {
  std::vector<const Complaint*> in;
  const absl::CivilDay at_day = DayOf(at);
  for (const Complaint& c : complaints) {
    if (InWindow(c.reported_at, at, at_day) && Qualifies(c)) {
      in.push_back(&c);
    }
  }
  std::sort(in.begin(), in.end(), [](const Complaint* a, const Complaint* b) {
    if (a->reported_at != b->reported_at) {
      return a->reported_at < b->reported_at;
    }
    return a->incident_id < b->incident_id;
  });
  // Two complaints are of one incident if they share its id, one names the other's id
  // (same_incident_as), or two agencies received them about behaviour of the same category within
  // same_incident_minutes of each other; the incidents are the groups this relation joins. Found
  // by an index of ids and, per category, a scan of the complaints close in time — not by
  // comparing every pair, so a case's long history costs each count little (issue 18).
  Groups groups(in.size());
  absl::flat_hash_map<absl::string_view, std::size_t> by_id;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (auto [it, added] = by_id.try_emplace(in[i]->incident_id, i); !added) {
      groups.Join(i, it->second);
    }
  }
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (const std::string& other = in[i]->same_incident_as; !other.empty()) {
      if (auto it = by_id.find(other); it != by_id.end()) {
        groups.Join(i, it->second);
      }
    }
  }
  if (config_.same_incident_minutes() != 0) {
    const absl::Duration same = absl::Minutes(config_.same_incident_minutes());
    std::vector<std::size_t> order(in.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::pair(in[a]->category, in[a]->occurred_at) <
             std::pair(in[b]->category, in[b]->occurred_at);
    });
    for (std::size_t x = 0; x < order.size(); ++x) {
      const Complaint& a = *in[order[x]];
      for (std::size_t y = x + 1; y < order.size(); ++y) {
        const Complaint& b = *in[order[y]];
        if (b.category != a.category || b.occurred_at - a.occurred_at > same) {
          break;
        }
        if (a.reported_by != b.reported_by) {
          groups.Join(order[x], order[y]);
        }
      }
    }
  }
  Count out;
  std::vector<bool> seen(in.size());  // by a group's root
  absl::flat_hash_set<absl::string_view> individuals;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (const std::size_t g = groups.Find(i); !seen[g]) {
      seen[g] = true;
      out.incident_ids.push_back(in[i]->incident_id);
    }
    if (!in[i]->reporter_person_id.empty()) {
      individuals.insert(in[i]->reporter_person_id);
    }
  }
  out.complaints = static_cast<uint32_t>(out.incident_ids.size());
  out.individuals = static_cast<uint32_t>(individuals.size());
  out.window_start = StartOf(AddMonths(DayOf(at), -static_cast<int>(config_.window_months())) + 1);
  return out;
}

bool CaseReviewProcedure::ThresholdMet(const Count& count) const {
  if (count.complaints >= config_.complaint_threshold()) {
    return true;
  }
  return config_.individuals_threshold() != 0 &&
         count.individuals >= config_.individuals_threshold();
}

bool CaseReviewProcedure::AdvisoryDue(const Count& count) const {
  return config_.advisory_at() != 0 && count.complaints >= config_.advisory_at();
}

std::string CaseReviewProcedure::ThresholdWords(const Count& count) const {
  if (count.complaints >= config_.complaint_threshold()) {
    return absl::StrCat(count.complaints, " related qualifying complaints in ",
                        config_.window_months(), " months (the threshold is ",
                        config_.complaint_threshold(), ", ", kSectionThreshold, ")");
  }
  return absl::StrCat(count.individuals, " separate individuals reported related incidents in ",
                      config_.window_months(), " months (the procedure's threshold is ",
                      config_.individuals_threshold(), ", ", kSectionIndividuals, ")");
}

absl::Time CaseReviewProcedure::DecisionDue(absl::Time applied_at) const {
  return applied_at + absl::Hours(24) * config_.decision_days();
}
absl::Time CaseReviewProcedure::ReviewDue(absl::Time decided_at) const {
  return decided_at + absl::Hours(24) * config_.review_days();
}
absl::Time CaseReviewProcedure::AppealDue(absl::Time appealed_at) const {
  return appealed_at + absl::Hours(24) * config_.appeal_days();
}

std::string When(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

std::string CaseReviewKindWord(asb::v1::CaseReviewNoticeKind kind) {
  const std::string& name = asb::v1::CaseReviewNoticeKind_Name(kind);
  absl::string_view word = name;
  absl::ConsumePrefix(&word, "CASE_REVIEW_NOTICE_KIND_");
  return absl::AsciiStrToLower(word);
}

const std::string& ApplicationIdOf(const asb::v1::CaseEvent& e) {
  static const std::string kNone;
  switch (e.event_case()) {
    case asb::v1::CaseEvent::kCaseReviewApplied:
      return e.case_review_applied().application_id();
    case asb::v1::CaseEvent::kCaseReviewDecided:
      return e.case_review_decided().application_id();
    case asb::v1::CaseEvent::kCaseReviewCompleted:
      return e.case_review_completed().application_id();
    case asb::v1::CaseEvent::kCaseReviewAppealed:
      return e.case_review_appealed().application_id();
    case asb::v1::CaseEvent::kCaseReviewAppealDecided:
      return e.case_review_appeal_decided().application_id();
    default:
      return kNone;
  }
}

std::string CaseReviewRuleId(asb::v1::CaseReviewNoticeKind kind) {
  return absl::StrCat("casereview:", CaseReviewKindWord(kind));
}

}  // namespace asb::victims
