// The aggregates asb-sharing keeps as it folds events, and the hot spots and indicators it
// answers from them: counts exact (and exactly once when a batch is abandoned), a correction
// moving a count, small cells suppressed, the statistical rule flagging a known spike and
// nothing else, the ISP deciding who may ask, and every answer audited with its OnBehalfOf.

#include "services/sharing/intelligence_handler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "asb/v1/audit.pb.h"
#include "asb/v1/envelope.pb.h"
#include "common/policy/policy.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "common/victims/case_review.h"
#include "services/sharing/aggregates.h"
#include "services/sharing/case_folder.h"
#include "services/sharing/sharing_handler.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::sharing {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
using asb::v1::Envelope;
using ::testing::HasSubstr;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 26, 12, 0, 0), absl::UTCTimeZone());

int64_t MonthStart(int year, int month) {
  return absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(year, month, 1, 0, 0, 0), absl::UTCTimeZone()));
}

class IntelligenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions options;
    options.path = dir_.Sub("db");
    options.sync = false;
    options.column_families = SharingColumnFamilies();
    auto store = store::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto disclosures = stream::Log::Open(store_.get(), "disclosures", "sharing");
    ASSERT_TRUE(disclosures.ok());
    disclosures_ = std::move(*disclosures);
    auto audit = stream::Log::Open(store_.get(), "audit", "sharing");
    ASSERT_TRUE(audit.ok());
    audit_ = std::move(*audit);
    folder_ = std::make_unique<CaseFolder>(store_.get());
    aggregates_ = std::make_unique<Aggregates>(store_.get());
    handler_ = std::make_unique<SharingHandler>(folder_.get(), disclosures_.get(), audit_.get(),
                                                [] { return kNow; });
    handler_->SetAggregates(aggregates_.get());
    intel_ =
        std::make_unique<IntelligenceHandler>(aggregates_.get(), audit_.get(), [] { return kNow; });
    auto policy =
        policy::Policy::LoadFile(std::string(ASB_SHARING_TESTDATA) + "/isp-aggregates.yaml");
    ASSERT_TRUE(policy.ok()) << policy.status();
    handler_->SetPolicy(*policy);
    intel_->SetPolicy(*policy);
  }

  Envelope Next(asb::v1::CaseEvent event, const std::string& agency = "police") {
    Envelope env;
    env.set_seq(++seq_);
    env.mutable_accepted_event()->set_source(agency + "-feed");
    env.mutable_accepted_event()->set_source_agency(agency);
    event.set_source_event_id(absl::StrCat("e", seq_));
    *env.mutable_accepted_event()->mutable_event() = std::move(event);
    return env;
  }

  // Opens case `id` in `lsoa` at `when`.
  void Open(const std::string& id, const std::string& lsoa, int64_t when,
            bool intelligence = false) {
    asb::v1::CaseEvent e;
    e.set_case_id(id);
    e.mutable_occurred_at()->set_seconds(when);
    auto* o = e.mutable_case_opened();
    o->set_nsir_category(asb::v1::NSIR_CATEGORY_NUISANCE);
    o->set_title("t");
    o->set_lead_agency("police");
    o->mutable_location()->set_lsoa_code(lsoa);
    o->mutable_flags()->set_area_intelligence(intelligence);
    ApplyOne(Next(e));
  }

  asb::v1::CaseEvent IncidentEvent(
      const std::string& case_id, const std::string& incident_id, const std::string& lsoa,
      int64_t when, asb::v1::NsirCategory category = asb::v1::NSIR_CATEGORY_NUISANCE) {
    asb::v1::CaseEvent e;
    e.set_case_id(case_id);
    e.mutable_occurred_at()->set_seconds(when);
    auto* inc = e.mutable_incident_reported()->mutable_incident();
    inc->set_incident_id(incident_id);
    inc->set_category(category);
    *inc->mutable_occurred_at() = e.occurred_at();
    inc->mutable_location()->set_lsoa_code(lsoa);
    inc->mutable_location()->set_lsoa_name(absl::StrCat("Testshire ", lsoa.substr(5)));
    inc->mutable_location()->set_district("Testshire");
    inc->mutable_location()->set_ward("Ward " + lsoa.substr(7));
    inc->mutable_location()->set_description("On or near High Street");
    return e;
  }

  void ApplyOne(const Envelope& env) {
    store::Batch batch = store_->NewBatch();
    ASB_ASSERT_OK(handler_->ApplyEvent(env, &batch));
    ASB_ASSERT_OK(store_->Write(&batch));
  }

  // n incidents of case `case_id` (opened) in `lsoa` during the month starting `month_start`.
  void Incidents(const std::string& case_id, const std::string& lsoa, int64_t month_start, int n) {
    store::Batch batch = store_->NewBatch();
    for (int i = 0; i < n; ++i) {
      ASB_ASSERT_OK(handler_->ApplyEvent(
          Next(IncidentEvent(case_id, absl::StrCat("I", seq_ + 1), lsoa, month_start + 3600 * i)),
          &batch));
    }
    ASB_ASSERT_OK(store_->Write(&batch));
  }

  asb::v1::HotspotsRequest Ask(const std::string& month) {
    asb::v1::HotspotsRequest q;
    q.set_month(month);
    q.mutable_on_behalf_of()->set_officer_id("PC 4021");
    q.mutable_on_behalf_of()->set_reason("tasking group, monthly hot spots");
    return q;
  }

  absl::StatusOr<asb::v1::HotspotsResponse> Hotspots(const asb::v1::HotspotsRequest& q,
                                                     const std::string& agency = "police") {
    store::Batch batch = store_->NewBatch();
    auto r = intel_->Hotspots(agency + "-partner", agency, q, &batch);
    EXPECT_TRUE(store_->Write(&batch).ok());
    return r;
  }

  // The police's indicators of [from, to], on behalf of an officer (the audit record unwritten).
  absl::StatusOr<asb::v1::IndicatorsResponse> Indicators(const std::string& from,
                                                         const std::string& to) {
    asb::v1::IndicatorsRequest q;
    q.set_from_month(from);
    q.set_to_month(to);
    q.mutable_on_behalf_of()->set_officer_id("PC 4021");
    q.mutable_on_behalf_of()->set_reason("annual report");
    store::Batch batch = store_->NewBatch();
    return intel_->Indicators("police-partner", "police", q, &batch);
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

  asb::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<stream::Log> disclosures_;
  std::unique_ptr<stream::Log> audit_;
  std::unique_ptr<CaseFolder> folder_;
  std::unique_ptr<Aggregates> aggregates_;
  std::unique_ptr<SharingHandler> handler_;
  std::unique_ptr<IntelligenceHandler> intel_;
  uint64_t seq_ = 0;
};

