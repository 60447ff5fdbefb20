// asb-intake's victim ledger through IntakeHandler on a real store, with the shipped ASB case
// review procedure (config/casereview/derbyshire.yaml) and risk matrix example, in simulated time
// (the timers are fired by a clock::TimerService without a loop, as the daemon's loop would):
// the advisory at the second related qualifying complaint, the alert at the third, once; the
// duplicate across agencies and the stale complaint not counted; linked cases; applications,
// decisions and appeals checked and their response times kept exactly once; bad risk
// assessments refused by name; the risk matrix's follow-up on the same clock (a victim not
// assessed in time, a reassessment due after a new incident for a MEDIUM or HIGH victim and
// overdue when none follows), each once, across a restart.
#include "services/intake/victim_ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/timer_service.h"
#include "common/config/config.h"
#include "common/model/model.h"
#include "services/intake/intake_handler.h"
#include "services/intake/order_ledger.h"
#include "tests/support/temp_dir.h"

namespace asb::intake {
namespace {

using asb::v1::CaseEvent;
using asb::v1::SubmitResult;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const std::vector<std::string> kAgencies = {
    "council", "police",    "fire", "adult-social-care", "childrens-services", "housing",
    "yot",     "probation", "nhs",  "partnership"};

absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

class VictimLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = victims::CaseReviewProcedure::LoadFile(
        std::string(ASB_SOURCE_DIR) + "/config/casereview/derbyshire.yaml", kAgencies);
    ASSERT_TRUE(p.ok()) << p.status();
    procedure_ = *p;
    auto m = victims::RiskMatrix::LoadFile(std::string(ASB_SOURCE_DIR) + "/config/risk/matrix.yaml",
                                           kAgencies);
    ASSERT_TRUE(m.ok()) << m.status();
    risk_ = *m;
    Open();
  }

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
    handler_->SetAgencies(kAgencies);
    handler_->SetCaseReviewProcedure(procedure_);
    handler_->SetRiskMatrix(risk_);
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

  // An incident reported at `at` (the behaviour at `occurred`, default the same) by `agency`.
  static CaseEvent Incident(const std::string& id, const std::string& agency, const std::string& at,
                            const std::string& case_id = "C1", const std::string& occurred = "",
                            const std::string& extra = "") {
    return Event("inc-" + id + "-" + case_id, at,
                 "\"incidentReported\":{\"incident\":{\"incidentId\":\"" + id +
                     "\",\"category\":\"NSIR_CATEGORY_PERSONAL\",\"reportedBy\":\"" + agency +
                     "\",\"occurredAt\":\"" + (occurred.empty() ? at : occurred) + "\"" + extra +
                     "}}",
                 case_id);
  }

  static CaseEvent Open(const std::string& case_id, const std::string& lead) {
    return Event("open-" + case_id, "2026-01-02T09:00:00Z",
                 "\"caseOpened\":{\"nsirCategory\":\"NSIR_CATEGORY_PERSONAL\",\"title\":\"t\","
                 "\"leadAgency\":\"" +
                     lead + "\",\"leadOfficer\":\"PC 1\"}",
                 case_id);
  }

  SubmitResult SubmitOne(CaseEvent e) {
    asb::v1::SubmitRequest r;
    *r.add_events() = std::move(e);
    auto response = handler_->Submit(feed_, r);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() && response->results_size() == 1 ? response->results(0) : SubmitResult();
  }

  // The hub's case review notices in the log, in order.
  std::vector<asb::v1::CaseReviewNotice> Notices(const std::string& case_id = "") {
    std::vector<asb::v1::Envelope> all;
    EXPECT_TRUE(events_->Read(1, 10000, &all).ok());
    std::vector<asb::v1::CaseReviewNotice> out;
    for (const auto& env : all) {
      const CaseEvent& e = env.accepted_event().event();
      if (env.accepted_event().made_by_hub() && e.has_case_review_notice() &&
          (case_id.empty() || e.case_id() == case_id)) {
        out.push_back(e.case_review_notice());
      }
    }
    return out;
  }

  // The hub's victim notices in the log, in order.
  std::vector<asb::v1::VictimNotice> VictimNotices(const std::string& case_id = "") {
    std::vector<asb::v1::Envelope> all;
    EXPECT_TRUE(events_->Read(1, 10000, &all).ok());
    std::vector<asb::v1::VictimNotice> out;
    for (const auto& env : all) {
      const CaseEvent& e = env.accepted_event().event();
      if (env.accepted_event().made_by_hub() && e.has_victim_notice() &&
          (case_id.empty() || e.case_id() == case_id)) {
        out.push_back(e.victim_notice());
      }
    }
    return out;
  }

  static CaseEvent Link(const std::string& id, const std::string& at, const std::string& person,
                        const std::string& role = "PERSON_ROLE_VICTIM",
                        const std::string& case_id = "C1") {
    return Event(
        id, at,
        R"("personLinked":{"person":{"personId":")" + person + R"(","role":")" + role + R"("}})",
        case_id);
  }

