// Case retention and the agreement's notices (services/sharing/retention.h) on the hub's durable
// timers (clock::TimerStore, tested in tests/common/clock), on a real store with a clock the
// tests move.
#include "services/sharing/retention.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "common/agreement/agreement.h"
#include "services/sharing/victim_matching.h"
#include "tests/services/sharing/sharing_fixture.h"
#include "tests/support/status_matchers.h"

namespace asb::sharing {
namespace {

using ::asb::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

absl::Time At(int y, int m, int d) {
  return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone());
}

// Cases closed on 2026-10-01 (the events' occurred_at), kept 30 days (isp-agreement.yaml).
constexpr char kClosed[] = R"("caseClosed":{"reason":"Resolved: tenancy ended"})";
const absl::Time kClosedAt = absl::FromCivil(absl::CivilHour(2026, 10, 1, 10), absl::UTCTimeZone());

class RetentionTest : public SharingFixture {
 protected:
  void SetUp() override {
    SharingFixture::SetUp();
    retention_ =
        std::make_unique<Retention>(store_.get(), folder_.get(), disclosures_.get(),
                                    erasures_.get(), audit_.get(), [this] { return now_; });
    handler_->SetRetention(retention_.get());
  }
  std::string isp_file() const override { return "isp-agreement.yaml"; }

  // A personal-ASB case of a council tenant, seen by the council, the police and housing.
  void OpenTenantCase(const std::string& case_id, uint64_t first_seq) {
    Apply(Env(first_seq, case_id, kPersonalOpened));
    Apply(Env(first_seq + 1, case_id, kTenantLinked));
  }

  // DeleteExpired at the current clock, written; returns the erasures.
  std::vector<asb::v1::CaseErasure> Run() {
    store::Batch batch = store_->NewBatch();
    auto erasures = retention_->DeleteExpired(*policy_, 100, &batch);
    EXPECT_TRUE(erasures.ok()) << erasures.status();
    EXPECT_TRUE(store_->Write(&batch).ok());
    return erasures.ok() ? *erasures : std::vector<asb::v1::CaseErasure>();
  }

  std::vector<Envelope> Read(stream::Log* log, uint64_t from) {
    std::vector<Envelope> out;
    if (log->head() >= from) {
      EXPECT_TRUE(log->Read(from, 1000, &out).ok());
    }
    return out;
  }

