// asbctl hotspots and asbctl report indicators: depersonalised figures from asb-sharing,
// asked for on behalf of an officer (--officer/--reason, or ASBHUB_OFFICER/ASBHUB_REASON) and
// audited there as consultations. Rendering: tools/asbctl/report.h.

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/options.h"
#include "tools/asbctl/report.h"

namespace asb::ctl {
namespace {

asb::v1::AreaLevel LevelOf(const std::string& by) {
  if (by == "ward") {
    return asb::v1::AREA_LEVEL_WARD;
  }
  if (by == "district") {
    return asb::v1::AREA_LEVEL_DISTRICT;
  }
  return asb::v1::AREA_LEVEL_LSOA;
}

absl::Status WriteOut(const std::string& out, const std::string& text) {
  if (out.empty() || out == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return absl::OkStatus();
  }
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    return absl::UnavailableError(out + ": cannot write");
  }
  std::fprintf(stderr, "wrote %s (%zu bytes)\n", out.c_str(), text.size());
  return absl::OkStatus();
}

absl::Status RunHotspots(const Globals& g, const HotspotsOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kSharing, o.as, "partner"));
  asb::v1::Request request;
  auto* q = request.mutable_hotspots();
  *q->mutable_on_behalf_of() = OnBehalfOf(o.officer);
  q->set_month(o.month);
  q->set_by(LevelOf(o.by));
  q->set_category(o.category);
  q->set_top(o.top);
  q->set_baseline_months(o.baseline);
  q->set_fdr(o.fdr);
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
  const asb::v1::HotspotsResponse& r = response.hotspots();
  if (o.format == "json") {
    std::printf("%s\n", config::ToJson(r).c_str());
  } else if (o.format == "csv") {
    std::fputs(HotspotsCsv(r).c_str(), stdout);
  } else {
    std::fputs(HotspotsTable(r).c_str(), stdout);
  }
  return absl::OkStatus();
}

absl::Status RunReportIndicators(const Globals& g, const ReportIndicatorsOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kSharing, o.as, "partner"));
  asb::v1::Request request;
  auto* q = request.mutable_indicators();
  *q->mutable_on_behalf_of() = OnBehalfOf(o.officer);
  q->set_from_month(o.from);
  q->set_to_month(o.to);
  q->set_by(LevelOf(o.by));
  q->set_top(o.top);
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request, std::chrono::seconds(60)));
  const asb::v1::IndicatorsResponse& r = response.indicators();
  if (o.format == "csv") {
    return WriteOut(o.out, IndicatorsCsv(r));
  }
  if (o.format == "json") {
    return WriteOut(o.out, config::ToJson(r) + "\n");
  }
  return WriteOut(o.out, IndicatorsHtml(r, "Community Safety Partnership"));
}

}  // namespace

CLI::App* AddHotspotsOptions(CLI::App& parent, HotspotsOptions& o) {
  auto* cmd = parent.add_subcommand(
      "hotspots",
      "emerging ASB hot spots of a month: each area's count against its own trailing baseline "
      "(exact Poisson-rate test, Benjamini-Hochberg across areas); depersonalised, audited");
  cmd->add_option("--month", o.month, "the month, YYYY-MM")->required();
  cmd->add_option("--by", o.by, "lsoa, ward or district")
      ->check(CLI::IsMember({"lsoa", "ward", "district"}))
      ->capture_default_str();
  cmd->add_option("--category", o.category,
                  "asb (all NSIR categories), personal, nuisance, environmental, not-known, "
                  "crime, crime:<police.uk type>, all")
      ->capture_default_str();
  cmd->add_option("--top", o.top, "at most this many areas (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--baseline", o.baseline, "months of baseline before the month (1-36)")
      ->check(CLI::Range(1, 36))
      ->capture_default_str();
  cmd->add_option("--fdr", o.fdr, "false discovery rate (Benjamini-Hochberg)")
      ->check(CLI::Range(0.0001, 0.5))
      ->capture_default_str();
  cmd->add_option("--format", o.format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}))
      ->capture_default_str();
  cmd->add_option("--as", o.as, "agency (uses keys_dir/AGENCY-partner.key)")->required();
  AddOfficerOptions(cmd, o.officer, /*required=*/false);
  return cmd;
}

CLI::App* AddReportIndicatorsOptions(CLI::App& parent, ReportIndicatorsOptions& o) {
  auto* cmd = parent.add_subcommand(
      "indicators",
      "the ASB indicators of a period for the tasking group and the Crime and Disorder Panel: "
      "incidents by month, category and area, top areas and their movement, repeat locations, "
      "orders, case reviews, time to first action, cases open and closed");
  cmd->add_option("--from", o.from, "first month, YYYY-MM")->required();
  cmd->add_option("--to", o.to, "last month, YYYY-MM")->required();
  cmd->add_option("--by", o.by, "areas by lsoa, ward or district")
      ->check(CLI::IsMember({"lsoa", "ward", "district"}))
      ->capture_default_str();
  cmd->add_option("--top", o.top, "top areas and repeat locations listed (1-100)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--format", o.format,
                  "html (one self-contained page with SVG charts), csv (for analysts) or json")
      ->check(CLI::IsMember({"html", "csv", "json"}))
      ->capture_default_str();
  cmd->add_option("--out", o.out, "write to this file (default: stdout)");
  cmd->add_option("--as", o.as, "agency (uses keys_dir/AGENCY-partner.key)")->required();
  AddOfficerOptions(cmd, o.officer, /*required=*/false);
  return cmd;
}

void AddIntelligenceCommands(CLI::App& app, Globals& g) {
  AddCommand(app, g, AddHotspotsOptions, RunHotspots);
  auto* report = app.add_subcommand("report", "reports from depersonalised aggregates");
  report->require_subcommand(1);
  AddCommand(*report, g, AddReportIndicatorsOptions, RunReportIndicators);
}

}  // namespace asb::ctl
