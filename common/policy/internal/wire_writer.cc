#include "common/policy/internal/wire_writer.h"

namespace asb::policy::internal {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Writes element i of repeated field f (or the singular f when i < 0) in wire format.
void WriteValue(WireWriter* w, const Reflection* r, const Message& src, const FieldDescriptor* f,
                int i) {
  const int n = f->number();
  const bool rep = i >= 0;
  switch (f->type()) {
    case FieldDescriptor::TYPE_STRING:
    case FieldDescriptor::TYPE_BYTES: {
      std::string scratch;
      w->Bytes(n, rep ? r->GetRepeatedStringReference(src, f, i, &scratch)
                      : r->GetStringReference(src, f, &scratch));
      return;
    }
    case FieldDescriptor::TYPE_MESSAGE:
    case FieldDescriptor::TYPE_GROUP: {
      const WireWriter::Mark m = w->Begin(n);
      (rep ? r->GetRepeatedMessage(src, f, i) : r->GetMessage(src, f))
          .AppendPartialToString(w->out());
      w->End(m);
      return;
    }
    default:
      break;
  }
  uint64_t bits = 0;
  int wire_type = 0;  // varint
  std::size_t fixed = 0;
  switch (f->type()) {
    case FieldDescriptor::TYPE_DOUBLE: {
      const double v = rep ? r->GetRepeatedDouble(src, f, i) : r->GetDouble(src, f);
      std::memcpy(&bits, &v, 8);
      wire_type = 1, fixed = 8;
    } break;
    case FieldDescriptor::TYPE_FLOAT: {
      const float v = rep ? r->GetRepeatedFloat(src, f, i) : r->GetFloat(src, f);
      uint32_t b32;
      std::memcpy(&b32, &v, 4);
      bits = b32, wire_type = 5, fixed = 4;
    } break;
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SFIXED64:
      bits = static_cast<uint64_t>(rep ? r->GetRepeatedInt64(src, f, i) : r->GetInt64(src, f));
      break;
    case FieldDescriptor::TYPE_SINT64: {
      const int64_t v = rep ? r->GetRepeatedInt64(src, f, i) : r->GetInt64(src, f);
      bits = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
    } break;
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64:
      bits = rep ? r->GetRepeatedUInt64(src, f, i) : r->GetUInt64(src, f);
      break;
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SFIXED32:
      bits = static_cast<uint64_t>(
          static_cast<int64_t>(rep ? r->GetRepeatedInt32(src, f, i) : r->GetInt32(src, f)));
      break;
    case FieldDescriptor::TYPE_SINT32: {
      const int32_t v = rep ? r->GetRepeatedInt32(src, f, i) : r->GetInt32(src, f);
      bits =
          static_cast<uint32_t>((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
    } break;
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32:
      bits = rep ? r->GetRepeatedUInt32(src, f, i) : r->GetUInt32(src, f);
      break;
    case FieldDescriptor::TYPE_BOOL:
      bits = (rep ? r->GetRepeatedBool(src, f, i) : r->GetBool(src, f)) ? 1 : 0;
      break;
    case FieldDescriptor::TYPE_ENUM:
      bits = static_cast<uint64_t>(
          static_cast<int64_t>(rep ? r->GetRepeatedEnumValue(src, f, i) : r->GetEnumValue(src, f)));
      break;
    default:
      return;
  }
  if (f->type() == FieldDescriptor::TYPE_SFIXED64 || f->type() == FieldDescriptor::TYPE_FIXED64) {
    wire_type = 1, fixed = 8;
  } else if (f->type() == FieldDescriptor::TYPE_SFIXED32 ||
             f->type() == FieldDescriptor::TYPE_FIXED32) {
    wire_type = 5, fixed = 4;
  }
  if (!f->is_packed()) {
    w->Tag(n, wire_type);
  }
  if (fixed != 0) {
    w->Fixed(bits, fixed);
  } else {
    w->Varint(bits);
  }
}

}  // namespace

void WriteField(WireWriter* w, const Reflection* r, const Message& src, const FieldDescriptor* f) {
  if (!f->is_repeated()) {
    WriteValue(w, r, src, f, -1);
    return;
  }
  const int size = r->FieldSize(src, f);
  if (f->is_packed()) {
    const WireWriter::Mark m = w->Begin(f->number());
    for (int i = 0; i < size; ++i) {
      WriteValue(w, r, src, f, i);
    }
    w->End(m);
    return;
  }
  for (int i = 0; i < size; ++i) {
    WriteValue(w, r, src, f, i);
  }
}

}  // namespace asb::policy::internal
