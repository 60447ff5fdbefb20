// Retention, erasure, range verification and proof sizes of asb-audit's access log, over a real
// RocksDB: after entries expire or a person's data is erased the log still verifies, verify says
// which entries expired or were erased, and forging either is detected.
#include <bit>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/auditlog/verifier.h"
#include "common/crypto/crypto.h"
#include "common/crypto/merkle.h"
#include "common/store/store.h"
#include "google/protobuf/util/time_util.h"
#include "services/audit/audit_log.h"
#include "tests/services/audit/audit_log_fixture.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::audit {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
namespace merkle = ::asb::crypto::merkle;

asb::v1::AuditRecord Record(int i) {
  asb::v1::AuditRecord r;
  r.set_kind(i % 2 == 0 ? asb::v1::AUDIT_KIND_DISCLOSURE : asb::v1::AUDIT_KIND_CONSULTATION);
  r.set_case_id("CBC-" + std::to_string(i % 7));
  r.set_actor("sharing");
  r.set_actor_agency("council");
  r.set_recipient_agency(i % 3 == 0 ? "police" : "housing");
  r.add_subject_keys("subj-" + std::to_string(i % 5));
  if (i % 4 == 0) {
    r.add_subject_keys("subj-" + std::to_string((i + 1) % 5));  // a second person
  }
  auto* j = r.add_justifications();
  j->set_rule_id(i % 2 == 0 ? "police-orders" : "housing-tenancy");
  j->set_purpose(i % 2 == 0 ? "prevent-asb" : "tenancy-enforcement");
  *r.mutable_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1700000000 + i);
  return r;
}

class RetentionTest : public AuditLogFixture {
 protected:
  void SetUp() override {
    Open();
    auto key = crypto::Ed25519PrivateKey::Generate();
    ASB_ASSERT_OK(key);
    auto signer = TreeHeadSigner::Create(*std::move(key));
    ASB_ASSERT_OK(signer);
    signer_ = std::make_unique<TreeHeadSigner>(*std::move(signer));
  }

  void AppendMany(int n) {
    store::Batch batch = store_->NewBatch();
    for (int i = 0; i < n; ++i) {
      const int k = next_++;
      log_->Append(Record(k), "sharing/audit", static_cast<uint64_t>(k) + 1, &batch);
    }
    ASSERT_TRUE(store_->Write(&batch).ok());
  }

  // A tree head of the whole log, issued at `ms`.
  asb::v1::SignedTreeHead Sign(uint64_t ms) {
    auto sth = signer_->Sign(log_->size(), log_->Root(), ms);
    EXPECT_TRUE(sth.ok());
    store::Batch batch = store_->NewBatch();
    log_->PutTreeHead(*sth, &batch);
    EXPECT_TRUE(store_->Write(&batch).ok());
    heads_.push_back(*sth);
    return *sth;
  }

  asb::v1::AuditEraseResponse Erase(const std::string& subject, const std::string& case_id,
                                    bool dry_run = false) {
    asb::v1::AuditEraseRequest request;
    request.set_subject_key(subject);
    request.set_case_id(case_id);
    request.set_reference("DSR-2026-0042");
    request.set_dry_run(dry_run);
    asb::v1::AuditRecord who;
    who.set_actor("hub-admin");
    who.set_actor_agency("council");
    store::Batch batch = store_->NewBatch();
    auto r = log_->Erase(request, who, &batch);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(store_->Write(&batch).ok());
    return r.ok() ? *r : asb::v1::AuditEraseResponse();
  }

  // The log as asbctl reads it: entries as stored bytes (or, `stored` false, parsed).
  LogSource Source(bool stored = true) {
    LogSource source;
    source.fetch = [this, stored](uint64_t after) {
      asb::v1::AuditQueryRequest q;
      q.set_after_index(after);
      q.set_limit(9);  // several pages
      q.set_stored(stored);
      return log_->Query(q);
    };
    source.consistency = [this](uint64_t m, uint64_t n) { return log_->ConsistencyProof(m, n); };
    source.frontier = [this](uint64_t size) { return log_->Frontier(size); };
    return source;
  }

