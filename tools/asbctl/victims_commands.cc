// `asbctl casereview list` and `asbctl victims repeat`: a partner agency's view of the ASB case
// reviews (ASBCPA 2014 s.104) of the cases it may see, and of the victims who appear in more than
// one of them (matched by keyed subject keys in asb-sharing). Both read case data, so they name
// the officer and the reason (DPA 2018 s.62(3)), and asb-sharing records a consultation of every
// case they return. `asbctl casereview check` and `asbctl victims check-risk` check the procedure
// and the risk matrix offline, as the daemons load them.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asb/config/v1/isp.pb.h"
#include "asb/v1/api.pb.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "common/victims/case_review.h"
#include "common/victims/risk_matrix.h"
#include "google/protobuf/util/time_util.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/internal/csv.h"

namespace asb::ctl {
namespace {

using google::protobuf::util::TimeUtil;

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// Who asks, for the access log.
struct Officer {
  std::string as;
  std::string officer;
  std::string officer_name;
  std::string reason;
  std::string purpose;
  std::string format = "table";
};

void AddOfficerOptions(CLI::App* cmd, Officer& o) {
  cmd->add_option("--as", o.as, "partner agency (keys_dir/AGENCY-partner.key)")->required();
  o.officer = Env("ASBHUB_OFFICER");
  o.reason = Env("ASBHUB_REASON");
  cmd->add_option("--officer", o.officer,
                  "the officer you ask for (their id in your agency's system; or $ASBHUB_OFFICER)")
      ->capture_default_str();
  cmd->add_option("--officer-name", o.officer_name, "the officer's name, for the access log");
  cmd->add_option("--reason", o.reason,
                  "why the officer looks (recorded in the access log; or $ASBHUB_REASON)")
      ->capture_default_str();
  cmd->add_option("--purpose", o.purpose, "the ISP purpose you act under");
  cmd->add_option("--format", o.format, "table, json (JSON lines) or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
}

absl::Status FillOfficer(const Officer& o, asb::v1::OnBehalfOf* who) {
  if (o.officer.empty()) {
    return absl::InvalidArgumentError(
        "--officer: required (the officer you ask for; or set ASBHUB_OFFICER)");
  }
  if (o.reason.empty()) {
    return absl::InvalidArgumentError(
        "--reason: required (why the officer looks, for the access log; or set ASBHUB_REASON)");
  }
  who->set_officer_id(o.officer);
  who->set_officer_name(o.officer_name);
  who->set_reason(o.reason);
  who->set_purpose(o.purpose);
  return absl::OkStatus();
}

std::string Short(const std::string& enum_name, std::string_view prefix) {
  std::string out = enum_name.rfind(prefix, 0) == 0 ? enum_name.substr(prefix.size()) : enum_name;
  return absl::AsciiStrToLower(out);
}

std::string Day(const google::protobuf::Timestamp& ts) {
  return ts.seconds() != 0 ? TimeUtil::ToString(ts).substr(0, 10) : std::string("-");
}

struct CaseReviewListOptions : Officer {
  std::string status;
};

absl::Status RunCaseReviewList(const Globals& g, const CaseReviewListOptions& o) {
  asb::v1::Request request;
  asb::v1::ListCaseReviewsRequest* list = request.mutable_list_case_reviews();
  ASB_RETURN_IF_ERROR(FillOfficer(o, list->mutable_on_behalf_of()));
  if (!o.status.empty()) {
    std::string name = absl::AsciiStrToUpper(o.status);
    for (char& c : name) {
      c = c == '-' ? '_' : c;
    }
    asb::v1::CaseReviewStatus status;
    if (!asb::v1::CaseReviewStatus_Parse("CASE_REVIEW_STATUS_" + name, &status) ||
        status == asb::v1::CASE_REVIEW_STATUS_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--status: '", o.status,
          "' is not a case review status (advised, threshold_met, applied, review_due, not_met, "
          "completed, appealed, appeal_decided)"));
    }
    list->set_status(status);
  }
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kSharing, o.as, "partner"));
  if (o.format == "table") {
    std::printf("%-16s %-16s %-14s %-10s %-12s %-9s %s\n", "CASE", "LEAD", "STATUS", "COMPLAINTS",
                "APPLICATIONS", "NEXT DUE", "BY");
  } else if (o.format == "csv") {
    internal::PrintCsvRow({"case_id", "lead_agency", "status", "complaints", "individuals",
                           "applications", "notices", "next_due", "next_deadline"});
  }
  int shown = 0;
  while (true) {
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
    const asb::v1::ListCaseReviewsResponse& r = response.case_reviews();
    for (const asb::v1::CaseReviewSummary& s : r.reviews()) {
      const asb::v1::CaseReview& cr = s.case_review();
      const std::string status =
          Short(asb::v1::CaseReviewStatus_Name(cr.status()), "CASE_REVIEW_STATUS_");
      if (o.format == "json") {
        std::printf("%s\n", config::ToJson(s).c_str());
      } else if (o.format == "csv") {
        internal::PrintCsvRow({s.case_id(), s.lead_agency(), status,
                               std::to_string(cr.complaints()), std::to_string(cr.individuals()),
                               std::to_string(cr.applications_size()),
                               std::to_string(cr.notices_size()), s.next_due(),
                               s.has_next_deadline() ? TimeUtil::ToString(s.next_deadline()) : ""});
      } else {
        std::printf("%-16s %-16s %-14s %-10u %-12d %-9s %s\n", s.case_id().c_str(),
                    s.lead_agency().c_str(), status.c_str(), cr.complaints(),
                    cr.applications_size(), s.next_due().empty() ? "-" : s.next_due().c_str(),
                    Day(s.next_deadline()).c_str());
      }
      ++shown;
    }
    if (!r.more() || r.reviews().empty()) {
      break;
    }
    list->set_after_case_id(r.reviews(r.reviews_size() - 1).case_id());
  }
  if (o.format == "table") {
    std::printf("(%d cases)\n", shown);
  }
  return absl::OkStatus();
}

