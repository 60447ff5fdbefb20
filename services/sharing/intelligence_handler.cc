#include "services/sharing/intelligence_handler.h"

#include <algorithm>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "asb/v1/audit.pb.h"
#include "common/auth/on_behalf_of.h"
#include "common/model/model.h"
#include "common/status/macros.h"
#include "google/protobuf/timestamp.pb.h"
#include "services/sharing/hotspots.h"

namespace asb::sharing {
namespace {

using ::asb::model::ToTimestamp;

constexpr char kComponent[] = "sharing";
constexpr uint32_t kDefaultSuppressBelow = 5;
constexpr uint32_t kMaxBaselineMonths = 36;
constexpr int kMaxPeriodMonths = 37;

const char* LevelName(asb::v1::AreaLevel level) {
  switch (level) {
    case asb::v1::AREA_LEVEL_WARD:
      return "ward";
    case asb::v1::AREA_LEVEL_DISTRICT:
      return "district";
    default:
      return "lsoa";
  }
}

asb::v1::Cell MakeCell(uint64_t n, uint32_t k) {
  asb::v1::Cell c;
  if (n > 0 && n < k) {
    c.set_suppressed(true);
  } else {
    c.set_count(n);
  }
  return c;
}

// A histogram of days (first actions, case review decisions), read from the aggregates.
struct DayHistogram {
  std::vector<std::pair<uint32_t, uint64_t>> days;  // ascending days, with their counts
  uint64_t total = 0;
  long double sum = 0;

  std::function<void(uint32_t, uint64_t)> Adder() {
    return [this](uint32_t d, uint64_t n) {
      days.emplace_back(d, n);
      total += n;
      sum += static_cast<long double>(d) * n;
    };
  }
  // The median (the mean of the two middle values for an even count). REQUIRES: total > 0.
  double Median() const {
    auto nth = [&](uint64_t idx) {
      uint64_t seen = 0;
      for (const auto& [d, n] : days) {
        seen += n;
        if (idx < seen) {
          return static_cast<double>(d);
        }
      }
      return static_cast<double>(days.back().first);
    };
    return total % 2 == 1 ? nth(total / 2) : (nth(total / 2 - 1) + nth(total / 2)) / 2;
  }
  double Mean() const { return static_cast<double>(sum / total); }
};

absl::Status CheckMonth(const std::string& field, const std::string& month) {
  int y = 0, m = 0;
  if (month.empty()) {
    return absl::InvalidArgumentError(field + ": required (YYYY-MM)");
  }
  if (!ParseMonth(month, &y, &m)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": '", month, "' is not a month (YYYY-MM, e.g. 2018-10)"));
  }
  return absl::OkStatus();
}

int MonthsBetween(const std::string& a, const std::string& b) {
  int ya = 0, ma = 0, yb = 0, mb = 0;
  ParseMonth(a, &ya, &ma);
  ParseMonth(b, &yb, &mb);
  return (yb * 12 + mb) - (ya * 12 + ma);
}

// Ranks areas by count (descending, then area) from 1; areas with 0 are not ranked.
absl::flat_hash_map<std::string, uint32_t> Ranks(
    const absl::flat_hash_map<std::string, uint64_t>& counts) {
  std::vector<std::pair<std::string, uint64_t>> v(counts.begin(), counts.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  absl::flat_hash_map<std::string, uint32_t> out;
  uint32_t r = 0;
  for (const auto& [area, n] : v) {
    if (n > 0) {
      out[area] = ++r;
    }
  }
  return out;
}

}  // namespace

IntelligenceHandler::IntelligenceHandler(const Aggregates* aggregates, stream::Log* audit,
                                         std::function<absl::Time()> clock)
    : aggregates_(aggregates), audit_(audit), clock_(std::move(clock)) {}

uint32_t IntelligenceHandler::SuppressBelow(const policy::Policy& policy) const {
  const uint32_t k = policy.isp().aggregates().suppress_below();
  return k == 0 ? kDefaultSuppressBelow : k;
}

