#pragma once

// What a daemon's own store layout (RuntimeOptions.layout, a store::StoreOptions) needs from the
// shared runtime: finding a record's case id in its serialised bytes without parsing it. Each
// daemon declares its layout next to its own column-family constants — which column families
// are plaintext (no personal data) and, through StoreOptions.subject_of, the case a value of
// any other belongs to (its stream logs' records included) — naming fields by their generated
// `k…FieldNumber` constants. The runtime adds only what it owns: the consumers' offsets and the
// placeholder served for an erased stream record.

#include <initializer_list>
#include <string>
#include <string_view>

namespace asb::daemon {

// The last length-delimited field at `path` (field numbers, outermost message first) of the
// serialised protobuf message `bytes`, e.g. {asb::v1::Envelope::kDisclosureFieldNumber,
// asb::v1::Disclosure::kCaseIdFieldNumber}; "" if absent or malformed. Reads only the tags on
// the way, so it is cheap enough for every Batch::Put.
std::string FindBytesField(std::string_view bytes, std::initializer_list<int> path);

}  // namespace asb::daemon
