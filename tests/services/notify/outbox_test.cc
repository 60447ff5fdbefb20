#include "services/notify/outbox.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/model/model.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "google/protobuf/util/time_util.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::notify {
namespace {

using ::asb::testing::StatusIs;
using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

// The test partnership's notification rules, in ISP file order. asb-sharing evaluates them and
// stamps each disclosure with the ids of those that fire for its event and name its agency
// (Disclosure.notification_rules); the outbox only reads the stamp.
struct NotificationRule {
  std::string id;
  asb::v1::EventType event_type;
  std::vector<asb::v1::OrderType> order_types;  // empty: any
  std::vector<std::string> agencies;
};
const std::vector<NotificationRule>& TestNotificationRules() {
  using namespace asb::v1;  // NOLINT: enum names
  static const auto* rules = new std::vector<NotificationRule>{
      {"cbo-issued",
       EVENT_TYPE_ORDER_ISSUED,
       {ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER, ORDER_TYPE_CLOSURE_ORDER},
       {"police", "housing"}},
      {"order-breached", EVENT_TYPE_ORDER_BREACHED, {}, {"police"}},
      {"case-closed", EVENT_TYPE_CASE_CLOSED, {}, {"council", "housing"}},
  };
  return *rules;
}

// Sharing's stamp for a disclosure to `agency` of an (event, order) event.
void StampAsSharingDoes(asb::v1::Disclosure* d) {
  for (const NotificationRule& rule : TestNotificationRules()) {
    const bool order_matches =
        rule.order_types.empty() || std::find(rule.order_types.begin(), rule.order_types.end(),
                                              d->order_type()) != rule.order_types.end();
    if (rule.event_type == d->event_type() && order_matches &&
        std::find(rule.agencies.begin(), rule.agencies.end(), d->agency()) != rule.agencies.end()) {
      d->add_notification_rules(rule.id);
    }
  }
}

asb::v1::Envelope Disclosure(uint64_t seq, const std::string& agency, asb::v1::EventType event,
                             asb::v1::OrderType order = asb::v1::ORDER_TYPE_UNSPECIFIED,
                             const std::string& case_id = "c1") {
  asb::v1::Envelope e;
  e.set_seq(seq);
  e.set_producer("sharing");
  asb::v1::Disclosure* d = e.mutable_disclosure();
  d->set_agency(agency);
  d->set_case_id(case_id);
  d->set_event_seq(seq);
  d->set_event_type(event);
  d->set_order_type(order);
  d->set_isp_version("v-test");
  d->add_subject_keys("sk_" + case_id + "_a");
  auto* j = d->add_justifications();
  j->set_rule_id(agency + "-all");
  j->set_purpose("prevent-asb");
  j->set_lawful_basis("Crime and Disorder Act 1998 s.115");
  auto* f = d->add_fields();
  f->set_path("case_id");
  f->set_action(asb::v1::FIELD_ACTION_SHOW);
  d->mutable_view()->set_case_id(case_id);
  StampAsSharingDoes(d);
  return e;
}

asb::v1::Envelope CboIssued(uint64_t seq, const std::string& agency,
                            const std::string& case_id = "c1") {
  return Disclosure(seq, agency, asb::v1::EVENT_TYPE_ORDER_ISSUED,
                    asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER, case_id);
}

std::vector<uint64_t> Seqs(const asb::v1::PullAlertsResponse& response) {
  std::vector<uint64_t> out;
  for (const auto& a : response.alerts()) {
    out.push_back(a.agency_seq());
  }
  return out;
}

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() { Open(options_); }

  void Open(OutboxOptions outbox_options) {
    options_ = outbox_options;
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
    outbox_ = std::make_unique<Outbox>(
        store_.get(), audit_.get(), [this] { return now_; }, options_);
    ASB_ASSERT_OK(outbox_->Load());
  }

  absl::Status Apply(const asb::v1::Envelope& e) {
    store::Batch batch = store_->NewBatch();
    absl::Status s = outbox_->ApplyDisclosure(e, &batch);
    if (!s.ok()) {
      return s;
    }
    return store_->Write(&batch);
  }

  absl::StatusOr<asb::v1::PullAlertsResponse> Pull(const std::string& agency,
                                                   asb::v1::PullAlertsRequest request = {}) {
    store::Batch batch = store_->NewBatch();
    auto response = outbox_->Pull(agency + "-portal", agency, request, &batch);
    if (response.ok()) {
      absl::Status s = store_->Write(&batch);
      if (!s.ok()) {
        return s;
      }
    }
    return response;
  }

  absl::StatusOr<asb::v1::AckAlertsResponse> Ack(const std::string& agency, uint64_t through) {
    store::Batch batch = store_->NewBatch();
    auto response = outbox_->Ack(agency + "-portal", agency, through, &batch);
    if (response.ok()) {
      absl::Status s = store_->Write(&batch);
      if (!s.ok()) {
        return s;
      }
    }
    return response;
  }

