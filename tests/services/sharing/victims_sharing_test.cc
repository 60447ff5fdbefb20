// asb-sharing's victim features on a real store with a test ISP (testdata/isp-victims.yaml):
// case review notices alert the agencies they name that the ISP lets see the case (the others are
// audited); risk assessments are kept as a history, the person carries the latest band and a
// HIGH band alerts the safeguarding agency for the person's age; a victim linked to two cases is
// matched by keyed subject keys and raises link suggestions only where the ISP lets each lead
// agency see the other case (a property test against an independent oracle of the test ISP),
// otherwise the coordinator is told without details; ListCaseReviews and RepeatVictims require
// on_behalf_of and audit each case returned.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "asb/v1/audit.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/config/config.h"
#include "common/policy/policy.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "common/victims/case_review.h"
#include "common/victims/risk_matrix.h"
#include "services/sharing/sharing_handler.h"
#include "services/sharing/victim_matching.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::sharing {
namespace {

using ::asb::testing::StatusIsWith;
using asb::v1::Disclosure;
using asb::v1::Envelope;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 26, 12, 0, 0), absl::UTCTimeZone());

class VictimsSharingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.path = dir_.Sub("db");
    options.sync = false;
    options.column_families = SharingColumnFamilies();
    auto store = store::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    disclosures_ = std::move(*stream::Log::Open(store_.get(), "disclosures", "sharing"));
    audit_ = std::move(*stream::Log::Open(store_.get(), "audit", "sharing"));
    folder_ = std::make_unique<CaseFolder>(store_.get());
    handler_ = std::make_unique<SharingHandler>(folder_.get(), disclosures_.get(), audit_.get(),
                                                [] { return kNow; });
    auto policy = policy::Policy::LoadFile(std::string(ASB_SHARING_TESTDATA) + "/isp-victims.yaml");
    ASSERT_TRUE(policy.ok()) << policy.status();
    policy_ = *policy;
    handler_->SetPolicy(policy_);
    auto risk = victims::RiskMatrix::LoadFile(
        std::string(ASB_SOURCE_DIR) + "/config/risk/matrix.yaml", policy_->agencies());
    ASSERT_TRUE(risk.ok()) << risk.status();
    folder_->SetRiskMatrix(*risk);
    auto procedure = victims::CaseReviewProcedure::LoadFile(
        std::string(ASB_SOURCE_DIR) + "/config/casereview/derbyshire.yaml", policy_->agencies());
    ASSERT_TRUE(procedure.ok()) << procedure.status();
    folder_->SetCaseReviewProcedure(*procedure);
    index_ = std::make_unique<VictimIndex>(store_.get());
    handler_->SetVictimIndex(index_.get());
  }

  Envelope Env(const std::string& case_id, const std::string& body, bool by_hub = false,
               const std::string& at = "2026-10-01T10:00:00Z") {
    Envelope env;
    env.set_seq(++seq_);
    asb::v1::AcceptedEvent* a = env.mutable_accepted_event();
    a->set_source(by_hub ? "hub" : "police-feed");
    a->set_source_agency(by_hub ? "hub" : "police");
    a->set_made_by_hub(by_hub);
    absl::Status s =
        config::ParseJson(absl::StrCat(R"({"sourceEventId":"e)", seq_, R"(","caseId":")", case_id,
                                       R"(","occurredAt":")", at, R"(",)", body, "}"),
                          a->mutable_event());
    EXPECT_TRUE(s.ok()) << s << " in " << body;
    return env;
  }

  // Applies one envelope in its own batch, writes it, and returns the disclosures it made.
  std::vector<Disclosure> Apply(const Envelope& env) {
    const uint64_t before = disclosures_->head();
    store::Batch batch = store_->NewBatch();
    absl::Status applied = handler_->ApplyEvent(env, &batch);
    EXPECT_TRUE(applied.ok()) << applied;
    EXPECT_TRUE(store_->Write(&batch).ok());
    std::vector<Envelope> records;
    std::vector<Disclosure> out;
    if (disclosures_->head() > before) {
      EXPECT_TRUE(disclosures_->Read(before + 1, 10000, &records).ok());
    }
    for (const Envelope& r : records) {
      out.push_back(r.disclosure());
    }
    return out;
  }

  std::vector<asb::v1::AuditRecord> Audit() {
    std::vector<Envelope> records;
    EXPECT_TRUE(audit_->Read(1, 100000, &records).ok());
    std::vector<asb::v1::AuditRecord> out;
    for (const Envelope& r : records) {
      out.push_back(r.audit());
    }
    return out;
  }

  static const Disclosure* For(const std::vector<Disclosure>& ds, const std::string& agency,
                               const std::string& case_id = "") {
    for (const Disclosure& d : ds) {
      if (d.agency() == agency && (case_id.empty() || d.case_id() == case_id)) {
        return &d;
      }
    }
    return nullptr;
  }

  static bool Alerted(const Disclosure* d, const std::string& rule) {
    return d != nullptr && std::find(d->notification_rules().begin(), d->notification_rules().end(),
                                     rule) != d->notification_rules().end();
  }

  std::vector<Disclosure> OpenCase(const std::string& case_id, const std::string& category,
                                   const std::string& lead, bool tenancy = false) {
    return Apply(
        Env(case_id, absl::StrCat(R"("caseOpened":{"nsirCategory":")", category,
                                  R"(","title":"t","leadAgency":")", lead,
                                  R"(","leadOfficer":"Officer 1","flags":{"councilTenancy":)",
                                  tenancy ? "true" : "false", "}}")));
  }

  std::vector<Disclosure> LinkVictim(const std::string& case_id, const std::string& person_id,
                                     const std::string& given, const std::string& family,
                                     const std::string& dob, const std::string& role = "VICTIM") {
    return Apply(Env(case_id, absl::StrCat(R"("personLinked":{"person":{"personId":")", person_id,
                                           R"(","role":"PERSON_ROLE_)", role, R"(","givenName":")",
                                           given, R"(","familyName":")", family,
                                           R"(","dateOfBirth":")", dob, R"("}})")));
  }

  asb::v1::Case Get(const std::string& case_id) {
    auto c = folder_->Get(case_id);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : asb::v1::Case();
  }

  asb::v1::OnBehalfOf Officer() {
    asb::v1::OnBehalfOf who;
    who.set_officer_id("PC-4021");
    who.set_officer_name("PC Ash");
    who.set_reason("case review panel, 3 December");
    return who;
  }

  uint64_t seq_ = 0;
  asb::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<stream::Log> disclosures_;
  std::unique_ptr<stream::Log> audit_;
  std::unique_ptr<CaseFolder> folder_;
  std::unique_ptr<SharingHandler> handler_;
  std::unique_ptr<VictimIndex> index_;
  std::shared_ptr<const policy::Policy> policy_;
};

