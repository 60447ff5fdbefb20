#pragma once

// A hand-written protobuf wire writer for Policy::ApplyEncoded: the agency's view is written as
// bytes while the case is walked, never built as a message. Parsing what it writes gives the
// message the same walk builds by reflection (policy_property_test and policy_test check the two
// agree, byte for byte after parsing, on random and on the shipped ISP's cases).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "google/protobuf/message.h"

namespace asb::policy::internal {

// Appends protobuf wire format to a string. Nested messages are written in place: a length
// slot of kLenSlot bytes is reserved and closed up once the length is known.
class WireWriter {
 public:
  struct Mark {
    std::size_t start;   // where the field's tag begins (to drop it)
    std::size_t length;  // where its length slot begins
  };

  explicit WireWriter(std::string* out) : out_(out) {}

  void Varint(uint64_t v) {
    char buf[10];
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_->append(buf, n);
  }
  void Tag(int field, int wire_type) {
    Varint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
  }
  void Fixed(uint64_t bits, std::size_t bytes) {
    char buf[8];
    for (std::size_t i = 0; i < bytes; ++i) {
      buf[i] = static_cast<char>(bits >> (8 * i));
    }
    out_->append(buf, bytes);
  }
  void Bytes(int field, std::string_view value) {
    Tag(field, 2);
    Varint(value.size());
    out_->append(value.data(), value.size());
  }
  Mark Begin(int field) {
    Mark m{out_->size(), 0};
    Tag(field, 2);
    m.length = out_->size();
    out_->append(kLenSlot, '\0');
    return m;
  }
  void End(const Mark& m) {
    const std::size_t body = m.length + kLenSlot;
    uint64_t len = out_->size() - body;
    char buf[kLenSlot];
    std::size_t n = 0;
    while (len >= 0x80) {
      buf[n++] = static_cast<char>(len | 0x80);
      len >>= 7;
    }
    buf[n++] = static_cast<char>(len);
    std::memcpy(out_->data() + m.length, buf, n);
    if (n < kLenSlot) {
      out_->erase(m.length + n, kLenSlot - n);
    }
  }
  void Drop(const Mark& m) { out_->resize(m.start); }
  std::string* out() { return out_; }

 private:
  static constexpr std::size_t kLenSlot = 5;  // a varint of up to 2^35 - 1
  std::string* out_;
};

// Writes field f of src (present) as a shown field: every element of a repeated field, packed
// where the field is.
void WriteField(WireWriter* w, const google::protobuf::Reflection* r,
                const google::protobuf::Message& src, const google::protobuf::FieldDescriptor* f);

}  // namespace asb::policy::internal
