#include "tools/asbctl/commands.h"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/bus/keys.h"
#include "common/config/config.h"
#include "common/policy/policy.h"
#include "google/protobuf/util/time_util.h"
#include "tools/asbctl/hub_client.h"

namespace asb::ctl {
namespace {

using google::protobuf::util::TimeUtil;

volatile std::sig_atomic_t g_interrupted = 0;

absl::StatusOr<std::unique_ptr<HubClient>> Open(const Globals& g, Daemon daemon,
                                                const std::string& as, const std::string& suffix) {
  auto hub = HubClient::Load(g.hub_config);
  if (!hub.ok()) {
    return hub.status();
  }
  if (absl::Status s = (*hub)->Connect(daemon, as, suffix); !s.ok()) {
    return s;
  }
  return hub;
}

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) {
    return s;
  }
  std::string out = "\"";
  for (char c : s) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

absl::StatusOr<google::protobuf::Timestamp> ParseTime(const std::string& text) {
  google::protobuf::Timestamp ts;
  std::string t = text;
  if (t.size() == 10) {
    t += "T00:00:00Z";  // a bare date means its start, UTC
  }
  if (!TimeUtil::FromString(t, &ts)) {
    return absl::InvalidArgumentError("'" + text +
                                      "' is not a time: use 2026-01-31 or 2026-01-31T09:00:00Z");
  }
  return ts;
}

// --- submit ---------------------------------------------------------------------------------

int RunSubmit(const Globals& g, const std::string& file, const std::string& as, int batch) {
  std::ifstream in(file);
  if (!in) {
    return ReportError(absl::NotFoundError(file + ": cannot open"));
  }
  auto hub = Open(g, Daemon::kIntake, as, "feed");
  if (!hub.ok()) {
    return ReportError(hub.status());
  }
  int accepted = 0, duplicate = 0, refused = 0;
  std::vector<int> lines;
  asb::v1::Request request;
  auto flush = [&]() -> absl::Status {
    if (request.submit().events_size() == 0) {
      return absl::OkStatus();
    }
    auto response = (*hub)->Call(request);
    if (!response.ok()) {
      return response.status();
    }
    for (const auto& r : response->submit().results()) {
      int line = lines[r.index()];
      switch (r.outcome()) {
        case asb::v1::SubmitResult::OUTCOME_ACCEPTED:
          ++accepted;
          std::printf("line %d: accepted %s as hub seq %llu\n", line, r.source_event_id().c_str(),
                      static_cast<unsigned long long>(r.hub_seq()));
          break;
        case asb::v1::SubmitResult::OUTCOME_DUPLICATE:
          ++duplicate;
          std::printf("line %d: duplicate %s (already hub seq %llu, stored once)\n", line,
                      r.source_event_id().c_str(), static_cast<unsigned long long>(r.hub_seq()));
          break;
        default:
          ++refused;
          std::printf("line %d: REFUSED %s: %s\n", line, r.source_event_id().c_str(),
                      r.status().message().c_str());
      }
    }
    request.mutable_submit()->clear_events();
    lines.clear();
    return absl::OkStatus();
  };
  std::string text;
  int line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.find_first_not_of(" \t\r") == std::string::npos || text[0] == '#') {
      continue;
    }
    asb::v1::CaseEvent event;
    if (absl::Status s = config::ParseJson(text, &event); !s.ok()) {
      ++refused;
      std::printf("line %d: REFUSED (not sent): not a CaseEvent in JSON: %s\n", line_no,
                  std::string(s.message()).c_str());
      continue;
    }
    *request.mutable_submit()->add_events() = std::move(event);
    lines.push_back(line_no);
    if (request.submit().events_size() >= batch) {
      if (absl::Status s = flush(); !s.ok()) {
        return ReportError(s);
      }
    }
  }
  if (absl::Status s = flush(); !s.ok()) {
    return ReportError(s);
  }
  std::printf("%d accepted, %d duplicate, %d refused\n", accepted, duplicate, refused);
  return refused > 0 ? 1 : 0;
}

