// Victims first, on the four real daemons (a test ISP with the victim agencies,
// testdata/isp-victims.yaml; the shipped ASB case review procedure): three incidents about the
// same victim reported by the police, community safety and housing within six months give the
// lead agency the advisory at the second and the case review alert (lead agency and partnership
// coordinator) at the third, once; an application whose decision is overdue is noticed by the
// hub's clock with no feed event; the same victim linked to a second case gives both lead
// agencies a link suggestion; `casereview list` and `victims repeat` as API requests, refused
// without the officer, audited with them; `case erase` leaves no key of the erased case or its
// people in asb-sharing's victim index or asb-intake's ledgers. And on the shipped configuration
// (the Chesterfield ISP, its risk matrix and case review procedure), the victims sample
// (config/samples/victims-demo.jsonl) reaches each agency as the ISP's grants say: the case
// review's notices, the reassessment due and overdue on the hub's clock, the assessment missing,
// the safeguarding alert, the link suggestions, and the repeat-victim flag in the views that show
// the victim, and the coordinator's `casereview list` at the level the ISP grants it.

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
#include "tests/support/store_keys.h"
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

// The four daemons on the shipped configs, with the test ISP (testdata/isp-victims.yaml) or the
// shipped one.
class VictimsHub : public ::testing::Test {
 protected:
  void Start(bool test_isp) {
    options_ = BuiltHubOptions();
    set_up_at_ = absl::Now();
    const std::string isp =
        std::string(ASB_SOURCE_DIR) + "/tests/integration/testdata/isp-victims.yaml";
    for (const std::string name : {"intake", "sharing", "notify", "audit"}) {
      std::string config = ReadAll(std::string(ASB_SOURCE_DIR) + "/config/" + name + ".yaml");
      const std::string shipped = "isp_file: \"config/isp/chesterfield.yaml\"";
      ASSERT_NE(config.find(shipped), std::string::npos) << name;
      if (test_isp) {
        config = absl::StrReplaceAll(
            config, {{shipped, "isp_file: \"" + isp + "\""},
                     // The statutory rules name the shipped ISP's agencies; not needed here.
                     {"statutory_rules_file: \"config/statutory/rules.yaml\"",
                      "statutory_rules_file: \"\""}});
      }
      options_.config_files[name] = work_.Sub(name + ".yaml");
      std::ofstream(options_.config_files[name]) << config;
    }
    hub_ = std::make_unique<Hub>(options_);
    ASB_ASSERT_OK(hub_->StartAll());
  }

  void TearDown() override {
    if (hub_ != nullptr) {
      EXPECT_TRUE(hub_->StopAll().ok());
    }
  }

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

  // How many alerts `partner` has under `rule` now (once the hub is drained).
  std::size_t CountAlerts(const std::string& partner, const std::string& rule) {
    EXPECT_TRUE(hub_->WaitDrained().ok());
    auto r = hub_->PullAlerts(partner, 1000, 0, 1);
    EXPECT_TRUE(r.ok()) << r.status();
    std::size_t n = 0;
    if (r.ok()) {
      for (const auto& a : r->alerts()) {
        n += a.notification_rule() == rule ? 1 : 0;
      }
    }
    return n;
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

class VictimsHubTest : public VictimsHub {
 protected:
  void SetUp() override { Start(/*test_isp=*/true); }
};

class VictimsSamplesTest : public VictimsHub {
 protected:
  void SetUp() override { Start(/*test_isp=*/false); }
};

constexpr char kVictim[] = R"("personLinked":{"person":{"personId":"%s","role":"PERSON_ROLE_VICTIM",
    "givenName":"Margaret","familyName":"Oakes","dateOfBirth":"1951-04-09"}})";

std::string Victim(const std::string& person_id) {
  return absl::StrReplaceAll(kVictim, {{"%s", person_id}});
}

// A personal-ASB case opened at `at` with its lead agency and officer, and the test victim
// (Margaret Oakes) linked to it under `person_id`.
std::vector<asb::v1::CaseEvent> CaseWithVictim(const std::string& case_id, absl::Time at,
                                               const std::string& title, const std::string& lead,
                                               const std::string& officer,
                                               const std::string& person_id) {
  return {Event(case_id + "-open", case_id, at,
                absl::StrCat(R"("caseOpened":{"nsirCategory":"NSIR_CATEGORY_PERSONAL","title":")",
                             title, R"(","leadAgency":")", lead, R"(","leadOfficer":")", officer,
                             R"("})")),
          Event(case_id + "-victim", case_id, at, Victim(person_id))};
}

