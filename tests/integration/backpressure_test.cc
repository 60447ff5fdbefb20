// Backpressure on the real daemons (issue 18): a consumer held back (asb-notify or asb-audit
// stopped) makes asb-intake refuse submissions whole with UNAVAILABLE saying how far the
// pipeline is behind, and accept again once the consumer is back and has caught up; nothing
// accepted is lost and a refused batch is stored in no part.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/http_get.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kBatch = 10;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes a copy of config/<name>.yaml into `dir` with its backpressure bound set to `max_lag`.
std::string ConfigWithBound(const TempDir& dir, const std::string& name, uint64_t max_lag) {
  const std::string shipped = ReadFile(absl::StrCat(ASB_SOURCE_DIR, "/config/", name, ".yaml"));
  const std::string old_bound = name == "intake" ? "max_lag: 2000" : "max_lag: 6000";
  EXPECT_THAT(shipped, HasSubstr(old_bound)) << name << ".yaml changed its backpressure section";
  const std::string path = dir.Sub(name + ".yaml");
  std::ofstream(path) << absl::StrReplaceAll(shipped,
                                             {{old_bound, absl::StrCat("max_lag: ", max_lag)}});
  return path;
}

class BackpressureTest : public ::testing::Test {
 protected:
  // Starts the hub with intake's bound `intake_lag` and sharing's `sharing_lag`.
  void StartHub(uint64_t intake_lag, uint64_t sharing_lag) {
    HubOptions options = BuiltHubOptions();
    options.config_files["intake"] = ConfigWithBound(configs_, "intake", intake_lag);
    options.config_files["sharing"] = ConfigWithBound(configs_, "sharing", sharing_lag);
    hub_ = std::make_unique<Hub>(options);
    ASB_ASSERT_OK(hub_->StartAll());
  }

  // A batch of kBatch new cases (fresh source ids), each disclosed to several agencies.
  std::vector<asb::v1::CaseEvent> NextBatch() {
    std::vector<asb::v1::CaseEvent> events;
    for (int i = 0; i < kBatch; ++i) {
      const int n = next_++;
      asb::v1::CaseEvent e;
      const std::string json = absl::StrCat(
          R"({"sourceEventId": "bp-)", n, R"(", "caseId": "CBC-BP-)", n,
          R"(", "occurredAt": "2026-11-30T09:15:00Z", "caseOpened": {"nsirCategory": )"
          R"("NSIR_CATEGORY_PERSONAL", "title": "Noise", "leadAgency": "community-safety"}})");
      ASB_EXPECT_OK(config::ParseJson(json, &e));
      events.push_back(std::move(e));
    }
    return events;
  }

  // Submits new batches until one is refused; returns that refusal and its batch.
  // With `consumer`, until a refusal names that consumer as the slowest (another one, say audit
  // catching up on intake's audit stream, may be behind the bound for a moment first).
  absl::Status SubmitUntilRefused(std::vector<asb::v1::CaseEvent>* refused_batch,
                                  const std::string& consumer = "") {
    absl::Status refusal;
    absl::Status waited = WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          std::vector<asb::v1::CaseEvent> batch = NextBatch();
          absl::StatusOr<asb::v1::SubmitResponse> r = hub_->Submit("council-feed", batch);
          if (r.ok()) {
            for (const auto& result : r->results()) {
              EXPECT_EQ(result.outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED);
              ++accepted_;
            }
            return false;
          }
          if (!consumer.empty() &&
              !absl::StrContains(r.status().message(), absl::StrCat("consumer ", consumer))) {
            return false;  // wholly refused: nothing of it was stored
          }
          refusal = r.status();
          *refused_batch = std::move(batch);
          return true;
        },
        absl::Now() + absl::Seconds(60), "a submission refused", absl::ZeroDuration());
    if (!waited.ok()) {
      return waited;
    }
    return refusal;
  }

  // Resubmits `batch` (as a feed does after UNAVAILABLE) until it is taken; returns the answer.
  absl::StatusOr<asb::v1::SubmitResponse> ResubmitUntilTaken(
      const std::vector<asb::v1::CaseEvent>& batch) {
    asb::v1::SubmitResponse taken;
    ASB_RETURN_IF_ERROR(WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          ASB_ASSIGN_OR_RETURN(taken, hub_->Submit("council-feed", batch));
          return true;
        },
        absl::Now() + absl::Seconds(60), "the refused batch accepted", absl::Milliseconds(50)));
    return taken;
  }

  // Waits until `daemon`'s /metrics shows `series` (e.g. a consumer's lag, known once that
  // consumer has fetched).
  absl::Status WaitForSeries(const std::string& daemon, const std::string& series,
                             std::optional<double> value = std::nullopt) {
    return WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          std::optional<double> v =
              MetricValue(GetFromDaemon(*hub_, daemon, "/metrics").body, series);
          return v.has_value() && (!value.has_value() || *v == *value);
        },
        absl::Now() + absl::Seconds(30), absl::StrCat(daemon, ": ", series),
        absl::Milliseconds(20));
  }

  double Metric(const std::string& daemon, const std::string& series) {
    const std::string text = GetFromDaemon(*hub_, daemon, "/metrics").body;
    std::optional<double> v = MetricValue(text, series);
    EXPECT_TRUE(v.has_value()) << daemon << ": no " << series << " in\n" << text;
    return v.value_or(-1);
  }

  // Every stream of the hub fully consumed: each consumer's offset at its upstream's head.
  absl::Status WaitDrained() {
    return WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          std::map<std::string, uint64_t> heads;  // "daemon/stream" → head
          std::vector<asb::v1::PingResponse> pings;
          for (const std::string& d : Hub::Daemons()) {
            ASB_ASSIGN_OR_RETURN(asb::v1::PingResponse p, hub_->Ping(d));
            for (const auto& s : p.streams()) {
              heads[absl::StrCat(d, "/", s.name())] = s.head();
            }
            pings.push_back(std::move(p));
          }
          for (const auto& p : pings) {
            for (const auto& c : p.consumers()) {
              if (c.offset() != heads[absl::StrCat(c.upstream(), "/", c.stream())]) {
                return false;
              }
            }
          }
          return true;
        },
        absl::Now() + absl::Seconds(60), "every consumer at its upstream's head",
        absl::Milliseconds(50));
  }

  TempDir configs_;
  std::unique_ptr<Hub> hub_;
  int next_ = 0;
  int accepted_ = 0;
};

