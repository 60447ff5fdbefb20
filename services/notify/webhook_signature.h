#pragma once

// The signature on asb-notify's webhook POSTs, and its check as a receiver makes it (the
// reference for partners; tests use it as the receiver would):
//   X-Asbhub-Signature: t=<unix seconds>,v1=<lower-case hex HMAC-SHA256(secret, "<t>." + body)>
// The receiver recomputes the MAC over the timestamp, a '.', and the raw body bytes, compares
// it in constant time, and refuses a timestamp further than its replay window (5 minutes
// suggested) from its own clock. Every attempt is signed afresh, so a retry carries a new t.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace asb::notify {

inline constexpr char kSignatureHeader[] = "X-Asbhub-Signature";
inline constexpr char kAlertIdHeader[] = "X-Asbhub-Alert-Id";
inline constexpr char kAttemptHeader[] = "X-Asbhub-Attempt";

// The header's value for `body` signed at `at` under `secret`.
std::string SignWebhook(std::string_view secret, absl::Time at, std::string_view body);

// OK if `header` is a valid signature of `body` under `secret`, made within `window` of `now`.
// kUnauthenticated naming the problem otherwise (malformed header, stale or future timestamp,
// MAC mismatch).
absl::Status VerifyWebhook(std::string_view secret, std::string_view header, std::string_view body,
                           absl::Time now, absl::Duration window = absl::Minutes(5));

}  // namespace asb::notify
