#include "services/daemon/store_layout.h"

#include <cstdint>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace asb::daemon {

std::string FindBytesField(std::string_view bytes, std::initializer_list<int> path) {
  using google::protobuf::internal::WireFormatLite;
  std::string_view current = bytes;
  for (const int field : path) {
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(current.data()),
                                              static_cast<int>(current.size()));
    std::string_view next;
    bool seen = false;
    while (uint32_t tag = in.ReadTag()) {
      if (WireFormatLite::GetTagFieldNumber(tag) == field &&
          WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        uint32_t length = 0;
        if (!in.ReadVarint32(&length)) {
          return "";
        }
        const int offset = in.CurrentPosition();
        if (static_cast<std::size_t>(offset) + length > current.size() || !in.Skip(length)) {
          return "";
        }
        next = current.substr(offset, length);
        seen = true;
      } else if (!WireFormatLite::SkipField(&in, tag)) {
        return "";
      }
    }
    if (!seen) {
      return "";
    }
    current = next;
  }
  return std::string(current);
}

}  // namespace asb::daemon
