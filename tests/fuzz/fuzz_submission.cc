// Fuzzes a feed's submission in its text form: JSON lines, one asb.v1.CaseEvent each (protobuf's
// JSON mapping, as asbctl submit reads them and feeds write them), then asb-intake's validation
// of each event (ValidateEvent) and its binary round trip.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "asb/v1/events.pb.h"
#include "common/config/config.h"
#include "common/model/model.h"
#include "services/intake/event_validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::Time now = absl::FromUnixSeconds(1'790'000'000);  // 2026-09
  // Debian's abseil has its own string_view.
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text.data(), text.size()), '\n', absl::SkipWhitespace())) {
    asb::v1::CaseEvent event;
    if (!asb::config::ParseJson(std::string_view(line.data(), line.size()), &event).ok()) {
      continue;
    }
    (void)asb::intake::ValidateEvent(event, now);
    (void)asb::model::EventTypeOf(event);
    asb::v1::CaseEvent copy;
    if (!copy.ParseFromString(event.SerializeAsString())) {
      __builtin_trap();  // what we serialise we must parse back
    }
    (void)asb::config::ToJson(copy);
  }
  return 0;
}
