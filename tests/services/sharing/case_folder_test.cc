#include "services/sharing/case_folder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "asb/v1/envelope.pb.h"
#include "common/config/config.h"
#include "common/store/store.h"
#include "services/sharing/retention.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::sharing {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
using asb::v1::Case;
using asb::v1::Envelope;
using ::testing::ElementsAre;
using ::testing::Field;

// An "events" envelope with sequence number `seq` for case `case_id`; `body` is the JSON of the
// event's oneof member plus any further fields, e.g. R"("caseClosed":{"reason":"done"})".
Envelope Env(uint64_t seq, const std::string& case_id, const std::string& body,
             const std::string& occurred_at = "2026-10-01T10:00:00Z",
             const std::string& source_agency = "council") {
  Envelope env;
  env.set_seq(seq);
  env.set_producer("intake");
  asb::v1::AcceptedEvent* a = env.mutable_accepted_event();
  a->set_source(source_agency == "council" ? "cbc-cms-feed" : source_agency + "-feed");
  a->set_source_agency(source_agency);
  absl::Status s =
      config::ParseJson(R"({"sourceEventId":"e)" + std::to_string(seq) + R"(","caseId":")" +
                            case_id + R"(","occurredAt":")" + occurred_at + R"(",)" + body + "}",
                        a->mutable_event());
  EXPECT_TRUE(s.ok()) << s << " in " << body;
  return env;
}

const char kOpened[] = R"("caseOpened":{"nsirCategory":"NSIR_CATEGORY_PERSONAL",
    "title":"Noise, Brimington North","summary":"s","leadAgency":"council","leadOfficer":"JH",
    "location":{"ward":"Brimington North"},"flags":{"hateMotivated":true}})";

std::vector<uint64_t> Seqs(const std::vector<CaseFolder::Applied>& applied) {
  std::vector<uint64_t> out;
  for (const auto& a : applied) {
    out.push_back(a.event_seq);
  }
  return out;
}

class CaseFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.path = dir_.Sub("db");
    options.sync = false;
    options.column_families = SharingColumnFamilies();
    auto store = store::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    folder_ = std::make_unique<CaseFolder>(store_.get());
  }

  // Applies one envelope in its own batch and writes it.
  std::vector<CaseFolder::Applied> ApplyOne(const Envelope& env) {
    store::Batch batch = store_->NewBatch();
    auto applied = folder_->Apply(env, &batch);
    EXPECT_TRUE(applied.ok()) << applied.status();
    absl::Status written = store_->Write(&batch);
    EXPECT_TRUE(written.ok()) << written;
    return applied.ok() ? *applied : std::vector<CaseFolder::Applied>();
  }

  Case GetOrDie(const std::string& case_id) {
    auto c = folder_->Get(case_id);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : Case();
  }

  asb::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<CaseFolder> folder_;
};

TEST_F(CaseFolderTest, CaseOpenedSetsHeader) {
  std::vector<CaseFolder::Applied> applied = ApplyOne(Env(1, "CBC-1", kOpened));
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].event_seq, 1u);
  EXPECT_EQ(applied[0].type, asb::v1::EVENT_TYPE_CASE_OPENED);
  EXPECT_EQ(applied[0].source_agency, "council");
  EXPECT_EQ(applied[0].case_after.status(), asb::v1::CASE_STATUS_OPEN);

  Case c = GetOrDie("CBC-1");
  EXPECT_EQ(c.case_id(), "CBC-1");
  EXPECT_EQ(c.status(), asb::v1::CASE_STATUS_OPEN);
  EXPECT_EQ(c.nsir_category(), asb::v1::NSIR_CATEGORY_PERSONAL);
  EXPECT_EQ(c.title(), "Noise, Brimington North");
  EXPECT_EQ(c.lead_agency(), "council");
  EXPECT_EQ(c.lead_officer(), "JH");
  EXPECT_EQ(c.location().ward(), "Brimington North");
  EXPECT_TRUE(c.flags().hate_motivated());
  EXPECT_EQ(c.opened_at().seconds(),
            Env(1, "x", kOpened).accepted_event().event().occurred_at().seconds());
  EXPECT_EQ(c.updated_at().seconds(), c.opened_at().seconds());
  EXPECT_THAT(folder_->Get("CBC-2"), StatusIs(absl::StatusCode::kNotFound));
}

