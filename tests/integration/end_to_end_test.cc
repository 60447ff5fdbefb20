// End to end: the four real daemons (asb-intake, asb-sharing, asb-notify, asb-audit) with the
// shipped configs, ISP and demo keys, driven as a feed, partners and an auditor would drive them.
// Each test starts one hub in a fresh data directory.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/clock.h"
#include "asb/v1/api.pb.h"
#include "common/auditlog/entry.h"
#include "common/bus/keys.h"
#include "common/model/model.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"

namespace asb::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

constexpr char kCase[] = "CBC-2026-0142";
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

HubOptions Options() { return BuiltHubOptions(); }

std::vector<asb::v1::CaseEvent> Sample(const std::string& name) {
  auto events = LoadEventsFile(std::string(ASB_SOURCE_DIR) + "/config/samples/" + name);
  EXPECT_TRUE(events.ok()) << events.status();
  return events.ok() ? *events : std::vector<asb::v1::CaseEvent>{};
}

// Event types of the shipped notification rules that alert the police and community safety.
bool AlertsPoliceAndCommunitySafety(asb::v1::EventType t) {
  return t == asb::v1::EVENT_TYPE_CASE_OPENED || t == asb::v1::EVENT_TYPE_RISK_ASSESSED ||
         t == asb::v1::EVENT_TYPE_ORDER_ISSUED || t == asb::v1::EVENT_TYPE_ORDER_VARIED ||
         t == asb::v1::EVENT_TYPE_ORDER_BREACHED || t == asb::v1::EVENT_TYPE_ORDER_DISCHARGED ||
         t == asb::v1::EVENT_TYPE_ORDER_EXPIRED;
}

std::vector<std::string> RuleIds(
    const google::protobuf::RepeatedPtrField<asb::v1::Justification>& js) {
  std::vector<std::string> ids;
  for (const auto& j : js) {
    ids.push_back(j.rule_id());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

const asb::v1::Person* FindPerson(const asb::v1::Case& view, asb::v1::PersonRole role) {
  for (const auto& p : view.people()) {
    if (p.role() == role) {
      return &p;
    }
  }
  return nullptr;
}

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<Hub>(Options());
    absl::Status started = hub_->StartAll();
    ASSERT_TRUE(started.ok()) << started;
  }

  void TearDown() override {
    // Every daemon shuts down cleanly (exit 0) on SIGTERM.
    absl::Status stopped = hub_->StopAll();
    EXPECT_TRUE(stopped.ok()) << stopped;
  }

  void Drain() {
    absl::Status drained = hub_->WaitDrained(absl::Seconds(30));
    ASSERT_TRUE(drained.ok()) << drained;
  }

  // Every alert of `partner`, from agency_seq 1, without acknowledging.
  std::vector<asb::v1::Alert> AllAlerts(const std::string& partner) {
    auto pulled = hub_->PullAlerts(partner, 1000, 0, 1);
    EXPECT_TRUE(pulled.ok()) << pulled.status();
    if (!pulled.ok()) {
      return {};
    }
    return {pulled->alerts().begin(), pulled->alerts().end()};
  }

  // Alerts are numbered 1..n densely, and no event alerts an agency twice.
  static void ExpectDenseAndUnique(const std::vector<asb::v1::Alert>& alerts) {
    std::set<uint64_t> events;
    for (size_t i = 0; i < alerts.size(); ++i) {
      EXPECT_EQ(alerts[i].agency_seq(), i + 1);
      EXPECT_TRUE(events.insert(alerts[i].disclosure().event_seq()).second)
          << "event " << alerts[i].disclosure().event_seq() << " alerted twice";
    }
  }

  // The intake hub_seqs of the disclosures to `agency` that its notification rules make
  // alert-worthy, in stream order: what its outbox must hold.
  std::vector<uint64_t> ExpectedAlertEvents(const std::vector<asb::v1::Envelope>& disclosures,
                                            const std::string& agency) {
    std::vector<uint64_t> seqs;
    for (const auto& env : disclosures) {
      const asb::v1::Disclosure& d = env.disclosure();
      // The hub's statutory notices alert only the agencies they name (statutory:<kind>).
      const bool notice_for_it =
          d.event_type() == asb::v1::EVENT_TYPE_STATUTORY_NOTICE && !d.notification_rules().empty();
      // The hub's own reasons to tell an agency of any event (a case-review advisory, a
      // safeguarding alert, a link suggestion): rule ids with ':' or '/' ("victims:…",
      // "statutory:…", "hub/…"), which the shipped ISP's rule ids do not use.
      const bool hub_reason =
          std::any_of(d.notification_rules().begin(), d.notification_rules().end(),
                      [](const std::string& r) { return r.find_first_of(":/") != r.npos; });
      if (d.agency() == agency &&
          (AlertsPoliceAndCommunitySafety(d.event_type()) || notice_for_it || hub_reason)) {
        seqs.push_back(d.event_seq());
      }
    }
    return seqs;
  }

  static std::vector<uint64_t> EventSeqs(const std::vector<asb::v1::Alert>& alerts) {
    std::vector<uint64_t> seqs;
    for (const auto& a : alerts) {
      seqs.push_back(a.disclosure().event_seq());
    }
    return seqs;
  }

  std::unique_ptr<Hub> hub_;
};

