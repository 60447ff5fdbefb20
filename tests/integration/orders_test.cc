// Orders as the law defines them, on the four real daemons with the shipped configs, ISP and
// statutory rules: refusals at intake citing the section, and the hub's own clock, which expires
// orders and raises deadlines from events whose occurred_at lies in the past, with no feed event,
// exactly once across a kill -9 of asb-intake; `orders list` as an audited consultation; a bad
// rules file on SIGHUP keeps the rules in force.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "asb/v1/api.pb.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone());
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

asb::v1::CaseEvent Event(const std::string& id, const std::string& case_id, absl::Time at,
                         const std::string& body) {
  asb::v1::CaseEvent e;
  const std::string json = "{\"sourceEventId\":\"" + id + "\",\"caseId\":\"" + case_id +
                           "\",\"occurredAt\":\"" + Rfc3339(at) + "\"," + body + "}";
  absl::Status s = config::ParseJson(json, &e);
  EXPECT_TRUE(s.ok()) << s << " in " << json;
  return e;
}

class OrdersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = BuiltHubOptions();
    set_up_at_ = absl::Now();
    // asb-intake with a copy of the rules table the test can break (SIGHUP test).
    rules_path_ = work_.Sub("rules.yaml");
    std::ofstream(rules_path_) << ReadAll(std::string(ASB_SOURCE_DIR) +
                                          "/config/statutory/rules.yaml");
    std::string intake = ReadAll(std::string(ASB_SOURCE_DIR) + "/config/intake.yaml");
    const std::string line = "statutory_rules_file: \"config/statutory/rules.yaml\"";
    ASSERT_NE(intake.find(line), std::string::npos);
    intake = absl::StrReplaceAll(intake, {{line, "statutory_rules_file: \"" + rules_path_ + "\""}});
    options_.config_files["intake"] = work_.Sub("intake.yaml");
    std::ofstream(options_.config_files["intake"]) << intake;
    hub_ = std::make_unique<Hub>(options_);
    ASB_ASSERT_OK(hub_->StartAll());
  }

  void TearDown() override { EXPECT_TRUE(hub_->StopAll().ok()); }

  // What the hub's clock reads now (BuiltHubOptions pins it to SamplesAsOf()).
  absl::Time HubNow() const { return SamplesAsOf() + (absl::Now() - set_up_at_); }

  std::vector<asb::v1::SubmitResult> Submit(const std::vector<asb::v1::CaseEvent>& events,
                                            const std::string& feed = "police-feed") {
    auto r = hub_->Submit(feed, events);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) {
      return {};
    }
    return {r->results().begin(), r->results().end()};
  }

  // A personal-ASB case (the police and the council see those) with an adult perpetrator P1.
  void OpenCase(const std::string& case_id, absl::Time at) {
    for (const auto& r : Submit({Event(case_id + "-open", case_id, at,
                                       R"("caseOpened":{"nsirCategory":"NSIR_CATEGORY_PERSONAL",
                          "title":"Intimidation, Hasland","leadAgency":"police"})"),
                                 Event(case_id + "-p1", case_id, at, R"("personLinked":{"person":{
                          "personId":"P1","role":"PERSON_ROLE_PERPETRATOR",
                          "dateOfBirth":"1990-05-01"}})")})) {
      EXPECT_EQ(r.outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED) << r.status().message();
    }
  }

  // Waits until `partner` has an alert that `match` accepts; returns it.
  absl::StatusOr<asb::v1::Alert> WaitForAlert(
      const std::string& partner, const std::function<bool(const asb::v1::Alert&)>& match,
      const std::string& what) {
    asb::v1::Alert found;
    ASB_RETURN_IF_ERROR(WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          ASB_ASSIGN_OR_RETURN(asb::v1::PullAlertsResponse r,
                               hub_->PullAlerts(partner, 1000, 0, 1));
          for (const auto& a : r.alerts()) {
            if (match(a)) {
              found = a;
              return true;
            }
          }
          return false;
        },
        absl::Now() + absl::Seconds(30), what, absl::Milliseconds(50)));
    return found;
  }

  // The hub's own records in intake's log.
  std::vector<asb::v1::AcceptedEvent> HubRecords() {
    auto events = hub_->FetchAll("intake", "events");
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<asb::v1::AcceptedEvent> out;
    if (events.ok()) {
      for (const auto& env : *events) {
        if (env.accepted_event().made_by_hub()) {
          out.push_back(env.accepted_event());
        }
      }
    }
    return out;
  }

  HubOptions options_;
  absl::Time set_up_at_;
  TempDir work_;
  std::string rules_path_;
  std::unique_ptr<Hub> hub_;
};

