// Webhook delivery end to end: the real asb-notify (shipped config plus a webhook for the police)
// POSTs each police alert to a real HTTPS receiver (tests/support/https_receiver, its CA made
// here) that fails, times out, recovers, refuses with 4xx, and sees asb-notify killed -9 in the
// middle of an attempt. Nothing is lost; duplicates are bounded and carry the same alert id.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/config/config.h"
#include "services/notify/webhook_signature.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/http_get.h"
#include "tests/support/https_receiver.h"
#include "tests/support/status_matchers.h"

namespace asb::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kSecret[] = "webhook-test-secret-0123456789abcdef";

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto receiver = HttpsReceiver::Start();
    ASB_ASSERT_OK(receiver);
    receiver_ = std::move(*receiver);
    const std::string secret_file = dir_.path() + "/police.secret";
    {
      std::ofstream out(secret_file);
      out << kSecret << "\n";
    }
    ::chmod(secret_file.c_str(), 0600);
    std::string shipped;
    ASB_ASSERT_OK(config::ReadFile(std::string(ASB_SOURCE_DIR) + "/config/notify.yaml", &shipped));
    const std::string config_file = dir_.path() + "/notify.yaml";
    std::ofstream out(config_file);
    out << shipped << "\nwebhooks:\n"
        << "  - agency: police\n"
        << "    url: \"" << receiver_->url() << "\"\n"
        << "    ca_file: \"" << receiver_->pki().ca_file << "\"\n"
        << "    secret_file: \"" << secret_file << "\"\n"
        << "    timeout_ms: 500\n"
        << "    max_attempts: 5\n"
        << "    initial_backoff_ms: 50\n"
        << "    max_backoff_ms: 200\n";
    out.close();
    HubOptions options = BuiltHubOptions();
    options.config_files["notify"] = config_file;
    hub_ = std::make_unique<Hub>(options);
    ASB_ASSERT_OK(hub_->StartAll());
  }

  // Submits the demo case; returns how many alerts the police get for it.
  uint64_t SubmitDemo() {
    auto demo = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
    EXPECT_TRUE(demo.ok()) << demo.status();
    EXPECT_TRUE(hub_->Submit("council-feed", *demo).ok());
    EXPECT_TRUE(hub_->WaitDrained().ok());
    auto ping = hub_->PullAlerts("police-partner", 1000, 0, /*from_seq=*/1);  // a replay: no ack
    EXPECT_TRUE(ping.ok()) << ping.status();
    return ping.ok() ? ping->head() : 0;
  }

  double NotifyMetric(const std::string& series) {
    return MetricValue(GetFromDaemon(*hub_, "notify", "/metrics").body, series).value_or(-1);
  }

  // Waits until the police's acknowledged cursor plus dead letters cover `n` alerts.
  absl::Status WaitSettled(uint64_t n) {
    return WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          return NotifyMetric("asb_outbox_depth{agency=\"police\"}") == 0 &&
                 NotifyMetric("asb_webhook_acknowledged_total{agency=\"police\"}") +
                         NotifyMetric("asb_dead_letters{agency=\"police\"}") >=
                     static_cast<double>(n);
        },
        absl::Now() + absl::Seconds(60), "every police alert acknowledged or dead-lettered",
        absl::Milliseconds(50));
  }

  // Alert id → how many 2xx answers it got (from the receiver's own record).
  std::map<std::string, int> Acknowledged(const std::set<std::size_t>& not_2xx) {
    std::map<std::string, int> out;
    const auto requests = receiver_->requests();
    for (std::size_t i = 0; i < requests.size(); ++i) {
      if (!not_2xx.contains(i)) {
        ++out[requests[i].alert_id];
      }
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<HttpsReceiver> receiver_;
  std::unique_ptr<Hub> hub_;
};

TEST_F(WebhookTest, AReceiverThatFailsTimesOutAndRecoversGetsEveryAlertOnce) {
  // Answers 503 twice, holds the third request past the 500 ms timeout, then accepts.
  receiver_->SetBehaviour([](const HttpsReceiver::Request& r) {
    return r.index < 2 ? 503 : r.index == 2 ? HttpsReceiver::kHold : 200;
  });
  const uint64_t alerts = SubmitDemo();
  ASSERT_GT(alerts, 0u);
  ASSERT_TRUE(receiver_->WaitForRequests(3, absl::Seconds(30)));
  receiver_->Release();  // the held one is answered 503 after notify gave up on it
  ASSERT_TRUE(receiver_->WaitForRequests(alerts + 3, absl::Seconds(60)));
  ASB_ASSERT_OK(WaitSettled(alerts));

  const std::map<std::string, int> acked = Acknowledged({0, 1, 2});
  ASSERT_EQ(acked.size(), alerts);  // every alert, none lost
  for (uint64_t seq = 1; seq <= alerts; ++seq) {
    auto it = acked.find(absl::StrCat("police/", seq));
    EXPECT_TRUE(it != acked.end() && it->second == 1) << seq;  // each acknowledged once
  }
  const auto requests = receiver_->requests();
  EXPECT_EQ(requests[0].alert_id, "police/1");
  EXPECT_EQ(requests[1].attempt, "2");  // the retries of alert 1
  EXPECT_EQ(requests[3].alert_id, "police/1");
  for (const auto& r : requests) {
    ASB_EXPECT_OK(notify::VerifyWebhook(kSecret, r.signature, r.body, absl::Now()));
    EXPECT_THAT(r.body, HasSubstr("\"agency\":\"police\""));
  }
  EXPECT_EQ(NotifyMetric("asb_webhook_failed_total{agency=\"police\"}"), 3);
  EXPECT_EQ(NotifyMetric("asb_dead_letters{agency=\"police\"}"), 0);

  // Every attempt is on the access log: the failures with their cause.
  asb::v1::AuditQueryRequest q;
  q.add_kinds(asb::v1::AUDIT_KIND_DELIVERY_FAILED);
  auto failures = hub_->AuditQueryAll("dpo-auditor", q);
  ASB_ASSERT_OK(failures);
  ASSERT_GE(failures->size(), 3u);
  EXPECT_THAT((*failures)[0].record().detail(), HasSubstr("HTTP 503"));
}

TEST_F(WebhookTest, AReceiverAnswering4xxForeverDeadLettersEachAlertOnceAndNeverLoops) {
  receiver_->SetBehaviour([](const HttpsReceiver::Request&) { return 400; });
  const uint64_t alerts = SubmitDemo();
  ASSERT_GT(alerts, 0u);
  ASB_ASSERT_OK(WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        return NotifyMetric("asb_dead_letters{agency=\"police\"}") == static_cast<double>(alerts);
      },
      absl::Now() + absl::Seconds(60), "every police alert dead-lettered", absl::Milliseconds(50)));
  EXPECT_EQ(receiver_->requests().size(), alerts);  // one attempt each: no loop
  asb::v1::Request list;
  list.mutable_list_dead_letters();
  auto dead = hub_->Call("notify", "police-partner", list);
  ASB_ASSERT_OK(dead);
  ASSERT_EQ(dead->dead_letters().dead_letters_size(), static_cast<int>(alerts));
  EXPECT_THAT(dead->dead_letters().dead_letters(0).reason(), HasSubstr("HTTP 400"));
}

