// The audit log's Merkle tree, signed tree heads and tamper detection, over a real RocksDB.
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/auditlog/verifier.h"
#include "common/crypto/crypto.h"
#include "common/crypto/merkle.h"
#include "common/store/store.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/time_util.h"
#include "services/audit/audit_log.h"
#include "services/audit/signing_key.h"
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
  r.set_kind(i % 2 == 0 ? asb::v1::AUDIT_KIND_DISCLOSURE : asb::v1::AUDIT_KIND_DELIVERY);
  r.set_case_id("CBC-" + std::to_string(i % 7));
  r.set_actor("sharing");
  r.set_actor_agency("council");
  r.set_recipient_agency(i % 3 == 0 ? "police" : "housing");
  r.add_subject_keys("subj-" + std::to_string(i % 5));
  *r.mutable_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1700000000 + i);
  return r;
}

class MerkleLogTest : public AuditLogFixture {
 protected:
  void SetUp() override {
    Open();
    auto key = crypto::Ed25519PrivateKey::Generate();
    ASB_ASSERT_OK(key);
    auto pub_pem = key->PublicPem();
    ASB_ASSERT_OK(pub_pem);
    auto pub = crypto::Ed25519PublicKey::FromPem(*pub_pem);
    ASB_ASSERT_OK(pub);
    public_key_ = std::make_unique<crypto::Ed25519PublicKey>(*std::move(pub));
    auto signer = TreeHeadSigner::Create(*std::move(key));
    ASB_ASSERT_OK(signer);
    signer_ = std::make_unique<TreeHeadSigner>(*std::move(signer));
  }

  // Appends n records in batches of `batch_size` (group commit), keeping their leaf hashes.
  void AppendMany(int n, int batch_size) {
    store::Batch batch = store_->NewBatch();
    for (int i = 0; i < n; ++i) {
      log_->Append(Record(static_cast<int>(leaves_.size())), "sharing/audit", leaves_.size() + 1,
                   &batch);
      leaves_.push_back("");  // filled below from the stored entries
      if (batch.count() >= batch_size * 3) {
        ASSERT_TRUE(store_->Write(&batch).ok());
      }
    }
    ASSERT_TRUE(store_->Write(&batch).ok());
    for (uint64_t i = 1; i <= leaves_.size(); ++i) {
      auto e = log_->Get(i);
      ASB_ASSERT_OK(e);
      leaves_[i - 1] = e->leaf_hash();
    }
  }

  asb::v1::SignedTreeHead SignNow() {
    auto sth = signer_->Sign(log_->size(), log_->Root(), 1700000000000);
    EXPECT_TRUE(sth.ok());
    store::Batch batch = store_->NewBatch();
    log_->PutTreeHead(*sth, &batch);
    EXPECT_TRUE(store_->Write(&batch).ok());
    return *sth;
  }

  // What `asbctl audit verify` does, against the log directly: verify the head's signature,
  // page through the entries, and on a root mismatch locate the entry with consistency proofs.
  // Entries come as stored bytes (as asbctl asks for them); VerifyParsed checks that the
  // verifier reaches the same verdict from parsed entries.
  struct Outcome {
    absl::Status status;
    uint64_t first_bad = 0;
  };
  Outcome Verify(const asb::v1::SignedTreeHead& sth) {
    Outcome out = VerifyWith(sth, /*stored=*/true);
    Outcome parsed = VerifyWith(sth, /*stored=*/false);
    EXPECT_EQ(parsed.status.code(), out.status.code()) << parsed.status << " vs " << out.status;
    EXPECT_EQ(parsed.first_bad, out.first_bad);
    return out;
  }
  Outcome VerifyWith(const asb::v1::SignedTreeHead& sth, bool stored) {
    Outcome out;
    out.status = VerifyTreeHeadSignature(sth, *public_key_);
    if (!out.status.ok()) {
      return out;
    }
    LogVerifier verifier({sth}, /*keep_leaves=*/true);
    out.status = FeedEntries(
        sth.tree_size(),
        [this, stored](uint64_t after) {
          asb::v1::AuditQueryRequest q;
          q.set_after_index(after);
          q.set_limit(7);  // several pages
          q.set_stored(stored);
          return log_->Query(q);
        },
        &verifier);
    out.first_bad = verifier.first_bad();
    if (!out.status.ok() && verifier.size() >= sth.tree_size()) {
      out.first_bad = verifier.LocateWithConsistencyProofs(
          sth, [this](uint64_t m, uint64_t n) { return log_->ConsistencyProof(m, n); });
    }
    return out;
  }

