// Damage to asb-audit's access log, made as an attacker (or a failing disk) would — bytes
// flipped in the stored entries, entries deleted, the newest entries deleted together with
// their hashes and the stored tree heads — and what must follow: a bad entry is named by its
// index (and case) while the rest still verifies and the log keeps growing; a log that no longer
// holds the last signed tree head is damage that is never re-signed, until an admin's repair,
// which is itself on the record.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/auditlog/verifier.h"
#include "common/auditlog/witness.h"
#include "common/crypto/aead.h"
#include "common/crypto/crypto.h"
#include "common/crypto/merkle.h"
#include "google/protobuf/util/time_util.h"
#include "rocksdb/db.h"
#include "services/audit/audit_log.h"
#include "services/audit/repair.h"
#include "services/audit/tree_heads.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::audit {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
namespace merkle = ::asb::crypto::merkle;

asb::v1::AuditRecord Record(int i) {
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_DISCLOSURE);
  r.set_case_id("CBC-" + std::to_string(i % 7));
  r.set_actor("sharing");
  r.set_actor_agency("council");
  r.set_recipient_agency("police");
  *r.mutable_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1780000000 + i);
  return r;
}

std::string Leaf(uint64_t index) { return absl::StrCat("leaf/", store::EncodeSeq(index)); }

class DamageTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    auto key = crypto::Ed25519PrivateKey::Generate();
    ASB_ASSERT_OK(key);
    auto signer = TreeHeadSigner::Create(*std::move(key));
    ASB_ASSERT_OK(signer);
    signer_ = std::make_unique<TreeHeadSigner>(*std::move(signer));
    Open();
  }

  bool encrypted() const { return GetParam(); }

  void Close() {
    heads_.reset();
    log_.reset();
    store_.reset();
  }

  // (Re)opens the store (encrypted at rest or not), the log and its tree heads.
  void Open() {
    Close();
    store::StoreOptions options = AuditStoreLayout();
    options.path = dir_.Sub("db");
    options.sync = false;
    if (encrypted()) {
      options.key_ring = std::make_shared<const crypto::KeyRing>(
          crypto::KeyRing::FromKeys({{1, std::string(32, 'k')}}));
    }
    auto store = store::Store::Open(options);
    ASB_ASSERT_OK(store);
    store_ = std::move(*store);
    log_ = std::make_unique<AuditLog>(store_.get(), [] { return absl::FromUnixSeconds(9); });
    ASB_ASSERT_OK(log_->Load());
    heads_ = std::make_unique<TreeHeads>(log_.get(), store_.get(), signer_.get(),
                                         dir_.Sub("kept.json"), [] { return absl::Now(); });
    ASB_ASSERT_OK(heads_->Load());
  }

  void Append(int n) {
    store::Batch batch = store_->NewBatch();
    for (int i = 0; i < n; ++i) {
      const int i_th = appended_++;
      log_->Append(Record(i_th), "sharing/audit", appended_, &batch);
    }
    ASB_ASSERT_OK(store_->Write(&batch));
  }

  asb::v1::SignedTreeHead Sign() {
    auto head = heads_->Issue();
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() && head->has_value() ? **head : asb::v1::SignedTreeHead();
  }

  // Writes (or, with an empty value, deletes) raw bytes under RocksDB keys, with the store
  // closed, as `ldb put` would: no encryption, no bookkeeping.
  void RawWrite(const std::map<std::pair<std::string, std::string>, std::string>& writes) {
    Close();
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_.Sub("db"), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) {
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir_.Sub("db"), cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (const auto& [where, value] : writes) {
      rocksdb::ColumnFamilyHandle* h = nullptr;
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == where.first) {
          h = handles[i];
        }
      }
      ASSERT_NE(h, nullptr) << where.first;
      if (value.empty()) {
        ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), h, where.second).ok());
      } else {
        ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), h, where.second, value).ok());
      }
    }
    for (auto* h : handles) {
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    }
    ASSERT_TRUE(db->Close().ok());
  }

  // The stored bytes of entry `index` with one byte flipped (in the record).
  std::pair<std::pair<std::string, std::string>, std::string> Flipped(uint64_t index) {
    std::string raw;
    EXPECT_TRUE(store_->GetStored("entries", store::EncodeSeq(index), &raw).ok());
    raw[raw.size() / 2] ^= 0x20;
    return {{"entries", store::EncodeSeq(index)}, raw};
  }

  // Every RocksDB key of "meta" starting with `prefix`, to delete.
  std::vector<std::string> MetaKeys(const std::string& prefix) {
    std::vector<std::string> keys;
    auto it = store_->NewIterator("meta");
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      keys.push_back(it->key().ToString());
    }
    return keys;
  }

  LogSource Source() {
    LogSource source;
    source.fetch = [this](uint64_t after) {
      asb::v1::AuditQueryRequest q;
      q.set_after_index(after);
      q.set_limit(9);  // several pages
      q.set_stored(true);
      return log_->Query(q);
    };
    source.consistency = [this](uint64_t m, uint64_t n) { return log_->ConsistencyProof(m, n); };
    source.frontier = [this](uint64_t n) { return log_->Frontier(n); };
    return source;
  }

  VerifyReport Verify(const asb::v1::SignedTreeHead& head,
                      std::vector<asb::v1::SignedTreeHead> history = {}) {
    return VerifyLog(head, std::move(history), VerifyRange{}, Source());
  }

  ::asb::testing::TempDir dir_;
  std::unique_ptr<TreeHeadSigner> signer_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<TreeHeads> heads_;
  int appended_ = 0;
};

