#include "common/model/model.h"

#include <gtest/gtest.h>

namespace asb::model {
namespace {

TEST(Model, TimestampRoundTripIncludingBeforeEpoch) {
  for (absl::Time t : {absl::FromUnixNanos(1'700'000'000'123'456'789),
                       absl::FromUnixNanos(-1'500'000'001), absl::UnixEpoch()}) {
    google::protobuf::Timestamp ts = ToTimestamp(t);
    EXPECT_GE(ts.nanos(), 0);
    EXPECT_LT(ts.nanos(), 1'000'000'000);
    EXPECT_EQ(ToTime(ts), t);
  }
}

TEST(Model, EventTypeOfEveryPayload) {
  asb::v1::CaseEvent e;
  EXPECT_EQ(EventTypeOf(e), asb::v1::EVENT_TYPE_UNSPECIFIED);
  e.mutable_order_breached();
  EXPECT_EQ(EventTypeOf(e), asb::v1::EVENT_TYPE_ORDER_BREACHED);
  e.mutable_case_opened();
  EXPECT_EQ(EventTypeOf(e), asb::v1::EVENT_TYPE_CASE_OPENED);
  // Every oneof member maps to a distinct type.
  const auto* oneof = asb::v1::CaseEvent::descriptor()->FindOneofByName("event");
  std::set<int> seen;
  for (int i = 0; i < oneof->field_count(); ++i) {
    asb::v1::CaseEvent x;
    x.GetReflection()->MutableMessage(&x, oneof->field(i));
    EXPECT_NE(EventTypeOf(x), asb::v1::EVENT_TYPE_UNSPECIFIED) << oneof->field(i)->name();
    seen.insert(EventTypeOf(x));
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(oneof->field_count()));
}

}  // namespace
}  // namespace asb::model
