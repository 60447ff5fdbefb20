#include "common/orders/lifecycle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/config/config.h"
#include "tests/support/status_matchers.h"

namespace asb::orders {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;

asb::v1::CaseEvent Event(const std::string& body, const std::string& at = "2026-06-01T10:00:00Z") {
  asb::v1::CaseEvent e;
  const std::string json =
      "{\"sourceEventId\":\"e\",\"caseId\":\"C\",\"occurredAt\":\"" + at + "\"," + body + "}";
  absl::Status s = config::ParseJson(json, &e);
  EXPECT_TRUE(s.ok()) << s << " in " << json;
  return e;
}

class LifecycleTest : public ::testing::Test {
 protected:
  absl::Status Apply(const std::string& body, const std::string& at = "2026-06-01T10:00:00Z") {
    return ApplyOrderEvent(Event(body, at), "C", &orders_);
  }
  const asb::v1::Order& Only() {
    EXPECT_EQ(orders_.size(), 1);
    return orders_.Get(0);
  }
  Orders orders_;
};

constexpr char kIssue[] =
    R"("orderIssued":{"order":{"orderId":"O1","type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER",
       "subjectPersonId":"P1","expiresAt":"2028-06-01T00:00:00Z"}})";

TEST_F(LifecycleTest, AnOrderIsIssuedOnceAndVariedInsteadOfReissued) {
  ASB_ASSERT_OK(Apply(kIssue));
  EXPECT_EQ(Only().status(), asb::v1::ORDER_STATUS_ACTIVE);
  EXPECT_TRUE(Only().has_issued_at());  // the event's time
  ASB_ASSERT_OK(Apply(R"("orderBreached":{"orderId":"O1","breach":{"description":"b"}})"));
  // A second issue would wipe the breach: refused, and nothing changes.
  EXPECT_THAT(Apply(kIssue), StatusIsWith(absl::StatusCode::kFailedPrecondition,
                                          "already issued on case 'C' (ACTIVE): vary it instead"));
  EXPECT_EQ(Only().breaches_size(), 1);
  ASB_ASSERT_OK(
      Apply(R"("orderVaried":{"orderId":"O1","conditions":"c2"})", "2026-07-01T00:00:00Z"));
  EXPECT_EQ(Only().conditions(), "c2");
  EXPECT_EQ(Only().varied_at().seconds(),
            Event("", "2026-07-01T00:00:00Z").occurred_at().seconds());
}