  // What `asbctl audit verify [--from --to]` does, against the latest head. The verdict from
  // parsed entries must be the same.
  VerifyReport Verify(uint64_t from = 1, uint64_t to = 0) {
    const asb::v1::SignedTreeHead head = heads_.back();
    std::vector<asb::v1::SignedTreeHead> history(heads_.begin(), heads_.end() - 1);
    // What the hub lists: the tree heads it still stores.
    std::vector<asb::v1::SignedTreeHead> stored;
    for (const auto& h : history) {
      auto at = log_->TreeHeadAt(h.tree_size());
      if (at.ok() && at->has_value()) {
        stored.push_back(**at);
      }
    }
    VerifyRange range;
    range.from = from;
    range.to = to;
    range.expired_through = log_->expired_through();
    VerifyReport report = VerifyLog(head, stored, range, Source());
    VerifyReport parsed = VerifyLog(head, stored, range, Source(/*stored=*/false));
    EXPECT_EQ(parsed.status, report.status);
    EXPECT_EQ(parsed.first_bad, report.first_bad);
    EXPECT_EQ(parsed.erased, report.erased);
    EXPECT_EQ(parsed.unconfirmed_erasures, report.unconfirmed_erasures);
    EXPECT_EQ(parsed.expiry_record, report.expiry_record);
    return report;
  }

  void PutRawEntry(const asb::v1::AuditEntry& entry) {
    store::Batch batch = store_->NewBatch();
    batch.Put("entries", store::EncodeSeq(entry.index()), entry.SerializeAsString());
    ASSERT_TRUE(store_->Write(&batch).ok());
  }

  std::vector<uint64_t> Indexes(const asb::v1::AuditQueryRequest& q) {
    std::vector<uint64_t> out;
    auto r = log_->Query(q);
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) {
      for (const auto& e : r->entries()) {
        out.push_back(e.index());
      }
    }
    return out;
  }

  std::unique_ptr<TreeHeadSigner> signer_;
  std::vector<asb::v1::SignedTreeHead> heads_;
  int next_ = 0;
};

// --- Erasure ---

TEST_F(RetentionTest, ErasureBySubjectRemovesTheKeyKeepsLeafHashesAndStillVerifies) {
  AppendMany(40);
  Sign(1000);
  asb::v1::AuditQueryRequest by_subject;
  by_subject.set_subject_key("subj-2");
  by_subject.set_limit(1000);
  const std::vector<uint64_t> before = Indexes(by_subject);
  ASSERT_FALSE(before.empty());
  std::vector<std::string> leaves;
  for (uint64_t i : before) {
    leaves.push_back(log_->Get(i)->leaf_hash());
  }

  const asb::v1::AuditEraseResponse r = Erase("subj-2", "");
  EXPECT_EQ(std::vector<uint64_t>(r.erased().begin(), r.erased().end()), before);
  EXPECT_EQ(r.erasure_index(), 41u);
  EXPECT_FALSE(r.more());
  EXPECT_TRUE(Indexes(by_subject).empty());  // the index no longer finds the person

  for (std::size_t k = 0; k < before.size(); ++k) {
    auto e = log_->Get(before[k]);
    ASB_ASSERT_OK(e);
    EXPECT_EQ(e->erased_by(), 41u);
    EXPECT_EQ(e->leaf_hash(), leaves[k]);
    for (const std::string& key : e->record().subject_keys()) {
      EXPECT_NE(key, "subj-2");
    }
    // Case id kept only where another person remains.
    EXPECT_EQ(e->record().case_id().empty(), e->record().subject_keys().empty());
    EXPECT_EQ(e->record().recipient_agency().empty(), false);  // accountability stays
  }
  auto erasure = log_->Get(41);
  ASB_ASSERT_OK(erasure);
  EXPECT_EQ(erasure->record().kind(), asb::v1::AUDIT_KIND_ERASURE);
  EXPECT_EQ(erasure->origin(), kSelfOrigin);
  EXPECT_EQ(erasure->record().actor(), "hub-admin");
  EXPECT_TRUE(erasure->record().subject_keys().empty());  // never the erased key itself
  EXPECT_EQ(erasure->record().erasure().reference(), "DSR-2026-0042");
  EXPECT_EQ(erasure->record().erasure().entries_size(), static_cast<int>(before.size()));

  // The old tree head still verifies the tree (the leaves are unchanged), and so does a new
  // one; verify lists the erased entries instead of calling them altered.
  Sign(2000);
  VerifyReport report = Verify();
  ASB_EXPECT_OK(report.status);
  EXPECT_EQ(report.first_bad, 0u);
  ASSERT_EQ(report.erased.size(), before.size());
  EXPECT_EQ(report.erased[0], std::make_pair(before[0], uint64_t{41}));
  EXPECT_TRUE(report.unconfirmed_erasures.empty());
  // And survives a reopen.
  Open();
  ASB_EXPECT_OK(Verify().status);
}

