// asb-intake's order ledger and the hub's clock, through IntakeHandler on a real store with the
// shipped statutory rules, in simulated time (clock::SimulatedClock; the timers are fired by a
// clock::TimerService without a loop, as the daemon's loop would).
#include "services/intake/order_ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/timer_service.h"
#include "common/config/config.h"
#include "common/model/model.h"
#include "common/orders/rules.h"
#include "services/intake/intake_handler.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::intake {
namespace {

using asb::v1::CaseEvent;
using asb::v1::SubmitResult;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

// The shipped ISP's agencies, and "council", the issuing agency these tests' orders name.
const std::vector<std::string> kAgencies = {"council",
                                            "community-safety",
                                            "housing",
                                            "environmental-health",
                                            "licensing",
                                            "childrens-services",
                                            "adult-social-care",
                                            "police",
                                            "fire",
                                            "yot",
                                            "probation",
                                            "nhs",
                                            "partnership"};

class OrderLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rules = orders::StatutoryRules::LoadFile(
        std::string(ASB_SOURCE_DIR) + "/config/statutory/rules.yaml", kAgencies);
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *rules;
    Open();
  }

  // (Re)opens the store as the daemon does after a restart: whatever was written is kept.
  void Open() {
    service_.reset();
    handler_.reset();
    events_.reset();
    audit_.reset();
    store_.reset();
    store::StoreOptions options;
    options.path = dir_.Sub("db");
    options.sync = false;
    options.column_families = IntakeColumnFamilies();
    auto store = store::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    events_ = std::move(*stream::Log::Open(store_.get(), "events", "intake"));
    audit_ = std::move(*stream::Log::Open(store_.get(), "audit", "intake"));
    handler_ = std::make_unique<IntakeHandler>(store_.get(), events_.get(), audit_.get(),
                                               [this] { return clock_.Now(); });
    handler_->SetRules(rules_);
    handler_->SetAgencies(kAgencies);
    service_ = std::make_unique<clock::TimerService>(
        nullptr, store_.get(), &handler_->timers(), &clock_,
        [this](const clock::Timer& t, store::Batch* b) { return handler_->FireTimer(t, b); },
        clock::TimerService::Options{});
  }

  static CaseEvent Event(const std::string& id, const std::string& at, const std::string& body,
                         const std::string& case_id = "C1") {
    CaseEvent e;
    const std::string json = "{\"sourceEventId\":\"" + id + "\",\"caseId\":\"" + case_id +
                             "\",\"occurredAt\":\"" + at + "\"," + body + "}";
    absl::Status s = config::ParseJson(json, &e);
    EXPECT_TRUE(s.ok()) << s << " in " << json;
    return e;
  }

  asb::v1::SubmitResponse Submit(std::vector<CaseEvent> events) {
    asb::v1::SubmitRequest r;
    for (CaseEvent& e : events) {
      *r.add_events() = std::move(e);
    }
    auto response = handler_->Submit(feed_, r);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : asb::v1::SubmitResponse();
  }

  SubmitResult SubmitOne(CaseEvent e) {
    asb::v1::SubmitResponse r = Submit({std::move(e)});
    return r.results_size() == 1 ? r.results(0) : SubmitResult();
  }

  std::vector<asb::v1::Envelope> Events() {
    std::vector<asb::v1::Envelope> out;
    EXPECT_TRUE(events_->Read(1, 1000, &out).ok());
    return out;
  }

  // The hub's own events in the log, in order.
  std::vector<CaseEvent> HubEvents() {
    std::vector<CaseEvent> out;
    for (const auto& env : Events()) {
      if (env.accepted_event().made_by_hub()) {
        out.push_back(env.accepted_event().event());
      }
    }
    return out;
  }

  std::size_t Fire() {
    auto fired = service_->FireAllDue();
    EXPECT_TRUE(fired.ok()) << fired.status();
    return fired.ok() ? *fired : 0;
  }

  asb::v1::LedgerOrder Ledger(const std::string& order_id, const std::string& case_id = "C1") {
    auto lo = handler_->ledger().Get(case_id, order_id);
    EXPECT_TRUE(lo.ok()) << lo.status();
    return lo.ok() ? *lo : asb::v1::LedgerOrder();
  }

  std::shared_ptr<const orders::StatutoryRules> rules_;
  clock::SimulatedClock clock_{At("2026-12-01T00:00:00Z")};
  const Source feed_{"council-feed", "council"};
  asb::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<stream::Log> events_;
  std::unique_ptr<stream::Log> audit_;
  std::unique_ptr<IntakeHandler> handler_;
  std::unique_ptr<clock::TimerService> service_;
};