CLI::App* AddCaseReviewListOptions(CLI::App& parent, CaseReviewListOptions& o) {
  auto* cmd = parent.add_subcommand(
      "list", "the ASB case reviews (s.104) of the cases your agency may see (audited)");
  AddOfficerOptions(cmd, o);
  cmd->add_option("--status", o.status,
                  "only: advised, threshold_met, applied, review_due, not_met, completed, "
                  "appealed or appeal_decided");
  return cmd;
}

struct RepeatOptions : Officer {
  uint32_t min_cases = 2;
};

absl::Status RunVictimsRepeat(const Globals& g, const RepeatOptions& o) {
  asb::v1::Request request;
  asb::v1::RepeatVictimsRequest* q = request.mutable_repeat_victims();
  ASB_RETURN_IF_ERROR(FillOfficer(o, q->mutable_on_behalf_of()));
  q->set_min_cases(o.min_cases);
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kSharing, o.as, "partner"));
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
  const asb::v1::RepeatVictimsResponse& r = response.repeat_victims();
  if (o.format == "table") {
    std::printf("%-36s %-24s %-8s %s\n", "MATCH KEY", "MATCHED BY", "RISK", "CASES (PERSON)");
  } else if (o.format == "csv") {
    internal::PrintCsvRow({"match_key", "matched_by", "risk_band", "cases", "person_ids"});
  }
  for (const asb::v1::RepeatVictim& v : r.victims()) {
    const std::string basis = Short(asb::v1::MatchBasis_Name(v.matched_by()), "MATCH_BASIS_");
    const std::string band = Short(asb::v1::RiskLevel_Name(v.risk_band()), "RISK_LEVEL_");
    if (o.format == "json") {
      std::printf("%s\n", config::ToJson(v).c_str());
      continue;
    }
    std::vector<std::string> cases;
    for (int i = 0; i < v.case_ids_size(); ++i) {
      cases.push_back(
          absl::StrCat(v.case_ids(i), " (", i < v.person_ids_size() ? v.person_ids(i) : "", ")"));
    }
    if (o.format == "csv") {
      internal::PrintCsvRow({v.match_key(), basis, band, absl::StrJoin(v.case_ids(), " "),
                             absl::StrJoin(v.person_ids(), " ")});
    } else {
      std::printf("%-36s %-24s %-8s %s\n", v.match_key().c_str(), basis.c_str(),
                  band == "unspecified" ? "-" : band.c_str(), absl::StrJoin(cases, ", ").c_str());
    }
  }
  if (o.format == "table") {
    std::printf("(%d repeat victims%s)\n", r.victims_size(), r.more() ? ", more not shown" : "");
  }
  return absl::OkStatus();
}

