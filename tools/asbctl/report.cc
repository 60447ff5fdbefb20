#include "tools/asbctl/report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace asb::ctl {
namespace {

std::string Csv(absl::string_view s) {
  if (s.find_first_of(",\"\n\r") == absl::string_view::npos) {
    return std::string(s);
  }
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') {
      out.push_back('"');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string Html(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string CellText(const asb::v1::Cell& c, absl::string_view suppressed = "suppressed") {
  return c.suppressed() ? std::string(suppressed) : absl::StrCat(c.count());
}

double CellValue(const asb::v1::Cell& c) {
  return c.suppressed() ? 0 : static_cast<double>(c.count());
}

std::string P(double p) {
  if (p < 0.0001) {
    return absl::StrFormat("%.1e", p);
  }
  return absl::StrFormat("%.4f", p);
}

const char* kPalette[] = {"#1b6ca8", "#d1495b", "#edae49", "#00798c", "#30638e",
                          "#66a182", "#8d6a9f", "#c44536", "#2e4057", "#6c757d"};

// A "nice" axis maximum at or above v.
double NiceMax(double v) {
  if (v <= 0) {
    return 1;
  }
  const double mag = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (m * mag >= v) {
      return m * mag;
    }
  }
  return 10 * mag;
}

std::string FormatNumber(double v) {
  return std::fabs(v - std::round(v)) < 1e-9 ? absl::StrCat(static_cast<int64_t>(std::round(v)))
                                             : absl::StrFormat("%.1f", v);
}

struct Series {
  std::string name;
  std::vector<double> values;
};

// A line chart over `x` (month labels). data-chart names it for tests and readers.
std::string LineChart(const std::string& id, const std::string& title,
                      const std::vector<std::string>& x, const std::vector<Series>& series) {
  const double w = 720, h = 300, left = 60, right = 160, top = 30, bottom = 50;
  double max = 0;
  for (const Series& s : series) {
    for (double v : s.values) {
      max = std::max(max, v);
    }
  }
  max = NiceMax(max);
  const double pw = w - left - right, ph = h - top - bottom;
  auto px = [&](std::size_t i) {
    return x.size() <= 1 ? left + pw / 2 : left + pw * static_cast<double>(i) / (x.size() - 1);
  };
  auto py = [&](double v) { return top + ph * (1 - v / max); };
  std::string svg = absl::StrFormat(
      "<figure><svg data-chart=\"%s\" role=\"img\" aria-label=\"%s\" viewBox=\"0 0 %.0f %.0f\" "
      "width=\"%.0f\" height=\"%.0f\" xmlns=\"http://www.w3.org/2000/svg\"><title>%s</title>",
      id, Html(title), w, h, w, h, Html(title));
  absl::StrAppendFormat(&svg, "<text x=\"%.0f\" y=\"18\" class=\"ct\">%s</text>", left,
                        Html(title));
  for (int t = 0; t <= 4; ++t) {
    const double v = max * t / 4;
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" class=\"yl\">%s</text>",
                          left, left + pw, py(v), py(v), left - 6, py(v) + 4, FormatNumber(v));
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    absl::StrAppendFormat(&svg, "<text x=\"%.1f\" y=\"%.1f\" class=\"xl\">%s</text>", px(i),
                          top + ph + 18, Html(x[i]));
  }
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const char* colour = kPalette[k % 10];
    std::vector<std::string> pts;
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      pts.push_back(absl::StrFormat("%.1f,%.1f", px(i), py(s.values[i])));
    }
    absl::StrAppendFormat(&svg,
                          "<polyline class=\"series\" data-series=\"%s\" fill=\"none\" "
                          "stroke=\"%s\" stroke-width=\"2.5\" points=\"%s\"/>",
                          Html(s.name), colour, absl::StrJoin(pts, " "));
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      absl::StrAppendFormat(&svg,
                            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%s %s: "
                            "%s</title></circle>",
                            px(i), py(s.values[i]), colour, Html(s.name), Html(x[i]),
                            FormatNumber(s.values[i]));
    }
    absl::StrAppendFormat(&svg,
                          "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                          "<text x=\"%.0f\" y=\"%.0f\" class=\"lg\">%s</text>",
                          w - right + 15, top + 18.0 * k, colour, w - right + 32,
                          top + 18.0 * k + 10, Html(s.name));
  }
  svg += "</svg></figure>\n";
  return svg;
}

