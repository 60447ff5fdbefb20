// Protobuf's wire format where the hub concatenates encodings instead of building messages:
// records handed on as stored (a stream fetch), a payload serialised by the policy engine.

#ifndef ASBHUB_COMMON_BUS_WIRE_H_
#define ASBHUB_COMMON_BUS_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace asb::bus {

// Appends the key of field `field` with wire type 2 (length-delimited) and `length` to `out`:
// what precedes the value's `length` bytes.
inline void AppendTagAndLength(int field, std::size_t length, std::string* out) {
  auto varint = [out](uint64_t v) {
    while (v >= 0x80) {
      out->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out->push_back(static_cast<char>(v));
  };
  varint((static_cast<uint64_t>(field) << 3) | 2);
  varint(length);
}

// Appends field `field` holding `bytes` to `out`: the encoding of a message (or bytes) field
// whose value encodes as `bytes`. Protobuf defines the concatenation of encodings as the merge of
// the messages, so a message serialised without this field followed by the field parses as the
// message with it; a message field that occurs twice is merged (a repeated one appended to).
inline void AppendLengthDelimited(int field, std::string_view bytes, std::string* out) {
  AppendTagAndLength(field, bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

}  // namespace asb::bus

#endif  // ASBHUB_COMMON_BUS_WIRE_H_
