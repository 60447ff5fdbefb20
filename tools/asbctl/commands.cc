// asbctl submit, alerts, case, keys and ping; and AddCommands, which registers every command.
#include "tools/asbctl/commands.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/bus/keys.h"
#include "common/config/config.h"
#include "common/crypto/aead.h"
#include "common/status/macros.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/options.h"

namespace asb::ctl {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

// --- submit ---------------------------------------------------------------------------------

// Sends events in batches and prints each one's outcome by its line in the file.
class Submitter {
 public:
  Submitter(HubClient& hub, int batch, std::chrono::seconds retry_for)
      : hub_(hub), batch_(batch), retry_for_(retry_for) {}

  absl::Status Add(int line, asb::v1::CaseEvent event) {
    *request_.mutable_submit()->add_events() = std::move(event);
    lines_.push_back(line);
    return request_.submit().events_size() >= batch_ ? Flush() : absl::OkStatus();
  }

  // A line that is not an event: refused here, never sent.
  void Refuse(int line, const absl::Status& why) {
    ++refused_;
    std::printf("line %d: REFUSED (not sent): not a CaseEvent in JSON: %s\n", line,
                std::string(why.message()).c_str());
  }

  absl::Status Flush() {
    if (request_.submit().events_size() == 0) {
      return absl::OkStatus();
    }
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, CallRetrying());
    for (const auto& r : response.submit().results()) {
      const int line = lines_[r.index()];
      switch (r.outcome()) {
        case asb::v1::SubmitResult::OUTCOME_ACCEPTED:
          ++accepted_;
          std::printf("line %d: accepted %s as hub seq %llu\n", line, r.source_event_id().c_str(),
                      static_cast<unsigned long long>(r.hub_seq()));
          break;
        case asb::v1::SubmitResult::OUTCOME_DUPLICATE:
          ++duplicate_;
          std::printf("line %d: duplicate %s (already hub seq %llu, stored once)\n", line,
                      r.source_event_id().c_str(), static_cast<unsigned long long>(r.hub_seq()));
          break;
        default:
          ++refused_;
          // ALREADY_EXISTS: the id was accepted before with other content (a conflict).
          std::printf(
              "line %d: %s %s: %s\n", line,
              r.status().code() == asb::v1::STATUS_CODE_ALREADY_EXISTS ? "CONFLICT" : "REFUSED",
              r.source_event_id().c_str(), r.status().message().c_str());
      }
    }
    request_.mutable_submit()->clear_events();
    lines_.clear();
    return absl::OkStatus();
  }

  // The tally; a refused line makes the command fail (exit 1).
  absl::Status Summary() const {
    if (retries_ > 0) {
      std::printf(
          "%d retries: the hub answered UNAVAILABLE (retry later) and the batch was sent "
          "again\n",
          retries_);
    }
    std::printf("%d accepted, %d duplicate, %d refused\n", accepted_, duplicate_, refused_);
    if (refused_ > 0) {
      return Quiet(absl::InvalidArgumentError(absl::StrCat(refused_, " events refused")));
    }
    return absl::OkStatus();
  }

 private:
  // Sends request_; an UNAVAILABLE answer (nothing was stored) is sent again for up to
  // retry_for_, said once on stderr and counted.
  absl::StatusOr<asb::v1::Response> CallRetrying() {
    bool said = false;
    return hub_.CallRetryingUnavailable(
        request_, hub_.default_timeout(), retry_for_, [&](const absl::Status& answer) {
          if (g_interrupted != 0) {
            return false;
          }
          if (!said) {
            std::fprintf(stderr, "asbctl: %s; retrying for up to %lld s\n",
                         std::string(answer.message()).c_str(),
                         static_cast<long long>(retry_for_.count()));
            said = true;
          }
          ++retries_;
          return true;
        });
  }

  HubClient& hub_;
  const int batch_;
  const std::chrono::seconds retry_for_;
  int retries_ = 0;
  asb::v1::Request request_;
  std::vector<int> lines_;  // the file line of each event in request_
  int accepted_ = 0;
  int duplicate_ = 0;
  int refused_ = 0;
};

