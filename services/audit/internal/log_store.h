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
inline constexpr char kSupersededTreeHeadPrefix[] = "superseded_sth/";
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

// After an iterator over "entries" stopped with kDataLoss (a stored value that does not
// decrypt) at or after entry `from`: the index of the first entry from `from` on that is
// stored, found by probing the stored keys — the one that could not be read. kDataLoss if none
// is found within kMaxProbe indices.
absl::StatusOr<uint64_t> FirstStoredEntry(const store::Store& store, uint64_t from);
inline constexpr uint64_t kMaxProbe = 4096;

// Calls f(index, stored value) for every readable entry from `from` on, in order, until f
// returns false; an entry whose stored value does not decrypt is passed to unreadable(index)
// and skipped, so one bad value never stops a walk. Storage errors are returned.
template <typename F, typename U>
absl::Status WalkEntries(const store::Store& store, uint64_t from, F&& f, U&& unreadable) {
  auto it = store.NewIterator(kEntries);
  it->Seek(rocksdb::Slice(store::EncodeSeq(from)));
  uint64_t next = from;
  while (true) {
    if (it->Valid()) {
      if (it->key().size() != 8) {
        return absl::DataLossError("audit entries: malformed key");
      }
      const uint64_t index = store::DecodeSeq(std::string_view(it->key().data(), 8));
      if (!f(index, it->value().ToStringView())) {
        return absl::OkStatus();
      }
      next = index + 1;
      it->Next();
      continue;
    }
    absl::Status s = store::FromRocks(it->status(), "audit entries");
    if (s.ok() || !absl::IsDataLoss(s)) {
      return s;
    }
    absl::StatusOr<uint64_t> bad = FirstStoredEntry(store, next);
    if (!bad.ok()) {
      return bad.status();
    }
    unreadable(*bad);
    next = *bad + 1;
    it->Seek(rocksdb::Slice(store::EncodeSeq(next)));
  }
}

// The case id the by_case index files entry `index` under ("" if none): a scan of the index,
// for a damaged entry whose record cannot be read.
absl::StatusOr<std::string> CaseOfEntry(const store::Store& store, uint64_t index);

// A damaged entry as a query answer gives it in its place (AuditEntry.damage): its index, the
// leaf hash stored for it if any, and the case the index names.
asb::v1::AuditEntry DamagedEntry(const store::Store& store, uint64_t index, std::string why,
                                 std::string case_id);

// `value` cut to at most 64 characters (then ending "..."), for a record's detail.
std::string Shorten(absl::string_view value);

}  // namespace asb::audit::internal
