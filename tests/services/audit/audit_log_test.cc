#include "services/audit/audit_log.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/auditlog/entry.h"
#include "common/crypto/crypto.h"
#include "common/store/store.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/time_util.h"
#include "tests/services/audit/audit_log_fixture.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::audit {
namespace {

using ::asb::testing::StatusIs;
using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

asb::v1::AuditRecord Record(asb::v1::AuditKind kind, const std::string& case_id,
                            const std::string& actor_agency, const std::string& recipient,
                            absl::Time at) {
  asb::v1::AuditRecord r;
  r.set_kind(kind);
  r.set_case_id(case_id);
  r.set_actor_agency(actor_agency);
  r.set_recipient_agency(recipient);
  r.set_component("sharing");
  r.set_actor("sharing");
  *r.mutable_at() = Ts(at);
  return r;
}

std::vector<uint64_t> Indexes(const asb::v1::AuditQueryResponse& response) {
  std::vector<uint64_t> out;
  for (const auto& e : response.entries()) {
    out.push_back(e.index());
  }
  return out;
}

class AuditLogTest : public AuditLogFixture {
 protected:
  void SetUp() override {
    now_ = kT0 + absl::Hours(100);
    Open();
  }

  uint64_t AppendOne(const asb::v1::AuditRecord& r, uint64_t origin_seq = 1) {
    store::Batch batch = store_->NewBatch();
    uint64_t index = log_->Append(r, "sharing/audit", origin_seq, &batch);
    EXPECT_TRUE(store_->Write(&batch).ok());
    return index;
  }

  // Six entries over three cases and several agencies, one hour apart.
  void Populate() {
    using namespace asb::v1;  // NOLINT: enum names
    AppendOne(Record(AUDIT_KIND_COLLECTION, "c1", "council", "", kT0), 1);
    AppendOne(Record(AUDIT_KIND_DISCLOSURE, "c1", "hub", "police", kT0 + absl::Hours(1)), 2);
    AppendOne(Record(AUDIT_KIND_DISCLOSURE, "c2", "hub", "housing", kT0 + absl::Hours(2)), 3);
    AppendOne(Record(AUDIT_KIND_DELIVERY, "c1", "police", "police", kT0 + absl::Hours(3)), 4);
    AppendOne(Record(AUDIT_KIND_CONSULTATION, "c3", "housing", "housing", kT0 + absl::Hours(4)), 5);
    AppendOne(Record(AUDIT_KIND_DISCLOSURE, "c1", "hub", "fire", kT0 + absl::Hours(5)), 6);
  }
};

TEST_F(AuditLogTest, AppendAssignsDenseIndexesAndStampsEntry) {
  EXPECT_EQ(log_->size(), 0u);
  store::Batch batch = store_->NewBatch();
  auto r = Record(asb::v1::AUDIT_KIND_COLLECTION, "c1", "council", "", kT0);
  EXPECT_EQ(log_->Append(r, "intake/audit", 7, &batch), 1u);
  EXPECT_EQ(log_->Append(r, "intake/audit", 8, &batch), 2u);
  EXPECT_EQ(log_->size(), 0u);  // not before the commit
  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_EQ(log_->size(), 2u);

  auto result = log_->Query({});
  ASB_ASSERT_OK(result);
  ASSERT_EQ(result->entries_size(), 2);
  EXPECT_EQ(result->log_size(), 2u);
  EXPECT_EQ(result->entries(1).index(), 2u);
  EXPECT_EQ(result->entries(1).origin(), "intake/audit");
  EXPECT_EQ(result->entries(1).origin_seq(), 8u);
  EXPECT_EQ(result->entries(1).record().case_id(), "c1");
  EXPECT_EQ(result->next_after_index(), 0u);
}

TEST_F(AuditLogTest, RecordWithoutTimeTakesClock) {
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_AUTH_FAILED);
  AppendOne(r);
  auto result = log_->Query({});
  ASB_ASSERT_OK(result);
  ASSERT_EQ(result->entries_size(), 1);
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(result->entries(0).record().at()),
            absl::ToUnixNanos(now_));
}

