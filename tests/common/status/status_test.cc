#include "absl/status/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/status/macros.h"
#include "common/status/proto_status.h"
#include "tests/support/status_matchers.h"

namespace asb {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;

absl::Status ReturnIfError(absl::Status inner, int* reached) {
  ASB_RETURN_IF_ERROR(inner);
  ++*reached;
  return absl::OkStatus();
}

TEST(ReturnIfErrorTest, PassesOkThrough) {
  int reached = 0;
  EXPECT_TRUE(ReturnIfError(absl::OkStatus(), &reached).ok());
  EXPECT_EQ(reached, 1);
}

TEST(ReturnIfErrorTest, ReturnsTheErrorAndStopsThere) {
  int reached = 0;
  EXPECT_THAT(ReturnIfError(absl::NotFoundError("no case 'X'"), &reached),
              StatusIsWith(absl::StatusCode::kNotFound, "no case 'X'"));
  EXPECT_EQ(reached, 0);
}

TEST(ReturnIfErrorTest, EvaluatesTheExpressionOnce) {
  int calls = 0;
  auto f = [&]() -> absl::Status {
    ++calls;
    return absl::UnavailableError("busy");
  };
  auto outer = [&]() -> absl::Status {
    ASB_RETURN_IF_ERROR(f());
    return absl::OkStatus();
  };
  EXPECT_THAT(outer(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(calls, 1);
}

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) {
    return absl::InvalidArgumentError("odd");
  }
  return n / 2;
}

// Two ASB_ASSIGN_OR_RETURN in one scope (distinct temporaries), one into a declaration and one
// into an existing variable.
absl::StatusOr<int> Quarter(int n) {
  ASB_ASSIGN_OR_RETURN(int half, Half(n));
  int quarter = 0;
  ASB_ASSIGN_OR_RETURN(quarter, Half(half));
  return quarter;
}

TEST(AssignOrReturnTest, AssignsValues) {
  absl::StatusOr<int> q = Quarter(12);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(*q, 3);
}

TEST(AssignOrReturnTest, ReturnsTheFirstError) {
  EXPECT_THAT(Quarter(7), StatusIsWith(absl::StatusCode::kInvalidArgument, "odd"));
  EXPECT_THAT(Quarter(6), StatusIsWith(absl::StatusCode::kInvalidArgument, "odd"));  // 6 → 3
}

absl::StatusOr<std::unique_ptr<std::string>> MakeName(bool ok) {
  if (!ok) {
    return absl::PermissionDeniedError("not authorised");
  }
  return std::make_unique<std::string>("police-partner");
}

// A move-only value, into a declaration, from a function returning absl::Status.
absl::Status UseName(bool ok, std::string* out) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<std::string> name, MakeName(ok));
  *out = *name;
  return absl::OkStatus();
}

TEST(AssignOrReturnTest, MovesMoveOnlyValuesAndConvertsToStatus) {
  std::string name;
  ASSERT_TRUE(UseName(true, &name).ok());
  EXPECT_EQ(name, "police-partner");
  EXPECT_THAT(UseName(false, &name),
              StatusIsWith(absl::StatusCode::kPermissionDenied, "not authorised"));
}

TEST(ProtoStatusTest, EveryCodeRoundTrips) {
  for (int c = 0; c <= 16; ++c) {
    const auto code = static_cast<absl::StatusCode>(c);
    const absl::Status original = code == absl::StatusCode::kOk
                                      ? absl::OkStatus()
                                      : absl::Status(code, "why " + std::to_string(c));
    const asb::v1::Status wire = ToProto(original);
    EXPECT_EQ(static_cast<int>(wire.code()), c);
    EXPECT_EQ(wire.message(), std::string(original.message()));
    EXPECT_EQ(FromProto(wire), original) << c;
  }
}

TEST(ProtoStatusTest, WireNamesMatchAbseilCodes) {
  EXPECT_EQ(ToProto(absl::NotFoundError("x")).code(), asb::v1::STATUS_CODE_NOT_FOUND);
  EXPECT_EQ(ToProto(absl::PermissionDeniedError("x")).code(),
            asb::v1::STATUS_CODE_PERMISSION_DENIED);
  EXPECT_EQ(ToProto(absl::UnavailableError("x")).code(), asb::v1::STATUS_CODE_UNAVAILABLE);
  EXPECT_EQ(ToProto(absl::UnauthenticatedError("x")).code(), asb::v1::STATUS_CODE_UNAUTHENTICATED);
  EXPECT_EQ(ToProto(absl::OkStatus()).code(), asb::v1::STATUS_CODE_OK);
}

TEST(ProtoStatusTest, SerializedRoundTripKeepsCodeAndMessage) {
  asb::v1::Status wire = ToProto(absl::InvalidArgumentError("events[2].case_id: required"));
  asb::v1::Status parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire.SerializeAsString()));
  EXPECT_THAT(FromProto(parsed),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "events[2].case_id: required"));
}

TEST(ProtoStatusTest, UnknownWireCodeIsAnErrorNotOk) {
  asb::v1::Status wire;
  wire.set_code(static_cast<asb::v1::StatusCode>(99));  // from a newer or broken peer
  wire.set_message("strange");
  const absl::Status s = FromProto(wire);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnknown);
}

TEST(ProtoStatusTest, OkWireStatusIsOkWhateverItsMessage) {
  asb::v1::Status wire;
  wire.set_code(asb::v1::STATUS_CODE_OK);
  wire.set_message("ignored");
  EXPECT_TRUE(FromProto(wire).ok());
}

}  // namespace
}  // namespace asb