TEST_F(IntelligenceTest, CountsIncidentsByMonthAreaCategoryAndSourceAtEveryLevel) {
  const int64_t oct = MonthStart(2018, 10);
  Open("C1", "E01000001", oct);
  Incidents("C1", "E01000001", oct, 4);
  Incidents("C1", "E01000002", oct, 2);
  std::map<std::string, uint64_t> lsoa, district;
  ASB_ASSERT_OK(aggregates_->ForEachIncident(asb::v1::AREA_LEVEL_LSOA, "2018-10",
                                             [&](const Aggregates::IncidentCount& c) {
                                               EXPECT_EQ(c.category, "nuisance");
                                               EXPECT_EQ(c.source, "police");
                                               lsoa[c.area] += c.count;
                                             }));
  ASB_ASSERT_OK(aggregates_->ForEachIncident(
      asb::v1::AREA_LEVEL_DISTRICT, "2018-10",
      [&](const Aggregates::IncidentCount& c) { district[c.area] += c.count; }));
  EXPECT_EQ(lsoa, (std::map<std::string, uint64_t>{{"E01000001", 4}, {"E01000002", 2}}));
  EXPECT_EQ(district, (std::map<std::string, uint64_t>{{"Testshire", 6}}));
  EXPECT_EQ(aggregates_->LsoaName("E01000001"), "Testshire 0001");
  auto cases = aggregates_->CaseCounts("2018-10");
  ASB_ASSERT_OK(cases.status());
  EXPECT_EQ((*cases)["opened"], 1u);
}

