#include <gtest/gtest.h>

#include <string>

#include "common/crypto/crypto.h"
#include "tests/support/status_matchers.h"

namespace asb::crypto {
namespace {

using ::asb::testing::StatusIs;

// RFC 8032 §7.1 TEST 2: the secret key as PKCS#8 (RFC 8410 wrapping of the 32-byte seed).
std::string Rfc8032Test2Pem() {
  // DER 302e020100300506032b657004220420 || seed 4ccd089b…a6fb, base64.
  return "-----BEGIN PRIVATE KEY-----\n"
         "MC4CAQAwBQYDK2VwBCIEIEzNCJso/5banbbDRuwRTg9bijGfNaumJNqM9u1PuKb7\n"
         "-----END PRIVATE KEY-----\n";
}

TEST(Ed25519Test, Rfc8032Test2) {
  auto key = Ed25519PrivateKey::FromPem(Rfc8032Test2Pem());
  ASB_ASSERT_OK(key);
  auto pub = key->RawPublicKey();
  ASB_ASSERT_OK(pub);
  EXPECT_EQ(HexEncode(*pub), "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  auto sig = key->Sign(std::string(1, '\x72'));
  ASB_ASSERT_OK(sig);
  EXPECT_EQ(HexEncode(*sig),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
}

TEST(Ed25519Test, SignVerifyThroughPem) {
  auto key = Ed25519PrivateKey::Generate();
  ASB_ASSERT_OK(key);
  auto priv_pem = key->PrivatePem();
  ASB_ASSERT_OK(priv_pem);
  EXPECT_NE(priv_pem->find("BEGIN PRIVATE KEY"), std::string::npos);
  auto pub_pem = key->PublicPem();
  ASB_ASSERT_OK(pub_pem);
  auto pub = Ed25519PublicKey::FromPem(*pub_pem);
  ASB_ASSERT_OK(pub);
  auto reloaded = Ed25519PrivateKey::FromPem(*priv_pem);
  ASB_ASSERT_OK(reloaded);

  auto sig = reloaded->Sign("tree head");
  ASB_ASSERT_OK(sig);
  EXPECT_EQ(sig->size(), 64u);
  ASB_EXPECT_OK(pub->Verify("tree head", *sig));
  EXPECT_THAT(pub->Verify("tree heae", *sig), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string bad = *sig;
  bad[10] ^= 1;
  EXPECT_THAT(pub->Verify("tree head", bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(pub->Verify("tree head", "short"), StatusIs(absl::StatusCode::kInvalidArgument));

  auto raw = pub->RawPublicKey();
  ASB_ASSERT_OK(raw);
  auto from_raw = Ed25519PublicKey::FromRaw(*raw);
  ASB_ASSERT_OK(from_raw);
  ASB_EXPECT_OK(from_raw->Verify("tree head", *sig));

  auto other = Ed25519PrivateKey::Generate();
  ASB_ASSERT_OK(other);
  auto other_sig = other->Sign("tree head");
  ASB_ASSERT_OK(other_sig);
  EXPECT_FALSE(pub->Verify("tree head", *other_sig).ok());
}

TEST(Ed25519Test, RejectsOtherKeys) {
  EXPECT_THAT(Ed25519PrivateKey::FromPem("not pem").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Ed25519PublicKey::FromPem("not pem").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Ed25519PublicKey::FromRaw("short").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace asb::crypto
