// asbctl policy: check, explain, test and diff Information Sharing Protocols — offline, except
// `explain --case ID`, which asks asb-sharing about a case it holds.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/agreement/agreement.h"
#include "common/config/config.h"
#include "common/policy/policy.h"
#include "common/policy/policy_diff.h"
#include "common/policy/policy_suite.h"
#include "common/status/macros.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/options.h"
#include "tools/asbctl/policy_document.h"

namespace asb::ctl {
namespace {

// An ISP file; its load errors are listed one per line.
absl::StatusOr<std::shared_ptr<const policy::Policy>> LoadIsp(const std::string& file) {
  auto policy = policy::Policy::LoadFile(file);
  if (!policy.ok()) {
    return FileProblems(file, policy.status());
  }
  return policy;
}

absl::Status RunCheck(const Globals&, const PolicyCheckOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy, LoadIsp(o.file));
  // Whether the hub would load it today: a lapsed agreement is refused as the daemons refuse it.
  const agreement::ReviewStatus review = agreement::AssessReview(policy->isp(), absl::Now());
  if (review.state == agreement::ReviewStatus::State::kLapsed) {
    return FileProblems(o.file, absl::InvalidArgumentError(absl::StrCat(
                                    o.file, ": agreement.review.due: ", review.Describe())));
  }
  std::printf("%s: valid; version %s; %zu agencies, %d rules, %d notification rules\n",
              o.file.c_str(), policy->version().c_str(), policy->agencies().size(),
              policy->isp().rules_size(), policy->isp().notification_rules_size());
  std::printf("%s\n", review.Describe().c_str());
  // Findings that do not refuse the ISP: free text beside withheld person fields.
  for (const std::string& w : policy->warnings()) {
    std::printf("warning: %s\n", w.c_str());
  }
  for (const std::string& r : policy->reviewed()) {
    std::printf("reviewed: %s\n", r.c_str());
  }
  if (!policy->warnings().empty()) {
    std::printf("%zu warnings\n", policy->warnings().size());
  }
  return absl::OkStatus();
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
                                                              const PolicyExplainOptions& o,
                                                              const policy::EventContext& ctx) {
  if (o.officer.officer_id.empty() || o.officer.reason.empty()) {
    return absl::InvalidArgumentError(
        "--case " + o.case_ref +
        " is a case the hub holds: reading it needs --officer ID (or $ASBHUB_OFFICER) and "
        "--reason TEXT, recorded in the access log");
  }
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kSharing, o.as, "admin"));
  asb::v1::Request request;
  asb::v1::ExplainCaseRequest* q = request.mutable_explain_case();
  q->set_case_id(o.case_ref);
  q->set_agency(o.agency);
  q->set_event_type(ctx.event_type);
  q->set_order_type(ctx.order_type);
  *q->mutable_on_behalf_of() = OnBehalfOf(o.officer);
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

// An enum value by its name, with or without the prefix: "ORDER_ISSUED" or
// "EVENT_TYPE_ORDER_ISSUED". kInvalidArgument says which `kind` of value was unknown.
template <class Enum>
absl::StatusOr<Enum> ParseEnumName(const std::string& text, const std::string& prefix,
                                   const char* kind, bool (*parse)(const std::string&, Enum*)) {
  Enum value;
  if (!parse(absl::StartsWith(text, prefix) ? text : prefix + text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown ", kind, " '", text, "'"));
  }
  return value;
}

absl::Status RunExplain(const Globals& g, const PolicyExplainOptions& o) {
  policy::EventContext ctx;
  if (!o.event.empty()) {
    ASB_ASSIGN_OR_RETURN(ctx.event_type, ParseEnumName(o.event, "EVENT_TYPE_", "event type",
                                                       &asb::v1::EventType_Parse));
  }
  if (!o.order_type.empty()) {
    ASB_ASSIGN_OR_RETURN(ctx.order_type, ParseEnumName(o.order_type, "ORDER_TYPE_", "order type",
                                                       &asb::v1::OrderType_Parse));
  }
  const std::string& ref = o.case_ref;
  const bool looks_like_file = absl::EndsWith(ref, ".yaml") || absl::EndsWith(ref, ".yml") ||
                               absl::EndsWith(ref, ".json") || absl::EndsWith(ref, ".jsonl");
  if (absl::EndsWith(ref, ".jsonl")) {
    return absl::InvalidArgumentError(
        "--case needs one asb.v1.Case (YAML or JSON) or a case id: event files are not folded "
        "here — submit them and explain the case by its id");
  }
  if (!looks_like_file && !std::filesystem::exists(ref)) {
    ASB_ASSIGN_OR_RETURN(policy::Policy::Explanation e, ExplainStoredCase(g, o, ctx));
    PrintExplanation(o.agency, ref, e);
    return absl::OkStatus();
  }
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> policy, LoadIsp(o.isp));
  asb::v1::Case c;
  ASB_RETURN_IF_ERROR(config::LoadConfigFile(ref, &c));
  ASB_ASSIGN_OR_RETURN(policy::Policy::Explanation e, policy->Explain(o.agency, c, ctx));
  PrintExplanation(o.agency, c.case_id(), e);
  return absl::OkStatus();
}