// The issue's flow with config/samples/cbo-demo.jsonl: a case with a vulnerable victim and a
// perpetrator, an incident, a risk assessment, a Criminal Behaviour Order and its breach.
TEST_F(EndToEndTest, PartnersSeeOnlyWhatTheIspGrantsAndTheAuditorSeesWhy) {
  const std::vector<asb::v1::CaseEvent> demo = Sample("cbo-demo.jsonl");
  ASSERT_THAT(demo, SizeIs(7));

  // The feed submits: every event is stored with its own hub sequence number.
  auto submitted = hub_->Submit("council-feed", demo);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_THAT(submitted->results(), SizeIs(demo.size()));
  std::vector<uint64_t> hub_seqs;
  for (const auto& r : submitted->results()) {
    EXPECT_EQ(r.outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED) << r.status().message();
    EXPECT_EQ(r.source_event_id(), demo[r.index()].source_event_id());
    hub_seqs.push_back(r.hub_seq());
  }
  EXPECT_EQ(std::set<uint64_t>(hub_seqs.begin(), hub_seqs.end()).size(), demo.size());
  ASSERT_NO_FATAL_FAILURE(Drain());

  // The police and community safety (the lead agency) are alerted of the case opening, the risk
  // assessment, the order and its breach; not of the incident or the people linked.
  const std::vector<asb::v1::EventType> expected_types = {
      asb::v1::EVENT_TYPE_CASE_OPENED, asb::v1::EVENT_TYPE_RISK_ASSESSED,
      asb::v1::EVENT_TYPE_ORDER_ISSUED, asb::v1::EVENT_TYPE_ORDER_BREACHED};
  std::map<std::string, std::vector<asb::v1::Alert>> alerts;
  for (const std::string agency : {"police", "community-safety"}) {
    auto pulled = hub_->PullAlerts(agency + "-partner");
    ASSERT_TRUE(pulled.ok()) << agency << ": " << pulled.status();
    alerts[agency] = {pulled->alerts().begin(), pulled->alerts().end()};
    std::vector<asb::v1::EventType> types;
    for (const auto& a : alerts[agency]) {
      EXPECT_EQ(a.agency(), agency);
      EXPECT_EQ(a.disclosure().agency(), agency);
      EXPECT_EQ(a.disclosure().case_id(), kCase);
      EXPECT_EQ(a.delivery_count(), 1u);
      EXPECT_FALSE(a.notification_rule().empty());
      EXPECT_FALSE(a.disclosure().isp_version().empty());
      types.push_back(a.disclosure().event_type());
    }
    EXPECT_THAT(types, ElementsAreArray(expected_types)) << agency;
    EXPECT_EQ(pulled->head(), expected_types.size()) << agency;
    ExpectDenseAndUnique(alerts[agency]);
  }

  // The order alert: both see the order and both people, but only community safety (the lead
  // agency) sees phone numbers and the vulnerability note; the police see they are withheld.
  const asb::v1::Alert& police_order = alerts["police"][2];
  const asb::v1::Alert& lead_order = alerts["community-safety"][2];
  ASSERT_EQ(police_order.disclosure().event_type(), asb::v1::EVENT_TYPE_ORDER_ISSUED);
  ASSERT_EQ(lead_order.disclosure().event_type(), asb::v1::EVENT_TYPE_ORDER_ISSUED);
  EXPECT_EQ(police_order.disclosure().order_id(), "CBO-2026-0031");
  EXPECT_EQ(police_order.disclosure().order_type(), asb::v1::ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER);
  const asb::v1::Case& police_view = police_order.disclosure().view();
  const asb::v1::Case& lead_view = lead_order.disclosure().view();
  ASSERT_THAT(police_view.people(), SizeIs(2));
  ASSERT_THAT(lead_view.people(), SizeIs(2));
  ASSERT_THAT(police_view.orders(), SizeIs(1));
  EXPECT_EQ(police_view.orders(0).order_id(), "CBO-2026-0031");

  const asb::v1::Person* lead_victim = FindPerson(lead_view, asb::v1::PERSON_ROLE_VICTIM);
  const asb::v1::Person* police_victim = FindPerson(police_view, asb::v1::PERSON_ROLE_VICTIM);
  const asb::v1::Person* police_perp = FindPerson(police_view, asb::v1::PERSON_ROLE_PERPETRATOR);
  ASSERT_NE(lead_victim, nullptr);
  ASSERT_NE(police_victim, nullptr);
  ASSERT_NE(police_perp, nullptr);
  EXPECT_EQ(lead_victim->phone(), "0114 496 0142");
  EXPECT_FALSE(lead_victim->vulnerability().empty());
  EXPECT_EQ(police_victim->given_name(), "Margaret");  // granted: identity and address
  EXPECT_EQ(police_victim->address().postcode(), "S43 1QX");
  EXPECT_TRUE(police_victim->vulnerable());       // the flag is granted ...
  EXPECT_EQ(police_victim->vulnerability(), "");  // ... the health note is not
  EXPECT_EQ(police_victim->phone(), "");
  EXPECT_EQ(police_perp->phone(), "");
  EXPECT_THAT(police_order.disclosure().redacted_paths(), Contains("people.phone"));
  EXPECT_THAT(police_order.disclosure().redacted_paths(), Contains("people.vulnerability"));
  EXPECT_THAT(lead_order.disclosure().redacted_paths(), Not(Contains("people.phone")));
  EXPECT_THAT(RuleIds(police_order.disclosure().justifications()),
              ElementsAreArray({"police-orders", "police-personal-parties"}));
  EXPECT_THAT(RuleIds(lead_order.disclosure().justifications()),
              ElementsAreArray({"community-safety-lead"}));

  // A case lookup gives the police the same redacted view.
  auto police_case = hub_->GetCase("police-partner", kCase);
  ASSERT_TRUE(police_case.ok()) << police_case.status();
  ASSERT_THAT(police_case->view().people(), SizeIs(2));
  for (const auto& p : police_case->view().people()) {
    EXPECT_EQ(p.phone(), "");
    EXPECT_EQ(p.vulnerability(), "");
  }

  // Fire and rescue: not a fire-risk case, so nothing at all, and the case "does not exist".
  auto fire = hub_->PullAlerts("fire-partner", 100, 0);
  ASSERT_TRUE(fire.ok()) << fire.status();
  EXPECT_THAT(fire->alerts(), IsEmpty());
  EXPECT_EQ(fire->head(), 0u);
  EXPECT_THAT(hub_->GetCase("fire-partner", kCase),
              StatusIsWith(absl::StatusCode::kNotFound, "not found or not shared"));
  // ... the same answer as for a case that does not exist: no existence leak.
  EXPECT_THAT(hub_->GetCase("fire-partner", "CBC-2026-9999"),
              StatusIsWith(absl::StatusCode::kNotFound, "not found or not shared"));

  // Acknowledging moves the police cursor; nothing is pending afterwards.
  auto acked = hub_->Ack("police-partner", 4);
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_EQ(acked->acked_through(), 4u);
  auto after_ack = hub_->PullAlerts("police-partner", 100, 0);
  ASSERT_TRUE(after_ack.ok()) << after_ack.status();
  EXPECT_THAT(after_ack->alerts(), IsEmpty());
  EXPECT_EQ(after_ack->acked_through(), 4u);

  // The auditor: one DISCLOSURE per alert queued for any agency, each with the rules that
  // allowed it, and none to fire.
  std::map<std::string, uint64_t> heads;
  uint64_t total_alerts = 0;
  for (const std::string& agency : kAgencies) {
    auto pulled = hub_->PullAlerts(agency + "-partner", 1, 0);
    ASSERT_TRUE(pulled.ok()) << agency << ": " << pulled.status();
    heads[agency] = pulled->head();
    total_alerts += pulled->head();
  }
  EXPECT_EQ(heads["fire"], 0u);
  EXPECT_GT(heads["adult-social-care"], 0u);  // a vulnerable adult victim: adult social care
  EXPECT_GT(heads["probation"], 0u);          // a CBO: probation is told
  ASSERT_NO_FATAL_FAILURE(Drain());
  asb::v1::AuditQueryRequest by_case;
  by_case.set_case_id(kCase);
  by_case.add_kinds(asb::v1::AUDIT_KIND_DISCLOSURE);
  auto disclosures = hub_->AuditQueryAll("dpo-auditor", by_case);
  ASSERT_TRUE(disclosures.ok()) << disclosures.status();
  EXPECT_THAT(*disclosures, SizeIs(total_alerts));
  std::set<std::pair<std::string, uint64_t>> audited;
  for (const auto& e : *disclosures) {
    const asb::v1::AuditRecord& r = e.record();
    EXPECT_EQ(r.kind(), asb::v1::AUDIT_KIND_DISCLOSURE);
    EXPECT_EQ(r.case_id(), kCase);
    EXPECT_NE(r.recipient_agency(), "fire");
    EXPECT_THAT(r.justifications(), Not(IsEmpty()));
    EXPECT_FALSE(e.leaf_hash().empty());
    EXPECT_TRUE(audited.insert({r.recipient_agency(), r.ref_seq()}).second)
        << "disclosure " << r.recipient_agency() << "/" << r.ref_seq() << " audited twice";
  }
  for (const std::string agency : {"police", "community-safety"}) {
    for (const auto& a : alerts[agency]) {
      auto it = std::find_if(disclosures->begin(), disclosures->end(), [&](const auto& e) {
        return e.record().recipient_agency() == agency && e.record().ref_seq() == a.agency_seq();
      });
      ASSERT_NE(it, disclosures->end()) << agency << " alert " << a.agency_seq() << " not audited";
      EXPECT_EQ(RuleIds(it->record().justifications()), RuleIds(a.disclosure().justifications()));
      EXPECT_EQ(it->record().event_type(), a.disclosure().event_type());
    }
  }
  // Fire's refused lookup is on the record too.
  asb::v1::AuditQueryRequest refused;
  refused.set_case_id(kCase);
  refused.set_agency("fire");
  refused.add_kinds(asb::v1::AUDIT_KIND_ACCESS_REFUSED);
  auto fire_refused = hub_->AuditQueryAll("dpo-auditor", refused);
  ASSERT_TRUE(fire_refused.ok()) << fire_refused.status();
  EXPECT_THAT(*fire_refused, Not(IsEmpty()));

  // Resubmitting the same file: all duplicates, under the same hub sequence numbers, and no new
  // alert for anyone.
  auto again = hub_->Submit("council-feed", demo);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_THAT(again->results(), SizeIs(demo.size()));
  for (const auto& r : again->results()) {
    EXPECT_EQ(r.outcome(), asb::v1::SubmitResult::OUTCOME_DUPLICATE);
    EXPECT_EQ(r.hub_seq(), hub_seqs[r.index()]);
  }
  ASSERT_NO_FATAL_FAILURE(Drain());
  auto police_again = hub_->PullAlerts("police-partner", 100, 0);
  ASSERT_TRUE(police_again.ok()) << police_again.status();
  EXPECT_EQ(police_again->head(), 4u);
  EXPECT_THAT(police_again->alerts(), IsEmpty());

  // Bad events: each refused with a reason; nothing stored, and the hub keeps working.
  const std::vector<asb::v1::CaseEvent> bad = Sample("bad-events.jsonl");
  ASSERT_THAT(bad, Not(IsEmpty()));
  auto refused_all = hub_->Submit("council-feed", bad);
  ASSERT_TRUE(refused_all.ok()) << refused_all.status();
  ASSERT_THAT(refused_all->results(), SizeIs(bad.size()));
  for (const auto& r : refused_all->results()) {
    EXPECT_EQ(r.outcome(), asb::v1::SubmitResult::OUTCOME_REFUSED)
        << "bad-events.jsonl event " << r.index() << " (" << r.source_event_id().substr(0, 20)
        << ") was not refused";
    EXPECT_NE(r.status().code(), asb::v1::STATUS_CODE_OK);
    EXPECT_FALSE(r.status().message().empty()) << "event " << r.index();
    EXPECT_EQ(r.hub_seq(), 0u);
  }
  asb::v1::CaseEvent fresh = demo[0];
  fresh.set_source_event_id("cms-0300-001");
  fresh.set_case_id("CBC-2026-0300");
  auto accepted = hub_->Submit("council-feed", {fresh});
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  ASSERT_THAT(accepted->results(), SizeIs(1));
  EXPECT_EQ(accepted->results(0).outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED);
  EXPECT_EQ(accepted->results(0).hub_seq(), demo.size() + 1);  // refusals used no seq
  // A long poll returns as soon as the new case's alert is queued.
  auto new_case = hub_->PullAlerts("police-partner", 100, 20000);
  ASSERT_TRUE(new_case.ok()) << new_case.status();
  ASSERT_THAT(new_case->alerts(), SizeIs(1));
  EXPECT_EQ(new_case->alerts(0).agency_seq(), 5u);
  EXPECT_EQ(new_case->alerts(0).disclosure().case_id(), "CBC-2026-0300");

  // A key the hub does not know: a clear refusal, not a hang.
  auto stranger = bus::GenerateKeyPair("stranger");
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  asb::v1::Request submit;
  *submit.mutable_submit()->add_events() = fresh;
  EXPECT_THAT(hub_->CallWithKeys("intake", *stranger, submit),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "not authorised"));
  // A partner key asking the audit log (wrong role) and submitting events; a feed pulling alerts.
  EXPECT_THAT(hub_->AuditQuery("police-partner", by_case),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "ROLE_AUDITOR"));
  EXPECT_THAT(hub_->Submit("police-partner", {fresh}),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "ROLE_FEED"));
  EXPECT_THAT(hub_->PullAlerts("council-feed"),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "ROLE_PARTNER"));

  // All of it is in the access log: the refusals of bad input, the unknown key, the wrong role.
  ASSERT_NO_FATAL_FAILURE(Drain());
  auto count = [&](asb::v1::AuditKind kind) -> size_t {
    asb::v1::AuditQueryRequest q;
    q.add_kinds(kind);
    auto entries = hub_->AuditQueryAll("dpo-auditor", q);
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? entries->size() : 0;
  };
  EXPECT_GE(count(asb::v1::AUDIT_KIND_REJECTION), bad.size());
  EXPECT_GE(count(asb::v1::AUDIT_KIND_AUTH_FAILED), 1u);
  EXPECT_GE(count(asb::v1::AUDIT_KIND_ACCESS_REFUSED), 4u);  // fire lookup + 3 wrong roles
  EXPECT_EQ(count(asb::v1::AUDIT_KIND_COLLECTION), demo.size() + 1);

  // Operators see the work and the bad input counted (asbctl status).
  auto counters = [&](const std::string& daemon) {
    std::map<std::string, uint64_t> out;
    auto ping = hub_->Ping(daemon);
    EXPECT_TRUE(ping.ok()) << ping.status();
    if (ping.ok()) {
      for (const auto& c : ping->counters()) {
        out[c.name()] = c.value();
      }
    }
    return out;
  };
  const auto sharing = counters("sharing");
  EXPECT_EQ(sharing.count("bad_messages"), 1u);
  EXPECT_EQ(sharing.count("audit_failures"), 1u);
  ASSERT_EQ(sharing.count("disclosures"), 1u);
  auto disclosure_log = hub_->FetchAll("sharing", "disclosures");
  ASSERT_TRUE(disclosure_log.ok()) << disclosure_log.status();
  EXPECT_EQ(sharing.at("disclosures"), disclosure_log->size());
  EXPECT_GE(sharing.at("consultations"), 1u);
  const auto intake = counters("intake");
  // Refusals are counted by reason (the status code); every bad event is in one of them.
  uint64_t refused_total = 0;
  for (const auto& [name, value] : intake) {
    if (name.rfind("events_refused{", 0) == 0) {
      refused_total += value;
    }
  }
  EXPECT_EQ(refused_total, bad.size());
  ASSERT_EQ(intake.count("events_accepted"), 1u);
  EXPECT_EQ(intake.at("events_accepted"), demo.size() + 1);
}