constexpr char kThreshold[] = R"json("caseReviewNotice":{"noticeId":"casereview/threshold_met/H-3",
    "kind":"CASE_REVIEW_NOTICE_KIND_THRESHOLD_MET","complaints":3,
    "recipients":["police","partnership","housing"],
    "context":{"ruleId":"casereview-threshold",
    "section":"Anti-social Behaviour, Crime and Policing Act 2014 s.104(4)",
    "due":"The threshold for an ASB case review is met","rulesVersion":"derbyshire-2026.1"}})json";

TEST_F(VictimsSharingTest, ACaseReviewNoticeAlertsItsRecipientsTheIspLetsSeeTheCase) {
  OpenCase("C1", "NSIR_CATEGORY_PERSONAL", "police");
  const std::vector<Disclosure> ds = Apply(Env("C1", kThreshold, /*by_hub=*/true));
  const Disclosure* police = For(ds, "police");
  ASSERT_NE(police, nullptr);
  EXPECT_TRUE(Alerted(police, "casereview:threshold_met"));
  EXPECT_EQ(police->case_review_notice_kind(), asb::v1::CASE_REVIEW_NOTICE_KIND_THRESHOLD_MET);
  EXPECT_EQ(police->statutory().section(),
            "Anti-social Behaviour, Crime and Policing Act 2014 s.104(4)");
  EXPECT_EQ(police->view().case_review().status(), asb::v1::CASE_REVIEW_STATUS_THRESHOLD_MET);
  EXPECT_EQ(police->view().case_review().complaints(), 3u);
  EXPECT_TRUE(Alerted(For(ds, "partnership"), "casereview:threshold_met"));
  // Community safety sees the case but is not a recipient: not alerted, so sent nothing.
  EXPECT_EQ(For(ds, "community-safety"), nullptr);
  // Housing may not see this case: no disclosure, and the undelivered alert is on the record.
  EXPECT_EQ(For(ds, "housing"), nullptr);
  bool refused = false;
  for (const asb::v1::AuditRecord& r : Audit()) {
    refused = refused || (r.kind() == asb::v1::AUDIT_KIND_ACCESS_REFUSED &&
                          r.recipient_agency() == "housing" && r.case_id() == "C1");
  }
  EXPECT_TRUE(refused);
  // The same notice again (a redelivered record) is kept once.
  Apply(Env("C1", kThreshold, true));
  EXPECT_THAT(Get("C1").case_review().notices(), SizeIs(1));
}