// Each fact records the agency of the feed that submitted it, from the envelope (the feed's key),
// for the ISP's source conditions.
TEST_F(CaseFolderTest, FactsRecordTheirSourceAgency) {
  const std::string at = "2026-10-01T10:00:00Z";
  ApplyOne(Env(1, "C", kOpened, at));
  ApplyOne(Env(2, "C", R"("personLinked":{"person":{"personId":"P1","role":"PERSON_ROLE_VICTIM"}})",
               at, "police"));
  ApplyOne(Env(3, "C", R"("incidentReported":{"incident":{"incidentId":"I1",
      "category":"NSIR_CATEGORY_PERSONAL"}})",
               at, "police"));
  ApplyOne(Env(4, "C", R"("orderIssued":{"order":{"orderId":"O1",
      "type":"ORDER_TYPE_CIVIL_INJUNCTION","breaches":[{"description":"d"}]}})",
               at));
  ApplyOne(Env(5, "C", R"("orderBreached":{"orderId":"O1","breach":{"description":"b"}})", at,
               "police"));
  // A correction of the person from the council's feed: the council is now its source.
  ApplyOne(Env(6, "C",
               R"("personLinked":{"person":{"personId":"P1","role":"PERSON_ROLE_VICTIM",
      "givenName":"Ann"}})",
               at));
  Case c = GetOrDie("C");
  EXPECT_EQ(c.source_agency(), "council");
  ASSERT_EQ(c.people_size(), 1);
  EXPECT_EQ(c.people(0).source_agency(), "council");
  EXPECT_EQ(c.incidents(0).source_agency(), "police");
  EXPECT_EQ(c.orders(0).source_agency(), "council");
  ASSERT_EQ(c.orders(0).breaches_size(), 2);
  EXPECT_EQ(c.orders(0).breaches(0).source_agency(), "council");
  EXPECT_EQ(c.orders(0).breaches(1).source_agency(), "police");
}

// An incident event, in `case_id`, of incident `id` occurring at `at` with `description`.
Envelope IncidentEnv(uint64_t seq, const std::string& case_id, const std::string& id,
                     const std::string& at, const std::string& description) {
  return Env(seq, case_id,
             R"("incidentReported":{"incident":{"incidentId":")" + id +
                 R"(","category":"NSIR_CATEGORY_PERSONAL","description":")" + description +
                 R"("}})",
             at, "police");
}

std::vector<std::string> IncidentIds(const Case& c) {
  std::vector<std::string> out;
  for (const asb::v1::Incident& i : c.incidents()) {
    out.push_back(i.incident_id() + ":" + i.description());
  }
  return out;
}

