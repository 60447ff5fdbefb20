#include "services/sharing/sharing_handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "asb/v1/audit.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/config/config.h"
#include "common/policy/policy.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "tests/services/sharing/sharing_fixture.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::sharing {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using SharingHandlerTest = SharingFixture;

TEST_F(SharingHandlerTest, WithoutPolicyNothingIsAppliedOrShown) {
  handler_->SetPolicy(nullptr);
  store::Batch batch = store_->NewBatch();
  EXPECT_THAT(handler_->ApplyEvent(Env(1, "C", kPersonalOpened), &batch),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(batch.count(), 0);
  EXPECT_THAT(handler_->GetCase("police-partner", "police", Lookup("C"), &batch),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(batch.count(), 0);
}

TEST_F(SharingHandlerTest, DisclosesToEveryAgencyThePolicyAllows) {
  std::vector<Disclosure> ds = Apply(Env(1, "C", kPersonalOpened));
  // Personal ASB, no tenancy, no fire risk: council and police only.
  EXPECT_EQ(Agencies(ds), (std::set<std::string>{"council", "police"}));
  const Disclosure* police = For(ds, "police");
  ASSERT_NE(police, nullptr);
  EXPECT_EQ(police->case_id(), "C");
  EXPECT_EQ(police->event_seq(), 1u);
  EXPECT_EQ(police->event_type(), asb::v1::EVENT_TYPE_CASE_OPENED);
  EXPECT_EQ(police->order_type(), asb::v1::ORDER_TYPE_UNSPECIFIED);
  EXPECT_EQ(police->decided_at().seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(police->isp_version(), policy_->version());
  EXPECT_EQ(police->view().case_id(), "C");
  EXPECT_EQ(police->view().title(), "Noise, Brimington North");
  EXPECT_TRUE(police->view().lead_agency().empty());  // not granted: dropped
  ASSERT_EQ(police->justifications_size(), 1);
  EXPECT_EQ(police->justifications(0).rule_id(), "police-personal");
  EXPECT_EQ(police->justifications(0).lawful_basis(), "Crime and Disorder Act 1998 s.115");
  EXPECT_EQ(handler_->disclosures_made(), 2u);

  // A council tenant linked: the case becomes a council-tenancy case and housing joins in.
  ds = Apply(Env(2, "C", kTenantLinked));
  EXPECT_EQ(Agencies(ds), (std::set<std::string>{"council", "police", "housing"}));
  police = For(ds, "police");
  ASSERT_NE(police, nullptr);
  ASSERT_EQ(police->view().people_size(), 1);
  const asb::v1::Person& p = police->view().people(0);
  EXPECT_NE(p.person_id(), "P1");  // pseudonymised
  EXPECT_FALSE(p.person_id().empty());
  EXPECT_TRUE(p.given_name().empty());
  EXPECT_TRUE(p.address().line1().empty());
  EXPECT_EQ(p.address().postcode_district(), "S43");
  EXPECT_NE(p.phone(), "0114 496 0142");
  EXPECT_THAT(police->redacted_paths(), ::testing::Contains(HasSubstr("phone")));
  EXPECT_THAT(police->subject_keys(), ElementsAre(policy_->SubjectKey("P1")));
  const Disclosure* council = For(ds, "council");
  ASSERT_NE(council, nullptr);
  EXPECT_EQ(council->view().people(0).given_name(), "Margaret");
  EXPECT_FALSE(council->view().has_flags());  // flags not granted to anyone here
}

TEST_F(SharingHandlerTest, OrderEventsCarryOrderTypeAndId) {
  Apply(Env(1, "C", kPersonalOpened));
  std::vector<Disclosure> ds = Apply(Env(2, "C", R"("orderIssued":{"order":{"orderId":"CBO-7",
      "type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER"}})"));
  ASSERT_FALSE(ds.empty());
  for (const Disclosure& d : ds) {
    EXPECT_EQ(d.event_type(), asb::v1::EVENT_TYPE_ORDER_ISSUED);
    EXPECT_EQ(d.order_type(), asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
    EXPECT_EQ(d.order_id(), "CBO-7");
    EXPECT_EQ(d.event_seq(), 2u);
  }
  ds = Apply(Env(3, "C", R"("orderBreached":{"orderId":"CBO-7"})"));
  ASSERT_FALSE(ds.empty());
  EXPECT_EQ(ds[0].event_type(), asb::v1::EVENT_TYPE_ORDER_BREACHED);
  EXPECT_EQ(ds[0].order_type(), asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
  EXPECT_EQ(ds[0].order_id(), "CBO-7");
}

TEST_F(SharingHandlerTest, PendingEventsAreDisclosedWhenTheCaseOpens) {
  EXPECT_THAT(Apply(Env(1, "C", kTenantLinked)), IsEmpty());
  EXPECT_THAT(Apply(Env(2, "C", R"("orderExpired":{"orderId":"GHOST"})")), IsEmpty());
  std::vector<Disclosure> ds = Apply(Env(3, "C", kPersonalOpened));
  std::map<uint64_t, std::set<std::string>> by_seq;
  for (const Disclosure& d : ds) {
    by_seq[d.event_seq()].insert(d.agency());
  }
  // The opening (seq 3), then the pending tenant link (seq 1); the expiry of an unknown order
  // (seq 2) cannot apply and is dropped.
  ASSERT_EQ(by_seq.size(), 2u);
  EXPECT_EQ(by_seq[3], (std::set<std::string>{"council", "police"}));
  EXPECT_EQ(by_seq[1], (std::set<std::string>{"council", "police", "housing"}));
  // Disclosures come in event order: the opening first.
  EXPECT_EQ(ds.front().event_seq(), 3u);
  EXPECT_EQ(ds.back().event_seq(), 1u);

  // The pending order_expired for an unknown order was dropped and audited.
  std::vector<asb::v1::AuditRecord> audit = Audit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].kind(), asb::v1::AUDIT_KIND_REJECTION);
  EXPECT_EQ(audit[0].component(), "sharing");
  EXPECT_EQ(audit[0].ref_seq(), 2u);
  EXPECT_EQ(audit[0].case_id(), "C");
  EXPECT_EQ(audit[0].event_type(), asb::v1::EVENT_TYPE_ORDER_EXPIRED);
  EXPECT_EQ(audit[0].actor(), "cbc-cms-feed");
  EXPECT_THAT(audit[0].detail(), HasSubstr("GHOST"));
}

TEST_F(SharingHandlerTest, EventsThatCannotApplyAddNothing) {
  Apply(Env(1, "C", kPersonalOpened));
  store::Batch batch = store_->NewBatch();
  EXPECT_THAT(handler_->ApplyEvent(Env(2, "C", kPersonalOpened), &batch),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(handler_->ApplyEvent(Env(3, "C", R"("orderVaried":{"orderId":"X","conditions":"c"})"),
                                   &batch),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(batch.count(), 0);

  // AuditSkipped is what the daemon calls from the Consumer's OnSkipped.
  handler_->AuditSkipped(Env(2, "C", kPersonalOpened),
                         absl::FailedPreconditionError("case_opened: case 'C' is already opened"),
                         &batch);
  ASB_ASSERT_OK(store_->Write(&batch));
  std::vector<asb::v1::AuditRecord> audit = Audit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].kind(), asb::v1::AUDIT_KIND_REJECTION);
  EXPECT_EQ(audit[0].ref_seq(), 2u);
  EXPECT_EQ(audit[0].event_type(), asb::v1::EVENT_TYPE_CASE_OPENED);
}

TEST_F(SharingHandlerTest, DisclosuresAreOnlyKeptIfTheBatchCommits) {
  store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
  {
    store::Batch batch = store_->NewBatch();
    ASB_ASSERT_OK(handler_->ApplyEvent(Env(1, "C", kPersonalOpened), &batch));
    EXPECT_THAT(store_->Write(&batch), StatusIs(absl::StatusCode::kUnavailable));
  }
  EXPECT_EQ(disclosures_->head(), 0u);
  store_->SetWriteFaultForTest(nullptr);
  std::vector<Disclosure> ds = Apply(Env(1, "C", kPersonalOpened));
  EXPECT_EQ(ds.size(), 2u);
  EXPECT_EQ(disclosures_->head(), 2u);
}

TEST_F(SharingHandlerTest, GetCaseReturnsTheAgencysViewAndRecordsTheConsultation) {
  Apply(Env(1, "C", kPersonalOpened));
  Apply(Env(2, "C", kTenantLinked));
  store::Batch batch = store_->NewBatch();
  auto d = handler_->GetCase("police-partner", "police", Lookup("C"), &batch);
  ASB_ASSERT_OK(d);
  EXPECT_EQ(d->agency(), "police");
  EXPECT_EQ(d->case_id(), "C");
  EXPECT_EQ(d->event_seq(), 0u);
  EXPECT_EQ(d->event_type(), asb::v1::EVENT_TYPE_UNSPECIFIED);
  EXPECT_EQ(d->view().title(), "Noise, Brimington North");
  EXPECT_EQ(d->view().people(0).address().postcode_district(), "S43");
  EXPECT_EQ(d->decided_at().seconds(), absl::ToUnixSeconds(kNow));
  // Recorded in the caller's batch, not yet written.
  EXPECT_EQ(audit_->head(), 0u);
  ASB_ASSERT_OK(store_->Write(&batch));

  std::vector<asb::v1::AuditRecord> audit = Audit();
  ASSERT_EQ(audit.size(), 1u);
  const asb::v1::AuditRecord& r = audit[0];
  EXPECT_EQ(r.kind(), asb::v1::AUDIT_KIND_CONSULTATION);
  EXPECT_EQ(r.component(), "sharing");
  EXPECT_EQ(r.actor(), "police-partner");
  EXPECT_EQ(r.actor_agency(), "police");
  EXPECT_EQ(r.recipient_agency(), "police");
  EXPECT_EQ(r.case_id(), "C");
  EXPECT_EQ(r.isp_version(), policy_->version());
  EXPECT_THAT(r.subject_keys(), ElementsAre(policy_->SubjectKey("P1")));
  ASSERT_EQ(r.justifications_size(), 1);
  EXPECT_EQ(r.justifications(0).rule_id(), "police-personal");
  EXPECT_THAT(r.fields(), ::testing::IsSupersetOf({"case_id", "title", "people.address"}));
  EXPECT_THAT(r.fields(), ::testing::Not(::testing::Contains("people.phone")));  // redacted
  EXPECT_EQ(handler_->consultations(), 1u);
  // The officer on whose behalf the police system asked, and why (DPA 2018 s.62(3)).
  EXPECT_EQ(r.on_behalf_of().officer_id(), "PC-4471");
  EXPECT_EQ(r.on_behalf_of().officer_name(), "PC Jane Ashworth");
  EXPECT_EQ(r.on_behalf_of().reason(), "checking the victim's address before a visit");
}

// A lookup that does not say on whose behalf and why is refused before any case data is read,
// with the reason in words, and the refusal is on the record with what the request said.
TEST_F(SharingHandlerTest, GetCaseWithoutAnOfficerOrAReasonIsRefusedAndAudited) {
  Apply(Env(1, "C", kPersonalOpened));
  store::Batch batch = store_->NewBatch();
  asb::v1::GetCaseRequest anonymous = Lookup("C");
  anonymous.mutable_on_behalf_of()->clear_officer_id();
  EXPECT_THAT(
      handler_->GetCase("police-partner", "police", anonymous, &batch),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.officer_id: required"));
  asb::v1::GetCaseRequest no_reason = Lookup("C");
  no_reason.mutable_on_behalf_of()->clear_reason();
  EXPECT_THAT(handler_->GetCase("police-partner", "police", no_reason, &batch),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.reason: required"));
  // A purpose the ISP does not have.
  asb::v1::GetCaseRequest wrong_purpose = Lookup("C");
  wrong_purpose.mutable_on_behalf_of()->set_purpose("curiosity");
  EXPECT_THAT(
      handler_->GetCase("police-partner", "police", wrong_purpose, &batch),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "'curiosity' is not a purpose of the ISP"));
  // Refused even for a case that does not exist: nothing is looked up first.
  asb::v1::GetCaseRequest missing = Lookup("NOPE");
  missing.clear_on_behalf_of();
  EXPECT_THAT(handler_->GetCase("police-partner", "police", missing, &batch),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASB_ASSERT_OK(store_->Write(&batch));
  std::vector<asb::v1::AuditRecord> audit = Audit();
  ASSERT_EQ(audit.size(), 4u);
  for (const asb::v1::AuditRecord& r : audit) {
    EXPECT_EQ(r.kind(), asb::v1::AUDIT_KIND_ACCESS_REFUSED);
    EXPECT_EQ(r.actor(), "police-partner");
    EXPECT_THAT(r.detail(), HasSubstr("GetCase refused: on_behalf_of."));
    EXPECT_TRUE(r.subject_keys().empty());  // no case data was read
  }
  EXPECT_EQ(audit[0].case_id(), "C");
  EXPECT_EQ(audit[1].on_behalf_of().officer_id(), "PC-4471");
  EXPECT_EQ(audit[2].on_behalf_of().purpose(), "curiosity");
  EXPECT_EQ(handler_->consultations(), 0u);

  // With the purpose the police serve, it is answered and the purpose recorded.
  asb::v1::GetCaseRequest right = Lookup("C");
  right.mutable_on_behalf_of()->set_purpose("prevent-asb");
  ASB_ASSERT_OK(handler_->GetCase("police-partner", "police", right, &batch));
  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_EQ(Audit().back().on_behalf_of().purpose(), "prevent-asb");
}

TEST_F(SharingHandlerTest, ExplainCaseNamesOutcomesNotValuesAndIsAudited) {
  Apply(Env(1, "C", kPersonalOpened));
  Apply(Env(2, "C", kTenantLinked));
  asb::v1::ExplainCaseRequest q = Explaining("C", "police");
  store::Batch batch = store_->NewBatch();
  auto e = handler_->ExplainCase("hub-admin", "hub", q, &batch);
  ASB_ASSERT_OK(e);
  EXPECT_TRUE(e->visible());
  EXPECT_EQ(e->isp_version(), policy_->version());
  EXPECT_THAT(e->matched_rules(), ::testing::Contains("police-personal"));
  std::map<std::string, std::string> outcome;
  for (const auto& f : e->fields()) {
    outcome[f.path()] = f.outcome();
  }
  EXPECT_EQ(outcome["title"], "shown");
  EXPECT_EQ(outcome["people[0].phone"], "redacted");
  EXPECT_EQ(outcome["people[0].given_name"], "withheld");
  // Paths and outcomes only: no value of the case is in the answer.
  const std::string bytes = e->SerializeAsString();
  EXPECT_EQ(bytes.find("Margaret"), std::string::npos);
  EXPECT_EQ(bytes.find("0114 496 0142"), std::string::npos);
  ASB_ASSERT_OK(store_->Write(&batch));
  std::vector<asb::v1::AuditRecord> audit = Audit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].kind(), asb::v1::AUDIT_KIND_CONSULTATION);
  EXPECT_EQ(audit[0].actor(), "hub-admin");
  EXPECT_EQ(audit[0].case_id(), "C");
  EXPECT_THAT(audit[0].detail(), HasSubstr("police"));
  EXPECT_EQ(audit[0].on_behalf_of().officer_id(), "IG-07");

  // Explaining a stored case needs an officer and a reason too.
  asb::v1::ExplainCaseRequest anonymous = q;
  anonymous.clear_on_behalf_of();
  EXPECT_THAT(handler_->ExplainCase("hub-admin", "hub", anonymous, &batch),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.officer_id"));

  // Fire does not see a personal case: explained, not refused.
  q.set_agency("fire");
  e = handler_->ExplainCase("hub-admin", "hub", q, &batch);
  ASB_ASSERT_OK(e);
  EXPECT_FALSE(e->visible());
  q.set_agency("nobody");
  EXPECT_THAT(handler_->ExplainCase("hub-admin", "hub", q, &batch),
              StatusIs(absl::StatusCode::kNotFound));
  q.set_agency("police");
  q.set_case_id("NOPE");
  EXPECT_THAT(handler_->ExplainCase("hub-admin", "hub", q, &batch),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SharingHandlerTest, GetCaseDoesNotLeakExistence) {
  Apply(Env(1, "C", kPersonalOpened));  // not a fire-risk case
  store::Batch batch = store_->NewBatch();
  absl::StatusOr<Disclosure> hidden =
      handler_->GetCase("fire-partner", "fire", Lookup("C"), &batch);
  absl::StatusOr<Disclosure> missing =
      handler_->GetCase("fire-partner", "fire", Lookup("NOPE"), &batch);
  EXPECT_THAT(hidden, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kNotFound));
  // Same wording apart from the id the caller gave.
  std::string hidden_msg(hidden.status().message());
  std::string missing_msg(missing.status().message());
  hidden_msg.replace(hidden_msg.find("'C'"), 3, "'?'");
  missing_msg.replace(missing_msg.find("'NOPE'"), 6, "'?'");
  EXPECT_EQ(hidden_msg, missing_msg);
  EXPECT_THAT(handler_->GetCase("p", "police", Lookup(""), &batch),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "case_id: required"));

  // The refusal of an existing case is audited for the auditors (never shown to the caller).
  ASB_ASSERT_OK(store_->Write(&batch));
  std::vector<asb::v1::AuditRecord> audit = Audit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].kind(), asb::v1::AUDIT_KIND_ACCESS_REFUSED);
  EXPECT_EQ(audit[0].actor(), "fire-partner");
  EXPECT_EQ(audit[0].case_id(), "C");
  EXPECT_EQ(handler_->consultations(), 0u);
}

