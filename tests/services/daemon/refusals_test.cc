// Refusals folded per principal, reason and interval, with a budget for unauthenticated peers:
// the first of a run is recorded at once, the rest as one record with the count and the first
// and last time; every attempt is counted.
#include "services/daemon/refusals.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/model/model.h"

namespace asb::daemon {
namespace {

asb::v1::AuditRecord Refusal(asb::v1::AuditKind kind, const std::string& detail) {
  asb::v1::AuditRecord r;
  r.set_kind(kind);
  r.set_detail(detail);
  return r;
}

class RefusalRecorderTest : public ::testing::Test {
 protected:
  RefusalRecorder Make(uint32_t budget = 3) {
    RefusalRecorder::Options o;
    o.interval = absl::Seconds(60);
    o.max_unauthenticated = budget;
    return RefusalRecorder(
        o, [this] { return now_; },
        [this](std::vector<asb::v1::AuditRecord> records) {
          ++writes_;
          for (auto& r : records) {
            written_.push_back(std::move(r));
          }
        });
  }
  absl::Time now_ = absl::FromUnixSeconds(1780000000);
  std::vector<asb::v1::AuditRecord> written_;
  int writes_ = 0;
};

TEST_F(RefusalRecorderTest, TheFirstAtOnceTheRestAsOneRecordWithCountAndTimes) {
  RefusalRecorder rec = Make();
  for (int i = 0; i < 1000; ++i) {
    rec.Refuse(Refusal(asb::v1::AUDIT_KIND_REJECTION, "malformed request: no body"), "police",
               "malformed request: no body", /*authenticated=*/true);
    now_ += absl::Milliseconds(10);
  }
  ASSERT_EQ(written_.size(), 1u);  // at once, before any reply
  EXPECT_FALSE(written_[0].has_refusals());
  rec.Flush();
  ASSERT_EQ(written_.size(), 2u);
  const asb::v1::AuditRecord& folded = written_[1];
  EXPECT_EQ(folded.kind(), asb::v1::AUDIT_KIND_REJECTION);
  EXPECT_EQ(folded.refusals().count(), 999u);
  EXPECT_EQ(model::ToTime(folded.refusals().first()), absl::FromUnixSeconds(1780000000));
  EXPECT_EQ(model::ToTime(folded.refusals().last()),
            absl::FromUnixSeconds(1780000000) + absl::Milliseconds(9990));
  EXPECT_EQ(folded.refusals().interval_seconds(), 60u);
  EXPECT_NE(folded.detail().find("999 more refusals"), std::string::npos) << folded.detail();
  EXPECT_EQ(rec.refusals(), 1000u);
  EXPECT_EQ(rec.records(), 2u);
  // A new interval starts afresh; a quiet one writes nothing.
  rec.Flush();
  EXPECT_EQ(written_.size(), 2u);
  rec.Refuse(Refusal(asb::v1::AUDIT_KIND_REJECTION, "malformed request: no body"), "police",
             "malformed request: no body", true);
  EXPECT_EQ(written_.size(), 3u);
}

TEST_F(RefusalRecorderTest, PrincipalsKindsAndReasonsAreSeparateRuns) {
  RefusalRecorder rec = Make();
  rec.Refuse(Refusal(asb::v1::AUDIT_KIND_REJECTION, "a"), "police", "a", true);
  rec.Refuse(Refusal(asb::v1::AUDIT_KIND_REJECTION, "a"), "fire", "a", true);
  rec.Refuse(Refusal(asb::v1::AUDIT_KIND_REJECTION, "b"), "police", "b", true);
  rec.Refuse(Refusal(asb::v1::AUDIT_KIND_ACCESS_REFUSED, "a"), "police", "a", true);
  rec.Refuse(Refusal(asb::v1::AUDIT_KIND_REJECTION, "a"), "police", "a", true);
  EXPECT_EQ(written_.size(), 4u);
  rec.Flush();
  ASSERT_EQ(written_.size(), 5u);
  EXPECT_EQ(written_[4].refusals().count(), 1u);
}

TEST_F(RefusalRecorderTest, UnauthenticatedPeersCannotGrowTheLogPastTheBudget) {
  RefusalRecorder rec = Make(/*budget=*/3);
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "KEY" + std::to_string(i);  // a fresh key each time
    rec.Refuse(Refusal(asb::v1::AUDIT_KIND_AUTH_FAILED, "refused handshake from key " + key), key,
               "refused handshake", /*authenticated=*/false);
  }
  EXPECT_EQ(written_.size(), 3u);
  rec.Flush();
  ASSERT_EQ(written_.size(), 4u);
  const asb::v1::AuditRecord& overflow = written_[3];
  EXPECT_EQ(overflow.kind(), asb::v1::AUDIT_KIND_AUTH_FAILED);
  EXPECT_EQ(overflow.refusals().count(), 4997u);
  EXPECT_EQ(overflow.refusals().distinct_sources(), 4997u);
  EXPECT_EQ(rec.refusals(), 5000u);
  // Authenticated principals are not held to it.
  for (int i = 0; i < 5; ++i) {
    rec.Refuse(Refusal(asb::v1::AUDIT_KIND_REJECTION, "x"), "p" + std::to_string(i), "x", true);
  }
  EXPECT_EQ(written_.size(), 9u);
  EXPECT_EQ(writes_, 9);
}

}  // namespace
}  // namespace asb::daemon