TEST_F(RetentionTest, ErasureByCaseRemovesCaseAndSubjects) {
  AppendMany(30);
  asb::v1::AuditQueryRequest by_case;
  by_case.set_case_id("CBC-3");
  const std::vector<uint64_t> before = Indexes(by_case);
  ASSERT_FALSE(before.empty());
  const auto r = Erase("", "CBC-3");
  EXPECT_EQ(r.erased_size(), static_cast<int>(before.size()));
  EXPECT_TRUE(Indexes(by_case).empty());
  for (uint64_t i : before) {
    auto e = log_->Get(i);
    ASB_ASSERT_OK(e);
    EXPECT_TRUE(e->record().case_id().empty());
    EXPECT_TRUE(e->record().subject_keys().empty());
  }
  EXPECT_EQ(log_->Get(r.erasure_index())->record().erasure().criteria(), "case");
  // A second erasure of the same case finds nothing left (but is still recorded).
  EXPECT_EQ(Erase("", "CBC-3").erased_size(), 0);
  Sign(1000);
  VerifyReport report = Verify();
  ASB_EXPECT_OK(report.status);
  EXPECT_EQ(report.erased.size(), before.size());
}

// An officer's reason is free text that may name the person: erasure takes it too, and leaves
// who asked (the officer is not the one erased).
TEST_F(RetentionTest, ErasureRemovesTheOfficersReason) {
  asb::v1::AuditRecord r = Record(1000);
  r.set_case_id("CBC-X");
  r.mutable_on_behalf_of()->set_officer_id("PC-4471");
  r.mutable_on_behalf_of()->set_reason("checking Mrs Example's new address");
  store::Batch batch = store_->NewBatch();
  const uint64_t index = log_->Append(r, "sharing/audit", 1, &batch);
  ASSERT_TRUE(store_->Write(&batch).ok());
  Erase("", "CBC-X");
  auto e = log_->Get(index);
  ASB_ASSERT_OK(e);
  EXPECT_EQ(e->record().on_behalf_of().officer_id(), "PC-4471");
  EXPECT_TRUE(e->record().on_behalf_of().reason().empty());
  asb::v1::AuditQueryRequest by_officer;
  by_officer.set_officer_id("PC-4471");
  EXPECT_EQ(Indexes(by_officer), std::vector<uint64_t>{index});
  Sign(1000);
  ASB_EXPECT_OK(Verify().status);
}

TEST_F(RetentionTest, ErasureOfSubjectWithinOneCase) {
  AppendMany(70);
  const auto r = Erase("subj-1", "CBC-1");
  ASSERT_GT(r.erased_size(), 0);
  for (uint64_t i = 1; i <= 70; ++i) {
    auto e = log_->Get(i);
    ASB_ASSERT_OK(e);
    const bool erased = std::find(r.erased().begin(), r.erased().end(), i) != r.erased().end();
    EXPECT_EQ(erased, e->erased_by() != 0) << i;
    const asb::v1::AuditRecord original = Record(static_cast<int>(i) - 1);
    const bool both = original.case_id() == "CBC-1" &&
                      std::count(original.subject_keys().begin(), original.subject_keys().end(),
                                 std::string("subj-1")) > 0;
    EXPECT_EQ(erased, both) << i;
  }
}

