// Issue 13 (items 4-6) on the four real daemons: a case lookup names the officer and the
// reason or is refused, and the access log says who looked and why; one pull of alerts of
// several cases is recorded per case; a closed case is deleted in every daemon once the data
// sharing agreement's retention has run, its recipients told to review their copies; and the
// agreement's review date is enforced (the coordinator alerted while it is overdue, the ISP
// refused after the grace).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/store_keys.h"
#include "tests/support/temp_dir.h"

namespace asb::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kCase[] = "CBC-2026-0142";

std::string Src(const std::string& rel) { return std::string(ASB_SOURCE_DIR) + "/" + rel; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::vector<asb::v1::CaseEvent> Demo(const std::string& case_id = kCase) {
  auto events = LoadEventsFile(Src("config/samples/cbo-demo.jsonl"));
  EXPECT_TRUE(events.ok()) << events.status();
  std::vector<asb::v1::CaseEvent> out = events.ok() ? *events : std::vector<asb::v1::CaseEvent>();
  for (asb::v1::CaseEvent& e : out) {
    if (case_id != kCase) {
      e.set_case_id(case_id);
      e.set_source_event_id(case_id + "/" + e.source_event_id());
    }
  }
  return out;
}

asb::v1::OnBehalfOf Officer() {
  asb::v1::OnBehalfOf o;
  o.set_officer_id("PC-4471");
  o.set_officer_name("PC Jane Ashworth");
  o.set_purpose("policing");
  o.set_reason("preparing the CBO breach file");
  return o;
}

absl::Status AllAccepted(const absl::StatusOr<asb::v1::SubmitResponse>& submitted) {
  if (!submitted.ok()) {
    return submitted.status();
  }
  for (const auto& r : submitted->results()) {
    if (r.outcome() != asb::v1::SubmitResult::OUTCOME_ACCEPTED) {
      return absl::InternalError(absl::StrCat("event ", r.index(), ": ", r.status().message()));
    }
  }
  return absl::OkStatus();
}

class GovernanceTest : public ::testing::Test {
 protected:
  // Entries of the access log matching `q`, once asb-audit has taken every upstream's records.
  std::vector<asb::v1::AuditEntry> Audited(Hub& hub, asb::v1::AuditQueryRequest q) {
    EXPECT_TRUE(hub.WaitDrained(absl::Seconds(30)).ok());
    auto entries = hub.AuditQueryAll("dpo-auditor", std::move(q));
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<asb::v1::AuditEntry>();
  }

  // Copies of the shipped ISP with `edit` applied to its text, and of the four daemon configs
  // pointing at it, in `dir`: daemon → config file.
  std::map<std::string, std::string> WithIsp(const TempDir& dir,
                                             const std::map<std::string, std::string>& edit) {
    std::string isp = ReadFile(Src("config/isp/chesterfield.yaml"));
    isp = absl::StrReplaceAll(isp, {{"pseudonymisation_key_file: \"keys/pseudonymisation.key\"",
                                     "pseudonymisation_key_file: \"" +
                                         Src("config/isp/keys/pseudonymisation.key") + "\""}});
    for (const auto& [from, to] : edit) {
      EXPECT_NE(isp.find(from), std::string::npos) << from;
      isp = absl::StrReplaceAll(isp, {{from, to}});
    }
    const std::string isp_path = dir.Sub("isp.yaml");
    std::ofstream(isp_path) << isp;
    std::map<std::string, std::string> files;
    for (const std::string& d : Hub::Daemons()) {
      std::string text = ReadFile(Src("config/" + d + ".yaml"));
      const std::string line = "isp_file: \"config/isp/chesterfield.yaml\"";
      EXPECT_NE(text.find(line), std::string::npos) << d;
      text = absl::StrReplaceAll(text, {{line, "isp_file: \"" + isp_path + "\""}});
      files[d] = dir.Sub(d + ".yaml");
      std::ofstream(files[d]) << text;
    }
    return files;
  }
};

// A lookup without an officer or a reason is refused, saying what is missing, and the refusal
// is on the record; with them, the consultation names the officer, the purpose and the reason,
// and the auditor finds it by officer.
TEST_F(GovernanceTest, ALookupNamesTheOfficerAndTheReason) {
  Hub hub(BuiltHubOptions());
  ASB_ASSERT_OK(hub.StartAll());
  ASB_ASSERT_OK(AllAccepted(hub.Submit("council-feed", Demo())));
  ASB_ASSERT_OK(hub.WaitDrained());

  asb::v1::OnBehalfOf anonymous = Officer();
  anonymous.clear_officer_id();
  EXPECT_THAT(
      hub.GetCase("police-partner", kCase, anonymous),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.officer_id: required"));
  asb::v1::OnBehalfOf no_reason = Officer();
  no_reason.clear_reason();
  EXPECT_THAT(hub.GetCase("police-partner", kCase, no_reason),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.reason: required"));
  asb::v1::OnBehalfOf wrong_purpose = Officer();
  wrong_purpose.set_purpose("curiosity");
  EXPECT_THAT(
      hub.GetCase("police-partner", kCase, wrong_purpose),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "'curiosity' is not a purpose of the ISP"));
  auto view = hub.GetCase("police-partner", kCase, Officer());
  ASB_ASSERT_OK(view.status());
  EXPECT_EQ(view->case_id(), kCase);

  asb::v1::AuditQueryRequest by_officer;
  by_officer.set_officer_id("PC-4471");
  std::vector<asb::v1::AuditEntry> entries = Audited(hub, by_officer);
  std::vector<asb::v1::AuditKind> kinds;
  for (const auto& e : entries) {
    kinds.push_back(e.record().kind());
  }
  // The reason-less and the wrong-purpose lookups (refused), then the consultation.
  EXPECT_THAT(kinds, ::testing::ElementsAre(asb::v1::AUDIT_KIND_ACCESS_REFUSED,
                                            asb::v1::AUDIT_KIND_ACCESS_REFUSED,
                                            asb::v1::AUDIT_KIND_CONSULTATION));
  ASSERT_THAT(entries, SizeIs(3));
  const asb::v1::AuditRecord& consulted = entries[2].record();
  EXPECT_EQ(consulted.case_id(), kCase);
  EXPECT_EQ(consulted.actor(), "police-partner");
  EXPECT_EQ(consulted.on_behalf_of().officer_name(), "PC Jane Ashworth");
  EXPECT_EQ(consulted.on_behalf_of().purpose(), "policing");
  EXPECT_EQ(consulted.on_behalf_of().reason(), "preparing the CBO breach file");
  EXPECT_THAT(entries[0].record().detail(), HasSubstr("on_behalf_of.reason: required"));

  // The anonymous attempt is found by case and kind.
  asb::v1::AuditQueryRequest refused;
  refused.set_case_id(kCase);
  refused.add_kinds(asb::v1::AUDIT_KIND_ACCESS_REFUSED);
  bool anonymous_recorded = false;
  for (const auto& e : Audited(hub, refused)) {
    anonymous_recorded |= absl::StrContains(e.record().detail(), "officer_id: required");
  }
  EXPECT_TRUE(anonymous_recorded);
}

// One pull that hands out alerts of two cases is recorded once per case: an auditor asking
// about either case finds its delivery.
TEST_F(GovernanceTest, APullOfSeveralCasesIsRecordedPerCase) {
  Hub hub(BuiltHubOptions());
  ASB_ASSERT_OK(hub.StartAll());
  ASB_ASSERT_OK(AllAccepted(hub.Submit("council-feed", Demo())));
  ASB_ASSERT_OK(AllAccepted(hub.Submit("council-feed", Demo("CBC-2026-0143"))));
  ASB_ASSERT_OK(hub.WaitDrained());
  auto pulled = hub.PullAlerts("police-partner");
  ASB_ASSERT_OK(pulled.status());
  std::set<std::string> cases;
  for (const auto& a : pulled->alerts()) {
    cases.insert(a.disclosure().case_id());
  }
  ASSERT_EQ(cases.size(), 2u) << "one pull with both cases' alerts";
  for (const std::string& c : cases) {
    asb::v1::AuditQueryRequest q;
    q.set_case_id(c);
    q.add_kinds(asb::v1::AUDIT_KIND_DELIVERY);
    std::vector<asb::v1::AuditEntry> deliveries = Audited(hub, q);
    ASSERT_THAT(deliveries, SizeIs(1)) << c;
    EXPECT_EQ(deliveries[0].record().recipient_agency(), "police");
    EXPECT_THAT(deliveries[0].record().detail(), HasSubstr("2 cases"));
    EXPECT_THAT(deliveries[0].record().subject_keys(), Not(IsEmpty()));
  }
}

// A case closed long ago (its retention already run when its closure arrives) is deleted at
// once: sharing no longer has it, intake's events of it read as erased, notify's alerts of it
// are gone, each daemon's shredding is on the record, every agency that received it is told
// to review its copies, and intake's ledgers keep no key of it.
TEST_F(GovernanceTest, AClosedCaseIsDeletedEverywhereOnceItsRetentionHasRun) {
  TempDir dir;
  HubOptions options = BuiltHubOptions();
  options.config_files = WithIsp(dir, {{"      days: 730\n      basis: \"Two years after closure",
                                        "      days: 30\n      basis: \"Two years after closure"}});
  Hub hub(options);
  ASB_ASSERT_OK(hub.StartAll());
  // The demo case (March 2026) and its closure a day after the breach.
  std::vector<asb::v1::CaseEvent> events = Demo();
  asb::v1::CaseEvent closed;
  ASB_ASSERT_OK(config::ParseJson(
      absl::StrCat(R"({"sourceEventId":"cms-0142-close","caseId":")", kCase,
                   R"(","occurredAt":"2026-03-10T09:00:00Z","caseClosed":{"reason":"Order in )"
                   R"(force; victim rehoused"}})"),
      &closed));
  events.push_back(closed);
  ASB_ASSERT_OK(AllAccepted(hub.Submit("council-feed", events)));

  // Deleted, and shredded in sharing, intake and notify.
  ASB_ASSERT_OK(WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        asb::v1::AuditQueryRequest q;
        q.set_case_id(kCase);
        q.add_kinds(asb::v1::AUDIT_KIND_ERASURE);
        ASB_ASSIGN_OR_RETURN(std::vector<asb::v1::AuditEntry> erasures,
                             hub.AuditQueryAll("dpo-auditor", q));
        std::set<std::string> components;
        for (const auto& e : erasures) {
          components.insert(e.record().component());
        }
        return components == std::set<std::string>{"sharing", "intake", "notify"};
      },
      absl::Now() + absl::Seconds(60), "ERASURE records of sharing, intake and notify"));
  EXPECT_THAT(hub.GetCase("police-partner", kCase),
              StatusIsWith(absl::StatusCode::kNotFound, "not found or not shared"));

  asb::v1::AuditQueryRequest q;
  q.set_case_id(kCase);
  q.add_kinds(asb::v1::AUDIT_KIND_ERASURE);
  for (const auto& e : Audited(hub, q)) {
    if (e.record().component() == "sharing") {
      EXPECT_THAT(e.record().detail(), HasSubstr("case deleted under retention: closed 2026-03-10, "
                                                 "kept 30 days"));
      EXPECT_THAT(e.record().subject_keys(), SizeIs(2));
    } else {
      EXPECT_THAT(e.record().detail(), HasSubstr("retention: CCSP-DSA-ASB-2026-DEMO"));
    }
  }

  // Intake's events of the case are placeholders now.
  auto logged = hub.FetchAll("intake", "events");
  ASB_ASSERT_OK(logged.status());
  ASSERT_THAT(*logged, SizeIs(events.size()));
  for (const auto& e : *logged) {
    EXPECT_FALSE(e.has_accepted_event()) << e.event_id();
  }

  // The police get the notice (and none of the case's own alerts any more); so does every
  // other agency that received the case; fire, which never did, gets nothing.
  for (const std::string agency : {"police", "community-safety", "probation"}) {
    auto pulled = hub.PullAlerts(agency + "-partner", 1000, 0, 1);
    ASB_ASSERT_OK(pulled.status());
    std::vector<const asb::v1::Alert*> notices;
    for (const auto& a : pulled->alerts()) {
      EXPECT_TRUE(a.disclosure().has_notice()) << agency << " still has alert " << a.agency_seq();
      if (a.disclosure().has_notice()) {
        notices.push_back(&a);
      }
    }
    ASSERT_THAT(notices, SizeIs(1)) << agency;
    const asb::v1::Alert& notice = *notices[0];
    EXPECT_EQ(notice.notification_rule(), "hub/case-deleted");
    EXPECT_EQ(notice.disclosure().case_id(), kCase);
    EXPECT_EQ(notice.disclosure().notice().kind(), asb::v1::HubNotice::KIND_CASE_DELETED);
    EXPECT_THAT(notice.disclosure().notice().text(), HasSubstr("Review the copies"));
  }
  auto fire = hub.PullAlerts("fire-partner", 1000, 0, 1);
  ASB_ASSERT_OK(fire.status());
  EXPECT_THAT(fire->alerts(), IsEmpty());

  // Intake's ledgers (the victim ledger, the order ledger's orders and people) kept no key of it:
  // their keys name the case and its people in plaintext.
  ASB_ASSERT_OK(hub.StopAll());
  EXPECT_THAT(Containing(KeysOf(hub.data_dir() + "/intake/db", "ledger"), {kCase}), IsEmpty());
}

