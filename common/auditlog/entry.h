#pragma once

// The access log's entries as bytes: the canonical bytes an entry's leaf hash commits to, the
// bytes asb-audit stores for a new entry (written field by field, without building an
// AuditEntry), and the framing of a page of stored entries (AuditQueryResponse.stored_page).
// asb-audit writes these bytes and every verifier (asbctl, the tests, a partner's own check)
// reads them through this one definition.
//
// Namespace asb::audit: the access log's, shared with asb-audit (services/audit).

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "asb/v1/audit.pb.h"

namespace asb::audit {

// The origin of asb-audit's own records; only these may erase or expire entries.
inline constexpr char kSelfOrigin[] = "audit/self";

// The canonical bytes of an entry: its deterministic protobuf serialisation with leaf_hash
// (and erased_by) cleared. leaf_hash (field 5) follows every field the canonical bytes hold,
// so they are the full serialisation without that trailing field (no copy of the entry) —
// unless erased_by (field 6) or unknown fields follow it, which take a copying path. "" only for
// an entry over 2 GiB (the bus rules it out), which then simply fails verification.
std::string CanonicalEntryBytes(const asb::v1::AuditEntry& entry);

// RFC 9162 leaf hash: SHA-256(0x00 || CanonicalEntryBytes(entry)), 32 raw bytes. The common
// case (leaf_hash set last, nothing after it) serialises into a reused per-thread buffer and
// hashes it without the trailing leaf_hash field: no allocation.
std::string LeafHash(const asb::v1::AuditEntry& entry);

// A new entry as asb-audit stores it.
struct EncodedEntry {
  // The serialisation of AuditEntry{index, record, origin, origin_seq, leaf_hash}: byte for
  // byte what serialising such an entry gives (proto3 omits an empty origin and a zero
  // origin_seq). Everything before the trailing leaf_hash field (34 bytes) is the canonical
  // bytes, so LogVerifier::AddStored hashes it without parsing.
  std::string bytes;
  // Its leaf hash (32 bytes), also the value of the trailing field.
  std::string leaf_hash;
};

// Encodes entry `index` with `record` field by field, without copying the record into an
// AuditEntry. Equal to serialising the AuditEntry (tested against CanonicalEntryBytes).
EncodedEntry EncodeEntry(uint64_t index, const asb::v1::AuditRecord& record,
                         std::string_view origin, uint64_t origin_seq);

// Appends `entry` (stored bytes) to `page` as AuditQueryResponse.stored_page holds it: a
// length-delimited field 1 of StoredAuditEntries.
void AppendStoredEntry(std::string_view entry, std::string* page);

// Calls f(entry) for each entry of a stored_page, in order, until f returns false. Returns
// false if the page is not a well-formed StoredAuditEntries of fields 1 only (true if f
// stopped the walk).
bool ForEachStoredEntry(std::string_view page, absl::FunctionRef<bool(std::string_view)> f);

}  // namespace asb::audit