// Horizontal bars, one group per label, one bar per series (months or measures).
std::string BarChart(const std::string& id, const std::string& title,
                     const std::vector<std::string>& labels, const std::vector<Series>& series) {
  const double w = 720, left = 200, right = 120, top = 30, bar = 12, gap = 10;
  const double group = bar * static_cast<double>(std::max<std::size_t>(1, series.size())) + gap;
  const double h = top + group * static_cast<double>(labels.size()) + 30;
  double max = 0;
  for (const Series& s : series) {
    for (double v : s.values) {
      max = std::max(max, v);
    }
  }
  max = NiceMax(max);
  const double pw = w - left - right;
  std::string svg = absl::StrFormat(
      "<figure><svg data-chart=\"%s\" role=\"img\" aria-label=\"%s\" viewBox=\"0 0 %.0f %.0f\" "
      "width=\"%.0f\" height=\"%.0f\" xmlns=\"http://www.w3.org/2000/svg\"><title>%s</title>",
      id, Html(title), w, h, w, h, Html(title));
  absl::StrAppendFormat(&svg, "<text x=\"10\" y=\"18\" class=\"ct\">%s</text>", Html(title));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double gy = top + group * static_cast<double>(i);
    absl::StrAppendFormat(&svg, "<text x=\"%.0f\" y=\"%.1f\" class=\"bl\">%s</text>", left - 8,
                          gy + group / 2, Html(labels[i]));
    for (std::size_t k = 0; k < series.size(); ++k) {
      const double v = i < series[k].values.size() ? series[k].values[i] : 0;
      const double bw = pw * v / max;
      absl::StrAppendFormat(&svg,
                            "<rect class=\"bar\" x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" "
                            "height=\"%.0f\" fill=\"%s\"><title>%s, %s: %s</title></rect>"
                            "<text x=\"%.1f\" y=\"%.1f\" class=\"bv\">%s</text>",
                            left, gy + bar * k, bw, bar - 1, kPalette[k % 10], Html(labels[i]),
                            Html(series[k].name), FormatNumber(v), left + bw + 4,
                            gy + bar * k + bar - 2, FormatNumber(v));
    }
  }
  for (std::size_t k = 0; k < series.size() && series.size() > 1; ++k) {
    absl::StrAppendFormat(&svg,
                          "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                          "<text x=\"%.0f\" y=\"%.0f\" class=\"lg\">%s</text>",
                          w - right + 15, top + 18.0 * k, kPalette[k % 10], w - right + 32,
                          top + 18.0 * k + 10, Html(series[k].name));
  }
  svg += "</svg></figure>\n";
  return svg;
}

std::string Movement(uint32_t from, uint32_t to) {
  if (from == 0 || to == 0) {
    return "–";
  }
  if (to < from) {
    return absl::StrCat("&#9650; up ", from - to);
  }
  if (to > from) {
    return absl::StrCat("&#9660; down ", to - from);
  }
  return "same";
}

}  // namespace

std::string AreaLevelName(asb::v1::AreaLevel level) {
  switch (level) {
    case asb::v1::AREA_LEVEL_WARD:
      return "ward";
    case asb::v1::AREA_LEVEL_DISTRICT:
      return "district";
    default:
      return "lsoa";
  }
}

std::string HotspotsTable(const asb::v1::HotspotsResponse& r) {
  std::string out = absl::StrFormat(
      "Hot spots %s by %s, category %s; baseline: the %u months before (with data: %s); FDR "
      "%.2f\n",
      r.month(), AreaLevelName(r.by()), r.category(), r.baseline_months(),
      r.baseline_months_with_data().empty() ? std::string("none")
                                            : absl::StrJoin(r.baseline_months_with_data(), " "),
      r.fdr());
  absl::StrAppendFormat(&out, "%-4s %-22s %-28s %6s %9s %9s %10s %10s  %s\n", "RANK", "AREA",
                        "NAME", "COUNT", "BASELINE", "EXPECTED", "P", "Q", "EMERGING");
  for (const auto& a : r.areas()) {
    const bool hidden = a.baseline_suppressed();
    absl::StrAppendFormat(&out, "%-4u %-22s %-28s %6llu %9s %9s %10s %10s  %s\n", a.rank(),
                          a.area().empty() ? "-" : a.area().substr(0, 22), a.name().substr(0, 28),
                          static_cast<unsigned long long>(a.count()),
                          a.no_baseline() ? "-"
                          : hidden        ? absl::StrCat("<", r.suppress_below())
                                          : absl::StrCat(a.baseline_total()),
                          a.no_baseline() || hidden ? "-" : absl::StrFormat("%.2f", a.expected()),
                          a.no_baseline() ? "-" : absl::StrCat(hidden ? "<=" : "", P(a.p_value())),
                          a.no_baseline() ? "-" : absl::StrCat(hidden ? "<=" : "", P(a.q_value())),
                          a.no_baseline() ? "no baseline"
                          : a.emerging()  ? "YES"
                                          : "no");
  }
  absl::StrAppendFormat(&out,
                        "%u areas tested, %u emerging; %u with 1-%u incidents not listed "
                        "(suppressed); %s incidents in all.\n",
                        r.areas_tested(), r.areas_emerging(), r.areas_suppressed(),
                        r.suppress_below() > 0 ? r.suppress_below() - 1 : 0,
                        r.total() == 0 && r.areas_tested() > 0 ? std::string("fewer than threshold")
                                                               : absl::StrCat(r.total()));
  absl::StrAppend(&out, "Rule: ", r.rule(), "\n");
  return out;
}

