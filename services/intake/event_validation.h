#pragma once

// What asb-intake accepts: the checks on one submitted case event, with no state at all (the
// fuzz targets and the handler share them). Field limits are documented in events.proto too.

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "asb/v1/events.pb.h"

namespace asb::intake {

// Field limits.
inline constexpr std::size_t kMaxIdLength = 128;       // source_event_id, person/order ids
inline constexpr std::size_t kMaxCaseIdLength = 64;    // case_id
inline constexpr std::size_t kMaxNameLength = 200;     // names, titles, courts, wards
inline constexpr std::size_t kMaxTextLength = 10'000;  // free text
inline constexpr std::size_t kMaxPhoneLength = 32;     // phone numbers

// Validates one event without touching any state. OK, or kInvalidArgument listing every
// problem as "<field path>: <problem>" joined by "; ", e.g. "case_id: required",
// "person_linked.person.role: required", "occurred_at: year out of range (before 1990)",
// "case_opened.title: longer than 200 characters". Messages never contain field values.
// `now` bounds timestamps (at most 1 day ahead) and dates of birth (not in the future).
absl::Status ValidateEvent(const asb::v1::CaseEvent& event, absl::Time now);

// A case_id safe to put on an audit record of a refused event: present, not too long, no
// control characters.
bool UsableCaseId(const std::string& case_id);

}  // namespace asb::intake
