#pragma once

#include "absl/status/status.h"
#include "asb/v1/api.pb.h"

namespace asb {

// Converts between absl::Status and the wire asb.v1.Status (same code numbers).
asb::v1::Status ToProto(const absl::Status& status);
absl::Status FromProto(const asb::v1::Status& status);

}  // namespace asb