constexpr char kPerson[] = R"("personLinked":{"person":{"personId":"P1",
    "role":"PERSON_ROLE_PERPETRATOR","dateOfBirth":"1990-05-01"}})";
constexpr char kChild[] = R"("personLinked":{"person":{"personId":"P1",
    "role":"PERSON_ROLE_PERPETRATOR","dateOfBirth":"2011-05-01"}})";

TEST_F(OrderLedgerTest, A72HourDispersalDirectionIsRefusedCitingSection35) {
  SubmitOne(Event("p", "2026-11-30T19:00:00Z", kPerson));
  const SubmitResult r = SubmitOne(
      Event("dd", "2026-11-30T20:00:00Z",
            R"("orderIssued":{"order":{"orderId":"DD1","type":"ORDER_TYPE_DISPERSAL_DIRECTION",
         "subjectPersonId":"P1","issuedBy":"police","issuedAt":"2026-11-30T20:00:00Z",
         "expiresAt":"2026-12-03T20:00:00Z",
         "authorisations":[{"rank":"AUTHORISING_RANK_INSPECTOR"}]}})"));
  EXPECT_EQ(r.outcome(), SubmitResult::OUTCOME_REFUSED);
  EXPECT_EQ(r.status().code(), asb::v1::STATUS_CODE_INVALID_ARGUMENT);
  EXPECT_THAT(r.status().message(),
              HasSubstr("events[0].order_issued.order.expires_at: a term of 72 hours exceeds the "
                        "maximum of 48 hours"));
  EXPECT_THAT(r.status().message(),
              HasSubstr("Anti-social Behaviour, Crime and Policing Act 2014 s.35(4)"));
  EXPECT_THAT(Events(), SizeIs(1));  // only the person
  // The refusal is on the record, with the reason.
  std::vector<asb::v1::Envelope> audit;
  ASB_ASSERT_OK(audit_->Read(1, 100, &audit));
  EXPECT_EQ(audit.back().audit().kind(), asb::v1::AUDIT_KIND_REJECTION);
  EXPECT_THAT(audit.back().audit().detail(), HasSubstr("s.35(4)"));
}

TEST_F(OrderLedgerTest, ReissueIsRefusedAndABreachSeesTheIssueOfTheSameRequest) {
  const asb::v1::SubmitResponse r = Submit(
      {Event("p", "2026-10-01T09:00:00Z", kPerson),
       Event(
           "i", "2026-10-14T11:00:00Z",
           R"("orderIssued":{"order":{"orderId":"CBO1","type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER",
                "subjectPersonId":"P1","issuedBy":"police","expiresAt":"2028-10-14T00:00:00Z"}})"),
       Event("b", "2026-11-08T23:20:00Z",
             R"("orderBreached":{"orderId":"CBO1","breach":{"description":"at the door"}})"),
       Event(
           "i2", "2026-11-09T10:00:00Z",
           R"("orderIssued":{"order":{"orderId":"CBO1","type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER",
                "subjectPersonId":"P1","expiresAt":"2028-11-09T00:00:00Z"}})")});
  ASSERT_THAT(r.results(), SizeIs(4));
  EXPECT_EQ(r.results(1).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(r.results(2).outcome(), SubmitResult::OUTCOME_ACCEPTED)
      << r.results(2).status().message();
  EXPECT_EQ(r.results(3).outcome(), SubmitResult::OUTCOME_REFUSED);
  EXPECT_EQ(r.results(3).status().code(), asb::v1::STATUS_CODE_FAILED_PRECONDITION);
  EXPECT_THAT(r.results(3).status().message(), HasSubstr("vary it instead"));
  EXPECT_EQ(Ledger("CBO1").order().breaches_size(), 1);
}