std::string HotspotsCsv(const asb::v1::HotspotsResponse& r) {
  std::string out =
      "month,by,category,rank,area,name,count,baseline_months,baseline_total,expected,p_value,"
      "q_value,emerging,baseline_suppressed,no_baseline\n";
  for (const auto& a : r.areas()) {
    absl::StrAppend(
        &out, r.month(), ",", AreaLevelName(r.by()), ",", Csv(r.category()), ",", a.rank(), ",",
        Csv(a.area()), ",", Csv(a.name()), ",", a.count(), ",", a.baseline_months(), ",",
        a.baseline_suppressed() ? "suppressed" : absl::StrCat(a.baseline_total()), ",",
        a.baseline_suppressed() ? "suppressed" : absl::StrFormat("%.6g", a.expected()), ",",
        absl::StrFormat("%.6g", a.p_value()), ",", absl::StrFormat("%.6g", a.q_value()), ",",
        a.emerging() ? "true" : "false", ",", a.baseline_suppressed() ? "true" : "false", ",",
        a.no_baseline() ? "true" : "false", "\n");
  }
  return out;
}

std::string IndicatorsCsv(const asb::v1::IndicatorsResponse& r) {
  std::string out = "section,month,category,area,name,measure,value\n";
  auto row = [&](absl::string_view section, absl::string_view month, absl::string_view category,
                 absl::string_view area, absl::string_view name, absl::string_view measure,
                 const std::string& value) {
    absl::StrAppend(&out, section, ",", month, ",", Csv(category), ",", Csv(area), ",", Csv(name),
                    ",", measure, ",", value, "\n");
  };
  for (const auto& m : r.by_month()) {
    row("month", m.month(), "asb", "", "", "asb_incidents", CellText(m.asb_incidents()));
    row("month", m.month(), "crime", "", "", "crimes", CellText(m.crimes()));
    row("month", m.month(), "", "", "", "repeat_locations", absl::StrCat(m.repeat_locations()));
    row("month", m.month(), "asb", "", "", "incidents_at_repeat_locations",
        CellText(m.incidents_at_repeat_locations()));
    row("month", m.month(), "", "", "", "cases_opened", CellText(m.cases_opened()));
    row("month", m.month(), "", "", "", "cases_closed", CellText(m.cases_closed()));
    row("month", m.month(), "", "", "", "cases_open_at_end", CellText(m.cases_open_at_end()));
    row("month", m.month(), "", "", "", "intelligence_pictures",
        absl::StrCat(m.intelligence_pictures()));
    row("month", m.month(), "", "", "", "case_reviews", CellText(m.case_reviews()));
    row("month", m.month(), "", "", "", "first_actions", CellText(m.first_actions()));
    row("month", m.month(), "", "", "", "first_action_median_days",
        absl::StrFormat("%.1f", m.first_action_median_days()));
    row("month", m.month(), "", "", "", "first_action_mean_days",
        absl::StrFormat("%.1f", m.first_action_mean_days()));
  }
  for (const auto& c : r.incidents()) {
    row("incidents", c.month(), c.category(), c.area(), c.name(), "incidents",
        CellText(c.incidents()));
  }
  for (const auto& t : r.top_areas()) {
    row("top_areas", "", "asb", t.area(), t.name(), "rank", absl::StrCat(t.rank()));
    row("top_areas", "", "asb", t.area(), t.name(), "total", CellText(t.total()));
    for (int i = 0; i < t.by_month_size() && i < r.months_size(); ++i) {
      row("top_areas", r.months(i), "asb", t.area(), t.name(), "incidents",
          CellText(t.by_month(i)));
    }
    row("top_areas", r.months(0), "asb", t.area(), t.name(), "month_rank",
        absl::StrCat(t.first_month_rank()));
    row("top_areas", r.months(r.months_size() - 1), "asb", t.area(), t.name(), "month_rank",
        absl::StrCat(t.last_month_rank()));
    row("top_areas", "", "asb", t.area(), t.name(), "previous_period_rank",
        absl::StrCat(t.previous_period_rank()));
  }
  for (const auto& l : r.repeat_locations()) {
    row("repeat_locations", "", "asb", l.lsoa(), absl::StrCat(l.lsoa_name(), " / ", l.location()),
        "incidents", CellText(l.incidents()));
    row("repeat_locations", "", "asb", l.lsoa(), absl::StrCat(l.lsoa_name(), " / ", l.location()),
        "months", absl::StrCat(l.months()));
  }
  for (const auto& o : r.orders()) {
    row("orders", o.month(), o.order_type(), "", "", "issued", CellText(o.issued()));
    row("orders", o.month(), o.order_type(), "", "", "breached", CellText(o.breached()));
    row("orders", o.month(), o.order_type(), "", "", "expired", CellText(o.expired()));
    row("orders", o.month(), o.order_type(), "", "", "discharged", CellText(o.discharged()));
  }
  return out;
}