TEST_F(VictimsHubTest, ThreeComplaintsAdviseThenAlertAndALinkedVictimIsSuggestedToBothLeads) {
  const absl::Time opened = HubNow() - absl::Hours(24 * 150);
  SubmitOk("police-feed", CaseWithVictim("VIC-1", opened, "Harassment, Loundsley Green", "police",
                                         "PC 4021", "pol-501"));
  // The police's complaint, then community safety's: the advisory to the lead agency.
  SubmitOk("police-feed", {Incident("P-1", "VIC-1", "police", 120)});
  EXPECT_EQ(CountAlerts("police-partner", "casereview:advisory"), 0u);  // one complaint: nothing
  SubmitOk("council-feed", {Incident("CS-1", "VIC-1", "community-safety", 60)});
  auto advisory = WaitForAlerts("police-partner", "casereview:advisory", 1);
  ASSERT_TRUE(advisory.ok()) << advisory.status() << hub_->LogTail("sharing");
  const asb::v1::Disclosure& a = (*advisory)[0].disclosure();
  EXPECT_EQ(a.case_id(), "VIC-1");
  EXPECT_EQ(a.case_review_notice_kind(), asb::v1::CASE_REVIEW_NOTICE_KIND_ADVISORY);
  EXPECT_THAT(a.statutory().section(), ::testing::HasSubstr("s.104"));
  EXPECT_EQ(a.view().lead_officer(), "PC 4021");
  EXPECT_EQ(CountAlerts("police-partner", "casereview:threshold_met"), 0u);  // not at the second
  EXPECT_EQ(CountAlerts("partnership-partner", "casereview:threshold_met"), 0u);
  EXPECT_EQ(CountAlerts("partnership-partner", "casereview:advisory"), 0u);  // the lead's only
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
           CaseWithVictim("VIC-2", HubNow() - absl::Hours(24 * 3), "Noise, Loundsley Green",
                          "community-safety", "ASB Officer 2", "cbc-88"));
  auto police_link = WaitForAlerts("police-partner", "victims:link_suggestion", 1);
  ASSERT_TRUE(police_link.ok()) << police_link.status();
  const asb::v1::Disclosure& pl = (*police_link)[0].disclosure();
  ASSERT_THAT(pl.link_suggestions(), SizeIs(1));
  EXPECT_EQ(pl.case_id(), "VIC-2");
  EXPECT_EQ(pl.link_suggestions(0).other_case_id(), "VIC-1");
  EXPECT_EQ(pl.link_suggestions(0).other_lead_agency(), "police");
  EXPECT_EQ(pl.link_suggestions(0).matched_by(), asb::v1::MATCH_BASIS_NAME_AND_DATE_OF_BIRTH);
  EXPECT_EQ(pl.link_suggestions(0).lead_agency(), "community-safety");
  EXPECT_FALSE(pl.link_suggestions(0).details_withheld());
  auto cs_link = WaitForAlerts("community-safety-partner", "victims:link_suggestion", 1);
  ASSERT_TRUE(cs_link.ok()) << cs_link.status();
  EXPECT_EQ((*cs_link)[0].disclosure().link_suggestions(0).other_case_id(), "VIC-1");
  EXPECT_EQ((*cs_link)[0].disclosure().link_suggestions(0).other_lead_agency(), "police");
  EXPECT_EQ((*cs_link)[0].disclosure().view().lead_officer(), "ASB Officer 2");
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