TEST_F(AuditLogTest, AbortedBatchReusesIndex) {
  store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
  store::Batch batch = store_->NewBatch();
  auto r = Record(asb::v1::AUDIT_KIND_COLLECTION, "c1", "council", "", kT0);
  EXPECT_EQ(log_->Append(r, "intake/audit", 1, &batch), 1u);
  EXPECT_EQ(log_->Append(r, "intake/audit", 2, &batch), 2u);
  EXPECT_THAT(store_->Write(&batch), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(log_->size(), 0u);

  store_->SetWriteFaultForTest(nullptr);
  EXPECT_EQ(log_->Append(r, "intake/audit", 1, &batch), 1u);
  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_EQ(log_->size(), 1u);
}

TEST_F(AuditLogTest, LeafHashMatchesIndependentComputation) {
  auto r = Record(asb::v1::AUDIT_KIND_DISCLOSURE, "c9", "hub", "police", kT0);
  r.add_subject_keys("sk_abc");
  r.add_fields("people.address");
  AppendOne(r, 42);
  auto result = log_->Query({});
  ASB_ASSERT_OK(result);
  ASSERT_EQ(result->entries_size(), 1);
  const asb::v1::AuditEntry& stored = result->entries(0);
  ASSERT_EQ(stored.leaf_hash().size(), 32u);

  // Rebuild the entry by hand and hash SHA-256(0x00 || deterministic bytes).
  asb::v1::AuditEntry expected;
  expected.set_index(1);
  *expected.mutable_record() = r;
  expected.set_origin("sharing/audit");
  expected.set_origin_seq(42);
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    ASSERT_TRUE(expected.SerializeToCodedStream(&coded));
  }
  EXPECT_EQ(stored.leaf_hash(), crypto::Sha256(std::string(1, '\0') + bytes));
  EXPECT_EQ(LeafHash(stored), stored.leaf_hash());  // the stored hash does not hash itself

  // Any change to the entry changes the hash.
  asb::v1::AuditEntry altered = stored;
  altered.mutable_record()->set_recipient_agency("housing");
  EXPECT_NE(LeafHash(altered), stored.leaf_hash());

  // The leaf is also kept apart in "meta" for the Merkle tree.
  std::string leaf;
  ASB_ASSERT_OK(store_->Get("meta", std::string("leaf/") + store::EncodeSeq(1), &leaf));
  EXPECT_EQ(leaf, stored.leaf_hash());
}

TEST_F(AuditLogTest, SizePersistsAcrossReopen) {
  Populate();
  EXPECT_EQ(log_->size(), 6u);
  Open();
  EXPECT_EQ(log_->size(), 6u);
  EXPECT_EQ(AppendOne(Record(asb::v1::AUDIT_KIND_ERASURE, "c1", "council", "", kT0)), 7u);
  auto result = log_->Query({});
  ASB_ASSERT_OK(result);
  EXPECT_EQ(result->log_size(), 7u);
  EXPECT_EQ(result->entries_size(), 7);
}

TEST_F(AuditLogTest, LoadDetectsSizeMismatch) {
  Populate();
  // The last entry gone while its leaf hash stays.
  store::Batch batch = store_->NewBatch();
  batch.Delete("entries", store::EncodeSeq(6));
  ASB_ASSERT_OK(store_->Write(&batch));
  log_.reset();
  AuditLog fresh(store_.get(), [this] { return now_; });
  // Issue 19: damage, never fatal — the log loads for reading and appends nothing until a repair.
  ASB_ASSERT_OK(fresh.Load());
  ASSERT_EQ(fresh.damage().size(), 1u);
  EXPECT_EQ(fresh.damage()[0].first(), 6u);
  EXPECT_EQ(fresh.damage()[0].last(), 6u);
  EXPECT_TRUE(fresh.read_only());
}

TEST_F(AuditLogTest, QueryByCase) {
  Populate();
  asb::v1::AuditQueryRequest q;
  q.set_case_id("c1");
  auto result = log_->Query(q);
  ASB_ASSERT_OK(result);
  EXPECT_THAT(Indexes(*result), ElementsAre(1, 2, 4, 6));
  EXPECT_EQ(result->log_size(), 6u);

  q.set_case_id("c");  // a prefix of other case ids matches nothing
  result = log_->Query(q);
  ASB_ASSERT_OK(result);
  EXPECT_TRUE(result->entries().empty());
}

TEST_F(AuditLogTest, QueryByAgencyMatchesActorOrRecipientOnce) {
  Populate();
  asb::v1::AuditQueryRequest q;
  q.set_agency("housing");
  auto result = log_->Query(q);
  ASB_ASSERT_OK(result);
  // Entry 5 has housing as actor and recipient: listed once.
  EXPECT_THAT(Indexes(*result), ElementsAre(3, 5));

  q.set_agency("police");
  result = log_->Query(q);
  ASB_ASSERT_OK(result);
  EXPECT_THAT(Indexes(*result), ElementsAre(2, 4));

  q.set_agency("hub");
  result = log_->Query(q);
  ASB_ASSERT_OK(result);
  EXPECT_THAT(Indexes(*result), ElementsAre(2, 3, 6));
}

