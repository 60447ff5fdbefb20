#pragma once

// Private to common/auditlog: the wire tags of the fields that asb-audit's stored entries and
// stored pages are written and read by hand with (entry.cc writes them, verifier.cc reads
// them without parsing).

#include <cstdint>

#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"

namespace asb::audit::internal {

inline constexpr uint32_t kVarint = 0;
inline constexpr uint32_t kLengthDelimited = 2;

constexpr uint32_t Tag(int field, uint32_t wire_type) {
  return (static_cast<uint32_t>(field) << 3) | wire_type;
}

inline constexpr uint32_t kIndexTag = Tag(asb::v1::AuditEntry::kIndexFieldNumber, kVarint);
inline constexpr uint32_t kRecordTag =
    Tag(asb::v1::AuditEntry::kRecordFieldNumber, kLengthDelimited);
inline constexpr uint32_t kOriginTag =
    Tag(asb::v1::AuditEntry::kOriginFieldNumber, kLengthDelimited);
inline constexpr uint32_t kOriginSeqTag = Tag(asb::v1::AuditEntry::kOriginSeqFieldNumber, kVarint);
inline constexpr uint32_t kLeafHashTag =
    Tag(asb::v1::AuditEntry::kLeafHashFieldNumber, kLengthDelimited);
// StoredAuditEntries.entries: each entry of a stored page.
inline constexpr uint32_t kStoredEntryTag =
    Tag(asb::v1::StoredAuditEntries::kEntriesFieldNumber, kLengthDelimited);

// Every tag above fits in one byte.
static_assert(kLeafHashTag < 0x80 && kStoredEntryTag < 0x80);

}  // namespace asb::audit::internal