std::string IntelligenceHandler::NameOf(asb::v1::AreaLevel level, const std::string& area) const {
  if (area.empty()) {
    return "(not recorded)";
  }
  if (level == asb::v1::AREA_LEVEL_LSOA) {
    std::string name = aggregates_->LsoaName(area);
    if (!name.empty()) {
      return name;
    }
  }
  return area;
}

void IntelligenceHandler::Record(asb::v1::AuditKind kind, const std::string& principal,
                                 const std::string& agency, const asb::v1::OnBehalfOf& on_behalf_of,
                                 const std::string& detail, const policy::Policy& policy,
                                 store::Batch* batch) {
  google::protobuf::Timestamp now;
  ToTimestamp(clock_(), &now);
  asb::v1::Envelope envelope;
  *envelope.mutable_produced_at() = now;
  asb::v1::AuditRecord* r = envelope.mutable_audit();
  r->set_kind(kind);
  *r->mutable_at() = now;
  r->set_component(kComponent);
  r->set_actor(principal);
  r->set_actor_agency(agency);
  r->set_recipient_agency(agency);
  r->set_isp_version(policy.version());
  r->set_detail(detail);
  *r->mutable_on_behalf_of() = auth::Bounded(on_behalf_of);
  if (kind == asb::v1::AUDIT_KIND_CONSULTATION) {
    asb::v1::Justification* j = r->add_justifications();
    j->set_rule_id("aggregates");
    j->set_purpose(policy.isp().aggregates().purpose());
    j->set_lawful_basis(policy.isp().aggregates().lawful_basis());
  }
  audit_->Append(batch, &envelope);
}