TEST_F(LifecycleTest, NothingButABreachDuringItsTermAppliesToAnEndedOrder) {
  ASB_ASSERT_OK(Apply(kIssue, "2026-06-01T10:00:00Z"));
  ASB_ASSERT_OK(
      Apply(R"("orderDischarged":{"orderId":"O1","reason":"r"})", "2026-09-01T10:00:00Z"));
  EXPECT_EQ(Only().status(), asb::v1::ORDER_STATUS_DISCHARGED);
  EXPECT_TRUE(Only().has_ended_at());
  EXPECT_THAT(
      Apply(R"("orderVaried":{"orderId":"O1","conditions":"x"})"),
      StatusIsWith(absl::StatusCode::kFailedPrecondition,
                   "no longer in force (discharged on 2026-09-01): a variation is refused"));
  EXPECT_THAT(Apply(R"("orderDischarged":{"orderId":"O1"})"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Apply(R"("orderExpired":{"orderId":"O1"})"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Apply(R"("reviewHeld":{"orderId":"O1"})"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // A breach reported now that happened before the discharge is still recorded ...
  ASB_ASSERT_OK(Apply(R"("orderBreached":{"orderId":"O1","breach":{
      "occurredAt":"2026-08-31T23:00:00Z"}})",
                      "2026-09-05T00:00:00Z"));
  // ... one after it is refused (the breach's own time, or the event's).
  EXPECT_THAT(Apply(R"("orderBreached":{"orderId":"O1","breach":{
      "occurredAt":"2026-09-01T10:00:00Z"}})"),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "a breach after its end"));
  EXPECT_THAT(Apply(R"("orderBreached":{"orderId":"O1"})", "2026-09-02T00:00:00Z"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Only().breaches_size(), 1);
}

TEST_F(LifecycleTest, AnExpiredOrderCannotBeBreachedLaterOrDischarged) {
  ASB_ASSERT_OK(Apply(kIssue));
  ASB_ASSERT_OK(Apply(R"("orderExpired":{"orderId":"O1"})", "2028-06-01T00:00:00Z"));
  EXPECT_EQ(Only().status(), asb::v1::ORDER_STATUS_EXPIRED);
  EXPECT_THAT(Apply(R"("orderBreached":{"orderId":"O1"})", "2028-06-02T00:00:00Z"),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "expired on 2028-06-01"));
  EXPECT_THAT(Apply(R"("orderDischarged":{"orderId":"O1"})"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Apply(R"("orderExpired":{"orderId":"O1"})"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(LifecycleTest, OrdersNeverIssuedCannotBeChanged) {
  for (const char* body :
       {R"("orderVaried":{"orderId":"NOPE","conditions":"x"})",
        R"("orderBreached":{"orderId":"NOPE"})", R"("orderDischarged":{"orderId":"NOPE"})",
        R"("orderExpired":{"orderId":"NOPE"})", R"("reviewHeld":{"orderId":"NOPE"})",
        R"("authorisationRecorded":{"orderId":"NOPE","authorisation":{
                               "rank":"AUTHORISING_RANK_INSPECTOR"}})"}) {
    EXPECT_THAT(Apply(body), StatusIsWith(absl::StatusCode::kFailedPrecondition, "never issued"))
        << body;
  }
  EXPECT_TRUE(orders_.empty());
}

TEST_F(LifecycleTest, AnApplicationIsProposedUntilIssuedAndKeepsWhatWasRecorded) {
  // The YOT is consulted and a hearing listed before the injunction exists.
  EXPECT_THAT(Apply(R"("consultationRequested":{"orderId":"CI1","consultee":"yot"})"),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "order_type: required"));
  ASB_ASSERT_OK(Apply(R"("consultationRequested":{"orderId":"CI1",
      "orderType":"ORDER_TYPE_CIVIL_INJUNCTION","consultee":"yot","subjectPersonId":"P9"})",
                      "2026-05-01T10:00:00Z"));
  EXPECT_EQ(Only().status(), asb::v1::ORDER_STATUS_PROPOSED);
  EXPECT_EQ(Only().subject_person_id(), "P9");
  ASB_ASSERT_OK(Apply(R"("consultationGiven":{"orderId":"CI1","consultee":"yot",
      "response":"supports it"})",
                      "2026-05-03T10:00:00Z"));
  ASB_ASSERT_OK(Apply(R"("hearingListed":{"orderId":"CI1","hearingId":"H1","court":"Youth court",
      "listedFor":"2026-05-20T10:00:00Z"})"));
  ASB_ASSERT_OK(Apply(R"("hearingHeld":{"orderId":"CI1","hearingId":"H1",
      "outcome":"HEARING_OUTCOME_ORDER_MADE"})",
                      "2026-05-20T11:00:00Z"));
  // A proposal cannot be breached, varied or reviewed.
  EXPECT_THAT(Apply(R"("orderBreached":{"orderId":"CI1"})"),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "only proposed"));
  EXPECT_THAT(Apply(R"("orderVaried":{"orderId":"CI1","conditions":"x"})"),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "only proposed"));
  // Of another type: refused.
  EXPECT_THAT(Apply(R"("orderIssued":{"order":{"orderId":"CI1",
      "type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER"}})"),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "proposed as a"));
  ASB_ASSERT_OK(
      Apply(R"("orderIssued":{"order":{"orderId":"CI1","type":"ORDER_TYPE_CIVIL_INJUNCTION",
      "authorisations":[{"rank":"AUTHORISING_RANK_LOCAL_AUTHORITY_OFFICER"}]}})",
            "2026-05-20T12:00:00Z"));
  const asb::v1::Order& o = Only();
  EXPECT_EQ(o.status(), asb::v1::ORDER_STATUS_ACTIVE);
  EXPECT_EQ(o.subject_person_id(), "P9");
  ASSERT_EQ(o.consultations_size(), 1);  // requested, then answered: one record
  EXPECT_TRUE(o.consultations(0).has_requested_at());
  EXPECT_TRUE(o.consultations(0).has_given_at());
  EXPECT_EQ(o.consultations(0).response(), "supports it");
  ASSERT_EQ(o.hearings_size(), 1);
  EXPECT_EQ(o.hearings(0).outcome(), asb::v1::HEARING_OUTCOME_ORDER_MADE);
  EXPECT_TRUE(o.hearings(0).has_listed_for());
  EXPECT_TRUE(o.hearings(0).has_held_at());
  ASSERT_EQ(o.authorisations_size(), 1);
  EXPECT_TRUE(o.authorisations(0).has_authorised_at());
}