  std::vector<asb::v1::AuditRecord> AuditRecords() {
    std::vector<asb::v1::Envelope> envelopes;
    EXPECT_TRUE(audit_->Read(1, 100000, &envelopes).ok());
    std::vector<asb::v1::AuditRecord> out;
    for (const auto& e : envelopes) {
      EXPECT_TRUE(e.has_audit());
      out.push_back(e.audit());
    }
    return out;
  }

  asb::testing::TempDir dir_;
  absl::Time now_ = kT0;
  OutboxOptions options_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<stream::Log> audit_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(OutboxTest, AlertsOnlyForMatchingRules) {
  using namespace asb::v1;                        // NOLINT: enum names
  ASB_ASSERT_OK(Apply(CboIssued(1, "police")));   // cbo-issued names police
  ASB_ASSERT_OK(Apply(CboIssued(2, "housing")));  // ... and housing
  ASB_ASSERT_OK(Apply(CboIssued(3, "fire")));     // ... but not fire
  ASB_ASSERT_OK(Apply(CboIssued(4, "council")));  // ... nor council
  ASB_ASSERT_OK(Apply(Disclosure(5, "police", EVENT_TYPE_ORDER_ISSUED,
                                 ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT)));  // wrong order type
  ASB_ASSERT_OK(Apply(Disclosure(6, "police", EVENT_TYPE_ORDER_BREACHED,
                                 ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT)));  // any order type
  ASB_ASSERT_OK(Apply(Disclosure(7, "council", EVENT_TYPE_CASE_CLOSED)));
  ASB_ASSERT_OK(Apply(Disclosure(8, "police", EVENT_TYPE_CASE_CLOSED)));   // not named
  ASB_ASSERT_OK(Apply(Disclosure(9, "police", EVENT_TYPE_CASE_UPDATED)));  // no rule

  EXPECT_EQ(outbox_->head("police"), 2u);
  EXPECT_EQ(outbox_->head("housing"), 1u);
  EXPECT_EQ(outbox_->head("fire"), 0u);
  EXPECT_EQ(outbox_->head("council"), 1u);

  auto police = Pull("police");
  ASB_ASSERT_OK(police);
  ASSERT_EQ(police->alerts_size(), 2);
  EXPECT_EQ(police->alerts(0).notification_rule(), "cbo-issued");
  EXPECT_EQ(police->alerts(0).disclosure().event_seq(), 1u);
  EXPECT_EQ(police->alerts(0).agency(), "police");
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(police->alerts(0).queued_at()),
            absl::ToUnixNanos(kT0));
  EXPECT_EQ(police->alerts(1).notification_rule(), "order-breached");
  EXPECT_EQ(police->alerts(1).disclosure().event_seq(), 6u);
}

TEST_F(OutboxTest, BadEnvelopesAndUnstampedDisclosures) {
  asb::v1::Envelope no_payload;
  no_payload.set_seq(1);
  store::Batch batch = store_->NewBatch();
  EXPECT_THAT(outbox_->ApplyDisclosure(no_payload, &batch),
              StatusIs(absl::StatusCode::kInvalidArgument));
  asb::v1::Envelope no_agency = CboIssued(2, "");
  EXPECT_THAT(outbox_->ApplyDisclosure(no_agency, &batch),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(batch.count(), 0);

  // Notify holds no policy: a disclosure sharing did not stamp is never an alert, whatever its
  // event (there is no "no ISP loaded yet" state to wait out any more).
  asb::v1::Envelope unstamped = CboIssued(3, "police");
  unstamped.mutable_disclosure()->clear_notification_rules();
  ASB_EXPECT_OK(outbox_->ApplyDisclosure(unstamped, &batch));
  EXPECT_EQ(batch.count(), 0);
}

TEST_F(OutboxTest, DisclosureIsAudited) {
  ASB_ASSERT_OK(Apply(CboIssued(1, "police", "case-7")));
  ASB_ASSERT_OK(Apply(Disclosure(2, "police", asb::v1::EVENT_TYPE_CASE_UPDATED)));  // no alert
  auto records = AuditRecords();
  ASSERT_EQ(records.size(), 1u);
  const asb::v1::AuditRecord& r = records[0];
  EXPECT_EQ(r.kind(), asb::v1::AUDIT_KIND_DISCLOSURE);
  EXPECT_EQ(r.component(), "notify");
  EXPECT_EQ(r.recipient_agency(), "police");
  EXPECT_EQ(r.case_id(), "case-7");
  EXPECT_THAT(r.subject_keys(), ElementsAre("sk_case-7_a"));
  ASSERT_EQ(r.justifications_size(), 1);
  EXPECT_EQ(r.justifications(0).rule_id(), "police-all");
  EXPECT_EQ(r.isp_version(), "v-test");
  EXPECT_THAT(r.fields(), ElementsAre("case_id"));
  EXPECT_EQ(r.event_type(), asb::v1::EVENT_TYPE_ORDER_ISSUED);
  EXPECT_EQ(r.ref_seq(), 1u);
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(r.at()), absl::ToUnixNanos(kT0));
}