absl::Status IntelligenceHandler::Admit(const std::string& principal, const std::string& agency,
                                        const asb::v1::OnBehalfOf& on_behalf_of,
                                        const std::string& what, const policy::Policy& policy,
                                        store::Batch* batch) {
  // The one check of every request that reads case data (here: figures drawn from it).
  if (absl::Status checked = auth::CheckOnBehalfOf(on_behalf_of, policy.isp()); !checked.ok()) {
    Record(asb::v1::AUDIT_KIND_ACCESS_REFUSED, principal, agency, on_behalf_of,
           absl::StrCat(what, " refused: ", checked.message()), policy, batch);
    return checked;
  }
  const asb::config::v1::Isp& isp = policy.isp();
  bool allowed = false;
  if (isp.has_aggregates()) {
    for (const std::string& a : isp.aggregates().agencies()) {
      allowed |= a == "*" || a == agency;
    }
  }
  if (!allowed) {
    Record(asb::v1::AUDIT_KIND_ACCESS_REFUSED, principal, agency, on_behalf_of,
           absl::StrCat(what, ": the ISP's aggregates block does not name this agency"), policy,
           batch);
    return absl::PermissionDeniedError(absl::StrCat(
        "agency '", agency,
        "' may not ask for depersonalised aggregates: the ISP's aggregates block does not name "
        "it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<asb::v1::HotspotsResponse> IntelligenceHandler::Hotspots(
    const std::string& principal, const std::string& agency,
    const asb::v1::HotspotsRequest& request, store::Batch* batch) {
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy, policy::InForce(policy_));
  ASB_RETURN_IF_ERROR(CheckMonth("month", request.month()));
  if (!ValidQueryCategory(request.category())) {
    return absl::InvalidArgumentError(
        absl::StrCat("category: '", request.category(),
                     "' is not one of asb, personal, nuisance, environmental, not-known, crime, "
                     "crime:<police.uk crime type>, all"));
  }
  if (request.top() > 1000) {
    return absl::InvalidArgumentError("top: at most 1000");
  }
  if (request.baseline_months() > kMaxBaselineMonths) {
    return absl::InvalidArgumentError("baseline_months: at most 36");
  }
  if (request.fdr() < 0 || request.fdr() > 0.5) {
    return absl::InvalidArgumentError("fdr: must be in (0, 0.5]");
  }
  const asb::v1::AreaLevel level =
      request.by() == asb::v1::AREA_LEVEL_UNSPECIFIED ? asb::v1::AREA_LEVEL_LSOA : request.by();
  const std::string category = request.category().empty() ? "asb" : request.category();
  const uint32_t b_asked = request.baseline_months() == 0 ? 6 : request.baseline_months();
  const double fdr = request.fdr() == 0 ? 0.05 : request.fdr();
  const uint32_t top = request.top() == 0 ? 10 : request.top();
  const std::string detail =
      absl::StrCat("Hotspots ", request.month(), " by ", LevelName(level), ", category ", category,
                   ": depersonalised counts (CDA 1998 s.17A), no case data");
  ASB_RETURN_IF_ERROR(Admit(principal, agency, request.on_behalf_of(), "Hotspots", *policy, batch));
  const uint32_t k = SuppressBelow(*policy);

  asb::v1::HotspotsResponse out;
  out.set_month(request.month());
  out.set_by(level);
  out.set_category(category);
  out.set_baseline_months(b_asked);
  out.set_fdr(fdr);
  out.set_rule(kHotspotRule);
  out.set_suppress_below(k);
  out.set_isp_version(policy->version());

  // x per area in the month; s per area over the baseline months that have data.
  absl::flat_hash_map<std::string, uint64_t> x, s;
  auto sum_into = [&](const std::string& month, absl::flat_hash_map<std::string, uint64_t>* into) {
    return aggregates_->ForEachIncident(level, month, [&](const Aggregates::IncidentCount& c) {
      if (CategoryMatches(c.category, category)) {
        (*into)[c.area] += c.count;
      }
    });
  };
  ASB_RETURN_IF_ERROR(sum_into(request.month(), &x));
  uint32_t b = 0;
  for (int i = static_cast<int>(b_asked); i >= 1; --i) {
    const std::string m = AddMonths(request.month(), -i);
    ASB_ASSIGN_OR_RETURN(bool has, aggregates_->HasIncidents(m));
    if (has) {
      ++b;
      out.add_baseline_months_with_data(m);
      ASB_RETURN_IF_ERROR(sum_into(m, &s));
    }
  }

  struct Row {
    std::string area;
    uint64_t x = 0, s = 0;
    double p = 1, q = 1;
  };
  std::vector<Row> rows;
  uint64_t total = 0;
  for (const auto& [area, n] : x) {
    if (n > 0) {
      rows.push_back(Row{area, n, 0});
      total += n;
    }
  }
  for (const auto& [area, n] : s) {
    if (n == 0) {
      continue;
    }
    auto it = x.find(area);
    if (it == x.end() || it->second == 0) {
      rows.push_back(Row{area, 0, n});
    }
  }
  for (Row& r : rows) {
    if (auto it = s.find(r.area); it != s.end()) {
      r.s = it->second;
    }
    r.p = RateIncreasePValue(r.x, r.s, b);
  }
  std::vector<double> ps;
  ps.reserve(rows.size());
  for (const Row& r : rows) {
    ps.push_back(r.p);
  }
  const std::vector<double> qs = BenjaminiHochberg(ps);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    rows[i].q = qs[i];
  }
  auto emerging = [&](const Row& r) {
    return b > 0 && r.q <= fdr && static_cast<double>(r.x) > static_cast<double>(r.s) / b;
  };
  uint32_t n_emerging = 0, n_suppressed = 0;
  std::vector<const Row*> listed;
  for (const Row& r : rows) {
    n_emerging += emerging(r) ? 1 : 0;
    if (r.x == 0) {
      continue;
    }
    if (r.x < k) {
      ++n_suppressed;
      continue;
    }
    listed.push_back(&r);
  }
  std::sort(listed.begin(), listed.end(), [&](const Row* a, const Row* c) {
    const bool ea = emerging(*a), ec = emerging(*c);
    if (ea != ec) {
      return ea;
    }
    if (ea && a->q != c->q) {
      return a->q < c->q;
    }
    if (a->x != c->x) {
      return a->x > c->x;
    }
    return a->area < c->area;
  });
  out.set_areas_tested(static_cast<uint32_t>(rows.size()));
  out.set_areas_suppressed(n_suppressed);
  out.set_areas_emerging(n_emerging);
  out.set_total(total > 0 && total < k ? 0 : total);
  uint32_t rank = 0;
  for (const Row* r : listed) {
    if (rank >= top) {
      break;
    }
    asb::v1::HotspotArea* a = out.add_areas();
    a->set_rank(++rank);
    a->set_area(r->area);
    a->set_name(NameOf(level, r->area));
    a->set_count(r->x);
    a->set_baseline_months(b);
    a->set_no_baseline(b == 0);
    a->set_emerging(emerging(*r));
    if (r->s > 0 && r->s < k) {
      a->set_baseline_suppressed(true);
      a->set_p_value(PValueBand(r->p));
      a->set_q_value(PValueBand(r->q));
    } else {
      a->set_baseline_total(r->s);
      a->set_expected(b > 0 ? static_cast<double>(r->s) / b : 0);
      a->set_p_value(r->p);
      a->set_q_value(r->q);
    }
  }

  Record(asb::v1::AUDIT_KIND_CONSULTATION, principal, agency, request.on_behalf_of(), detail,
         *policy, batch);
  ++consultations_;
  return out;
}

absl::StatusOr<asb::v1::IndicatorsResponse> IntelligenceHandler::Indicators(
    const std::string& principal, const std::string& agency,
    const asb::v1::IndicatorsRequest& request, store::Batch* batch) {
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy, policy::InForce(policy_));
  ASB_RETURN_IF_ERROR(CheckMonth("from_month", request.from_month()));
  ASB_RETURN_IF_ERROR(CheckMonth("to_month", request.to_month()));
  const int span = MonthsBetween(request.from_month(), request.to_month());
  if (span < 0) {
    return absl::InvalidArgumentError("to_month: before from_month");
  }
  if (span >= kMaxPeriodMonths) {
    return absl::InvalidArgumentError("to_month: at most 36 months after from_month");
  }
  if (request.top() > 100) {
    return absl::InvalidArgumentError("top: at most 100");
  }
  const asb::v1::AreaLevel level =
      request.by() == asb::v1::AREA_LEVEL_UNSPECIFIED ? asb::v1::AREA_LEVEL_DISTRICT : request.by();
  const uint32_t top = request.top() == 0 ? 10 : request.top();
  ASB_RETURN_IF_ERROR(
      Admit(principal, agency, request.on_behalf_of(), "Indicators", *policy, batch));
  const uint32_t k = SuppressBelow(*policy);

  asb::v1::IndicatorsResponse out;
  out.set_from_month(request.from_month());
  out.set_to_month(request.to_month());
  out.set_by(level);
  out.set_suppress_below(k);
  out.set_isp_version(policy->version());
  const int n_months = span + 1;
  std::vector<std::string> months;
  for (int i = 0; i < n_months; ++i) {
    months.push_back(AddMonths(request.from_month(), i));
    out.add_months(months.back());
  }

  // Cases open at each month's end: every month the hub holds counts, up to the last.
  std::map<std::string, int64_t> open_at_end;
  {
    int64_t open = 0;
    ASB_RETURN_IF_ERROR(aggregates_->ForEachCaseMonth(
        request.to_month(), [&](std::string_view m, uint64_t opened, uint64_t closed) {
          open += static_cast<int64_t>(opened) - static_cast<int64_t>(closed);
          open_at_end[std::string(m)] = open;
        }));
  }
  auto open_at = [&](const std::string& m) -> uint64_t {
    auto it = open_at_end.upper_bound(m);
    if (it == open_at_end.begin()) {
      return 0;
    }
    --it;
    return static_cast<uint64_t>(std::max<int64_t>(0, it->second));
  };

  // Per area ASB totals: the period, each month, and the period before it.
  absl::flat_hash_map<std::string, uint64_t> period_total;
  std::vector<absl::flat_hash_map<std::string, uint64_t>> month_area(n_months);
  absl::flat_hash_map<std::string, uint64_t> previous_total;
  bool previous_has_data = false;
  for (int i = 1; i <= n_months; ++i) {
    const std::string m = AddMonths(request.from_month(), -i);
    ASB_ASSIGN_OR_RETURN(bool has, aggregates_->HasIncidents(m));
    previous_has_data |= has;
    ASB_RETURN_IF_ERROR(
        aggregates_->ForEachIncident(level, m, [&](const Aggregates::IncidentCount& c) {
          if (IsAsbCategory(c.category)) {
            previous_total[c.area] += c.count;
          }
        }));
  }
  // Snap points over the period: (lsoa, location) → (incidents, months).
  std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint32_t>> places;

  for (int i = 0; i < n_months; ++i) {
    const std::string& m = months[i];
    asb::v1::MonthIndicators* mi = out.add_by_month();
    mi->set_month(m);
    // Incidents by category and area.
    std::map<std::pair<std::string, std::string>, uint64_t> cells;
    uint64_t asb = 0, crimes = 0;
    ASB_RETURN_IF_ERROR(
        aggregates_->ForEachIncident(level, m, [&](const Aggregates::IncidentCount& c) {
          cells[{c.category, c.area}] += c.count;
          if (IsAsbCategory(c.category)) {
            asb += c.count;
            month_area[i][c.area] += c.count;
            period_total[c.area] += c.count;
          } else {
            crimes += c.count;
          }
        }));
    for (const auto& [key, n] : cells) {
      asb::v1::IncidentCell* cell = out.add_incidents();
      cell->set_month(m);
      cell->set_category(key.first);
      cell->set_area(key.second);
      cell->set_name(NameOf(level, key.second));
      *cell->mutable_incidents() = MakeCell(n, k);
    }
    *mi->mutable_asb_incidents() = MakeCell(asb, k);
    *mi->mutable_crimes() = MakeCell(crimes, k);
    // Repeat locations.
    uint64_t repeat = 0, at_repeat = 0;
    ASB_RETURN_IF_ERROR(aggregates_->ForEachLocation(
        m, [&](std::string_view lsoa, std::string_view location, uint64_t n) {
          if (n >= 2) {
            ++repeat;
            at_repeat += n;
          }
          auto& p = places[{std::string(lsoa), std::string(location)}];
          p.first += n;
          p.second += 1;
        }));
    mi->set_repeat_locations(repeat);
    *mi->mutable_incidents_at_repeat_locations() = MakeCell(at_repeat, k);
    // Orders.
    std::map<std::string, asb::v1::OrderCell> orders;
    std::map<std::string, std::map<std::string, uint64_t>> order_counts;
    ASB_RETURN_IF_ERROR(
        aggregates_->ForEachOrder(m, [&](std::string_view type, std::string_view what, uint64_t n) {
          order_counts[std::string(type)][std::string(what)] = n;
        }));
    for (auto& [type, by_what] : order_counts) {
      asb::v1::OrderCell* o = out.add_orders();
      o->set_month(m);
      o->set_order_type(type);
      *o->mutable_issued() = MakeCell(by_what["issued"], k);
      *o->mutable_breached() = MakeCell(by_what["breached"], k);
      *o->mutable_expired() = MakeCell(by_what["expired"], k);
      *o->mutable_discharged() = MakeCell(by_what["discharged"], k);
    }
    // Cases.
    ASB_ASSIGN_OR_RETURN(auto cases, aggregates_->CaseCounts(m));
    *mi->mutable_cases_opened() = MakeCell(cases["opened"], k);
    *mi->mutable_cases_closed() = MakeCell(cases["closed"], k);
    *mi->mutable_cases_open_at_end() = MakeCell(open_at(m), k);
    mi->set_intelligence_pictures(cases["intel-opened"]);
    // ASB case reviews, from the case review state as each event left it (aggregates "r").
    ASB_ASSIGN_OR_RETURN(auto reviews, aggregates_->CaseReviewCounts(m));
    *mi->mutable_case_reviews() = MakeCell(reviews["applied"], k);
    *mi->mutable_case_review_decisions() = MakeCell(reviews["decided"], k);
    *mi->mutable_case_review_thresholds_met() = MakeCell(reviews["met"], k);
    *mi->mutable_case_review_decisions_late() = MakeCell(reviews["late"], k);
    *mi->mutable_case_reviews_completed() = MakeCell(reviews["completed"], k);
    *mi->mutable_case_review_appeals() = MakeCell(reviews["appealed"], k);
    DayHistogram decisions;
    ASB_RETURN_IF_ERROR(aggregates_->ForEachCaseReviewDecision(m, decisions.Adder()));
    if (decisions.total >= k && decisions.total > 0) {
      mi->set_case_review_decision_median_days(decisions.Median());
      mi->set_case_review_decision_mean_days(decisions.Mean());
    }
    // Time from first incident to first action.
    DayHistogram actions;
    ASB_RETURN_IF_ERROR(aggregates_->ForEachFirstAction(m, actions.Adder()));
    *mi->mutable_first_actions() = MakeCell(actions.total, k);
    if (actions.total >= k && actions.total > 0) {
      mi->set_first_action_median_days(actions.Median());
      mi->set_first_action_mean_days(actions.Mean());
    }
  }

  // Top areas of the period and how they moved.
  const auto ranks_first = Ranks(month_area.front());
  const auto ranks_last = Ranks(month_area.back());
  const auto ranks_previous =
      previous_has_data ? Ranks(previous_total) : absl::flat_hash_map<std::string, uint32_t>();
  const auto ranks_period = Ranks(period_total);
  std::vector<std::pair<uint32_t, std::string>> ranked;
  for (const auto& [area, r] : ranks_period) {
    ranked.emplace_back(r, area);
  }
  std::sort(ranked.begin(), ranked.end());
  for (const auto& [r, area] : ranked) {
    if (r > top) {
      break;
    }
    asb::v1::TopArea* t = out.add_top_areas();
    t->set_rank(r);
    t->set_area(area);
    t->set_name(NameOf(level, area));
    *t->mutable_total() = MakeCell(period_total[area], k);
    for (int i = 0; i < n_months; ++i) {
      auto it = month_area[i].find(area);
      *t->add_by_month() = MakeCell(it == month_area[i].end() ? 0 : it->second, k);
    }
    auto rank_in = [&](const absl::flat_hash_map<std::string, uint32_t>& ranks) -> uint32_t {
      auto it = ranks.find(area);
      return it == ranks.end() ? 0 : it->second;
    };
    t->set_first_month_rank(rank_in(ranks_first));
    t->set_last_month_rank(rank_in(ranks_last));
    t->set_previous_period_rank(rank_in(ranks_previous));
  }

  // Repeat locations of the period: the most incidents first.
  std::vector<std::pair<std::pair<std::string, std::string>, std::pair<uint64_t, uint32_t>>>
      repeated;
  for (const auto& [key, v] : places) {
    if (v.first >= 2) {
      repeated.emplace_back(key, v);
    }
  }
  std::sort(repeated.begin(), repeated.end(), [](const auto& a, const auto& b) {
    return a.second.first != b.second.first ? a.second.first > b.second.first : a.first < b.first;
  });
  for (std::size_t i = 0; i < repeated.size() && i < top; ++i) {
    const auto& [key, v] = repeated[i];
    if (v.first < k) {
      break;  // sorted: the rest are smaller still
    }
    asb::v1::RepeatLocation* r = out.add_repeat_locations();
    r->set_lsoa(key.first);
    r->set_lsoa_name(aggregates_->LsoaName(key.first));
    r->set_location(key.second);
    *r->mutable_incidents() = MakeCell(v.first, k);
    r->set_months(v.second);
  }

  Record(asb::v1::AUDIT_KIND_CONSULTATION, principal, agency, request.on_behalf_of(),
         absl::StrCat("Indicators ", request.from_month(), " to ", request.to_month(), " by ",
                      LevelName(level), ": depersonalised counts (CDA 1998 s.17A), no case data"),
         *policy, batch);
  ++consultations_;
  return out;
}

}  // namespace asb::sharing