absl::Status RunTest(const Globals&, const PolicyTestOptions& o) {
  ASB_ASSIGN_OR_RETURN(policy::SuiteResult result, policy::RunPolicyTestFile(o.file));
  for (const std::string& f : result.failures) {
    std::printf("FAIL %s\n", f.c_str());
  }
  std::printf("%s: %d of %d tests passed\n", o.file.c_str(), result.passed, result.tests);
  if (result.passed != result.tests) {
    return Quiet(absl::FailedPreconditionError(
        absl::StrCat(result.tests - result.passed, " policy tests failed")));
  }
  return absl::OkStatus();
}

absl::Status RunDiff(const Globals&, const PolicyDiffOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> old_policy, LoadIsp(o.old_file));
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const policy::Policy> new_policy, LoadIsp(o.new_file));
  const std::vector<std::string> lines = policy::DiffIsp(old_policy->isp(), new_policy->isp());
  for (const std::string& line : lines) {
    std::printf("%s\n", line.c_str());
  }
  std::printf("%zu changes; version %s -> %s\n", lines.size(), old_policy->version().c_str(),
              new_policy->version().c_str());
  return absl::OkStatus();
}

}  // namespace

CLI::App* AddPolicyCheckOptions(CLI::App& parent, PolicyCheckOptions& o) {
  auto* cmd = parent.add_subcommand(
      "check",
      "load and check an ISP file; print its version, and warn where free text is shown beside "
      "withheld person fields");
  cmd->add_option("FILE", o.file, "ISP file (.yaml or .json)")->required();
  return cmd;
}

CLI::App* AddPolicyExplainOptions(CLI::App& parent, PolicyExplainOptions& o) {
  auto* cmd = parent.add_subcommand(
      "explain",
      "for every field of a case: shown, transformed or withheld for an agency, and "
      "by which rule");
  cmd->add_option("--isp", o.isp,
                  "ISP file for a case file (default config/isp/chesterfield.yaml)");
  cmd->add_option("--agency", o.agency, "agency id, e.g. fire")->required();
  cmd->add_option("--case", o.case_ref,
                  "a case file (one asb.v1.Case, .yaml or .json), explained offline with --isp; "
                  "or the id of a case the hub holds, explained by asb-sharing with the ISP "
                  "in force (needs an admin key, see --as)")
      ->required();
  cmd->add_option("--as", o.as,
                  "for a case id: the admin principal (keys_dir/NAME.key or NAME-admin.key; "
                  "default hub)");
  cmd->add_option("--event", o.event,
                  "event being shared, e.g. EVENT_TYPE_ORDER_ISSUED or ORDER_ISSUED");
  cmd->add_option("--order-type", o.order_type,
                  "order type the event concerns, e.g. CRIMINAL_BEHAVIOUR_ORDER");
  // A stored case is read on behalf of a named officer, as `case get` (asb-sharing refuses the
  // request without --officer and --reason); a case file needs none.
  AddOfficerOptions(cmd, o.officer, /*required=*/false);
  return cmd;
}

CLI::App* AddPolicyTestOptions(CLI::App& parent, PolicyTestOptions& o) {
  auto* cmd = parent.add_subcommand(
      "test", "run a policy test file (asb.config.v1.PolicyTestSuite) of expected decisions");
  cmd->add_option("FILE", o.file, "policy test file (.yaml or .json)")->required();
  return cmd;
}

CLI::App* AddPolicyDiffOptions(CLI::App& parent, PolicyDiffOptions& o) {
  auto* cmd = parent.add_subcommand(
      "diff", "which agencies gain or lose which fields between two ISP files, rule by rule");
  cmd->add_option("OLD", o.old_file, "the ISP in force")->required();
  cmd->add_option("NEW", o.new_file, "the proposed ISP")->required();
  return cmd;
}

void AddPolicyCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "policy", "the Information Sharing Protocol (offline; explain also asks the hub)");
  cmd->require_subcommand(1);
  AddCommand(*cmd, g, AddPolicyCheckOptions, RunCheck);
  AddCommand(*cmd, g, AddPolicyExplainOptions, RunExplain);
  AddCommand(*cmd, g, AddPolicyTestOptions, RunTest);
  AddCommand(*cmd, g, AddPolicyDiffOptions, RunDiff);
  AddCommand(*cmd, g, AddPolicyDocumentOptions, RunPolicyDocument);
}

}  // namespace asb::ctl