// Past its review date the daemons still load the ISP and the partnership coordinator is
// alerted; after the grace every daemon refuses to start on it, naming the file and line.
TEST_F(GovernanceTest, TheReviewDateIsEnforced) {
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  {
    TempDir dir;
    HubOptions options = BuiltHubOptions();
    options.config_files =
        WithIsp(dir, {{"    due: \"2028-03-31\"",
                       absl::StrCat("    due: \"", absl::FormatCivilTime(today - 10), "\"")}});
    Hub hub(options);
    ASB_ASSERT_OK(hub.StartAll());
    ASB_ASSERT_OK(WaitUntil(
        [&]() -> absl::StatusOr<bool> {
          ASB_ASSIGN_OR_RETURN(asb::v1::PullAlertsResponse pulled,
                               hub.PullAlerts("partnership-partner", 100, 0, 1));
          for (const auto& a : pulled.alerts()) {
            if (a.notification_rule() == "hub/agreement-review") {
              EXPECT_EQ(a.disclosure().notice().kind(),
                        asb::v1::HubNotice::KIND_AGREEMENT_REVIEW_OVERDUE);
              EXPECT_THAT(a.disclosure().notice().text(), HasSubstr("was due for review"));
              return true;
            }
          }
          return false;
        },
        absl::Now() + absl::Seconds(30), "the coordinator's review alert"));
    ASB_ASSERT_OK(hub.StopAll());
  }
  TempDir dir;
  HubOptions options = BuiltHubOptions();
  options.config_files =
      WithIsp(dir, {{"    due: \"2028-03-31\"",
                     absl::StrCat("    due: \"", absl::FormatCivilTime(today - 61), "\"")}});
  Hub hub(options);
  for (const std::string& d : Hub::Daemons()) {
    absl::Status started = hub.StartAndWait(d, absl::Seconds(20));
    EXPECT_FALSE(started.ok()) << d << " started on a lapsed agreement";
    EXPECT_THAT(hub.LogTail(d), HasSubstr("agreement.review.due: "));
    EXPECT_THAT(hub.LogTail(d), HasSubstr("before the hub loads it again"));
  }
}

}  // namespace
}  // namespace asb::testing