TEST_F(VictimsSharingTest, ApplicationsDecisionsAndAppealsCarryTheirDeadlines) {
  OpenCase("C1", "NSIR_CATEGORY_PERSONAL", "police");
  Apply(Env("C1", R"("caseReviewApplied":{"applicationId":"A1"})", false, "2026-10-01T09:00:00Z"));
  asb::v1::CaseReview r = Get("C1").case_review();
  ASSERT_THAT(r.applications(), SizeIs(1));
  EXPECT_EQ(r.status(), asb::v1::CASE_REVIEW_STATUS_APPLIED);
  EXPECT_EQ(model::ToTime(r.applications(0).decision_due()),
            absl::FromCivil(absl::CivilSecond(2026, 10, 11, 9, 0, 0), absl::UTCTimeZone()));
  Apply(Env("C1", R"("caseReviewDecided":{"applicationId":"A1","thresholdMet":true})", false,
            "2026-10-05T09:00:00Z"));
  r = Get("C1").case_review();
  EXPECT_EQ(r.status(), asb::v1::CASE_REVIEW_STATUS_REVIEW_DUE);
  EXPECT_EQ(model::ToTime(r.applications(0).review_due()),
            absl::FromCivil(absl::CivilSecond(2026, 11, 2, 9, 0, 0), absl::UTCTimeZone()));
  Apply(Env("C1", R"("caseReviewAppealed":{"applicationId":"A1"})", false, "2026-11-10T09:00:00Z"));
  r = Get("C1").case_review();
  EXPECT_EQ(r.status(), asb::v1::CASE_REVIEW_STATUS_APPEALED);
  EXPECT_EQ(r.applications(0).appeal_body(), "pcc");
}

constexpr char kHighAnswers[] = R"("answers":[{"questionId":"repeat","optionId":"more"},
    {"questionId":"targeted","optionId":"yes"},{"questionId":"health","optionId":"severe"},
    {"questionId":"vulnerable","optionId":"yes"}])";
constexpr char kLowAnswers[] = R"("answers":[{"questionId":"repeat","optionId":"no"},
    {"questionId":"targeted","optionId":"no"},{"questionId":"health","optionId":"no"},
    {"questionId":"vulnerable","optionId":"no"}])";