TEST_F(OrderLedgerTest, NoBreachOrVariationOfADischargedOrder) {
  Submit({Event("p", "2026-10-01T09:00:00Z", kPerson),
          Event("i", "2026-10-14T11:00:00Z",
                R"("orderIssued":{"order":{"orderId":"CI1","type":"ORDER_TYPE_CIVIL_INJUNCTION",
                   "subjectPersonId":"P1","expiresAt":"2027-10-14T00:00:00Z"}})"),
          Event("d", "2026-11-01T11:00:00Z",
                R"("orderDischarged":{"orderId":"CI1","reason":"moved away"})")});
  EXPECT_EQ(SubmitOne(Event("v", "2026-11-02T00:00:00Z",
                            R"("orderVaried":{"orderId":"CI1","conditions":"x"})"))
                .status()
                .code(),
            asb::v1::STATUS_CODE_FAILED_PRECONDITION);
  EXPECT_EQ(SubmitOne(Event("b1", "2026-11-02T00:00:00Z", R"("orderBreached":{"orderId":"CI1"})"))
                .outcome(),
            SubmitResult::OUTCOME_REFUSED);
  // A breach committed before the discharge, reported now: recorded.
  EXPECT_EQ(SubmitOne(Event("b2", "2026-11-02T00:00:00Z",
                            R"("orderBreached":{"orderId":"CI1","breach":{
                               "occurredAt":"2026-10-30T00:00:00Z"}})"))
                .outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
}

TEST_F(OrderLedgerTest, ASoftRuleRaisesTheHubsComplianceNoticeRightAfterTheEvent) {
  Submit({Event("p", "2026-11-01T09:00:00Z", kChild)});
  const SubmitResult r = SubmitOne(
      Event("ci", "2026-11-20T14:00:00Z",
            R"("orderIssued":{"order":{"orderId":"CI1","type":"ORDER_TYPE_CIVIL_INJUNCTION",
         "subjectPersonId":"P1","issuedBy":"council","expiresAt":"2027-11-20T00:00:00Z"}})"));
  ASSERT_EQ(r.outcome(), SubmitResult::OUTCOME_ACCEPTED) << r.status().message();
  const std::vector<asb::v1::Envelope> log = Events();
  ASSERT_THAT(log, SizeIs(3));
  EXPECT_EQ(log[1].seq(), r.hub_seq());
  const asb::v1::AcceptedEvent& hub = log[2].accepted_event();
  EXPECT_TRUE(hub.made_by_hub());
  EXPECT_EQ(hub.source(), "hub");
  EXPECT_EQ(hub.source_agency(), "hub");
  const asb::v1::StatutoryNotice& n = hub.event().statutory_notice();
  EXPECT_EQ(n.kind(), asb::v1::NOTICE_KIND_COMPLIANCE);
  EXPECT_EQ(n.context().rule_id(), "injunction-yot-consulted");
  EXPECT_EQ(n.context().section(),
            "Anti-social Behaviour, Crime and Policing Act 2014 s.14(1), (3)");
  EXPECT_THAT(n.context().due(), HasSubstr("no consultation of yot"));
  EXPECT_THAT(n.recipients(), ElementsAre("council"));
  EXPECT_EQ(n.context().rules_version(), rules_->version());
  // Collected by the hub, on the record like any event.
  std::vector<asb::v1::Envelope> audit;
  ASB_ASSERT_OK(audit_->Read(1, 100, &audit));
  EXPECT_EQ(audit.back().audit().kind(), asb::v1::AUDIT_KIND_COLLECTION);
  EXPECT_EQ(audit.back().audit().actor(), "hub");
  EXPECT_EQ(audit.back().audit().ref_seq(), log[2].seq());
  EXPECT_EQ(handler_->hub_events(), 1u);
  // The notice is on the ledger's order.
  EXPECT_EQ(Ledger("CI1").order().notices_size(), 1);
}