TEST_F(IntelligenceTest, ACorrectionMovesTheIncidentInsteadOfCountingItTwice) {
  const int64_t oct = MonthStart(2018, 10);
  Open("C1", "E01000001", oct);
  ApplyOne(Next(IncidentEvent("C1", "INC-7", "E01000001", oct + 60)));
  // The reporting system corrects the place (same incident id).
  ApplyOne(Next(IncidentEvent("C1", "INC-7", "E01000002", oct + 60)));
  std::map<std::string, uint64_t> lsoa;
  ASB_ASSERT_OK(aggregates_->ForEachIncident(
      asb::v1::AREA_LEVEL_LSOA, "2018-10",
      [&](const Aggregates::IncidentCount& c) { lsoa[c.area] += c.count; }));
  EXPECT_EQ(lsoa, (std::map<std::string, uint64_t>{{"E01000002", 1}}));
}

TEST_F(IntelligenceTest, AnAbandonedBatchCountsNothingAndItsRetryCountsOnce) {
  const int64_t oct = MonthStart(2018, 10);
  Open("C1", "E01000001", oct);
  const Envelope env = Next(IncidentEvent("C1", "INC-1", "E01000001", oct + 60));
  {
    store::Batch lost = store_->NewBatch();
    ASB_ASSERT_OK(handler_->ApplyEvent(env, &lost));
    // Not written: the daemon died before the write (kill -9). The consumer re-fetches.
  }
  store::Batch retry = store_->NewBatch();
  ASB_ASSERT_OK(handler_->ApplyEvent(env, &retry));
  ASB_ASSERT_OK(store_->Write(&retry));
  uint64_t total = 0;
  ASB_ASSERT_OK(
      aggregates_->ForEachIncident(asb::v1::AREA_LEVEL_LSOA, "2018-10",
                                   [&](const Aggregates::IncidentCount& c) { total += c.count; }));
  EXPECT_EQ(total, 1u);
}

TEST_F(IntelligenceTest, AKnownSpikeIsTheOnlyEmergingHotSpotAmongStableAreas) {
  // 40 areas with Poisson(6) incidents a month for six months; in the seventh, area 17 has 30.
  std::mt19937 rng(20181001);
  std::poisson_distribution<int> poisson(6.0);
  std::map<std::string, uint64_t> baseline;
  for (int a = 0; a < 40; ++a) {
    Open(absl::StrCat("C", a), absl::StrCat("E010000", 10 + a), MonthStart(2018, 4));
  }
  for (int m = 4; m <= 10; ++m) {
    for (int a = 0; a < 40; ++a) {
      const int n = (m == 10 && a == 17) ? 30 : poisson(rng);
      const std::string lsoa = absl::StrCat("E010000", 10 + a);
      if (m < 10) {
        baseline[lsoa] += n;
      }
      Incidents(absl::StrCat("C", a), lsoa, MonthStart(2018, m), n);
    }
  }
  asb::v1::HotspotsRequest q = Ask("2018-10");
  q.set_top(40);
  auto r = Hotspots(q);
  ASB_ASSERT_OK(r.status());
  EXPECT_EQ(r->baseline_months_with_data_size(), 6);
  EXPECT_EQ(r->areas_tested(), 40u);
  EXPECT_EQ(r->areas_emerging(), 1u);
  EXPECT_THAT(r->rule(), HasSubstr("Benjamini-Hochberg"));
  ASSERT_GE(r->areas_size(), 2);
  const asb::v1::HotspotArea& top = r->areas(0);
  EXPECT_EQ(top.area(), "E01000027");
  EXPECT_EQ(top.name(), "Testshire 0027");
  EXPECT_EQ(top.count(), 30u);
  EXPECT_TRUE(top.emerging());
  EXPECT_EQ(top.baseline_months(), 6u);
  EXPECT_EQ(top.baseline_total(), baseline["E01000027"]);
  EXPECT_DOUBLE_EQ(top.expected(), baseline["E01000027"] / 6.0);
  EXPECT_LT(top.p_value(), 1e-6);
  EXPECT_LE(top.p_value(), top.q_value());
  for (int i = 1; i < r->areas_size(); ++i) {
    EXPECT_FALSE(r->areas(i).emerging()) << r->areas(i).area();
    EXPECT_GE(r->areas(i).count(), 3u) << "a cell below the threshold was listed";
  }
}