// notify stopped: sharing's disclosures back up past sharing's bound, sharing stops fetching
// intake's events, and intake's own bound then refuses feeds. notify back: all of it drains.
TEST_F(BackpressureTest, ASlowNotifyBacksUpSharingAndThenIntake) {
  StartHub(/*intake_lag=*/40, /*sharing_lag=*/30);
  constexpr char kHeld[] = R"(asb_consumer_held{upstream="intake",stream="events"})";
  // notify has fetched from sharing once: sharing knows where it is.
  ASB_ASSERT_OK(WaitForSeries(
      "sharing", R"(asb_stream_consumer_lag{stream="disclosures",consumer="notify"})"));
  ASB_ASSERT_OK(hub_->Stop("notify"));

  // Events flow on until notify's backlog passes sharing's bound and sharing holds back.
  ASB_ASSERT_OK(WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        absl::StatusOr<asb::v1::SubmitResponse> r = hub_->Submit("council-feed", NextBatch());
        if (r.ok()) {
          accepted_ += r->results_size();
        }
        return MetricValue(GetFromDaemon(*hub_, "sharing", "/metrics").body, kHeld) == 1.0;
      },
      absl::Now() + absl::Seconds(60), "sharing holding back", absl::ZeroDuration()));
  // Then intake's events back up until intake refuses.
  std::vector<asb::v1::CaseEvent> refused;
  absl::Status refusal = SubmitUntilRefused(&refused, "sharing");
  EXPECT_THAT(refusal, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(refusal.message(), HasSubstr("events behind"));
  EXPECT_THAT(refusal.message(), HasSubstr("consumer sharing"));
  EXPECT_THAT(refusal.message(), HasSubstr("bound 40"));
  EXPECT_THAT(refusal.message(), HasSubstr("retry later"));
  EXPECT_GT(accepted_, 0);
  // sharing holds back from intake's events because notify lags.
  EXPECT_EQ(Metric("sharing", kHeld), 1.0);
  EXPECT_GT(Metric("sharing", R"(asb_stream_consumer_lag{stream="disclosures",consumer="notify"})"),
            30.0);
  EXPECT_GE(Metric("intake", "asb_backpressure_refusals_total"), 1.0);
  // Refused again while nothing drains: the refusal holds.
  EXPECT_THAT(hub_->Submit("council-feed", refused).status(),
              StatusIs(absl::StatusCode::kUnavailable));

  ASB_ASSERT_OK(hub_->StartAndWait("notify"));
  absl::StatusOr<asb::v1::SubmitResponse> taken = ResubmitUntilTaken(refused);
  ASB_ASSERT_OK(taken);
  // Wholly refused before: now every event of it is new to the hub, none a duplicate.
  ASSERT_EQ(taken->results_size(), kBatch);
  for (const auto& r : taken->results()) {
    EXPECT_EQ(r.outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED) << r.source_event_id();
  }
  // Nothing accepted is lost: every stream drains to its head, intake's events included.
  ASB_ASSERT_OK(WaitDrained());
  absl::StatusOr<asb::v1::PingResponse> sharing = hub_->Ping("sharing");
  ASB_ASSERT_OK(sharing);
  for (const auto& c : sharing->consumers()) {
    if (c.upstream() == "intake" && c.stream() == "events") {
      EXPECT_GE(c.offset(), static_cast<uint64_t>(accepted_ + kBatch));
    }
  }
  EXPECT_EQ(Metric("sharing", kHeld), 0.0);
}

// audit stopped: intake's own "audit" stream backs up past intake's bound.
TEST_F(BackpressureTest, AStoppedAuditMakesIntakeRefuseUntilItCatchesUp) {
  StartHub(/*intake_lag=*/25, /*sharing_lag=*/1000000);
  constexpr char kAuditLag[] = R"(asb_stream_consumer_lag{stream="audit",consumer="audit"})";
  // audit has fetched from intake once: intake knows where it is.
  ASB_ASSERT_OK(WaitForSeries("intake", kAuditLag));
  ASB_ASSERT_OK(hub_->Stop("audit"));

  std::vector<asb::v1::CaseEvent> refused;
  absl::Status refusal = SubmitUntilRefused(&refused, "audit");
  EXPECT_THAT(refusal, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(refusal.message(), HasSubstr("consumer audit"));
  EXPECT_THAT(refusal.message(), HasSubstr("bound 25"));
  EXPECT_GT(Metric("intake", kAuditLag), 25.0);

  ASB_ASSERT_OK(hub_->StartAndWait("audit"));
  absl::StatusOr<asb::v1::SubmitResponse> taken = ResubmitUntilTaken(refused);
  ASB_ASSERT_OK(taken);
  for (const auto& r : taken->results()) {
    EXPECT_EQ(r.outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED) << r.source_event_id();
  }
  ASB_ASSERT_OK(WaitDrained());
}

}  // namespace
}  // namespace asb::testing