// `asbctl case erase` (EraseCaseRequest to each daemon) removes every key that names the erased
// case or its people in plaintext: asb-sharing's victim index (case id, person id, match keys)
// and asb-intake's ledgers; the other case's keys stay, and the erased case matches nothing.
TEST_F(VictimsHubTest, CaseEraseLeavesNoKeyOfTheCaseOrItsPeopleInTheIndexes) {
  const absl::Time at = HubNow() - absl::Hours(24 * 3);
  SubmitOk("police-feed",
           CaseWithVictim("ERA-1", at, "Harassment", "police", "PC 4021", "pol-erase-77"));
  SubmitOk("council-feed", CaseWithVictim("ERA-2", at, "Noise", "community-safety", "ASB Officer 2",
                                          "cbc-keep-88"));
  auto link = WaitForAlerts("police-partner", "victims:link_suggestion", 1);
  ASSERT_TRUE(link.ok()) << link.status();
  ASB_ASSERT_OK(hub_->WaitDrained());

  asb::v1::Request erase;
  erase.mutable_erase_case()->set_case_id("ERA-1");
  erase.mutable_erase_case()->set_reference("ERASURE-2026-0042");
  for (const char* daemon : {"intake", "sharing", "notify"}) {
    auto response = hub_->Call(daemon, "hub-admin", erase);
    ASSERT_TRUE(response.ok()) << daemon << ": " << response.status();
  }
  // The same victim linked again on a third case matches ERA-2 only.
  SubmitOk("council-feed", CaseWithVictim("ERA-3", HubNow(), "Noise again", "community-safety",
                                          "ASB Officer 2", "cbc-new-89"));
  auto links = WaitForAlerts("community-safety-partner", "victims:link_suggestion", 2);
  ASSERT_TRUE(links.ok()) << links.status();
  ASB_ASSERT_OK(hub_->WaitDrained());
  links = WaitForAlerts("community-safety-partner", "victims:link_suggestion", 2);
  ASSERT_TRUE(links.ok());
  bool third = false;
  for (const asb::v1::Alert& a : *links) {
    if (a.disclosure().case_id() != "ERA-3") {
      continue;
    }
    third = true;
    ASSERT_THAT(a.disclosure().link_suggestions(), SizeIs(1));
    EXPECT_EQ(a.disclosure().link_suggestions(0).other_case_id(), "ERA-2");
  }
  EXPECT_TRUE(third);
  ASB_ASSERT_OK(hub_->StopAll());

  // The stores as left on disk: nothing of ERA-1 in the keys, ERA-2's still there (so the scan
  // sees what is there).
  const std::vector<std::string> erased = {"ERA-1", "pol-erase-77"};
  const std::vector<std::string> kept = {"ERA-2", "cbc-keep-88"};
  const std::vector<std::string> index = KeysOf(hub_->data_dir() + "/sharing/db", "victim_index");
  EXPECT_THAT(Containing(index, erased), ::testing::IsEmpty());
  EXPECT_THAT(Containing(index, kept), ::testing::Not(::testing::IsEmpty()));
  const std::vector<std::string> ledger = KeysOf(hub_->data_dir() + "/intake/db", "ledger");
  EXPECT_THAT(Containing(ledger, erased), ::testing::IsEmpty());
  EXPECT_THAT(Containing(ledger, kept), ::testing::Not(::testing::IsEmpty()));
  hub_.reset();
}

