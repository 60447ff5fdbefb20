// The witness check: a head kept by a client and a new one the hub shows, with the consistency
// proof between them — the same head, a larger one that extends it, an older one it extends,
// and the forks (same size, another root; a proof that does not hold). And the witness file.
#include "common/auditlog/witness.h"

#include <string>
#include <vector>

#include "common/crypto/merkle.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace asb::audit {
namespace {

using ::asb::testing::StatusIsWith;
namespace merkle = ::asb::crypto::merkle;

// A log of n leaves in memory, with every complete subtree's hash.
struct Tree {
  explicit Tree(int n, char salt = 'a') {
    for (int i = 0; i < n; ++i) {
      leaves.push_back(merkle::HashLeaf(std::string(1, salt) + std::to_string(i)));
    }
  }
  asb::v1::SignedTreeHead Head(uint64_t size) const {
    asb::v1::SignedTreeHead sth;
    sth.set_tree_size(size);
    sth.set_root_hash(merkle::RootOfLeaves({leaves.begin(), leaves.begin() + size}));
    sth.set_timestamp_ms(1780000000000 + size);
    return sth;
  }
  std::vector<std::string> Proof(uint64_t m, uint64_t n) const {
    auto proof = merkle::ConsistencyProof(m, n, [this](int level, uint64_t index) {
      const uint64_t width = uint64_t{1} << level;
      return merkle::RootOfLeaves(
          {leaves.begin() + index * width, leaves.begin() + (index + 1) * width});
    });
    EXPECT_TRUE(proof.ok());
    return *proof;
  }
  std::vector<std::string> leaves;
};

TEST(WitnessTest, TheSameNewerAndOlderHeadsOfOneLog) {
  const Tree t(40);
  auto same = CheckWitness(t.Head(17), t.Head(17), {});
  ASB_ASSERT_OK(same);
  EXPECT_EQ(*same, WitnessStep::kSame);
  const ProofSizes sizes = WitnessProofSizes(t.Head(17), t.Head(33));
  EXPECT_EQ(sizes.first, 17u);
  EXPECT_EQ(sizes.second, 33u);
  auto newer = CheckWitness(t.Head(17), t.Head(33), t.Proof(17, 33));
  ASB_ASSERT_OK(newer);
  EXPECT_EQ(*newer, WitnessStep::kNewer);
  auto older = CheckWitness(t.Head(33), t.Head(17), t.Proof(17, 33));
  ASB_ASSERT_OK(older);
  EXPECT_EQ(*older, WitnessStep::kOlder);
}

TEST(WitnessTest, ForksAreCaught) {
  const Tree t(40);
  Tree rewritten(40);
  rewritten.leaves[9] = merkle::HashLeaf("rewritten");
  // Same size, another root.
  EXPECT_THAT(CheckWitness(t.Head(20), rewritten.Head(20), {}).status(),
              StatusIsWith(absl::StatusCode::kDataLoss, "FORK"));
  // A larger head of a log whose first 20 entries are not the kept ones: the rewritten log's
  // own proof does not lead to the kept root.
  EXPECT_THAT(CheckWitness(t.Head(20), rewritten.Head(35), rewritten.Proof(20, 35)).status(),
              StatusIsWith(absl::StatusCode::kDataLoss, "FORK"));
  // Entries after the kept head rewritten are no fork of it.
  Tree later(40);
  later.leaves[30] = merkle::HashLeaf("later");
  ASB_EXPECT_OK(CheckWitness(t.Head(20), later.Head(35), later.Proof(20, 35)).status());
}

TEST(WitnessTest, TruncationNamesTheEntriesGone) {
  const Tree t(40);
  EXPECT_THAT(Truncated(t.Head(40), 31, "w.json"),
              StatusIsWith(absl::StatusCode::kDataLoss, "TRUNCATED"));
  EXPECT_THAT(Truncated(t.Head(40), 31, "w.json"),
              StatusIsWith(absl::StatusCode::kDataLoss, "entries 32..40"));
}

TEST(WitnessFileTest, RoundTripsAndTakesABareTreeHead) {
  const Tree t(5);
  asb::v1::AuditWitness w;
  w.set_format_version(1);
  w.set_hub("ipc:///var/run/audit.api");
  w.set_public_key_pem("-----BEGIN PUBLIC KEY-----\n...\n");
  *w.mutable_tree_head() = t.Head(5);
  auto back = ParseWitness(WitnessJson(w));
  ASB_ASSERT_OK(back);
  EXPECT_EQ(back->SerializeAsString(), w.SerializeAsString());
  auto bare = ParseWitness(R"({"treeSize": "5", "rootHash": "AAAA"})");
  ASB_ASSERT_OK(bare);
  EXPECT_EQ(bare->tree_head().tree_size(), 5u);
  EXPECT_TRUE(bare->public_key_pem().empty());
  EXPECT_THAT(ParseWitness("{}").status(),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "not a witness file"));
}

}  // namespace
}  // namespace asb::audit