// Issue 18: an event's cost must not grow with the case's history, so the head the fold reads and
// rewrites never holds the incidents; each is a record of its own.
TEST_F(CaseFolderTest, IncidentsAreStoredApartFromTheHead) {
  ApplyOne(Env(1, "C", kOpened, "2026-10-01T10:00:00Z"));
  std::vector<CaseFolder::Applied> a =
      ApplyOne(IncidentEnv(2, "C", "I2", "2026-10-03T10:00:00Z", "b"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_THAT(IncidentIds(a[0].case_after), ElementsAre("I2:b"));  // the event's own
  a = ApplyOne(IncidentEnv(3, "C", "I1", "2026-10-02T10:00:00Z", "a"));
  EXPECT_THAT(IncidentIds(a[0].case_after), ElementsAre("I1:a"));  // not I2 as well

  // Two events of one batch: a correction of a committed incident, then of the corrected one.
  store::Batch batch = store_->NewBatch();
  auto first = folder_->Apply(IncidentEnv(4, "C", "I2", "2026-10-03T10:00:00Z", "b2"), &batch);
  ASB_ASSERT_OK(first);
  EXPECT_THAT(IncidentIds((*first)[0].case_after), ElementsAre("I2:b2"));
  ASSERT_TRUE((*first)[0].replaced_incident.has_value());
  EXPECT_EQ((*first)[0].replaced_incident->description(), "b");
  auto second = folder_->Apply(IncidentEnv(5, "C", "I2", "2026-10-03T10:00:00Z", "b3"), &batch);
  ASB_ASSERT_OK(second);
  ASSERT_TRUE((*second)[0].replaced_incident.has_value());
  EXPECT_EQ((*second)[0].replaced_incident->description(), "b2");  // this batch's, not stored
  auto peeked = folder_->Peek("C");
  ASB_ASSERT_OK(peeked);
  ASSERT_TRUE(peeked->has_value());
  EXPECT_EQ((*peeked)->incidents_size(), 0);
  ASB_ASSERT_OK(store_->Write(&batch));

  // A first order: timed from the earliest incident; its case carries no incident.
  a = ApplyOne(Env(6, "C", R"("orderIssued":{"order":{"orderId":"O1",
      "type":"ORDER_TYPE_CIVIL_INJUNCTION"}})"));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(a[0].first_order);
  ASSERT_TRUE(a[0].first_incident_at.has_value());
  EXPECT_EQ(a[0].first_incident_at->seconds(), IncidentEnv(0, "C", "x", "2026-10-02T10:00:00Z", "")
                                                   .accepted_event()
                                                   .event()
                                                   .occurred_at()
                                                   .seconds());
  EXPECT_EQ(a[0].case_after.incidents_size(), 0);
  EXPECT_EQ(a[0].case_after.orders_size(), 1);

  // The stored head holds none; Get has them all, corrected once, in the order they occurred.
  std::string head;
  ASB_ASSERT_OK(store_->Get(kCasesColumnFamily, "C", &head));
  Case stored;
  ASSERT_TRUE(stored.ParseFromString(head));
  EXPECT_EQ(stored.incidents_size(), 0);
  EXPECT_THAT(IncidentIds(GetOrDie("C")), ElementsAre("I1:a", "I2:b3"));

  // Retention's delete takes the incidents with the case.
  store::Batch del = store_->NewBatch();
  ASB_ASSERT_OK(folder_->Delete("C", &del));
  ASB_ASSERT_OK(store_->Write(&del));
  EXPECT_THAT(folder_->Get("C"), StatusIs(absl::StatusCode::kNotFound));
  std::string left;
  EXPECT_THAT(store_->Get(kIncidentsColumnFamily, std::string("C") + '\0' + "I1", &left),
              StatusIs(absl::StatusCode::kNotFound));
}

// A case an earlier version stored whole (incidents in the head) reads as it was and moves its
// incidents out at its next event.
TEST_F(CaseFolderTest, ACaseStoredWholeMovesItsIncidentsOut) {
  ApplyOne(Env(1, "C", kOpened));
  Case whole = GetOrDie("C");
  for (const char* id : {"I1", "I2"}) {
    asb::v1::Incident* inc = whole.add_incidents();
    inc->set_incident_id(id);
    inc->set_description("old");
  }
  store::Batch legacy = store_->NewBatch();
  legacy.Put(kCasesColumnFamily, "C", whole.SerializeAsString());
  ASB_ASSERT_OK(store_->Write(&legacy));
  EXPECT_THAT(IncidentIds(GetOrDie("C")), ElementsAre("I1:old", "I2:old"));

  std::vector<CaseFolder::Applied> a =
      ApplyOne(IncidentEnv(2, "C", "I2", "2026-10-03T10:00:00Z", "new"));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_TRUE(a[0].replaced_incident.has_value());  // a correction of the head's I2
  EXPECT_EQ(a[0].replaced_incident->description(), "old");
  std::string head;
  ASB_ASSERT_OK(store_->Get(kCasesColumnFamily, "C", &head));
  Case stored;
  ASSERT_TRUE(stored.ParseFromString(head));
  EXPECT_EQ(stored.incidents_size(), 0);
  EXPECT_THAT(IncidentIds(GetOrDie("C")), ElementsAre("I1:old", "I2:new"));
}

TEST_F(CaseFolderTest, EveryEventTypeFolds) {
  ApplyOne(Env(1, "C", kOpened, "2026-10-01T10:00:00Z"));
  ApplyOne(Env(2, "C", R"("caseUpdated":{"title":"New title",
      "replaceFlags":true,"flags":{"fireRisk":true}})",
               "2026-10-02T10:00:00Z"));
  Case c = GetOrDie("C");
  EXPECT_EQ(c.title(), "New title");
  EXPECT_EQ(c.summary(), "s");  // absent fields stay
  EXPECT_TRUE(c.flags().fire_risk());
  EXPECT_FALSE(c.flags().hate_motivated());  // flags replaced as a whole

  ApplyOne(Env(3, "C", R"("incidentReported":{"incident":{"incidentId":"I1",
      "category":"NSIR_CATEGORY_PERSONAL"}})",
               "2026-10-03T10:00:00Z"));
  ApplyOne(Env(4, "C", R"("personLinked":{"person":{"personId":"P1","role":"PERSON_ROLE_VICTIM",
      "givenName":"Ann","tenure":"TENURE_OWNER_OCCUPIER"}})"));
  ApplyOne(
      Env(5, "C", R"("personLinked":{"person":{"personId":"P1","role":"PERSON_ROLE_REPORTER"}})"));
  ApplyOne(Env(6, "C", R"("personLinked":{"person":{"personId":"P1","role":"PERSON_ROLE_VICTIM",
      "givenName":"Anne","tenure":"TENURE_COUNCIL_TENANT"}})"));
  ApplyOne(Env(7, "C", R"("riskAssessed":{"level":"RISK_LEVEL_HIGH","notes":"n"})"));
  c = GetOrDie("C");
  ASSERT_EQ(c.incidents_size(), 1);
  EXPECT_EQ(c.incidents(0).incident_id(), "I1");
  // The incident's time defaults to the event's.
  EXPECT_EQ(c.incidents(0).occurred_at().seconds(), Env(1, "x", kOpened, "2026-10-03T10:00:00Z")
                                                        .accepted_event()
                                                        .event()
                                                        .occurred_at()
                                                        .seconds());
  ASSERT_EQ(c.people_size(), 2);  // (P1, victim) replaced in place; (P1, reporter) separate
  EXPECT_EQ(c.people(0).given_name(), "Anne");
  EXPECT_EQ(c.people(0).role(), asb::v1::PERSON_ROLE_VICTIM);
  EXPECT_EQ(c.people(1).role(), asb::v1::PERSON_ROLE_REPORTER);
  EXPECT_TRUE(c.flags().council_tenancy());  // a council tenant is linked
  EXPECT_EQ(c.victim_risk(), asb::v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(c.risk_notes(), "n");
  // updated_at is the latest occurred_at, not the last applied.
  EXPECT_EQ(c.updated_at().seconds(), Env(1, "x", kOpened, "2026-10-03T10:00:00Z")
                                          .accepted_event()
                                          .event()
                                          .occurred_at()
                                          .seconds());

  auto issued = ApplyOne(Env(8, "C", R"("orderIssued":{"order":{"orderId":"O1",
      "type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER","subjectPersonId":"P2","conditions":"c1"}})"));
  ASSERT_EQ(issued.size(), 1u);
  EXPECT_EQ(issued[0].order_type, asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
  EXPECT_EQ(issued[0].order_id, "O1");
  ApplyOne(Env(9, "C", R"("orderIssued":{"order":{"orderId":"O2",
      "type":"ORDER_TYPE_PUBLIC_SPACES_PROTECTION_ORDER"}})"));
  auto varied = ApplyOne(Env(10, "C", R"("orderVaried":{"orderId":"O1","conditions":"c2",
      "expiresAt":"2028-01-01T00:00:00Z"})"));
  ASSERT_EQ(varied.size(), 1u);
  EXPECT_EQ(varied[0].type, asb::v1::EVENT_TYPE_ORDER_VARIED);
  EXPECT_EQ(varied[0].order_type, asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
  ApplyOne(Env(11, "C", R"("orderBreached":{"orderId":"O1","breach":{"description":"b1"}})",
               "2026-10-20T10:00:00Z"));
  ApplyOne(Env(12, "C", R"("orderBreached":{"orderId":"O1","breach":{
      "occurredAt":"2026-10-21T09:00:00Z"}})"));
  ApplyOne(Env(13, "C", R"("orderDischarged":{"orderId":"O1","reason":"r"})"));
  auto expired = ApplyOne(Env(14, "C", R"("orderExpired":{"orderId":"O2"})"));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].order_type, asb::v1::ORDER_TYPE_PUBLIC_SPACES_PROTECTION_ORDER);
  c = GetOrDie("C");
  ASSERT_EQ(c.orders_size(), 2);
  const asb::v1::Order& o1 = c.orders(0);
  EXPECT_EQ(o1.status(), asb::v1::ORDER_STATUS_DISCHARGED);
  EXPECT_EQ(o1.discharge_reason(), "r");
  EXPECT_EQ(o1.conditions(), "c2");
  EXPECT_EQ(o1.subject_person_id(), "P2");
  EXPECT_TRUE(o1.has_expires_at());
  EXPECT_TRUE(o1.has_issued_at());  // defaults to the event time
  ASSERT_EQ(o1.breaches_size(), 2);
  EXPECT_EQ(o1.breaches(0).description(), "b1");
  EXPECT_EQ(o1.breaches(0).occurred_at().seconds(), Env(1, "x", kOpened, "2026-10-20T10:00:00Z")
                                                        .accepted_event()
                                                        .event()
                                                        .occurred_at()
                                                        .seconds());
  EXPECT_EQ(o1.breaches(1).occurred_at().seconds(), Env(1, "x", kOpened, "2026-10-21T09:00:00Z")
                                                        .accepted_event()
                                                        .event()
                                                        .occurred_at()
                                                        .seconds());
  EXPECT_EQ(c.orders(1).status(), asb::v1::ORDER_STATUS_EXPIRED);

  // Re-issuing an order id is refused (it would wipe the order's history): vary it instead.
  {
    store::Batch batch = store_->NewBatch();
    EXPECT_THAT(folder_->Apply(Env(15, "C", R"("orderIssued":{"order":{"orderId":"O2",
        "type":"ORDER_TYPE_PUBLIC_SPACES_PROTECTION_ORDER","conditions":"renewed"}})"),
                               &batch),
                StatusIsWith(absl::StatusCode::kFailedPrecondition, "vary it instead"));
    EXPECT_EQ(batch.count(), 0);
  }
  c = GetOrDie("C");
  ASSERT_EQ(c.orders_size(), 2);
  EXPECT_EQ(c.orders(1).status(), asb::v1::ORDER_STATUS_EXPIRED);

  ApplyOne(Env(16, "C", R"("caseClosed":{"reason":"done"})", "2026-11-01T10:00:00Z"));
  c = GetOrDie("C");
  EXPECT_EQ(c.status(), asb::v1::CASE_STATUS_CLOSED);
  EXPECT_EQ(c.closure_reason(), "done");
  EXPECT_EQ(c.closed_at().seconds(), c.updated_at().seconds());
}