// asb-notify killed (SIGKILL) while alerts are queued and not yet pulled, and again after they
// were pulled but not acknowledged: every alert is still delivered, numbered as before, none
// missing and none twice.
TEST_F(EndToEndTest, NotifyCrashLosesAndDuplicatesNoAlert) {
  const std::vector<asb::v1::CaseEvent> demo = Sample("cbo-demo.jsonl");
  auto submitted = hub_->Submit("council-feed", demo);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  // Killed at once: it may be before, during or after it consumed the disclosures.
  ASB_ASSERT_OK(hub_->Kill("notify"));
  {
    absl::Status s = hub_->StartAndWait("notify");
    ASSERT_TRUE(s.ok()) << s;
  }
  ASSERT_NO_FATAL_FAILURE(Drain());

  std::vector<asb::v1::Alert> police_before = AllAlerts("police-partner");
  ASSERT_THAT(police_before, SizeIs(4));
  ExpectDenseAndUnique(police_before);

  // More events while notify is down: they wait in sharing's log.
  ASB_ASSERT_OK(hub_->Kill("notify"));
  auto more = hub_->Submit("council-feed", Sample("all-events.jsonl"));
  ASSERT_TRUE(more.ok()) << more.status();
  {
    absl::Status s = hub_->StartAndWait("notify");
    ASSERT_TRUE(s.ok()) << s;
  }
  ASSERT_NO_FATAL_FAILURE(Drain());

  auto disclosures = hub_->FetchAll("sharing", "disclosures");
  ASSERT_TRUE(disclosures.ok()) << disclosures.status();
  for (const std::string agency : {"police", "community-safety"}) {
    std::vector<asb::v1::Alert> alerts = AllAlerts(agency + "-partner");
    ExpectDenseAndUnique(alerts);
    // Exactly the alert-worthy disclosures, in order: nothing missing, nothing twice.
    EXPECT_EQ(EventSeqs(alerts), ExpectedAlertEvents(*disclosures, agency)) << agency;
    if (agency == "police") {
      // The alerts pulled before the crash kept their numbers and content.
      ASSERT_GE(alerts.size(), police_before.size());
      for (size_t i = 0; i < police_before.size(); ++i) {
        EXPECT_EQ(alerts[i].agency_seq(), police_before[i].agency_seq());
        EXPECT_EQ(alerts[i].disclosure().SerializeAsString(),
                  police_before[i].disclosure().SerializeAsString());
        EXPECT_GT(alerts[i].delivery_count(), police_before[i].delivery_count());
      }
    }
  }

  // Acknowledge everything; after one more crash nothing comes back.
  auto police_head = hub_->PullAlerts("police-partner", 1, 0);
  ASSERT_TRUE(police_head.ok()) << police_head.status();
  auto acked = hub_->Ack("police-partner", police_head->head());
  ASSERT_TRUE(acked.ok()) << acked.status();
  ASB_ASSERT_OK(hub_->Kill("notify"));
  {
    absl::Status s = hub_->StartAndWait("notify");
    ASSERT_TRUE(s.ok()) << s;
  }
  auto after = hub_->PullAlerts("police-partner", 100, 0);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(after->alerts(), IsEmpty());
  EXPECT_EQ(after->acked_through(), police_head->head());
  EXPECT_EQ(after->head(), police_head->head());
}