TEST_F(OrderLedgerTest, AnOrderPastItsEndIsExpiredByTheHubAtOnceAndOnce) {
  // Backfill: an ABC that ended two days ago arrives now.
  SubmitOne(Event(
      "abc", "2026-10-20T10:00:00Z",
      R"("orderIssued":{"order":{"orderId":"A1","type":"ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT",
         "issuedBy":"council","issuedAt":"2026-06-01T10:00:00Z",
         "expiresAt":"2026-11-29T00:00:00Z","reviewAt":"2026-12-20T00:00:00Z"}})"));
  EXPECT_EQ(Fire(), 1u);
  std::vector<CaseEvent> hub = HubEvents();
  ASSERT_THAT(hub, SizeIs(1));
  EXPECT_EQ(hub[0].order_expired().order_id(), "A1");
  EXPECT_EQ(hub[0].occurred_at().seconds(), absl::ToUnixSeconds(At("2026-11-29T00:00:00Z")));
  EXPECT_EQ(hub[0].order_expired().context().rule_id(), "order-term");
  EXPECT_THAT(hub[0].order_expired().context().section(), HasSubstr("contract's own term"));
  EXPECT_EQ(Ledger("A1").order().status(), asb::v1::ORDER_STATUS_EXPIRED);
  // Nothing fires twice, however long we wait; the review of an ended order is not due.
  clock_.Advance(absl::Hours(24 * 400));
  EXPECT_EQ(Fire(), 0u);
  EXPECT_THAT(HubEvents(), SizeIs(1));
  // The feed's own expiry, later: the same fact, stored once (a duplicate of the hub's record).
  const SubmitResult dup =
      SubmitOne(Event("abc-exp", "2026-11-29T00:00:00Z", R"("orderExpired":{"orderId":"A1"})"));
  EXPECT_EQ(dup.outcome(), SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_EQ(dup.hub_seq(), Events().back().seq());
  EXPECT_THAT(Events(), SizeIs(2));
  // And again: answered from the de-duplication index.
  EXPECT_EQ(
      SubmitOne(Event("abc-exp", "2026-11-29T00:00:00Z", R"("orderExpired":{"orderId":"A1"})"))
          .hub_seq(),
      dup.hub_seq());
}

TEST_F(OrderLedgerTest, TheClockFollowsVariationsAndStopsAtADischarge) {
  SubmitOne(Event(
      "abc", "2026-11-30T10:00:00Z",
      R"("orderIssued":{"order":{"orderId":"A1","type":"ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT",
         "issuedBy":"council","expiresAt":"2026-12-10T00:00:00Z",
         "reviewAt":"2027-03-01T00:00:00Z"}})"));
  clock_.Set(At("2026-12-09T23:59:00Z"));
  EXPECT_EQ(Fire(), 0u);
  // Extended before its end: the expiry moves.
  SubmitOne(Event("v", "2026-12-09T23:59:00Z",
                  R"("orderVaried":{"orderId":"A1","expiresAt":"2027-06-10T00:00:00Z"})"));
  clock_.Set(At("2026-12-10T00:01:00Z"));
  EXPECT_EQ(Fire(), 0u);
  // Discharged: no expiry, no review reminder, ever.
  SubmitOne(
      Event("d", "2026-12-11T00:00:00Z", R"("orderDischarged":{"orderId":"A1","reason":"done"})"));
  EXPECT_THAT(Ledger("A1").timers(), IsEmpty());
  clock_.Set(At("2028-01-01T00:00:00Z"));
  EXPECT_EQ(Fire(), 0u);
  EXPECT_THAT(HubEvents(), IsEmpty());
}

