// The mixed case of issue 13 on the real daemons, with the shipped ISP, configs and demo keys:
// config/samples/mixed-case.jsonl submitted by the council's feed. A personal-ASB case with
// fire-setting: a 15-year-old perpetrator recorded without a date of birth but flagged a child,
// an adult co-perpetrator, a vulnerable elderly victim, a witness and a confidential reporter, an
// ABC on the child and a civil injunction on the adult; then a case where only the perpetrator is
// vulnerable. What each agency's disclosures, alerts and the access log hold is checked against
// what the protocol promises (README, "Information Sharing Protocol").

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "asb/v1/api.pb.h"
#include "common/config/config.h"
#include "common/crypto/crypto.h"
#include "common/status/macros.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"

namespace asb::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kMixed[] = "CBC-2026-0415";
constexpr char kVulnerablePerpetrator[] = "CBC-2026-0416";
// The people of the mixed case.
constexpr char kChild[] = "P-CBC-90001";
constexpr char kAdultPerpetrator[] = "P-CBC-90002";
constexpr char kVictim[] = "P-CBC-90003";
constexpr char kWitness[] = "P-CBC-90004";
constexpr char kReporter[] = "P-CBC-90005";

const std::vector<std::string> kAgencies = {"community-safety",
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

// The demo pseudonymisation key (config/isp/keys/pseudonymisation.key: hex, '#' comments), to
// compute a data subject's key as the hub does.
absl::Status DemoPseudonymisationKey(std::string* out) {
  std::string text;
  ASB_RETURN_IF_ERROR(config::ReadFile(
      std::string(ASB_SOURCE_DIR) + "/config/isp/keys/pseudonymisation.key", &text));
  std::string hex;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty() && line[0] != '#') {
      hex.append(line.data(), line.size());
    }
  }
  ASB_ASSIGN_OR_RETURN(*out, crypto::HexDecode(hex));
  return absl::OkStatus();
}

std::string SubjectKey(const std::string& key, const std::string& person_id) {
  return "sk_" + crypto::HexEncode(crypto::HmacSha256(key, person_id)).substr(0, 32);
}

std::set<std::string> PersonIds(const asb::v1::Case& view) {
  std::set<std::string> out;
  for (const auto& p : view.people()) {
    out.insert(p.person_id());
  }
  return out;
}

std::set<std::string> OrderIds(const asb::v1::Case& view) {
  std::set<std::string> out;
  for (const auto& o : view.orders()) {
    out.insert(o.order_id());
  }
  return out;
}

class MixedCaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<Hub>(BuiltHubOptions());
    ASB_ASSERT_OK(hub_->StartAll());
    auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/mixed-case.jsonl");
    ASB_ASSERT_OK(events.status());
    ASSERT_EQ(events->size(), 14u);
    auto submitted = hub_->Submit("council-feed", *events);
    ASB_ASSERT_OK(submitted.status());
    for (const auto& r : submitted->results()) {
      ASSERT_EQ(r.outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED) << r.status().message();
    }
    ASB_ASSERT_OK(hub_->WaitDrained(absl::Seconds(30)));
    auto disclosures = hub_->FetchAll("sharing", "disclosures");
    ASB_ASSERT_OK(disclosures.status());
    for (const auto& env : *disclosures) {
      const asb::v1::Disclosure& d = env.disclosure();
      all_.push_back(d);
      asb::v1::Disclosure& latest = latest_[{d.agency(), d.case_id()}];
      if (d.event_seq() >= latest.event_seq()) {
        latest = d;
      }
    }
  }

  void TearDown() override { ASB_EXPECT_OK(hub_->StopAll()); }

  // The agency's view of the case after the last event it was shown; null if it saw none.
  const asb::v1::Disclosure* Latest(const std::string& agency, const std::string& case_id) {
    auto it = latest_.find({agency, case_id});
    return it == latest_.end() ? nullptr : &it->second;
  }

  // Every alert of `agency`, from the first, without acknowledging.
  std::vector<asb::v1::Alert> Alerts(const std::string& agency) {
    auto pulled = hub_->PullAlerts(agency + "-partner", 1000, 0, 1);
    EXPECT_TRUE(pulled.ok()) << agency << ": " << pulled.status();
    return pulled.ok()
               ? std::vector<asb::v1::Alert>(pulled->alerts().begin(), pulled->alerts().end())
               : std::vector<asb::v1::Alert>{};
  }

  std::unique_ptr<Hub> hub_;
  std::vector<asb::v1::Disclosure> all_;
  std::map<std::pair<std::string, std::string>, asb::v1::Disclosure> latest_;
};

