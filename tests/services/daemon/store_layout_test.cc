#include "services/daemon/store_layout.h"

#include <gtest/gtest.h>

#include <string>

#include "asb/v1/api.pb.h"
#include "asb/v1/envelope.pb.h"

namespace asb::daemon {
namespace {

using asb::v1::Alert;
using asb::v1::DeadLetter;
using asb::v1::Disclosure;
using asb::v1::Envelope;

std::string DeadLetterOf(const std::string& case_id) {
  DeadLetter dead;
  dead.set_reason("not acknowledged");
  dead.mutable_alert()->set_agency("police");
  dead.mutable_alert()->mutable_disclosure()->set_agency("police");
  dead.mutable_alert()->mutable_disclosure()->set_case_id(case_id);
  dead.mutable_alert()->mutable_disclosure()->set_event_seq(9);
  return dead.SerializeAsString();
}

TEST(FindBytesFieldTest, FollowsNestedFieldsByNumber) {
  EXPECT_EQ(FindBytesField(DeadLetterOf("CHE-42"),
                           {DeadLetter::kAlertFieldNumber, Alert::kDisclosureFieldNumber,
                            Disclosure::kCaseIdFieldNumber}),
            "CHE-42");
  EXPECT_EQ(FindBytesField(DeadLetterOf("CHE-42"), {DeadLetter::kReasonFieldNumber}),
            "not acknowledged");
}

TEST(FindBytesFieldTest, AbsentOrMalformedIsEmpty) {
  Envelope env;
  env.set_seq(3);
  env.mutable_disclosure()->set_agency("police");  // no case id
  EXPECT_EQ(FindBytesField(env.SerializeAsString(),
                           {Envelope::kDisclosureFieldNumber, Disclosure::kCaseIdFieldNumber}),
            "");
  EXPECT_EQ(FindBytesField(env.SerializeAsString(), {Envelope::kAcceptedEventFieldNumber}), "");
  const std::string whole = DeadLetterOf("CHE-42");
  const std::string truncated = whole.substr(0, whole.size() - 3);
  EXPECT_EQ(FindBytesField(truncated, {DeadLetter::kAlertFieldNumber, Alert::kDisclosureFieldNumber,
                                       Disclosure::kCaseIdFieldNumber}),
            "");
  EXPECT_EQ(FindBytesField("\xff\xff\xff", {1}), "");
  EXPECT_EQ(FindBytesField("", {1}), "");
}

TEST(FindBytesFieldTest, LastOccurrenceWinsAsInParsing) {
  Disclosure first;
  first.set_case_id("old");
  Disclosure second;
  second.set_case_id("new");
  const std::string merged = first.SerializeAsString() + second.SerializeAsString();
  Disclosure parsed;
  ASSERT_TRUE(parsed.ParseFromString(merged));
  EXPECT_EQ(FindBytesField(merged, {Disclosure::kCaseIdFieldNumber}), parsed.case_id());
}

}  // namespace
}  // namespace asb::daemon
