// Property test of asb-audit's tree heads under the pipelined group commit: random
// interleavings of deferred batches (Store::WriteDeferred: a consumer's), synchronous writes
// (asb-audit's own records), batches dropped unwritten, failed writes, failed flushes (the store
// fails for good and is reopened, as a restarted daemon does) and tree-head issuance. Every head
// signed must carry the root of exactly the entries committed when it was signed, recomputed
// here independently — from the entries' protobuf serialisation and RFC 9162 over them, not
// through AuditLog's tree — and every head must extend the one before it.
//
// (The bug this pins down: a batch committing while a later one was already written moved the
// log's size but not its tree, so a head signed in between carried the old root.)

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/auditlog/tree_head.h"
#include "common/auditlog/verifier.h"
#include "common/crypto/crypto.h"
#include "common/crypto/merkle.h"
#include "google/protobuf/util/time_util.h"
#include "services/audit/audit_log.h"
#include "services/audit/tree_heads.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::audit {
namespace {

namespace merkle = ::asb::crypto::merkle;

// The leaf hash of entry `index` as RFC 9162 defines it over the entry's canonical bytes: the
// protobuf serialisation of AuditEntry{index, record, origin, origin_seq}.
std::string ExpectedLeaf(uint64_t index, const asb::v1::AuditRecord& record,
                         const std::string& origin, uint64_t origin_seq) {
  asb::v1::AuditEntry e;
  e.set_index(index);
  *e.mutable_record() = record;
  e.set_origin(origin);
  e.set_origin_seq(origin_seq);
  return merkle::HashLeaf(e.SerializeAsString());
}

class TreeHeadPropertyTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  void SetUp() override {
    auto key = crypto::Ed25519PrivateKey::Generate();
    ASB_ASSERT_OK(key);
    auto pem = key->PublicPem();
    ASB_ASSERT_OK(pem);
    auto pub = crypto::Ed25519PublicKey::FromPem(*pem);
    ASB_ASSERT_OK(pub);
    public_key_ = std::make_unique<crypto::Ed25519PublicKey>(*std::move(pub));
    auto signer = TreeHeadSigner::Create(*std::move(key));
    ASB_ASSERT_OK(signer);
    signer_ = std::make_unique<TreeHeadSigner>(*std::move(signer));
    Open();
  }

  // (Re)opens the store (with fsync, so WriteDeferred really defers), the log and the heads.
  void Open() {
    heads_.reset();
    log_.reset();
    store_.reset();
    store::StoreOptions options = AuditStoreLayout();
    options.path = dir_.Sub("db");
    options.sync = true;
    auto store = store::Store::Open(options);
    ASB_ASSERT_OK(store);
    store_ = std::move(*store);
    log_ = std::make_unique<AuditLog>(store_.get(), [] { return absl::FromUnixSeconds(7); });
    ASB_ASSERT_OK(log_->Load());
    heads_ = std::make_unique<TreeHeads>(log_.get(), store_.get(), signer_.get(),
                                         dir_.Sub("kept.json"), [this] { return now_; });
    ASB_ASSERT_OK(heads_->Load());
    ASSERT_TRUE(log_->damage().empty()) << log_->damage()[0].what();
  }