TEST_F(VictimsSharingTest, RiskHistoryLatestBandAndTheSafeguardingAlertForTheAge) {
  OpenCase("C1", "NSIR_CATEGORY_PERSONAL", "police");
  LinkVictim("C1", "V-ADULT", "Ann", "Hale", "1958-03-02");
  LinkVictim("C1", "V-CHILD", "Tom", "Hale", "2013-07-09");
  std::vector<Disclosure> ds = Apply(
      Env("C1", absl::StrCat(R"("riskAssessed":{"personId":"V-ADULT","templateId":"asb-victim",
          "assessedBy":"PC 7",)",
                             kLowAnswers, "}")));
  EXPECT_EQ(For(ds, "adult-social-care"), nullptr);  // standard: not shared with ASC
  ds = Apply(Env("C1", absl::StrCat(R"("riskAssessed":{"personId":"V-ADULT",
          "templateId":"asb-victim","assessedBy":"PC 7",)",
                                    kHighAnswers, "}")));
  const Disclosure* asc = For(ds, "adult-social-care");
  ASSERT_NE(asc, nullptr);
  EXPECT_TRUE(Alerted(asc, "victims:safeguarding"));
  EXPECT_EQ(asc->safeguarding_person_id(), "V-ADULT");
  // Children's services see the case (a child victim on it) but are not alerted for an adult,
  // so sent nothing.
  EXPECT_EQ(For(ds, "childrens-services"), nullptr);
  // The history: both assessments, who and when; the person shows the latest band.
  asb::v1::Case c = Get("C1");
  ASSERT_THAT(c.risk_assessments(), SizeIs(2));
  EXPECT_EQ(c.risk_assessments(0).band(), asb::v1::RISK_LEVEL_STANDARD);
  EXPECT_EQ(c.risk_assessments(1).band(), asb::v1::RISK_LEVEL_HIGH);
  EXPECT_EQ(c.risk_assessments(1).score(), 17);
  EXPECT_EQ(c.risk_assessments(1).assessed_by(), "PC 7");
  EXPECT_EQ(c.risk_assessments(1).agency(), "police");
  EXPECT_EQ(c.risk_assessments(1).template_version(), "example-1");
  EXPECT_EQ(c.victim_risk(), asb::v1::RISK_LEVEL_HIGH);
  for (const asb::v1::Person& p : c.people()) {
    EXPECT_EQ(p.risk_band(), p.person_id() == "V-ADULT" ? asb::v1::RISK_LEVEL_HIGH
                                                        : asb::v1::RISK_LEVEL_UNSPECIFIED);
  }
  // The child assessed HIGH: children's services are alerted for the child.
  ds = Apply(Env("C1", absl::StrCat(R"("riskAssessed":{"personId":"V-CHILD",
          "templateId":"asb-victim",)",
                                    kHighAnswers, "}")));
  const Disclosure* cs = For(ds, "childrens-services");
  ASSERT_NE(cs, nullptr);
  EXPECT_TRUE(Alerted(cs, "victims:safeguarding"));
  EXPECT_EQ(cs->safeguarding_person_id(), "V-CHILD");
  EXPECT_FALSE(Alerted(For(ds, "adult-social-care"), "victims:safeguarding"));
  // A later standard assessment of the adult: the case's risk stays HIGH (the child's).
  Apply(Env("C1", absl::StrCat(R"("riskAssessed":{"personId":"V-ADULT","templateId":"asb-victim",)",
                               kLowAnswers, "}")));
  EXPECT_EQ(Get("C1").victim_risk(), asb::v1::RISK_LEVEL_HIGH);
}

TEST_F(VictimsSharingTest, TheSameVictimInTwoCasesRaisesALinkSuggestionToBothLeads) {
  OpenCase("C1", "NSIR_CATEGORY_PERSONAL", "police");
  OpenCase("C2", "NSIR_CATEGORY_PERSONAL", "community-safety");
  // Police, community safety and the coordinator see personal cases; no suggestion yet.
  for (const Disclosure& d : LinkVictim("C1", "pol-77", "Margaret", "O'Neil", "1950-01-02")) {
    EXPECT_THAT(d.link_suggestions(), IsEmpty());
  }
  // Another agency's person id, the same name (spelt differently) and date of birth.
  const std::vector<Disclosure> ds = LinkVictim("C2", "cbc-3", "margaret", "ONEIL", "1950-01-02");
  const Disclosure* mine = For(ds, "community-safety", "C2");
  ASSERT_NE(mine, nullptr);
  EXPECT_TRUE(Alerted(mine, "victims:link_suggestion"));
  ASSERT_THAT(mine->link_suggestions(), SizeIs(1));
  EXPECT_EQ(mine->link_suggestions(0).other_case_id(), "C1");
  EXPECT_EQ(mine->link_suggestions(0).other_person_id(), "pol-77");
  EXPECT_EQ(mine->link_suggestions(0).matched_by(), asb::v1::MATCH_BASIS_NAME_AND_DATE_OF_BIRTH);
  EXPECT_EQ(mine->link_suggestions(0).match_key().rfind("sk_", 0), 0u);
  // The police (C1's lead) are told in their disclosure of the same event (they may see C2).
  const Disclosure* theirs = For(ds, "police", "C2");
  ASSERT_NE(theirs, nullptr);
  EXPECT_TRUE(Alerted(theirs, "victims:link_suggestion"));
  ASSERT_THAT(theirs->link_suggestions(), SizeIs(1));
  EXPECT_EQ(theirs->link_suggestions(0).other_case_id(), "C1");
  EXPECT_EQ(theirs->link_suggestions(0).other_lead_agency(), "police");
  // Both people now carry the repeat-victim flag into every view.
  for (const char* id : {"C1", "C2"}) {
    ASSERT_THAT(Get(id).people(), SizeIs(1));
    EXPECT_TRUE(Get(id).people(0).repeat_victim()) << id;
  }
  EXPECT_TRUE(theirs->view().people(0).repeat_victim());
  // The index holds no name or date of birth.
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kVictimIndexColumnFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    EXPECT_THAT(it->key().ToString(), ::testing::Not(HasSubstr("1950")));
    EXPECT_THAT(it->key().ToString(), ::testing::Not(HasSubstr("argaret")));
  }
  // The feed updates the victim's details: the hub's flag (and her band) stays.
  Apply(Env("C1", R"("riskAssessed":{"personId":"pol-77","level":"RISK_LEVEL_MEDIUM"})"));
  LinkVictim("C1", "pol-77", "Margaret", "O'Neil-Hart", "1950-01-02");
  ASSERT_THAT(Get("C1").people(), SizeIs(1));
  EXPECT_EQ(Get("C1").people(0).family_name(), "O'Neil-Hart");
  EXPECT_TRUE(Get("C1").people(0).repeat_victim());
  EXPECT_EQ(Get("C1").people(0).risk_band(), asb::v1::RISK_LEVEL_MEDIUM);
  // A witness of the same name is not a victim: no suggestion.
  OpenCase("C3", "NSIR_CATEGORY_PERSONAL", "police");
  const std::vector<Disclosure> w =
      LinkVictim("C3", "pol-78", "Margaret", "O'Neil", "1950-01-02", "WITNESS");
  for (const Disclosure& d : w) {
    EXPECT_THAT(d.link_suggestions(), IsEmpty());
  }
}