TEST_F(OrderLedgerTest, ReviewDueThenOverdueThenEscalatedToThePartnership) {
  SubmitOne(Event(
      "abc", "2026-12-01T00:00:00Z",
      R"("orderIssued":{"order":{"orderId":"A1","type":"ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT",
         "issuedBy":"council","expiresAt":"2027-06-01T00:00:00Z",
         "reviewAt":"2026-12-21T00:00:00Z"}})"));
  auto kinds = [&] {
    std::vector<asb::v1::NoticeKind> out;
    for (const CaseEvent& e : HubEvents()) {
      out.push_back(e.statutory_notice().kind());
    }
    return out;
  };
  clock_.Set(At("2026-12-06T23:59:00Z"));
  EXPECT_EQ(Fire(), 0u);
  clock_.Set(At("2026-12-07T00:00:00Z"));  // 14 days before
  EXPECT_EQ(Fire(), 1u);
  EXPECT_THAT(kinds(), ElementsAre(asb::v1::NOTICE_KIND_REVIEW_DUE));
  clock_.Set(At("2026-12-20T00:00:00Z"));  // 1 day before
  EXPECT_EQ(Fire(), 1u);
  clock_.Set(At("2026-12-21T00:00:00Z"));  // due, and no review recorded
  EXPECT_EQ(Fire(), 1u);
  EXPECT_THAT(kinds(), ElementsAre(asb::v1::NOTICE_KIND_REVIEW_DUE, asb::v1::NOTICE_KIND_REVIEW_DUE,
                                   asb::v1::NOTICE_KIND_REVIEW_OVERDUE));
  const asb::v1::StatutoryNotice overdue = HubEvents().back().statutory_notice();
  EXPECT_THAT(overdue.recipients(), ElementsAre("council"));
  EXPECT_EQ(overdue.context().deadline().seconds(),
            absl::ToUnixSeconds(At("2026-12-21T00:00:00Z")));
  clock_.Set(At("2026-12-28T00:00:00Z"));  // still open a week later
  EXPECT_EQ(Fire(), 1u);
  const asb::v1::StatutoryNotice escalation = HubEvents().back().statutory_notice();
  EXPECT_EQ(escalation.kind(), asb::v1::NOTICE_KIND_ESCALATION);
  EXPECT_THAT(escalation.recipients(), ElementsAre("partnership"));
  EXPECT_EQ(escalation.escalates(), overdue.notice_id());
  clock_.Set(At("2027-05-01T00:00:00Z"));
  EXPECT_EQ(Fire(), 0u);  // each once
}

TEST_F(OrderLedgerTest, AReviewHeldInTimeStopsTheOverdueNotice) {
  SubmitOne(Event(
      "abc", "2026-12-01T00:00:00Z",
      R"("orderIssued":{"order":{"orderId":"A1","type":"ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT",
         "issuedBy":"council","expiresAt":"2027-06-01T00:00:00Z",
         "reviewAt":"2026-12-21T00:00:00Z"}})"));
  clock_.Set(At("2026-12-15T00:00:00Z"));
  EXPECT_EQ(Fire(), 1u);  // the 14-day reminder
  SubmitOne(Event("rv", "2026-12-15T10:00:00Z",
                  R"("reviewHeld":{"orderId":"A1","outcome":"complying"})"));
  clock_.Set(At("2027-01-15T00:00:00Z"));
  EXPECT_EQ(Fire(), 0u);
  EXPECT_THAT(HubEvents(), SizeIs(1));
}

TEST_F(OrderLedgerTest, AClosureNoticeServedThreeDaysAgoWithNoHearingIsOverdue) {
  SubmitOne(Event("cn", "2026-11-28T00:00:00Z",
                  R"("orderIssued":{"order":{"orderId":"CN1","type":"ORDER_TYPE_CLOSURE_NOTICE",
         "issuedBy":"police","issuedAt":"2026-11-28T00:00:00Z","expiresAt":"2026-11-29T00:00:00Z",
         "authorisations":[{"rank":"AUTHORISING_RANK_INSPECTOR"}]}})"));
  EXPECT_EQ(Fire(), 2u);  // its end, and the hearing's deadline: both passed
  std::vector<CaseEvent> hub = HubEvents();
  ASSERT_THAT(hub, SizeIs(2));
  const CaseEvent* hearing = hub[0].has_statutory_notice() ? &hub[0] : &hub[1];
  EXPECT_EQ(hearing->statutory_notice().kind(), asb::v1::NOTICE_KIND_HEARING_OVERDUE);
  EXPECT_EQ(hearing->statutory_notice().context().rule_id(), "closure-hearing-48h");
  EXPECT_THAT(hearing->statutory_notice().context().section(), HasSubstr("s.80(3)"));
  EXPECT_EQ(hearing->statutory_notice().context().deadline().seconds(),
            absl::ToUnixSeconds(At("2026-11-30T00:00:00Z")));
  EXPECT_THAT(hearing->statutory_notice().recipients(), ElementsAre("police"));
  // A hearing recorded before the escalation is due: no escalation.
  clock_.Set(At("2026-12-02T12:00:00Z"));
  EXPECT_EQ(Fire(), 0u);
  SubmitOne(Event("h", "2026-12-02T10:00:00Z",
                  R"("hearingHeld":{"orderId":"CN1","hearingId":"H1",
                     "outcome":"HEARING_OUTCOME_ORDER_MADE"})"));
  clock_.Set(At("2026-12-20T00:00:00Z"));
  EXPECT_EQ(Fire(), 0u);
  EXPECT_THAT(HubEvents(), SizeIs(2));
}