  std::unique_ptr<Retention> retention_;
};

TEST_F(RetentionTest, AClosedCaseIsDeletedOnceItsRetentionHasRun) {
  OpenTenantCase("C", 1);
  OpenTenantCase("OPEN", 10);  // never closed: kept
  Apply(Env(3, "C", kClosed));
  const uint64_t disclosures_before = disclosures_->head();
  const uint64_t audit_before = audit_->head();

  // Day 29 after closure: kept.
  now_ = kClosedAt + absl::Hours(24 * 30) - absl::Minutes(1);
  EXPECT_FALSE(retention_->AnyExpired(*policy_).value());
  EXPECT_THAT(Run(), IsEmpty());
  ASB_EXPECT_OK(folder_->Get("C").status());

  // Thirty days on: deleted.
  now_ = kClosedAt + absl::Hours(24 * 30);
  EXPECT_TRUE(retention_->AnyExpired(*policy_).value());
  std::vector<asb::v1::CaseErasure> erasures = Run();
  ASSERT_EQ(erasures.size(), 1u);
  EXPECT_EQ(erasures[0].case_id(), "C");
  EXPECT_THAT(erasures[0].reference(), HasSubstr("TEST-DSA-SHARING case data 30 days"));
  EXPECT_THAT(folder_->Get("C"), StatusIs(absl::StatusCode::kNotFound));
  ASB_EXPECT_OK(folder_->Get("OPEN").status());

  // Every agency that was sent the case (alerted by "people") is told to review its copies: a
  // hub notice, no view. The police may see the case but were never sent it: not told.
  std::vector<Envelope> notices = Read(disclosures_.get(), disclosures_before + 1);
  std::vector<std::string> told;
  for (const Envelope& e : notices) {
    const Disclosure& d = e.disclosure();
    told.push_back(d.agency());
    EXPECT_EQ(d.case_id(), "C");
    EXPECT_FALSE(d.has_view());
    EXPECT_THAT(d.notification_rules(), ElementsAre(agreement::kCaseDeletedNoticeRule));
    EXPECT_EQ(d.notice().kind(), asb::v1::HubNotice::KIND_CASE_DELETED);
    EXPECT_EQ(d.notice().retention_days(), 30u);
    EXPECT_EQ(d.notice().date().seconds(), absl::ToUnixSeconds(kClosedAt));
    EXPECT_THAT(d.notice().text(), HasSubstr("Review the copies your agency holds"));
    EXPECT_EQ(d.notice().text().find("Margaret"), std::string::npos);
  }
  EXPECT_THAT(told, UnorderedElementsAre("council", "housing"));

  // The erasure for intake and notify, and the deletion on the record with its subjects.
  std::vector<Envelope> erased = Read(erasures_.get(), 1);
  ASSERT_EQ(erased.size(), 1u);
  EXPECT_EQ(erased[0].case_erasure().case_id(), "C");
  std::vector<Envelope> audit = Read(audit_.get(), audit_before + 1);
  ASSERT_EQ(audit.size(), 1u);
  const asb::v1::AuditRecord& r = audit[0].audit();
  EXPECT_EQ(r.kind(), asb::v1::AUDIT_KIND_ERASURE);
  EXPECT_EQ(r.case_id(), "C");
  EXPECT_THAT(r.subject_keys(), ElementsAre(policy_->SubjectKey("P1")));
  EXPECT_THAT(r.detail(), HasSubstr("closed 2026-10-01, kept 30 days"));
  EXPECT_THAT(r.detail(), HasSubstr("2 recipient agencies"));
  EXPECT_EQ(retention_->cases_deleted(), 1u);

  // Once: nothing more later.
  now_ += absl::Hours(24 * 365);
  EXPECT_THAT(Run(), IsEmpty());
  EXPECT_EQ(erasures_->head(), 1u);
}

// The victim index (issue 15) keeps a case's id, its victims' ids and their match keys in its
// keys: deleted with the case, the other case's entries kept.
TEST_F(RetentionTest, ADeletedCaseLeavesNothingInTheVictimIndex) {
  VictimIndex index(store_.get());
  handler_->SetVictimIndex(&index);
  retention_->SetVictimIndex(&index);
  OpenTenantCase("C", 1);
  OpenTenantCase("OPEN", 10);  // the same victim (P1): matched, both cases indexed
  Apply(Env(3, "C", kClosed));
  auto cases_in_index = [&] {
    std::set<std::string> cases;
    std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kVictimIndexColumnFamily);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string k = it->key().ToString();
      const std::size_t a = k.find('\0');
      cases.insert(k.substr(a + 1, k.find('\0', a + 1) - a - 1));
    }
    return cases;
  };
  ASSERT_THAT(cases_in_index(), ElementsAre("C", "OPEN"));
  now_ = kClosedAt + absl::Hours(24 * 30);
  ASSERT_EQ(Run().size(), 1u);
  EXPECT_THAT(cases_in_index(), ElementsAre("OPEN"));
}

// A batch that never reaches the disk (kill -9 before the write) deletes nothing: the timer is
// still there and fires when the loop next looks. Written, it never fires again.
TEST_F(RetentionTest, FiresExactlyOnceAcrossALostBatch) {
  OpenTenantCase("C", 1);
  Apply(Env(3, "C", kClosed));
  now_ = kClosedAt + absl::Hours(24 * 31);
  {
    store::Batch lost = store_->NewBatch();
    auto erasures = retention_->DeleteExpired(*policy_, 100, &lost);
    ASB_ASSERT_OK(erasures);
    EXPECT_EQ(erasures->size(), 1u);
  }  // dropped unwritten
  ASB_EXPECT_OK(folder_->Get("C").status());
  EXPECT_EQ(erasures_->head(), 0u);
  EXPECT_EQ(Run().size(), 1u);
  EXPECT_THAT(Run(), IsEmpty());
  EXPECT_EQ(erasures_->head(), 1u);
}

// Retention counts from the last closure, and a reviewed agreement's retention applies to
// every closed case with nothing to reschedule.
TEST_F(RetentionTest, CountsFromTheLastClosureUnderTheRetentionInForce) {
  OpenTenantCase("C", 1);
  Apply(Env(3, "C", kClosed));
  Envelope again = Env(4, "C", kClosed);
  again.mutable_accepted_event()->mutable_event()->mutable_occurred_at()->set_seconds(
      absl::ToUnixSeconds(kClosedAt + absl::Hours(24 * 10)));
  Apply(again);
  now_ = kClosedAt + absl::Hours(24 * 35);
  EXPECT_THAT(Run(), IsEmpty());  // 25 days after the second closure
  now_ = kClosedAt + absl::Hours(24 * 40);
  EXPECT_EQ(Run().size(), 1u);

  // An agreement without case retention keeps closed cases.
  OpenTenantCase("D", 20);
  Apply(Env(22, "D", kClosed));
  auto keep = policy::Policy::LoadFile(std::string(ASB_SHARING_TESTDATA) + "/isp.yaml");
  ASB_ASSERT_OK(keep);
  now_ = kClosedAt + absl::Hours(24 * 400);
  store::Batch batch = store_->NewBatch();
  auto none = retention_->DeleteExpired(**keep, 100, &batch);
  ASB_ASSERT_OK(none);
  EXPECT_THAT(*none, IsEmpty());
  EXPECT_TRUE(batch.empty());
}