TEST_F(OutboxTest, DensePerAgencySequencesWithinAndAcrossBatches) {
  store::Batch batch = store_->NewBatch();
  ASB_ASSERT_OK(outbox_->ApplyDisclosure(CboIssued(1, "police"), &batch));
  ASB_ASSERT_OK(outbox_->ApplyDisclosure(CboIssued(1, "housing"), &batch));
  ASB_ASSERT_OK(outbox_->ApplyDisclosure(CboIssued(2, "police"), &batch));
  EXPECT_EQ(outbox_->head("police"), 0u);  // only on commit
  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_EQ(outbox_->head("police"), 2u);
  EXPECT_EQ(outbox_->head("housing"), 1u);
  ASB_ASSERT_OK(Apply(CboIssued(3, "police")));
  ASB_ASSERT_OK(Apply(CboIssued(3, "housing")));

  auto police = Pull("police");
  ASB_ASSERT_OK(police);
  EXPECT_THAT(Seqs(*police), ElementsAre(1, 2, 3));
  auto housing = Pull("housing");
  ASB_ASSERT_OK(housing);
  EXPECT_THAT(Seqs(*housing), ElementsAre(1, 2));
  EXPECT_EQ(housing->head(), 2u);
}

TEST_F(OutboxTest, HeadsRollBackWhenBatchAborts) {
  ASB_ASSERT_OK(Apply(CboIssued(1, "police")));
  store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
  {
    store::Batch batch = store_->NewBatch();
    ASB_ASSERT_OK(outbox_->ApplyDisclosure(CboIssued(2, "police"), &batch));
    ASB_ASSERT_OK(outbox_->ApplyDisclosure(CboIssued(2, "housing"), &batch));
    EXPECT_THAT(store_->Write(&batch), StatusIs(absl::StatusCode::kUnavailable));
  }
  store_->SetWriteFaultForTest(nullptr);
  EXPECT_EQ(outbox_->head("police"), 1u);
  EXPECT_EQ(outbox_->head("housing"), 0u);
  {
    // A batch dropped unwritten rolls back too.
    store::Batch batch = store_->NewBatch();
    ASB_ASSERT_OK(outbox_->ApplyDisclosure(CboIssued(3, "police"), &batch));
  }

  // The sequence numbers are reused: still dense.
  ASB_ASSERT_OK(Apply(CboIssued(4, "police")));
  ASB_ASSERT_OK(Apply(CboIssued(4, "housing")));
  EXPECT_EQ(outbox_->head("police"), 2u);
  EXPECT_EQ(outbox_->head("housing"), 1u);
  auto police = Pull("police");
  ASB_ASSERT_OK(police);
  EXPECT_THAT(Seqs(*police), ElementsAre(1, 2));
  EXPECT_EQ(police->alerts(1).disclosure().event_seq(), 4u);
  // Only the committed disclosures were audited (plus the one delivery).
  auto records = AuditRecords();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].ref_seq(), 2u);
  EXPECT_EQ(records[1].recipient_agency(), "police");
}

TEST_F(OutboxTest, PersistsAcrossReopen) {
  for (uint64_t i = 1; i <= 3; ++i) {
    ASB_ASSERT_OK(Apply(CboIssued(i, "police")));
  }
  ASB_ASSERT_OK(Apply(CboIssued(4, "housing")));
  ASB_ASSERT_OK(Ack("police", 2));
  ASB_ASSERT_OK(Pull("police"));  // delivery_count of 3 → 1

  Open();
  EXPECT_EQ(outbox_->head("police"), 3u);
  EXPECT_EQ(outbox_->acked("police"), 2u);
  EXPECT_EQ(outbox_->head("housing"), 1u);
  EXPECT_EQ(outbox_->acked("housing"), 0u);
  EXPECT_TRUE(outbox_->HasPending("police"));

  auto police = Pull("police");
  ASB_ASSERT_OK(police);
  EXPECT_THAT(Seqs(*police), ElementsAre(3));
  EXPECT_EQ(police->alerts(0).delivery_count(), 2u);
  EXPECT_EQ(police->acked_through(), 2u);
  EXPECT_EQ(police->head(), 3u);

  ASB_ASSERT_OK(Apply(CboIssued(5, "police")));
  EXPECT_EQ(outbox_->head("police"), 4u);
}