constexpr char kInspector[] = R"("authorisations":[{"rank":"AUTHORISING_RANK_INSPECTOR"}])";

// A dispersal direction to P1, authorised by an inspector, given an hour before `now` for `hours`.
asb::v1::CaseEvent Dispersal(const std::string& id, const std::string& case_id,
                             const std::string& order_id, absl::Time now, int hours) {
  const absl::Time given = now - absl::Hours(1);
  return Event(id, case_id, given,
               absl::StrCat(R"("orderIssued":{"order":{"orderId":")", order_id,
                            R"(","type":"ORDER_TYPE_DISPERSAL_DIRECTION","subjectPersonId":"P1",
                      "issuedBy":"police","issuedAt":")",
                            Rfc3339(given), R"(","expiresAt":")",
                            Rfc3339(given + absl::Hours(hours)), "\",", kInspector, "}}"));
}

TEST_F(OrdersTest, A72HourDispersalDirectionIsRefusedCitingSection35) {
  const absl::Time now = HubNow();
  OpenCase("CBC-DD-1", now - absl::Hours(2));
  const auto r = Submit({Dispersal("dd-1", "CBC-DD-1", "DD-72", now, 72)});
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_EQ(r[0].outcome(), asb::v1::SubmitResult::OUTCOME_REFUSED);
  EXPECT_THAT(r[0].status().message(), HasSubstr("72 hours exceeds the maximum of 48 hours"));
  EXPECT_THAT(r[0].status().message(),
              HasSubstr("Anti-social Behaviour, Crime and Policing Act 2014 s.35(4)"));
  // 48 hours is lawful.
  const auto ok = Submit({Dispersal("dd-2", "CBC-DD-1", "DD-48", now, 48)});
  ASSERT_THAT(ok, SizeIs(1));
  EXPECT_EQ(ok[0].outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED) << ok[0].status().message();
}

// An ABC whose end date has passed (old data arriving now) is expired by the hub itself, and the
// partners are alerted of the expiry although no feed ever sent one; a closure notice served three
// days ago with no hearing recorded raises the hearing's deadline.
TEST_F(OrdersTest, TheHubsClockExpiresOrdersAndRaisesDeadlinesWithNoFeedEvent) {
  const absl::Time now = HubNow();
  OpenCase("CBC-CLK-1", now - absl::Hours(24 * 60));
  const auto issued =
      Submit({Event("abc-1", "CBC-CLK-1", now - absl::Hours(24 * 60),
                    absl::StrCat(R"("orderIssued":{"order":{"orderId":"ABC-OLD",
                "type":"ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT","subjectPersonId":"P1",
                "issuedBy":"police","expiresAt":")",
                                 Rfc3339(now - absl::Hours(48)), R"(","reviewAt":")",
                                 Rfc3339(now + absl::Hours(24 * 30)), "\"}}")),
              Event("cn-1", "CBC-CLK-1", now - absl::Hours(72),
                    absl::StrCat(R"("orderIssued":{"order":{"orderId":"CN-OLD",
                "type":"ORDER_TYPE_CLOSURE_NOTICE","issuedBy":"police","issuedAt":")",
                                 Rfc3339(now - absl::Hours(72)), R"(","expiresAt":")",
                                 Rfc3339(now - absl::Hours(48)), "\",", kInspector, "}}"))});
  for (const auto& r : issued) {
    ASSERT_EQ(r.outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED) << r.status().message();
  }

  // The police are alerted of the ABC's expiry, made by the hub.
  for (const std::string partner : {"police-partner"}) {
    auto expired = WaitForAlert(
        partner,
        [](const asb::v1::Alert& a) {
          return a.disclosure().event_type() == asb::v1::EVENT_TYPE_ORDER_EXPIRED &&
                 a.disclosure().order_id() == "ABC-OLD";
        },
        partner + " alerted of ABC-OLD's expiry");
    ASSERT_TRUE(expired.ok()) << expired.status();
    EXPECT_EQ(expired->disclosure().statutory().rule_id(), "order-term");
    EXPECT_TRUE(expired->disclosure().statutory().has_deadline());
    for (const auto& o : expired->disclosure().view().orders()) {
      if (o.order_id() == "ABC-OLD") {
        EXPECT_EQ(o.status(), asb::v1::ORDER_STATUS_EXPIRED);
      }
    }
  }
  // The issuing agency is told the closure order's hearing is overdue (s.80(3)).
  auto overdue = WaitForAlert(
      "police-partner",
      [](const asb::v1::Alert& a) {
        return a.disclosure().notice_kind() == asb::v1::NOTICE_KIND_HEARING_OVERDUE &&
               a.disclosure().order_id() == "CN-OLD";
      },
      "police alerted that CN-OLD's hearing is overdue");
  ASSERT_TRUE(overdue.ok()) << overdue.status();
  EXPECT_EQ(overdue->notification_rule(), "statutory:hearing_overdue");
  EXPECT_THAT(overdue->disclosure().statutory().section(), HasSubstr("s.80(3)"));
  EXPECT_EQ(overdue->disclosure().statutory().deadline().seconds(),
            absl::ToUnixSeconds(now - absl::Hours(72) + absl::Hours(48)));
  EXPECT_THAT(overdue->disclosure().statutory().due(), HasSubstr("none is recorded"));

  // No feed sent any of it: the log holds the hub's own records, each once, from source "hub".
  ASB_ASSERT_OK(hub_->WaitDrained());
  std::map<std::string, int> made;
  for (const auto& a : HubRecords()) {
    EXPECT_EQ(a.source(), "hub");
    EXPECT_EQ(a.source_agency(), "hub");
    ++made[a.event().source_event_id()];
  }
  for (const auto& [id, n] : made) {
    EXPECT_EQ(n, 1) << id;
  }
  EXPECT_EQ(made.count("hub:CBC-CLK-1/ABC-OLD/expiry/" +
                       std::to_string(absl::ToUnixSeconds(now - absl::Hours(48)))),
            1u);
  // And the access log says the hub collected them.
  asb::v1::AuditQueryRequest q;
  q.set_case_id("CBC-CLK-1");
  q.add_kinds(asb::v1::AUDIT_KIND_COLLECTION);
  q.set_actor("hub");
  auto collected = hub_->AuditQueryAll("dpo-auditor", q);
  ASSERT_TRUE(collected.ok()) << collected.status();
  EXPECT_EQ(collected->size(), made.size());
}