// asb-sharing killed (SIGKILL) in the middle of a stream of submissions and again while it
// catches up: no disclosure is made twice or lost, so no alert or audit entry is either.
TEST_F(EndToEndTest, SharingCrashMakesNoDuplicateDisclosure) {
  std::vector<asb::v1::CaseEvent> events = Sample("all-events.jsonl");
  for (const auto& e : Sample("cbo-demo.jsonl")) {
    events.push_back(e);
  }
  ASSERT_THAT(events, SizeIs(54));
  const size_t kill_after = 20;
  for (size_t i = 0; i < events.size(); ++i) {
    auto r = hub_->Submit("council-feed", {events[i]});
    ASSERT_TRUE(r.ok()) << r.status();
    // Submitted one by one, the samples' short orders have ended by the hub's clock before the
    // feed's own expiry arrives: that is answered as a duplicate of the hub's record.
    const bool hub_had_it = r->results(0).outcome() == asb::v1::SubmitResult::OUTCOME_DUPLICATE &&
                            events[i].has_order_expired();
    ASSERT_TRUE(r->results(0).outcome() == asb::v1::SubmitResult::OUTCOME_ACCEPTED || hub_had_it)
        << i << ": " << r->results(0).status().message();
    if (i + 1 == kill_after) {
      ASB_ASSERT_OK(hub_->Kill("sharing"));  // intake keeps accepting while sharing is down
    }
  }
  // Restarted, then killed again as soon as it serves: it is catching up on 23 events.
  {
    absl::Status s = hub_->StartAndWait("sharing");
    ASSERT_TRUE(s.ok()) << s;
  }
  ASB_ASSERT_OK(hub_->Kill("sharing"));
  {
    absl::Status s = hub_->StartAndWait("sharing");
    ASSERT_TRUE(s.ok()) << s;
  }
  ASSERT_NO_FATAL_FAILURE(Drain());

  auto disclosures = hub_->FetchAll("sharing", "disclosures");
  ASSERT_TRUE(disclosures.ok()) << disclosures.status();
  std::set<std::pair<std::string, uint64_t>> seen;
  std::set<uint64_t> lead_events;
  for (const auto& env : *disclosures) {
    const asb::v1::Disclosure& d = env.disclosure();
    EXPECT_TRUE(seen.insert({d.agency(), d.event_seq()}).second)
        << "event " << d.event_seq() << " disclosed to " << d.agency() << " twice";
    EXPECT_NE(d.agency(), "");
    if (d.agency() == "community-safety") {
      lead_events.insert(d.event_seq());
    }
  }
  // Community safety (the lead agency, or the CSP's coordinator where another partner leads) is
  // alerted of every opening and every order event of every case (the ISP's "case-opened" and
  // "order-lifecycle-core"), the hub's own expiries included: none lost. Only an alert is
  // disclosed, so its other disclosures are of events alerting it too (a risk assessment, a
  // statutory notice), never of one it was not alerted of.
  auto logged = hub_->FetchAll("intake", "events");
  ASSERT_TRUE(logged.ok()) << logged.status();
  std::set<uint64_t> all_events;
  std::set<uint64_t> lead_alerted;
  for (const auto& env : *logged) {
    all_events.insert(env.seq());
    const asb::v1::EventType type = model::EventTypeOf(env.accepted_event().event());
    if (type == asb::v1::EVENT_TYPE_CASE_OPENED ||
        (type >= asb::v1::EVENT_TYPE_ORDER_ISSUED && type <= asb::v1::EVENT_TYPE_ORDER_EXPIRED)) {
      lead_alerted.insert(env.seq());
    }
  }
  EXPECT_GE(all_events.size(), events.size() - 3);  // at most three expiries were the hub's
  EXPECT_GE(lead_alerted.size(), 20u);
  for (uint64_t seq : lead_alerted) {
    EXPECT_TRUE(lead_events.contains(seq)) << "event " << seq << " not disclosed to the lead";
  }
  for (uint64_t seq : lead_events) {
    EXPECT_TRUE(all_events.contains(seq)) << "disclosure of event " << seq << " not in intake";
  }
  for (const auto& env : *disclosures) {
    EXPECT_FALSE(env.disclosure().notification_rules().empty())
        << "a disclosure that is no alert: event " << env.disclosure().event_seq() << " to "
        << env.disclosure().agency();
  }

  // Alerts and the audit trail follow the disclosures one for one.
  uint64_t total_alerts = 0;
  for (const std::string& agency : kAgencies) {
    std::vector<asb::v1::Alert> alerts = AllAlerts(agency + "-partner");
    ExpectDenseAndUnique(alerts);
    if (agency == "police" || agency == "community-safety") {
      EXPECT_EQ(EventSeqs(alerts), ExpectedAlertEvents(*disclosures, agency)) << agency;
    }
    total_alerts += alerts.size();
  }
  ASSERT_NO_FATAL_FAILURE(Drain());
  asb::v1::AuditQueryRequest q;
  q.add_kinds(asb::v1::AUDIT_KIND_DISCLOSURE);
  auto audited = hub_->AuditQueryAll("dpo-auditor", q);
  ASSERT_TRUE(audited.ok()) << audited.status();
  EXPECT_THAT(*audited, SizeIs(total_alerts));
  std::set<std::pair<std::string, uint64_t>> audited_alerts;
  for (const auto& e : *audited) {
    EXPECT_TRUE(audited_alerts.insert({e.record().recipient_agency(), e.record().ref_seq()}).second)
        << "alert " << e.record().recipient_agency() << "/" << e.record().ref_seq()
        << " audited twice";
  }
}

