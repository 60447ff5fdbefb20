// Webhooks: the durable state of webhook delivery, driven as asb-notify drives it (attempts
// started, results recorded, each in one batch), on a real RocksDB — without HTTP.
#include "services/notify/webhooks.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::notify {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

asb::v1::Envelope AlertWorthy(uint64_t seq, const std::string& agency) {
  asb::v1::Envelope e;
  e.set_seq(seq);
  e.set_producer("sharing");
  asb::v1::Disclosure* d = e.mutable_disclosure();
  d->set_agency(agency);
  d->set_case_id("case-" + std::to_string(seq));
  d->set_event_type(asb::v1::EVENT_TYPE_ORDER_ISSUED);
  d->set_isp_version("v-test");
  d->add_notification_rules("cbo-issued");
  return e;
}

class WebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  WebhookPolicy Policy() const {
    WebhookPolicy p;
    p.agency = "fire";
    p.url = "https://fire.example/alerts";
    p.timeout = absl::Seconds(1);
    p.max_attempts = 3;
    p.initial_backoff = absl::Seconds(1);
    p.max_backoff = absl::Seconds(4);
    return p;
  }

  // Opens (or reopens, as after kill -9: nothing in memory survives) the store and everything
  // on it.
  void Open() {
    webhooks_.reset();
    outbox_.reset();
    audit_.reset();
    store_.reset();
    store::StoreOptions options;
    options.path = dir_.Sub("db");
    options.sync = false;
    options.column_families = NotifyColumnFamilies();
    auto store = store::Store::Open(options);
    ASB_ASSERT_OK(store);
    store_ = std::move(*store);
    auto audit = stream::Log::Open(store_.get(), "audit", "notify");
    ASB_ASSERT_OK(audit);
    audit_ = std::move(*audit);
    outbox_ = std::make_unique<Outbox>(store_.get(), audit_.get(), [this] { return now_; });
    ASB_ASSERT_OK(outbox_->Load());
    webhooks_ = std::make_unique<Webhooks>(
        store_.get(), outbox_.get(), [this] { return now_; }, [] { return 0.5; },
        std::vector<WebhookPolicy>{Policy()});
    ASB_ASSERT_OK(webhooks_->Load());
  }

  void Queue(uint64_t seq, const std::string& agency = "fire") {
    store::Batch batch = store_->NewBatch();
    ASB_ASSERT_OK(outbox_->ApplyDisclosure(AlertWorthy(seq, agency), &batch));
    ASB_ASSERT_OK(store_->Write(&batch));
  }

  std::vector<WebhookAttempt> Start() {
    store::Batch batch = store_->NewBatch();
    auto attempts = webhooks_->StartDue(&batch);
    EXPECT_TRUE(attempts.ok()) << attempts.status();
    EXPECT_TRUE(store_->Write(&batch).ok());
    return attempts.ok() ? *attempts : std::vector<WebhookAttempt>{};
  }

  void Answer(const WebhookAttempt& a, int http_status, const std::string& error = "") {
    WebhookResult r{a.agency, a.seq, a.attempt, http_status, error};
    if (!r.ok() && r.error.empty()) {
      r.error = "HTTP " + std::to_string(http_status);
    }
    store::Batch batch = store_->NewBatch();
    ASB_ASSERT_OK(webhooks_->OnResult(r, &batch));
    ASB_ASSERT_OK(store_->Write(&batch));
  }

  std::vector<asb::v1::AuditRecord> Audit(asb::v1::AuditKind kind) {
    std::vector<asb::v1::Envelope> envelopes;
    EXPECT_TRUE(audit_->Read(1, 100000, &envelopes).ok());
    std::vector<asb::v1::AuditRecord> out;
    for (const auto& e : envelopes) {
      if (e.audit().kind() == kind) {
        out.push_back(e.audit());
      }
    }
    return out;
  }

  std::vector<asb::v1::DeadLetter> DeadLetters() {
    auto listed = outbox_->ListDeadLetters("fire", {});
    EXPECT_TRUE(listed.ok()) << listed.status();
    return listed.ok() ? std::vector<asb::v1::DeadLetter>(listed->dead_letters().begin(),
                                                          listed->dead_letters().end())
                       : std::vector<asb::v1::DeadLetter>{};
  }

  ::asb::testing::TempDir dir_;
  absl::Time now_ = kT0;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<stream::Log> audit_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<Webhooks> webhooks_;
};

