#pragma once

// Private to AuditLog (services/audit/audit_log*.cc): the names and keys of its Store's layout
// (described in audit_log.h) and the small readers its append, query and retention files share.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asb/v1/audit.pb.h"
#include "common/log/log.h"
#include "common/store/store.h"
#include "google/protobuf/timestamp.pb.h"

namespace asb::audit::internal {

// Column families.
inline constexpr char kEntries[] = "entries";
inline constexpr char kByCase[] = "by_case";
inline constexpr char kByAgency[] = "by_agency";
inline constexpr char kBySubject[] = "by_subject";
inline constexpr char kByOfficer[] = "by_officer";
inline constexpr char kMeta[] = "meta";
// stream::LogColumnFamily("audit"): asb-audit keeps the usual "audit" stream's shape (unused).
inline constexpr char kAuditStreamColumnFamily[] = "log.audit";

// Keys and key prefixes in "meta".
inline constexpr char kExpiredThroughKey[] = "expired_through";
inline constexpr char kDeletedThroughKey[] = "deleted_through";
inline constexpr char kSubjectIndexDoneKey[] = "index/by_subject";
inline constexpr char kLeafPrefix[] = "leaf/";
inline constexpr char kNodePrefix[] = "node/";
inline constexpr char kTreeHeadPrefix[] = "sth/";
inline constexpr char kTimeBlockPrefix[] = "tblock/";

// The "audit" logger.
spdlog::logger* Logger();

// The key of entry `index` under `value` in an index column family: value '\0' EncodeSeq(index).
std::string IndexKey(absl::string_view value, uint64_t index);
// The prefix every index key of `value` starts with: value '\0'.
std::string IndexPrefix(absl::string_view value);
// Leaf hash of entry `index` (Merkle level 0, leaf index - 1).
std::string LeafKey(uint64_t index);
// Hash of complete subtree (level >= 1, index).
std::string NodeKey(int level, uint64_t index);
std::string TreeHeadKey(uint64_t tree_size);
std::string TimeBlockKey(uint64_t block);

// Microseconds since the epoch of a record's time, as an unsigned key part (earlier than 1970
// counts as 0: only block summaries use it, and they only need to be conservative).
uint64_t MicrosOf(const google::protobuf::Timestamp& ts);

// Calls f(cf, key) for every index key of entry `index` with record `r`: by case, by agency
// (actor and recipient, once if equal), by subject (each distinct key once) and by the officer
// on whose behalf it was made.
template <typename F>
void ForEachIndexKey(const asb::v1::AuditRecord& r, uint64_t index, F&& f) {
  if (!r.case_id().empty()) {
    f(kByCase, IndexKey(r.case_id(), index));
  }
  if (!r.actor_agency().empty()) {
    f(kByAgency, IndexKey(r.actor_agency(), index));
  }
  if (!r.recipient_agency().empty() && r.recipient_agency() != r.actor_agency()) {
    f(kByAgency, IndexKey(r.recipient_agency(), index));
  }
  for (int i = 0; i < r.subject_keys_size(); ++i) {
    const std::string& k = r.subject_keys(i);
    if (k.empty() || std::find(r.subject_keys().begin(), r.subject_keys().begin() + i, k) !=
                         r.subject_keys().begin() + i) {
      continue;  // once per distinct key
    }
    f(kBySubject, IndexKey(k, index));
  }
  if (!r.on_behalf_of().officer_id().empty()) {
    f(kByOfficer, IndexKey(r.on_behalf_of().officer_id(), index));
  }
}

// Positions `it` at the last key starting with `prefix` (or wherever before it: the caller
// checks the prefix): seeks to the prefix's successor and steps back.
void SeekToLastWithPrefix(rocksdb::Iterator* it, std::string_view prefix);

// The EncodeSeq value of "meta" key `key`; 0 if absent. kDataLoss if malformed.
absl::StatusOr<uint64_t> ReadSeq(const store::Store& store, const char* key);

// `value` cut to at most 64 characters (then ending "..."), for a record's detail.
std::string Shorten(absl::string_view value);

}  // namespace asb::audit::internal