  // Rewrites entry `index`'s stored value in the "entries" column family, as an attacker with
  // access to the daemon's RocksDB would.
  void PutRawEntry(uint64_t key_index, const asb::v1::AuditEntry& entry) {
    store::Batch batch = store_->NewBatch();
    batch.Put("entries", store::EncodeSeq(key_index), entry.SerializeAsString());
    ASSERT_TRUE(store_->Write(&batch).ok());
  }

  std::unique_ptr<TreeHeadSigner> signer_;
  std::unique_ptr<crypto::Ed25519PublicKey> public_key_;
  std::vector<std::string> leaves_;
};

TEST_F(MerkleLogTest, RootsAndProofsForEverySizeMatchARecomputation) {
  AppendMany(45, 10);
  ASSERT_EQ(log_->size(), 45u);
  EXPECT_EQ(log_->Root(), merkle::RootOfLeaves(leaves_));
  for (uint64_t n = 1; n <= 45; ++n) {
    const std::vector<std::string> prefix(leaves_.begin(), leaves_.begin() + n);
    const std::string root = merkle::RootOfLeaves(prefix);
    auto at = log_->RootAt(n);
    ASB_ASSERT_OK(at);
    ASSERT_EQ(*at, root) << n;
    for (uint64_t index = 1; index <= n; index += 3) {
      auto proof = log_->InclusionProof(index, n);
      ASB_ASSERT_OK(proof);
      EXPECT_LE(proof->size(), static_cast<std::size_t>(std::bit_width(n - 1)));
      ASB_EXPECT_OK(merkle::VerifyInclusion(index - 1, n, leaves_[index - 1], *proof, root));
    }
    auto consistency = log_->ConsistencyProof(n, 45);
    ASB_ASSERT_OK(consistency);
    ASB_EXPECT_OK(merkle::VerifyConsistency(n, 45, root, log_->Root(), *consistency));
  }
  EXPECT_THAT(log_->RootAt(46).status(), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(log_->InclusionProof(0, 5).status(), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(log_->InclusionProof(6, 5).status(), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(MerkleLogTest, ReopenKeepsTheTreeAndAppendsContinueIt) {
  AppendMany(13, 4);
  const std::string root13 = log_->Root();
  Open();
  EXPECT_EQ(log_->size(), 13u);
  EXPECT_EQ(log_->Root(), root13);
  AppendMany(6, 100);
  EXPECT_EQ(log_->Root(), merkle::RootOfLeaves(leaves_));
}

TEST_F(MerkleLogTest, AFailedBatchLeavesTheTreeAsItWas) {
  AppendMany(5, 10);
  const std::string root5 = log_->Root();
  store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
  {
    store::Batch batch = store_->NewBatch();
    log_->Append(Record(100), "sharing/audit", 100, &batch);
    log_->Append(Record(101), "sharing/audit", 101, &batch);
    EXPECT_FALSE(store_->Write(&batch).ok());
  }
  store_->SetWriteFaultForTest(nullptr);
  EXPECT_EQ(log_->size(), 5u);
  EXPECT_EQ(log_->Root(), root5);
  AppendMany(3, 10);
  EXPECT_EQ(log_->Root(), merkle::RootOfLeaves(leaves_));
  Open();
  EXPECT_EQ(log_->Root(), merkle::RootOfLeaves(leaves_));
}

// Issue 19: missing tree hashes are damage, never rebuilt by Load (a tree rebuilt over a gap
// would be signed as if whole): the log loads read-only, and an admin's repair writes them.
TEST_F(MerkleLogTest, AStoreWithoutTheTreesNodesIsDamageUntilARepairWritesThem) {
  AppendMany(21, 50);
  const std::string root = log_->Root();
  // Remove every interior node, as in a store written before the tree was kept.
  ASB_ASSERT_OK(store_->DeleteRange("meta", "node/", "node0"));
  Open();
  ASSERT_TRUE(log_->read_only());
  ASSERT_FALSE(log_->damage().empty());
  EXPECT_NE(log_->damage()[0].what().find("hashes of entries 1..21 are incomplete"),
            std::string::npos)
      << log_->damage()[0].what();
  auto plan = log_->PlanRepair();
  ASB_ASSERT_OK(plan);
  EXPECT_EQ(plan->tree_size, 21u);
  ASB_ASSERT_OK(log_->Repair(*plan));
  EXPECT_FALSE(log_->read_only());
  EXPECT_EQ(log_->Root(), root);
  auto at = log_->RootAt(10);
  ASB_ASSERT_OK(at);
  EXPECT_EQ(*at, merkle::RootOfLeaves({leaves_.begin(), leaves_.begin() + 10}));
}

TEST_F(MerkleLogTest, TreeHeadsAreStoredAndListed) {
  auto none = log_->LatestTreeHead();
  ASB_ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  AppendMany(3, 10);
  SignNow();
  AppendMany(4, 10);
  const asb::v1::SignedTreeHead sth7 = SignNow();
  auto latest = log_->LatestTreeHead();
  ASB_ASSERT_OK(latest);
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->tree_size(), 7u);
  ASB_EXPECT_OK(VerifyTreeHeadSignature(**latest, *public_key_));
  auto at3 = log_->TreeHeadAt(3);
  ASB_ASSERT_OK(at3);
  ASSERT_TRUE(at3->has_value());
  EXPECT_EQ((*at3)->root_hash(), merkle::RootOfLeaves({leaves_.begin(), leaves_.begin() + 3}));
  bool more = true;
  auto heads = log_->TreeHeads(0, 1, &more);
  ASB_ASSERT_OK(heads);
  ASSERT_EQ(heads->size(), 1u);
  EXPECT_EQ((*heads)[0].tree_size(), 3u);
  EXPECT_TRUE(more);
  heads = log_->TreeHeads(3, 0, &more);
  ASB_ASSERT_OK(heads);
  ASSERT_EQ(heads->size(), 1u);
  EXPECT_EQ((*heads)[0].SerializeAsString(), sth7.SerializeAsString());
  EXPECT_FALSE(more);
}

TEST_F(MerkleLogTest, AnIntactLogVerifies) {
  AppendMany(30, 8);
  const auto sth = SignNow();
  Outcome out = Verify(sth);
  ASB_EXPECT_OK(out.status);
  EXPECT_EQ(out.first_bad, 0u);
}

TEST_F(MerkleLogTest, TamperAlteredEntryIsNamed) {
  AppendMany(30, 8);
  const auto sth = SignNow();
  auto e = log_->Get(17);
  ASB_ASSERT_OK(e);
  e->mutable_record()->set_recipient_agency("nobody");
  PutRawEntry(17, *e);
  Open();
  Outcome out = Verify(sth);
  EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss, "entry 17 was altered"));
  EXPECT_EQ(out.first_bad, 17u);
}

TEST_F(MerkleLogTest, TamperAlteredEntryWithRecomputedLeafHashIsLocated) {
  AppendMany(30, 8);
  const auto sth = SignNow();
  auto e = log_->Get(22);
  ASB_ASSERT_OK(e);
  e->mutable_record()->set_detail("rewritten");
  e->set_leaf_hash(LeafHash(*e));  // a careful attacker
  PutRawEntry(22, *e);
  Open();
  Outcome out = Verify(sth);
  EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss, "do not match the signed"));
  EXPECT_EQ(out.first_bad, 22u);
}