absl::Status RunSubmit(const Globals& g, const SubmitOptions& o) {
  std::ifstream in(o.file);
  if (!in) {
    return absl::NotFoundError(o.file + ": cannot open");
  }
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kIntake, o.as, "feed"));
  Submitter submitter(*hub, o.batch, std::chrono::seconds(o.retry_s));
  std::string text;
  int line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.find_first_not_of(" \t\r") == std::string::npos || text[0] == '#') {
      continue;
    }
    asb::v1::CaseEvent event;
    if (absl::Status s = config::ParseJson(text, &event); !s.ok()) {
      submitter.Refuse(line_no, s);
      continue;
    }
    ASB_RETURN_IF_ERROR(submitter.Add(line_no, std::move(event)));
  }
  ASB_RETURN_IF_ERROR(submitter.Flush());
  return submitter.Summary();
}

// --- alerts ---------------------------------------------------------------------------------

absl::Status RunAlerts(const Globals& g, const AlertsOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       OpenHub(g, Daemon::kNotify, o.as, "partner"));
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  bool first = true;
  while (!g_interrupted) {
    asb::v1::Request request;
    auto* pull = request.mutable_pull_alerts();
    pull->set_max(o.max);
    pull->set_wait_ms(o.follow ? 5000 : 0);
    if (first && o.from_seq > 0) {
      pull->set_from_seq(static_cast<uint64_t>(o.from_seq));
    }
    first = false;
    auto response = hub->Call(request, std::chrono::seconds(20));
    if (!response.ok()) {
      if (g_interrupted) {
        break;
      }
      return response.status();
    }
    const auto& alerts = response->alerts().alerts();
    for (const auto& alert : alerts) {
      std::printf("%s\n", config::ToJson(alert).c_str());
    }
    std::fflush(stdout);
    if (!alerts.empty() && !o.no_ack) {
      asb::v1::Request ack;
      ack.mutable_ack_alerts()->set_through_seq(alerts.rbegin()->agency_seq());
      ASB_RETURN_IF_ERROR(hub->Call(ack).status());
    }
    if (!o.follow && (alerts.empty() || o.no_ack)) {
      break;
    }
  }
  return absl::OkStatus();
}

// --- case -----------------------------------------------------------------------------------

absl::Status RunCaseGet(const Globals& g, const CaseGetOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kSharing, o.as, "partner"));
  asb::v1::Request request;
  request.mutable_get_case()->set_case_id(o.id);
  *request.mutable_get_case()->mutable_on_behalf_of() = OnBehalfOf(o.officer);
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
  std::printf("%s\n", config::ToJson(response.case_view().disclosure()).c_str());
  return absl::OkStatus();
}

absl::Status RunCaseErase(const Globals& g, const CaseEraseOptions& o) {
  for (const auto& [name, daemon] : kDaemons) {
    ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                         HubClient::Open(g.hub_config, daemon, o.as, "admin"));
    asb::v1::Request request;
    request.mutable_erase_case()->set_case_id(o.id);
    request.mutable_erase_case()->set_reference(o.reference);
    auto response = hub->Call(request, std::chrono::seconds(60));
    if (!response.ok()) {
      return FromDaemon(name, response.status());
    }
    std::printf("asb-%s: %u case data key(s) destroyed\n", name,
                response->erase_case().keys_destroyed());
  }
  return absl::OkStatus();
}

// --- keys -----------------------------------------------------------------------------------

absl::Status RunKeysGenerate(const Globals&, const KeysGenerateOptions& o) {
  ASB_ASSIGN_OR_RETURN(bus::KeyPair keys, bus::GenerateKeyPair(o.name));
  ASB_RETURN_IF_ERROR(bus::WriteKeyFiles(o.dir, keys));
  std::printf("%s\n", keys.public_key.c_str());
  return absl::OkStatus();
}

absl::Status RunKeysRotate(const Globals&, const KeysRotateOptions& o) {
  ASB_ASSIGN_OR_RETURN(uint32_t id, crypto::WriteNextRingKey(o.ring));
  std::printf("wrote %s (key id %u)\n", crypto::RingKeyFile(o.ring, id).c_str(), id);
  return absl::OkStatus();
}

// --- ping -----------------------------------------------------------------------------------

