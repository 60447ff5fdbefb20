#include "common/crypto/aead.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/crypto/crypto.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::crypto {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;

std::string Key(char fill) { return std::string(kAeadKeySize, fill); }
std::string Nonce(char fill) { return std::string(kAeadNonceSize, fill); }

TEST(AeadTest, RoundTripAndSize) {
  std::string sealed;
  ASB_ASSERT_OK(AeadSeal(Key('k'), Nonce('n'), "Jane Doe, 1 High St", "cf/key", &sealed));
  EXPECT_EQ(sealed.size(), std::string("Jane Doe, 1 High St").size() + kAeadTagSize);
  EXPECT_EQ(sealed.find("Jane"), std::string::npos);
  std::string plain;
  ASB_ASSERT_OK(AeadOpen(Key('k'), Nonce('n'), sealed, "cf/key", &plain));
  EXPECT_EQ(plain, "Jane Doe, 1 High St");
}

TEST(AeadTest, EmptyPlaintextAndAad) {
  std::string sealed;
  ASB_ASSERT_OK(AeadSeal(Key('k'), Nonce('n'), "", "", &sealed));
  EXPECT_EQ(sealed.size(), kAeadTagSize);
  std::string plain = "junk";
  ASB_ASSERT_OK(AeadOpen(Key('k'), Nonce('n'), sealed, "", &plain));
  EXPECT_EQ(plain, "");
}

TEST(AeadTest, AppendsToOutput) {
  std::string out = "header";
  ASB_ASSERT_OK(AeadSeal(Key('k'), Nonce('n'), "abc", "", &out));
  EXPECT_EQ(out.substr(0, 6), "header");
  std::string plain;
  ASB_ASSERT_OK(AeadOpen(Key('k'), Nonce('n'), std::string_view(out).substr(6), "", &plain));
  EXPECT_EQ(plain, "abc");
}

TEST(AeadTest, WrongKeyFails) {
  std::string sealed, plain;
  ASB_ASSERT_OK(AeadSeal(Key('k'), Nonce('n'), "secret", "aad", &sealed));
  EXPECT_THAT(AeadOpen(Key('x'), Nonce('n'), sealed, "aad", &plain),
              StatusIsWith(absl::StatusCode::kDataLoss, "does not authenticate"));
  EXPECT_TRUE(plain.empty());
}

