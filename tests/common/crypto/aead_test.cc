#include "common/crypto/aead.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <thread>
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

// Each thread keeps an AES context per direction with its last key: any order of keys, nonces
// and failures must give exactly what a fresh context gives.
TEST(AeadTest, KeptContextsGiveWhatFreshOnesGive) {
  struct Step {
    char key, nonce;
  };
  const std::vector<Step> steps = {{'a', '1'}, {'a', '2'}, {'b', '3'}, {'a', '4'},
                                   {'b', '5'}, {'b', '6'}, {'c', '7'}, {'a', '8'}};
  auto seal_all = [&] {
    std::vector<std::string> out;
    for (const Step& st : steps) {
      std::string sealed;
      EXPECT_TRUE(AeadSeal(Key(st.key), Nonce(st.nonce), "value", "aad", &sealed).ok());
      out.push_back(sealed);
    }
    return out;
  };
  const std::vector<std::string> here = seal_all();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    // Each alone, on a thread of its own (fresh contexts).
    std::string fresh;
    std::thread([&] {
      ASB_EXPECT_OK(AeadSeal(Key(steps[i].key), Nonce(steps[i].nonce), "value", "aad", &fresh));
    }).join();
    EXPECT_EQ(here[i], fresh) << i;
  }
  // Opening interleaved with failures under the same and other keys.
  for (std::size_t i = 0; i < steps.size(); ++i) {
    std::string plain;
    std::string bad = here[i];
    bad[0] ^= 1;
    EXPECT_THAT(AeadOpen(Key(steps[i].key), Nonce(steps[i].nonce), bad, "aad", &plain),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(AeadOpen(Key('z'), Nonce(steps[i].nonce), here[i], "aad", &plain),
                StatusIs(absl::StatusCode::kDataLoss));
    ASB_ASSERT_OK(AeadOpen(Key(steps[i].key), Nonce(steps[i].nonce), here[i], "aad", &plain));
    EXPECT_EQ(plain, "value");
  }
}

TEST(AeadTest, NoncesAreDistinctAndAForkedChildDrawsItsOwn) {
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) {  // well past one 4 KiB buffer
    auto nonce = NewAeadNonce();
    ASB_ASSERT_OK(nonce);
    ASSERT_EQ(nonce->size(), kAeadNonceSize);
    EXPECT_TRUE(seen.insert(*nonce).second) << "repeated nonce at " << i;
  }
  // The buffer now holds unused nonces; a child must not draw the parent's next ones.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto nonce = NewAeadNonce();
    const ssize_t n = nonce.ok() ? ::write(fds[1], nonce->data(), nonce->size()) : -1;
    ::_exit(n == static_cast<ssize_t>(kAeadNonceSize) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string child(kAeadNonceSize, '\0');
  ASSERT_EQ(::read(fds[0], child.data(), child.size()), static_cast<ssize_t>(kAeadNonceSize));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto parent = NewAeadNonce();
  ASB_ASSERT_OK(parent);
  EXPECT_NE(child, *parent);
  EXPECT_FALSE(seen.count(child)) << "the child drew a nonce the parent had drawn";
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