TEST_F(WebhookTest, KilledDuringAnAttemptItSendsTheSameAlertAgainAndLosesNothing) {
  receiver_->SetBehaviour([](const HttpsReceiver::Request&) { return HttpsReceiver::kHold; });
  const uint64_t alerts = SubmitDemo();
  ASSERT_GT(alerts, 0u);
  ASSERT_TRUE(receiver_->WaitForRequests(1, absl::Seconds(30)));
  ASB_ASSERT_OK(hub_->Kill("notify"));  // kill -9 with the POST of alert 1 unanswered
  receiver_->Release();                 // its answer (503) reaches no one
  ASB_ASSERT_OK(hub_->StartAndWait("notify"));
  ASSERT_TRUE(receiver_->WaitForRequests(alerts + 1, absl::Seconds(60)));
  ASB_ASSERT_OK(WaitSettled(alerts));
  const std::map<std::string, int> acked = Acknowledged({0});
  ASSERT_EQ(acked.size(), alerts);
  for (const auto& [id, n] : acked) {
    EXPECT_EQ(n, 1) << id;
  }
  const auto requests = receiver_->requests();
  EXPECT_EQ(requests[0].alert_id, "police/1");
  EXPECT_EQ(requests[1].alert_id, "police/1");  // at least once: the same id again
  EXPECT_EQ(requests[1].attempt, "2");
}

}  // namespace
}  // namespace asb::testing