TEST_F(CaseFolderTest, EventsThatCannotApplyFailWithoutChangingTheBatch) {
  ApplyOne(Env(1, "C", kOpened));
  store::Batch batch = store_->NewBatch();
  EXPECT_THAT(folder_->Apply(Env(2, "C", kOpened), &batch),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "already opened"));
  EXPECT_THAT(
      folder_->Apply(Env(3, "C", R"("orderVaried":{"orderId":"NOPE","conditions":"x"})"), &batch),
      StatusIsWith(absl::StatusCode::kFailedPrecondition, "'NOPE' was never issued"));
  EXPECT_THAT(folder_->Apply(Env(4, "C", R"("orderBreached":{"orderId":"NOPE"})"), &batch),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(folder_->Apply(Env(5, "C", R"("orderDischarged":{"orderId":"NOPE"})"), &batch),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(folder_->Apply(Env(6, "C", R"("orderExpired":{"orderId":"NOPE"})"), &batch),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(batch.count(), 0);

  Envelope not_event;
  not_event.set_seq(7);
  not_event.mutable_audit();
  EXPECT_THAT(folder_->Apply(not_event, &batch), StatusIs(absl::StatusCode::kInvalidArgument));
  Envelope no_case = Env(8, "C", R"("caseClosed":{"reason":"r"})");
  no_case.mutable_accepted_event()->mutable_event()->clear_case_id();
  EXPECT_THAT(folder_->Apply(no_case, &batch), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(batch.count(), 0);
}

TEST_F(CaseFolderTest, EventsBeforeOpeningWaitThenApplyInOrder) {
  EXPECT_TRUE(ApplyOne(Env(5, "C", R"("personLinked":{"person":{"personId":"P1",
      "role":"PERSON_ROLE_VICTIM"}})"))
                  .empty());
  EXPECT_TRUE(ApplyOne(Env(3, "C", R"("orderIssued":{"order":{"orderId":"O1",
      "type":"ORDER_TYPE_CIVIL_INJUNCTION"}})"))
                  .empty());
  EXPECT_TRUE(ApplyOne(Env(4, "C", R"("orderBreached":{"orderId":"O1"})")).empty());
  EXPECT_TRUE(ApplyOne(Env(6, "OTHER", R"("caseClosed":{"reason":"r"})")).empty());
  EXPECT_THAT(folder_->Get("C"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*folder_->PendingCount("C"), 3u);

  std::vector<CaseFolder::Applied> applied = ApplyOne(Env(7, "C", kOpened));
  EXPECT_THAT(Seqs(applied), ElementsAre(7, 3, 4, 5));
  EXPECT_EQ(applied[0].case_after.orders_size(), 0);  // each Applied has the case at its point
  EXPECT_EQ(applied[1].case_after.orders_size(), 1);
  EXPECT_EQ(applied[1].order_type, asb::v1::ORDER_TYPE_CIVIL_INJUNCTION);
  EXPECT_EQ(applied[2].type, asb::v1::EVENT_TYPE_ORDER_BREACHED);
  EXPECT_EQ(applied[2].case_after.orders(0).breaches_size(), 1);
  EXPECT_EQ(applied[3].case_after.people_size(), 1);

  Case c = GetOrDie("C");
  EXPECT_EQ(c.people_size(), 1);
  EXPECT_EQ(c.orders(0).breaches_size(), 1);
  EXPECT_EQ(*folder_->PendingCount("C"), 0u);
  EXPECT_EQ(*folder_->PendingCount("OTHER"), 1u);  // another case's event is untouched
}

TEST_F(CaseFolderTest, PendingEventThatCannotApplyIsReportedAndDropped) {
  std::vector<std::pair<uint64_t, std::string>> skipped;
  folder_->OnPendingSkipped(
      [&](const Envelope& env, const absl::Status& status, store::Batch* batch) {
        EXPECT_NE(batch, nullptr);
        skipped.emplace_back(env.seq(), std::string(status.message()));
      });
  ApplyOne(Env(1, "C", R"("orderExpired":{"orderId":"GHOST"})"));
  ApplyOne(Env(2, "C", R"("riskAssessed":{"level":"RISK_LEVEL_MEDIUM"})"));
  std::vector<CaseFolder::Applied> applied = ApplyOne(Env(3, "C", kOpened));
  EXPECT_THAT(Seqs(applied), ElementsAre(3, 2));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].first, 1u);
  EXPECT_THAT(skipped[0].second, ::testing::HasSubstr("GHOST"));
  EXPECT_EQ(*folder_->PendingCount("C"), 0u);
  EXPECT_EQ(GetOrDie("C").victim_risk(), asb::v1::RISK_LEVEL_MEDIUM);
}