// An auditor walking the log in pages of stored entries (as `asbctl audit verify` does) gets
// what the parsed query gives, page for page, although asb-audit reads each next page ahead;
// an erasure between two pages drops the page read ahead, so the next one shows it.
TEST_F(EndToEndTest, StoredPagesThroughTheHubMatchParsedOnesAndSeeAnErasure) {
  const std::vector<asb::v1::CaseEvent> demo = Sample("cbo-demo.jsonl");
  ASSERT_TRUE(hub_->Submit("council-feed", demo).ok());
  ASSERT_NO_FATAL_FAILURE(Drain());

  auto page = [&](uint64_t after, bool stored) -> asb::v1::AuditQueryResponse {
    asb::v1::Request request;
    request.mutable_audit_query()->set_after_index(after);
    request.mutable_audit_query()->set_limit(5);
    request.mutable_audit_query()->set_stored(stored);
    auto response = hub_->Call("audit", "dpo-auditor", request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? response->audit() : asb::v1::AuditQueryResponse();
  };
  auto entries_of = [](const asb::v1::AuditQueryResponse& stored) {
    std::vector<asb::v1::AuditEntry> out;
    EXPECT_TRUE(audit::ForEachStoredEntry(stored.stored_page(), [&](std::string_view bytes) {
      asb::v1::AuditEntry e;
      EXPECT_TRUE(e.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
      out.push_back(e);
      return true;
    }));
    return out;
  };

  auto served_ahead = [&]() -> uint64_t {
    auto ping = hub_->Ping("audit");
    if (!ping.ok()) {
      ADD_FAILURE() << ping.status();
      return 0;
    }
    for (const auto& c : ping->counters()) {
      if (c.name() == "pages_read_ahead") {
        return c.value();
      }
    }
    ADD_FAILURE() << "no pages_read_ahead counter";
    return 0;
  };
  auto expect_same = [&](const asb::v1::AuditQueryResponse& stored,
                         const asb::v1::AuditQueryResponse& parsed) {
    const std::vector<asb::v1::AuditEntry> got = entries_of(stored);
    ASSERT_EQ(got.size(), static_cast<size_t>(parsed.entries_size()));
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].SerializeAsString(),
                parsed.entries(static_cast<int>(i)).SerializeAsString());
    }
    EXPECT_EQ(stored.next_after_index(), parsed.next_after_index());
  };

  // The first page; asb-audit then reads the second ahead and serves it when it is asked for.
  const uint64_t before = served_ahead();
  const asb::v1::AuditQueryResponse first = page(0, /*stored=*/true);
  ASSERT_EQ(entries_of(first).size(), 5u);
  ASSERT_EQ(first.next_after_index(), 5u);
  const asb::v1::AuditQueryResponse ahead = page(5, /*stored=*/true);
  EXPECT_EQ(served_ahead(), before + 1);
  // The same page parsed, and stored again without reading ahead (another request came
  // between): the same entries.
  const asb::v1::AuditQueryResponse parsed = page(5, /*stored=*/false);
  expect_same(ahead, parsed);
  expect_same(page(5, /*stored=*/true), parsed);
  EXPECT_EQ(served_ahead(), before + 1);

  // Page 1 again (page 2 is read ahead), then the case is erased from the log: page 2 shows it.
  ASSERT_EQ(entries_of(page(0, /*stored=*/true)).size(), 5u);
  asb::v1::Request erase;
  erase.mutable_audit_erase()->set_case_id(kCase);
  erase.mutable_audit_erase()->set_reference("DPO-2026-17");
  auto erased = hub_->Call("audit", "hub-admin", erase);
  ASSERT_TRUE(erased.ok()) << erased.status();
  std::set<uint64_t> erased_entries(erased->audit_erase().erased().begin(),
                                    erased->audit_erase().erased().end());
  int in_page = 0;
  for (const asb::v1::AuditEntry& e : entries_of(page(5, /*stored=*/true))) {
    if (erased_entries.count(e.index()) != 0) {
      ++in_page;
      EXPECT_EQ(e.erased_by(), erased->audit_erase().erasure_index()) << e.index();
      EXPECT_TRUE(e.record().case_id().empty()) << e.index();
    }
  }
  EXPECT_GT(in_page, 0) << "the erasure should touch the second page";
}

}  // namespace
}  // namespace asb::testing