// The victims sample on the shipped ISP, risk matrix and case review procedure, judged as of
// SamplesAsOf() (2026-12-01): every notice reaches the agency the ISP lets see it.
TEST_F(VictimsSamplesTest, TheVictimsSampleReachesEachAgencyAsTheShippedIspGrants) {
  auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/victims-demo.jsonl");
  ASSERT_TRUE(events.ok()) << events.status();
  SubmitOk("council-feed", *events);
  ASB_ASSERT_OK(hub_->WaitDrained());

  // Community safety leads CBC-2026-0301: the advisory at the second complaint, the threshold at
  // the third (the same incident reported twice counts once: complaints stay 3).
  auto advisory = WaitForAlerts("community-safety-partner", "casereview:advisory", 1);
  ASSERT_TRUE(advisory.ok()) << advisory.status() << hub_->LogTail("sharing");
  EXPECT_EQ((*advisory)[0].disclosure().case_id(), "CBC-2026-0301");
  auto met = WaitForAlerts("community-safety-partner", "casereview:threshold_met", 1);
  ASSERT_TRUE(met.ok()) << met.status();
  EXPECT_EQ((*met)[0].disclosure().case_id(), "CBC-2026-0301");
  EXPECT_EQ((*met)[0].disclosure().view().case_review().complaints(), 3u);
  EXPECT_THAT((*met)[0].disclosure().statutory().section(), ::testing::HasSubstr("s.104(4)"));
  // The coordinator (the procedure's point of contact): the case review, no people.
  auto coordinator = WaitForAlerts("partnership-partner", "casereview:threshold_met", 1);
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  const asb::v1::Disclosure& c = (*coordinator)[0].disclosure();
  EXPECT_EQ(c.case_id(), "CBC-2026-0301");
  EXPECT_EQ(c.view().case_review().complaints(), 3u);
  EXPECT_THAT(c.view().people(), SizeIs(0));
  // ... and `casereview list --as partnership` lists it at that level (the ISP grants the
  // coordinator the case review only with a notice), audited as a consultation.
  ASB_ASSERT_OK(hub_->WaitDrained());
  asb::v1::Request list;
  list.mutable_list_case_reviews()->mutable_on_behalf_of()->set_officer_id("CSP-Coord-1");
  list.mutable_list_case_reviews()->mutable_on_behalf_of()->set_reason("case review oversight");
  auto coordinator_list = hub_->Call("sharing", "partnership-partner", list);
  ASSERT_TRUE(coordinator_list.ok()) << coordinator_list.status();
  // Both cases it was told of (housing's, linked, met the threshold too); none other.
  std::vector<std::string> listed;
  for (const asb::v1::CaseReviewSummary& r : coordinator_list->case_reviews().reviews()) {
    listed.push_back(r.case_id());
  }
  ASSERT_THAT(listed, ElementsAre("CBC-2026-0301", "CBC-2026-0302"));
  auto told = WaitForAlerts("partnership-partner", "casereview:threshold_met", 2);
  ASSERT_TRUE(told.ok()) << told.status();
  const asb::v1::CaseReviewSummary& seen = coordinator_list->case_reviews().reviews(0);
  EXPECT_EQ(seen.case_id(), "CBC-2026-0301");
  EXPECT_EQ(seen.lead_agency(), "community-safety");
  EXPECT_EQ(seen.case_review().complaints(), 3u);
  ASSERT_THAT(seen.case_review().applications(), SizeIs(1));
  EXPECT_TRUE(seen.case_review().applications(0).applicant_person_id().empty());
  EXPECT_TRUE(seen.case_review().applications(0).decision_reason().empty());
  ASB_ASSERT_OK(hub_->WaitDrained());
  asb::v1::AuditQueryRequest consulted;
  consulted.set_case_id("CBC-2026-0301");
  consulted.add_kinds(asb::v1::AUDIT_KIND_CONSULTATION);
  auto records = hub_->AuditQueryAll("dpo-auditor", consulted);
  ASSERT_TRUE(records.ok()) << records.status();
  bool recorded = false;
  for (const auto& r : *records) {
    recorded = recorded || (r.record().actor_agency() == "partnership" &&
                            r.record().on_behalf_of().officer_id() == "CSP-Coord-1" &&
                            r.record().detail() == "ListCaseReviews");
  }
  EXPECT_TRUE(recorded);

  // Risk: a reassessment due after each new incident while MEDIUM (not while one is pending),
  // and after the incident that followed the HIGH assessment; that last one is overdue.
  auto due = WaitForAlerts("community-safety-partner", "victims:reassessment_due", 3);
  ASSERT_TRUE(due.ok()) << due.status() << hub_->LogTail("intake");
  ASB_ASSERT_OK(hub_->WaitDrained());
  due = WaitForAlerts("community-safety-partner", "victims:reassessment_due", 3);
  ASSERT_TRUE(due.ok());
  EXPECT_THAT(*due, SizeIs(3));
  for (const asb::v1::Alert& a : *due) {
    EXPECT_EQ(a.disclosure().victim_notice_kind(), asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_DUE);
    EXPECT_EQ(a.disclosure().statutory().rule_id(), "risk-reassessment");
  }
  auto overdue = WaitForAlerts("community-safety-partner", "victims:reassessment_overdue", 1);
  ASSERT_TRUE(overdue.ok()) << overdue.status() << hub_->LogTail("intake");
  EXPECT_THAT(*overdue, SizeIs(1));
  const asb::v1::Disclosure& o = (*overdue)[0].disclosure();
  EXPECT_EQ(o.statutory().deadline().seconds(),
            absl::ToUnixSeconds(
                absl::FromCivil(absl::CivilSecond(2026, 11, 24, 20, 0, 0), absl::UTCTimeZone())));
  const asb::v1::VictimNotice& last = *o.view().victim_notices().rbegin();
  EXPECT_EQ(last.kind(), asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_OVERDUE);
  EXPECT_EQ(last.incident_id(), "DP-26-178002");
  EXPECT_EQ(last.band(), asb::v1::RISK_LEVEL_HIGH);
  // The HIGH band: a safeguarding alert to adult social care (a vulnerable adult victim), queued
  // under the hub's reason before the ISP's own rule for risk assessments ("risk-assessed").
  auto safeguarding = WaitForAlerts("adult-social-care-partner", "victims:safeguarding", 1);
  ASSERT_TRUE(safeguarding.ok()) << safeguarding.status();
  EXPECT_EQ((*safeguarding)[0].disclosure().safeguarding_person_id(), "P-CBC-61001");
  EXPECT_THAT((*safeguarding)[0].disclosure().notification_rules(),
              ElementsAre("victims:safeguarding", "risk-assessed"));
  EXPECT_EQ((*safeguarding)[0].disclosure().view().people(0).risk_band(), asb::v1::RISK_LEVEL_HIGH);

  // The same victim on housing's case: a link suggestion to both lead agencies, and housing
  // reminded that she is not assessed on its case (assess_within_days 5, on the hub's clock).
  auto cs_link = WaitForAlerts("community-safety-partner", "victims:link_suggestion", 1);
  ASSERT_TRUE(cs_link.ok()) << cs_link.status();
  ASSERT_THAT((*cs_link)[0].disclosure().link_suggestions(), SizeIs(1));
  EXPECT_EQ((*cs_link)[0].disclosure().link_suggestions(0).other_case_id(), "CBC-2026-0301");
  EXPECT_FALSE((*cs_link)[0].disclosure().link_suggestions(0).details_withheld());
  auto housing_link = WaitForAlerts("housing-partner", "victims:link_suggestion", 1);
  ASSERT_TRUE(housing_link.ok()) << housing_link.status();
  EXPECT_EQ((*housing_link)[0].disclosure().link_suggestions(0).lead_agency(), "housing");
  auto missing = WaitForAlerts("housing-partner", "victims:assessment_missing", 1);
  ASSERT_TRUE(missing.ok()) << missing.status() << hub_->LogTail("intake");
  EXPECT_EQ((*missing)[0].disclosure().case_id(), "CBC-2026-0302");
  EXPECT_EQ((*missing)[0].disclosure().victim_notice_kind(),
            asb::v1::VICTIM_NOTICE_KIND_ASSESSMENT_MISSING);
  // No reminder on community safety's case: she was assessed there.
  auto none = hub_->PullAlerts("community-safety-partner", 1000, 0, 1);
  ASSERT_TRUE(none.ok());
  for (const asb::v1::Alert& a : none->alerts()) {
    EXPECT_NE(a.notification_rule(), "victims:assessment_missing") << a.disclosure().case_id();
  }

  // The repeat-victim flag in the views that show her: the lead's, housing's, the police's.
  for (const std::string partner :
       {"community-safety-partner", "housing-partner", "police-partner"}) {
    auto view = hub_->GetCase(partner, "CBC-2026-0301");
    ASSERT_TRUE(view.ok()) << partner << ": " << view.status();
    bool flagged = false;
    for (const asb::v1::Person& p : view->view().people()) {
      flagged = flagged || (p.person_id() == "P-CBC-61001" && p.repeat_victim());
    }
    EXPECT_TRUE(flagged) << partner;
  }
  // The lead's view holds the whole case review, its reasons and the risk history.
  auto lead = hub_->GetCase("community-safety-partner", "CBC-2026-0301");
  ASSERT_TRUE(lead.ok());
  EXPECT_EQ(lead->view().case_review().status(), asb::v1::CASE_REVIEW_STATUS_APPEAL_DECIDED);
  ASSERT_THAT(lead->view().case_review().applications(), SizeIs(1));
  EXPECT_FALSE(lead->view().case_review().applications(0).decision_reason().empty());
  ASSERT_THAT(lead->view().risk_assessments(), SizeIs(3));
  EXPECT_EQ(lead->view().risk_assessments(0).band(), asb::v1::RISK_LEVEL_MEDIUM);
  EXPECT_EQ(lead->view().risk_assessments(0).score(), 12);
  EXPECT_EQ(lead->view().risk_assessments(2).band(), asb::v1::RISK_LEVEL_HIGH);
}

}  // namespace
}  // namespace asb::testing
