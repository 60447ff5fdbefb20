// Fuzzes what a daemon does with the bytes of one request frame from a client: the Server's
// parse and shape checks (common/bus/server.cc: asb.v1.Request, a body required), the request
// id it echoes in an error reply (ReadableRequestId: the parsed one whenever the bytes parse)
// and, for a submission, asb-intake's validation of every event (ValidateEvent).

#include <cstddef>
#include <cstdint>

#include "absl/time/time.h"
#include "asb/v1/api.pb.h"
#include "common/bus/server.h"
#include "common/model/model.h"
#include "services/intake/event_validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The Server refuses frames over max_message_bytes (ZMQ_MAXMSGSIZE) before parsing.
  if (size > (4u << 20)) {
    return -1;
  }
  asb::v1::Request request;
  const uint64_t readable_id = asb::bus::ReadableRequestId(data, size);
  if (!request.ParseFromArray(data, static_cast<int>(size))) {
    return 0;
  }
  if (readable_id != request.request_id()) {
    __builtin_trap();  // an error reply would echo another id than the request's
  }
  if (request.body_case() == asb::v1::Request::BODY_NOT_SET) {
    return 0;
  }
  // Re-serialising must not fail (unknown fields, nested messages).
  (void)request.SerializeAsString();
  if (request.has_submit()) {
    const absl::Time now = absl::FromUnixSeconds(1'790'000'000);  // 2026-09
    for (const auto& event : request.submit().events()) {
      (void)asb::intake::ValidateEvent(event, now);
      (void)asb::model::EventTypeOf(event);
    }
  }
  return 0;
}
