#include "common/status/proto_status.h"

namespace asb {

asb::v1::Status ToProto(const absl::Status& status) {
  asb::v1::Status out;
  out.set_code(static_cast<asb::v1::StatusCode>(status.code()));
  out.set_message(std::string(status.message()));
  return out;
}

absl::Status FromProto(const asb::v1::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.code()), status.message());
}

}  // namespace asb