TEST_F(RetentionTest, DryRunChangesNothing) {
  AppendMany(20);
  const std::string root = log_->Root();
  const auto r = Erase("subj-0", "", /*dry_run=*/true);
  EXPECT_GT(r.erased_size(), 0);
  EXPECT_EQ(r.erasure_index(), 0u);
  EXPECT_EQ(log_->size(), 20u);
  EXPECT_EQ(log_->Root(), root);
  EXPECT_EQ(log_->Get(r.erased(0))->erased_by(), 0u);
}

TEST_F(RetentionTest, EraseRequiresReferenceAndAFilter) {
  AppendMany(3);
  store::Batch batch = store_->NewBatch();
  asb::v1::AuditEraseRequest request;
  request.set_subject_key("subj-0");
  EXPECT_THAT(log_->Erase(request, {}, &batch).status(),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "reference"));
  request.clear_subject_key();
  request.set_reference("DSR-1");
  EXPECT_THAT(log_->Erase(request, {}, &batch).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RetentionTest, AnEntryMarkedErasedWithoutAnErasureIsAltered) {
  AppendMany(30);
  Sign(1000);
  // An attacker rewrites entry 12 and marks it "erased" by a real but unrelated entry.
  auto e = log_->Get(12);
  ASB_ASSERT_OK(e);
  e->mutable_record()->set_recipient_agency("nobody");
  e->set_erased_by(20);
  PutRawEntry(*e);
  VerifyReport report = Verify();
  EXPECT_THAT(report.status, StatusIsWith(absl::StatusCode::kDataLoss, "entry 12 was altered"));
  EXPECT_EQ(report.first_bad, 12u);

  // ... or by an erasure entry that does not exist.
  e->set_erased_by(500);
  PutRawEntry(*e);
  report = Verify();
  EXPECT_THAT(report.status, StatusIsWith(absl::StatusCode::kDataLoss, "entry 12 was altered"));
  EXPECT_EQ(report.first_bad, 12u);
}

TEST_F(RetentionTest, AnEntryMarkedErasedByARealErasureThatDoesNotListItIsAltered) {
  AppendMany(30);
  const auto r = Erase("subj-4", "");
  ASSERT_GT(r.erased_size(), 0);
  Sign(1000);
  // Entry 1 concerns subj-0 (not erased); claim the erasure covered it.
  auto e = log_->Get(1);
  ASB_ASSERT_OK(e);
  ASSERT_EQ(e->erased_by(), 0u);
  e->set_erased_by(r.erasure_index());
  e->mutable_record()->clear_case_id();
  PutRawEntry(*e);
  VerifyReport report = Verify();
  EXPECT_THAT(report.status, StatusIsWith(absl::StatusCode::kDataLoss, "does not list it"));
  EXPECT_EQ(report.first_bad, 1u);
}

TEST_F(RetentionTest, UpstreamRecordsCannotCarryAnErasure) {
  asb::v1::Envelope envelope;
  envelope.set_seq(7);
  *envelope.mutable_audit() = Record(0);
  envelope.mutable_audit()->mutable_erasure()->add_entries(1);
  store::Batch batch = store_->NewBatch();
  ASB_ASSERT_OK(log_->ApplyFnFor("sharing")(envelope, &batch));
  ASSERT_TRUE(store_->Write(&batch).ok());
  EXPECT_FALSE(log_->Get(1)->record().has_erasure());
}

// --- Retention ---