TEST(AeadTest, WrongNonceFails) {
  std::string sealed, plain;
  ASB_ASSERT_OK(AeadSeal(Key('k'), Nonce('n'), "secret", "aad", &sealed));
  EXPECT_THAT(AeadOpen(Key('k'), Nonce('m'), sealed, "aad", &plain),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, EveryTamperedByteFails) {
  std::string sealed;
  ASB_ASSERT_OK(AeadSeal(Key('k'), Nonce('n'), "secret value", "aad", &sealed));
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x01;
    std::string plain;
    EXPECT_THAT(AeadOpen(Key('k'), Nonce('n'), bad, "aad", &plain),
                StatusIs(absl::StatusCode::kDataLoss))
        << "byte " << i;
  }
  std::string plain;
  EXPECT_THAT(AeadOpen(Key('k'), Nonce('n'), sealed.substr(0, sealed.size() - 1), "aad", &plain),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(AeadOpen(Key('k'), Nonce('n'), "short", "aad", &plain),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, DifferentAadFails) {
  // A value moved to another key: the associated data (column family and key) differs.
  std::string sealed, plain;
  ASB_ASSERT_OK(AeadSeal(Key('k'), Nonce('n'), "secret", "cases/CBC-1", &sealed));
  EXPECT_THAT(AeadOpen(Key('k'), Nonce('n'), sealed, "cases/CBC-2", &plain),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(AeadTest, BadSizesAreInvalidArgument) {
  std::string out;
  EXPECT_THAT(AeadSeal("short", Nonce('n'), "x", "", &out),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "32 bytes"));
  EXPECT_THAT(AeadSeal(Key('k'), "nonce", "x", "", &out),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "12 bytes"));
  EXPECT_THAT(AeadOpen("short", Nonce('n'), std::string(20, 'x'), "", &out),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

class KeyRingTest : public ::testing::Test {
 protected:
  std::string Prefix() const { return dir_.Sub("keys/ring"); }
  asb::testing::TempDir dir_;
};

TEST_F(KeyRingTest, RotateWritesPrivateNumberedFiles) {
  auto first = WriteNextRingKey(Prefix());
  ASB_ASSERT_OK(first.status());
  EXPECT_EQ(*first, 1u);
  auto second = WriteNextRingKey(Prefix());
  ASB_ASSERT_OK(second.status());
  EXPECT_EQ(*second, 2u);

  struct stat st;
  ASSERT_EQ(::stat(RingKeyFile(Prefix(), 2).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir_.Sub("keys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u) << "a directory made for keys is private";

  auto ring = KeyRing::Load(Prefix());
  ASB_ASSERT_OK(ring.status());
  EXPECT_EQ(ring->size(), 2u);
  EXPECT_EQ(ring->newest_id(), 2u);
  ASSERT_NE(ring->Find(1), nullptr);
  ASSERT_NE(ring->Find(2), nullptr);
  EXPECT_EQ(ring->Find(1)->size(), kAeadKeySize);
  EXPECT_NE(*ring->Find(1), *ring->Find(2));
  EXPECT_EQ(ring->newest_key(), *ring->Find(2));
  EXPECT_EQ(ring->Find(3), nullptr);
}

TEST_F(KeyRingTest, MissingRingIsNotFound) {
  EXPECT_THAT(KeyRing::Load(Prefix()).status(), StatusIs(absl::StatusCode::kNotFound));
  ASB_ASSERT_OK(WriteNextRingKey(dir_.Sub("keys/other")).status());
  EXPECT_THAT(KeyRing::Load(Prefix()).status(),
              StatusIsWith(absl::StatusCode::kNotFound, "asbctl keys rotate"));
}

TEST_F(KeyRingTest, GroupReadableKeyFileIsRefused) {
  ASB_ASSERT_OK(WriteNextRingKey(Prefix()).status());
  ASSERT_EQ(::chmod(RingKeyFile(Prefix(), 1).c_str(), 0644), 0);
  EXPECT_THAT(KeyRing::Load(Prefix()).status(),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "chmod 600"));
  ASSERT_EQ(::chmod(RingKeyFile(Prefix(), 1).c_str(), 0640), 0);
  EXPECT_THAT(KeyRing::Load(Prefix()).status(), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_EQ(::chmod(RingKeyFile(Prefix(), 1).c_str(), 0600), 0);
  ASB_EXPECT_OK(KeyRing::Load(Prefix()).status());
}

TEST_F(KeyRingTest, MalformedKeyFileIsInvalidArgument) {
  ASB_ASSERT_OK(WriteNextRingKey(Prefix()).status());
  const std::string path = RingKeyFile(Prefix(), 2);
  for (const std::string& text : std::vector<std::string>{
           "key: abcd\n", "# nothing\n", "secret: 00\n", "key: " + std::string(64, 'g') + "\n"}) {
    {
      std::ofstream out(path, std::ios::trunc);
      out << text;
    }
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    EXPECT_THAT(KeyRing::Load(Prefix()).status(), StatusIs(absl::StatusCode::kInvalidArgument))
        << text;
  }
  {
    std::ofstream out(path, std::ios::trunc);
    out << "# comment\n\nkey: " << HexEncode(std::string(32, '\x07')) << "\n";
  }
  auto ring = KeyRing::Load(Prefix());
  ASB_ASSERT_OK(ring.status());
  EXPECT_EQ(*ring->Find(2), std::string(32, '\x07'));
}

TEST_F(KeyRingTest, IgnoresOtherFilesBesideTheRing) {
  ASB_ASSERT_OK(WriteNextRingKey(Prefix()).status());
  { std::ofstream(dir_.Sub("keys/ring.backup.key")) << "not a key"; }
  { std::ofstream(dir_.Sub("keys/ringx.1.key")) << "not a key"; }
  auto ring = KeyRing::Load(Prefix());
  ASB_ASSERT_OK(ring.status());
  EXPECT_EQ(ring->size(), 1u);
}

TEST_F(KeyRingTest, NeverOverwritesAKey) {
  ASB_ASSERT_OK(WriteNextRingKey(Prefix()).status());
  auto before = KeyRing::Load(Prefix());
  ASB_ASSERT_OK(before.status());
  const std::string key1 = *before->Find(1);
  ASB_ASSERT_OK(WriteNextRingKey(Prefix()).status());
  auto after = KeyRing::Load(Prefix());
  ASB_ASSERT_OK(after.status());
  EXPECT_EQ(*after->Find(1), key1);
}

}  // namespace
}  // namespace asb::crypto