TEST_F(VictimsSharingTest, WhereTheIspKeepsTheCasesApartOnlyTheCoordinatorIsTold) {
  // Housing leads a nuisance case the police may not see; the police lead a personal case
  // housing may not see (no council tenancy).
  OpenCase("C1", "NSIR_CATEGORY_PERSONAL", "police");
  OpenCase("H1", "NSIR_CATEGORY_NUISANCE", "housing", /*tenancy=*/true);
  LinkVictim("C1", "pol-1", "Ravi", "Shah", "1980-05-05");
  const std::vector<Disclosure> ds = LinkVictim("H1", "hou-9", "Ravi", "Shah", "1980-05-05");
  for (const Disclosure& d : ds) {
    if (d.agency() == "police" || d.agency() == "housing") {
      EXPECT_THAT(d.link_suggestions(), IsEmpty()) << d.agency();
    }
  }
  const Disclosure* coordinator = nullptr;
  for (const Disclosure& d : ds) {
    if (d.agency() == "partnership" && d.link_suggestions_size() > 0) {
      coordinator = &d;
    }
  }
  ASSERT_NE(coordinator, nullptr);
  EXPECT_TRUE(Alerted(coordinator, "victims:link_suggestion"));
  // The coordinator's own view (the ISP lets it see the case review, no people); the
  // suggestion names no person.
  EXPECT_THAT(coordinator->view().people(), IsEmpty());
  const asb::v1::LinkSuggestion& s = coordinator->link_suggestions(0);
  EXPECT_TRUE(s.details_withheld());
  EXPECT_TRUE(s.person_id().empty());
  EXPECT_TRUE(s.other_person_id().empty());
  EXPECT_THAT((std::set<std::string>{s.case_id(), s.other_case_id()}),
              UnorderedElementsAre("C1", "H1"));
}

// The ISP of testdata/isp-victims.yaml, written again by hand for the lead agencies used here:
// police see personal cases; community safety sees every case; housing sees council-tenancy cases.
bool OracleSees(const std::string& agency, const std::string& category, bool tenancy) {
  if (agency == "police") {
    return category == "NSIR_CATEGORY_PERSONAL";
  }
  if (agency == "community-safety") {
    return true;
  }
  if (agency == "housing") {
    return tenancy;
  }
  return false;
}

