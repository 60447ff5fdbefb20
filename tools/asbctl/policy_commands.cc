// asbctl policy: check, explain, test and diff Information Sharing Protocols — offline, except
// `explain --case ID`, which asks asb-sharing about a case it holds.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/config/config.h"
#include "common/policy/policy.h"
#include "common/policy/policy_diff.h"
#include "common/policy/policy_suite.h"
#include "common/status/macros.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/hub_client.h"

namespace asb::ctl {
namespace {

// Load errors list every problem in one status ("f:3: a: x; f:9: b: y"): one per line.
int ReportPolicyErrors(const std::string& file, const absl::Status& status) {
  const std::string message(status.message());
  std::vector<std::string> parts = absl::StrSplit(message, absl::ByString("; " + file));
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::fprintf(stderr, "%s%s\n", i == 0 ? "" : file.c_str(), parts[i].c_str());
  }
  return status.code() == absl::StatusCode::kPermissionDenied ? 2 : 1;
}

void AddCheck(CLI::App* cmd, Globals& g) {
  auto* check = cmd->add_subcommand("check", "load and check an ISP file; print its version");
  static std::string file;
  check->add_option("FILE", file, "ISP file (.yaml or .json)")->required();
  check->callback([&g] {
    auto policy = policy::Policy::LoadFile(file);
    if (!policy.ok()) {
      g.exit_code = ReportPolicyErrors(file, policy.status());
      return;
    }
    std::printf("%s: valid; version %s; %zu agencies, %d rules, %d notification rules\n",
                file.c_str(), (*policy)->version().c_str(), (*policy)->agencies().size(),
                (*policy)->isp().rules_size(), (*policy)->isp().notification_rules_size());
  });
}

void PrintExplanation(const std::string& agency, const std::string& case_id,
                      const policy::Policy::Explanation& e) {
  if (e.visible) {
    std::printf("%s sees case %s; matching rules: %s\n", agency.c_str(), case_id.c_str(),
                absl::StrJoin(e.matched_rules, ", ").c_str());
  } else {
    std::printf("%s does not see case %s: no rule of it that grants anything matches\n",
                agency.c_str(), case_id.c_str());
  }
  std::size_t width = 0;
  for (const auto& f : e.fields) {
    width = std::max(width, f.path.size());
  }
  for (const auto& f : e.fields) {
    std::string why = f.rule_id.empty() ? "" : "rule " + f.rule_id;
    if (!f.note.empty()) {
      why += (why.empty() ? "" : "; ") + f.note;
    }
    std::printf("%-*s  %-13s  %s\n", static_cast<int>(width), f.path.c_str(), f.outcome.c_str(),
                why.c_str());
  }
}

// A case held by the hub: asb-sharing explains it with the ISP in force (admins only; the
// answer has paths and outcomes, never values, and is audited).
absl::StatusOr<policy::Policy::Explanation> ExplainStoredCase(const Globals& g,
                                                              const std::string& as,
                                                              const std::string& agency,
                                                              const std::string& case_id,
                                                              const policy::EventContext& ctx) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub, HubClient::Load(g.hub_config));
  ASB_RETURN_IF_ERROR(hub->Connect(Daemon::kSharing, as, "admin"));
  asb::v1::Request request;
  asb::v1::ExplainCaseRequest* q = request.mutable_explain_case();
  q->set_case_id(case_id);
  q->set_agency(agency);
  q->set_event_type(ctx.event_type);
  q->set_order_type(ctx.order_type);
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
  const asb::v1::ExplainCaseResponse& r = response.explain_case();
  policy::Policy::Explanation e;
  e.visible = r.visible();
  e.matched_rules.assign(r.matched_rules().begin(), r.matched_rules().end());
  for (const asb::v1::FieldExplanation& f : r.fields()) {
    e.fields.push_back({f.path(), f.schema_path(), f.outcome(), f.rule_id(), f.note()});
  }
  std::printf("(asb-sharing, ISP version %s)\n", r.isp_version().c_str());
  return e;
}