TEST_F(OrderLedgerTest, ATimerFiredInALostWriteFiresAgainAfterTheRestartOnlyOnce) {
  SubmitOne(Event(
      "abc", "2026-11-20T10:00:00Z",
      R"("orderIssued":{"order":{"orderId":"A1","type":"ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT",
         "issuedBy":"council","expiresAt":"2026-11-30T00:00:00Z",
         "reviewAt":"2027-02-01T00:00:00Z"}})"));
  {
    // kill -9 after firing, before the write: the batch never reaches the disk.
    auto due = handler_->timers().Due(clock_.Now(), 10);
    ASB_ASSERT_OK(due.status());
    ASSERT_THAT(*due, SizeIs(1));
    store::Batch lost = store_->NewBatch();
    handler_->timers().Remove((*due)[0].name, (*due)[0].due, &lost);
    ASB_ASSERT_OK(handler_->FireTimer((*due)[0], &lost));
  }
  Open();
  EXPECT_THAT(HubEvents(), IsEmpty());
  EXPECT_EQ(Fire(), 1u);
  Open();
  EXPECT_EQ(Fire(), 0u);
  EXPECT_THAT(HubEvents(), SizeIs(1));
}

TEST_F(OrderLedgerTest, AnUnder18CboGetsItsAnnualReviewSection337) {
  Submit(
      {Event("p", "2026-01-01T09:00:00Z", kChild),
       Event(
           "yot", "2026-01-05T09:00:00Z",
           R"("consultationGiven":{"orderId":"CBO1","orderType":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER",
                   "consultee":"yot","response":"support"})"),
       Event(
           "i", "2026-01-10T11:00:00Z",
           R"("orderIssued":{"order":{"orderId":"CBO1","type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER",
                   "subjectPersonId":"P1","issuedBy":"police","issuedAt":"2026-01-10T11:00:00Z",
                   "expiresAt":"2028-01-10T00:00:00Z"}})")});
  EXPECT_THAT(HubEvents(), IsEmpty());     // the YOT's views were recorded before
  clock_.Set(At("2026-12-27T11:00:00Z"));  // 14 days before the first review period ends
  Fire();
  clock_.Set(At("2027-01-09T11:00:00Z"));
  Fire();
  clock_.Set(At("2027-01-10T11:00:00Z"));
  Fire();
  std::vector<CaseEvent> hub = HubEvents();
  ASSERT_THAT(hub, SizeIs(3));
  EXPECT_EQ(hub[0].statutory_notice().kind(), asb::v1::NOTICE_KIND_REVIEW_DUE);
  EXPECT_EQ(hub[1].statutory_notice().kind(), asb::v1::NOTICE_KIND_REVIEW_DUE);
  EXPECT_EQ(hub[2].statutory_notice().kind(), asb::v1::NOTICE_KIND_REVIEW_OVERDUE);
  EXPECT_EQ(hub[2].statutory_notice().context().rule_id(), "cbo-under-18-review");
  EXPECT_EQ(hub[2].statutory_notice().context().section(), "Sentencing Act 2020 s.337");
  // Reviewed (late): the next period would end after the order does, so nothing more is due and
  // the overdue notice is not escalated.
  SubmitOne(Event("rv", "2027-01-11T10:00:00Z",
                  R"("reviewHeld":{"orderId":"CBO1","outcome":"complying"})"));
  clock_.Set(At("2027-12-31T00:00:00Z"));
  Fire();
  EXPECT_THAT(HubEvents(), SizeIs(3));
}

}  // namespace
}  // namespace asb::intake