TEST_F(VictimsSharingTest, PropertyMatchingNeverRevealsACaseToAnAgencyThatMayNotSeeIt) {
  struct Shape {
    std::string category;
    std::string lead;
    bool tenancy;
  };
  const std::vector<std::string> categories = {"NSIR_CATEGORY_PERSONAL", "NSIR_CATEGORY_NUISANCE",
                                               "NSIR_CATEGORY_ENVIRONMENTAL"};
  const std::vector<std::string> leads = {"police", "community-safety", "housing"};
  const std::vector<std::pair<std::string, std::string>> names = {
      {"Ann", "Lee"}, {"Bob", "Kay"}, {"Cat", "Roe"}, {"Dev", "Nair"}};
  std::mt19937 rng(20261201);
  std::map<std::string, Shape> cases;
  // identity -> cases it is a victim in
  std::map<int, std::set<std::string>> victim_of;
  std::vector<Disclosure> all;
  for (int i = 0; i < 40; ++i) {
    const std::string id = absl::StrCat("K", i);
    Shape s{categories[rng() % categories.size()], leads[rng() % leads.size()], rng() % 2 == 0};
    // A lead agency sees its own case (police lead personal cases, housing tenancy cases).
    if (s.lead == "police") {
      s.category = "NSIR_CATEGORY_PERSONAL";
    } else if (s.lead == "housing") {
      s.tenancy = true;
    }
    cases[id] = s;
    OpenCase(id, s.category, s.lead, s.tenancy);
    const int who = static_cast<int>(rng() % names.size());
    // Each agency has its own person id for the same identity: only name and date of birth match.
    std::vector<Disclosure> ds =
        LinkVictim(id, absl::StrCat("p", i), names[who].first, names[who].second,
                   absl::StrCat("19", 60 + who, "-02-03"));
    victim_of[who].insert(id);
    all.insert(all.end(), ds.begin(), ds.end());
  }
  // (agency, {case, other case}) told with details; {case, other case} told without.
  std::set<std::pair<std::string, std::pair<std::string, std::string>>> suggested;
  std::set<std::pair<std::string, std::string>> withheld;
  auto pair_of = [](const std::string& x, const std::string& y) {
    return std::make_pair(std::min(x, y), std::max(x, y));
  };
  std::set<std::pair<std::string, uint64_t>> seen;  // (agency, event) once
  for (const Disclosure& d : all) {
    EXPECT_TRUE(seen.insert({d.agency(), d.event_seq()}).second)
        << d.agency() << " got two disclosures of event " << d.event_seq();
    for (const asb::v1::LinkSuggestion& s : d.link_suggestions()) {
      ASSERT_TRUE(cases.count(s.case_id()) && cases.count(s.other_case_id()));
      EXPECT_EQ(d.case_id(), s.case_id());
      const Shape& a = cases[s.case_id()];
      const Shape& b = cases[s.other_case_id()];
      if (s.details_withheld()) {
        EXPECT_EQ(d.agency(), "partnership");
        EXPECT_TRUE(s.person_id().empty() && s.other_person_id().empty());
        withheld.insert(pair_of(s.case_id(), s.other_case_id()));
        continue;
      }
      // A suggestion goes to one of the two lead agencies...
      EXPECT_TRUE(d.agency() == a.lead || d.agency() == b.lead) << d.agency();
      // ...and only where each lead agency may see the other case (the oracle, not the engine).
      EXPECT_TRUE(OracleSees(a.lead, b.category, b.tenancy))
          << a.lead << " told of " << s.other_case_id();
      EXPECT_TRUE(OracleSees(b.lead, a.category, a.tenancy))
          << b.lead << " told of " << s.case_id();
      suggested.insert({d.agency(), pair_of(s.case_id(), s.other_case_id())});
    }
    // Every view goes only to an agency that may see its case.
    if (d.has_view()) {
      const Shape& c = cases[d.case_id()];
      if (d.agency() == "police" || d.agency() == "community-safety" || d.agency() == "housing") {
        EXPECT_TRUE(OracleSees(d.agency(), c.category, c.tenancy))
            << d.agency() << " " << d.case_id();
      }
    }
  }
  // Completeness: every pair of cases sharing a victim was suggested to both leads, or withheld.
  std::size_t pairs = 0;
  for (const auto& [who, ids] : victim_of) {
    for (const std::string& x : ids) {
      for (const std::string& y : ids) {
        if (x >= y) {
          continue;
        }
        ++pairs;
        const bool both = OracleSees(cases[x].lead, cases[y].category, cases[y].tenancy) &&
                          OracleSees(cases[y].lead, cases[x].category, cases[x].tenancy);
        if (both) {
          EXPECT_TRUE(suggested.count({cases[x].lead, {x, y}}) &&
                      suggested.count({cases[y].lead, {x, y}}))
              << x << " " << y;
        } else {
          EXPECT_TRUE(withheld.count({x, y})) << x << " " << y;
        }
      }
    }
  }
  EXPECT_GT(pairs, 100u);
  EXPECT_FALSE(suggested.empty());
  EXPECT_FALSE(withheld.empty());
}