TEST_F(MerkleLogTest, TamperDeletedEntryIsNamed) {
  AppendMany(30, 8);
  const auto sth = SignNow();
  store::Batch batch = store_->NewBatch();
  batch.Delete("entries", store::EncodeSeq(9));
  ASSERT_TRUE(store_->Write(&batch).ok());
  Open();
  Outcome out = Verify(sth);
  EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss, "entry 9 is missing"));
  EXPECT_EQ(out.first_bad, 9u);
}

TEST_F(MerkleLogTest, TamperReorderedEntriesAreNamed) {
  AppendMany(30, 8);
  const auto sth = SignNow();
  auto a = log_->Get(5);
  auto b = log_->Get(11);
  ASB_ASSERT_OK(a);
  ASB_ASSERT_OK(b);
  PutRawEntry(5, *b);
  PutRawEntry(11, *a);
  Open();
  Outcome out = Verify(sth);
  EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss, "entry 5"));
  EXPECT_EQ(out.first_bad, 5u);

  // Swapping and renumbering them (index fields and leaf hashes recomputed) is found too.
  a->set_index(11);
  a->set_leaf_hash(LeafHash(*a));
  b->set_index(5);
  b->set_leaf_hash(LeafHash(*b));
  PutRawEntry(5, *b);
  PutRawEntry(11, *a);
  Open();
  out = Verify(sth);
  EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss, "do not match the signed"));
  EXPECT_EQ(out.first_bad, 5u);
}