// Sharing decides which disclosures are alerts, under the ISP that decided the view, and stamps
// the rule ids (file order) into each disclosure: asb-notify only reads them.
TEST_F(SharingHandlerTest, StampsTheNotificationRulesThatMakeADisclosureAnAlert) {
  ASSERT_NE(
      UseEditedIsp("isp-orders-alert.yaml", /*without_every_event=*/true, [](std::string*) {}),
      nullptr);
  // Only an alert is disclosed: no rule alerts anyone of an opening, so no view leaves the hub
  // (and none is stored).
  EXPECT_THAT(Apply(Env(1, "C", kPersonalOpened)), IsEmpty());
  EXPECT_EQ(disclosures_->head(), 0u);
  const std::string cbo = R"("orderIssued":{"order":{"orderId":"CBO-7",
      "type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER"}})";
  std::vector<Disclosure> ds = Apply(Env(2, "C", cbo));
  EXPECT_EQ(Agencies(ds), (std::set<std::string>{"police"}));  // council: not named by "orders"
  ASSERT_NE(For(ds, "police"), nullptr);
  EXPECT_THAT(For(ds, "police")->notification_rules(), ElementsAre("orders"));
  EXPECT_EQ(For(ds, "police")->view().orders_size(), 1);  // the whole view the ISP allows

  // A reloaded ISP with more notification rules: the stamp follows it, with its version.
  std::shared_ptr<const policy::Policy> more =
      UseEditedIsp("isp-more-alerts.yaml", /*without_every_event=*/true, [](std::string* isp) {
        *isp +=
            "  - { id: police-orders, event_types: [EVENT_TYPE_ORDER_ISSUED], agencies: [police] "
            "}\n"
            "  - { id: council-orders, event_types: [EVENT_TYPE_ORDER_ISSUED], agencies: "
            "[council] }\n"
            "  - { id: fire-orders, event_types: [EVENT_TYPE_ORDER_ISSUED], agencies: [fire] }\n";
      });
  ASSERT_NE(more, nullptr);
  ds = Apply(Env(3, "C", R"("orderIssued":{"order":{"orderId":"CBO-8",
      "type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER"}})"));
  ASSERT_NE(For(ds, "police"), nullptr);
  EXPECT_THAT(For(ds, "police")->notification_rules(), ElementsAre("orders", "police-orders"));
  EXPECT_EQ(For(ds, "police")->isp_version(), more->version());
  ASSERT_NE(For(ds, "council"), nullptr);
  EXPECT_THAT(For(ds, "council")->notification_rules(), ElementsAre("council-orders"));
  EXPECT_EQ(For(ds, "fire"), nullptr);  // fire may not see the case: no disclosure, no alert

  // A partner's query is never an alert.
  store::Batch batch = store_->NewBatch();
  auto view = handler_->GetCase("police-partner", "police", Lookup("C"), &batch);
  ASB_ASSERT_OK(view);
  EXPECT_THAT(view->notification_rules(), IsEmpty());
}