TEST_F(VictimsSharingTest, QueriesNeedTheOfficerAndAreAuditedWithIt) {
  OpenCase("C1", "NSIR_CATEGORY_PERSONAL", "police");
  OpenCase("C2", "NSIR_CATEGORY_PERSONAL", "community-safety");
  OpenCase("H1", "NSIR_CATEGORY_NUISANCE", "housing", true);
  Apply(Env("C1", kThreshold, true));
  Apply(Env("H1", R"("caseReviewApplied":{"applicationId":"A9"})"));
  LinkVictim("C1", "a", "Jo", "Bird", "1970-01-01");
  LinkVictim("C2", "b", "Jo", "Bird", "1970-01-01");
  LinkVictim("H1", "c", "Jo", "Bird", "1970-01-01");

  store::Batch batch = store_->NewBatch();
  asb::v1::ListCaseReviewsRequest list;
  EXPECT_THAT(
      handler_->ListCaseReviews("police-partner", "police", list, &batch),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.officer_id: required"));
  *list.mutable_on_behalf_of() = Officer();
  auto police = handler_->ListCaseReviews("police-partner", "police", list, &batch);
  ASSERT_TRUE(police.ok()) << police.status();
  ASSERT_THAT(police->reviews(), SizeIs(1));  // H1 is not the police's to see
  EXPECT_EQ(police->reviews(0).case_id(), "C1");
  EXPECT_EQ(police->reviews(0).case_review().status(), asb::v1::CASE_REVIEW_STATUS_THRESHOLD_MET);
  auto cs = handler_->ListCaseReviews("cs-partner", "community-safety", list, &batch);
  ASSERT_TRUE(cs.ok());
  ASSERT_THAT(cs->reviews(), SizeIs(2));
  EXPECT_EQ(cs->reviews(1).case_id(), "H1");
  EXPECT_EQ(cs->reviews(1).next_due(), "decision");
  list.set_status(asb::v1::CASE_REVIEW_STATUS_APPLIED);
  cs = handler_->ListCaseReviews("cs-partner", "community-safety", list, &batch);
  ASSERT_THAT(cs->reviews(), SizeIs(1));

  asb::v1::RepeatVictimsRequest repeat;
  EXPECT_THAT(handler_->RepeatVictims("police-partner", "police", repeat, &batch),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.reason: required"));
  *repeat.mutable_on_behalf_of() = Officer();
  auto pv = handler_->RepeatVictims("police-partner", "police", repeat, &batch);
  ASSERT_TRUE(pv.ok()) << pv.status();
  // The police see C1 and C2 (personal), not H1.
  ASSERT_THAT(pv->victims(), SizeIs(1));
  EXPECT_THAT(pv->victims(0).case_ids(), ElementsAre("C1", "C2"));
  auto cv = handler_->RepeatVictims("cs-partner", "community-safety", repeat, &batch);
  ASSERT_TRUE(cv.ok());
  ASSERT_THAT(cv->victims(), SizeIs(1));
  EXPECT_THAT(cv->victims(0).case_ids(), ElementsAre("C1", "C2", "H1"));
  auto hv = handler_->RepeatVictims("housing-partner", "housing", repeat, &batch);
  ASSERT_TRUE(hv.ok());
  EXPECT_THAT(hv->victims(), IsEmpty());  // housing sees one of the three
  ASSERT_TRUE(store_->Write(&batch).ok());

  std::vector<std::string> consulted;
  for (const asb::v1::AuditRecord& r : Audit()) {
    if (r.kind() == asb::v1::AUDIT_KIND_CONSULTATION) {
      EXPECT_EQ(r.on_behalf_of().officer_id(), "PC-4021");
      EXPECT_EQ(r.on_behalf_of().reason(), "case review panel, 3 December");
      consulted.push_back(absl::StrCat(r.actor_agency(), ":", r.case_id(), ":", r.detail()));
    }
  }
  EXPECT_THAT(
      consulted,
      UnorderedElementsAre(
          "police:C1:ListCaseReviews", "community-safety:C1:ListCaseReviews",
          "community-safety:H1:ListCaseReviews", "community-safety:H1:ListCaseReviews",
          "police:C1:RepeatVictims", "police:C2:RepeatVictims", "community-safety:C1:RepeatVictims",
          "community-safety:C2:RepeatVictims", "community-safety:H1:RepeatVictims"));
}

constexpr char kReassessmentDue[] = R"json("victimNotice":{
    "noticeId":"victims/reassessment_due/V1/I7","kind":"VICTIM_NOTICE_KIND_REASSESSMENT_DUE",
    "recipients":["police","housing"],"personId":"V1","band":"RISK_LEVEL_MEDIUM","incidentId":"I7",
    "context":{"ruleId":"risk-reassessment","section":"local procedure (no statutory limit)",
    "deadline":"2026-10-06T10:00:00Z","due":"reassess the victim's risk"}})json";