TEST_F(MixedCaseTest, EachAgencySeesOnlyThePeopleItsRulesCover) {
  // The lead agency: everyone, the confidential reporter and the narrative included.
  const asb::v1::Disclosure* lead = Latest("community-safety", kMixed);
  ASSERT_NE(lead, nullptr);
  EXPECT_THAT(PersonIds(lead->view()),
              UnorderedElementsAre(kChild, kAdultPerpetrator, kVictim, kWitness, kReporter));
  EXPECT_FALSE(lead->view().summary().empty());
  for (const auto& p : lead->view().people()) {
    EXPECT_EQ(p.source_agency(), "community-safety") << p.person_id();  // from the feed's key
    EXPECT_EQ(p.confidential(), p.person_id() == kReporter);
  }

  // The YOT: the child (flagged, no date of birth) and no adult, nor the adult's injunction.
  const asb::v1::Disclosure* yot = Latest("yot", kMixed);
  ASSERT_NE(yot, nullptr);
  EXPECT_THAT(PersonIds(yot->view()), ElementsAre(kChild));
  EXPECT_TRUE(yot->view().people(0).child());
  EXPECT_THAT(OrderIds(yot->view()), ElementsAre("ABC-2026-0141"));
  EXPECT_EQ(yot->view().summary(), "");
  EXPECT_THAT(yot->redacted_paths(), Contains("summary"));

  // Children's services: the child, no witness and no adult.
  const asb::v1::Disclosure* children = Latest("childrens-services", kMixed);
  ASSERT_NE(children, nullptr);
  EXPECT_THAT(PersonIds(children->view()), ElementsAre(kChild));
  EXPECT_THAT(OrderIds(children->view()), ElementsAre("ABC-2026-0141"));

  // Adult social care: the vulnerable victim and no one else.
  const asb::v1::Disclosure* adults = Latest("adult-social-care", kMixed);
  ASSERT_NE(adults, nullptr);
  EXPECT_THAT(PersonIds(adults->view()), ElementsAre(kVictim));
  EXPECT_FALSE(adults->view().people(0).vulnerability().empty());
  EXPECT_THAT(adults->view().orders(), IsEmpty());

  // The NHS: the vulnerable victim of a high-risk case; and no one at all where only the
  // perpetrator is vulnerable.
  const asb::v1::Disclosure* nhs = Latest("nhs", kMixed);
  ASSERT_NE(nhs, nullptr);
  EXPECT_THAT(PersonIds(nhs->view()), ElementsAre(kVictim));
  EXPECT_EQ(Latest("nhs", kVulnerablePerpetrator), nullptr);
  EXPECT_EQ(Latest("adult-social-care", kVulnerablePerpetrator), nullptr);

  // Fire (a fire-risk case): the occupants pseudonymised, no witness or reporter, no narrative.
  const asb::v1::Disclosure* fire = Latest("fire", kMixed);
  ASSERT_NE(fire, nullptr);
  ASSERT_EQ(fire->view().people_size(), 3);
  std::multiset<asb::v1::PersonRole> roles;
  for (const auto& p : fire->view().people()) {
    roles.insert(p.role());
    EXPECT_EQ(p.person_id().rfind("ps_", 0), 0u) << p.person_id();
    EXPECT_EQ(p.given_name(), "");
  }
  EXPECT_EQ(roles, (std::multiset<asb::v1::PersonRole>{asb::v1::PERSON_ROLE_PERPETRATOR,
                                                       asb::v1::PERSON_ROLE_PERPETRATOR,
                                                       asb::v1::PERSON_ROLE_VICTIM}));
  EXPECT_EQ(fire->view().summary(), "");
  // An alert carries, of the incidents, only its event's own (issue 18), and fire's alerts are
  // of no incident; the case as a fire officer looks it up has the incident, without the
  // narrative.
  for (const asb::v1::Disclosure& d : all_) {
    if (d.agency() == "fire" && d.case_id() == kMixed &&
        d.event_type() != asb::v1::EVENT_TYPE_INCIDENT_REPORTED) {
      EXPECT_EQ(d.view().incidents_size(), 0) << asb::v1::EventType_Name(d.event_type());
    }
  }
  asb::v1::OnBehalfOf fire_officer;
  fire_officer.set_officer_id("DFRS-0311");
  fire_officer.set_purpose("fire-safety");
  fire_officer.set_reason("home fire safety visit to the occupants");
  auto looked_up = hub_->GetCase("fire-partner", kMixed, fire_officer);
  ASB_ASSERT_OK(looked_up.status());
  ASSERT_GT(looked_up->view().incidents_size(), 0);
  for (const asb::v1::Incident& i : looked_up->view().incidents()) {
    EXPECT_EQ(i.description(), "");
  }

  // The police: the parties and the witness's name and number, never the reporter.
  const asb::v1::Disclosure* police = Latest("police", kMixed);
  ASSERT_NE(police, nullptr);
  EXPECT_THAT(PersonIds(police->view()),
              UnorderedElementsAre(kChild, kAdultPerpetrator, kVictim, kWitness));

  // Nothing at all for licensing (no licensed premises), housing (no council tenant), probation
  // (no CBO), environmental health (personal ASB) or the partnership coordinator: exactly these
  // agencies of the partnership were shown the case.
  std::set<std::string> shown;
  for (const std::string& agency : kAgencies) {
    if (Latest(agency, kMixed) != nullptr) {
      shown.insert(agency);
    }
  }
  EXPECT_THAT(shown, UnorderedElementsAre("community-safety", "childrens-services",
                                          "adult-social-care", "police", "fire", "yot", "nhs"));
  for (const asb::v1::Disclosure& d : all_) {
    EXPECT_THAT(kAgencies, Contains(d.agency())) << "disclosure to an agency outside the ISP";
  }

  // Nobody but the lead agency ever receives the confidential reporter, in any disclosure of
  // either case: not their id, not their name, not their number.
  int checked = 0;
  for (const asb::v1::Disclosure& d : all_) {
    if (d.agency() == "community-safety") {
      continue;
    }
    const std::string bytes = d.SerializeAsString();
    for (const char* secret : {kReporter, "Dunstan", "07700 900417"}) {
      EXPECT_EQ(bytes.find(secret), std::string::npos)
          << d.agency() << " event " << d.event_seq() << " holds " << secret;
    }
    ++checked;
  }
  EXPECT_GT(checked, 10);  // every disclosure that left the hub (only alerts do)
}