// An order follows its subject: an agency whose rules cover only some people gets no disclosure
// of an order event on someone else, not even the order's id and type.
TEST_F(SharingHandlerTest, AnOrderEventReachesOnlyAgenciesThatMaySeeTheOrder) {
  ASSERT_NE(UseEditedIsp("isp-victims-only.yaml", /*without_every_event=*/false,
                         [](std::string* isp) {
                           const std::string tenancy = "    when:\n      council_tenancy: true\n";
                           ASSERT_NE(isp->find(tenancy), std::string::npos);
                           isp->replace(isp->find(tenancy), tenancy.size(),
                                        tenancy + "    people: { roles: [PERSON_ROLE_VICTIM] }\n");
                         }),
            nullptr);

  Apply(Env(1, "C", kPersonalOpened));
  Apply(Env(2, "C", kTenantLinked));  // a council tenant: housing's rule applies
  Apply(Env(3, "C", R"("personLinked":{"person":{"personId":"P2",
      "role":"PERSON_ROLE_PERPETRATOR","givenName":"Dean"}})"));
  std::vector<Disclosure> ds = Apply(Env(4, "C", R"("orderIssued":{"order":{"orderId":"CI-1",
      "type":"ORDER_TYPE_CIVIL_INJUNCTION","subjectPersonId":"P2"}})"));
  EXPECT_EQ(Agencies(ds), (std::set<std::string>{"council", "police"}));
  ds = Apply(Env(5, "C", R"("orderIssued":{"order":{"orderId":"CI-2",
      "type":"ORDER_TYPE_CIVIL_INJUNCTION","subjectPersonId":"P1"}})"));
  ASSERT_NE(For(ds, "housing"), nullptr);
  EXPECT_EQ(For(ds, "housing")->order_id(), "CI-2");
  ASSERT_EQ(For(ds, "housing")->view().orders_size(), 1);  // the victim's order, not the other
  EXPECT_EQ(For(ds, "housing")->view().orders(0).order_id(), "CI-2");
  EXPECT_THAT(For(ds, "housing")->notification_rules(), ElementsAre("orders", "every-event"));
}

