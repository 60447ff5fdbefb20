#include "tools/asbctl/commands.h"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/bus/keys.h"
#include "common/config/config.h"
#include "common/crypto/aead.h"
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
  cmd->add_flag("--no-ack", no_ack,
                "print without acknowledging (handed out again after the ack timeout)");
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

  auto* erase = cmd->add_subcommand(
      "erase",
      "destroy a case's data in every daemon (its data keys: the encrypted values become "
      "unreadable at once); the access log is erased separately with `asbctl audit erase`");
  static std::string erase_id, reference, admin = "hub";
  erase->add_option("ID", erase_id, "case id")->required();
  erase
      ->add_option("--reference", reference,
                   "the erasure decision's reference, recorded in the access log (never "
                   "personal data)")
      ->required();
  erase->add_option("--as", admin, "admin principal (keys_dir/NAME-admin.key; default hub)");
  erase->callback([&g] {
    const std::pair<const char*, Daemon> daemons[] = {{"intake", Daemon::kIntake},
                                                      {"sharing", Daemon::kSharing},
                                                      {"notify", Daemon::kNotify},
                                                      {"audit", Daemon::kAudit}};
    for (const auto& [name, daemon] : daemons) {
      auto hub = Open(g, daemon, admin, "admin");
      if (!hub.ok()) {
        g.exit_code = ReportError(hub.status());
        return;
      }
      asb::v1::Request request;
      request.mutable_erase_case()->set_case_id(erase_id);
      request.mutable_erase_case()->set_reference(reference);
      auto response = (*hub)->Call(request, std::chrono::seconds(60));
      if (!response.ok()) {
        std::fprintf(stderr, "asb-%s: ", name);
        g.exit_code = ReportError(response.status());
        return;
      }
      std::printf("asb-%s: %u case data key(s) destroyed\n", name,
                  response->erase_case().keys_destroyed());
    }
  });
}

void AddKeysCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("keys", "CurveZMQ keys and at-rest key rings");
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

  auto* rotate = cmd->add_subcommand(
      "rotate",
      "write the next at-rest master key of key ring RING (RING.<id>.key, mode 0600; the first "
      "is RING.1.key). The daemon whose store.key_ring is RING encrypts new data with it after "
      "SIGHUP or a restart; keep the older key files, which still decrypt older data");
  static std::string ring;
  rotate->add_option("--ring", ring, "key ring path prefix, e.g. config/keys/demo/at-rest-intake")
      ->required();
  rotate->callback([&g] {
    auto id = crypto::WriteNextRingKey(ring);
    if (!id.ok()) {
      g.exit_code = ReportError(id.status());
      return;
    }
    std::printf("wrote %s (key id %u)\n", crypto::RingKeyFile(ring, *id).c_str(), *id);
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
