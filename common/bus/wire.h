// Protobuf's wire format where the hub concatenates encodings instead of building messages:
// records handed on as stored (a stream fetch), a payload serialised by the policy engine.

#ifndef ASBHUB_COMMON_BUS_WIRE_H_
#define ASBHUB_COMMON_BUS_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "google/protobuf/io/coded_stream.h"

namespace asb::bus {

// Appends the key of field `field` with wire type 2 (length-delimited) and `length` to `out`:
// what precedes the value's `length` bytes.
inline void AppendTagAndLength(int field, std::size_t length, std::string* out) {
  using google::protobuf::io::CodedOutputStream;
  uint8_t buf[15];  // a tag (at most 5 bytes) and a 64-bit varint (at most 10)
  uint8_t* end = CodedOutputStream::WriteTagToArray((static_cast<uint32_t>(field) << 3) | 2, buf);
  end = CodedOutputStream::WriteVarint64ToArray(length, end);
  out->append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(end - buf));
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