TEST_F(MerkleLogTest, TamperStoredBytesThatDoNotParseAreNamed) {
  AppendMany(30, 8);
  const auto sth = SignNow();
  store::Batch batch = store_->NewBatch();
  batch.Put("entries", store::EncodeSeq(12), std::string("\x08\x0c\x12\xff\xff", 5));
  ASSERT_TRUE(store_->Write(&batch).ok());
  Open();
  Outcome out = VerifyWith(sth, /*stored=*/true);
  EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss, "entry 12 was altered"));
  EXPECT_EQ(out.first_bad, 12u);
  // Parsed by the hub instead, the page fails to load (no entry is named).
  EXPECT_THAT(VerifyWith(sth, /*stored=*/false).status,
              StatusIsWith(absl::StatusCode::kDataLoss, "audit entry 12: unparsable"));
}

TEST_F(MerkleLogTest, StoredBytesOfAnotherShapeAreParsedAndChecked) {
  AppendMany(30, 8);
  const auto sth = SignNow();
  std::string value;
  ASB_ASSERT_OK(store_->Get("entries", store::EncodeSeq(14), &value));
  // Entry 14 with its index field written twice (a parser keeps the last): not the shape
  // asb-audit writes, so the verifier parses it and hashes the canonical bytes of what it
  // says — the same entry, which verifies.
  const std::string doubled = std::string("\x08\x0e", 2) + value;
  store::Batch batch = store_->NewBatch();
  batch.Put("entries", store::EncodeSeq(14), doubled);
  ASSERT_TRUE(store_->Write(&batch).ok());
  Open();
  ASB_EXPECT_OK(Verify(sth).status);

  // The same shape with the record changed is found.
  asb::v1::AuditEntry e;
  ASSERT_TRUE(e.ParseFromString(value));
  e.mutable_record()->set_actor("someone-else");
  store::Batch rewrite = store_->NewBatch();  // the store was reopened: a batch of the new one
  rewrite.Put("entries", store::EncodeSeq(14), std::string("\x08\x0e", 2) + e.SerializeAsString());
  ASSERT_TRUE(store_->Write(&rewrite).ok());
  Open();
  Outcome out = Verify(sth);
  EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss, "entry 14 was altered"));
  EXPECT_EQ(out.first_bad, 14u);
}

TEST_F(MerkleLogTest, TamperTruncatedLogIsFound) {
  AppendMany(30, 8);
  const auto sth = SignNow();
  store::Batch batch = store_->NewBatch();
  batch.DeleteRange("entries", store::EncodeSeq(29), store::EncodeSeq(31));
  // The size is the last leaf hash's index: a consistent truncation removes those too.
  batch.DeleteRange("meta", std::string("leaf/") + store::EncodeSeq(29),
                    std::string("leaf/") + store::EncodeSeq(31));
  ASSERT_TRUE(store_->Write(&batch).ok());
  log_.reset();
  log_ = std::make_unique<AuditLog>(store_.get(), [] { return absl::FromUnixSeconds(1); });
  ASB_ASSERT_OK(log_->Load());
  Outcome out = Verify(sth);
  EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss, "ends at entry 28"));
  EXPECT_EQ(out.first_bad, 29u);
}

