// asb-loadgen across daemon restarts (issue 19; the reconnects of fca6ce7): the real binary, run
// as an operator runs it, against the four real daemons. While it feeds, asb-notify is killed
// (-9), kept down until a partner has said it is reconnecting, and restarted; then asb-intake,
// until a feed has said so. Its feeds and partners must carry on, and it must match every alert:
// it exits 0, every event accepted once, nothing refused, missed or foreign, and the alerts it
// matched are exactly the alerts the partners' outboxes hold, every one acknowledged.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "asb/v1/api.pb.h"
#include "common/status/macros.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::testing {
namespace {

// The partners asb-loadgen runs (its default), each pulling as <agency>-partner.
const std::vector<std::string> kPartners = {"police", "community-safety", "childrens-services",
                                            "adult-social-care", "probation"};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The head of `stream` served by `daemon`, from its Ping.
absl::StatusOr<uint64_t> StreamHead(Hub& hub, const std::string& daemon,
                                    const std::string& stream) {
  ASB_ASSIGN_OR_RETURN(asb::v1::PingResponse ping, hub.Ping(daemon));
  for (const auto& s : ping.streams()) {
    if (s.name() == stream) {
      return s.head();
    }
  }
  return absl::NotFoundError(absl::StrCat(daemon, " serves no stream ", stream));
}

// Waits until `daemon`'s `stream` has grown past `above` (clients are at work on it).
absl::Status WaitStreamPast(Hub& hub, const std::string& daemon, const std::string& stream,
                            uint64_t above, const std::string& what) {
  return WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        ASB_ASSIGN_OR_RETURN(uint64_t head, StreamHead(hub, daemon, stream));
        return head > above;
      },
      absl::Now() + absl::Seconds(20), what);
}

// The number captured by `pattern` (one group) in asb-loadgen's output, e.g.
// R"(accepted\s+(\d+))" in its summary "accepted      1200 (…".
uint64_t Figure(const std::string& out, const std::string& pattern) {
  std::smatch m;
  uint64_t v = 0;
  if (!std::regex_search(out, m, std::regex(pattern)) || !absl::SimpleAtoi(m[1].str(), &v)) {
    ADD_FAILURE() << "no match for " << pattern << " in asb-loadgen's output:\n" << out;
  }
  return v;
}

// How often asb-loadgen has said so far (its output, written as it runs) that a client of
// `daemon` is reconnecting.
int Reconnecting(const std::string& out, const std::string& daemon) {
  const std::string all = ReadAll(out);
  const std::string text = "reconnecting to asb-" + daemon;
  int n = 0;
  for (std::size_t at = all.find(text); at != std::string::npos; at = all.find(text, at + 1)) {
    ++n;
  }
  return n;
}

// kill -9 of `daemon`, kept down until a client of asb-loadgen has said it is reconnecting to it
// (given up on a call), then started again.
absl::Status CrashUntilNoticed(Hub& hub, const std::string& out, const std::string& daemon) {
  const int before = Reconnecting(out, daemon);
  ASB_RETURN_IF_ERROR(hub.Kill(daemon));
  ASB_RETURN_IF_ERROR(WaitUntil(
      [&]() -> absl::StatusOr<bool> { return Reconnecting(out, daemon) > before; },
      absl::Now() + absl::Seconds(20), "asb-loadgen to say it is reconnecting to asb-" + daemon));
  return hub.StartAndWait(daemon);
}

