#include "common/auditlog/entry.h"

#include "common/auditlog/internal/wire.h"
#include "common/crypto/merkle.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace asb::audit {
namespace {

using google::protobuf::io::CodedOutputStream;

// The size of the trailing leaf_hash field (tag, length, hash) of an entry.
std::size_t LeafHashFieldSize(const asb::v1::AuditEntry& entry) {
  const std::size_t len = entry.leaf_hash().size();
  return 1 + CodedOutputStream::VarintSize32(static_cast<uint32_t>(len)) + len;
}

// True if leaf_hash is the last field serialised: set, and neither erased_by nor unknown
// fields after it.
bool LeafHashIsLast(const asb::v1::AuditEntry& entry) {
  return !entry.leaf_hash().empty() && entry.erased_by() == 0 && entry.damage().empty() &&
         entry.GetReflection()->GetUnknownFields(entry).empty();
}

}  // namespace

std::string CanonicalEntryBytes(const asb::v1::AuditEntry& entry) {
  const bool strip = LeafHashIsLast(entry);
  const asb::v1::AuditEntry* source = &entry;
  asb::v1::AuditEntry copy;
  if (!strip && (!entry.leaf_hash().empty() || entry.erased_by() != 0 || !entry.damage().empty())) {
    copy = entry;
    copy.clear_leaf_hash();
    copy.clear_erased_by();
    copy.clear_damage();
    source = &copy;
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    if (!source->SerializeToCodedStream(&coded)) {
      return std::string();
    }
  }
  if (strip) {
    bytes.resize(bytes.size() - LeafHashFieldSize(entry));
  }
  return bytes;
}

std::string LeafHash(const asb::v1::AuditEntry& entry) {
  if (!LeafHashIsLast(entry)) {
    return crypto::merkle::HashLeaf(CanonicalEntryBytes(entry));
  }
  // Plain serialisation is deterministic here: no message in AuditEntry has a map field.
  thread_local std::string buffer;
  const std::size_t size = entry.ByteSizeLong();
  buffer.resize(size);
  entry.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(buffer.data()));
  return crypto::merkle::HashLeaf(std::string_view(buffer.data(), size - LeafHashFieldSize(entry)));
}

EncodedEntry EncodeEntry(uint64_t index, const asb::v1::AuditRecord& record,
                         std::string_view origin, uint64_t origin_seq) {
  EncodedEntry out;
  const std::size_t record_size = record.ByteSizeLong();
  {
    google::protobuf::io::StringOutputStream raw(&out.bytes);
    CodedOutputStream coded(&raw);
    coded.WriteTag(internal::kIndexTag);
    coded.WriteVarint64(index);
    coded.WriteTag(internal::kRecordTag);
    coded.WriteVarint32(static_cast<uint32_t>(record_size));
    record.SerializeWithCachedSizes(&coded);
    if (!origin.empty()) {
      coded.WriteTag(internal::kOriginTag);
      coded.WriteVarint32(static_cast<uint32_t>(origin.size()));
      coded.WriteRaw(origin.data(), static_cast<int>(origin.size()));
    }
    if (origin_seq != 0) {
      coded.WriteTag(internal::kOriginSeqTag);
      coded.WriteVarint64(origin_seq);
    }
  }
  out.leaf_hash = crypto::merkle::HashLeaf(out.bytes);
  out.bytes.push_back(static_cast<char>(internal::kLeafHashTag));
  out.bytes.push_back(static_cast<char>(out.leaf_hash.size()));  // 32: a one-byte varint
  out.bytes.append(out.leaf_hash);
  return out;
}

void AppendStoredEntry(std::string_view entry, std::string* page) {
  uint8_t head[1 + 5];  // the tag and a varint32 of at most 5 bytes
  head[0] = static_cast<uint8_t>(internal::kStoredEntryTag);
  uint8_t* end =
      CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(entry.size()), head + 1);
  page->append(reinterpret_cast<const char*>(head), static_cast<std::size_t>(end - head));
  page->append(entry.data(), entry.size());
}

bool ForEachStoredEntry(std::string_view page, absl::FunctionRef<bool(std::string_view)> f) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(page.data()),
                                            static_cast<int>(page.size()));
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      return in.CurrentPosition() == static_cast<int>(page.size());
    }
    uint32_t length = 0;
    const void* data = nullptr;
    int available = 0;
    if (tag != internal::kStoredEntryTag || !in.ReadVarint32(&length) ||
        !in.GetDirectBufferPointer(&data, &available) ||
        static_cast<uint32_t>(available) < length) {
      return false;
    }
    if (!f(std::string_view(static_cast<const char*>(data), length))) {
      return true;
    }
    in.Skip(static_cast<int>(length));
  }
}

}  // namespace asb::audit