TEST_F(OutboxTest, PullAfterCursorReplayAndMax) {
  for (uint64_t i = 1; i <= 10; ++i) {
    ASB_ASSERT_OK(Apply(CboIssued(i, "police")));
  }
  ASB_ASSERT_OK(Apply(CboIssued(11, "housing")));  // another agency's outbox sorts nearby
  ASB_ASSERT_OK(Ack("police", 4));

  auto after_cursor = Pull("police");
  ASB_ASSERT_OK(after_cursor);
  EXPECT_THAT(Seqs(*after_cursor), ElementsAre(5, 6, 7, 8, 9, 10));
  EXPECT_EQ(after_cursor->acked_through(), 4u);
  EXPECT_EQ(after_cursor->head(), 10u);

  asb::v1::PullAlertsRequest limited;
  limited.set_max(2);
  auto two = Pull("police", limited);
  ASB_ASSERT_OK(two);
  EXPECT_THAT(Seqs(*two), ElementsAre(5, 6));

  asb::v1::PullAlertsRequest replay;
  replay.set_from_seq(2);  // before the cursor: gap recovery
  replay.set_max(3);
  auto replayed = Pull("police", replay);
  ASB_ASSERT_OK(replayed);
  EXPECT_THAT(Seqs(*replayed), ElementsAre(2, 3, 4));

  replay.set_from_seq(0);  // treated as 1
  replay.set_max(1);
  replayed = Pull("police", replay);
  ASB_ASSERT_OK(replayed);
  EXPECT_THAT(Seqs(*replayed), ElementsAre(1));

  replay.set_from_seq(11);  // beyond the head
  replay.clear_max();
  replayed = Pull("police", replay);
  ASB_ASSERT_OK(replayed);
  EXPECT_TRUE(replayed->alerts().empty());
  EXPECT_EQ(replayed->head(), 10u);

  auto unknown = Pull("fire");
  ASB_ASSERT_OK(unknown);
  EXPECT_TRUE(unknown->alerts().empty());
  EXPECT_EQ(unknown->head(), 0u);
}

TEST_F(OutboxTest, PullMaxDefaultsTo100AndCapsAt1000) {
  store::Batch batch = store_->NewBatch();
  for (uint64_t i = 1; i <= 1005; ++i) {
    ASB_ASSERT_OK(outbox_->ApplyDisclosure(CboIssued(i, "police"), &batch));
  }
  ASB_ASSERT_OK(store_->Write(&batch));
  auto by_default = Pull("police");
  ASB_ASSERT_OK(by_default);
  EXPECT_EQ(by_default->alerts_size(), 100);
  asb::v1::PullAlertsRequest huge;
  huge.set_max(50000);
  auto capped = Pull("police", huge);
  ASB_ASSERT_OK(capped);
  EXPECT_EQ(capped->alerts_size(), 1000);
  EXPECT_EQ(capped->alerts(999).agency_seq(), 1000u);
}

TEST_F(OutboxTest, DeliveryCountIncrementsAndDeliveryIsAudited) {
  ASB_ASSERT_OK(Apply(CboIssued(1, "police", "c1")));
  ASB_ASSERT_OK(Apply(CboIssued(2, "police", "c2")));
  auto first = Pull("police");
  ASB_ASSERT_OK(first);
  ASSERT_EQ(first->alerts_size(), 2);
  EXPECT_EQ(first->alerts(0).delivery_count(), 1u);
  EXPECT_EQ(first->alerts(1).delivery_count(), 1u);
  auto second = Pull("police");  // not acked: delivered again
  ASB_ASSERT_OK(second);
  ASSERT_EQ(second->alerts_size(), 2);
  EXPECT_EQ(second->alerts(0).delivery_count(), 2u);

  // A pull whose batch fails does not count.
  store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
  EXPECT_THAT(Pull("police"), StatusIs(absl::StatusCode::kUnavailable));
  store_->SetWriteFaultForTest(nullptr);
  auto third = Pull("police");
  ASB_ASSERT_OK(third);
  EXPECT_EQ(third->alerts(0).delivery_count(), 3u);

  // One pull of alerts of two cases is recorded per case, so an auditor asking about one case
  // finds every hand-out of its alerts.
  auto records = AuditRecords();
  ASSERT_EQ(records.size(), 8u);  // 2 disclosures + 3 committed pulls x 2 cases
  for (int i : {2, 3}) {
    const asb::v1::AuditRecord& d = records[i];
    EXPECT_EQ(d.kind(), asb::v1::AUDIT_KIND_DELIVERY);
    EXPECT_EQ(d.actor(), "police-portal");
    EXPECT_EQ(d.actor_agency(), "police");
    EXPECT_EQ(d.recipient_agency(), "police");
    EXPECT_THAT(d.detail(), HasSubstr("one pull of 2 alerts, 2 cases"));
  }
  EXPECT_EQ(records[2].case_id(), "c1");
  EXPECT_EQ(records[2].ref_seq(), 1u);
  EXPECT_EQ(records[2].event_type(), asb::v1::EVENT_TYPE_ORDER_ISSUED);
  EXPECT_THAT(records[2].detail(), HasSubstr("alert 1 delivered"));
  EXPECT_THAT(records[2].subject_keys(), ElementsAre("sk_c1_a"));
  EXPECT_EQ(records[3].case_id(), "c2");
  EXPECT_EQ(records[3].ref_seq(), 2u);
  EXPECT_THAT(records[3].subject_keys(), ElementsAre("sk_c2_a"));

  // Nothing to deliver: nothing recorded.
  ASB_ASSERT_OK(Ack("police", 2));
  ASB_ASSERT_OK(Pull("police"));
  EXPECT_EQ(AuditRecords().size(), 9u);  // + the acknowledgement only
}