TEST_F(SharingHandlerTest, ThePolicyCanBeSwapped) {
  Apply(Env(1, "C", kNuisanceFireOpened));
  store::Batch batch = store_->NewBatch();
  ASB_ASSERT_OK(handler_->GetCase("fire-partner", "fire", Lookup("C"), &batch));
  EXPECT_THAT(handler_->GetCase("police-partner", "police", Lookup("C"), &batch),
              StatusIs(absl::StatusCode::kNotFound));  // police: personal cases only

  // A reload to an ISP that lets every agency see the case_id of every case.
  auto other = policy::Policy::LoadFile(std::string(ASB_SHARING_TESTDATA) + "/isp-open.yaml");
  ASB_ASSERT_OK(other);
  handler_->SetPolicy(*other);
  auto d = handler_->GetCase("police-partner", "police", Lookup("C"), &batch);
  ASB_ASSERT_OK(d);
  EXPECT_EQ(d->isp_version(), (*other)->version());
  EXPECT_NE(d->isp_version(), policy_->version());
  EXPECT_TRUE(d->view().title().empty());
}

TEST_F(SharingHandlerTest, DemoSampleReachesTheRightAgencies) {
  // The CBO demo flow end to end through folder and policy.
  std::ifstream in(std::string(ASB_SOURCE_DIR) + "/config/samples/cbo-demo.jsonl");
  ASSERT_TRUE(in.good());
  std::string line;
  uint64_t seq = 0;
  std::map<asb::v1::EventType, std::set<std::string>> reached;
  while (std::getline(in, line)) {
    Envelope env;
    env.set_seq(++seq);
    env.mutable_accepted_event()->set_source_agency("council");
    ASB_ASSERT_OK(config::ParseJson(line, env.mutable_accepted_event()->mutable_event()));
    for (const Disclosure& d : Apply(env)) {
      reached[d.event_type()].insert(d.agency());
    }
  }
  // A council-tenancy personal case: council, police and housing, never fire.
  EXPECT_EQ(reached[asb::v1::EVENT_TYPE_ORDER_ISSUED],
            (std::set<std::string>{"council", "police", "housing"}));
  EXPECT_EQ(reached[asb::v1::EVENT_TYPE_ORDER_BREACHED],
            (std::set<std::string>{"council", "police", "housing"}));
  for (const auto& [type, agencies] : reached) {
    EXPECT_EQ(agencies.count("fire"), 0u) << type;
  }
}

