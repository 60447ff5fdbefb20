// Victims first, on the four real daemons (a test ISP with the victim agencies,
// testdata/isp-victims.yaml; the shipped ASB case review procedure): three incidents about the
// same victim reported by the police, community safety and housing within six months give the
// lead agency the advisory at the second and the case review alert (lead agency and partnership
// coordinator) at the third, once; an application whose decision is overdue is noticed by the
// hub's clock with no feed event; the same victim linked to a second case gives both lead
// agencies a link suggestion; `casereview list` and `victims repeat` as API requests, refused
// without the officer, audited with them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <memory>
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

using ::testing::ElementsAre;
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

class VictimsHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = BuiltHubOptions();
    set_up_at_ = absl::Now();
    const std::string testdata = std::string(ASB_SOURCE_DIR) + "/tests/integration/testdata";
    const std::string isp = testdata + "/isp-victims.yaml";
    const std::string risk =
        std::string(ASB_SOURCE_DIR) + "/tests/services/sharing/testdata/risk-victims.yaml";
    for (const std::string name : {"intake", "sharing", "notify", "audit"}) {
      std::string config = ReadAll(std::string(ASB_SOURCE_DIR) + "/config/" + name + ".yaml");
      const std::string shipped = "isp_file: \"config/isp/chesterfield.yaml\"";
      ASSERT_NE(config.find(shipped), std::string::npos) << name;
      config = absl::StrReplaceAll(
          config,
          {{shipped, "isp_file: \"" + isp + "\""},
           // The statutory rules name the shipped ISP's agencies; not needed here.
           {"statutory_rules_file: \"config/statutory/rules.yaml\"", "statutory_rules_file: \"\""},
           {"risk_matrix_file: \"config/risk/matrix.yaml\"",
            "risk_matrix_file: \"" + risk + "\""}});
      options_.config_files[name] = work_.Sub(name + ".yaml");
      std::ofstream(options_.config_files[name]) << config;
    }
    hub_ = std::make_unique<Hub>(options_);
    ASB_ASSERT_OK(hub_->StartAll());
  }

  void TearDown() override { EXPECT_TRUE(hub_->StopAll().ok()); }

  absl::Time HubNow() const { return SamplesAsOf() + (absl::Now() - set_up_at_); }

  void SubmitOk(const std::string& feed, const std::vector<asb::v1::CaseEvent>& events) {
    auto r = hub_->Submit(feed, events);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& result : r->results()) {
      EXPECT_EQ(result.outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED)
          << result.status().message();
    }
  }

  // An incident reported `days_ago` to `agency` (submitted by `feed`).
  asb::v1::CaseEvent Incident(const std::string& id, const std::string& case_id,
                              const std::string& agency, int days_ago) {
    const absl::Time at = HubNow() - absl::Hours(24 * days_ago);
    return Event(id, case_id, at,
                 absl::StrCat(R"("incidentReported":{"incident":{"incidentId":")", id,
                              R"(","category":"NSIR_CATEGORY_PERSONAL","reportedBy":")", agency,
                              R"(","occurredAt":")", Rfc3339(at - absl::Hours(2)), R"("}})"));
  }

  // The alerts `partner` has under `rule` (waits for `count` of them).
  absl::StatusOr<std::vector<asb::v1::Alert>> WaitForAlerts(const std::string& partner,
                                                            const std::string& rule,
                                                            std::size_t count) {
    std::vector<asb::v1::Alert> found;
    ASB_RETURN_IF_ERROR(WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          ASB_ASSIGN_OR_RETURN(asb::v1::PullAlertsResponse r,
                               hub_->PullAlerts(partner, 1000, 0, 1));
          found.clear();
          for (const auto& a : r.alerts()) {
            if (a.notification_rule() == rule) {
              found.push_back(a);
            }
          }
          return found.size() >= count;
        },
        absl::Now() + absl::Seconds(60), absl::StrCat(partner, " ", rule), absl::Milliseconds(50)));
    return found;
  }

  asb::v1::OnBehalfOf Officer() {
    asb::v1::OnBehalfOf who;
    who.set_officer_id("PC 4021");
    who.set_reason("ASB case review panel");
    return who;
  }

  HubOptions options_;
  absl::Time set_up_at_;
  TempDir work_;
  std::unique_ptr<Hub> hub_;
};