TEST_F(IntelligenceTest, SmallCellsAreWithheldAndThePValueOfASmallBaselineIsBanded) {
  const int64_t nov = MonthStart(2018, 11);
  Open("C1", "E01000001", nov);
  Incidents("C1", "E01000001", MonthStart(2018, 10), 2);  // a baseline below the threshold
  Incidents("C1", "E01000001", nov, 9);
  Incidents("C1", "E01000002", nov, 2);  // below the threshold: tested, never listed
  auto r = Hotspots(Ask("2018-11"));
  ASB_ASSERT_OK(r.status());
  EXPECT_EQ(r->suppress_below(), 3u);
  EXPECT_EQ(r->areas_tested(), 2u);
  EXPECT_EQ(r->areas_suppressed(), 1u);
  ASSERT_EQ(r->areas_size(), 1);
  const auto& a = r->areas(0);
  EXPECT_EQ(a.count(), 9u);
  EXPECT_TRUE(a.baseline_suppressed());
  EXPECT_EQ(a.baseline_total(), 0u);
  EXPECT_EQ(a.expected(), 0);
  EXPECT_TRUE(a.p_value() == 0.001 || a.p_value() == 0.01 || a.p_value() == 0.05 ||
              a.p_value() == 1.0)
      << a.p_value();
}

TEST_F(IntelligenceTest, WithoutABaselineAreasAreRankedByCountAndNoneIsFlagged) {
  const int64_t oct = MonthStart(2018, 10);
  Open("C1", "E01000001", oct);
  Incidents("C1", "E01000001", oct, 5);
  Incidents("C1", "E01000002", oct, 8);
  Incidents("C1", "E01000003", oct, 5);
  auto r = Hotspots(Ask("2018-10"));
  ASB_ASSERT_OK(r.status());
  ASSERT_EQ(r->areas_size(), 3);
  EXPECT_EQ(r->areas(0).area(), "E01000002");
  EXPECT_EQ(r->areas(1).area(), "E01000001");
  EXPECT_EQ(r->areas(2).area(), "E01000003");
  for (const auto& a : r->areas()) {
    EXPECT_TRUE(a.no_baseline());
    EXPECT_FALSE(a.emerging());
  }
  EXPECT_EQ(r->total(), 18u);
}