absl::Status RunPing(const Globals& g, const PingOptions& o) {
  Daemon daemon = Daemon::kIntake;
  for (const auto& [name, d] : kDaemons) {
    if (name == o.daemon) {
      daemon = d;
    }
  }
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, daemon, o.as, o.kind));
  asb::v1::Request request;
  request.mutable_ping();
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
  const asb::v1::PingResponse& ping = response.ping();
  // Who the hub sees, for a person (stderr); the JSON for scripts (stdout).
  std::fprintf(stderr, "asb-%s knows this key as '%s' (agency %s, %s)\n", ping.component().c_str(),
               ping.principal().c_str(), ping.agency().c_str(),
               asb::v1::Role_Name(ping.role()).c_str());
  std::printf("%s\n", config::ToJson(ping).c_str());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<HubClient>> OpenHub(const Globals& g, Daemon daemon,
                                                   const std::string& as, const std::string& suffix,
                                                   const std::string& trusted_pem) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, daemon, as, suffix));
  if (g.witness_file != "none") {
    hub->KeepWitness(g.witness_file.empty() ? DefaultWitnessFile(hub->config().audit_endpoint())
                                            : g.witness_file,
                     trusted_pem);
  }
  return hub;
}

CLI::App* AddSubmitOptions(CLI::App& parent, SubmitOptions& o) {
  auto* cmd = parent.add_subcommand("submit",
                                    "submit events from a JSON-lines file (one CaseEvent "
                                    "per line, protobuf JSON mapping)");
  cmd->add_option("FILE", o.file, "events file (.jsonl)")->required();
  cmd->add_option("--as", o.as, "feed to submit as: keys_dir/NAME.key or NAME-feed.key")
      ->capture_default_str();
  cmd->add_option("--batch", o.batch, "events per request (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--retry-s", o.retry_s,
                  "keep resending a batch answered UNAVAILABLE (the hub is behind or its disk "
                  "full) this long, backing off from 50 ms to 2 s; 0: do not retry")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  return cmd;
}

CLI::App* AddAlertsOptions(CLI::App& parent, AlertsOptions& o) {
  auto* cmd = parent.add_subcommand("alerts",
                                    "print an agency's alerts as JSON lines and acknowledge them");
  cmd->add_option("--as", o.as, "agency (uses keys_dir/AGENCY-partner.key)")->required();
  cmd->add_flag("--follow,-f", o.follow, "keep waiting for new alerts until Ctrl-C");
  cmd->add_flag("--no-ack", o.no_ack,
                "print without acknowledging (handed out again after the ack timeout)");
  cmd->add_option("--max", o.max, "alerts per pull (1-1000)")->check(CLI::Range(1, 1000));
  cmd->add_option("--from-seq", o.from_seq,
                  "replay from this agency sequence number (gap recovery)");
  return cmd;
}

void AddOfficerOptions(CLI::App* cmd, OfficerOptions& o, bool required) {
  auto* officer =
      cmd->add_option("--officer", o.officer_id,
                      "the officer on whose behalf you ask: their id in your agency's system "
                      "(default $ASBHUB_OFFICER); recorded in the access log")
          ->envname("ASBHUB_OFFICER");
  cmd->add_option("--officer-name", o.officer_name,
                  "the officer's name (default $ASBHUB_OFFICER_NAME)")
      ->envname("ASBHUB_OFFICER_NAME");
  auto* reason = cmd->add_option("--reason", o.reason,
                                 "why the officer looks, in their words (default $ASBHUB_REASON); "
                                 "recorded in the access log")
                     ->envname("ASBHUB_REASON");
  cmd->add_option("--purpose", o.purpose,
                  "the ISP purpose the officer acts under, e.g. policing (optional)");
  if (required) {
    officer->required();
    reason->required();
  }
}

asb::v1::OnBehalfOf OnBehalfOf(const OfficerOptions& o) {
  asb::v1::OnBehalfOf out;
  out.set_officer_id(o.officer_id);
  out.set_officer_name(o.officer_name);
  out.set_purpose(o.purpose);
  out.set_reason(o.reason);
  return out;
}

CLI::App* AddCaseGetOptions(CLI::App& parent, CaseGetOptions& o) {
  auto* cmd = parent.add_subcommand(
      "get", "print the case as AGENCY may see it (JSON), on behalf of a named officer");
  cmd->add_option("ID", o.id, "case id")->required();
  cmd->add_option("--as", o.as, "agency (uses keys_dir/AGENCY-partner.key)")->required();
  AddOfficerOptions(cmd, o.officer, /*required=*/true);
  return cmd;
}