// --- the hub's own events: statutory context and notices ---------------------------------------

// The hub's event `body` (made_by_hub, source "hub").
Envelope HubEnv(uint64_t seq, const std::string& case_id, const std::string& body) {
  Envelope env = Env(seq, case_id, body);
  env.mutable_accepted_event()->set_source("hub");
  env.mutable_accepted_event()->set_source_agency("hub");
  env.mutable_accepted_event()->set_made_by_hub(true);
  return env;
}

const char kCboIssued[] = R"("orderIssued":{"order":{"orderId":"CBO1",
    "type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER","issuedBy":"police",
    "expiresAt":"2028-10-01T00:00:00Z","reviewAt":"2027-04-01T00:00:00Z"}})";

TEST_F(SharingHandlerTest, AStatutoryNoticeAlertsTheAgenciesItNamesWithItsContext) {
  Apply(Env(1, "C", kPersonalOpened));
  Apply(Env(2, "C", kCboIssued));
  const std::vector<Disclosure> ds = Apply(HubEnv(3, "C", R"("statutoryNotice":{
      "noticeId":"review_overdue/review-date/1806451200","orderId":"CBO1",
      "kind":"NOTICE_KIND_REVIEW_OVERDUE","recipients":["police","fire"],
      "orderType":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER",
      "context":{"ruleId":"review-date","section":"the review date set for the order",
                 "deadline":"2027-04-01T00:00:00Z","due":"the review was due","rulesVersion":"v"}})"));
  // Every agency alerted that the ISP lets see the case (here "every-event" alerts all) gets the
  // view, with the notice on the order ...
  EXPECT_EQ(Agencies(ds), (std::set<std::string>{"council", "police"}));
  for (const Disclosure& d : ds) {
    EXPECT_EQ(d.event_type(), asb::v1::EVENT_TYPE_STATUTORY_NOTICE);
    EXPECT_EQ(d.order_id(), "CBO1");
    EXPECT_EQ(d.notice_kind(), asb::v1::NOTICE_KIND_REVIEW_OVERDUE);
    EXPECT_EQ(d.statutory().rule_id(), "review-date");
    EXPECT_EQ(d.statutory().due(), "the review was due");
    ASSERT_EQ(d.view().orders_size(), 1);
    EXPECT_EQ(d.view().orders(0).notices_size(), 1);
    // ... but only a named recipient is alerted under "statutory:<kind>", the hub's reason
    // first (the test ISP's "every-event" alerts every agency of every event).
    if (d.agency() == "police") {
      EXPECT_THAT(d.notification_rules(), ElementsAre("statutory:review_overdue", "every-event"));
    } else {
      EXPECT_THAT(d.notification_rules(), ElementsAre("every-event"));
    }
  }
  // Fire may not see this case: not alerted, and that is on the record.
  std::vector<asb::v1::AuditRecord> audit = Audit();
  ASSERT_FALSE(audit.empty());
  EXPECT_EQ(audit.back().kind(), asb::v1::AUDIT_KIND_ACCESS_REFUSED);
  EXPECT_EQ(audit.back().recipient_agency(), "fire");
  EXPECT_EQ(audit.back().case_id(), "C");
  EXPECT_THAT(audit.back().detail(), HasSubstr("not delivered to fire"));
  EXPECT_EQ(handler_->undelivered_notices(), 1u);
}

