#include "services/notify/webhook_signature.h"

#include <openssl/crypto.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/crypto.h"

namespace asb::notify {
namespace {

// Debian's Abseil has its own string_view.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

std::string SignWebhook(std::string_view secret, absl::Time at, std::string_view body) {
  const int64_t t = absl::ToUnixSeconds(at);
  const std::string mac = crypto::HmacSha256(secret, absl::StrCat(t, ".", Absl(body)));
  return absl::StrCat("t=", t, ",v1=", crypto::HexEncode(mac));
}

absl::Status VerifyWebhook(std::string_view secret, std::string_view header, std::string_view body,
                           absl::Time now, absl::Duration window) {
  int64_t t = 0;
  bool have_t = false;
  std::string v1;
  for (absl::string_view part : absl::StrSplit(Absl(header), ',')) {
    if (absl::StartsWith(part, "t=")) {
      have_t = absl::SimpleAtoi(part.substr(2), &t);
    } else if (absl::StartsWith(part, "v1=")) {
      v1 = std::string(part.substr(3));
    }
  }
  if (!have_t || v1.size() != 64) {
    return absl::UnauthenticatedError("signature header is not t=<seconds>,v1=<64 hex digits>");
  }
  if (absl::AbsDuration(now - absl::FromUnixSeconds(t)) > window) {
    return absl::UnauthenticatedError(
        absl::StrCat("signature timestamp ", t, " is outside the replay window"));
  }
  const std::string expected =
      crypto::HexEncode(crypto::HmacSha256(secret, absl::StrCat(t, ".", Absl(body))));
  if (CRYPTO_memcmp(expected.data(), v1.data(), expected.size()) != 0) {
    return absl::UnauthenticatedError("signature does not match the body");
  }
  return absl::OkStatus();
}

}  // namespace asb::notify