CLI::App* AddCaseEraseOptions(CLI::App& parent, CaseEraseOptions& o) {
  auto* cmd = parent.add_subcommand(
      "erase",
      "destroy a case's data in every daemon (its data keys: the encrypted values become "
      "unreadable at once); the access log is erased separately with `asbctl audit erase`");
  cmd->add_option("ID", o.id, "case id")->required();
  cmd->add_option("--reference", o.reference,
                  "the erasure decision's reference, recorded in the access log (never "
                  "personal data)")
      ->required();
  cmd->add_option("--as", o.as, "admin principal (keys_dir/NAME-admin.key; default hub)");
  return cmd;
}

CLI::App* AddKeysGenerateOptions(CLI::App& parent, KeysGenerateOptions& o) {
  auto* cmd = parent.add_subcommand(
      "generate",
      "write DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub; prints the public "
      "key to list in the ISP's principals");
  cmd->add_option("NAME", o.name, "principal name, e.g. police-partner")->required();
  cmd->add_option("--dir", o.dir, "where to write")->capture_default_str();
  return cmd;
}

CLI::App* AddKeysRotateOptions(CLI::App& parent, KeysRotateOptions& o) {
  auto* cmd = parent.add_subcommand(
      "rotate",
      "write the next at-rest master key of key ring RING (RING.<id>.key, mode 0600; the first "
      "is RING.1.key). The daemon whose store.key_ring is RING encrypts new data with it after "
      "SIGHUP or a restart; keep the older key files, which still decrypt older data");
  cmd->add_option("--ring", o.ring, "key ring path prefix, e.g. config/keys/demo/at-rest-intake")
      ->required();
  return cmd;
}

CLI::App* AddPingOptions(CLI::App& parent, PingOptions& o) {
  auto* cmd = parent.add_subcommand("ping", "ask a daemon who you are to it");
  cmd->add_option("--as", o.as, "principal (keys_dir/NAME.key or NAME-<kind>.key)");
  cmd->add_option("--daemon", o.daemon, "intake, sharing, notify or audit")
      ->check(CLI::IsMember({"intake", "sharing", "notify", "audit"}));
  cmd->add_option("--kind", o.kind, "key kind suffix: feed, partner or auditor");
  return cmd;
}

void AddCommands(CLI::App& app, Globals& g) {
  app.require_subcommand(1);
  app.add_option("--hub", g.hub_config,
                 "client config: endpoints and keys (default config/asbctl.yaml, or "
                 "$ASBHUB_CLIENT_CONFIG)");
  app.add_option("--witness-file", g.witness_file,
                 "where the hub's signed tree heads are kept and every new one checked against "
                 "the last (default: one file per hub in $ASBHUB_WITNESS_DIR or "
                 "~/.local/state/asbhub, or $ASBHUB_WITNESS_FILE; \"none\": off)");
  AddCommand(app, g, AddSubmitOptions, RunSubmit);
  AddCommand(app, g, AddAlertsOptions, RunAlerts);
  auto* case_group = app.add_subcommand("case", "case views");
  case_group->require_subcommand(1);
  AddCommand(*case_group, g, AddCaseGetOptions, RunCaseGet);
  AddCommand(*case_group, g, AddCaseEraseOptions, RunCaseErase);
  AddOrdersCommand(app, g);
  AddAuditCommand(app, g);
  auto* keys_group = app.add_subcommand("keys", "CurveZMQ keys and at-rest key rings");
  keys_group->require_subcommand(1);
  AddCommand(*keys_group, g, AddKeysGenerateOptions, RunKeysGenerate);
  AddCommand(*keys_group, g, AddKeysRotateOptions, RunKeysRotate);
  AddPolicyCommand(app, g);
  AddCommand(app, g, AddPingOptions, RunPing);
  AddStatusCommand(app, g);
  AddDeadLettersCommand(app, g);
  AddImportCommand(app, g);
  AddIntelligenceCommands(app, g);
  AddVictimsCommands(app, g);
}

}  // namespace asb::ctl