INSTANTIATE_TEST_SUITE_P(AtRest, DamageTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Encrypted" : "Plaintext"; });

TEST_P(DamageTest, BadBytesAreNamedByIndexAndCaseAndTheRestVerifies) {
  Append(20);
  const auto h20 = Sign();
  Append(20);
  const auto h40 = Sign();
  RawWrite({Flipped(5), Flipped(6), Flipped(31)});
  Open();
  EXPECT_TRUE(log_->damage().empty()) << "a bad entry is not damage to the tree";
  const VerifyReport r = Verify(h40, {h20});
  EXPECT_THAT(r.status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(r.first_bad, 5u);
  ASSERT_EQ(r.damaged.size(), encrypted() ? 3u : 2u) << r.status;
  EXPECT_EQ(r.damaged[0].first(), 5u);
  if (encrypted()) {
    // An entry that does not decrypt: named with the case its index files it under.
    EXPECT_EQ(r.damaged[0].last(), 5u);
    EXPECT_EQ(r.damaged[0].case_id(), "CBC-4");
    EXPECT_NE(r.damaged[0].what().find("do not authenticate"), std::string::npos);
    EXPECT_EQ(r.damaged[1].first(), 6u);
    EXPECT_EQ(r.damaged[2].first(), 31u);
  } else {
    EXPECT_EQ(r.damaged[0].last(), 6u);  // altered contents, merged
    EXPECT_EQ(r.damaged[1].first(), 31u);
  }
  // Every signed head was still matched: the entries after the bad ones verify.
  EXPECT_EQ(r.last_good_size, 40u);

  // And the log keeps growing and signing.
  Append(7);
  const auto h47 = Sign();
  EXPECT_EQ(h47.tree_size(), 47u);
  const VerifyReport later = Verify(h47, {h20, h40});
  EXPECT_EQ(later.first_bad, 5u);
  EXPECT_EQ(later.last_good_size, 47u);
}

TEST_P(DamageTest, ABadEntryInTheNewestBlockDoesNotStopTheLog) {
  Append(12);
  const auto h12 = Sign();
  RawWrite({Flipped(12)});
  Open();  // Load reads the open time block's entries
  EXPECT_FALSE(log_->read_only());
  Append(3);
  EXPECT_EQ(Sign().tree_size(), 15u);
  asb::v1::AuditQueryRequest by_case;
  by_case.set_case_id("CBC-4");  // entry 12's case (record 11)
  auto page = log_->Query(by_case);
  ASB_ASSERT_OK(page);
  if (encrypted()) {
    ASSERT_EQ(page->damaged_size(), 1);
    EXPECT_EQ(page->damaged(0).first(), 12u);
  }
}

TEST_P(DamageTest, MissingEntriesAreListedAndTheRestVerifies) {
  Append(30);
  const auto h30 = Sign();
  RawWrite({{{"entries", store::EncodeSeq(10)}, ""},
            {{"entries", store::EncodeSeq(11)}, ""},
            {{"entries", store::EncodeSeq(12)}, ""}});
  Open();
  const VerifyReport r = Verify(h30);
  EXPECT_EQ(r.first_bad, 10u);
  // One line per entry here: each names the case its index still files it under.
  ASSERT_EQ(r.damaged.size(), 3u);
  for (uint64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.damaged[i].first(), 10 + i);
    EXPECT_EQ(r.damaged[i].case_id(), absl::StrCat("CBC-", (9 + i) % 7));
    EXPECT_NE(r.damaged[i].what().find(absl::StrCat("entry ", 10 + i, " is missing")),
              std::string::npos)
        << r.damaged[i].what();
  }
  EXPECT_EQ(r.last_good_size, 30u);
}

TEST_P(DamageTest, ATruncatedLogIsDamageNeverResignedUntilARepairOnTheRecord) {
  Append(30);
  const auto h30 = Sign();
  Append(10);
  const auto h40 = Sign();  // a partner kept this one
  // ldb: the newest 10 entries, their leaf hashes, every node and every stored tree head.
  std::map<std::pair<std::string, std::string>, std::string> gone;
  for (uint64_t i = 31; i <= 40; ++i) {
    gone[{"entries", store::EncodeSeq(i)}] = "";
    gone[{"meta", Leaf(i)}] = "";
  }
  for (const auto& k : MetaKeys("node/")) {
    gone[{"meta", k}] = "";
  }
  for (const auto& k : MetaKeys("sth/")) {
    gone[{"meta", k}] = "";
  }
  RawWrite(gone);
  Open();
  ASSERT_FALSE(log_->damage().empty());
  EXPECT_TRUE(log_->read_only());
  bool truncation = false;
  for (const auto& d : log_->damage()) {
    truncation |= d.what().find("truncated") != std::string::npos;
  }
  EXPECT_TRUE(truncation);
  // Nothing is signed over it; the kept head is what the hub shows.
  auto issued = heads_->Issue();
  ASB_ASSERT_OK(issued);
  ASSERT_TRUE(issued->has_value());
  EXPECT_EQ((*issued)->SerializeAsString(), h40.SerializeAsString());
  ASSERT_TRUE(heads_->last().has_value());
  EXPECT_EQ(heads_->last()->SerializeAsString(), h40.SerializeAsString());
  EXPECT_EQ(log_->size(), 30u);
  // A verifier against it is told the log was truncated.
  const VerifyReport r = Verify(*heads_->last());
  EXPECT_THAT(r.status, StatusIsWith(absl::StatusCode::kDataLoss, "truncated"));

  // The admin's repair: the tree rebuilt, the heads it no longer matches set aside, on record.
  asb::v1::AuditRepairRequest dry;
  dry.set_reference("INC-7");
  dry.set_dry_run(true);
  asb::v1::AuditRecord who;
  who.set_actor("hub-admin");
  ASB_ASSERT_OK(RepairLog(log_.get(), heads_.get(), store_.get(), dry, who).status());
  EXPECT_TRUE(log_->read_only());
  asb::v1::AuditRepairRequest request;
  EXPECT_THAT(RepairLog(log_.get(), heads_.get(), store_.get(), request, who).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  request.set_reference("INC-7");
  auto repaired = RepairLog(log_.get(), heads_.get(), store_.get(), request, who);
  ASB_ASSERT_OK(repaired);
  EXPECT_FALSE(log_->read_only());
  EXPECT_EQ(repaired->repair_index(), 31u);
  ASSERT_EQ(repaired->repair().superseded_size(), 1);
  EXPECT_EQ(repaired->repair().superseded(0).tree_size(), 40u);
  EXPECT_EQ(repaired->tree_head().tree_size(), 31u);
  auto entry = log_->Get(31);
  ASB_ASSERT_OK(entry);
  EXPECT_EQ(entry->record().kind(), asb::v1::AUDIT_KIND_REPAIR);
  EXPECT_EQ(entry->record().repair().reference(), "INC-7");
  // The log verifies from the repair on, and says so; the head of 40 does not fit it any more.
  ASB_EXPECT_OK(Verify(repaired->tree_head()).status);
  EXPECT_THAT(log_->ConsistencyProof(31, 40).status(), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(Truncated(h40, log_->size(), "police's witness"),
              StatusIsWith(absl::StatusCode::kDataLoss, "TRUNCATED"));
  // The older head the partner may also hold is still in it.
  auto proof = log_->ConsistencyProof(30, 31);
  ASB_ASSERT_OK(proof);
  ASB_EXPECT_OK(CheckWitness(h30, repaired->tree_head(), *proof).status());
  // After a restart it stays whole and goes on.
  Open();
  EXPECT_FALSE(log_->read_only()) << log_->damage()[0].what();
  Append(2);
  EXPECT_EQ(Sign().tree_size(), 33u);
}

TEST_P(DamageTest, HeadsDeletedFromTheStoreAreDamage) {
  Append(20);
  Sign();
  std::map<std::pair<std::string, std::string>, std::string> gone;
  for (const auto& k : MetaKeys("sth/")) {
    gone[{"meta", k}] = "";
  }
  RawWrite(gone);
  Open();
  ASSERT_EQ(log_->damage().size(), 1u);
  EXPECT_NE(log_->damage()[0].what().find("missing from the database"), std::string::npos);
  EXPECT_THAT(heads_->Issue().status(), StatusIs(absl::StatusCode::kOk));  // last() is 20
  Append(1);
  EXPECT_THAT(heads_->Issue().status(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_P(DamageTest, ATreeInconsistentWithTheLastHeadIsNotSigned) {
  Append(16);
  const auto h16 = Sign();
  Append(5);
  // The hash of entries 17..20 rewritten in place while the daemon runs: its next consistency
  // proof (from the stored hashes) does not lead from the last head to its tree.
  store::Batch batch = store_->NewBatch();
  std::string node = "node/";
  node.push_back(static_cast<char>(2));
  node += store::EncodeSeq(4);
  batch.Put("meta", node, std::string(32, 'x'));
  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_THAT(heads_->Issue().status(),
              StatusIsWith(absl::StatusCode::kDataLoss, "not consistent with the last signed"));
  EXPECT_TRUE(log_->read_only());
  EXPECT_EQ(heads_->last()->tree_size(), 16u);
  EXPECT_EQ(heads_->refused(), 1u);
  // At the next start the stored tree after the last head is checked against the leaf hashes.
  Open();
  ASSERT_TRUE(log_->read_only());
  EXPECT_NE(log_->damage()[0].what().find("after the last signed tree head"), std::string::npos)
      << log_->damage()[0].what();
  EXPECT_EQ(h16.tree_size(), heads_->last()->tree_size());
}

}  // namespace
}  // namespace asb::audit