TEST_F(AuditLogTest, QueryCaseAndAgencyAreAnded) {
  Populate();
  asb::v1::AuditQueryRequest q;
  q.set_case_id("c1");
  q.set_agency("police");
  auto result = log_->Query(q);
  ASB_ASSERT_OK(result);
  EXPECT_THAT(Indexes(*result), ElementsAre(2, 4));
}

TEST_F(AuditLogTest, QueryByTimeRange) {
  Populate();
  asb::v1::AuditQueryRequest q;
  *q.mutable_since() = Ts(kT0 + absl::Hours(1));
  *q.mutable_until() = Ts(kT0 + absl::Hours(4));  // exclusive
  auto result = log_->Query(q);
  ASB_ASSERT_OK(result);
  EXPECT_THAT(Indexes(*result), ElementsAre(2, 3, 4));

  q.clear_until();
  q.set_case_id("c1");
  result = log_->Query(q);
  ASB_ASSERT_OK(result);
  EXPECT_THAT(Indexes(*result), ElementsAre(2, 4, 6));
}

TEST_F(AuditLogTest, QueryRejectsEmptyTimeRange) {
  asb::v1::AuditQueryRequest q;
  *q.mutable_since() = Ts(kT0);
  *q.mutable_until() = Ts(kT0);
  EXPECT_THAT(log_->Query(q), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AuditLogTest, QueryByKindActorAndSubject) {
  Populate();
  auto r = Record(asb::v1::AUDIT_KIND_CONSULTATION, "c2", "police", "police", kT0);
  r.set_actor("police-portal");
  r.add_subject_keys("sk_1");
  r.add_subject_keys("sk_2");
  AppendOne(r, 7);  // index 7

  asb::v1::AuditQueryRequest q;
  q.add_kinds(asb::v1::AUDIT_KIND_DISCLOSURE);
  q.add_kinds(asb::v1::AUDIT_KIND_DELIVERY);
  auto result = log_->Query(q);
  ASB_ASSERT_OK(result);
  EXPECT_THAT(Indexes(*result), ElementsAre(2, 3, 4, 6));

  asb::v1::AuditQueryRequest by_actor;
  by_actor.set_actor("police-portal");
  result = log_->Query(by_actor);
  ASB_ASSERT_OK(result);
  EXPECT_THAT(Indexes(*result), ElementsAre(7));

  asb::v1::AuditQueryRequest by_subject;
  by_subject.set_subject_key("sk_2");
  result = log_->Query(by_subject);
  ASB_ASSERT_OK(result);
  EXPECT_THAT(Indexes(*result), ElementsAre(7));
  by_subject.set_subject_key("sk_3");
  result = log_->Query(by_subject);
  ASB_ASSERT_OK(result);
  EXPECT_TRUE(result->entries().empty());
}

// Consultations name the officer on whose behalf they were made: an index finds them, the
// filter ANDs with the others (officer ids are per agency), and a purpose the officer stated
// matches like a rule's.
TEST_F(AuditLogTest, QueryByOfficer) {
  Populate();
  auto consultation = [](const std::string& agency, const std::string& officer,
                         const std::string& purpose) {
    auto r = Record(asb::v1::AUDIT_KIND_CONSULTATION, "c1", agency, agency, kT0);
    r.mutable_on_behalf_of()->set_officer_id(officer);
    r.mutable_on_behalf_of()->set_reason("preparing the breach file");
    r.mutable_on_behalf_of()->set_purpose(purpose);
    return r;
  };
  AppendOne(consultation("police", "4471", "law-enforcement"), 7);  // index 7
  AppendOne(consultation("council", "4471", ""), 8);                // same id, another agency
  AppendOne(consultation("police", "9001", ""), 9);

  asb::v1::AuditQueryRequest q;
  q.set_officer_id("4471");
  auto result = log_->Query(q);
  ASB_ASSERT_OK(result);
  EXPECT_THAT(Indexes(*result), ElementsAre(7, 8));
  EXPECT_EQ(result->entries(0).record().on_behalf_of().reason(), "preparing the breach file");
  q.set_agency("police");
  EXPECT_THAT(Indexes(*log_->Query(q)), ElementsAre(7));
  q.set_case_id("c1");  // by case first, officer filtered
  EXPECT_THAT(Indexes(*log_->Query(q)), ElementsAre(7));
  q.Clear();
  q.set_officer_id("nobody");
  EXPECT_TRUE(log_->Query(q)->entries().empty());
  q.Clear();
  q.set_purpose("law-enforcement");
  EXPECT_THAT(Indexes(*log_->Query(q)), ElementsAre(7));
  q.set_officer_id("4471");
  EXPECT_THAT(AuditLog::DescribeQuery(q), HasSubstr("officer=4471"));
  // The index survives a reopen.
  Open();
  q.Clear();
  q.set_officer_id("9001");
  EXPECT_THAT(Indexes(*log_->Query(q)), ElementsAre(9));
}

TEST_F(AuditLogTest, PaginationWalksAllMatchesOnce) {
  Populate();
  asb::v1::AuditQueryRequest q;
  q.set_case_id("c1");
  q.set_limit(2);
  auto page1 = log_->Query(q);
  ASB_ASSERT_OK(page1);
  EXPECT_THAT(Indexes(*page1), ElementsAre(1, 2));
  EXPECT_EQ(page1->next_after_index(), 2u);

  q.set_after_index(page1->next_after_index());
  auto page2 = log_->Query(q);
  ASB_ASSERT_OK(page2);
  EXPECT_THAT(Indexes(*page2), ElementsAre(4, 6));
  // Exactly `limit` matches but nothing beyond: no next page.
  EXPECT_EQ(page2->next_after_index(), 0u);

  asb::v1::AuditQueryRequest scan;
  scan.set_limit(4);
  auto all1 = log_->Query(scan);
  ASB_ASSERT_OK(all1);
  EXPECT_THAT(Indexes(*all1), ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(all1->next_after_index(), 4u);
  scan.set_after_index(4);
  auto all2 = log_->Query(scan);
  ASB_ASSERT_OK(all2);
  EXPECT_THAT(Indexes(*all2), ElementsAre(5, 6));
  EXPECT_EQ(all2->next_after_index(), 0u);

  scan.set_after_index(6);
  auto past = log_->Query(scan);
  ASB_ASSERT_OK(past);
  EXPECT_TRUE(past->entries().empty());
  EXPECT_EQ(past->log_size(), 6u);
}

TEST_F(AuditLogTest, StoredQueriesReturnTheStoredBytesOfTheSamePages) {
  Populate();
  // Unfiltered and filtered (by index, by scan), paged: the same entries, as the bytes the log
  // holds, each parsing to the entry the parsed query returns.
  std::vector<asb::v1::AuditQueryRequest> queries(3);
  queries[1].set_case_id("c1");
  queries[2].add_kinds(asb::v1::AUDIT_KIND_DISCLOSURE);
  for (asb::v1::AuditQueryRequest q : queries) {
    q.set_limit(2);
    while (true) {
      auto parsed = log_->Query(q);
      q.set_stored(true);
      auto stored = log_->Query(q);
      q.set_stored(false);
      ASB_ASSERT_OK(parsed);
      ASB_ASSERT_OK(stored);
      EXPECT_TRUE(stored->entries().empty());
      // The page is a StoredAuditEntries, and ForEachStoredEntry walks the same entries.
      asb::v1::StoredAuditEntries page;
      ASSERT_TRUE(page.ParseFromString(stored->stored_page()));
      std::vector<std::string> walked;
      ASSERT_TRUE(ForEachStoredEntry(stored->stored_page(), [&](std::string_view e) {
        walked.emplace_back(e);
        return true;
      }));
      EXPECT_THAT(walked, ::testing::ElementsAreArray(page.entries()));
      ASSERT_EQ(page.entries_size(), parsed->entries_size()) << q.DebugString();
      EXPECT_EQ(stored->next_after_index(), parsed->next_after_index());
      for (int i = 0; i < parsed->entries_size(); ++i) {
        std::string held;
        ASB_ASSERT_OK(store_->Get("entries", store::EncodeSeq(parsed->entries(i).index()), &held));
        EXPECT_EQ(page.entries(i), held);
        EXPECT_EQ(page.entries(i), parsed->entries(i).SerializeAsString());
      }
      if (parsed->next_after_index() == 0) {
        break;
      }
      q.set_after_index(parsed->next_after_index());
    }
  }
}

TEST(StoredPageTest, MalformedPagesAreRefused) {
  std::string page;
  AppendStoredEntry("abc", &page);
  AppendStoredEntry(std::string(300, 'x'), &page);  // a two-byte length
  std::vector<std::size_t> sizes;
  auto collect = [&](std::string_view e) {
    sizes.push_back(e.size());
    return true;
  };
  ASSERT_TRUE(ForEachStoredEntry(page, collect));
  EXPECT_THAT(sizes, ElementsAre(3, 300));
  // Truncated, another field number, another wire type: refused.
  EXPECT_FALSE(ForEachStoredEntry(std::string_view(page).substr(0, page.size() - 1), collect));
  EXPECT_FALSE(ForEachStoredEntry(std::string("\x12\x01x", 3), collect));
  EXPECT_FALSE(ForEachStoredEntry(std::string("\x08\x01", 2), collect));
  // Stopping early is not an error.
  int seen = 0;
  EXPECT_TRUE(ForEachStoredEntry(page, [&](std::string_view) { return ++seen < 1; }));
  EXPECT_EQ(seen, 1);
}

TEST_F(AuditLogTest, LimitDefaultsAndCaps) {
  store::Batch batch = store_->NewBatch();
  for (int i = 0; i < 150; ++i) {
    log_->Append(Record(asb::v1::AUDIT_KIND_COLLECTION, "c1", "council", "", kT0), "intake/audit",
                 i + 1, &batch);
  }
  ASB_ASSERT_OK(store_->Write(&batch));
  auto result = log_->Query({});
  ASB_ASSERT_OK(result);
  EXPECT_EQ(result->entries_size(), 100);
  EXPECT_EQ(result->next_after_index(), 100u);

  asb::v1::AuditQueryRequest big;
  big.set_limit(1000000);
  result = log_->Query(big);
  ASB_ASSERT_OK(result);
  EXPECT_EQ(result->entries_size(), 150);
  EXPECT_EQ(result->next_after_index(), 0u);
}

TEST_F(AuditLogTest, ApplyFnAppendsAuditPayload) {
  auto apply = log_->ApplyFnFor("notify");
  asb::v1::Envelope envelope;
  envelope.set_seq(12);
  envelope.set_producer("notify");
  *envelope.mutable_produced_at() = Ts(kT0 + absl::Minutes(5));
  asb::v1::AuditRecord* r = envelope.mutable_audit();
  r->set_kind(asb::v1::AUDIT_KIND_DELIVERY);
  r->set_recipient_agency("police");  // no `at`: takes produced_at

  store::Batch batch = store_->NewBatch();
  ASB_ASSERT_OK(apply(envelope, &batch));
  ASB_ASSERT_OK(store_->Write(&batch));
  auto result = log_->Query({});
  ASB_ASSERT_OK(result);
  ASSERT_EQ(result->entries_size(), 1);
  EXPECT_EQ(result->entries(0).origin(), "notify/audit");
  EXPECT_EQ(result->entries(0).origin_seq(), 12u);
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(result->entries(0).record().at()),
            absl::ToUnixNanos(kT0 + absl::Minutes(5)));
}

TEST_F(AuditLogTest, ApplyFnRejectsEnvelopeWithoutAudit) {
  auto apply = log_->ApplyFnFor("sharing");
  asb::v1::Envelope envelope;
  envelope.set_seq(3);
  envelope.mutable_disclosure()->set_agency("police");
  store::Batch batch = store_->NewBatch();
  EXPECT_THAT(apply(envelope, &batch), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(batch.count(), 0);
  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_EQ(log_->size(), 0u);
}

TEST_F(AuditLogTest, DescribeQueryNamesFiltersWithoutSubjectKey) {
  asb::v1::AuditQueryRequest q;
  q.set_case_id("c1");
  q.set_agency("police");
  q.set_subject_key("sk_secret");
  q.add_kinds(asb::v1::AUDIT_KIND_DISCLOSURE);
  *q.mutable_since() = Ts(kT0);
  const std::string text = AuditLog::DescribeQuery(q);
  EXPECT_THAT(text, HasSubstr("case_id=c1"));
  EXPECT_THAT(text, HasSubstr("agency=police"));
  EXPECT_THAT(text, HasSubstr("kinds=DISCLOSURE"));
  EXPECT_THAT(text, HasSubstr("since=2023-11-14T22:13:20Z"));
  EXPECT_THAT(text, HasSubstr("subject_key=(given)"));
  EXPECT_THAT(text, Not(HasSubstr("sk_secret")));
  EXPECT_EQ(AuditLog::DescribeQuery({}), "audit query: all entries");
}

}  // namespace
}  // namespace asb::audit
