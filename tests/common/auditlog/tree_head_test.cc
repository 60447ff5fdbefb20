// Signed tree heads: the exact bytes a signature covers, signing and checking, and compact
// ranges from a frontier.
#include "common/auditlog/tree_head.h"

#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "common/crypto/merkle.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace asb::audit {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
namespace merkle = ::asb::crypto::merkle;

struct KeyPair {
  crypto::Ed25519PrivateKey private_key;
  crypto::Ed25519PublicKey public_key;
};

KeyPair NewKeyPair() {
  auto key = crypto::Ed25519PrivateKey::Generate();
  EXPECT_TRUE(key.ok());
  auto pem = key->PublicPem();
  EXPECT_TRUE(pem.ok());
  auto pub = crypto::Ed25519PublicKey::FromPem(*pem);
  EXPECT_TRUE(pub.ok());
  return KeyPair{*std::move(key), *std::move(pub)};
}

TEST(TreeHeadSigningInputTest, IsTheLabelThenBigEndianSizeAndTimeThenTheRoot) {
  asb::v1::SignedTreeHead sth;
  sth.set_tree_size(0x0102030405060708);
  sth.set_timestamp_ms(0x1112131415161718);
  sth.set_root_hash(std::string(32, 'r'));
  sth.set_signature("not covered");
  sth.set_key_id("not covered");
  const std::string expected = std::string("asbhub-audit-sth-v1") + std::string(1, '\0') +
                               "\x01\x02\x03\x04\x05\x06\x07\x08" +
                               "\x11\x12\x13\x14\x15\x16\x17\x18" + std::string(32, 'r');
  EXPECT_EQ(TreeHeadSigningInput(sth), expected);
}

TEST(TreeHeadSignerTest, SignedHeadsVerifyAndAnyChangeFails) {
  KeyPair keys = NewKeyPair();
  auto raw = keys.private_key.RawPublicKey();
  ASB_ASSERT_OK(raw);
  auto signer = TreeHeadSigner::Create(std::move(keys.private_key));
  ASB_ASSERT_OK(signer);
  EXPECT_EQ(signer->key_id(), crypto::Sha256(*raw));
  auto sth = signer->Sign(42, std::string(32, 'r'), 1780000000000);
  ASB_ASSERT_OK(sth);
  EXPECT_EQ(sth->tree_size(), 42u);
  EXPECT_EQ(sth->key_id(), signer->key_id());
  ASB_EXPECT_OK(VerifyTreeHeadSignature(*sth, keys.public_key));

  asb::v1::SignedTreeHead changed = *sth;
  changed.set_tree_size(41);
  EXPECT_THAT(VerifyTreeHeadSignature(changed, keys.public_key),
              StatusIsWith(absl::StatusCode::kDataLoss, "tree head of size 41"));
  changed = *sth;
  changed.set_timestamp_ms(sth->timestamp_ms() + 1);
  EXPECT_THAT(VerifyTreeHeadSignature(changed, keys.public_key),
              StatusIs(absl::StatusCode::kDataLoss));
  changed = *sth;
  changed.set_root_hash(std::string(32, 's'));
  EXPECT_THAT(VerifyTreeHeadSignature(changed, keys.public_key),
              StatusIs(absl::StatusCode::kDataLoss));
  changed.set_root_hash(std::string(31, 'r'));
  EXPECT_THAT(VerifyTreeHeadSignature(changed, keys.public_key),
              StatusIsWith(absl::StatusCode::kDataLoss, "not 32 bytes"));
  EXPECT_THAT(VerifyTreeHeadSignature(*sth, NewKeyPair().public_key),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(RangeFromFrontierTest, GivesTheRootOfTheLeavesItSummarises) {
  std::vector<std::string> leaves;
  for (int i = 0; i < 13; ++i) {
    leaves.push_back(merkle::HashLeaf(std::to_string(i)));
  }
  // 13 = 8 + 4 + 1: the roots of leaves 0..7, 8..11 and 12.
  const std::vector<std::string> frontier = {
      merkle::RootOfLeaves({leaves.begin(), leaves.begin() + 8}),
      merkle::RootOfLeaves({leaves.begin() + 8, leaves.begin() + 12}), leaves[12]};
  auto range = RangeFromFrontier(13, frontier);
  ASB_ASSERT_OK(range);
  EXPECT_EQ(range->size(), 13u);
  EXPECT_EQ(range->Root(), merkle::RootOfLeaves(leaves));
  EXPECT_THAT(RangeFromFrontier(12, frontier).status(),
              StatusIsWith(absl::StatusCode::kDataLoss, "3 hashes instead of 2"));
  std::vector<std::string> short_hash = frontier;
  short_hash[1].pop_back();
  EXPECT_THAT(RangeFromFrontier(13, short_hash).status(),
              StatusIsWith(absl::StatusCode::kDataLoss, "not 32 bytes"));
}

}  // namespace
}  // namespace asb::audit