TEST_F(SharingHandlerTest, TheHubsExpiryCarriesItsContextAndAFeedsDoesNot) {
  Apply(Env(1, "C", kPersonalOpened));
  Apply(Env(2, "C", kCboIssued));
  const std::vector<Disclosure> ds = Apply(HubEnv(3, "C", R"("orderExpired":{"orderId":"CBO1",
      "context":{"ruleId":"order-term","section":"Sentencing Act 2020 s.334",
                 "deadline":"2028-10-01T00:00:00Z"}})"));
  ASSERT_FALSE(ds.empty());
  for (const Disclosure& d : ds) {
    EXPECT_EQ(d.event_type(), asb::v1::EVENT_TYPE_ORDER_EXPIRED);
    EXPECT_EQ(d.statutory().section(), "Sentencing Act 2020 s.334");
    EXPECT_EQ(d.view().orders(0).status(), asb::v1::ORDER_STATUS_EXPIRED);
  }
  Apply(Env(4, "C", R"("orderIssued":{"order":{"orderId":"A2",
      "type":"ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT"}})"));
  for (const Disclosure& d : Apply(Env(5, "C", R"("orderExpired":{"orderId":"A2"})"))) {
    EXPECT_FALSE(d.has_statutory());
  }
}

// --- ListOrders
// -----------------------------------------------------------------------------------

