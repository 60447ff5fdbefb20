#pragma once

// Small helpers over the asb.v1 model that more than one daemon needs.

#include "absl/time/time.h"
#include "asb/v1/events.pb.h"
#include "asb/v1/types.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace asb::model {

// absl::Time <-> google.protobuf.Timestamp (nanos always in [0, 1e9)).
google::protobuf::Timestamp ToTimestamp(absl::Time t);
void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out);
absl::Time ToTime(const google::protobuf::Timestamp& ts);

// The EventType of a CaseEvent's payload (UNSPECIFIED if none is set).
asb::v1::EventType EventTypeOf(const asb::v1::CaseEvent& event);

}  // namespace asb::model