TEST(LoadgenReconnectTest, FeedsAndPartnersReconnectAcrossRestartsAndMatchEveryAlert) {
  // notify with a short ack timeout: alerts pulled and not acknowledged when it was killed come
  // back within the run.
  TempDir tmp;
  const std::string notify_config = tmp.Sub("notify.yaml");
  {
    std::string yaml = ReadAll(std::string(ASB_SOURCE_DIR) + "/config/notify.yaml");
    ASSERT_NE(yaml.find("ack_timeout_ms: 30000"), std::string::npos);
    std::ofstream(notify_config) << absl::StrReplaceAll(
        yaml, {{"ack_timeout_ms: 30000", "ack_timeout_ms: 1000"}});
  }
  HubOptions options = BuiltHubOptions();
  options.config_files = {{"notify", notify_config}};
  Hub hub(std::move(options));
  ASB_ASSERT_OK(hub.StartAll());

  // What notify has audited before any partner pulled.
  auto audited_at_start = StreamHead(hub, "notify", "audit");
  ASB_ASSERT_OK(audited_at_start.status());

  // About twelve seconds of feeding at 200 events/s; partners stop 3 s after the last alert once
  // everything is acknowledged; a call unanswered for 1 s (beyond a pull's wait) reconnects.
  constexpr uint64_t kEvents = 2400;
  const std::string out = tmp.Sub("loadgen.out");
  std::vector<std::string> args = {"--events",      absl::StrCat(kEvents),
                                   "--rate",        "200",
                                   "--batch",       "20",
                                   "--feeds",       "2",
                                   "--quiet-ms",    "3000",
                                   "--reconnect-s", "20",
                                   "--timeout-ms",  "1000",
                                   "--partners"};
  args.insert(args.end(), kPartners.begin(), kPartners.end());
  args.insert(args.begin(), {ASB_LOADGEN_BIN, "--hub", "config/asbctl.yaml"});
  const pid_t loadgen = SpawnTool(hub, args, out);
  ASSERT_GT(loadgen, 0);
  int status = -1;
  auto exited = [&]() -> absl::StatusOr<bool> {
    const pid_t r = waitpid(loadgen, &status, WNOHANG);
    if (r == loadgen) {
      return true;
    }
    if (r < 0) {
      return absl::InternalError("waitpid failed");
    }
    return false;
  };
  struct Reaper {  // a failed assertion leaves no asb-loadgen behind
    pid_t pid;
    bool* done;
    ~Reaper() {
      if (!*done) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  };
  bool reaped = false;
  Reaper reaper{loadgen, &reaped};

  // Feeding, and the partners are pulling (notify audits each delivery and acknowledgement).
  ASB_ASSERT_OK(WaitStreamPast(hub, "intake", "events", 100, "asb-loadgen's feeds submitting"));
  ASB_ASSERT_OK(
      WaitStreamPast(hub, "notify", "audit", *audited_at_start, "asb-loadgen's partners pulling"));

  // asb-notify crashes and stays down until a partner has given up on its call; then it comes
  // back.
  const absl::Status notify_crashed = CrashUntilNoticed(hub, out, "notify");
  ASSERT_TRUE(notify_crashed.ok()) << notify_crashed << "\n" << ReadAll(out);
  auto audited_at_restart = StreamHead(hub, "notify", "audit");
  ASB_ASSERT_OK(audited_at_restart.status());

  // The same for asb-intake and the feeds, which then submit again: new alerts, which the
  // partners can only get over their new connections.
  const absl::Status intake_crashed = CrashUntilNoticed(hub, out, "intake");
  ASSERT_TRUE(intake_crashed.ok()) << intake_crashed << "\n" << ReadAll(out);
  auto events = StreamHead(hub, "intake", "events");
  ASB_ASSERT_OK(events.status());
  ASB_ASSERT_OK(WaitStreamPast(hub, "intake", "events", *events,
                               "the feeds submitting again after intake's restart"));
  ASB_ASSERT_OK(WaitStreamPast(hub, "notify", "audit", *audited_at_restart,
                               "the partners pulling again after notify's restart"));

  ASB_ASSERT_OK(WaitUntil(exited, absl::Now() + absl::Seconds(60), "asb-loadgen to finish"));
  reaped = true;
  const std::string report = ReadAll(out);
  std::printf("%s", report.c_str());
  ASSERT_TRUE(WIFEXITED(status)) << report;
  EXPECT_EQ(WEXITSTATUS(status), 0) << report;

  // Every event accepted once (a retried batch's stored events come back as duplicates).
  EXPECT_EQ(Figure(report, R"(accepted\s+(\d+))"), kEvents) << report;
  EXPECT_EQ(Figure(report, R"(refused (\d+))"), 0u) << report;
  EXPECT_GE(Figure(report, R"(retried batches (\d+))"), 1u) << report;
  EXPECT_GE(Figure(report, R"(reconnects\s+feeds (\d+))"), 1u) << report;
  EXPECT_GE(Figure(report, R"(reconnects\s+feeds \d+, partners (\d+))"), 1u) << report;
  EXPECT_EQ(Figure(report, R"(missed (\d+)\))"), 0u) << report;
  EXPECT_EQ(Figure(report, R"(other runs' (\d+))"), 0u) << report;
  // Timed to the hub wholly processed: every consumer at its upstream's head (access log written).
  EXPECT_EQ(
      Figure(
          report,
          R"(processed\s+(\d+) events \(alerts delivered and acknowledged, access log written\))"),
      kEvents)
      << report;

  // What the hub holds: each partner's outbox acknowledged to its head, and the alerts asb-loadgen
  // matched to its own events and the hub's own alerts (orders' statutory notices: the load
  // issues orders) are all of them (a fresh hub: no other run's alerts).
  ASB_ASSERT_OK(hub.WaitDrained());
  uint64_t alerts = 0;
  for (const std::string& agency : kPartners) {
    auto pulled = hub.PullAlerts(agency + "-partner");
    ASB_ASSERT_OK(pulled.status());
    EXPECT_EQ(pulled->acked_through(), pulled->head()) << agency;
    EXPECT_TRUE(pulled->alerts().empty()) << agency;
    alerts += pulled->head();
  }
  EXPECT_GT(alerts, 0u);
  EXPECT_EQ(Figure(report, R"(delivered\s+(\d+))") + Figure(report, R"(the hub's own (\d+))"),
            alerts)
      << report;
  ASB_EXPECT_OK(hub.StopAll());
}

}  // namespace
}  // namespace asb::testing
