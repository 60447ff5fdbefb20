#include "common/crypto/crypto.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/status_matchers.h"

namespace asb::crypto {
namespace {

using ::asb::testing::StatusIs;

TEST(Sha256Test, KnownVector) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// RFC 4231 test case 2.
TEST(HmacSha256Test, Rfc4231Case2) {
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256KeyTest, MatchesOneShotForShortAndLongKeys) {
  for (const std::string& key :
       {std::string("Jefe"), std::string(32, '\x0b'), std::string(131, '\xaa')}) {
    auto k = HmacSha256Key::Create(key);
    ASB_ASSERT_OK(k);
    for (const std::string& data :
         {std::string(), std::string("people.phone:07700 900123"), std::string(200, 'x')}) {
      EXPECT_EQ(k->Mac(data), HmacSha256(key, data));
    }
  }
}

TEST(HmacSha256KeyTest, RejectsEmptyKey) {
  EXPECT_THAT(HmacSha256Key::Create(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

// The example in ZeroMQ RFC 32.
TEST(Z85Test, RfcExampleRoundTrips) {
  const std::string bytes("\x86\x4F\xD2\x6F\xB5\x59\xF7\x5B", 8);
  auto text = Z85Encode(bytes);
  ASB_ASSERT_OK(text);
  EXPECT_EQ(*text, "HelloWorld");
  auto back = Z85Decode("HelloWorld");
  ASB_ASSERT_OK(back);
  EXPECT_EQ(*back, bytes);
}

TEST(Z85Test, RejectsBadInput) {
  EXPECT_THAT(Z85Decode("Hello"), ::testing::Not(StatusIs(absl::StatusCode::kInvalidArgument)));
  EXPECT_THAT(Z85Decode("Hell"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Z85Decode("Hell\""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Z85Decode("#####"), StatusIs(absl::StatusCode::kInvalidArgument));  // > 2^32
  EXPECT_THAT(Z85Encode("abc"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HexTest, RoundTripAndErrors) {
  auto back = HexDecode(HexEncode(std::string("\x00\xff\x10", 3)));
  ASB_ASSERT_OK(back);
  EXPECT_EQ(*back, std::string("\x00\xff\x10", 3));
  EXPECT_THAT(HexDecode("abc"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HexDecode("zz"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace asb::crypto