TEST_F(IntelligenceTest, TheIspDecidesWhoMayAskAndEveryAnswerIsAuditedWithItsOfficer) {
  Open("C1", "E01000001", MonthStart(2018, 10));
  Incidents("C1", "E01000001", MonthStart(2018, 10), 5);
  EXPECT_THAT(Hotspots(Ask("2018-10"), "fire"), StatusIs(absl::StatusCode::kPermissionDenied));
  ASB_ASSERT_OK(Hotspots(Ask("2018-10"), "police").status());
  int refused = 0, consulted = 0;
  for (const auto& rec : Audit()) {
    if (rec.kind() == asb::v1::AUDIT_KIND_ACCESS_REFUSED) {
      ++refused;
      EXPECT_EQ(rec.actor_agency(), "fire");
    }
    if (rec.kind() == asb::v1::AUDIT_KIND_CONSULTATION) {
      ++consulted;
      EXPECT_EQ(rec.actor(), "police-partner");
      EXPECT_EQ(rec.on_behalf_of().officer_id(), "PC 4021");
      EXPECT_EQ(rec.on_behalf_of().reason(), "tasking group, monthly hot spots");
      ASSERT_EQ(rec.justifications_size(), 1);
      EXPECT_EQ(rec.justifications(0).lawful_basis(), "Crime and Disorder Act 1998 s.17A");
      EXPECT_TRUE(rec.case_id().empty());
      EXPECT_THAT(rec.detail(), HasSubstr("Hotspots 2018-10 by lsoa"));
    }
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(consulted, 1);
}

TEST_F(IntelligenceTest, AQueryWithoutOfficerOrReasonIsRefusedNamingWhatIsMissing) {
  asb::v1::HotspotsRequest q = Ask("2018-10");
  q.mutable_on_behalf_of()->clear_officer_id();
  EXPECT_THAT(Hotspots(q),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.officer_id"));
  q = Ask("2018-10");
  q.mutable_on_behalf_of()->clear_reason();
  EXPECT_THAT(Hotspots(q), StatusIsWith(absl::StatusCode::kInvalidArgument, "on_behalf_of.reason"));
  q = Ask("2018-13");
  EXPECT_THAT(Hotspots(q), StatusIsWith(absl::StatusCode::kInvalidArgument, "month"));
  q = Ask("2018-10");
  q.set_category("burglary");
  EXPECT_THAT(Hotspots(q), StatusIsWith(absl::StatusCode::kInvalidArgument, "category"));
}

TEST_F(IntelligenceTest, IndicatorsCountCasesOrdersAndTimeToFirstAction) {
  const int64_t oct = MonthStart(2018, 10);
  Open("C1", "E01000001", oct);
  Open("PUK-E01000001-2018-10", "E01000001", oct, /*intelligence=*/true);
  Incidents("C1", "E01000001", oct, 4);  // first incident at oct
  asb::v1::CaseEvent issue;
  issue.set_case_id("C1");
  issue.mutable_occurred_at()->set_seconds(oct + 10 * 86400 + 5);
  auto* o = issue.mutable_order_issued()->mutable_order();
  o->set_order_id("ABC-1");
  o->set_type(asb::v1::ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT);
  ApplyOne(Next(issue));
  asb::v1::CaseEvent breach;
  breach.set_case_id("C1");
  breach.mutable_occurred_at()->set_seconds(oct + 20 * 86400);
  breach.mutable_order_breached()->set_order_id("ABC-1");
  ApplyOne(Next(breach));
  asb::v1::CaseEvent close;
  close.set_case_id("C1");
  close.mutable_occurred_at()->set_seconds(MonthStart(2018, 11) + 60);
  close.mutable_case_closed()->set_reason("resolved");
  ApplyOne(Next(close));

  // With threshold 1 nothing is withheld here; the shipped threshold is in the ISP.
  auto r = Indicators("2018-10", "2018-11");
  ASB_ASSERT_OK(r.status());
  ASSERT_EQ(r->by_month_size(), 2);
  const auto& m10 = r->by_month(0);
  const auto& m11 = r->by_month(1);
  EXPECT_EQ(m10.asb_incidents().count(), 4u);
  EXPECT_TRUE(m10.cases_opened().suppressed());  // 1 < 3
  EXPECT_EQ(m10.intelligence_pictures(), 1u);
  EXPECT_TRUE(m10.cases_open_at_end().suppressed());
  EXPECT_EQ(m11.cases_open_at_end().count(), 0u);
  EXPECT_FALSE(m11.cases_open_at_end().suppressed());
  EXPECT_TRUE(m10.first_actions().suppressed());
  EXPECT_EQ(m10.case_reviews().count(), 0u);
  ASSERT_EQ(r->orders_size(), 1);
  EXPECT_EQ(r->orders(0).order_type(), "ORDER_TYPE_ACCEPTABLE_BEHAVIOUR_CONTRACT");
  EXPECT_TRUE(r->orders(0).issued().suppressed());
  ASSERT_EQ(r->top_areas_size(), 1);
  EXPECT_EQ(r->top_areas(0).area(), "Testshire");
  EXPECT_EQ(r->top_areas(0).total().count(), 4u);
  // C1 is a real case: its "On or near High Street" is that case's place, personal data, so it is
  // not kept as a repeat location (only police.uk's published snap points of area pictures are).
  EXPECT_EQ(r->repeat_locations_size(), 0);
  // The first action came 10 days after the first incident.
  int days = -1;
  ASB_ASSERT_OK(aggregates_->ForEachFirstAction("2018-10", [&](uint32_t d, uint64_t n) {
    days = static_cast<int>(d);
    EXPECT_EQ(n, 1u);
  }));
  EXPECT_EQ(days, 10);
}

// The case review indicators (issue 15) come from the case review state each event leaves on the
// case: applications received, decisions (threshold met, late against the procedure's decision
// time), days from application to decision, reviews completed, appeals; small counts withheld.
TEST_F(IntelligenceTest, IndicatorsCountCaseReviewsFromTheCaseReviewState) {
  auto procedure = victims::CaseReviewProcedure::LoadFile(
      std::string(ASB_SOURCE_DIR) + "/config/casereview/derbyshire.yaml", {});
  ASSERT_TRUE(procedure.ok()) << procedure.status();
  folder_->SetCaseReviewProcedure(*procedure);  // decision_days 10
  const int64_t oct = MonthStart(2018, 10);
  const int64_t day = 86400;
  auto step = [&](const std::string& case_id, int64_t at, auto fill) {
    asb::v1::CaseEvent e;
    e.set_case_id(case_id);
    e.mutable_occurred_at()->set_seconds(at);
    fill(&e);
    ApplyOne(Next(e));
  };
  for (const std::string id : {"C1", "C2", "C3", "C4"}) {
    Open(id, "E01000001", oct);
    step(id, oct + day, [&](asb::v1::CaseEvent* e) {
      e->mutable_case_review_applied()->set_application_id("A-" + id);
    });
  }
  // Decided after 3 days (met), 5 days (not met), 12 days (met, two days late); C4 undecided.
  const std::vector<std::tuple<std::string, int, bool>> decisions = {
      {"C1", 3, true}, {"C2", 5, false}, {"C3", 12, true}};
  for (const auto& [id, days, met] : decisions) {
    step(id, oct + day + days * day, [&](asb::v1::CaseEvent* e) {
      e->mutable_case_review_decided()->set_application_id("A-" + id);
      e->mutable_case_review_decided()->set_threshold_met(met);
    });
  }
  step("C1", oct + 20 * day, [&](asb::v1::CaseEvent* e) {
    e->mutable_case_review_completed()->set_application_id("A-C1");
  });
  step("C2", MonthStart(2018, 11) + day, [&](asb::v1::CaseEvent* e) {
    e->mutable_case_review_appealed()->set_application_id("A-C2");
  });

  auto r = Indicators("2018-10", "2018-11");
  ASB_ASSERT_OK(r.status());
  ASSERT_EQ(r->by_month_size(), 2);
  const auto& m10 = r->by_month(0);
  const auto& m11 = r->by_month(1);
  EXPECT_EQ(m10.case_reviews().count(), 4u);                   // applications
  EXPECT_EQ(m10.case_review_decisions().count(), 3u);          // C1, C2, C3
  EXPECT_TRUE(m10.case_review_thresholds_met().suppressed());  // 2 < 3
  EXPECT_TRUE(m10.case_review_decisions_late().suppressed());  // 1 (C3)
  EXPECT_DOUBLE_EQ(m10.case_review_decision_median_days(), 5.0);
  EXPECT_NEAR(m10.case_review_decision_mean_days(), 20.0 / 3, 1e-9);
  EXPECT_TRUE(m10.case_reviews_completed().suppressed());
  EXPECT_EQ(m10.case_review_appeals().count(), 0u);
  EXPECT_FALSE(m10.case_review_appeals().suppressed());
  EXPECT_TRUE(m11.case_review_appeals().suppressed());  // C2's, in November
  EXPECT_EQ(m11.case_reviews().count(), 0u);
  EXPECT_EQ(m11.case_review_decision_median_days(), 0.0);
  // The counts underneath, unsuppressed: the late decision is C3's.
  auto counts = aggregates_->CaseReviewCounts("2018-10");
  ASB_ASSERT_OK(counts.status());
  EXPECT_EQ((*counts)["met"], 2u);
  EXPECT_EQ((*counts)["late"], 1u);
  EXPECT_EQ((*counts)["completed"], 1u);
  std::vector<uint32_t> days;
  ASB_ASSERT_OK(aggregates_->ForEachCaseReviewDecision(
      "2018-10", [&](uint32_t d, uint64_t n) { days.insert(days.end(), n, d); }));
  EXPECT_THAT(days, ::testing::ElementsAre(3, 5, 12));
}

}  // namespace
}  // namespace asb::sharing