// A hub notice (e.g. "case deleted: review your copies") names a case but holds no personal
// data: it is sealed under the master key, not the case's data key, so it survives the
// shredding of the case it announces. A case's own alerts go with the case.
TEST(NotifyStoreLayoutTest, AHubNoticeIsNotSealedUnderItsCasesKey) {
  const store::StoreOptions layout = NotifyStoreLayout();
  asb::v1::Alert alert;
  alert.set_agency("police");
  alert.mutable_disclosure()->set_case_id("CBC-1");
  EXPECT_EQ(layout.subject_of("outbox", "k", alert.SerializeAsString()), "CBC-1");
  asb::v1::DeadLetter dead;
  *dead.mutable_alert() = alert;
  EXPECT_EQ(layout.subject_of("deadletters", "k", dead.SerializeAsString()), "CBC-1");
  alert.mutable_disclosure()->mutable_notice()->set_kind(asb::v1::HubNotice::KIND_CASE_DELETED);
  *dead.mutable_alert() = alert;
  EXPECT_EQ(layout.subject_of("outbox", "k", alert.SerializeAsString()), "");
  EXPECT_EQ(layout.subject_of("deadletters", "k", dead.SerializeAsString()), "");
}

// Issue 18: a hand-out writes its count and time to "deliveries", not the alert again (which is
// sealed, so each rewrite was a re-encryption); an alert queued by an earlier version, whose own
// fields held the count, carries on from them.
TEST_F(OutboxTest, AHandOutIsRecordedApartFromTheAlert) {
  ASB_ASSERT_OK(Apply(CboIssued(1, "police", "c1")));
  auto stored = [this] {
    std::string bytes;
    auto it = store_->NewIterator("outbox");
    it->SeekToFirst();
    if (it->Valid()) {
      bytes = it->value().ToString();
    }
    return bytes;
  };
  const std::string queued = stored();
  ASSERT_FALSE(queued.empty());
  ASB_ASSERT_OK(Pull("police"));
  now_ += absl::Seconds(5);
  auto second = Pull("police");
  ASB_ASSERT_OK(second);
  ASSERT_EQ(second->alerts_size(), 1);
  EXPECT_EQ(second->alerts(0).delivery_count(), 2u);
  EXPECT_EQ(::asb::model::ToTime(second->alerts(0).last_delivered_at()), now_);
  EXPECT_EQ(stored(), queued);  // the alert as queued
  std::string handed;
  ASB_ASSERT_OK(
      store_->Get("deliveries", "police" + std::string(1, '\0') + store::EncodeSeq(1), &handed));
  EXPECT_EQ(handed.size(), 16u);
  // The count survives a restart, and a reopened outbox's first alert (webhooks read it) has it.
  Open();
  auto first = outbox_->FirstAfter("police", 0);
  ASB_ASSERT_OK(first);
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->delivery_count(), 2u);

  // An alert written by an earlier version: its own count, no delivery record.
  asb::v1::Alert old;
  ASSERT_TRUE(old.ParseFromString(queued));
  old.set_delivery_count(3);
  store::Batch batch = store_->NewBatch();
  batch.Delete("deliveries", "police" + std::string(1, '\0') + store::EncodeSeq(1));
  batch.Put("outbox", "police" + std::string(1, '\0') + store::EncodeSeq(1),
            old.SerializeAsString());
  ASB_ASSERT_OK(store_->Write(&batch));
  auto fourth = Pull("police");
  ASB_ASSERT_OK(fourth);
  ASSERT_EQ(fourth->alerts_size(), 1);
  EXPECT_EQ(fourth->alerts(0).delivery_count(), 4u);
}

TEST_F(OutboxTest, SeveralAlertsOfOneCaseAreOneDeliveryRecord) {
  ASB_ASSERT_OK(Apply(CboIssued(1, "police", "c1")));
  ASB_ASSERT_OK(Apply(CboIssued(2, "police", "c2")));
  ASB_ASSERT_OK(Apply(CboIssued(3, "police", "c1")));
  ASB_ASSERT_OK(Pull("police"));
  auto records = AuditRecords();
  ASSERT_EQ(records.size(), 5u);  // 3 disclosures + c1's and c2's deliveries
  EXPECT_EQ(records[3].case_id(), "c1");
  EXPECT_THAT(records[3].detail(), HasSubstr("alerts 1,3 delivered"));
  EXPECT_EQ(records[3].event_type(), asb::v1::EVENT_TYPE_UNSPECIFIED);  // two events
  EXPECT_EQ(records[4].case_id(), "c2");
}