  asb::v1::AuditRecord NextRecord() {
    asb::v1::AuditRecord r;
    r.set_kind(rng_() % 2 == 0 ? asb::v1::AUDIT_KIND_DISCLOSURE : asb::v1::AUDIT_KIND_REJECTION);
    r.set_case_id(absl::StrCat("CBC-", rng_() % 9));
    r.set_actor("sharing");
    r.set_detail(std::string(rng_() % 40, 'x'));
    *r.mutable_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1780000000 + records_++);
    return r;
  }

  // Appends n records to `batch` and registers the oracle's callbacks after the log's.
  void Fill(store::Batch* batch, int n, bool self) {
    auto leaves = std::make_shared<std::vector<std::string>>();
    for (int i = 0; i < n; ++i) {
      const asb::v1::AuditRecord r = NextRecord();
      const std::string origin = self ? "audit/self" : "sharing/audit";
      const uint64_t seq = self ? 0 : ++upstream_seq_;
      const uint64_t index = log_->Append(r, origin, seq, batch);
      leaves->push_back(ExpectedLeaf(index, r, origin, seq));
    }
    batch->OnCommit(
        [this, leaves] { committed_.insert(committed_.end(), leaves->begin(), leaves->end()); });
    batch->OnAbort([this, leaves] { aborted_.push_back(*leaves); });
  }

  // The log and the oracle agree on what is committed, and the log's root is the recomputed one.
  void CheckCommitted() {
    ASSERT_EQ(log_->size(), committed_.size());
    EXPECT_EQ(log_->Root(), merkle::RootOfLeaves(committed_)) << "size " << committed_.size();
  }

  void IssueAndCheck() {
    // The head's own write commits a deferred batch first (the oracle then grows): the head is
    // of the entries committed when it was signed.
    const std::size_t committed_when_signed = committed_.size();
    auto head = heads_->Issue();
    ASB_ASSERT_OK(head);
    if (!head->has_value()) {
      ASSERT_TRUE(committed_.empty());
      return;
    }
    const asb::v1::SignedTreeHead& sth = **head;
    ASB_ASSERT_OK(VerifyTreeHeadSignature(sth, *public_key_));
    ASSERT_EQ(sth.tree_size(), committed_when_signed);
    ASSERT_EQ(sth.root_hash(),
              merkle::RootOfLeaves({committed_.begin(), committed_.begin() + sth.tree_size()}))
        << "the head of size " << sth.tree_size() << " signs another root";
    if (!heads_seen_.empty() && heads_seen_.back().tree_size() < sth.tree_size()) {
      const auto& prev = heads_seen_.back();
      auto proof = log_->ConsistencyProof(prev.tree_size(), sth.tree_size());
      ASB_ASSERT_OK(proof);
      ASB_EXPECT_OK(merkle::VerifyConsistency(prev.tree_size(), sth.tree_size(), prev.root_hash(),
                                              sth.root_hash(), *proof));
    }
    heads_seen_.push_back(sth);
    ++heads_signed_;
  }

  // After a failed flush: what was written but not known to be on disk may or may not come
  // back. What does must be whole batches, in order, from those aborted since the failure.
  void Restart() {
    (void)store_->Settle();
    std::vector<std::vector<std::string>> candidates = std::move(aborted_);
    aborted_.clear();
    store_->SetFlushFaultForTest(nullptr);
    Open();
    std::vector<std::string> extra;
    for (uint64_t i = committed_.size() + 1; i <= log_->size(); ++i) {
      auto e = log_->Get(i);
      ASB_ASSERT_OK(e);
      extra.push_back(e->leaf_hash());
    }
    std::size_t pos = 0;
    std::size_t next = 0;
    while (pos < extra.size()) {
      bool matched = false;
      for (; next < candidates.size(); ++next) {
        const auto& c = candidates[next];
        if (pos + c.size() <= extra.size() &&
            std::equal(c.begin(), c.end(), extra.begin() + static_cast<std::ptrdiff_t>(pos))) {
          pos += c.size();
          ++next;
          matched = true;
          break;
        }
      }
      ASSERT_TRUE(matched) << "entry " << committed_.size() + pos + 1
                           << " after the restart is not from a whole written batch";
    }
    committed_.insert(committed_.end(), extra.begin(), extra.end());
    ++restarts_;
  }

  ::asb::testing::TempDir dir_;
  std::mt19937 rng_{GetParam()};
  absl::Time now_ = absl::FromUnixSeconds(1780000000);
  std::unique_ptr<crypto::Ed25519PublicKey> public_key_;
  std::unique_ptr<TreeHeadSigner> signer_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AuditLog> log_;
  std::unique_ptr<TreeHeads> heads_;
  std::vector<std::string> committed_;             // the oracle: committed leaf hashes
  std::vector<std::vector<std::string>> aborted_;  // batches aborted since the last restart
  std::vector<asb::v1::SignedTreeHead> heads_seen_;
  uint64_t records_ = 0;
  uint64_t upstream_seq_ = 0;
  int heads_signed_ = 0;
  int restarts_ = 0;
};

