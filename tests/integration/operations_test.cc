// What an operator sees of the four real daemons: /metrics (Prometheus text), /healthz and
// /readyz on each daemon's metrics address, the same counters as a Ping, no personal data in
// any label, readiness following an upstream, and a metrics port in use refused at start.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/http_get.h"
#include "tests/support/status_matchers.h"

namespace asb::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCase[] = "CBC-2026-0142";

class OperationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<Hub>(BuiltHubOptions());
    ASB_ASSERT_OK(hub_->StartAll());
  }

  HttpAnswer Get(const std::string& daemon, const std::string& path) {
    return GetFromDaemon(*hub_, daemon, path);
  }

  // The value of the sample `series` (name and labels exactly as rendered) of `daemon`.
  double Sample(const std::string& daemon, const std::string& series) {
    const std::string text = Get(daemon, "/metrics").body;
    std::optional<double> v = MetricValue(text, series);
    EXPECT_TRUE(v.has_value()) << daemon << ": no " << series << " in\n" << text;
    return v.value_or(-1);
  }

  absl::Status WaitReady(const std::string& daemon, bool ready) {
    return WaitUntil(
        [&]() -> absl::StatusOr<bool> { return (Get(daemon, "/readyz").status == 200) == ready; },
        absl::Now() + absl::Seconds(30), absl::StrCat(daemon, " /readyz ", ready ? "200" : "503"),
        absl::Milliseconds(100));
  }

  std::unique_ptr<Hub> hub_;
};

TEST_F(OperationsTest, EveryDaemonServesMetricsHealthAndReadiness) {
  for (const std::string& d : Hub::Daemons()) {
    SCOPED_TRACE(d);
    const HttpAnswer metrics = Get(d, "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_THAT(metrics.body, HasSubstr("# TYPE asb_bad_messages_total counter\n"));
    EXPECT_THAT(metrics.body, HasSubstr("asb_refused_handshakes_total "));
    EXPECT_THAT(metrics.body, HasSubstr("asb_isp_info{version=\""));
    EXPECT_THAT(metrics.body, HasSubstr("asb_store_fsync_seconds_bucket{le=\"+Inf\"}"));
    EXPECT_THAT(metrics.body, HasSubstr("asb_store_free_bytes "));
    EXPECT_EQ(Get(d, "/healthz").status, 200);
    ASB_EXPECT_OK(WaitReady(d, true));
    EXPECT_EQ(Get(d, "/nothing").status, 404);
  }
  EXPECT_THAT(Get("sharing", "/metrics").body,
              HasSubstr("asb_consumer_lag{upstream=\"intake\",stream=\"events\"} "));
  EXPECT_THAT(Get("audit", "/metrics").body, HasSubstr("asb_audit_log_bytes "));
}

TEST_F(OperationsTest, CountersAreTheSameOnMetricsAndPingAndCarryNoPersonalData) {
  auto demo = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
  ASB_ASSERT_OK(demo);
  ASB_ASSERT_OK(hub_->Submit("council-feed", *demo).status());
  ASB_ASSERT_OK(hub_->Submit("council-feed", *demo).status());  // every one a duplicate
  asb::v1::CaseEvent bad = (*demo)[0];
  bad.set_source_event_id("bad-1");
  bad.clear_case_id();
  ASB_ASSERT_OK(hub_->Submit("council-feed", {bad}).status());
  ASB_ASSERT_OK(hub_->WaitDrained());

  const double n = static_cast<double>(demo->size());
  EXPECT_EQ(Sample("intake", "asb_events_accepted_total"), n);
  EXPECT_EQ(Sample("intake", "asb_events_duplicate_total"), n);
  EXPECT_EQ(Sample("intake", "asb_events_refused_total{reason=\"invalid_argument\"}"), 1);
  auto ping = hub_->Ping("intake");
  ASB_ASSERT_OK(ping);
  std::map<std::string, uint64_t> counters;
  for (const auto& c : ping->counters()) {
    counters[c.name()] = c.value();
  }
  EXPECT_EQ(counters["events_accepted"], demo->size());
  EXPECT_EQ(counters["events_refused{reason=\"invalid_argument\"}"], 1u);

  // Alerts wait for the police until they pull and acknowledge.
  EXPECT_GT(Sample("notify", "asb_outbox_depth{agency=\"police\"}"), 0);
  EXPECT_GT(Sample("notify", "asb_outbox_oldest_unacked_age_seconds{agency=\"police\"}"), -1);
  EXPECT_EQ(Sample("notify", "asb_consumer_lag{upstream=\"sharing\",stream=\"disclosures\"}"), 0);
  auto pulled = hub_->PullAlerts("police-partner");
  ASB_ASSERT_OK(pulled);
  ASSERT_GT(pulled->alerts_size(), 0);
  ASB_ASSERT_OK(hub_->Ack("police-partner", pulled->head()).status());
  EXPECT_EQ(Sample("notify", "asb_outbox_depth{agency=\"police\"}"), 0);
  EXPECT_EQ(Sample("notify", "asb_outbox_oldest_unacked_age_seconds{agency=\"police\"}"), 0);
  EXPECT_GT(Sample("audit", "asb_entries_total"), 0);

  // No case id, person id or subject key in any daemon's metrics.
  for (const std::string& d : Hub::Daemons()) {
    const std::string text = Get(d, "/metrics").body;
    EXPECT_THAT(text, Not(HasSubstr(kCase))) << d;
    EXPECT_THAT(text, Not(HasSubstr("P-2291"))) << d;
    for (const auto& alert : pulled->alerts()) {
      for (const std::string& key : alert.disclosure().subject_keys()) {
        EXPECT_THAT(text, Not(HasSubstr(key))) << d;
      }
    }
  }
}

TEST_F(OperationsTest, NotReadyWhileAnUpstreamIsDownAndReadyAgainWhenItIsBack) {
  ASB_ASSERT_OK(WaitReady("notify", true));
  ASB_ASSERT_OK(hub_->Stop("sharing"));
  ASB_ASSERT_OK(WaitReady("notify", false));
  const HttpAnswer answer = Get("notify", "/readyz");
  EXPECT_EQ(answer.status, 503);
  EXPECT_THAT(answer.body, HasSubstr("upstream sharing"));
  EXPECT_EQ(Get("notify", "/healthz").status, 200);  // alive all the same
  EXPECT_EQ(Sample("notify", "asb_ready"), 0);
  ASB_ASSERT_OK(hub_->StartAndWait("sharing"));
  ASB_EXPECT_OK(WaitReady("notify", true));
}

TEST(OperationsStartTest, AMetricsPortInUseIsAStartUpErrorNamingIt) {
  // Hold a port, as another program would.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string taken = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));

  HubOptions options = BuiltHubOptions();
  options.env["ASBHUB_INTAKE_METRICS"] = taken;
  Hub hub(options);
  ASB_ASSERT_OK(hub.Start("intake"));
  absl::Status ready = hub.WaitReady("intake", absl::Now() + absl::Seconds(30));
  EXPECT_FALSE(ready.ok());
  EXPECT_FALSE(hub.Running("intake"));
  EXPECT_THAT(hub.LogTail("intake"), HasSubstr("server.metrics_bind: cannot listen on " + taken));
  ::close(fd);
}

}  // namespace
}  // namespace asb::testing