std::string IndicatorsHtml(const asb::v1::IndicatorsResponse& r, const std::string& title) {
  const std::vector<std::string> months(r.months().begin(), r.months().end());
  const std::string level = AreaLevelName(r.by());
  std::string h = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", Html(title),
      ": ASB indicators ", r.from_month(), " to ", r.to_month(), "</title>\n<style>\n",
      "body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;max-width:960px;"
      "margin:2em auto;color:#222;line-height:1.45}h1{font-size:1.6em}h2{margin-top:1.6em;"
      "border-bottom:2px solid #1b6ca8}table{border-collapse:collapse;margin:.6em 0}"
      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eef3f8}"
      "td.l,th.l{text-align:left}.note{color:#555;font-size:.9em}figure{margin:1em 0}"
      ".ct{font-weight:bold;font-size:14px}.xl{font-size:11px;text-anchor:middle}"
      ".yl{font-size:11px;text-anchor:end}.bl{font-size:11px;text-anchor:end;"
      "dominant-baseline:middle}.bv{font-size:10px}.lg{font-size:11px}"
      ".grid{stroke:#ddd;stroke-width:1}\n</style></head><body>\n");
  absl::StrAppend(&h, "<h1>", Html(title), "</h1>\n<p>Anti-social behaviour indicators, <b>",
                  r.from_month(), "</b> to <b>", r.to_month(), "</b>, areas by ", level,
                  ". Depersonalised counts (Crime and Disorder Act 1998 s.17A): no person is "
                  "named; counts from 1 to ",
                  r.suppress_below() > 0 ? r.suppress_below() - 1 : 0,
                  " are shown as &lsquo;suppressed&rsquo;. ISP version <code>",
                  Html(r.isp_version().substr(0, 12)), "</code>.</p>\n");

  // The story behind the curve, in words.
  std::vector<double> asb;
  for (const auto& m : r.by_month()) {
    asb.push_back(CellValue(m.asb_incidents()));
  }
  h += "<h2>Summary</h2>\n<ul id=\"summary\">\n";
  if (!asb.empty()) {
    double total = 0;
    for (double v : asb) {
      total += v;
    }
    absl::StrAppend(&h, "<li>", FormatNumber(total), " ASB incidents over ", asb.size(), " months");
    if (asb.size() > 1 && asb.front() > 0) {
      const double change = 100.0 * (asb.back() - asb.front()) / asb.front();
      absl::StrAppendFormat(&h, "; %s from %s in %s to %s in %s (%+.0f%%)",
                            asb.back() < asb.front() ? "down" : "up", FormatNumber(asb.front()),
                            months.front(), FormatNumber(asb.back()), months.back(), change);
    }
    h += ".</li>\n";
  }
  if (!r.top_areas().empty()) {
    const auto& t = r.top_areas(0);
    absl::StrAppend(
        &h, "<li>Most incidents: <b>", Html(t.name()), "</b> (", CellText(t.total()), ")",
        t.previous_period_rank() > 0
            ? absl::StrCat(", ranked ", t.previous_period_rank(), " in the period before")
            : std::string(),
        ".</li>\n");
  }
  if (!r.repeat_locations().empty()) {
    const auto& l = r.repeat_locations(0);
    absl::StrAppend(&h, "<li>Most repeated place: ", Html(l.location()), ", ", Html(l.lsoa_name()),
                    " (", CellText(l.incidents()), " incidents in ", l.months(),
                    " months).</li>\n");
  }
  h += "</ul>\n";

  // Trend: incidents per month by category.
  std::map<std::string, std::vector<double>> by_category;
  for (const auto& c : r.incidents()) {
    auto& v = by_category[c.category()];
    v.resize(months.size());
    const auto it = std::find(months.begin(), months.end(), c.month());
    if (it != months.end()) {
      v[it - months.begin()] += CellValue(c.incidents());
    }
  }
  std::vector<Series> trend = {{"ASB, all categories", asb}};
  for (const auto& [cat, v] : by_category) {
    if (cat.rfind("crime:", 0) != 0 && by_category.size() > 1) {
      trend.push_back({cat, v});
    }
  }
  std::vector<double> crimes;
  for (const auto& m : r.by_month()) {
    crimes.push_back(CellValue(m.crimes()));
  }
  if (std::any_of(crimes.begin(), crimes.end(), [](double v) { return v > 0; })) {
    trend.push_back({"crimes (other types)", crimes});
  }
  h += "<h2>Incidents per month</h2>\n";
  h += LineChart("trend", "Incidents per month", months, trend);

  // Top areas.
  h += absl::StrCat("<h2>Top areas (by ", level, ") and how they moved</h2>\n");
  std::vector<std::string> labels;
  std::vector<Series> per_month(months.size());
  for (std::size_t i = 0; i < months.size(); ++i) {
    per_month[i].name = months[i];
  }
  for (const auto& t : r.top_areas()) {
    labels.push_back(t.name());
    for (std::size_t i = 0; i < months.size(); ++i) {
      per_month[i].values.push_back(
          i < static_cast<std::size_t>(t.by_month_size()) ? CellValue(t.by_month(i)) : 0);
    }
  }
  if (!labels.empty()) {
    h += BarChart("top-areas", "ASB incidents per month in the top areas", labels, per_month);
  }
  h += "<table id=\"top-areas\"><tr><th>Rank</th><th class=\"l\">Area</th>";
  for (const auto& m : months) {
    absl::StrAppend(&h, "<th>", m, "</th>");
  }
  h += "<th>Total</th><th>Rank first&rarr;last month</th><th>Rank in the period before</th></tr>\n";
  for (const auto& t : r.top_areas()) {
    absl::StrAppend(&h, "<tr><td>", t.rank(), "</td><td class=\"l\">", Html(t.name()),
                    t.name() != t.area()
                        ? absl::StrCat(" <span class=\"note\">", Html(t.area()), "</span>")
                        : std::string(),
                    "</td>");
    for (const auto& c : t.by_month()) {
      absl::StrAppend(&h, "<td>", CellText(c), "</td>");
    }
    absl::StrAppend(
        &h, "<td><b>", CellText(t.total()), "</b></td><td>", t.first_month_rank(), "&rarr;",
        t.last_month_rank(), " ", Movement(t.first_month_rank(), t.last_month_rank()), "</td><td>",
        t.previous_period_rank() == 0 ? std::string("–") : absl::StrCat(t.previous_period_rank()),
        "</td></tr>\n");
  }
  h += "</table>\n";

  // Repeat locations.
  h += "<h2>Repeat locations</h2>\n<p class=\"note\">Anonymised police.uk snap points (each "
       "covers several addresses) with two or more ASB incidents in a month; other feeds' "
       "locations are never named.</p>\n";
  h += "<table id=\"repeat-months\"><tr><th class=\"l\">Month</th><th>Repeat locations</th>"
       "<th>ASB incidents at them</th></tr>\n";
  for (const auto& m : r.by_month()) {
    absl::StrAppend(&h, "<tr><td class=\"l\">", m.month(), "</td><td>", m.repeat_locations(),
                    "</td><td>", CellText(m.incidents_at_repeat_locations()), "</td></tr>\n");
  }
  h += "</table>\n<table id=\"repeat-locations\"><tr><th class=\"l\">Place</th><th "
       "class=\"l\">LSOA</th><th>Incidents</th><th>Months</th></tr>\n";
  for (const auto& l : r.repeat_locations()) {
    absl::StrAppend(&h, "<tr><td class=\"l\">", Html(l.location()), "</td><td class=\"l\">",
                    Html(l.lsoa_name()), " ", Html(l.lsoa()), "</td><td>", CellText(l.incidents()),
                    "</td><td>", l.months(), "</td></tr>\n");
  }
  h += "</table>\n";

  // Orders.
  h += "<h2>Orders, notices and contracts</h2>\n";
  std::map<std::string, std::array<double, 4>> orders;
  for (const auto& o : r.orders()) {
    auto& a = orders[o.order_type()];
    a[0] += CellValue(o.issued());
    a[1] += CellValue(o.breached());
    a[2] += CellValue(o.expired());
    a[3] += CellValue(o.discharged());
  }
  if (orders.empty()) {
    h += "<p id=\"orders-none\">No order, notice or contract events in the period.</p>\n";
  } else {
    std::vector<std::string> types;
    std::vector<Series> what = {
        {"issued", {}}, {"breached", {}}, {"expired", {}}, {"discharged", {}}};
    for (const auto& [type, a] : orders) {
      std::string t = type;
      if (t.rfind("ORDER_TYPE_", 0) == 0) {
        t = t.substr(11);
      }
      types.push_back(t);
      for (int k = 0; k < 4; ++k) {
        what[k].values.push_back(a[k]);
      }
    }
    h += BarChart("orders", "Orders by type over the period", types, what);
    h += "<table id=\"orders\"><tr><th class=\"l\">Type</th><th>Issued</th><th>Breached</th>"
         "<th>Expired</th><th>Discharged</th></tr>\n";
    for (std::size_t i = 0; i < types.size(); ++i) {
      absl::StrAppend(&h, "<tr><td class=\"l\">", Html(types[i]), "</td>");
      for (int k = 0; k < 4; ++k) {
        absl::StrAppend(&h, "<td>", FormatNumber(what[k].values[i]), "</td>");
      }
      h += "</tr>\n";
    }
    h += "</table>\n";
  }

  // Cases and timeliness.
  h += "<h2>Cases, case reviews and time to first action</h2>\n";
  std::vector<Series> cases = {{"opened", {}}, {"closed", {}}, {"open at month end", {}}};
  for (const auto& m : r.by_month()) {
    cases[0].values.push_back(CellValue(m.cases_opened()));
    cases[1].values.push_back(CellValue(m.cases_closed()));
    cases[2].values.push_back(CellValue(m.cases_open_at_end()));
  }
  h += LineChart("cases", "Cases opened, closed and open", months, cases);
  h += "<table id=\"months\"><tr><th class=\"l\">Month</th><th>ASB incidents</th><th>Crimes</th>"
       "<th>Cases opened</th><th>Closed</th><th>Open at end</th><th>Area pictures</th>"
       "<th>Case reviews</th><th>First actions</th><th>Median days to first action</th>"
       "</tr>\n";
  for (const auto& m : r.by_month()) {
    absl::StrAppend(
        &h, "<tr><td class=\"l\">", m.month(), "</td><td>", CellText(m.asb_incidents()),
        "</td><td>", CellText(m.crimes()), "</td><td>", CellText(m.cases_opened()), "</td><td>",
        CellText(m.cases_closed()), "</td><td>", CellText(m.cases_open_at_end()), "</td><td>",
        m.intelligence_pictures(), "</td><td>", CellText(m.case_reviews()), "</td><td>",
        CellText(m.first_actions()), "</td><td>",
        m.first_actions().count() > 0 ? absl::StrFormat("%.1f", m.first_action_median_days())
                                      : std::string("–"),
        "</td></tr>\n");
  }
  h += "</table>\n<p class=\"note\">Cases count casework only; area pictures are the "
       "intelligence cases built from police.uk rows (one per LSOA and month). Case reviews "
       "(the ASB case review, &lsquo;community trigger&rsquo;) are not yet recorded by the hub "
       "and show 0. First action: the first order, notice, warning, contract or direction on a "
       "case, counted from the case's first incident.</p>\n";
  h += "</body></html>\n";
  return h;
}

}  // namespace asb::ctl