asb::v1::ListOrdersRequest ListFor(const std::string& officer, const std::string& reason) {
  asb::v1::ListOrdersRequest r;
  r.mutable_on_behalf_of()->set_officer_id(officer);
  r.mutable_on_behalf_of()->set_reason(reason);
  r.mutable_on_behalf_of()->set_purpose("prevent-asb");
  return r;
}

class ListOrdersTest : public SharingHandlerTest {
 protected:
  void SetUp() override {
    SharingHandlerTest::SetUp();
    // Two personal cases the police may see, one fire case they may not.
    Apply(Env(1, "A", kPersonalOpened));
    Apply(Env(2, "A", kCboIssued));
    Apply(Env(3, "A", R"("orderIssued":{"order":{"orderId":"ABC1",
        "type":"ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT","expiresAt":"2026-12-10T00:00:00Z"}})"));
    Apply(Env(4, "B", kPersonalOpened));
    Apply(Env(5, "B", R"("orderIssued":{"order":{"orderId":"CI1",
        "type":"ORDER_TYPE_CIVIL_INJUNCTION","expiresAt":"2027-06-01T00:00:00Z"}})"));
    Apply(Env(6, "B", R"("orderDischarged":{"orderId":"CI1","reason":"r"})"));
    Apply(Env(7, "F", kNuisanceFireOpened));
    Apply(Env(8, "F", R"("orderIssued":{"order":{"orderId":"CN1",
        "type":"ORDER_TYPE_CLOSURE_NOTICE","expiresAt":"2026-12-01T00:00:00Z"}})"));
  }

  absl::StatusOr<asb::v1::ListOrdersResponse> List(const asb::v1::ListOrdersRequest& r,
                                                   const std::string& agency = "police") {
    store::Batch batch = store_->NewBatch();
    auto out = handler_->ListOrders(agency + "-partner", agency, r, &batch);
    if (out.ok()) {
      EXPECT_TRUE(store_->Write(&batch).ok());
    }
    return out;
  }

  static std::vector<std::string> Ids(const asb::v1::ListOrdersResponse& r) {
    std::vector<std::string> ids;
    for (const auto& o : r.orders()) {
      ids.push_back(o.case_id() + "/" + o.order().order_id());
    }
    return ids;
  }
};