// --- alerts ---------------------------------------------------------------------------------

int RunAlerts(const Globals& g, const std::string& as, bool follow, bool no_ack, uint32_t max,
              int64_t from_seq) {
  auto hub = Open(g, Daemon::kNotify, as, "partner");
  if (!hub.ok()) {
    return ReportError(hub.status());
  }
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  bool first = true;
  while (!g_interrupted) {
    asb::v1::Request request;
    auto* pull = request.mutable_pull_alerts();
    pull->set_max(max);
    pull->set_wait_ms(follow ? 5000 : 0);
    if (first && from_seq > 0) {
      pull->set_from_seq(static_cast<uint64_t>(from_seq));
    }
    first = false;
    auto response = (*hub)->Call(request, std::chrono::seconds(20));
    if (!response.ok()) {
      if (g_interrupted) {
        break;
      }
      return ReportError(response.status());
    }
    const auto& alerts = response->alerts().alerts();
    for (const auto& alert : alerts) {
      std::printf("%s\n", config::ToJson(alert).c_str());
    }
    std::fflush(stdout);
    if (!alerts.empty() && !no_ack) {
      asb::v1::Request ack;
      ack.mutable_ack_alerts()->set_through_seq(alerts.rbegin()->agency_seq());
      if (auto r = (*hub)->Call(ack); !r.ok()) {
        return ReportError(r.status());
      }
    }
    if (!follow && (alerts.empty() || no_ack)) {
      break;
    }
  }
  return 0;
}

// --- audit ----------------------------------------------------------------------------------

void PrintAuditTable(const asb::v1::AuditQueryResponse& r) {
  std::printf("%-6s %-20s %-15s %-9s %-20s %-9s %-10s %-22s %s\n", "INDEX", "AT", "KIND", "BY",
              "ACTOR", "TO", "CASE", "RULES", "DETAIL");
  for (const auto& e : r.entries()) {
    const auto& rec = e.record();
    std::vector<std::string> rules;
    for (const auto& j : rec.justifications()) {
      rules.push_back(j.rule_id());
    }
    std::string kind = asb::v1::AuditKind_Name(rec.kind()).substr(11);
    std::string at = TimeUtil::ToString(rec.at()).substr(0, 19);
    std::printf("%-6llu %-20s %-15s %-9s %-20s %-9s %-10s %-22s %s\n",
                static_cast<unsigned long long>(e.index()), at.c_str(), kind.c_str(),
                rec.component().c_str(), rec.actor().c_str(), rec.recipient_agency().c_str(),
                rec.case_id().c_str(), absl::StrJoin(rules, ",").c_str(), rec.detail().c_str());
  }
  std::printf("(%d entries shown of %llu in the log)\n", r.entries_size(),
              static_cast<unsigned long long>(r.log_size()));
}

void PrintAuditCsv(const asb::v1::AuditQueryResponse& r, bool header) {
  if (header) {
    std::printf(
        "index,at,kind,component,actor,actor_agency,recipient_agency,case_id,rules,purposes,"
        "lawful_bases,isp_version,fields,detail\n");
  }
  for (const auto& e : r.entries()) {
    const auto& rec = e.record();
    std::vector<std::string> rules, purposes, bases;
    for (const auto& j : rec.justifications()) {
      rules.push_back(j.rule_id());
      purposes.push_back(j.purpose());
      bases.push_back(j.lawful_basis());
    }
    std::vector<std::string> cols = {std::to_string(e.index()),
                                     TimeUtil::ToString(rec.at()),
                                     asb::v1::AuditKind_Name(rec.kind()).substr(11),
                                     rec.component(),
                                     rec.actor(),
                                     rec.actor_agency(),
                                     rec.recipient_agency(),
                                     rec.case_id(),
                                     absl::StrJoin(rules, ";"),
                                     absl::StrJoin(purposes, ";"),
                                     absl::StrJoin(bases, ";"),
                                     rec.isp_version(),
                                     absl::StrJoin(rec.fields(), ";"),
                                     rec.detail()};
    for (auto& c : cols) {
      c = Csv(c);
    }
    std::printf("%s\n", absl::StrJoin(cols, ",").c_str());
  }
}

}  // namespace