CLI::App* AddVictimsRepeatOptions(CLI::App& parent, RepeatOptions& o) {
  auto* cmd = parent.add_subcommand(
      "repeat", "victims in more than one case your agency may see, by match key (audited)");
  AddOfficerOptions(cmd, o);
  cmd->add_option("--min-cases", o.min_cases, "at least this many cases")
      ->check(CLI::Range(2, 100))
      ->capture_default_str();
  return cmd;
}

struct CheckOptions {
  std::string file;
  std::string isp = "config/isp/chesterfield.yaml";
};

absl::StatusOr<std::vector<std::string>> IspAgencies(const std::string& isp_file) {
  asb::config::v1::Isp isp;
  ASB_RETURN_IF_ERROR(config::LoadConfigFile(isp_file, &isp));
  std::vector<std::string> agencies;
  for (const auto& a : isp.agencies()) {
    agencies.push_back(a.id());
  }
  return agencies;
}

absl::Status RunCaseReviewCheck(const Globals&, const CheckOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> agencies, IspAgencies(o.isp));
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const victims::CaseReviewProcedure> p,
                       victims::CaseReviewProcedure::LoadFile(o.file, agencies));
  const auto& c = p->config();
  std::printf(
      "OK: %s: version %s; threshold %u related qualifying complaints in %u months (s.104(4), "
      "s.104(11))%s; advisory at %u; decision %u days, review %u days, appeal %u days\n",
      o.file.c_str(), p->version().c_str(), c.complaint_threshold(), c.window_months(),
      c.individuals_threshold() != 0
          ? absl::StrCat(" or ", c.individuals_threshold(), " individuals").c_str()
          : "",
      c.advisory_at(), c.decision_days(), c.review_days(), c.appeal_days());
  return absl::OkStatus();
}

absl::Status RunRiskCheck(const Globals&, const CheckOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> agencies, IspAgencies(o.isp));
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const victims::RiskMatrix> m,
                       victims::RiskMatrix::LoadFile(o.file, agencies));
  std::printf("OK: %s: %zu templates, version %s\n", o.file.c_str(), m->size(),
              m->version().c_str());
  const asb::config::v1::RiskFollowUp& f = m->follow_up();
  std::printf(
      "follow-up on the hub's clock: assess a victim within %u days of linking (0: no reminder); "
      "after a new incident reassess HIGH within %u hours, MEDIUM within %u hours (0: none)%s%s\n",
      f.assess_within_days(), f.reassess_high_hours(), f.reassess_medium_hours(),
      f.basis().empty() ? "" : "; basis: ", f.basis().c_str());
  return absl::OkStatus();
}

CLI::App* AddCaseReviewCheckOptions(CLI::App& parent, CheckOptions& o) {
  o.file = "config/casereview/derbyshire.yaml";
  auto* cmd = parent.add_subcommand(
      "check", "check an ASB case review procedure (as asb-intake loads it; offline)");
  cmd->add_option("file", o.file, "the procedure")->capture_default_str();
  cmd->add_option("--isp", o.isp, "the ISP whose agencies it names")->capture_default_str();
  return cmd;
}

CLI::App* AddRiskCheckOptions(CLI::App& parent, CheckOptions& o) {
  o.file = "config/risk/matrix.yaml";
  auto* cmd =
      parent.add_subcommand("check-risk", "check a victim risk matrix (bands, questions; offline)");
  cmd->add_option("file", o.file, "the risk matrix")->capture_default_str();
  cmd->add_option("--isp", o.isp, "the ISP whose agencies it names")->capture_default_str();
  return cmd;
}

}  // namespace

void AddVictimsCommands(CLI::App& app, Globals& g) {
  auto* review = app.add_subcommand("casereview", "ASB case reviews (ASBCPA 2014 s.104)");
  review->require_subcommand(1);
  AddCommand(*review, g, AddCaseReviewListOptions, RunCaseReviewList);
  AddCommand(*review, g, AddCaseReviewCheckOptions, RunCaseReviewCheck);
  auto* victims = app.add_subcommand("victims", "victims: repeat victims across cases");
  victims->require_subcommand(1);
  AddCommand(*victims, g, AddVictimsRepeatOptions, RunVictimsRepeat);
  AddCommand(*victims, g, AddRiskCheckOptions, RunRiskCheck);
}

}  // namespace asb::ctl
