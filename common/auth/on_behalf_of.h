#pragma once

// The check every request that reads case data passes before it is answered (the rule:
// proto/asb/v1/api.proto, GetCaseRequest): the authenticated agency system names the officer
// on whose behalf it asks and why (asb.v1.OnBehalfOf, DPA 2018 s.62(3)), and a purpose it
// states must be one the ISP has. Only the ISP's purposes are read, so any daemon that answers
// such a query can apply it. The stated purpose is recorded, not matched against the asking
// agency's rules: what the agency sees is decided by its rules whatever the officer states.

#include <string>

#include "absl/status/status.h"
#include "asb/config/v1/isp.pb.h"
#include "asb/v1/types.pb.h"

namespace asb::auth {

// Limits of OnBehalfOf's fields, in characters (types.proto).
inline constexpr int kMaxOfficerIdChars = 64;
inline constexpr int kMaxOfficerNameChars = 128;
inline constexpr int kMaxReasonChars = 500;

// OK if `on_behalf_of` names an officer (officer_id) and a reason, within the limits and
// without control characters, and its purpose (optional) is a purpose of `isp`. Otherwise
// kInvalidArgument naming every problem by field ("on_behalf_of.reason: required: why the
// officer ..."). Never echoes the reason's text.
absl::Status CheckOnBehalfOf(const asb::v1::OnBehalfOf& on_behalf_of,
                             const asb::config::v1::Isp& isp);

// `in` as the access log keeps it for a refused request: each field cut to its limit (the
// request was refused, perhaps for being too long; the record must stay small).
asb::v1::OnBehalfOf Bounded(const asb::v1::OnBehalfOf& in);

}  // namespace asb::auth