TEST_F(RetentionTest, BackfillGivesOldClosedCasesTheirTimersOnce) {
  // Folded without retention (a store from before it): no timers.
  handler_->SetRetention(nullptr);
  OpenTenantCase("OLD", 1);
  Apply(Env(3, "OLD", kClosed));
  OpenTenantCase("OPEN", 10);
  handler_->SetRetention(retention_.get());
  now_ = kClosedAt + absl::Hours(24 * 60);
  EXPECT_THAT(Run(), IsEmpty());
  auto set = retention_->Backfill();
  ASB_ASSERT_OK(set);
  EXPECT_EQ(*set, 1);
  EXPECT_EQ(*retention_->Backfill(), 0);  // once
  ASSERT_EQ(Run().size(), 1u);
  // The recipients of a case folded before retention are unknown: nobody is told, the
  // deletion is still recorded.
  EXPECT_THAT(Audit().back().detail(), HasSubstr("0 recipient agencies"));
}

// The coordinator hears once at the reminder and once when the review is overdue.
TEST_F(RetentionTest, TheCoordinatorIsToldOncePerReviewStage) {
  auto notice = [this]() -> std::vector<Disclosure> {
    const uint64_t before = disclosures_->head();
    store::Batch batch = store_->NewBatch();
    auto sent = retention_->NoticeReview(*policy_, &batch);
    EXPECT_TRUE(sent.ok()) << sent.status();
    EXPECT_TRUE(store_->Write(&batch).ok());
    std::vector<Disclosure> out;
    for (const Envelope& e : Read(disclosures_.get(), before + 1)) {
      out.push_back(e.disclosure());
    }
    return out;
  };
  now_ = At(2027, 3, 1);  // due 2027-04-01, reminder from 2027-03-02
  EXPECT_THAT(notice(), IsEmpty());
  now_ = At(2027, 3, 2);
  std::vector<Disclosure> reminder = notice();
  ASSERT_EQ(reminder.size(), 1u);
  EXPECT_EQ(reminder[0].agency(), "council");
  EXPECT_TRUE(reminder[0].case_id().empty());
  EXPECT_THAT(reminder[0].notification_rules(), ElementsAre(agreement::kReviewNoticeRule));
  EXPECT_EQ(reminder[0].notice().kind(), asb::v1::HubNotice::KIND_AGREEMENT_REVIEW_DUE);
  EXPECT_EQ(reminder[0].notice().agreement_reference(), "TEST-DSA-SHARING");
  EXPECT_THAT(reminder[0].notice().text(), HasSubstr("due for review on 2027-04-01"));
  now_ = At(2027, 3, 20);
  EXPECT_THAT(notice(), IsEmpty());
  now_ = At(2027, 4, 2);
  std::vector<Disclosure> overdue = notice();
  ASSERT_EQ(overdue.size(), 1u);
  EXPECT_EQ(overdue[0].notice().kind(), asb::v1::HubNotice::KIND_AGREEMENT_REVIEW_OVERDUE);
  EXPECT_EQ(overdue[0].notice().deadline().seconds(), absl::ToUnixSeconds(At(2027, 5, 2)));
  EXPECT_THAT(notice(), IsEmpty());
  EXPECT_EQ(retention_->notices_sent(), 2u);
}

// The notices outlive the case they announce: sealed under the master key, not the case's key.
TEST(SharingStoreLayoutTest, NoticesAndErasuresAreNotSealedUnderTheCasesKey) {
  const store::StoreOptions layout = SharingStoreLayout();
  Envelope e;
  e.mutable_disclosure()->set_case_id("C");
  EXPECT_EQ(layout.subject_of("log.disclosures", "k", e.SerializeAsString()), "C");
  e.mutable_disclosure()->mutable_notice()->set_kind(asb::v1::HubNotice::KIND_CASE_DELETED);
  EXPECT_EQ(layout.subject_of("log.disclosures", "k", e.SerializeAsString()), "");
  Envelope erasure;
  erasure.mutable_case_erasure()->set_case_id("C");
  EXPECT_EQ(layout.subject_of("log.erasures", "k", erasure.SerializeAsString()), "");
}

}  // namespace
}  // namespace asb::sharing