TEST_F(VictimsSharingTest, AVictimNoticeAlertsTheLeadAgencyTheIspLetsSeeTheCaseAndIsKeptOnce) {
  OpenCase("C1", "NSIR_CATEGORY_PERSONAL", "police");
  LinkVictim("C1", "V1", "Ann", "Hale", "1958-03-02");
  const std::vector<Disclosure> ds = Apply(Env("C1", kReassessmentDue, /*by_hub=*/true));
  const Disclosure* police = For(ds, "police");
  ASSERT_NE(police, nullptr);
  EXPECT_TRUE(Alerted(police, "victims:reassessment_due"));
  EXPECT_EQ(police->victim_notice_kind(), asb::v1::VICTIM_NOTICE_KIND_REASSESSMENT_DUE);
  EXPECT_EQ(police->statutory().rule_id(), "risk-reassessment");
  EXPECT_EQ(police->statutory().section(), "local procedure (no statutory limit)");
  ASSERT_THAT(police->view().victim_notices(), SizeIs(1));
  EXPECT_EQ(police->view().victim_notices(0).incident_id(), "I7");
  // Community safety sees the case but is not addressed: not alerted, so sent nothing.
  EXPECT_EQ(For(ds, "community-safety"), nullptr);
  // Housing may not see the case: the undelivered notice is on the record, named as such.
  EXPECT_EQ(For(ds, "housing"), nullptr);
  bool refused = false;
  for (const asb::v1::AuditRecord& r : Audit()) {
    refused = refused || (r.kind() == asb::v1::AUDIT_KIND_ACCESS_REFUSED &&
                          r.recipient_agency() == "housing" &&
                          absl::StartsWith(r.detail(), "victim notice (victims:reassessment_due"));
  }
  EXPECT_TRUE(refused);
  Apply(Env("C1", kReassessmentDue, true));
  EXPECT_THAT(Get("C1").victim_notices(), SizeIs(1));
}

TEST_F(VictimsSharingTest, AQueryRefusedForItsOfficerIsOnTheRecordBeforeAnyCaseIsRead) {
  OpenCase("C1", "NSIR_CATEGORY_PERSONAL", "police");
  store::Batch batch = store_->NewBatch();
  asb::v1::ListCaseReviewsRequest list;
  list.mutable_on_behalf_of()->set_officer_id("PC-4021");
  EXPECT_THAT(handler_->ListCaseReviews("police-partner", "police", list, &batch),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.reason"));
  asb::v1::RepeatVictimsRequest repeat;
  *repeat.mutable_on_behalf_of() = Officer();
  repeat.mutable_on_behalf_of()->set_purpose("curiosity");
  EXPECT_THAT(handler_->RepeatVictims("police-partner", "police", repeat, &batch),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "is not a purpose of the ISP"));
  ASSERT_TRUE(store_->Write(&batch).ok());
  std::vector<std::string> refused;
  for (const asb::v1::AuditRecord& r : Audit()) {
    if (r.kind() == asb::v1::AUDIT_KIND_ACCESS_REFUSED) {
      refused.push_back(r.detail().substr(0, r.detail().find(':')));
      EXPECT_EQ(r.actor_agency(), "police");
      EXPECT_EQ(r.on_behalf_of().officer_id(), "PC-4021");
    }
  }
  EXPECT_THAT(refused, ElementsAre("ListCaseReviews refused", "RepeatVictims refused"));
}

}  // namespace
}  // namespace asb::sharing