constexpr char kVictim[] = R"("personLinked":{"person":{"personId":"%s","role":"PERSON_ROLE_VICTIM",
    "givenName":"Margaret","familyName":"Oakes","dateOfBirth":"1951-04-09"}})";

std::string Victim(const std::string& person_id) {
  return absl::StrReplaceAll(kVictim, {{"%s", person_id}});
}

TEST_F(VictimsHubTest, ThreeComplaintsAdviseThenAlertAndALinkedVictimIsSuggestedToBothLeads) {
  const absl::Time opened = HubNow() - absl::Hours(24 * 150);
  SubmitOk("police-feed", {Event("v1-open", "VIC-1", opened,
                                 R"("caseOpened":{"nsirCategory":"NSIR_CATEGORY_PERSONAL",
                "title":"Harassment, Loundsley Green","leadAgency":"police","leadOfficer":"PC 4021"})"),
                           Event("v1-victim", "VIC-1", opened, Victim("pol-501"))});
  // The police's complaint, then community safety's: the advisory to the lead agency.
  SubmitOk("police-feed", {Incident("P-1", "VIC-1", "police", 120)});
  SubmitOk("council-feed", {Incident("CS-1", "VIC-1", "community-safety", 60)});
  auto advisory = WaitForAlerts("police-partner", "casereview:advisory", 1);
  ASSERT_TRUE(advisory.ok()) << advisory.status() << hub_->LogTail("sharing");
  const asb::v1::Disclosure& a = (*advisory)[0].disclosure();
  EXPECT_EQ(a.case_id(), "VIC-1");
  EXPECT_EQ(a.case_review_notice_kind(), asb::v1::CASE_REVIEW_NOTICE_KIND_ADVISORY);
  EXPECT_THAT(a.statutory().section(), ::testing::HasSubstr("s.104"));
  EXPECT_EQ(a.view().lead_officer(), "PC 4021");
  // Housing's: the threshold (s.104(4)), to the lead agency and the partnership coordinator.
  SubmitOk("council-feed", {Incident("H-1", "VIC-1", "housing", 10)});
  auto met = WaitForAlerts("police-partner", "casereview:threshold_met", 1);
  ASSERT_TRUE(met.ok()) << met.status();
  EXPECT_EQ((*met)[0].disclosure().view().case_review().complaints(), 3u);
  EXPECT_EQ((*met)[0].disclosure().view().case_review().status(),
            asb::v1::CASE_REVIEW_STATUS_THRESHOLD_MET);
  auto coordinator = WaitForAlerts("partnership-partner", "casereview:threshold_met", 1);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  // The same incident reported again to another agency, and a fourth complaint: no new alert.
  SubmitOk("police-feed", {Incident("P-2", "VIC-1", "police", 5)});
  ASB_ASSERT_OK(hub_->WaitDrained());
  auto once = WaitForAlerts("police-partner", "casereview:threshold_met", 1);
  ASSERT_TRUE(once.ok());
  EXPECT_THAT(*once, SizeIs(1));

  // An application received eleven days ago and never decided: the hub's clock notices at once
  // (decision_days 10), with no feed event.
  SubmitOk("council-feed", {Event("v1-app", "VIC-1", HubNow() - absl::Hours(24 * 11),
                                  R"("caseReviewApplied":{"applicationId":"CR-2026-7"})")});
  auto overdue = WaitForAlerts("police-partner", "casereview:decision_overdue", 1);
  ASSERT_TRUE(overdue.ok()) << overdue.status() << hub_->LogTail("intake");
  EXPECT_THAT((*overdue)[0].disclosure().statutory().section(), ::testing::HasSubstr("s.104(6)"));

  // The same victim on a second case, led by community safety, under its own person id.
  SubmitOk("council-feed",
           {Event("v2-open", "VIC-2", HubNow() - absl::Hours(24 * 3),
                  R"("caseOpened":{"nsirCategory":"NSIR_CATEGORY_PERSONAL",
                "title":"Noise, Loundsley Green","leadAgency":"community-safety","leadOfficer":"ASB Officer 2"})"),
            Event("v2-victim", "VIC-2", HubNow() - absl::Hours(24 * 3), Victim("cbc-88"))});
  auto police_link = WaitForAlerts("police-partner", "victims:link_suggestion", 1);
  ASSERT_TRUE(police_link.ok()) << police_link.status();
  const asb::v1::Disclosure& pl = (*police_link)[0].disclosure();
  ASSERT_THAT(pl.link_suggestions(), SizeIs(1));
  EXPECT_EQ(pl.case_id(), "VIC-2");
  EXPECT_EQ(pl.link_suggestions(0).other_case_id(), "VIC-1");
  EXPECT_EQ(pl.link_suggestions(0).other_lead_agency(), "police");
  EXPECT_EQ(pl.link_suggestions(0).matched_by(), asb::v1::MATCH_BASIS_NAME_AND_DATE_OF_BIRTH);
  auto cs_link = WaitForAlerts("council-partner", "victims:link_suggestion", 1);
  ASSERT_TRUE(cs_link.ok()) << cs_link.status();
  EXPECT_EQ((*cs_link)[0].disclosure().link_suggestions(0).other_case_id(), "VIC-1");
  EXPECT_TRUE((*cs_link)[0].disclosure().view().people(0).repeat_victim());

  // casereview list and victims repeat: refused without the officer, audited with them.
  ASB_ASSERT_OK(hub_->WaitDrained());
  asb::v1::Request list;
  list.mutable_list_case_reviews()->mutable_on_behalf_of()->set_reason("panel");
  EXPECT_THAT(hub_->Call("sharing", "police-partner", list),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.officer_id"));
  *list.mutable_list_case_reviews()->mutable_on_behalf_of() = Officer();
  auto reviews = hub_->Call("sharing", "police-partner", list);
  ASSERT_TRUE(reviews.ok()) << reviews.status();
  ASSERT_THAT(reviews->case_reviews().reviews(), SizeIs(1));
  EXPECT_EQ(reviews->case_reviews().reviews(0).case_id(), "VIC-1");
  EXPECT_EQ(reviews->case_reviews().reviews(0).case_review().status(),
            asb::v1::CASE_REVIEW_STATUS_APPLIED);
  asb::v1::Request repeat;
  *repeat.mutable_repeat_victims()->mutable_on_behalf_of() = Officer();
  auto repeats = hub_->Call("sharing", "police-partner", repeat);
  ASSERT_TRUE(repeats.ok()) << repeats.status();
  ASSERT_THAT(repeats->repeat_victims().victims(), SizeIs(1));
  EXPECT_THAT(repeats->repeat_victims().victims(0).case_ids(), ElementsAre("VIC-1", "VIC-2"));

  ASB_ASSERT_OK(hub_->WaitDrained());
  asb::v1::AuditQueryRequest q;
  q.set_case_id("VIC-2");
  q.add_kinds(asb::v1::AUDIT_KIND_CONSULTATION);
  auto consulted = hub_->AuditQueryAll("dpo-auditor", q);
  ASSERT_TRUE(consulted.ok()) << consulted.status();
  ASSERT_THAT(*consulted, SizeIs(1));  // victims repeat (VIC-2 has no case review)
  EXPECT_EQ((*consulted)[0].record().on_behalf_of().officer_id(), "PC 4021");
  EXPECT_EQ((*consulted)[0].record().detail(), "RepeatVictims");
}

}  // namespace
}  // namespace asb::testing