TEST_F(CaseFolderTest, SeveralEventsOfOneCaseInOneBatch) {
  store::Batch batch = store_->NewBatch();
  // A pending event, then the opening, then more: each sees the batch's uncommitted state.
  std::vector<std::vector<uint64_t>> seqs;
  for (const Envelope& env :
       {Env(1, "C", R"("incidentReported":{"incident":{"incidentId":"I1",
            "category":"NSIR_CATEGORY_NUISANCE"}})"),
        Env(2, "C", kOpened), Env(3, "C", R"("orderIssued":{"order":{"orderId":"O1",
            "type":"ORDER_TYPE_CLOSURE_NOTICE"}})"),
        Env(4, "C", R"("orderBreached":{"orderId":"O1"})"), Env(5, "D", kOpened)}) {
    auto applied = folder_->Apply(env, &batch);
    ASB_ASSERT_OK(applied);
    seqs.push_back(Seqs(*applied));
  }
  EXPECT_THAT(seqs, ElementsAre(ElementsAre(), ElementsAre(2, 1), ElementsAre(3), ElementsAre(4),
                                ElementsAre(5)));
  // A second opening within the same batch is refused too.
  EXPECT_THAT(folder_->Apply(Env(6, "C", kOpened), &batch),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // Get shows committed state only.
  EXPECT_THAT(folder_->Get("C"), StatusIs(absl::StatusCode::kNotFound));
  ASB_ASSERT_OK(store_->Write(&batch));

  Case c = GetOrDie("C");
  EXPECT_EQ(c.incidents_size(), 1);
  ASSERT_EQ(c.orders_size(), 1);
  EXPECT_EQ(c.orders(0).breaches_size(), 1);
  EXPECT_EQ(*folder_->PendingCount("C"), 0u);
  ASB_EXPECT_OK(folder_->Get("D"));

  // After the commit the next batch reads the committed state.
  store::Batch next = store_->NewBatch();
  auto applied = folder_->Apply(Env(7, "C", R"("orderExpired":{"orderId":"O1"})"), &next);
  ASB_ASSERT_OK(applied);
  ASB_ASSERT_OK(store_->Write(&next));
  EXPECT_EQ(GetOrDie("C").orders(0).status(), asb::v1::ORDER_STATUS_EXPIRED);
}