TEST_F(MixedCaseTest, AlertsFollowThePeopleAndTheAccessLogKeepsTheReporterWithTheLead) {
  // The YOT is alerted of the child's ABC, not of the adult's injunction; so are children's
  // services. Probation, with no CBO, is alerted of nothing.
  auto order_ids = [&](const std::string& agency) {
    std::vector<std::string> out;
    for (const auto& a : Alerts(agency)) {
      if (a.disclosure().case_id() == kMixed && !a.disclosure().order_id().empty()) {
        out.push_back(a.disclosure().order_id());
      }
    }
    return out;
  };
  EXPECT_THAT(order_ids("yot"), ElementsAre("ABC-2026-0141"));
  EXPECT_THAT(order_ids("childrens-services"), ElementsAre("ABC-2026-0141"));
  EXPECT_THAT(order_ids("police"), ElementsAre("ABC-2026-0141", "CI-2026-0052"));
  EXPECT_THAT(order_ids("community-safety"), ElementsAre("ABC-2026-0141", "CI-2026-0052"));
  EXPECT_THAT(Alerts("probation"), IsEmpty());
  EXPECT_THAT(Alerts("licensing"), IsEmpty());

  // The access log, asked by the confidential reporter's subject key: disclosures to the lead
  // agency only.
  std::string demo_key;
  ASB_ASSERT_OK(DemoPseudonymisationKey(&demo_key));
  asb::v1::AuditQueryRequest by_reporter;
  by_reporter.set_subject_key(SubjectKey(demo_key, kReporter));
  by_reporter.add_kinds(asb::v1::AUDIT_KIND_DISCLOSURE);
  auto entries = hub_->AuditQueryAll("dpo-auditor", by_reporter);
  ASB_ASSERT_OK(entries.status());
  ASSERT_THAT(*entries, Not(IsEmpty()));
  for (const auto& e : *entries) {
    EXPECT_EQ(e.record().recipient_agency(), "community-safety");
  }
  // ... while the child's subject key reaches the YOT's, children's services' and others'.
  asb::v1::AuditQueryRequest by_child;
  by_child.set_subject_key(SubjectKey(demo_key, kChild));
  by_child.add_kinds(asb::v1::AUDIT_KIND_DISCLOSURE);
  auto child_entries = hub_->AuditQueryAll("dpo-auditor", by_child);
  ASB_ASSERT_OK(child_entries.status());
  std::set<std::string> recipients;
  for (const auto& e : *child_entries) {
    recipients.insert(e.record().recipient_agency());
  }
  EXPECT_THAT(recipients, Contains("yot"));
  EXPECT_THAT(recipients, Contains("childrens-services"));
  EXPECT_THAT(recipients, Not(Contains("adult-social-care")));
}

}  // namespace
// A lookup of the mixed case names the officer and a reason, or is refused; the access log's
// consultation entry names them (DPA 2018 s.62(3); issue 13 item 4).
TEST_F(MixedCaseTest, ALookupNamesItsOfficerAndReasonOrIsRefused) {
  asb::v1::OnBehalfOf anonymous;
  anonymous.set_reason("checking the child's orders");
  EXPECT_THAT(
      hub_->GetCase("yot-partner", kMixed, anonymous),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.officer_id: required"));

  asb::v1::OnBehalfOf officer;
  officer.set_officer_id("YOT-0207");
  officer.set_officer_name("A. Caseworker (YOT)");
  officer.set_purpose("youth-justice");
  officer.set_reason("preparing the ABC review with the family");
  auto view = hub_->GetCase("yot-partner", kMixed, officer);
  ASB_ASSERT_OK(view.status());
  EXPECT_THAT(PersonIds(view->view()), ElementsAre(kChild));

  ASB_ASSERT_OK(hub_->WaitDrained(absl::Seconds(30)));
  asb::v1::AuditQueryRequest q;
  q.set_officer_id("YOT-0207");
  auto entries = hub_->AuditQueryAll("dpo-auditor", q);
  ASB_ASSERT_OK(entries.status());
  ASSERT_EQ(entries->size(), 1u);
  const asb::v1::AuditRecord& r = (*entries)[0].record();
  EXPECT_EQ(r.kind(), asb::v1::AUDIT_KIND_CONSULTATION);
  EXPECT_EQ(r.case_id(), kMixed);
  EXPECT_EQ(r.actor_agency(), "yot");
  EXPECT_EQ(r.on_behalf_of().officer_id(), "YOT-0207");
  EXPECT_EQ(r.on_behalf_of().officer_name(), "A. Caseworker (YOT)");
  EXPECT_EQ(r.on_behalf_of().purpose(), "youth-justice");
  EXPECT_EQ(r.on_behalf_of().reason(), "preparing the ABC review with the family");
}

}  // namespace asb::testing