TEST_P(TreeHeadPropertyTest, EveryHeadSignsTheRootOfExactlyTheCommittedEntries) {
  bool store_failed = false;
  for (int step = 0; step < 300; ++step) {
    const uint32_t op = rng_() % 100;
    if (op < 40) {
      // A consumer's batch, its flush overlapping the next one.
      store::Batch batch = store_->NewBatch();
      Fill(&batch, 1 + static_cast<int>(rng_() % 12), /*self=*/false);
      if (rng_() % 25 == 0) {
        continue;  // dropped unwritten (an apply failed): it rolls back
      }
      const bool fault = rng_() % 20 == 0;
      if (fault) {
        store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
      }
      absl::Status s = store_->WriteDeferred(&batch);
      store_->SetWriteFaultForTest(nullptr);
      // (Once the flush fault is armed, writes fail only after a deferred flush has failed.)
      if (fault) {
        EXPECT_FALSE(s.ok());
      }
    } else if (op < 60) {
      // asb-audit's own record (a refusal, an auditor's query): a synchronous write, which
      // commits the deferred batch first.
      store::Batch batch = store_->NewBatch();
      Fill(&batch, 1 + static_cast<int>(rng_() % 2), /*self=*/true);
      const bool fault = rng_() % 15 == 0;
      if (fault) {
        store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
      }
      absl::Status s = store_->Write(&batch);
      store_->SetWriteFaultForTest(nullptr);
      // (Once the flush fault is armed, writes fail only after a deferred flush has failed.)
      if (fault) {
        EXPECT_FALSE(s.ok());
      }
    } else if (op < 85) {
      // The tree-head timer, between any two of the above.
      if (store_failed) {
        continue;
      }
      IssueAndCheck();
    } else if (op < 95) {
      (void)store_->Settle();  // a consumer's settle timer
    } else if (op < 98 && !store_failed) {
      // The next flush fails: the store fails for good.
      (void)store_->Settle();
      store_->SetFlushFaultForTest([] { return absl::UnavailableError("I/O error"); });
      store_failed = true;
      aborted_.clear();
    } else if (store_failed) {
      Restart();
      store_failed = false;
    }
    if (!store_failed) {
      CheckCommitted();
    }
    if (HasFatalFailure()) {
      return;
    }
  }
  if (store_failed) {
    Restart();
  }
  ASSERT_TRUE(store_->Settle().ok());
  CheckCommitted();
  IssueAndCheck();

  // And the whole log verifies against the last head and every earlier one.
  std::vector<asb::v1::SignedTreeHead> history = heads_seen_;
  history.pop_back();
  LogSource source;
  source.fetch = [this](uint64_t after) {
    asb::v1::AuditQueryRequest q;
    q.set_after_index(after);
    q.set_limit(50);
    q.set_stored(true);
    return log_->Query(q);
  };
  source.consistency = [this](uint64_t m, uint64_t n) { return log_->ConsistencyProof(m, n); };
  source.frontier = [this](uint64_t n) { return log_->Frontier(n); };
  VerifyReport report = VerifyLog(heads_seen_.back(), history, VerifyRange{}, source);
  ASB_EXPECT_OK(report.status);
  EXPECT_TRUE(report.damaged.empty());
  EXPECT_GT(heads_signed_, 10);
  // The kept copy is the last head.
  EXPECT_EQ(heads_->last()->SerializeAsString(), heads_seen_.back().SerializeAsString());
  std::printf("seed %u: %zu entries, %d heads, %d restarts\n", GetParam(), committed_.size(),
              heads_signed_, restarts_);
}

INSTANTIATE_TEST_SUITE_P(Seeds, TreeHeadPropertyTest, ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u));

}  // namespace
}  // namespace asb::audit
