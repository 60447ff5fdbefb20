#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace asb::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <class T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

// StatusIs(code): matches an absl::Status or StatusOr with that code; prints the message.
MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = ::asb::testing::GetStatus(arg);
  *result_listener << "status is " << s.ToString();
  return s.code() == code;
}

// StatusIs(code, substring of the message).
MATCHER_P2(StatusIsWith, code, substring,
           "has status code " + absl::StatusCodeToString(code) + " mentioning '" +
               std::string(substring) + "'") {
  const absl::Status& s = ::asb::testing::GetStatus(arg);
  *result_listener << "status is " << s.ToString();
  return s.code() == code && s.message().find(substring) != absl::string_view::npos;
}

// OK, or a failure carrying the status (so ASB_ASSERT_OK evaluates its expression once).
template <class S>
::testing::AssertionResult IsOkStatus(const S& s) {
  const absl::Status& status = ::asb::testing::GetStatus(s);
  if (status.ok()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << status.ToString();
}

}  // namespace asb::testing

// Assert / expect that an absl::Status or StatusOr is OK; on failure the status is printed.
// The expression is evaluated once; more context can be streamed: ASB_ASSERT_OK(x) << "why".
#define ASB_ASSERT_OK(expr) ASSERT_TRUE(::asb::testing::IsOkStatus(expr))
#define ASB_EXPECT_OK(expr) EXPECT_TRUE(::asb::testing::IsOkStatus(expr))