TEST_F(WebhooksTest, DeliversOneAtATimeInOrderAndA2xxAcknowledges) {
  Queue(1);
  Queue(2);
  std::vector<WebhookAttempt> first = Start();
  ASSERT_THAT(first, SizeIs(1));
  EXPECT_EQ(first[0].seq, 1u);
  EXPECT_EQ(first[0].attempt, 1u);
  EXPECT_THAT(first[0].body, HasSubstr("\"agencySeq\":\"1\""));
  EXPECT_THAT(Start(), IsEmpty());  // one in flight per agency
  Answer(first[0], 204);
  EXPECT_EQ(outbox_->acked("fire"), 1u);
  std::vector<WebhookAttempt> second = Start();
  ASSERT_THAT(second, SizeIs(1));
  EXPECT_EQ(second[0].seq, 2u);
  Answer(second[0], 200);
  EXPECT_EQ(outbox_->acked("fire"), 2u);
  EXPECT_THAT(Start(), IsEmpty());
  // Every attempt is a DELIVERY; every 2xx an ACKNOWLEDGEMENT by "webhook".
  EXPECT_THAT(Audit(asb::v1::AUDIT_KIND_DELIVERY), SizeIs(2));
  auto acks = Audit(asb::v1::AUDIT_KIND_ACKNOWLEDGEMENT);
  ASSERT_THAT(acks, SizeIs(2));
  EXPECT_EQ(acks[0].actor(), "webhook");
  EXPECT_EQ(webhooks_->counts().at("fire").acknowledged, 2u);
}

TEST_F(WebhooksTest, FailuresBackOffExponentiallyWithJitterThenDeadLetter) {
  Queue(1);
  Queue(2);
  std::vector<WebhookAttempt> a = Start();
  ASSERT_THAT(a, SizeIs(1));
  Answer(a[0], 503);
  // Backoff 1 s, jittered to 0.75 s (random 0.5: half to all of it).
  EXPECT_EQ(webhooks_->NextWakeup(), kT0 + absl::Milliseconds(750));
  EXPECT_THAT(Start(), IsEmpty());
  now_ = kT0 + absl::Milliseconds(750);
  a = Start();
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].seq, 1u);
  EXPECT_EQ(a[0].attempt, 2u);
  Answer(a[0], 0, "timed out or failed reading the answer");
  EXPECT_EQ(webhooks_->NextWakeup(), now_ + absl::Milliseconds(1500));  // 2 s jittered
  now_ += absl::Milliseconds(1500);
  a = Start();
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].attempt, 3u);
  Answer(a[0], 500);
  // Three attempts used up: dead-lettered like an unacknowledged pulled alert, and the next
  // alert goes out at once.
  std::vector<asb::v1::DeadLetter> dead = DeadLetters();
  ASSERT_THAT(dead, SizeIs(1));
  EXPECT_EQ(dead[0].alert().agency_seq(), 1u);
  EXPECT_THAT(dead[0].reason(), HasSubstr("3 webhook attempts"));
  EXPECT_THAT(Audit(asb::v1::AUDIT_KIND_DEAD_LETTER), SizeIs(1));
  auto failed = Audit(asb::v1::AUDIT_KIND_DELIVERY_FAILED);
  ASSERT_THAT(failed, SizeIs(3));
  EXPECT_THAT(failed[1].detail(), HasSubstr("timed out"));
  EXPECT_EQ(failed[0].case_id(), "case-1");
  a = Start();
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].seq, 2u);
  EXPECT_EQ(a[0].attempt, 1u);
  Answer(a[0], 200);
  EXPECT_EQ(outbox_->acked("fire"), 2u);  // cumulative: through the dead letter too
}