  // A template assessment of `person`: MEDIUM (score 12) or HIGH (17).
  static CaseEvent Assess(const std::string& id, const std::string& at, const std::string& person,
                          bool high, const std::string& case_id = "C1") {
    return Event(
        id, at,
        R"("riskAssessed":{"personId":")" + person +
            R"(","templateId":"asb-victim","answers":[{"questionId":"repeat","optionId":")" +
            (high ? "more" : "once") +
            R"("},{"questionId":"targeted","optionId":"yes"},{"questionId":"health","optionId":")" +
            (high ? "severe" : "some") + R"("},{"questionId":"vulnerable","optionId":"yes"}]})",
        case_id);
  }

  // The victim ledger's records of `case_id` by kind (the head 'r', the window 'w', the
  // incidents 'i'; the order ledger's 'o' and 'p' too): the key's rest -> the value.
  std::map<char, std::map<std::string, std::string>> Records(const std::string& case_id) {
    std::map<char, std::map<std::string, std::string>> out;
    const std::string prefix = case_id + std::string(1, '\0');
    std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kLedgerColumnFamily);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string rest = it->key().ToString().substr(prefix.size());
      out[rest[0]][rest.substr(1)] = it->value().ToString();
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return out;
  }

  std::size_t ReassessmentsDue() {
    std::size_t n = 0;
    for (const asb::v1::VictimNotice& v : VictimNotices()) {
      n += v.kind() == asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_DUE ? 1 : 0;
    }
    return n;
  }

  std::size_t Fire() {
    auto fired = service_->FireAllDue();
    EXPECT_TRUE(fired.ok()) << fired.status();
    return fired.ok() ? *fired : 0;
  }

  std::shared_ptr<const victims::CaseReviewProcedure> procedure_;
  std::shared_ptr<const victims::RiskMatrix> risk_;
  clock::SimulatedClock clock_{At("2026-04-01T12:00:00Z")};
  const Source feed_{"council-feed", "council"};
  asb::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<stream::Log> events_;
  std::unique_ptr<stream::Log> audit_;
  std::unique_ptr<IntakeHandler> handler_;
  std::unique_ptr<clock::TimerService> service_;
};