TEST_F(OrdersTest, AReviewDueAcrossAKillOfIntakeIsRaisedExactlyOnce) {
  const absl::Time now = HubNow();
  OpenCase("CBC-KILL-1", now - absl::Hours(24));
  const absl::Time review = now + absl::Seconds(6);
  const auto issued = Submit({Event("abc-k", "CBC-KILL-1", now - absl::Hours(24),
                                    absl::StrCat(R"("orderIssued":{"order":{"orderId":"ABC-K",
      "type":"ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT","subjectPersonId":"P1","issuedBy":"police",
      "expiresAt":")",
                                                 Rfc3339(now + absl::Hours(24 * 180)),
                                                 R"(","reviewAt":")", Rfc3339(review), "\"}}"))});
  ASSERT_THAT(issued, SizeIs(1));
  ASSERT_EQ(issued[0].outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED);
  // Both reminders' times have passed on arrival: only the latest (a day before) is sent.
  auto due = WaitForAlert(
      "police-partner",
      [](const asb::v1::Alert& a) {
        return a.disclosure().notice_kind() == asb::v1::NOTICE_KIND_REVIEW_DUE &&
               a.disclosure().order_id() == "ABC-K";
      },
      "police reminded of ABC-K's review");
  ASSERT_TRUE(due.ok()) << due.status();
  // kill -9 before the review falls due, down across it, then back.
  ASB_ASSERT_OK(hub_->Kill("intake"));
  ASB_ASSERT_OK(
      WaitUntil([&]() -> absl::StatusOr<bool> { return HubNow() > review + absl::Seconds(1); },
                absl::Now() + absl::Seconds(20), "the review date to pass"));
  ASB_ASSERT_OK(hub_->StartAndWait("intake"));
  auto overdue = WaitForAlert(
      "police-partner",
      [](const asb::v1::Alert& a) {
        return a.disclosure().notice_kind() == asb::v1::NOTICE_KIND_REVIEW_OVERDUE &&
               a.disclosure().order_id() == "ABC-K";
      },
      "police alerted that ABC-K's review is overdue");
  ASSERT_TRUE(overdue.ok()) << overdue.status();
  // Kill it again and restart: nothing is raised twice.
  ASB_ASSERT_OK(hub_->Kill("intake"));
  ASB_ASSERT_OK(hub_->StartAndWait("intake"));
  ASB_ASSERT_OK(hub_->WaitDrained());
  std::map<asb::v1::NoticeKind, int> kinds;
  for (const auto& a : HubRecords()) {
    if (a.event().case_id() == "CBC-KILL-1") {
      ++kinds[a.event().statutory_notice().kind()];
    }
  }
  // The one reminder still useful when it arrived (a day before), then the overdue notice.
  EXPECT_EQ(kinds[asb::v1::NOTICE_KIND_REVIEW_DUE], 1);
  EXPECT_EQ(kinds[asb::v1::NOTICE_KIND_REVIEW_OVERDUE], 1);
}