TEST_F(LifecycleTest, ReviewsAuthorisationsAndNotices) {
  ASB_ASSERT_OK(Apply(R"("orderIssued":{"order":{"orderId":"A1",
      "type":"ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT","reviewAt":"2026-09-01T00:00:00Z"}})"));
  ASB_ASSERT_OK(Apply(R"("reviewHeld":{"orderId":"A1","outcome":"ok",
      "nextReviewAt":"2026-12-01T00:00:00Z"})",
                      "2026-08-30T10:00:00Z"));
  EXPECT_EQ(Only().review_at().seconds(),
            Event("", "2026-12-01T00:00:00Z").occurred_at().seconds());
  ASB_ASSERT_OK(Apply(R"("reviewHeld":{"orderId":"A1","outcome":"done"})", "2026-11-30T10:00:00Z"));
  EXPECT_FALSE(Only().has_review_at());
  EXPECT_EQ(Only().reviews_size(), 2);
  ASB_ASSERT_OK(Apply(R"("authorisationRecorded":{"orderId":"A1","authorisation":{
      "rank":"AUTHORISING_RANK_LOCAL_AUTHORITY_OFFICER","officer":"o"}})"));
  EXPECT_EQ(Only().authorisations_size(), 1);
  const char* notice = R"("statutoryNotice":{"noticeId":"review_overdue/x/1","orderId":"A1",
      "kind":"NOTICE_KIND_REVIEW_OVERDUE"})";
  ASB_ASSERT_OK(Apply(notice));
  EXPECT_THAT(Apply(notice),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "already recorded"));
  EXPECT_EQ(Only().notices_size(), 1);
  // A defaulted review date is set from the notice when the order has none.
  ASB_ASSERT_OK(Apply(R"("statutoryNotice":{"noticeId":"d","orderId":"A1",
      "kind":"NOTICE_KIND_REVIEW_DATE_DEFAULTED","context":{"deadline":"2027-03-01T00:00:00Z"}})"));
  EXPECT_EQ(Only().review_at().seconds(),
            Event("", "2027-03-01T00:00:00Z").occurred_at().seconds());
}

TEST(LifecycleHelpersTest, WhichEventsConcernAnOrder) {
  EXPECT_TRUE(IsOrderEvent(Event(kIssue)));
  EXPECT_TRUE(IsOrderEvent(Event(R"("hearingHeld":{"orderId":"x","hearingId":"h"})")));
  EXPECT_FALSE(IsOrderEvent(Event(R"("caseClosed":{"reason":"r"})")));
  EXPECT_EQ(OrderIdOf(Event(R"("reviewHeld":{"orderId":"R7"})")), "R7");
  EXPECT_EQ(OrderIdOf(Event(R"("caseClosed":{"reason":"r"})")), "");
  Orders none;
  EXPECT_THAT(ApplyOrderEvent(Event(R"("caseClosed":{"reason":"r"})"), "C", &none),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace asb::orders