TEST_F(WebhooksTest, BackoffDoublesUpToItsCap) {
  const WebhookPolicy p = Policy();
  EXPECT_EQ(Webhooks::Backoff(p, 1), absl::Seconds(1));
  EXPECT_EQ(Webhooks::Backoff(p, 2), absl::Seconds(2));
  EXPECT_EQ(Webhooks::Backoff(p, 3), absl::Seconds(4));
  EXPECT_EQ(Webhooks::Backoff(p, 30), absl::Seconds(4));
}

TEST_F(WebhooksTest, A4xxDeadLettersAtOnceButA429IsRetried) {
  Queue(1);
  Queue(2);
  std::vector<WebhookAttempt> a = Start();
  ASSERT_THAT(a, SizeIs(1));
  Answer(a[0], 400);
  ASSERT_THAT(DeadLetters(), SizeIs(1));
  EXPECT_THAT(DeadLetters()[0].reason(), HasSubstr("refused it (HTTP 400)"));
  a = Start();
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].seq, 2u);
  Answer(a[0], 429);  // too many requests: come back later
  EXPECT_THAT(DeadLetters(), SizeIs(1));
  now_ += absl::Seconds(1);
  a = Start();
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].seq, 2u);
  EXPECT_EQ(a[0].attempt, 2u);
}

TEST_F(WebhooksTest, AReceiverAnswering4xxForeverDeadLettersEveryAlertAndStops) {
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    Queue(seq);
  }
  int attempts = 0;
  for (std::vector<WebhookAttempt> a = Start(); !a.empty(); a = Start()) {
    ASSERT_LT(++attempts, 20) << "delivery loops";
    Answer(a[0], 403);
  }
  EXPECT_EQ(attempts, 5);
  EXPECT_THAT(DeadLetters(), SizeIs(5));
  EXPECT_EQ(webhooks_->NextWakeup(), absl::InfiniteFuture());
}

TEST_F(WebhooksTest, AnAttemptCutShortByACrashIsMadeAgainAfterItsDeadline) {
  Queue(1);
  std::vector<WebhookAttempt> a = Start();
  ASSERT_THAT(a, SizeIs(1));
  Open();  // kill -9 while the POST was out: only what was written survives
  EXPECT_TRUE(webhooks_->state("fire").in_flight());
  EXPECT_EQ(webhooks_->state("fire").attempts(), 1u);
  EXPECT_THAT(Start(), IsEmpty());  // its result could still be on the way
  now_ += 3 * absl::Seconds(1) + absl::Seconds(1);
  a = Start();
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].seq, 1u);  // the same alert again: at least once
  EXPECT_EQ(a[0].attempt, 2u);
  auto failed = Audit(asb::v1::AUDIT_KIND_DELIVERY_FAILED);
  ASSERT_THAT(failed, SizeIs(1));
  EXPECT_THAT(failed[0].detail(), HasSubstr("no result recorded"));
  Answer(a[0], 200);
  EXPECT_EQ(outbox_->acked("fire"), 1u);
}

TEST_F(WebhooksTest, AnAlertAcknowledgedByAPullMeanwhileIsNotSentAgain) {
  Queue(1);
  Queue(2);
  std::vector<WebhookAttempt> a = Start();
  ASSERT_THAT(a, SizeIs(1));
  {
    store::Batch batch = store_->NewBatch();
    ASB_ASSERT_OK(outbox_->Ack("fire-portal", "fire", 1, &batch).status());
    ASB_ASSERT_OK(store_->Write(&batch));
  }
  Answer(a[0], 503);
  now_ += absl::Seconds(5);
  a = Start();
  ASSERT_THAT(a, SizeIs(1));
  EXPECT_EQ(a[0].seq, 2u);
  EXPECT_EQ(a[0].attempt, 1u);
}

TEST_F(WebhooksTest, OtherAgenciesAlertsAreNotPushed) {
  Queue(1, "police");
  EXPECT_THAT(Start(), IsEmpty());
}

}  // namespace
}  // namespace asb::notify