TEST_F(OrdersTest, OrdersListIsAnAuditedConsultationAndNeedsTheOfficer) {
  const absl::Time now = HubNow();
  OpenCase("CBC-LIST-1", now - absl::Hours(24 * 10));
  ASSERT_EQ(Submit({Event("cbo-l", "CBC-LIST-1", now - absl::Hours(24 * 10),
                          absl::StrCat(R"("orderIssued":{"order":{"orderId":"CBO-L",
      "type":"ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER","subjectPersonId":"P1","issuedBy":"police",
      "expiresAt":")",
                                       Rfc3339(now + absl::Hours(24 * 800)), R"(","reviewAt":")",
                                       Rfc3339(now + absl::Hours(24 * 20)), "\"}}"))})[0]
                .outcome(),
            asb::v1::SubmitResult::OUTCOME_ACCEPTED);
  ASB_ASSERT_OK(hub_->WaitDrained());
  asb::v1::Request request;
  asb::v1::ListOrdersRequest* list = request.mutable_list_orders();
  list->set_due_within_days(30);
  list->mutable_on_behalf_of()->set_reason("weekly order review");
  EXPECT_THAT(hub_->Call("sharing", "police-partner", request),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.officer_id"));
  list->mutable_on_behalf_of()->set_officer_id("PC 4471");
  auto listed = hub_->Call("sharing", "police-partner", request);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_THAT(listed->orders().orders(), SizeIs(1));
  EXPECT_EQ(listed->orders().orders(0).order().order_id(), "CBO-L");
  EXPECT_EQ(listed->orders().orders(0).next_due(), "review");
  // A feed may not ask.
  EXPECT_THAT(hub_->Call("sharing", "police-feed", request),
              asb::testing::StatusIs(absl::StatusCode::kPermissionDenied));

  ASB_ASSERT_OK(hub_->WaitDrained());
  asb::v1::AuditQueryRequest q;
  q.set_case_id("CBC-LIST-1");
  q.add_kinds(asb::v1::AUDIT_KIND_CONSULTATION);
  auto consulted = hub_->AuditQueryAll("dpo-auditor", q);
  ASSERT_TRUE(consulted.ok()) << consulted.status();
  ASSERT_THAT(*consulted, SizeIs(1));
  EXPECT_EQ((*consulted)[0].record().on_behalf_of().officer_id(), "PC 4471");
  EXPECT_EQ((*consulted)[0].record().on_behalf_of().reason(), "weekly order review");
  EXPECT_EQ((*consulted)[0].record().recipient_agency(), "police");
}

TEST_F(OrdersTest, ABadRulesFileOnReloadKeepsTheRulesInForce) {
  std::ofstream(rules_path_, std::ios::trunc)
      << "name: broken\nversion: \"x\"\nrules:\n  - id: r\n    order_type: ORDER_TYPE_NOPE\n";
  ASB_ASSERT_OK(hub_->Signal("intake", SIGHUP));
  ASB_ASSERT_OK(WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        return hub_->LogTail("intake").find("statutory rules reload refused") != std::string::npos;
      },
      absl::Now() + absl::Seconds(10), "intake to refuse the rules file"));
  EXPECT_THAT(hub_->LogTail("intake"), HasSubstr("rules.yaml:5: rules[0].order_type"));
  // The rules in force still refuse a 72-hour dispersal direction.
  const absl::Time now = HubNow();
  OpenCase("CBC-RL-1", now - absl::Hours(2));
  const auto r = Submit({Dispersal("dd-rl", "CBC-RL-1", "DD-RL", now, 72)});
  ASSERT_THAT(r, SizeIs(1));
  EXPECT_EQ(r[0].outcome(), asb::v1::SubmitResult::OUTCOME_REFUSED);
  EXPECT_THAT(r[0].status().message(), HasSubstr("s.35(4)"));
}

}  // namespace
}  // namespace asb::testing