TEST_F(VictimLedgerTest, SecondComplaintAdvisesThirdAlertsOnce) {
  ASSERT_EQ(SubmitOne(Open("C1", "council")).outcome(), SubmitResult::OUTCOME_ACCEPTED);
  ASSERT_EQ(SubmitOne(Incident("P-1", "police", "2026-01-05T10:00:00Z")).outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_THAT(Notices(), IsEmpty());

  SubmitOne(Incident("C-7", "council", "2026-02-10T10:00:00Z"));
  std::vector<asb::v1::CaseReviewNotice> n = Notices();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_EQ(n[0].kind(), asb::v1::CASE_REVIEW_NOTICE_KIND_ADVISORY);
  EXPECT_THAT(n[0].recipients(), ElementsAre("council"));  // the lead agency
  EXPECT_EQ(n[0].complaints(), 2u);
  EXPECT_THAT(n[0].context().section(), HasSubstr("s.104"));
  EXPECT_THAT(n[0].context().due(), HasSubstr("Tell the victim about the ASB case review"));
  EXPECT_EQ(n[0].context().rules_version(), "derbyshire-2026.1");

  SubmitOne(Incident("H-3", "housing", "2026-03-20T10:00:00Z"));
  n = Notices();
  ASSERT_THAT(n, SizeIs(2));
  EXPECT_EQ(n[1].kind(), asb::v1::CASE_REVIEW_NOTICE_KIND_THRESHOLD_MET);
  EXPECT_THAT(n[1].recipients(), ElementsAre("council", "partnership"));
  EXPECT_EQ(n[1].complaints(), 3u);
  EXPECT_THAT(n[1].incident_ids(), ElementsAre("P-1", "C-7", "H-3"));
  EXPECT_THAT(n[1].context().section(),
              ::testing::StrEq("Anti-social Behaviour, Crime and Policing Act 2014 s.104(4)"));

  // A fourth complaint: still met, no second alert.
  SubmitOne(Incident("P-9", "police", "2026-03-25T10:00:00Z"));
  EXPECT_THAT(Notices(), SizeIs(2));
  // A resubmission is a duplicate and raises nothing.
  EXPECT_EQ(SubmitOne(Incident("H-3", "housing", "2026-03-20T10:00:00Z")).outcome(),
            SubmitResult::OUTCOME_DUPLICATE);
  EXPECT_THAT(Notices(), SizeIs(2));
}

TEST_F(VictimLedgerTest, DuplicateAcrossAgenciesCountsOnceAndTheStaleComplaintDropsOut) {
  SubmitOne(Open("C1", "police"));
  // Seven months before the others: out of the window.
  SubmitOne(Incident("P-0", "police", "2025-08-20T10:00:00Z"));
  SubmitOne(Incident("P-1", "police", "2026-03-01T20:30:00Z", "C1", "2026-03-01T20:00:00Z"));
  ASSERT_THAT(Notices(), IsEmpty());  // P-0 is more than six months before P-1
  // Housing recorded the same incident (ten minutes apart): the same one, counted once.
  SubmitOne(Incident("H-1", "housing", "2026-03-02T09:00:00Z", "C1", "2026-03-01T20:10:00Z"));
  EXPECT_THAT(Notices(), IsEmpty());
  // A complaint made five weeks after the behaviour does not qualify.
  SubmitOne(Incident("C-1", "council", "2026-03-20T09:00:00Z", "C1", "2026-02-10T09:00:00Z"));
  EXPECT_THAT(Notices(), IsEmpty());
  // A second distinct incident: the advisory, counting two.
  SubmitOne(Incident("C-2", "council", "2026-03-21T09:00:00Z"));
  ASSERT_THAT(Notices(), SizeIs(1));
  EXPECT_EQ(Notices()[0].complaints(), 2u);
  EXPECT_THAT(Notices()[0].incident_ids(), ElementsAre("P-1", "C-2"));
}

TEST_F(VictimLedgerTest, LinkedCasesAreRelated) {
  SubmitOne(Open("C1", "police"));
  SubmitOne(Open("C2", "housing"));
  SubmitOne(Incident("P-1", "police", "2026-02-01T10:00:00Z", "C1"));
  SubmitOne(Incident("H-1", "housing", "2026-02-15T10:00:00Z", "C2"));
  EXPECT_THAT(Notices(), IsEmpty());
  // Linking them makes two related complaints for both cases: each lead agency is advised.
  ASSERT_EQ(SubmitOne(Event("link-1", "2026-02-20T10:00:00Z",
                            R"("casesLinked":{"otherCaseId":"C2","reason":"same victim"})"))
                .outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
  ASSERT_THAT(Notices("C1"), SizeIs(1));
  ASSERT_THAT(Notices("C2"), SizeIs(1));
  EXPECT_THAT(Notices("C2")[0].recipients(), ElementsAre("housing"));
  // The third, on either case, meets the threshold for both.
  SubmitOne(Incident("C-3", "council", "2026-03-01T10:00:00Z", "C2"));
  ASSERT_THAT(Notices("C1"), SizeIs(2));
  ASSERT_THAT(Notices("C2"), SizeIs(2));
  EXPECT_EQ(Notices("C1")[1].kind(), asb::v1::CASE_REVIEW_NOTICE_KIND_THRESHOLD_MET);
  // A case linked to itself is refused.
  SubmitResult self =
      SubmitOne(Event("link-2", "2026-03-01T10:00:00Z", R"("casesLinked":{"otherCaseId":"C1"})"));
  EXPECT_EQ(self.outcome(), SubmitResult::OUTCOME_REFUSED);
  EXPECT_THAT(self.status().message(), HasSubstr("cases_linked.other_case_id: names the case"));
}

TEST_F(VictimLedgerTest, ApplicationDecisionAndAppealAreCheckedAndTimedOnTheHubsClock) {
  SubmitOne(Open("C1", "council"));
  // A decision before any application is refused, naming it.
  SubmitResult early = SubmitOne(
      Event("d0", "2026-03-30T10:00:00Z", R"("caseReviewDecided":{"applicationId":"A1"})"));
  EXPECT_EQ(early.outcome(), SubmitResult::OUTCOME_REFUSED);
  EXPECT_THAT(early.status().message(), HasSubstr("no ASB case review application 'A1'"));

  ASSERT_EQ(SubmitOne(Event("a1", "2026-04-01T09:00:00Z",
                            R"("caseReviewApplied":{"applicationId":"A1"})"))
                .outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_THAT(SubmitOne(Event("a1b", "2026-04-01T10:00:00Z",
                              R"("caseReviewApplied":{"applicationId":"A1"})"))
                  .status()
                  .message(),
              HasSubstr("already received"));
  // Ten days (decision_days): nothing before, the overdue notice after, once.
  clock_.Set(At("2026-04-11T08:59:00Z"));
  EXPECT_EQ(Fire(), 0u);
  clock_.Set(At("2026-04-11T09:00:00Z"));
  EXPECT_EQ(Fire(), 1u);
  EXPECT_EQ(Fire(), 0u);
  std::vector<asb::v1::CaseReviewNotice> n = Notices();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_EQ(n[0].kind(), asb::v1::CASE_REVIEW_NOTICE_KIND_DECISION_OVERDUE);
  EXPECT_EQ(n[0].application_id(), "A1");
  EXPECT_THAT(n[0].recipients(), ElementsAre("council", "partnership"));
  EXPECT_THAT(n[0].context().section(), HasSubstr("s.104(6)"));

  // Decided (late): the review is due in 28 days; completed in time, nothing fires.
  clock_.Set(At("2026-04-12T12:00:00Z"));
  ASSERT_EQ(SubmitOne(Event("d1", "2026-04-12T10:00:00Z",
                            R"("caseReviewDecided":{"applicationId":"A1","thresholdMet":true})"))
                .outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_THAT(SubmitOne(Event("d2", "2026-04-12T11:00:00Z",
                              R"("caseReviewDecided":{"applicationId":"A1"})"))
                  .status()
                  .message(),
              HasSubstr("already decided"));
  clock_.Set(At("2026-05-01T12:00:00Z"));
  EXPECT_EQ(Fire(), 0u);
  ASSERT_EQ(SubmitOne(Event("c1", "2026-05-01T10:00:00Z",
                            R"("caseReviewCompleted":{"applicationId":"A1"})"))
                .outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
  clock_.Set(At("2026-06-01T00:00:00Z"));
  EXPECT_EQ(Fire(), 0u);
  // Appealed to the PCC: overdue after 28 days.
  ASSERT_EQ(SubmitOne(Event("ap1", "2026-06-01T10:00:00Z",
                            R"("caseReviewAppealed":{"applicationId":"A1"})"))
                .outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
  clock_.Set(At("2026-06-29T10:00:00Z"));
  EXPECT_EQ(Fire(), 1u);
  ASSERT_THAT(Notices(), SizeIs(2));
  EXPECT_EQ(Notices()[1].kind(), asb::v1::CASE_REVIEW_NOTICE_KIND_APPEAL_OVERDUE);
  EXPECT_THAT(Notices()[1].context().section(), HasSubstr("Sch 4 para 3"));
  EXPECT_THAT(SubmitOne(Event("ad0", "2026-06-29T10:00:00Z",
                              R"("caseReviewCompleted":{"applicationId":"A1"})"))
                  .status()
                  .message(),
              HasSubstr("already completed"));
}

TEST_F(VictimLedgerTest, AStepRecordedInTimeStopsItsTimerAndATimerSurvivesARestart) {
  SubmitOne(Open("C1", "council"));
  SubmitOne(Event("a1", "2026-04-01T09:00:00Z", R"("caseReviewApplied":{"applicationId":"A1"})"));
  SubmitOne(Event("a2", "2026-04-01T09:00:00Z", R"("caseReviewApplied":{"applicationId":"A2"})"));
  clock_.Set(At("2026-04-05T12:00:00Z"));
  ASSERT_EQ(SubmitOne(Event("d1", "2026-04-05T09:00:00Z",
                            R"("caseReviewDecided":{"applicationId":"A1","thresholdMet":false})"))
                .outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
  Open();  // a restart: the timers are durable
  clock_.Set(At("2026-05-30T00:00:00Z"));
  EXPECT_EQ(Fire(), 1u);  // A2's decision only; A1 was decided (not met: no review due)
  ASSERT_THAT(Notices(), SizeIs(1));
  EXPECT_EQ(Notices()[0].application_id(), "A2");
}

TEST_F(VictimLedgerTest, BadRiskAssessmentsAreRefusedByName) {
  SubmitOne(Open("C1", "council"));
  SubmitOne(Event("p1", "2026-03-01T09:00:00Z",
                  R"("personLinked":{"person":{"personId":"V1","role":"PERSON_ROLE_VICTIM"}})"));
  // A person not on the case.
  SubmitResult r =
      SubmitOne(Event("r1", "2026-03-02T09:00:00Z",
                      R"("riskAssessed":{"personId":"V9","templateId":"asb-victim","answers":[
          {"questionId":"repeat","optionId":"no"}]})"));
  EXPECT_EQ(r.outcome(), SubmitResult::OUTCOME_REFUSED);
  EXPECT_THAT(r.status().message(), HasSubstr("person 'V9' is not linked to case 'C1'"));
  // An answer to an unknown question.
  r = SubmitOne(Event("r2", "2026-03-02T09:00:00Z",
                      R"("riskAssessed":{"personId":"V1","templateId":"asb-victim","answers":[
          {"questionId":"repeat","optionId":"no"},{"questionId":"targeted","optionId":"no"},
          {"questionId":"health","optionId":"no"},{"questionId":"vulnerable","optionId":"no"},
          {"questionId":"shoe-size","optionId":"9"}]})"));
  EXPECT_EQ(r.outcome(), SubmitResult::OUTCOME_REFUSED);
  EXPECT_THAT(r.status().message(), HasSubstr("has no question 'shoe-size'"));
  // An unknown template.
  r = SubmitOne(Event("r3", "2026-03-02T09:00:00Z",
                      R"("riskAssessed":{"personId":"V1","templateId":"dash"})"));
  EXPECT_THAT(r.status().message(), HasSubstr("no risk template 'dash'"));
  // A level that is not the template's band.
  r = SubmitOne(Event("r4", "2026-03-02T09:00:00Z",
                      R"("riskAssessed":{"personId":"V1","templateId":"asb-victim",
          "level":"RISK_LEVEL_HIGH","answers":[
          {"questionId":"repeat","optionId":"no"},{"questionId":"targeted","optionId":"no"},
          {"questionId":"health","optionId":"no"},{"questionId":"vulnerable","optionId":"no"}]})"));
  EXPECT_THAT(r.status().message(), HasSubstr("is not the template's band"));
  // A good one.
  r = SubmitOne(Event("r5", "2026-03-02T09:00:00Z",
                      R"("riskAssessed":{"personId":"V1","templateId":"asb-victim","answers":[
          {"questionId":"repeat","optionId":"more"},{"questionId":"targeted","optionId":"yes"},
          {"questionId":"health","optionId":"severe"},{"questionId":"vulnerable","optionId":"yes"}]})"));
  EXPECT_EQ(r.outcome(), SubmitResult::OUTCOME_ACCEPTED) << r.status().message();
  // A feed may not send the hub's notice.
  r = SubmitOne(Event("n1", "2026-03-02T09:00:00Z", R"("caseReviewNotice":{"noticeId":"x"})"));
  EXPECT_THAT(r.status().message(), HasSubstr("made by the hub only"));
}

TEST_F(VictimLedgerTest, AVictimNotAssessedInTimeRemindsTheLeadAgencyOnce) {
  clock_.Set(At("2026-04-03T12:00:00Z"));  // the hub's clock when the events arrive
  SubmitOne(Open("C1", "council"));
  SubmitOne(Open("C2", "housing"));
  ASSERT_EQ(SubmitOne(Link("v1", "2026-04-01T09:00:00Z", "V1")).outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
  SubmitOne(Link("w1", "2026-04-01T09:00:00Z", "W1", "PERSON_ROLE_WITNESS"));  // not a victim
  SubmitOne(Link("v2", "2026-04-02T09:00:00Z", "V2", "PERSON_ROLE_VICTIM", "C2"));
  // V2 is assessed in time (a level, no template): no reminder for C2.
  ASSERT_EQ(
      SubmitOne(Event("r2", "2026-04-03T09:00:00Z",
                      R"("riskAssessed":{"personId":"V2","level":"RISK_LEVEL_STANDARD"})", "C2"))
          .outcome(),
      SubmitResult::OUTCOME_ACCEPTED);
  // C3's feed keeps one risk value per case: a case-level assessment assesses V3 too.
  SubmitOne(Open("C3", "police"));
  SubmitOne(Link("v3", "2026-04-01T09:00:00Z", "V3", "PERSON_ROLE_VICTIM", "C3"));
  SubmitOne(
      Event("r3", "2026-04-02T09:00:00Z", R"("riskAssessed":{"level":"RISK_LEVEL_MEDIUM"})", "C3"));
  // C4 is closed before V4 is assessed: nothing is asked of a closed case.
  SubmitOne(Open("C4", "police"));
  SubmitOne(Link("v4", "2026-04-01T09:00:00Z", "V4", "PERSON_ROLE_VICTIM", "C4"));
  SubmitOne(Event("x4", "2026-04-02T09:00:00Z", R"("caseClosed":{"reason":"moved away"})", "C4"));
  // assess_within_days 5: nothing a minute before, the reminder at the time, once.
  clock_.Set(At("2026-04-06T08:59:00Z"));
  EXPECT_EQ(Fire(), 0u);
  clock_.Set(At("2026-04-06T09:00:00Z"));
  EXPECT_EQ(Fire(), 1u);
  EXPECT_EQ(Fire(), 0u);
  std::vector<asb::v1::VictimNotice> n = VictimNotices();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_EQ(n[0].kind(), asb::v1::VICTIM_NOTICE_KIND_ASSESSMENT_MISSING);
  EXPECT_EQ(n[0].person_id(), "V1");
  EXPECT_THAT(n[0].recipients(), ElementsAre("council"));  // the lead agency only
  EXPECT_EQ(n[0].context().rule_id(), "risk-assessment-missing");
  EXPECT_EQ(absl::FromUnixSeconds(n[0].context().deadline().seconds()), At("2026-04-06T09:00:00Z"));
  EXPECT_EQ(absl::FromUnixSeconds(n[0].linked_at().seconds()), At("2026-04-01T09:00:00Z"));
  EXPECT_THAT(n[0].context().section(), HasSubstr("no statutory limit"));
  EXPECT_EQ(n[0].context().rules_version(), risk_->version());
  clock_.Set(At("2026-04-10T00:00:00Z"));
  EXPECT_EQ(Fire(), 0u);  // C2's, C3's and C4's were stopped by an assessment or the closure
  // Linked again (details changed): still the first link's time, no second reminder.
  clock_.Set(At("2026-04-10T12:00:00Z"));
  SubmitOne(Link("v1b", "2026-04-10T09:00:00Z", "V1"));
  clock_.Set(At("2026-04-20T00:00:00Z"));
  EXPECT_EQ(Fire(), 0u);
  EXPECT_THAT(VictimNotices(), SizeIs(1));
  // A new incident on the closed case: no reassessment either (V3's case-level MEDIUM does ask).
  SubmitOne(Incident("I-4", "police", "2026-04-20T09:00:00Z", "C4"));
  EXPECT_THAT(VictimNotices("C4"), IsEmpty());
  SubmitOne(Incident("I-3", "police", "2026-04-20T09:00:00Z", "C3"));
  ASSERT_THAT(VictimNotices("C3"), SizeIs(1));
  EXPECT_EQ(VictimNotices("C3")[0].kind(), asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_DUE);
  EXPECT_EQ(VictimNotices("C3")[0].band(), asb::v1::RISK_LEVEL_MEDIUM);
}

TEST_F(VictimLedgerTest, ANewIncidentForAMediumOrHighVictimMakesAReassessmentDueOnTheHubsClock) {
  clock_.Set(At("2026-04-05T12:00:00Z"));  // the hub's clock when the events arrive
  SubmitOne(Open("C1", "council"));
  SubmitOne(Link("v1", "2026-04-01T09:00:00Z", "V1"));
  SubmitOne(Event("r1", "2026-04-01T10:00:00Z",
                  R"("riskAssessed":{"personId":"V1","level":"RISK_LEVEL_STANDARD"})"));
  // STANDARD: a new incident asks for nothing.
  SubmitOne(Incident("I1", "police", "2026-04-02T10:00:00Z"));
  EXPECT_THAT(VictimNotices(), IsEmpty());
  // MEDIUM (scored from the template): the next incident makes a reassessment due in 120 hours.
  ASSERT_EQ(SubmitOne(Assess("r2", "2026-04-03T10:00:00Z", "V1", false)).outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
  SubmitOne(Incident("I2", "police", "2026-04-04T10:00:00Z"));
  std::vector<asb::v1::VictimNotice> n = VictimNotices();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_EQ(n[0].kind(), asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_DUE);
  EXPECT_EQ(n[0].person_id(), "V1");
  EXPECT_EQ(n[0].incident_id(), "I2");
  EXPECT_EQ(n[0].band(), asb::v1::RISK_LEVEL_MEDIUM);
  EXPECT_EQ(absl::FromUnixSeconds(n[0].assessed_at().seconds()), At("2026-04-03T10:00:00Z"));
  EXPECT_THAT(n[0].recipients(), ElementsAre("council"));
  EXPECT_EQ(n[0].context().rule_id(), "risk-reassessment");
  EXPECT_EQ(absl::FromUnixSeconds(n[0].context().deadline().seconds()), At("2026-04-09T10:00:00Z"));
  // While it is due, another incident or a correction of I2 leaves the deadline as it is.
  SubmitOne(Incident("I3", "council", "2026-04-05T10:00:00Z"));
  SubmitOne(Event(
      "inc-I2-fix", "2026-04-05T11:00:00Z",
      R"("incidentReported":{"incident":{"incidentId":"I2","category":"NSIR_CATEGORY_PERSONAL","reportedBy":"police"}})"));
  EXPECT_THAT(VictimNotices(), SizeIs(1));
  // Not reassessed: overdue at the deadline, once.
  clock_.Set(At("2026-04-09T09:59:00Z"));
  EXPECT_EQ(Fire(), 0u);
  clock_.Set(At("2026-04-09T10:00:00Z"));
  EXPECT_EQ(Fire(), 1u);
  EXPECT_EQ(Fire(), 0u);
  n = VictimNotices();
  ASSERT_THAT(n, SizeIs(2));
  EXPECT_EQ(n[1].kind(), asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_OVERDUE);
  EXPECT_EQ(n[1].incident_id(), "I2");
  EXPECT_THAT(n[1].context().due(), HasSubstr("no new assessment is recorded"));
  // Told: the next incident starts a new one; reassessed (HIGH) in time, nothing fires.
  clock_.Set(At("2026-04-10T13:00:00Z"));
  SubmitOne(Incident("I4", "police", "2026-04-10T10:00:00Z"));
  ASSERT_THAT(VictimNotices(), SizeIs(3));
  SubmitOne(Assess("r3", "2026-04-10T12:00:00Z", "V1", true));
  clock_.Set(At("2026-04-20T00:00:00Z"));
  EXPECT_EQ(Fire(), 0u);
  // HIGH: 24 hours, and the timer survives a restart of intake.
  clock_.Set(At("2026-04-21T10:00:00Z"));
  SubmitOne(Incident("I5", "police", "2026-04-21T10:00:00Z"));
  n = VictimNotices();
  ASSERT_THAT(n, SizeIs(4));
  EXPECT_EQ(n[3].band(), asb::v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(absl::FromUnixSeconds(n[3].context().deadline().seconds()), At("2026-04-22T10:00:00Z"));
  Open();
  clock_.Set(At("2026-04-22T10:00:00Z"));
  EXPECT_EQ(Fire(), 1u);
  EXPECT_EQ(Fire(), 0u);
  n = VictimNotices();
  ASSERT_THAT(n, SizeIs(5));
  EXPECT_EQ(n[4].kind(), asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_OVERDUE);
  EXPECT_EQ(n[4].incident_id(), "I5");
}

// README "Following the risk up": while a reassessment is due its deadline is the earliest any
// incident asks for — a later incident keeps it, an incident reported late (whose own deadline
// falls earlier) brings it forward with a new notice, and only the moved timer fires.
TEST_F(VictimLedgerTest, AReassessmentDueKeepsTheEarliestDeadlineAnyIncidentAsksFor) {
  clock_.Set(At("2026-04-05T12:00:00Z"));
  SubmitOne(Open("C1", "council"));
  SubmitOne(Link("v1", "2026-04-01T09:00:00Z", "V1"));
  ASSERT_EQ(SubmitOne(Assess("r1", "2026-04-02T10:00:00Z", "V1", false)).outcome(),
            SubmitResult::OUTCOME_ACCEPTED);  // MEDIUM: 120 hours
  SubmitOne(Incident("I2", "police", "2026-04-04T10:00:00Z"));
  ASSERT_THAT(VictimNotices(), SizeIs(1));
  EXPECT_EQ(absl::FromUnixSeconds(VictimNotices()[0].context().deadline().seconds()),
            At("2026-04-09T10:00:00Z"));
  // A later incident asks for 2026-04-10: the earlier deadline stands, no new notice.
  SubmitOne(Incident("I3", "housing", "2026-04-05T10:00:00Z"));
  EXPECT_THAT(VictimNotices(), SizeIs(1));
  // An incident of 2026-04-03 reported only now asks for 2026-04-08: the deadline moves forward.
  SubmitOne(Incident("I1", "council", "2026-04-03T10:00:00Z"));
  std::vector<asb::v1::VictimNotice> n = VictimNotices();
  ASSERT_THAT(n, SizeIs(2));
  EXPECT_EQ(n[1].kind(), asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_DUE);
  EXPECT_EQ(n[1].incident_id(), "I1");
  EXPECT_EQ(absl::FromUnixSeconds(n[1].context().deadline().seconds()), At("2026-04-08T10:00:00Z"));
  EXPECT_NE(n[1].notice_id(), n[0].notice_id());
  // The moved timer fires at the new deadline, once; the old one is gone.
  clock_.Set(At("2026-04-08T09:59:00Z"));
  EXPECT_EQ(Fire(), 0u);
  clock_.Set(At("2026-04-08T10:00:00Z"));
  EXPECT_EQ(Fire(), 1u);
  clock_.Set(At("2026-04-12T00:00:00Z"));
  EXPECT_EQ(Fire(), 0u);
  n = VictimNotices();
  ASSERT_THAT(n, SizeIs(3));
  EXPECT_EQ(n[2].kind(), asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_OVERDUE);
  EXPECT_EQ(n[2].incident_id(), "I1");
  EXPECT_EQ(absl::FromUnixSeconds(n[2].context().deadline().seconds()), At("2026-04-08T10:00:00Z"));
}

TEST_F(VictimLedgerTest, AFeedMayNotSendAVictimNotice) {
  SubmitOne(Open("C1", "council"));
  SubmitResult r =
      SubmitOne(Event("vn", "2026-03-02T09:00:00Z", R"("victimNotice":{"noticeId":"x"})"));
  EXPECT_EQ(r.outcome(), SubmitResult::OUTCOME_REFUSED);
  EXPECT_THAT(r.status().message(), HasSubstr("victim_notice: made by the hub only"));
}

// Issue 18: no record of the ledger grows with the case's history. Sixty incidents over two years
// on a case with a MEDIUM victim: the head holds no complaint and no incident id, the window only
// the complaints in reach of the case review window, and each incident is a record of its own —
// so a correction of one reported long before (out of the window) is still known as one.
TEST_F(VictimLedgerTest, NoRecordGrowsWithTheCasesHistory) {
  SubmitOne(Open("C1", "council"));
  SubmitOne(Link("v1", "2024-01-01T09:00:00Z", "V1"));
  ASSERT_EQ(SubmitOne(Assess("r1", "2024-01-01T10:00:00Z", "V1", false)).outcome(),
            SubmitResult::OUTCOME_ACCEPTED);
  const absl::Time first = At("2024-01-02T10:00:00Z");
  absl::Time last;
  for (int i = 0; i < 60; ++i) {
    last = first + absl::Hours(24 * 12) * i;
    ASSERT_EQ(SubmitOne(Incident("I-" + std::to_string(i), "police",
                                 absl::FormatTime(absl::RFC3339_full, last, absl::UTCTimeZone())))
                  .outcome(),
              SubmitResult::OUTCOME_ACCEPTED);
  }
  auto records = Records("C1");
  ASSERT_THAT(records['r'], SizeIs(1));
  asb::v1::LedgerCaseReview head;
  ASSERT_TRUE(head.ParseFromString(records['r'].begin()->second));
  EXPECT_EQ(head.complaints_size(), 0);
  EXPECT_EQ(head.incident_ids_size(), 0);
  EXPECT_EQ(head.lead_agency(), "council");
  EXPECT_THAT(records['i'], SizeIs(60));
  EXPECT_EQ(records['i'].count("I-0"), 1u);
  ASSERT_THAT(records['w'], SizeIs(1));
  asb::v1::LedgerWindow window;
  ASSERT_TRUE(window.ParseFromString(records['w'].begin()->second));
  // What the window keeps: the complaints reported since ForgetBefore(the newest), oldest first.
  const absl::Time forget = procedure_->ForgetBefore(last);
  int expected = 0;
  for (int i = 0; i < 60; ++i) {
    expected += first + absl::Hours(24 * 12) * i >= forget ? 1 : 0;
  }
  ASSERT_EQ(window.complaints_size(), expected);
  EXPECT_LT(expected, 30);
  EXPECT_EQ(window.complaints(expected - 1).incident_id(), "I-59");
  for (int i = 1; i < window.complaints_size(); ++i) {
    EXPECT_LT(model::ToTime(window.complaints(i - 1).reported_at()),
              model::ToTime(window.complaints(i).reported_at()));
  }

  // The reassessment the first incident made due is overdue long since: told, the next new
  // incident starts a new one. A correction of I-0 is not new; I-60 is.
  EXPECT_EQ(ReassessmentsDue(), 1u);
  EXPECT_GE(Fire(), 1u);
  SubmitOne(Event(
      "inc-I-0-fix", "2026-03-01T10:00:00Z",
      R"("incidentReported":{"incident":{"incidentId":"I-0","category":"NSIR_CATEGORY_PERSONAL","reportedBy":"police"}})"));
  EXPECT_EQ(ReassessmentsDue(), 1u);
  SubmitOne(Incident("I-60", "police", "2026-03-02T10:00:00Z"));
  EXPECT_EQ(ReassessmentsDue(), 2u);
  EXPECT_THAT(Records("C1")['i'], SizeIs(61));
}

// A head written whole by an earlier version (its complaints and incident ids inside it) is read
// as it is: its complaints count, its incident ids are known, and its next write moves them out.
TEST_F(VictimLedgerTest, AHeadWrittenWholeByAnEarlierVersionMovesItsHistoryOut) {
  SubmitOne(Open("C1", "council"));
  SubmitOne(Link("v1", "2026-01-01T09:00:00Z", "V1"));
  SubmitOne(Assess("r1", "2026-01-01T10:00:00Z", "V1", false));
  asb::v1::LedgerCaseReview head;
  ASSERT_TRUE(head.ParseFromString(Records("C1")['r'].begin()->second));
  for (const auto& [id, agency, at] : {std::tuple("P-1", "police", "2026-01-05T10:00:00Z"),
                                       std::tuple("C-7", "council", "2026-02-10T10:00:00Z")}) {
    asb::v1::LedgerComplaint* c = head.add_complaints();
    c->set_incident_id(id);
    c->set_reported_by(agency);
    *c->mutable_reported_at() = model::ToTimestamp(At(at));
    c->set_category(asb::v1::NSIR_CATEGORY_PERSONAL);
    head.add_incident_ids(id);
  }
  head.set_advised(true);  // the advisory of the second was raised
  store::Batch legacy = store_->NewBatch();
  legacy.Put(kLedgerColumnFamily, std::string("C1") + '\0' + 'r', head.SerializeAsString());
  ASSERT_TRUE(store_->Write(&legacy).ok());

  // A correction of P-1: known, so no reassessment; still one complaint.
  SubmitOne(Event(
      "inc-P-1-fix", "2026-03-01T10:00:00Z",
      R"("incidentReported":{"incident":{"incidentId":"P-1","category":"NSIR_CATEGORY_PERSONAL","reportedBy":"police"}})"));
  EXPECT_EQ(ReassessmentsDue(), 0u);
  EXPECT_THAT(Notices(), IsEmpty());
  auto records = Records("C1");
  ASSERT_TRUE(head.ParseFromString(records['r'].begin()->second));
  EXPECT_EQ(head.complaints_size(), 0);
  EXPECT_EQ(head.incident_ids_size(), 0);
  EXPECT_TRUE(head.advised());
  EXPECT_EQ(records['i'].count("P-1"), 1u);
  EXPECT_EQ(records['i'].count("C-7"), 1u);
  asb::v1::LedgerWindow window;
  ASSERT_TRUE(window.ParseFromString(records['w'].begin()->second));
  ASSERT_EQ(window.complaints_size(), 2);
  EXPECT_EQ(window.complaints(0).incident_id(), "C-7");
  EXPECT_EQ(window.complaints(1).incident_id(), "P-1");

  // A new incident: the threshold, counting the complaints the earlier version kept.
  SubmitOne(Incident("H-3", "housing", "2026-03-20T10:00:00Z"));
  EXPECT_EQ(ReassessmentsDue(), 1u);
  std::vector<asb::v1::CaseReviewNotice> n = Notices();
  ASSERT_THAT(n, SizeIs(1));
  EXPECT_EQ(n[0].kind(), asb::v1::CASE_REVIEW_NOTICE_KIND_THRESHOLD_MET);
  EXPECT_THAT(n[0].incident_ids(), ElementsAre("C-7", "P-1", "H-3"));
}

}  // namespace
}  // namespace asb::intake