TEST_F(RetentionTest, ExpireDeletesAWholeSegmentAnchoredAtATreeHead) {
  AppendMany(10);
  Sign(1000);
  AppendMany(7);
  Sign(2000);  // size 17, the anchor
  AppendMany(13);
  Sign(3000);  // size 30
  const std::string root30 = log_->Root();

  // Nothing was issued before 500 ms.
  auto none = log_->Expire(absl::FromUnixMillis(500), 30);
  ASB_ASSERT_OK(none);
  EXPECT_EQ(*none, 0u);

  auto k = log_->Expire(absl::FromUnixMillis(2500), 30);
  ASB_ASSERT_OK(k);
  EXPECT_EQ(*k, 17u);
  EXPECT_EQ(log_->expired_through(), 17u);
  EXPECT_EQ(log_->size(), 31u);  // the EXPIRY entry
  auto expiry = log_->Get(31);
  ASB_ASSERT_OK(expiry);
  EXPECT_EQ(expiry->record().kind(), asb::v1::AUDIT_KIND_EXPIRY);
  EXPECT_EQ(expiry->record().erasure().expired_through(), 17u);
  EXPECT_EQ(expiry->record().erasure().retention_days(), 30u);

  for (uint64_t i = 1; i <= 17; ++i) {
    EXPECT_THAT(log_->Get(i).status(), StatusIsWith(absl::StatusCode::kNotFound, "expired"));
  }
  ASB_EXPECT_OK(log_->Get(18).status());
  // Indexes hold nothing expired; an unfiltered page starts after the segment.
  asb::v1::AuditQueryRequest by_case;
  by_case.set_case_id("CBC-2");
  for (uint64_t i : Indexes(by_case)) {
    EXPECT_GT(i, 17u);
  }
  EXPECT_EQ(Indexes({}).front(), 18u);
  // The anchor is kept, the tree head inside the segment is not, the later one is.
  EXPECT_TRUE(log_->TreeHeadAt(17)->has_value());
  EXPECT_FALSE(log_->TreeHeadAt(10)->has_value());
  EXPECT_TRUE(log_->TreeHeadAt(30)->has_value());
  // The tree is intact: old roots and proofs for kept entries still work.
  EXPECT_EQ(*log_->RootAt(30), root30);
  auto proof = log_->InclusionProof(20, 30);
  ASB_ASSERT_OK(proof);
  ASB_EXPECT_OK(merkle::VerifyInclusion(19, 30, log_->Get(20)->leaf_hash(), *proof, root30));
  auto frontier = log_->Frontier(17);
  ASB_ASSERT_OK(frontier);
  auto range = RangeFromFrontier(17, *frontier);
  ASB_ASSERT_OK(range);
  EXPECT_EQ(range->Root(), heads_[1].root_hash());

  // Verify says what expired, from which anchor, and that the rest is intact.
  Sign(4000);
  VerifyReport report = Verify();
  ASB_EXPECT_OK(report.status);
  EXPECT_EQ(report.expired_through, 17u);
  EXPECT_EQ(report.expiry_record, 31u);
  EXPECT_EQ(report.first, 18u);
  EXPECT_EQ(report.last, 31u);

  // A reopen keeps it all; a later run expires the next segment from the same place.
  Open();
  EXPECT_EQ(log_->expired_through(), 17u);
  ASB_EXPECT_OK(Verify().status);
  k = log_->Expire(absl::FromUnixMillis(3500), 30);
  ASB_ASSERT_OK(k);
  EXPECT_EQ(*k, 30u);
  EXPECT_TRUE(log_->TreeHeadAt(17)->has_value());  // earlier anchors stay
  Sign(5000);
  report = Verify();
  ASB_EXPECT_OK(report.status);
  EXPECT_EQ(report.expiry_record, 32u);
}

TEST_F(RetentionTest, ExpiryAndErasureTogetherStillVerify) {
  AppendMany(25);
  Sign(1000);
  AppendMany(25);
  Erase("subj-3", "");  // erases entries on both sides of the coming cut
  Sign(2000);
  ASSERT_EQ(*log_->Expire(absl::FromUnixMillis(1500), 7), 25u);
  Sign(3000);
  VerifyReport report = Verify();
  ASB_EXPECT_OK(report.status);
  EXPECT_EQ(report.expired_through, 25u);
  for (const auto& [entry, by] : report.erased) {
    EXPECT_GT(entry, 25u);
    EXPECT_EQ(by, 51u);
  }
  EXPECT_FALSE(report.erased.empty());
}

TEST_F(RetentionTest, AnInterruptedRetentionRunFinishesAtLoad) {
  AppendMany(12);
  Sign(1000);
  AppendMany(3);
  // As if the EXPIRY entry and the new mark were written and the daemon stopped before
  // deleting anything.
  store::Batch batch = store_->NewBatch();
  batch.Put("meta", "expired_through", store::EncodeSeq(12));
  ASSERT_TRUE(store_->Write(&batch).ok());
  Open();
  EXPECT_EQ(log_->expired_through(), 12u);
  auto it = store_->NewIterator("entries");
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(store::DecodeSeq(std::string_view(it->key().data(), 8)), 13u);
}