TEST_F(CaseFolderTest, FailedWriteLeavesNoTrace) {
  ApplyOne(Env(1, "C", R"("riskAssessed":{"level":"RISK_LEVEL_HIGH"})"));  // pending
  store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
  {
    store::Batch batch = store_->NewBatch();
    ASB_ASSERT_OK(folder_->Apply(Env(2, "C", kOpened), &batch));
    ASB_ASSERT_OK(folder_->Apply(Env(3, "D", R"("caseClosed":{"reason":"r"})"), &batch));
    EXPECT_THAT(store_->Write(&batch), StatusIs(absl::StatusCode::kUnavailable));
  }
  store_->SetWriteFaultForTest(nullptr);
  EXPECT_THAT(folder_->Get("C"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*folder_->PendingCount("C"), 1u);
  EXPECT_EQ(*folder_->PendingCount("D"), 0u);

  // The same records applied again (the consumer re-fetches them) work as the first time.
  store::Batch batch = store_->NewBatch();
  auto applied = folder_->Apply(Env(2, "C", kOpened), &batch);
  ASB_ASSERT_OK(applied);
  EXPECT_THAT(Seqs(*applied), ElementsAre(2, 1));
  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_EQ(GetOrDie("C").victim_risk(), asb::v1::RISK_LEVEL_HIGH);
}

TEST_F(CaseFolderTest, AbandonedBatchLeavesNoTrace) {
  {
    store::Batch batch = store_->NewBatch();
    ASB_ASSERT_OK(folder_->Apply(Env(1, "C", kOpened), &batch));
    // Dropped without Write (the consumer stopped the batch on an error).
  }
  store::Batch batch = store_->NewBatch();
  auto applied = folder_->Apply(Env(1, "C", kOpened), &batch);
  ASB_ASSERT_OK(applied);  // not "already opened": the abandoned change is forgotten
  ASB_ASSERT_OK(store_->Write(&batch));
  ASB_EXPECT_OK(folder_->Get("C"));

  // DiscardUncommitted does the same for a caller that keeps the batch object.
  store::Batch other = store_->NewBatch();
  ASB_ASSERT_OK(folder_->Apply(Env(2, "E", kOpened), &other));
  EXPECT_THAT(folder_->Apply(Env(2, "E", kOpened), &other),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  folder_->DiscardUncommitted();
  ASB_ASSERT_OK(folder_->Apply(Env(2, "E", kOpened), &other));
}

TEST_F(CaseFolderTest, CommittedStateSurvivesReopen) {
  ApplyOne(Env(1, "C", kOpened));
  ApplyOne(Env(2, "D", R"("caseClosed":{"reason":"r"})"));
  folder_.reset();
  const std::string path = store_->path();
  store_.reset();
  store::StoreOptions options;
  options.path = path;
  options.sync = false;
  options.column_families = SharingColumnFamilies();
  auto store = store::Store::Open(options);
  ASB_ASSERT_OK(store);
  store_ = std::move(*store);
  folder_ = std::make_unique<CaseFolder>(store_.get());
  EXPECT_EQ(GetOrDie("C").title(), "Noise, Brimington North");
  EXPECT_EQ(*folder_->PendingCount("D"), 1u);
  EXPECT_THAT(Seqs(ApplyOne(Env(3, "D", kOpened))), ElementsAre(3, 2));
  EXPECT_EQ(GetOrDie("D").status(), asb::v1::CASE_STATUS_CLOSED);
}

std::vector<std::string> ReadLines(const std::string& name) {
  std::ifstream in(std::string(ASB_SOURCE_DIR) + "/config/samples/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != '#') {  // a sample's header comments
      lines.push_back(line);
    }
  }
  return lines;
}

// The shipped samples fold without a single skipped event, into the states they describe.
TEST_F(CaseFolderTest, SamplesFoldCleanly) {
  uint64_t seq = 0;
  std::size_t applied_total = 0, lines_total = 0;
  for (const char* file : {"cbo-demo.jsonl", "all-events.jsonl", "victims-demo.jsonl"}) {
    for (const std::string& line : ReadLines(file)) {
      Envelope env;
      env.set_seq(++seq);
      env.mutable_accepted_event()->set_source_agency("council");
      ASB_ASSERT_OK(config::ParseJson(line, env.mutable_accepted_event()->mutable_event()));
      store::Batch batch = store_->NewBatch();
      auto applied = folder_->Apply(env, &batch);
      ASB_ASSERT_OK(applied) << file << ": " << line;
      applied_total += applied->size();
      ++lines_total;
      ASB_ASSERT_OK(store_->Write(&batch));
    }
  }
  EXPECT_EQ(applied_total, lines_total);

  Case demo = GetOrDie("CBC-2026-0142");
  EXPECT_TRUE(demo.flags().council_tenancy());
  EXPECT_EQ(demo.victim_risk(), asb::v1::RISK_LEVEL_HIGH);
  ASSERT_EQ(demo.orders_size(), 1);
  EXPECT_EQ(demo.orders(0).type(), asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
  EXPECT_EQ(demo.orders(0).breaches_size(), 1);
  EXPECT_EQ(demo.people_size(), 2);

  Case a = GetOrDie("CBC-2026-0201");
  EXPECT_EQ(a.status(), asb::v1::CASE_STATUS_CLOSED);
  EXPECT_EQ(a.orders(0).status(), asb::v1::ORDER_STATUS_DISCHARGED);
  Case b = GetOrDie("CBC-2026-0202");
  EXPECT_TRUE(b.flags().fire_risk());
  EXPECT_TRUE(b.flags().council_tenancy());
  EXPECT_EQ(b.orders_size(), 4);
  Case d = GetOrDie("CBC-2026-0204");
  EXPECT_EQ(d.orders(0).status(), asb::v1::ORDER_STATUS_DISCHARGED);
  EXPECT_EQ(d.orders(0).breaches_size(), 1);
  EXPECT_EQ(d.orders(1).status(), asb::v1::ORDER_STATUS_EXPIRED);

  // The victims demo: three assessments of the victim (the latest HIGH, a level-free template
  // assessment folded without the matrix here), the case review through to the appeal, the link.
  Case v = GetOrDie("CBC-2026-0301");
  ASSERT_EQ(v.risk_assessments_size(), 3);
  EXPECT_EQ(v.risk_assessments(2).person_id(), "P-CBC-61001");
  EXPECT_EQ(v.risk_assessments(2).template_id(), "asb-victim");
  EXPECT_EQ(v.risk_assessments(2).answers_size(), 4);
  EXPECT_EQ(v.incidents_size(), 5);
  ASSERT_EQ(v.case_review().applications_size(), 1);
  EXPECT_TRUE(v.case_review().applications(0).threshold_met());
  EXPECT_TRUE(v.case_review().applications(0).has_completed_at());
  EXPECT_FALSE(v.case_review().applications(0).appeal_upheld());
  EXPECT_EQ(v.case_review().status(), asb::v1::CASE_REVIEW_STATUS_APPEAL_DECIDED);
  EXPECT_THAT(v.linked_cases(), ElementsAre("CBC-2026-0302"));
  EXPECT_EQ(GetOrDie("CBC-2026-0302").lead_agency(), "housing");
}

// At rest, every value of a case (its state, its held events, its disclosures) is sealed under
// the case's own data key: the layout finds the case id in what the folder really writes.
TEST_F(CaseFolderTest, StoreLayoutFindsEachValuesCase) {
  ApplyOne(Env(1, "CBC-1", kOpened));
  ApplyOne(Env(2, "CBC-2", R"("caseClosed":{"reason":"done"})"));  // held: CBC-2 not open
  ApplyOne(IncidentEnv(3, "CBC-1", "I1", "2026-10-01T10:00:00Z", "d"));
  const store::StoreOptions layout = SharingStoreLayout();
  EXPECT_EQ(layout.column_families, SharingColumnFamilies());
  // Only the depersonalised counts (issue 16: months, areas, categories; no person, no case
  // id), the retention timers and recipients (case ids, agency ids, times) are plaintext.
  EXPECT_THAT(layout.plaintext_column_families,
              ::testing::UnorderedElementsAre(kAggregatesColumnFamily, kRetentionDueColumnFamily,
                                              kRetentionIndexColumnFamily, kMarksColumnFamily,
                                              kRecipientsColumnFamily));
  ASSERT_TRUE(layout.subject_of);
  std::map<std::string, std::vector<std::string>> subjects;
  for (const char* cf : {kCasesColumnFamily, kPendingColumnFamily, kIncidentsColumnFamily}) {
    auto it = store_->NewIterator(cf);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      subjects[cf].push_back(
          layout.subject_of(cf, it->key().ToStringView(), it->value().ToStringView()));
    }
  }
  EXPECT_THAT(subjects[kCasesColumnFamily], ElementsAre("CBC-1"));
  EXPECT_THAT(subjects[kPendingColumnFamily], ElementsAre("CBC-2"));
  EXPECT_THAT(subjects[kIncidentsColumnFamily], ElementsAre("CBC-1"));

  Envelope disclosure;
  disclosure.mutable_disclosure()->set_agency("police");
  disclosure.mutable_disclosure()->set_case_id("CBC-1");
  EXPECT_EQ(
      layout.subject_of("log.disclosures", store::EncodeSeq(1), disclosure.SerializeAsString()),
      "CBC-1");
  Envelope audit;
  audit.mutable_audit()->set_case_id("CBC-1");
  EXPECT_EQ(layout.subject_of("log.audit", store::EncodeSeq(1), audit.SerializeAsString()), "");
}

TEST(SharingColumnFamiliesTest, Names) {
  EXPECT_THAT(SharingColumnFamilies(),
              ::testing::UnorderedElementsAre("log.disclosures", "log.audit", "log.erasures",
                                              "cases", "pending", "incidents", "aggregates",
                                              "victim_index", "retention_due", "retention_index",
                                              "marks", "recipients", "offsets"));
}

}  // namespace
}  // namespace asb::sharing