void AddExplain(CLI::App* cmd, Globals& g) {
  auto* explain = cmd->add_subcommand(
      "explain",
      "for every field of a case: shown, transformed or withheld for an agency, and "
      "by which rule");
  static std::string isp = "config/isp/chesterfield.yaml", agency, the_case, event, order,
                     as = "hub";
  explain->add_option("--isp", isp,
                      "ISP file for a case file (default config/isp/chesterfield.yaml)");
  explain->add_option("--agency", agency, "agency id, e.g. fire")->required();
  explain
      ->add_option("--case", the_case,
                   "a case file (one asb.v1.Case, .yaml or .json), explained offline with --isp; "
                   "or the id of a case the hub holds, explained by asb-sharing with the ISP "
                   "in force (needs an admin key, see --as)")
      ->required();
  explain->add_option("--as", as,
                      "for a case id: the admin principal (keys_dir/NAME.key or NAME-admin.key; "
                      "default hub)");
  explain->add_option("--event", event,
                      "event being shared, e.g. EVENT_TYPE_ORDER_ISSUED or ORDER_ISSUED");
  explain->add_option("--order-type", order,
                      "order type the event concerns, e.g. CRIMINAL_BEHAVIOUR_ORDER");
  explain->callback([&g] {
    policy::EventContext ctx;
    if (!event.empty()) {
      asb::v1::EventType t;
      const std::string name =
          absl::StartsWith(event, "EVENT_TYPE_") ? event : "EVENT_TYPE_" + event;
      if (!asb::v1::EventType_Parse(name, &t)) {
        g.exit_code = ReportError(absl::InvalidArgumentError("unknown event type '" + event + "'"));
        return;
      }
      ctx.event_type = t;
    }
    if (!order.empty()) {
      asb::v1::OrderType t;
      const std::string name =
          absl::StartsWith(order, "ORDER_TYPE_") ? order : "ORDER_TYPE_" + order;
      if (!asb::v1::OrderType_Parse(name, &t)) {
        g.exit_code = ReportError(absl::InvalidArgumentError("unknown order type '" + order + "'"));
        return;
      }
      ctx.order_type = t;
    }
    const bool looks_like_file =
        absl::EndsWith(the_case, ".yaml") || absl::EndsWith(the_case, ".yml") ||
        absl::EndsWith(the_case, ".json") || absl::EndsWith(the_case, ".jsonl");
    if (absl::EndsWith(the_case, ".jsonl")) {
      g.exit_code = ReportError(absl::InvalidArgumentError(
          "--case needs one asb.v1.Case (YAML or JSON) or a case id: event files are not folded "
          "here — submit them and explain the case by its id"));
      return;
    }
    if (!looks_like_file && !std::filesystem::exists(the_case)) {
      auto e = ExplainStoredCase(g, as, agency, the_case, ctx);
      if (!e.ok()) {
        g.exit_code = ReportError(e.status());
        return;
      }
      PrintExplanation(agency, the_case, *e);
      return;
    }
    auto policy = policy::Policy::LoadFile(isp);
    if (!policy.ok()) {
      g.exit_code = ReportPolicyErrors(isp, policy.status());
      return;
    }
    asb::v1::Case c;
    if (absl::Status s = config::LoadConfigFile(the_case, &c); !s.ok()) {
      g.exit_code = ReportError(s);
      return;
    }
    auto e = (*policy)->Explain(agency, c, ctx);
    if (!e.ok()) {
      g.exit_code = ReportError(e.status());
      return;
    }
    PrintExplanation(agency, c.case_id(), *e);
  });
}

void AddTest(CLI::App* cmd, Globals& g) {
  auto* test = cmd->add_subcommand(
      "test", "run a policy test file (asb.config.v1.PolicyTestSuite) of expected decisions");
  static std::string file;
  test->add_option("FILE", file, "policy test file (.yaml or .json)")->required();
  test->callback([&g] {
    auto result = policy::RunPolicyTestFile(file);
    if (!result.ok()) {
      g.exit_code = ReportError(result.status());
      return;
    }
    for (const std::string& f : result->failures) {
      std::printf("FAIL %s\n", f.c_str());
    }
    std::printf("%s: %d of %d tests passed\n", file.c_str(), result->passed, result->tests);
    if (result->passed != result->tests) {
      g.exit_code = 1;
    }
  });
}

void AddDiff(CLI::App* cmd, Globals& g) {
  auto* diff = cmd->add_subcommand(
      "diff", "which agencies gain or lose which fields between two ISP files, rule by rule");
  static std::string old_file, new_file;
  diff->add_option("OLD", old_file, "the ISP in force")->required();
  diff->add_option("NEW", new_file, "the proposed ISP")->required();
  diff->callback([&g] {
    auto old_policy = policy::Policy::LoadFile(old_file);
    if (!old_policy.ok()) {
      g.exit_code = ReportPolicyErrors(old_file, old_policy.status());
      return;
    }
    auto new_policy = policy::Policy::LoadFile(new_file);
    if (!new_policy.ok()) {
      g.exit_code = ReportPolicyErrors(new_file, new_policy.status());
      return;
    }
    std::vector<std::string> lines = policy::DiffIsp((*old_policy)->isp(), (*new_policy)->isp());
    for (const std::string& line : lines) {
      std::printf("%s\n", line.c_str());
    }
    std::printf("%zu changes; version %s -> %s\n", lines.size(), (*old_policy)->version().c_str(),
                (*new_policy)->version().c_str());
  });
}

}  // namespace

void AddPolicyCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "policy", "the Information Sharing Protocol (offline; explain also asks the hub)");
  cmd->require_subcommand(1);
  AddCheck(cmd, g);
  AddExplain(cmd, g);
  AddTest(cmd, g);
  AddDiff(cmd, g);
}

}  // namespace asb::ctl