int ReportError(const absl::Status& status) {
  std::fprintf(stderr, "asbctl: error: %s\n", std::string(status.message()).c_str());
  return status.code() == absl::StatusCode::kPermissionDenied ? 2 : 1;
}

void AddSubmitCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("submit",
                                 "submit events from a JSON-lines file (one CaseEvent "
                                 "per line, protobuf JSON mapping)");
  static std::string file, as = "council";
  static int batch = 500;
  cmd->add_option("FILE", file, "events file (.jsonl)")->required();
  cmd->add_option("--as", as, "feed to submit as: keys_dir/NAME.key or NAME-feed.key")
      ->capture_default_str();
  cmd->add_option("--batch", batch, "events per request (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->callback([&g] { g.exit_code = RunSubmit(g, file, as, batch); });
}

void AddAlertsCommand(CLI::App& app, Globals& g) {
  auto* cmd =
      app.add_subcommand("alerts", "print an agency's alerts as JSON lines and acknowledge them");
  static std::string as;
  static bool follow = false, no_ack = false;
  static uint32_t max = 100;
  static int64_t from_seq = 0;
  cmd->add_option("--as", as, "agency (uses keys_dir/AGENCY-partner.key)")->required();
  cmd->add_flag("--follow,-f", follow, "keep waiting for new alerts until Ctrl-C");
  cmd->add_flag("--no-ack", no_ack, "print without acknowledging (they will come again)");
  cmd->add_option("--max", max, "alerts per pull (1-1000)")->check(CLI::Range(1, 1000));
  cmd->add_option("--from-seq", from_seq, "replay from this agency sequence number (gap recovery)");
  cmd->callback([&g] { g.exit_code = RunAlerts(g, as, follow, no_ack, max, from_seq); });
}

void AddCaseCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("case", "case views");
  cmd->require_subcommand(1);
  auto* get = cmd->add_subcommand("get", "print the case as AGENCY may see it (JSON)");
  static std::string id, as;
  get->add_option("ID", id, "case id")->required();
  get->add_option("--as", as, "agency (uses keys_dir/AGENCY-partner.key)")->required();
  get->callback([&g] {
    auto hub = Open(g, Daemon::kSharing, as, "partner");
    if (!hub.ok()) {
      g.exit_code = ReportError(hub.status());
      return;
    }
    asb::v1::Request request;
    request.mutable_get_case()->set_case_id(id);
    auto response = (*hub)->Call(request);
    if (!response.ok()) {
      g.exit_code = ReportError(response.status());
      return;
    }
    std::printf("%s\n", config::ToJson(response->case_view().disclosure()).c_str());
  });
}

void AddAuditCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("audit", "the access log");
  cmd->require_subcommand(1);
  auto* query = cmd->add_subcommand("query", "list access-log entries (filters combine)");
  static std::string as = "dpo", case_id, agency, since, until, actor, subject, format = "table";
  static std::vector<std::string> kinds;
  static uint32_t limit = 1000;
  static bool all = false;
  query->add_option("--as", as, "auditor (keys_dir/NAME.key or NAME-auditor.key)")
      ->capture_default_str();
  query->add_option("--case", case_id, "only this case");
  query->add_option("--agency", agency, "only where this agency acted or received");
  query->add_option("--since", since, "only at or after (2026-01-31 or RFC 3339)");
  query->add_option("--until", until, "only before");
  query->add_option("--actor", actor, "only by this principal");
  query->add_option("--subject", subject, "only about this pseudonymous subject key");
  query->add_option("--kind", kinds, "only these kinds (disclosure, delivery, consultation, …)");
  query->add_option("--limit", limit, "entries per page (1-10000)")->check(CLI::Range(1, 10000));
  query->add_flag("--all", all, "fetch every page");
  query->add_option("--format", format, "table, json (JSON lines) or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  query->callback([&g] {
    asb::v1::Request request;
    auto* q = request.mutable_audit_query();
    q->set_case_id(case_id);
    q->set_agency(agency);
    q->set_actor(actor);
    q->set_subject_key(subject);
    q->set_limit(limit);
    for (const std::string& k : kinds) {
      asb::v1::AuditKind kind;
      std::string name = "AUDIT_KIND_" + k;
      for (char& c : name) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      if (!asb::v1::AuditKind_Parse(name, &kind)) {
        g.exit_code = ReportError(absl::InvalidArgumentError("--kind " + k + ": unknown kind"));
        return;
      }
      q->add_kinds(kind);
    }
    for (auto [text, field] :
         {std::pair{&since, q->mutable_since()}, std::pair{&until, q->mutable_until()}}) {
      if (text->empty()) {
        continue;
      }
      auto ts = ParseTime(*text);
      if (!ts.ok()) {
        g.exit_code = ReportError(ts.status());
        return;
      }
      *field = *ts;
    }
    if (since.empty()) {
      q->clear_since();
    }
    if (until.empty()) {
      q->clear_until();
    }
    auto hub = Open(g, Daemon::kAudit, as, "auditor");
    if (!hub.ok()) {
      g.exit_code = ReportError(hub.status());
      return;
    }
    bool header = true;
    while (true) {
      auto response = (*hub)->Call(request);
      if (!response.ok()) {
        g.exit_code = ReportError(response.status());
        return;
      }
      const auto& r = response->audit();
      if (format == "json") {
        for (const auto& e : r.entries()) {
          std::printf("%s\n", config::ToJson(e).c_str());
        }
      } else if (format == "csv") {
        PrintAuditCsv(r, header);
      } else {
        PrintAuditTable(r);
      }
      header = false;
      if (!all || r.next_after_index() == 0) {
        break;
      }
      q->set_after_index(r.next_after_index());
    }
  });
}

void AddKeysCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("keys", "CurveZMQ keys");
  cmd->require_subcommand(1);
  auto* gen = cmd->add_subcommand(
      "generate",
      "write DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub; prints the public "
      "key to list in the ISP's principals");
  static std::string name, dir = ".";
  gen->add_option("NAME", name, "principal name, e.g. police-partner")->required();
  gen->add_option("--dir", dir, "where to write")->capture_default_str();
  gen->callback([&g] {
    auto keys = bus::GenerateKeyPair(name);
    if (!keys.ok()) {
      g.exit_code = ReportError(keys.status());
      return;
    }
    if (absl::Status s = bus::WriteKeyFiles(dir, *keys); !s.ok()) {
      g.exit_code = ReportError(s);
      return;
    }
    std::printf("%s\n", keys->public_key.c_str());
  });
}

void AddPingCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("ping", "ask a daemon who you are to it");
  static std::string as = "council", daemon = "intake", suffix = "feed";
  cmd->add_option("--as", as, "principal (keys_dir/NAME.key or NAME-<kind>.key)");
  cmd->add_option("--daemon", daemon, "intake, sharing, notify or audit")
      ->check(CLI::IsMember({"intake", "sharing", "notify", "audit"}));
  cmd->add_option("--kind", suffix, "key kind suffix: feed, partner or auditor");
  cmd->callback([&g] {
    Daemon d = daemon == "intake"    ? Daemon::kIntake
               : daemon == "sharing" ? Daemon::kSharing
               : daemon == "notify"  ? Daemon::kNotify
                                     : Daemon::kAudit;
    auto hub = Open(g, d, as, suffix);
    if (!hub.ok()) {
      g.exit_code = ReportError(hub.status());
      return;
    }
    asb::v1::Request request;
    request.mutable_ping();
    auto response = (*hub)->Call(request);
    if (!response.ok()) {
      g.exit_code = ReportError(response.status());
      return;
    }
    std::printf("%s\n", config::ToJson(response->ping()).c_str());
  });
}

}  // namespace asb::ctl
