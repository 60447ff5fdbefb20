#include "common/crypto/merkle.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto/crypto.h"
#include "tests/support/status_matchers.h"

namespace asb::crypto::merkle {
namespace {

using ::asb::testing::StatusIs;

std::string H(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.ok());
  return bytes.ok() ? *bytes : std::string();
}

// RFC 6962 test vectors as published by the Certificate Transparency project, taken from
// github.com/transparency-dev/merkle: testonly/constants.go (leaf inputs, node hashes of every
// complete subtree, roots for sizes 0..8) and proof/verify_test.go (inclusion and consistency
// proofs). Leaf indexes below are 0-based (verify_test.go lists them 1-based).
const std::vector<std::string> kLeafInputsHex = {"",
                                                 "00",
                                                 "10",
                                                 "2021",
                                                 "3031",
                                                 "40414243",
                                                 "5051525354555657",
                                                 "606162636465666768696a6b6c6d6e6f"};
const std::vector<std::string> kRootsHex = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
// testonly.NodeHashes(): [level][index].
const std::vector<std::vector<std::string>> kNodeHashesHex = {
    {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"},
    {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"},
    {"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"},
    {"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"}};

struct ProofVector {
  uint64_t a;  // leaf index (inclusion) or first size (consistency)
  uint64_t size;
  std::vector<std::string> proof_hex;
};

const std::vector<ProofVector> kInclusion = {
    {0, 1, {}},
    {0,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

const std::vector<ProofVector> kConsistency = {
    {1, 1, {}},
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

std::vector<std::string> Decode(const std::vector<std::string>& hex) {
  std::vector<std::string> out;
  for (const auto& h : hex) {
    out.push_back(H(h));
  }
  return out;
}

// An in-memory node store filled by CompactRange::Append, as the audit log fills "meta".
struct NodeStore {
  std::map<std::pair<int, uint64_t>, std::string> nodes;
  CompactRange range;
  int reads = 0;

  void Append(const std::string& leaf_hash) {
    nodes[{0, range.size()}] = leaf_hash;
    range.Append(leaf_hash, [this](int level, uint64_t index, const std::string& hash) {
      nodes[{level, index}] = hash;
    });
  }
  NodeReader Reader() {
    return [this](int level, uint64_t index) -> absl::StatusOr<std::string> {
      ++reads;
      auto it = nodes.find({level, index});
      if (it == nodes.end()) {
        return absl::NotFoundError("no node");
      }
      return it->second;
    };
  }
};

NodeStore ReferenceTree() {
  NodeStore t;
  for (const auto& hex : kLeafInputsHex) {
    t.Append(HashLeaf(H(hex)));
  }
  return t;
}

TEST(MerkleTest, EmptyRootAndLeafAndNodeHashes) {
  EXPECT_EQ(HexEncode(EmptyRoot()), kRootsHex[0]);
  EXPECT_EQ(HexEncode(HashLeaf("")), kRootsHex[1]);
  EXPECT_EQ(HexEncode(HashChildren(HashLeaf(""), HashLeaf(H("00")))), kRootsHex[2]);
}

TEST(MerkleTest, SplitPointIsTheLargestPowerOfTwoBelow) {
  EXPECT_EQ(SplitPoint(2), 1u);
  EXPECT_EQ(SplitPoint(3), 2u);
  EXPECT_EQ(SplitPoint(4), 2u);
  EXPECT_EQ(SplitPoint(5), 4u);
  EXPECT_EQ(SplitPoint(8), 4u);
  EXPECT_EQ(SplitPoint(9), 8u);
  EXPECT_EQ(SplitPoint(1000), 512u);
}

TEST(MerkleTest, CompactRangeRootsMatchPublishedRoots) {
  CompactRange range;
  EXPECT_EQ(HexEncode(range.Root()), kRootsHex[0]);
  std::vector<std::string> leaves;
  for (std::size_t i = 0; i < kLeafInputsHex.size(); ++i) {
    leaves.push_back(HashLeaf(H(kLeafInputsHex[i])));
    range.Append(leaves.back());
    EXPECT_EQ(HexEncode(range.Root()), kRootsHex[i + 1]) << "size " << i + 1;
    EXPECT_EQ(HexEncode(RootOfLeaves(leaves)), kRootsHex[i + 1]);
  }
}

TEST(MerkleTest, AppendReportsEveryCompleteSubtreeWithItsPublishedHash) {
  NodeStore t = ReferenceTree();
  std::size_t expected = 0;
  for (std::size_t level = 0; level < kNodeHashesHex.size(); ++level) {
    for (std::size_t index = 0; index < kNodeHashesHex[level].size(); ++index) {
      ++expected;
      auto it = t.nodes.find({static_cast<int>(level), index});
      ASSERT_NE(it, t.nodes.end()) << level << "/" << index;
      EXPECT_EQ(HexEncode(it->second), kNodeHashesHex[level][index]) << level << "/" << index;
    }
  }
  EXPECT_EQ(t.nodes.size(), expected);
}

TEST(MerkleTest, RootAtAnySizeFromStoredNodes) {
  NodeStore t = ReferenceTree();
  for (uint64_t size = 0; size <= 8; ++size) {
    auto root = RootAt(size, t.Reader());
    ASB_ASSERT_OK(root);
    EXPECT_EQ(HexEncode(*root), kRootsHex[size]) << "size " << size;
  }
}

TEST(MerkleTest, FromNodesRebuildsTheFrontier) {
  NodeStore t = ReferenceTree();
  for (uint64_t size = 0; size <= 8; ++size) {
    auto range = CompactRange::FromNodes(size, t.Reader());
    ASB_ASSERT_OK(range);
    EXPECT_EQ(HexEncode(range->Root()), kRootsHex[size]);
  }
}

TEST(MerkleTest, InclusionProofsMatchPublishedVectorsAndVerify) {
  NodeStore t = ReferenceTree();
  for (const auto& v : kInclusion) {
    auto proof = InclusionProof(v.a, v.size, t.Reader());
    ASB_ASSERT_OK(proof);
    EXPECT_EQ(*proof, Decode(v.proof_hex)) << v.a << " in " << v.size;
    const std::string leaf = HashLeaf(H(kLeafInputsHex[v.a]));
    const std::string root = H(kRootsHex[v.size]);
    ASB_EXPECT_OK(VerifyInclusion(v.a, v.size, leaf, *proof, root));
    // Wrong index, size, leaf, root; truncated, extended and flipped proofs all fail.
    if (v.a > 0) {
      EXPECT_FALSE(VerifyInclusion(v.a - 1, v.size, leaf, *proof, root).ok());
    }
    EXPECT_FALSE(VerifyInclusion(v.a + 1, v.size, leaf, *proof, root).ok());
    EXPECT_FALSE(VerifyInclusion(v.a, v.size * 2, leaf, *proof, root).ok());
    EXPECT_FALSE(VerifyInclusion(v.a, v.size, HashLeaf("x"), *proof, root).ok());
    EXPECT_FALSE(VerifyInclusion(v.a, v.size, leaf, *proof, EmptyRoot()).ok());
    auto longer = *proof;
    longer.push_back(root);
    EXPECT_FALSE(VerifyInclusion(v.a, v.size, leaf, longer, root).ok());
    for (std::size_t i = 0; i < proof->size(); ++i) {
      auto bad = *proof;
      bad[i][0] ^= 8;
      EXPECT_FALSE(VerifyInclusion(v.a, v.size, leaf, bad, root).ok());
    }
    if (!proof->empty()) {
      auto shorter = *proof;
      shorter.pop_back();
      EXPECT_FALSE(VerifyInclusion(v.a, v.size, leaf, shorter, root).ok());
    }
  }
}

TEST(MerkleTest, ConsistencyProofsMatchPublishedVectorsAndVerify) {
  NodeStore t = ReferenceTree();
  for (const auto& v : kConsistency) {
    auto proof = ConsistencyProof(v.a, v.size, t.Reader());
    ASB_ASSERT_OK(proof);
    EXPECT_EQ(*proof, Decode(v.proof_hex)) << v.a << " to " << v.size;
    const std::string r1 = H(kRootsHex[v.a]);
    const std::string r2 = H(kRootsHex[v.size]);
    ASB_EXPECT_OK(VerifyConsistency(v.a, v.size, r1, r2, *proof));
    if (proof->empty()) {
      continue;
    }
    EXPECT_FALSE(VerifyConsistency(v.a, v.size, r2, r1, *proof).ok());
    EXPECT_FALSE(VerifyConsistency(v.a - 1, v.size, r1, r2, *proof).ok());
    EXPECT_FALSE(VerifyConsistency(v.a + 1, v.size, r1, r2, *proof).ok());
    EXPECT_FALSE(VerifyConsistency(v.a, v.size * 2, r1, r2, *proof).ok());
    EXPECT_FALSE(VerifyConsistency(v.a, v.size, r1, r2, {}).ok());
    auto shorter = *proof;
    shorter.pop_back();
    EXPECT_FALSE(VerifyConsistency(v.a, v.size, r1, r2, shorter).ok());
    for (std::size_t i = 0; i < proof->size(); ++i) {
      auto bad = *proof;
      bad[i][0] ^= 16;
      EXPECT_FALSE(VerifyConsistency(v.a, v.size, r1, r2, bad).ok());
    }
  }
}

TEST(MerkleTest, EveryProofOfLargerTreesVerifiesWithLogarithmicReads) {
  NodeStore t;
  std::vector<std::string> leaves;
  for (int i = 0; i < 70; ++i) {
    leaves.push_back(HashLeaf(std::string(1, static_cast<char>(i))));
    t.Append(leaves.back());
  }
  for (uint64_t n = 1; n <= leaves.size(); ++n) {
    const std::vector<std::string> prefix(leaves.begin(), leaves.begin() + n);
    const std::string root = RootOfLeaves(prefix);
    t.reads = 0;
    auto at = RootAt(n, t.Reader());
    ASB_ASSERT_OK(at);
    EXPECT_EQ(*at, root);
    EXPECT_LE(t.reads, std::bit_width(n));
    const std::size_t max_proof = std::bit_width(n - 1);  // ⌈log₂ n⌉
    for (uint64_t i = 0; i < n; ++i) {
      auto proof = InclusionProof(i, n, t.Reader());
      ASB_ASSERT_OK(proof);
      EXPECT_LE(proof->size(), max_proof);
      ASB_EXPECT_OK(VerifyInclusion(i, n, leaves[i], *proof, root)) << i << " in " << n;
    }
    for (uint64_t m = 0; m <= n; ++m) {
      auto proof = ConsistencyProof(m, n, t.Reader());
      ASB_ASSERT_OK(proof);
      const std::vector<std::string> first(leaves.begin(), leaves.begin() + m);
      ASB_EXPECT_OK(VerifyConsistency(m, n, RootOfLeaves(first), root, *proof)) << m << " to " << n;
    }
  }
}

TEST(MerkleTest, BadArguments) {
  NodeStore t = ReferenceTree();
  EXPECT_THAT(InclusionProof(8, 8, t.Reader()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ConsistencyProof(5, 4, t.Reader()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(RootAt(9, t.Reader()).status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(VerifyInclusion(0, 0, HashLeaf(""), {}, EmptyRoot()).ok());
}

}  // namespace
}  // namespace asb::crypto::merkle