TEST_F(ListOrdersTest, TheOrdersTheAgencyMaySeeAuditedAsConsultations) {
  const std::size_t audit_before = Audit().size();
  auto r = List(ListFor("PC 1234", "monitoring orders due"));
  ASB_ASSERT_OK(r.status());
  EXPECT_THAT(Ids(*r), ElementsAre("A/ABC1", "A/CBO1", "B/CI1"));  // not the fire case
  EXPECT_FALSE(r->more());
  EXPECT_EQ(r->orders(0).next_due(), "expiry");
  EXPECT_EQ(r->orders(1).next_due(), "review");
  // One consultation per case returned, naming the officer and the reason.
  std::vector<asb::v1::AuditRecord> audit = Audit();
  ASSERT_EQ(audit.size(), audit_before + 2);
  for (std::size_t i = audit_before; i < audit.size(); ++i) {
    EXPECT_EQ(audit[i].kind(), asb::v1::AUDIT_KIND_CONSULTATION);
    EXPECT_EQ(audit[i].actor(), "police-partner");
    EXPECT_EQ(audit[i].on_behalf_of().officer_id(), "PC 1234");
    EXPECT_EQ(audit[i].on_behalf_of().reason(), "monitoring orders due");
    EXPECT_THAT(audit[i].detail(), HasSubstr("ListOrders"));
  }
  EXPECT_EQ(audit[audit_before].case_id(), "A");
  EXPECT_EQ(audit[audit_before + 1].case_id(), "B");
  // The fire service sees its case, but the ISP grants it no orders: nothing to list.
  auto fire = List(ListFor("FF 9", "premises"), "fire");
  ASB_ASSERT_OK(fire.status());
  EXPECT_THAT(Ids(*fire), IsEmpty());
  // The council sees every case's orders.
  auto council = List(ListFor("CO 7", "case review"), "council");
  ASB_ASSERT_OK(council.status());
  EXPECT_THAT(Ids(*council), ElementsAre("A/ABC1", "A/CBO1", "B/CI1", "F/CN1"));
}

TEST_F(ListOrdersTest, FiltersAndPages) {
  auto request = ListFor("PC 1234", "r");
  request.set_status(asb::v1::ORDER_STATUS_ACTIVE);
  auto active = List(request);
  ASB_ASSERT_OK(active.status());
  EXPECT_THAT(Ids(*active), ElementsAre("A/ABC1", "A/CBO1"));
  request.add_types(asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
  auto cbos = List(request);
  ASB_ASSERT_OK(cbos.status());
  EXPECT_THAT(Ids(*cbos), ElementsAre("A/CBO1"));
  // Due within 30 days of 26 November 2026: the ABC ends on 10 December.
  auto due = ListFor("PC 1234", "r");
  due.set_due_within_days(30);
  auto soon = List(due);
  ASB_ASSERT_OK(soon.status());
  EXPECT_THAT(Ids(*soon), ElementsAre("A/ABC1"));
  // Pages of one.
  auto page = ListFor("PC 1234", "r");
  page.set_limit(1);
  std::vector<std::string> all;
  for (int i = 0; i < 5; ++i) {
    auto r = List(page);
    ASB_ASSERT_OK(r.status());
    for (const std::string& id : Ids(*r)) {
      all.push_back(id);
    }
    if (!r->more()) {
      break;
    }
    page.set_after_case_id(r->orders(0).case_id());
    page.set_after_order_id(r->orders(0).order().order_id());
  }
  EXPECT_THAT(all, ElementsAre("A/ABC1", "A/CBO1", "B/CI1"));
}

TEST_F(ListOrdersTest, TheOfficerAndTheReasonAreRequired) {
  EXPECT_THAT(List(ListFor("", "r")), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                                   "on_behalf_of.officer_id: required"));
  EXPECT_THAT(List(ListFor("PC 1", "")),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.reason: required"));
  auto too_many = ListFor("PC 1", "r");
  too_many.set_limit(6000);
  EXPECT_THAT(List(too_many), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace asb::sharing