TEST_F(MerkleLogTest, ForgedTreeHeadsAreRefused) {
  AppendMany(30, 8);
  const auto sth = SignNow();
  // A tree head with another root, or another size, under the old signature.
  asb::v1::SignedTreeHead forged = sth;
  forged.set_root_hash(merkle::RootOfLeaves({leaves_.begin(), leaves_.begin() + 29}));
  EXPECT_THAT(VerifyTreeHeadSignature(forged, *public_key_),
              StatusIsWith(absl::StatusCode::kDataLoss, "signature does not verify"));
  EXPECT_THAT(Verify(forged).status, StatusIs(absl::StatusCode::kDataLoss));
  forged = sth;
  forged.set_tree_size(29);
  EXPECT_THAT(Verify(forged).status, StatusIs(absl::StatusCode::kDataLoss));
  // Signed by another key.
  auto other_key = crypto::Ed25519PrivateKey::Generate();
  ASB_ASSERT_OK(other_key);
  auto other = TreeHeadSigner::Create(*std::move(other_key));
  ASB_ASSERT_OK(other);
  auto by_other = other->Sign(sth.tree_size(), sth.root_hash(), sth.timestamp_ms());
  ASB_ASSERT_OK(by_other);
  EXPECT_THAT(Verify(*by_other).status, StatusIs(absl::StatusCode::kDataLoss));
  // A stored tree head overwritten in the database.
  store::Batch batch = store_->NewBatch();
  log_->PutTreeHead(forged, &batch);
  ASSERT_TRUE(store_->Write(&batch).ok());
  auto stored = log_->TreeHeadAt(29);
  ASB_ASSERT_OK(stored);
  ASSERT_TRUE(stored->has_value());
  EXPECT_FALSE(VerifyTreeHeadSignature(**stored, *public_key_).ok());
}

TEST(CanonicalBytesTest, EqualToSerialisingWithoutTheLeafHash) {
  asb::v1::AuditEntry e;
  e.set_index(42);
  *e.mutable_record() = Record(3);
  e.set_origin("sharing/audit");
  e.set_origin_seq(9);
  const std::string without = CanonicalEntryBytes(e);
  e.set_leaf_hash(std::string(32, '\x07'));
  EXPECT_EQ(CanonicalEntryBytes(e), without);
  EXPECT_EQ(LeafHash(e), merkle::HashLeaf(without));
  // An entry with unknown fields (from a newer writer) keeps them in its canonical bytes.
  e.GetReflection()->MutableUnknownFields(&e)->AddVarint(99, 1);
  asb::v1::AuditEntry copy = e;
  copy.clear_leaf_hash();
  std::string expected;
  {
    google::protobuf::io::StringOutputStream raw(&expected);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    ASSERT_TRUE(copy.SerializeToCodedStream(&coded));
  }
  EXPECT_EQ(CanonicalEntryBytes(e), expected);
  EXPECT_NE(expected, without);
}

TEST(SigningKeyTest, CreatedOnceWithMode0600AndPublicKeyBeside) {
  ::asb::testing::TempDir dir;
  const std::string path = dir.Sub("keys/sth.pem");
  auto key = LoadOrCreateSigningKey(path);
  ASB_ASSERT_OK(key);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(PublicKeyPathFor(path), dir.Sub("keys/sth.pub.pem"));
  std::ifstream in(PublicKeyPathFor(path));
  std::string pub_pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto pub = crypto::Ed25519PublicKey::FromPem(pub_pem);
  ASB_ASSERT_OK(pub);

  auto again = LoadOrCreateSigningKey(path);
  ASB_ASSERT_OK(again);
  auto sig = again->Sign("x");
  ASB_ASSERT_OK(sig);
  ASB_EXPECT_OK(pub->Verify("x", *sig));  // the same key, not a new one

  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_THAT(LoadOrCreateSigningKey(path).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace asb::audit