TEST_F(OutboxTest, AckIsMonotonicAndBounded) {
  for (uint64_t i = 1; i <= 3; ++i) {
    ASB_ASSERT_OK(Apply(CboIssued(i, "police")));
  }
  EXPECT_TRUE(outbox_->HasPending("police"));
  auto acked = Ack("police", 2);
  ASB_ASSERT_OK(acked);
  EXPECT_EQ(acked->acked_through(), 2u);
  EXPECT_EQ(outbox_->acked("police"), 2u);

  acked = Ack("police", 1);  // never backwards
  ASB_ASSERT_OK(acked);
  EXPECT_EQ(acked->acked_through(), 2u);
  EXPECT_EQ(outbox_->acked("police"), 2u);

  EXPECT_THAT(Ack("police", 4), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(Ack("housing", 1), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_EQ(outbox_->acked("police"), 2u);

  acked = Ack("police", 3);
  ASB_ASSERT_OK(acked);
  EXPECT_EQ(acked->acked_through(), 3u);
  EXPECT_FALSE(outbox_->HasPending("police"));

  auto records = AuditRecords();
  ASSERT_EQ(records.size(), 6u);  // 3 disclosures + 3 acknowledgements (the refused ones: none)
  EXPECT_EQ(records[3].kind(), asb::v1::AUDIT_KIND_ACKNOWLEDGEMENT);
  EXPECT_EQ(records[3].actor(), "police-portal");
  EXPECT_EQ(records[3].actor_agency(), "police");
  EXPECT_EQ(records[3].ref_seq(), 2u);
}

TEST_F(OutboxTest, AckRollsBackWhenBatchAborts) {
  ASB_ASSERT_OK(Apply(CboIssued(1, "police")));
  ASB_ASSERT_OK(Apply(CboIssued(2, "police")));
  store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
  EXPECT_THAT(Ack("police", 2), StatusIs(absl::StatusCode::kUnavailable));
  store_->SetWriteFaultForTest(nullptr);
  EXPECT_EQ(outbox_->acked("police"), 0u);
  auto acked = Ack("police", 1);
  ASB_ASSERT_OK(acked);
  EXPECT_EQ(acked->acked_through(), 1u);  // not 2: the failed ack left no trace
  Open();
  EXPECT_EQ(outbox_->acked("police"), 1u);
}

// --- delivery: in flight, redelivery after the ack timeout, dead letters, gaps, retention -----

OutboxOptions Delivery(absl::Duration timeout, uint32_t max_deliveries,
                       absl::Duration retention = absl::ZeroDuration()) {
  OutboxOptions o;
  o.ack_timeout = timeout;
  o.max_deliveries = max_deliveries;
  o.retention = retention;
  return o;
}

TEST_F(OutboxTest, InFlightAlertsWaitForTheAckTimeoutThenComeAgain) {
  Open(Delivery(absl::Seconds(30), 10));
  for (uint64_t i = 1; i <= 3; ++i) {
    ASB_ASSERT_OK(Apply(CboIssued(i, "police")));
  }
  asb::v1::PullAlertsRequest two;
  two.set_max(2);
  auto a = Pull("police", two);  // client A
  ASB_ASSERT_OK(a);
  EXPECT_THAT(Seqs(*a), ElementsAre(1, 2));
  EXPECT_EQ(a->alerts(0).last_delivered_at().seconds(), absl::ToUnixSeconds(kT0));
  auto b = Pull("police");  // client B of the same agency: shared work, gets the rest
  ASB_ASSERT_OK(b);
  EXPECT_THAT(Seqs(*b), ElementsAre(3));
  auto none = Pull("police");
  ASB_ASSERT_OK(none);
  EXPECT_TRUE(none->alerts().empty());
  EXPECT_TRUE(outbox_->HasPending("police"));

  now_ = kT0 + absl::Seconds(29);
  ASB_ASSERT_OK(Ack("police", 1));
  none = Pull("police");
  ASB_ASSERT_OK(none);
  EXPECT_TRUE(none->alerts().empty());

  now_ = kT0 + absl::Seconds(31);  // not acknowledged in time: handed out again
  auto again = Pull("police");
  ASB_ASSERT_OK(again);
  EXPECT_THAT(Seqs(*again), ElementsAre(2, 3));
  EXPECT_EQ(again->alerts(0).delivery_count(), 2u);

  // A replay ignores in-flight state (a reconnecting client asking for what it missed).
  asb::v1::PullAlertsRequest replay;
  replay.set_from_seq(2);
  auto replayed = Pull("police", replay);
  ASB_ASSERT_OK(replayed);
  EXPECT_THAT(Seqs(*replayed), ElementsAre(2, 3));
}

TEST_F(OutboxTest, DeadLetterAfterMaxDeliveriesIsAuditedListedAndSkipped) {
  Open(Delivery(absl::Seconds(10), 2));
  ASB_ASSERT_OK(Apply(CboIssued(1, "police", "c1")));
  ASB_ASSERT_OK(Apply(CboIssued(2, "police", "c2")));
  ASB_ASSERT_OK(Apply(CboIssued(3, "housing", "c3")));
  auto first = Pull("police");
  ASB_ASSERT_OK(first);
  EXPECT_THAT(Seqs(*first), ElementsAre(1, 2));
  ASB_ASSERT_OK(Ack("police", 1));
  now_ += absl::Seconds(11);
  auto second = Pull("police");
  ASB_ASSERT_OK(second);
  EXPECT_THAT(Seqs(*second), ElementsAre(2));
  EXPECT_EQ(second->alerts(0).delivery_count(), 2u);
  now_ += absl::Seconds(11);
  auto third = Pull("police");  // 2 deliveries, still no ack: dead-lettered
  ASB_ASSERT_OK(third);
  EXPECT_TRUE(third->alerts().empty());

  auto records = AuditRecords();
  ASSERT_FALSE(records.empty());
  const asb::v1::AuditRecord& dead = records.back();
  EXPECT_EQ(dead.kind(), asb::v1::AUDIT_KIND_DEAD_LETTER);
  EXPECT_EQ(dead.recipient_agency(), "police");
  EXPECT_EQ(dead.ref_seq(), 2u);
  EXPECT_EQ(dead.case_id(), "c2");
  EXPECT_THAT(dead.detail(), HasSubstr("2 deliveries"));

  // The cursor passes over it: the next alert comes at once.
  ASB_ASSERT_OK(Apply(CboIssued(4, "police", "c4")));
  auto next = Pull("police");
  ASB_ASSERT_OK(next);
  EXPECT_THAT(Seqs(*next), ElementsAre(3));
  ASB_ASSERT_OK(Ack("police", 3));
  EXPECT_EQ(outbox_->acked("police"), 3u);

  // A replay shows the gap at 2 — explained by the dead-letter list.
  asb::v1::PullAlertsRequest replay;
  replay.set_from_seq(1);
  auto replayed = Pull("police", replay);
  ASB_ASSERT_OK(replayed);
  EXPECT_THAT(Seqs(*replayed), ElementsAre(1, 3));

  Open();  // durable
  auto mine = outbox_->ListDeadLetters("police", {});
  ASB_ASSERT_OK(mine);
  ASSERT_EQ(mine->dead_letters_size(), 1);
  EXPECT_EQ(mine->dead_letters(0).alert().agency_seq(), 2u);
  EXPECT_EQ(mine->dead_letters(0).alert().delivery_count(), 2u);
  EXPECT_EQ(mine->dead_letters(0).dead_lettered_at().seconds(),
            absl::ToUnixSeconds(kT0 + absl::Seconds(22)));
  EXPECT_FALSE(mine->more());
  auto housing = outbox_->ListDeadLetters("housing", {});
  ASB_ASSERT_OK(housing);
  EXPECT_EQ(housing->dead_letters_size(), 0);
  auto all = outbox_->ListDeadLetters("", {});
  ASB_ASSERT_OK(all);
  EXPECT_EQ(all->dead_letters_size(), 1);
}

TEST_F(OutboxTest, ListDeadLettersPaginatesAcrossAgencies) {
  Open(Delivery(absl::Seconds(1), 1));
  ASB_ASSERT_OK(Apply(CboIssued(1, "housing")));
  ASB_ASSERT_OK(Apply(CboIssued(2, "police")));
  ASB_ASSERT_OK(Apply(CboIssued(3, "police")));
  ASB_ASSERT_OK(Pull("housing"));
  ASB_ASSERT_OK(Pull("police"));
  now_ += absl::Seconds(2);
  ASB_ASSERT_OK(Pull("housing"));
  ASB_ASSERT_OK(Pull("police"));
  asb::v1::ListDeadLettersRequest page;
  page.set_limit(2);
  auto p1 = outbox_->ListDeadLetters("", page);
  ASB_ASSERT_OK(p1);
  ASSERT_EQ(p1->dead_letters_size(), 2);
  EXPECT_TRUE(p1->more());
  EXPECT_EQ(p1->dead_letters(0).alert().agency(), "housing");
  EXPECT_EQ(p1->dead_letters(1).alert().agency(), "police");
  page.set_after_agency("police");
  page.set_after_seq(p1->dead_letters(1).alert().agency_seq());
  auto p2 = outbox_->ListDeadLetters("", page);
  ASB_ASSERT_OK(p2);
  ASSERT_EQ(p2->dead_letters_size(), 1);
  EXPECT_EQ(p2->dead_letters(0).alert().agency_seq(), 2u);
  EXPECT_FALSE(p2->more());
  page.set_limit(5000);
  EXPECT_THAT(outbox_->ListDeadLetters("", page), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(OutboxTest, DenseSequenceLetsAClientDetectAGapAndReplayIt) {
  for (uint64_t i = 1; i <= 6; ++i) {
    ASB_ASSERT_OK(Apply(CboIssued(i, "police")));
  }
  asb::v1::PullAlertsRequest three;
  three.set_max(3);
  auto got = Pull("police", three);
  ASB_ASSERT_OK(got);
  // The client handles 1 and 3 but the alert 2 was lost on its side (say, a crash mid-batch):
  // it knows the sequence is dense, so 1 → 3 is a gap it can name.
  std::vector<uint64_t> seen = {got->alerts(0).agency_seq(), got->alerts(2).agency_seq()};
  uint64_t expected = 1, gap = 0;
  for (uint64_t seq : seen) {
    if (seq != expected) {
      gap = expected;
      break;
    }
    ++expected;
  }
  ASSERT_EQ(gap, 2u);
  asb::v1::PullAlertsRequest replay;
  replay.set_from_seq(gap);
  replay.set_max(1);
  auto recovered = Pull("police", replay);
  ASB_ASSERT_OK(recovered);
  EXPECT_THAT(Seqs(*recovered), ElementsAre(2));
  // head tells the client how far the agency's sequence goes.
  EXPECT_EQ(recovered->head(), 6u);
  ASB_ASSERT_OK(Ack("police", 3));
  auto rest = Pull("police");
  ASB_ASSERT_OK(rest);
  EXPECT_THAT(Seqs(*rest), ElementsAre(4, 5, 6));
}

TEST_F(OutboxTest, RetentionDeletesOnlyWhatWasAckedLongEnoughAgo) {
  Open(Delivery(absl::Seconds(30), 10, absl::Hours(24 * 30)));
  for (uint64_t i = 1; i <= 4; ++i) {
    ASB_ASSERT_OK(Apply(CboIssued(i, "police")));
  }
  ASB_ASSERT_OK(Apply(CboIssued(5, "housing")));  // never acked: never deleted
  ASB_ASSERT_OK(Ack("police", 2));                // at T0
  now_ = kT0 + absl::Hours(24 * 20);
  ASB_ASSERT_OK(Ack("police", 3));  // day 20

  auto deleted = [&]() -> int {
    store::Batch batch = store_->NewBatch();
    auto n = outbox_->ApplyRetention(&batch);
    EXPECT_TRUE(n.ok()) << n.status();
    EXPECT_TRUE(store_->Write(&batch).ok());
    return n.ok() ? *n : -1;
  };
  asb::v1::PullAlertsRequest all;
  all.set_from_seq(1);
  EXPECT_EQ(deleted(), 0);  // nothing acked 30 days ago yet
  auto kept = Pull("police", all);
  ASB_ASSERT_OK(kept);
  EXPECT_THAT(Seqs(*kept), ElementsAre(1, 2, 3, 4));

  now_ = kT0 + absl::Hours(24 * 31);
  EXPECT_EQ(deleted(), 1);
  auto after = Pull("police", all);
  ASB_ASSERT_OK(after);
  EXPECT_THAT(Seqs(*after), ElementsAre(3, 4));  // 1..2 acked on day 0; 3 only on day 20
  // Their hand-outs' records went with them (the replays wrote one for each).
  int handed = 0;
  auto it = store_->NewIterator("deliveries");
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    handed += it->key().starts_with("police") ? 1 : 0;
  }
  EXPECT_EQ(handed, 2);
  EXPECT_EQ(outbox_->head("police"), 4u);  // cursors untouched
  EXPECT_EQ(outbox_->acked("police"), 3u);

  now_ = kT0 + absl::Hours(24 * 51);
  EXPECT_EQ(deleted(), 1);
  after = Pull("police", all);
  ASB_ASSERT_OK(after);
  EXPECT_THAT(Seqs(*after), ElementsAre(4));  // never acked: kept
  auto housing = Pull("housing", all);
  ASB_ASSERT_OK(housing);
  EXPECT_THAT(Seqs(*housing), ElementsAre(1));
}

// At rest, an alert (queued or dead-lettered) is sealed under its case's data key; the cursors
// and ack marks (agency -> numbers) stay plaintext.
TEST_F(OutboxTest, StoreLayoutFindsEachAlertsCase) {
  ASB_ASSERT_OK(Apply(CboIssued(1, "police", "case-7")));
  const store::StoreOptions layout = NotifyStoreLayout();
  EXPECT_EQ(layout.column_families, NotifyColumnFamilies());
  EXPECT_THAT(layout.plaintext_column_families,
              ElementsAre("cursors", "ackmarks", "deliveries", "webhooks", "tree_heads"));
  ASSERT_TRUE(layout.subject_of);
  auto it = store_->NewIterator("outbox");
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(layout.subject_of("outbox", it->key().ToStringView(), it->value().ToStringView()),
            "case-7");
  asb::v1::DeadLetter dead;
  ASSERT_TRUE(dead.mutable_alert()->ParseFromArray(it->value().data(),
                                                   static_cast<int>(it->value().size())));
  dead.set_reason("not acknowledged");
  EXPECT_EQ(layout.subject_of("deadletters", it->key().ToStringView(), dead.SerializeAsString()),
            "case-7");
  EXPECT_EQ(layout.subject_of("cursors", "head/police", store::EncodeSeq(1)), "");
}

}  // namespace
}  // namespace asb::notify