TEST_F(RetentionTest, APrefixDeletedWithoutAnExpiryEntryIsNotRetention) {
  AppendMany(12);
  Sign(1000);
  AppendMany(8);
  Sign(2000);
  // An attacker deletes entries 1..12 and marks them expired, with no EXPIRY entry.
  store::Batch batch = store_->NewBatch();
  batch.DeleteRange("entries", store::EncodeSeq(1), store::EncodeSeq(13));
  batch.Put("meta", "expired_through", store::EncodeSeq(12));
  batch.Put("meta", "deleted_through", store::EncodeSeq(12));
  ASSERT_TRUE(store_->Write(&batch).ok());
  Open();
  VerifyReport report = Verify();
  EXPECT_THAT(report.status,
              StatusIsWith(absl::StatusCode::kDataLoss, "no EXPIRY entry of the log accounts"));
  EXPECT_EQ(report.first_bad, 1u);
}

// --- Range verification ---

TEST_F(RetentionTest, ARangeVerifiesAgainstTheHeadThroughConsistencyProofs) {
  AppendMany(40);
  Sign(1000);
  VerifyReport report = Verify(11, 23);
  ASB_EXPECT_OK(report.status);
  EXPECT_EQ(report.first, 11u);
  EXPECT_EQ(report.last, 23u);
  ASB_EXPECT_OK(Verify(1, 1).status);
  ASB_EXPECT_OK(Verify(40, 40).status);
  ASB_EXPECT_OK(Verify(33).status);
  EXPECT_THAT(Verify(30, 41).status, StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(RetentionTest, ARangeNamesItsFirstBadEntry) {
  AppendMany(40);
  Sign(1000);
  // Altered with its leaf hash recomputed: only the root can tell.
  auto e = log_->Get(17);
  ASB_ASSERT_OK(e);
  e->mutable_record()->set_detail("rewritten");
  e->set_leaf_hash(LeafHash(*e));
  PutRawEntry(*e);
  VerifyReport report = Verify(11, 23);
  EXPECT_THAT(report.status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(report.first_bad, 17u);
  // A range before it is fine, one after it too.
  ASB_EXPECT_OK(Verify(1, 16).status);
  ASB_EXPECT_OK(Verify(18, 40).status);
  // Altered without rehashing: named directly.
  e->mutable_record()->set_detail("again");
  PutRawEntry(*e);
  report = Verify(15, 20);
  EXPECT_THAT(report.status, StatusIsWith(absl::StatusCode::kDataLoss, "entry 17 was altered"));
  EXPECT_EQ(report.first_bad, 17u);
}

TEST_F(RetentionTest, ARangeRefusesAForgedCompactRange) {
  AppendMany(40);
  Sign(1000);
  LogSource source = Source();
  source.frontier = [this](uint64_t size) -> absl::StatusOr<std::vector<std::string>> {
    auto f = log_->Frontier(size);
    if (f.ok()) {
      (*f)[0][0] ^= 1;
    }
    return f;
  };
  VerifyRange range;
  range.from = 11;
  range.to = 20;
  VerifyReport report = VerifyLog(heads_.back(), {}, range, source);
  EXPECT_THAT(report.status, StatusIsWith(absl::StatusCode::kDataLoss, "not consistent"));
}

// --- Queries ---

TEST_F(RetentionTest, QueryByPurposeAndBySubjectIndex) {
  AppendMany(30);
  asb::v1::AuditQueryRequest q;
  q.set_purpose("tenancy-enforcement");
  q.set_limit(100);
  const auto odd = Indexes(q);
  ASSERT_EQ(odd.size(), 15u);
  for (uint64_t i : odd) {
    EXPECT_EQ(i % 2, 0u);  // Record(i - 1) with i - 1 odd
  }
  // Subject (through its index) combined with kind and agency: the same as a brute-force filter.
  asb::v1::AuditQueryRequest s;
  s.set_subject_key("subj-1");
  s.add_kinds(asb::v1::AUDIT_KIND_DISCLOSURE);
  s.set_agency("police");
  s.set_limit(100);
  std::vector<uint64_t> want;
  for (int i = 0; i < 30; ++i) {
    const asb::v1::AuditRecord r = Record(i);
    if (r.kind() == asb::v1::AUDIT_KIND_DISCLOSURE && r.recipient_agency() == "police" &&
        std::count(r.subject_keys().begin(), r.subject_keys().end(), std::string("subj-1")) > 0) {
      want.push_back(static_cast<uint64_t>(i) + 1);
    }
  }
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(Indexes(s), want);
}

TEST_F(RetentionTest, LoadIndexesAStoreThatPredatesTheSubjectIndex) {
  AppendMany(30);
  asb::v1::AuditQueryRequest q;
  q.set_subject_key("subj-1");
  q.set_limit(100);
  const auto want = Indexes(q);
  ASSERT_FALSE(want.empty());
  ASB_ASSERT_OK(store_->DeleteRange("by_subject", "", "\xff"));
  store::Batch batch = store_->NewBatch();
  batch.Delete("meta", "index/by_subject");
  ASSERT_TRUE(store_->Write(&batch).ok());
  EXPECT_TRUE(Indexes(q).empty());
  Open();
  EXPECT_EQ(Indexes(q), want);
}

// Time ranges skip whole blocks by their span of record times; the answer must be exactly the
// brute-force one, also with times out of order (an entry far in the future in an early block,
// one far in the past in a late one), across a reopen and after a failed batch.
TEST_F(RetentionTest, TimeRangesUseBlockSpansAndStayExact) {
  constexpr int kN = 3 * static_cast<int>(AuditLog::kTimeBlock) + 100;
  std::vector<int64_t> seconds;
  {
    store::Batch batch = store_->NewBatch();
    for (int i = 0; i < kN; ++i) {
      asb::v1::AuditRecord r = Record(i);
      int64_t t = 1700000000 + i;
      if (i == 1000) {
        t += 1000000;  // far in the future, in block 0
      }
      if (i == 9000) {
        t -= 1000000;  // far in the past, in block 2
      }
      *r.mutable_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(t);
      seconds.push_back(t);
      log_->Append(r, "sharing/audit", static_cast<uint64_t>(i) + 1, &batch);
    }
    ASSERT_TRUE(store_->Write(&batch).ok());
  }
  // A failed batch must not leave its times in the open block's span.
  store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
  {
    store::Batch batch = store_->NewBatch();
    asb::v1::AuditRecord r = Record(0);
    *r.mutable_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1);
    log_->Append(r, "sharing/audit", 1, &batch);
    EXPECT_FALSE(store_->Write(&batch).ok());
  }
  store_->SetWriteFaultForTest(nullptr);

  auto check = [&](int64_t since, int64_t until, const std::string& kind_filter) {
    std::vector<uint64_t> want;
    for (int i = 0; i < kN; ++i) {
      if (seconds[i] >= since && seconds[i] < until &&
          (kind_filter.empty() || Record(i).recipient_agency() == kind_filter)) {
        want.push_back(static_cast<uint64_t>(i) + 1);
      }
    }
    asb::v1::AuditQueryRequest q;
    *q.mutable_since() = google::protobuf::util::TimeUtil::SecondsToTimestamp(since);
    *q.mutable_until() = google::protobuf::util::TimeUtil::SecondsToTimestamp(until);
    q.set_agency(kind_filter);
    q.set_limit(1000);
    std::vector<uint64_t> got;
    while (true) {
      auto r = log_->Query(q);
      ASSERT_TRUE(r.ok()) << r.status();
      for (const auto& e : r->entries()) {
        got.push_back(e.index());
      }
      if (r->next_after_index() == 0) {
        break;
      }
      q.set_after_index(r->next_after_index());
    }
    EXPECT_EQ(got, want) << since << ".." << until << " " << kind_filter;
  };
  for (int pass = 0; pass < 2; ++pass) {
    check(1700000000 + 8500, 1700000000 + 8700, "");        // inside block 2 only
    check(1700000000 + 8500, 1700000000 + 8700, "police");  // through the agency index
    check(1700000000 + 1000000, 1700000000 + 1000001, "");  // the future outlier in block 0
    check(1700000000 - 1000000 + 9000, 1700000000 - 999999 + 9000, "");  // the past one
    check(1700000000 + kN - 50, 1700000000 + kN + 10, "");               // the open block
    check(1, 2, "");                                                     // the failed batch's time
    Open();
  }
}

// --- Append's hand-written serialisation ---

// Append writes the entry field by field; the stored bytes must be exactly the serialisation of
// the entry it parses to, and its leaf hash that of CanonicalEntryBytes, whatever is empty.
TEST_F(RetentionTest, StoredBytesAreTheEntrysOwnSerialisation) {
  store::Batch batch = store_->NewBatch();
  asb::v1::AuditRecord no_time = Record(1);
  no_time.clear_at();
  asb::v1::AuditRecord with_unknown = Record(2);
  with_unknown.GetReflection()->MutableUnknownFields(&with_unknown)->AddVarint(999, 7);
  log_->Append(Record(0), "sharing/audit", 1, &batch);
  log_->Append(no_time, "", 0, &batch);  // stamped by the clock; empty origin, zero seq
  log_->Append(with_unknown, "notify/audit", uint64_t{1} << 40, &batch);
  log_->Append(asb::v1::AuditRecord(), "intake/audit", 3, &batch);  // an empty record
  ASSERT_TRUE(store_->Write(&batch).ok());
  for (uint64_t i = 1; i <= 4; ++i) {
    std::string raw;
    ASB_ASSERT_OK(store_->Get("entries", store::EncodeSeq(i), &raw));
    asb::v1::AuditEntry e;
    ASSERT_TRUE(e.ParseFromString(raw));
    EXPECT_EQ(e.SerializeAsString(), raw) << i;
    EXPECT_EQ(merkle::HashLeaf(CanonicalEntryBytes(e)), e.leaf_hash()) << i;
    EXPECT_EQ(LeafHash(e), e.leaf_hash()) << i;
  }
  EXPECT_TRUE(log_->Get(2)->record().has_at());
  EXPECT_EQ(log_->Get(3)->origin_seq(), uint64_t{1} << 40);
}

// --- Proof sizes ---

// Every inclusion proof has at most ⌈log₂ n⌉ hashes and every consistency proof at most
// ⌈log₂ n⌉ + 1 (RFC 9162 §2.1.4: the extra one when the first tree is not a complete subtree),
// for every size up to 300 and every index, and for sizes up to 2^40 at sampled indexes (with
// hashes from a reader that makes them up: only the count matters here).
TEST(ProofSizeTest, ProofsHaveAtMostCeilLog2NHashes) {
  const merkle::NodeReader any = [](int, uint64_t) -> absl::StatusOr<std::string> {
    return std::string(32, 'x');
  };
  auto check = [&](uint64_t n, uint64_t index) {
    const std::size_t bound = static_cast<std::size_t>(std::bit_width(n - 1));  // ⌈log₂ n⌉
    auto proof = merkle::InclusionProof(index, n, any);
    ASSERT_TRUE(proof.ok());
    EXPECT_LE(proof->size(), bound) << "n=" << n << " index=" << index;
    auto consistency = merkle::ConsistencyProof(index + 1, n, any);
    ASSERT_TRUE(consistency.ok());
    EXPECT_LE(consistency->size(), bound + 1) << "n=" << n << " m=" << index + 1;
  };
  for (uint64_t n = 1; n <= 300; ++n) {
    for (uint64_t i = 0; i < n; ++i) {
      check(n, i);
    }
  }
  for (uint64_t n :
       {uint64_t{1} << 20, (uint64_t{1} << 20) + 1, uint64_t{10000000}, (uint64_t{1} << 40) - 1}) {
    for (uint64_t i : {uint64_t{0}, n / 3, n / 2, n - 2, n - 1}) {
      check(n, i);
    }
  }
}

}  // namespace
}  // namespace asb::audit
