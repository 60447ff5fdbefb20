#include "services/audit/audit_log.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/crypto/crypto.h"
#include "common/log/log.h"
#include "common/model/model.h"
#include "common/status/check.h"
#include "common/status/macros.h"
#include "common/stream/consumer.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"

namespace asb::audit {
namespace {

constexpr char kEntries[] = "entries";
constexpr char kByCase[] = "by_case";
constexpr char kByAgency[] = "by_agency";
constexpr char kBySubject[] = "by_subject";
constexpr char kExpiredThroughKey[] = "expired_through";
constexpr char kDeletedThroughKey[] = "deleted_through";
constexpr char kSubjectIndexDoneKey[] = "index/by_subject";
constexpr char kMeta[] = "meta";
constexpr char kLeafPrefix[] = "leaf/";
constexpr char kNodePrefix[] = "node/";
constexpr char kTreeHeadPrefix[] = "sth/";
constexpr char kTimeBlockPrefix[] = "tblock/";
// Tree heads returned per TreeHeads() call at most.
constexpr uint32_t kMaxTreeHeads = 10000;
// stream::LogColumnFamily("audit"): asb-audit keeps the usual "audit" stream's shape (unused).
constexpr char kAuditStreamColumnFamily[] = "log.audit";
// Longest filter value DescribeQuery copies into a record's detail.
constexpr std::size_t kMaxDescribedValue = 64;

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("audit");
  return lg;
}

std::string IndexKey(absl::string_view value, uint64_t index) {
  std::string key;
  key.reserve(value.size() + 9);
  key.append(value.data(), value.size());
  key.push_back('\0');
  key.append(store::EncodeSeq(index));
  return key;
}

std::string LeafKey(uint64_t index) { return absl::StrCat(kLeafPrefix, store::EncodeSeq(index)); }

std::string NodeKey(int level, uint64_t index) {
  std::string key(kNodePrefix);
  key.push_back(static_cast<char>(level));
  key.append(store::EncodeSeq(index));
  return key;
}

std::string TimeBlockKey(uint64_t block) {
  return absl::StrCat(kTimeBlockPrefix, store::EncodeSeq(block));
}

// Microseconds since the epoch of a record's time, as an unsigned key part (earlier than 1970
// counts as 0: only block summaries use it, and they only need to be conservative).
uint64_t MicrosOf(const google::protobuf::Timestamp& ts) {
  const int64_t us = ts.seconds() * 1000000 + ts.nanos() / 1000;
  return us < 0 ? 0 : static_cast<uint64_t>(us);
}

std::string TreeHeadKey(uint64_t tree_size) {
  return absl::StrCat(kTreeHeadPrefix, store::EncodeSeq(tree_size));
}

// Calls f(cf, key) for every index key of entry `index` with record `r`.
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
}

// Positions `it` at the last key starting with `prefix` (or wherever before it: the caller
// checks the prefix): seeks to the prefix's successor and steps back.
void SeekToLastWithPrefix(rocksdb::Iterator* it, std::string_view prefix) {
  std::string end(prefix);
  end.back() = static_cast<char>(end.back() + 1);
  it->SeekForPrev(rocksdb::Slice(end));
  if (it->Valid() && it->key().ToStringView() == end) {
    it->Prev();
  }
}

absl::StatusOr<uint64_t> ReadSeq(const store::Store& store, const char* key) {
  std::string value;
  absl::Status s = store.Get(kMeta, key, &value);
  if (absl::IsNotFound(s)) {
    return 0;
  }
  if (!s.ok()) {
    return s;
  }
  if (value.size() != 8) {
    return absl::DataLossError(absl::StrCat("audit meta ", key, ": malformed"));
  }
  return store::DecodeSeq(value);
}

bool ValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.nanos() >= 0 && ts.nanos() < 1000000000;
}

bool Matches(const asb::v1::AuditEntry& entry, const asb::v1::AuditQueryRequest& request) {
  const asb::v1::AuditRecord& r = entry.record();
  if (!request.case_id().empty() && r.case_id() != request.case_id()) {
    return false;
  }
  if (!request.agency().empty() && r.actor_agency() != request.agency() &&
      r.recipient_agency() != request.agency()) {
    return false;
  }
  if (!request.actor().empty() && r.actor() != request.actor()) {
    return false;
  }
  if (request.kinds_size() > 0 && std::find(request.kinds().begin(), request.kinds().end(),
                                            r.kind()) == request.kinds().end()) {
    return false;
  }
  if (!request.subject_key().empty() &&
      std::find(r.subject_keys().begin(), r.subject_keys().end(), request.subject_key()) ==
          r.subject_keys().end()) {
    return false;
  }
  if (!request.purpose().empty() &&
      std::none_of(
          r.justifications().begin(), r.justifications().end(),
          [&](const asb::v1::Justification& j) { return j.purpose() == request.purpose(); })) {
    return false;
  }
  if (request.has_since() && ::asb::model::ToTime(r.at()) < ::asb::model::ToTime(request.since())) {
    return false;
  }
  if (request.has_until() &&
      ::asb::model::ToTime(r.at()) >= ::asb::model::ToTime(request.until())) {
    return false;
  }
  return true;
}

// True if the request filters entries (beyond after_index and limit).
bool HasFilter(const asb::v1::AuditQueryRequest& request) {
  return !request.case_id().empty() || !request.agency().empty() || !request.actor().empty() ||
         request.kinds_size() > 0 || !request.subject_key().empty() || !request.purpose().empty() ||
         request.has_since() || request.has_until();
}

std::string Shorten(absl::string_view value) {
  if (value.size() <= kMaxDescribedValue) {
    return std::string(value);
  }
  return absl::StrCat(value.substr(0, kMaxDescribedValue), "...");
}

}  // namespace

store::StoreOptions AuditStoreLayout() {
  store::StoreOptions options;
  options.column_families = {
      kEntries,  kByCase, kByAgency, kMeta, stream::kOffsetsColumnFamily, kAuditStreamColumnFamily,
      kBySubject};
  options.appended_column_families = {kEntries, kMeta, kByAgency};
  options.memtable_bytes = {{kByCase, std::size_t{4} << 20}, {kBySubject, std::size_t{4} << 20}};
  options.plaintext_column_families = {kMeta, kByCase, kByAgency, kBySubject};
  return options;
}

AuditLog::AuditLog(store::Store* store, std::function<absl::Time()> clock)
    : store_(store), clock_(std::move(clock)) {}

absl::Status AuditLog::Load() {
  // The size is the last leaf hash's index: each entry's leaf key is written in its batch.
  // (Stores before this also kept a "size" key, written per entry; it is no longer read.)
  uint64_t size = 0;
  {
    auto it = store_->NewIterator(kMeta);
    SeekToLastWithPrefix(it.get(), kLeafPrefix);
    if (!it->status().ok()) {
      return store::FromRocks(it->status(), "audit meta");
    }
    if (it->Valid() && it->key().starts_with(kLeafPrefix)) {
      if (it->key().size() != sizeof(kLeafPrefix) - 1 + 8) {
        return absl::DataLossError("audit meta: malformed leaf key");
      }
      size = store::DecodeSeq(std::string_view(it->key().data() + sizeof(kLeafPrefix) - 1, 8));
    }
  }
  ASB_ASSIGN_OR_RETURN(expired_through_, ReadSeq(*store_, kExpiredThroughKey));
  ASB_ASSIGN_OR_RETURN(deleted_through_, ReadSeq(*store_, kDeletedThroughKey));
  // The size and the entries are written in one batch, so the last entry must be entry `size`
  // (unless every entry is deleted).
  auto it = store_->NewIterator(kEntries);
  it->SeekToLast();
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit entries");
  }
  const uint64_t last = it->Valid() && it->key().size() == 8
                            ? store::DecodeSeq(std::string_view(it->key().data(), 8))
                            : 0;
  it.reset();
  if (last != size && !(last == 0 && deleted_through_ == size && size > 0)) {
    return absl::DataLossError(
        absl::StrCat("audit log: ", size, " leaf hashes but the last entry is ", last));
  }
  size_ = size;
  pending_ = size;
  auto range = AuditRange::FromNodes(size, Reader());
  if (absl::IsNotFound(range.status())) {
    // Entries written before the tree's nodes were stored: write them once.
    ASB_RETURN_IF_ERROR(RebuildTree(size));
    range = AuditRange::FromNodes(size, Reader());
  }
  if (!range.ok()) {
    return range.status();
  }
  committed_ = *range;
  pending_range_ = committed_;
  std::string done;
  if (absl::Status s = store_->Get(kMeta, kSubjectIndexDoneKey, &done); absl::IsNotFound(s)) {
    ASB_RETURN_IF_ERROR(BuildSubjectIndex());
  } else if (!s.ok()) {
    return s;
  }
  ASB_RETURN_IF_ERROR(LoadTimeBlock());
  // A retention run that stopped part-way finishes now.
  ASB_RETURN_IF_ERROR(DeleteExpired());
  SPDLOG_LOGGER_INFO(Logger(), "audit log loaded: {} entries, 1..{} expired", size_,
                     expired_through_);
  return absl::OkStatus();
}

uint64_t AuditLog::Append(const asb::v1::AuditRecord& record, const std::string& origin,
                          uint64_t origin_seq, store::Batch* batch) {
  const uint64_t index = ++pending_;
  // A record without a time takes the clock's (the only case that copies it).
  const asb::v1::AuditRecord* rec = &record;
  asb::v1::AuditRecord stamped;
  if (!record.has_at()) {
    stamped = record;
    ::asb::model::ToTimestamp(clock_(), stamped.mutable_at());
    rec = &stamped;
  }
  // The stored value is the serialisation of AuditEntry{index, record, origin, origin_seq,
  // leaf_hash}, written field by field in field order — byte for byte what serialising such an
  // entry gives (proto3 omits empty origin and zero origin_seq; no maps, so it is
  // deterministic) — without copying the record into an entry. Everything before leaf_hash
  // (the last field) is the canonical bytes. Tested against CanonicalEntryBytes.
  const std::size_t record_size = rec->ByteSizeLong();
  std::string value;
  {
    google::protobuf::io::StringOutputStream raw(&value);
    google::protobuf::io::CodedOutputStream out(&raw);
    out.WriteTag((1 << 3) | 0);
    out.WriteVarint64(index);
    out.WriteTag((2 << 3) | 2);
    out.WriteVarint32(static_cast<uint32_t>(record_size));
    rec->SerializeWithCachedSizes(&out);
    if (!origin.empty()) {
      out.WriteTag((3 << 3) | 2);
      out.WriteVarint32(static_cast<uint32_t>(origin.size()));
      out.WriteRaw(origin.data(), static_cast<int>(origin.size()));
    }
    if (origin_seq != 0) {
      out.WriteTag((4 << 3) | 0);
      out.WriteVarint64(origin_seq);
    }
  }
  const std::string leaf = crypto::merkle::HashLeaf(value);
  value.push_back(static_cast<char>((5 << 3) | 2));  // field 5, length-delimited
  value.push_back(static_cast<char>(leaf.size()));   // 32: a one-byte varint
  value.append(leaf);

  // No "size" key: the last leaf key, written with every entry, is the size (see Load).
  batch->Put(kEntries, store::EncodeSeq(index), value);
  batch->Put(kMeta, LeafKey(index), leaf);
  pending_range_.Append(leaf, [batch](int level, uint64_t node, const std::string& hash) {
    batch->Put(kMeta, NodeKey(level, node), hash);
  });
  ForEachIndexKey(*rec, index,
                  [batch](const char* cf, const std::string& k) { batch->Put(cf, k, ""); });
  // The time span of entry's block; written with the block's last entry.
  const uint64_t us = MicrosOf(rec->at());
  if ((index - 1) % kTimeBlock == 0) {
    block_min_ = block_max_ = us;
  } else {
    block_min_ = std::min(block_min_, us);
    block_max_ = std::max(block_max_, us);
  }
  if (index % kTimeBlock == 0) {
    batch->Put(kMeta, TimeBlockKey((index - 1) / kTimeBlock),
               absl::StrCat(store::EncodeSeq(block_min_), store::EncodeSeq(block_max_)));
  }
  batch->OnCommit([this, index] {
    size_ = std::max(size_, index);
    if (index == pending_) {
      committed_ = pending_range_;
    }
  });
  // Every index assigned in the failed batch is free again.
  batch->OnAbort([this] {
    pending_ = size_;
    pending_range_ = committed_;
    if (absl::Status s = LoadTimeBlock(); !s.ok()) {
      // Only makes the current block's summary wider or narrower than the truth at worst;
      // queries then scan that block. Logged, never fatal.
      SPDLOG_LOGGER_WARN(Logger(), "audit time block not reloaded: {}", s.ToString());
    }
  });
  return index;
}

std::function<absl::Status(const asb::v1::Envelope&, store::Batch*)> AuditLog::ApplyFnFor(
    std::string upstream) {
  std::string origin = absl::StrCat(upstream, "/audit");
  return [this, origin = std::move(origin)](const asb::v1::Envelope& envelope,
                                            store::Batch* batch) -> absl::Status {
    if (!envelope.has_audit()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, " record ", envelope.seq(), ": no audit payload"));
    }
    if ((!envelope.audit().has_at() && envelope.has_produced_at()) ||
        envelope.audit().has_erasure()) {
      asb::v1::AuditRecord record = envelope.audit();
      if (!record.has_at()) {
        *record.mutable_at() = envelope.produced_at();
      }
      // Only asb-audit itself records erasures (the verifier trusts only "audit/self").
      record.clear_erasure();
      Append(record, origin, envelope.seq(), batch);
    } else {
      Append(envelope.audit(), origin, envelope.seq(), batch);
    }
    return absl::OkStatus();
  };
}

absl::StatusOr<asb::v1::AuditQueryResponse> AuditLog::Query(
    const asb::v1::AuditQueryRequest& request) const {
  if ((request.has_since() && !ValidTimestamp(request.since())) ||
      (request.has_until() && !ValidTimestamp(request.until()))) {
    return absl::InvalidArgumentError("since/until: invalid timestamp");
  }
  if (request.has_since() && request.has_until() &&
      ::asb::model::ToTime(request.since()) >= ::asb::model::ToTime(request.until())) {
    return absl::InvalidArgumentError("since: must be before until");
  }
  const uint32_t limit =
      request.limit() == 0 ? kDefaultLimit : std::min<uint32_t>(request.limit(), kMaxLimit);

  asb::v1::AuditQueryResponse response;
  response.set_log_size(size_);
  const uint64_t after = std::max(request.after_index(), expired_through_);
  if (after >= size_) {
    return response;
  }
  const uint64_t first = after + 1;

  // Either walk an index (keys prefix + EncodeSeq(index)) or the entries themselves.
  std::string index_cf;
  std::string prefix;
  if (!request.case_id().empty()) {
    index_cf = kByCase;
    prefix = IndexKey(request.case_id(), 0).substr(0, request.case_id().size() + 1);
  } else if (!request.subject_key().empty()) {
    index_cf = kBySubject;
    prefix = IndexKey(request.subject_key(), 0).substr(0, request.subject_key().size() + 1);
  } else if (!request.agency().empty()) {
    index_cf = kByAgency;
    prefix = IndexKey(request.agency(), 0).substr(0, request.agency().size() + 1);
  }
  const bool use_index = !index_cf.empty();
  // A walk of the entries themselves may read millions (a verifier's pages): a scan iterator.
  auto it = use_index ? store_->NewIterator(index_cf) : store_->NewScanIterator(kEntries);
  const std::string start = use_index ? prefix + store::EncodeSeq(first) : store::EncodeSeq(first);
  it->Seek(rocksdb::Slice(start));

  uint64_t scanned = 0;
  uint64_t last_examined = 0;
  bool more = false;  // a further match exists (or the scan budget ran out)
  // Entries are parsed straight into the page; a slot whose entry does not match is reused.
  // Stored entries are copied as they are, parsed (into scratch) only to check filters.
  asb::v1::AuditEntry* slot = nullptr;
  asb::v1::AuditEntry scratch;
  const bool filtered = HasFilter(request);
  uint32_t returned = 0;
  uint64_t last_returned = 0;
  std::string value;
  // With a time range, a whole block of entries whose summary lies outside it is skipped.
  const bool by_time = request.has_since() || request.has_until();
  const uint64_t since_us = request.has_since() ? MicrosOf(request.since()) : 0;
  const uint64_t until_us =
      request.has_until() ? MicrosOf(request.until()) : std::numeric_limits<uint64_t>::max();
  uint64_t block_checked_through = 0;
  bool advance = false;  // false right after a Seek
  while (true) {
    if (advance) {
      it->Next();
    }
    advance = true;
    if (!it->Valid()) {
      break;
    }
    const rocksdb::Slice key = it->key();
    uint64_t index = 0;
    if (use_index) {
      if (!key.starts_with(rocksdb::Slice(prefix))) {
        break;
      }
      if (key.size() != prefix.size() + 8) {
        continue;  // a longer value that shares the prefix (one containing '\0')
      }
      index = store::DecodeSeq(std::string_view(key.data() + prefix.size(), 8));
    } else {
      if (key.size() != 8) {
        return absl::DataLossError("audit entries: malformed key");
      }
      index = store::DecodeSeq(std::string_view(key.data(), 8));
    }
    if (index > size_) {
      break;  // committed after this query started: leave it to the next page
    }
    if (by_time && index > block_checked_through) {
      const uint64_t block = (index - 1) / kTimeBlock;
      const uint64_t block_last = (block + 1) * kTimeBlock;
      block_checked_through = block_last;
      std::string span;
      if (block_last <= size_ && store_->Get(kMeta, TimeBlockKey(block), &span).ok() &&
          span.size() == 16 &&
          (store::DecodeSeq(std::string_view(span.data() + 8, 8)) < since_us ||
           store::DecodeSeq(std::string_view(span.data(), 8)) >= until_us)) {
        // No entry of this block is in the range: go on after it.
        last_examined = block_last;
        it->Seek(use_index ? rocksdb::Slice(prefix + store::EncodeSeq(block_last + 1))
                           : rocksdb::Slice(store::EncodeSeq(block_last + 1)));
        advance = false;
        continue;
      }
    }
    if (scanned >= kMaxScan) {
      more = true;
      break;
    }
    ++scanned;
    last_examined = index;

    std::string_view bytes;
    if (use_index) {
      absl::Status s = store_->Get(kEntries, store::EncodeSeq(index), &value);
      if (!s.ok()) {
        return absl::IsNotFound(s)
                   ? absl::DataLossError(absl::StrCat("audit index names missing entry ", index))
                   : s;
      }
      bytes = value;
    } else {
      bytes = it->value().ToStringView();
    }
    asb::v1::AuditEntry* parsed = nullptr;
    if (!request.stored()) {
      if (slot == nullptr) {
        slot = response.add_entries();
      }
      parsed = slot;
    } else if (filtered) {
      parsed = &scratch;
    }
    if (parsed != nullptr) {
      if (!parsed->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return absl::DataLossError(absl::StrCat("audit entry ", index, ": unparsable"));
      }
      if (!Matches(*parsed, request)) {
        continue;
      }
    }
    if (returned == limit) {
      more = true;  // one match beyond the page: there is a next page
      break;
    }
    ++returned;
    last_returned = index;
    if (request.stored()) {
      AppendStoredEntry(bytes, response.mutable_stored_page());
    } else {
      slot = nullptr;
    }
  }
  if (slot != nullptr) {
    response.mutable_entries()->RemoveLast();
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit query");
  }
  if (more) {
    // Continue after the last entry returned; if the scan budget ran out first, after the last
    // one examined (all before it were looked at).
    response.set_next_after_index(returned == limit ? last_returned : last_examined);
  }
  return response;
}

absl::StatusOr<std::string> AuditLog::ReadNode(int level, uint64_t index) const {
  std::string value;
  const std::string key = level == 0 ? LeafKey(index + 1) : NodeKey(level, index);
  absl::Status s = store_->Get(kMeta, key, &value);
  if (!s.ok()) {
    if (absl::IsNotFound(s)) {
      return absl::NotFoundError(
          absl::StrCat("audit tree: no hash for subtree ", level, "/", index));
    }
    return s;
  }
  if (value.size() != crypto::merkle::kHashSize) {
    return absl::DataLossError(absl::StrCat("audit tree: subtree ", level, "/", index, " hash is ",
                                            value.size(), " bytes"));
  }
  return value;
}

crypto::merkle::NodeReader AuditLog::Reader() const {
  return [this](int level, uint64_t index) { return ReadNode(level, index); };
}

absl::Status AuditLog::RebuildTree(uint64_t size) {
  SPDLOG_LOGGER_INFO(Logger(), "audit log: writing Merkle tree nodes for {} entries", size);
  AuditRange range;
  store::Batch batch = store_->NewBatch();
  for (uint64_t index = 1; index <= size; ++index) {
    auto leaf = ReadNode(0, index - 1);
    if (!leaf.ok()) {
      return leaf.status();
    }
    range.Append(*std::move(leaf), [&batch](int level, uint64_t node, const std::string& hash) {
      batch.Put(kMeta, NodeKey(level, node), hash);
    });
    if (batch.count() >= 10000) {
      ASB_RETURN_IF_ERROR(store_->Write(&batch));
    }
  }
  return store_->Write(&batch);
}

absl::StatusOr<std::string> AuditLog::RootAt(uint64_t tree_size) const {
  if (tree_size > size_) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", tree_size, " is beyond the log's ", size_, " entries"));
  }
  if (tree_size == size_) {
    return committed_.Root();
  }
  return crypto::merkle::RootAt(tree_size, Reader());
}

absl::StatusOr<std::vector<std::string>> AuditLog::InclusionProof(uint64_t index,
                                                                  uint64_t tree_size) const {
  if (index == 0 || index > tree_size || tree_size > size_) {
    return absl::OutOfRangeError(absl::StrCat("entry ", index, " in a tree of ", tree_size,
                                              ": need 1 <= entry <= tree size <= ", size_));
  }
  return crypto::merkle::InclusionProof(index - 1, tree_size, Reader());
}

absl::StatusOr<std::vector<std::string>> AuditLog::ConsistencyProof(uint64_t first,
                                                                    uint64_t second) const {
  if (first > second || second > size_) {
    return absl::OutOfRangeError(absl::StrCat("consistency from ", first, " to ", second,
                                              ": need first <= second <= ", size_));
  }
  return crypto::merkle::ConsistencyProof(first, second, Reader());
}

absl::StatusOr<asb::v1::AuditEntry> AuditLog::Get(uint64_t index) const {
  if (index != 0 && index <= expired_through_) {
    return absl::NotFoundError(absl::StrCat("audit entry ", index, " has expired (entries 1..",
                                            expired_through_,
                                            " were deleted under the retention policy)"));
  }
  std::string value;
  absl::Status s = store_->Get(kEntries, store::EncodeSeq(index), &value);
  if (!s.ok()) {
    return absl::IsNotFound(s) ? absl::NotFoundError(absl::StrCat("no audit entry ", index)) : s;
  }
  asb::v1::AuditEntry entry;
  if (!entry.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("audit entry ", index, ": unparsable"));
  }
  return entry;
}

void AuditLog::PutTreeHead(const asb::v1::SignedTreeHead& sth, store::Batch* batch) {
  batch->Put(kMeta, TreeHeadKey(sth.tree_size()), sth.SerializeAsString());
}

absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> AuditLog::TreeHeadAt(
    uint64_t tree_size) const {
  std::string value;
  absl::Status s = store_->Get(kMeta, TreeHeadKey(tree_size), &value);
  if (absl::IsNotFound(s)) {
    return std::nullopt;
  }
  if (!s.ok()) {
    return s;
  }
  asb::v1::SignedTreeHead sth;
  if (!sth.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("tree head ", tree_size, ": unparsable"));
  }
  return sth;
}

absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> AuditLog::LatestTreeHead() const {
  auto it = store_->NewIterator(kMeta);
  SeekToLastWithPrefix(it.get(), kTreeHeadPrefix);
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit tree heads");
  }
  if (!it->Valid() || !it->key().starts_with(kTreeHeadPrefix)) {
    return std::nullopt;
  }
  asb::v1::SignedTreeHead sth;
  if (!sth.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
    return absl::DataLossError("latest tree head: unparsable");
  }
  return sth;
}

absl::StatusOr<std::vector<asb::v1::SignedTreeHead>> AuditLog::TreeHeads(uint64_t after_size,
                                                                         uint32_t limit,
                                                                         bool* more) const {
  limit = limit == 0 ? kMaxTreeHeads : std::min(limit, kMaxTreeHeads);
  *more = false;
  std::vector<asb::v1::SignedTreeHead> out;
  auto it = store_->NewIterator(kMeta);
  for (it->Seek(rocksdb::Slice(TreeHeadKey(after_size + 1)));
       it->Valid() && it->key().starts_with(kTreeHeadPrefix); it->Next()) {
    if (out.size() == limit) {
      *more = true;
      break;
    }
    asb::v1::SignedTreeHead sth;
    if (!sth.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("tree head: unparsable");
    }
    out.push_back(std::move(sth));
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit tree heads");
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> AuditLog::Frontier(uint64_t tree_size) const {
  if (tree_size == 0 || tree_size > size_) {
    return absl::OutOfRangeError(
        absl::StrCat("compact range of ", tree_size, " entries: need 1 <= size <= ", size_));
  }
  std::vector<std::string> out;
  uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((tree_size & width) == 0) {
      continue;
    }
    ASB_ASSIGN_OR_RETURN(std::string hash, ReadNode(level, begin >> level));
    out.push_back(std::move(hash));
    begin += width;
  }
  return out;
}

absl::Status AuditLog::LoadTimeBlock() {
  // The open block's entries: from the block start (or the first kept entry) to pending_.
  block_min_ = std::numeric_limits<uint64_t>::max();
  block_max_ = 0;
  if (pending_ % kTimeBlock == 0) {
    return absl::OkStatus();  // no open block
  }
  const uint64_t from = std::max(pending_ - pending_ % kTimeBlock + 1, expired_through_ + 1);
  auto it = store_->NewIterator(kEntries);
  asb::v1::AuditEntry entry;
  for (it->Seek(rocksdb::Slice(store::EncodeSeq(from))); it->Valid(); it->Next()) {
    if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      // A damaged entry (verify names it) must not stop the log: the block then spans all time.
      SPDLOG_LOGGER_WARN(Logger(), "audit entry {} unparsable: its time block is not summarised",
                         store::DecodeSeq(std::string_view(it->key().data(), 8)));
      block_min_ = 0;
      block_max_ = std::numeric_limits<uint64_t>::max();
      break;
    }
    block_min_ = std::min(block_min_, MicrosOf(entry.record().at()));
    block_max_ = std::max(block_max_, MicrosOf(entry.record().at()));
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit entries");
  }
  if (from > pending_ - pending_ % kTimeBlock + 1) {
    // The block's start expired: widen to "anything" so the summary never excludes wrongly.
    block_min_ = 0;
    block_max_ = std::numeric_limits<uint64_t>::max();
  }
  return absl::OkStatus();
}

absl::Status AuditLog::BuildSubjectIndex() {
  SPDLOG_LOGGER_INFO(Logger(), "audit log: indexing {} entries by subject", size_);
  store::Batch batch = store_->NewBatch();
  auto it = store_->NewIterator(kEntries);
  asb::v1::AuditEntry entry;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("audit entry: unparsable");
    }
    ForEachIndexKey(entry.record(), entry.index(), [&batch](const char* cf, const std::string& k) {
      if (cf == kBySubject) {
        batch.Put(cf, k, "");
      }
    });
    if (batch.count() >= 10000) {
      ASB_RETURN_IF_ERROR(store_->Write(&batch));
    }
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit entries");
  }
  batch.Put(kMeta, kSubjectIndexDoneKey, "");
  return store_->Write(&batch);
}

absl::StatusOr<uint64_t> AuditLog::Expire(absl::Time cutoff, uint32_t retention_days) {
  const int64_t cutoff_ms = absl::ToUnixMillis(cutoff);
  uint64_t anchor = 0;
  {
    auto it = store_->NewIterator(kMeta);
    for (it->Seek(rocksdb::Slice(TreeHeadKey(expired_through_ + 1)));
         it->Valid() && it->key().starts_with(kTreeHeadPrefix); it->Next()) {
      asb::v1::SignedTreeHead sth;
      if (!sth.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("tree head: unparsable");
      }
      if (static_cast<int64_t>(sth.timestamp_ms()) >= cutoff_ms || sth.tree_size() > size_) {
        break;  // issued in time order: the rest are newer
      }
      anchor = sth.tree_size();
    }
    if (!it->status().ok()) {
      return store::FromRocks(it->status(), "audit tree heads");
    }
  }
  if (anchor <= expired_through_) {
    return 0;
  }
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_EXPIRY);
  r.set_component("audit");
  r.set_actor("audit");
  r.set_detail(absl::StrCat("entries ", expired_through_ + 1, "..", anchor,
                            " deleted: older than the retention of ", retention_days,
                            " days (the signed tree head of size ", anchor, " is kept)"));
  r.mutable_erasure()->set_expired_through(anchor);
  r.mutable_erasure()->set_retention_days(retention_days);
  store::Batch batch = store_->NewBatch();
  Append(r, kSelfOrigin, 0, &batch);
  batch.Put(kMeta, kExpiredThroughKey, store::EncodeSeq(anchor));
  batch.OnCommit([this, anchor] { expired_through_ = anchor; });
  ASB_RETURN_IF_ERROR(store_->Write(&batch));
  SPDLOG_LOGGER_INFO(Logger(), "audit retention: entries up to {} expire", anchor);
  ASB_RETURN_IF_ERROR(DeleteExpired());
  return anchor;
}

absl::Status AuditLog::DeleteExpired() {
  asb::v1::AuditEntry entry;
  while (deleted_through_ < expired_through_) {
    const uint64_t from = deleted_through_ + 1;
    const uint64_t to = std::min(expired_through_, deleted_through_ + kExpireChunk);
    store::Batch batch = store_->NewBatch();
    auto it = store_->NewIterator(kEntries);
    for (it->Seek(rocksdb::Slice(store::EncodeSeq(from))); it->Valid(); it->Next()) {
      if (it->key().size() != 8 || store::DecodeSeq(std::string_view(it->key().data(), 8)) > to) {
        break;
      }
      if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("audit entry: unparsable");
      }
      ForEachIndexKey(entry.record(), entry.index(),
                      [&batch](const char* cf, const std::string& k) { batch.Delete(cf, k); });
    }
    if (!it->status().ok()) {
      return store::FromRocks(it->status(), "audit entries");
    }
    it.reset();
    batch.DeleteRange(kEntries, store::EncodeSeq(from), store::EncodeSeq(to + 1));
    // Tree heads inside the expired entries go, except the anchor (size expired_through_).
    batch.DeleteRange(kMeta, TreeHeadKey(from), TreeHeadKey(std::min(to + 1, expired_through_)));
    batch.Put(kMeta, kDeletedThroughKey, store::EncodeSeq(to));
    ASB_RETURN_IF_ERROR(store_->Write(&batch));
    deleted_through_ = to;
  }
  return absl::OkStatus();
}

absl::StatusOr<asb::v1::AuditEraseResponse> AuditLog::Erase(
    const asb::v1::AuditEraseRequest& request, const asb::v1::AuditRecord& who,
    store::Batch* batch) {
  if (request.reference().empty() || request.reference().size() > 128) {
    return absl::InvalidArgumentError(
        "reference: required (the erasure request's reference, at most 128 characters)");
  }
  if (request.subject_key().empty() && request.case_id().empty()) {
    return absl::InvalidArgumentError("subject_key or case_id: at least one is required");
  }
  const bool by_subject = !request.subject_key().empty();
  const std::string& value = by_subject ? request.subject_key() : request.case_id();
  const std::string prefix = IndexKey(value, 0).substr(0, value.size() + 1);
  asb::v1::AuditEraseResponse response;
  std::vector<asb::v1::AuditEntry> matched;
  {
    auto it = store_->NewIterator(by_subject ? kBySubject : kByCase);
    std::string stored;
    for (it->Seek(rocksdb::Slice(prefix)); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      if (it->key().size() != prefix.size() + 8) {
        continue;
      }
      const uint64_t index =
          store::DecodeSeq(std::string_view(it->key().data() + prefix.size(), 8));
      if (index <= expired_through_ || index > size_) {
        continue;
      }
      ASB_ASSIGN_OR_RETURN(asb::v1::AuditEntry entry, Get(index));
      if (by_subject && !request.case_id().empty() &&
          entry.record().case_id() != request.case_id()) {
        continue;
      }
      if (matched.size() == kMaxErase) {
        response.set_more(true);
        break;
      }
      matched.push_back(std::move(entry));
    }
    if (!it->status().ok()) {
      return store::FromRocks(it->status(), "audit erase");
    }
  }
  for (const auto& e : matched) {
    response.add_erased(e.index());
  }
  if (request.dry_run()) {
    return response;
  }
  const char* criteria =
      by_subject ? (request.case_id().empty() ? "subject" : "subject+case") : "case";
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_ERASURE);
  r.set_component("audit");
  r.set_actor(who.actor());
  r.set_actor_agency(who.actor_agency());
  r.set_detail(absl::StrCat("erased the personal data of ", matched.size(), " entries (by ",
                            criteria, ", reference ", Shorten(request.reference()), ")"));
  *r.mutable_erasure()->mutable_entries() = response.erased();
  r.mutable_erasure()->set_reference(request.reference());
  r.mutable_erasure()->set_criteria(criteria);
  const uint64_t erasure_index = Append(r, kSelfOrigin, 0, batch);
  response.set_erasure_index(erasure_index);
  for (asb::v1::AuditEntry& e : matched) {
    std::vector<std::pair<const char*, std::string>> before;
    ForEachIndexKey(e.record(), e.index(), [&before](const char* cf, const std::string& k) {
      before.emplace_back(cf, k);
    });
    asb::v1::AuditRecord* rec = e.mutable_record();
    if (by_subject) {
      auto* keys = rec->mutable_subject_keys();
      keys->erase(std::remove(keys->begin(), keys->end(), request.subject_key()), keys->end());
      if (keys->empty()) {
        rec->clear_case_id();  // the case no longer concerns anyone left in the entry
      }
    } else {
      rec->clear_case_id();
      rec->clear_subject_keys();
    }
    if ((!request.case_id().empty() && absl::StrContains(rec->detail(), request.case_id())) ||
        (by_subject && absl::StrContains(rec->detail(), request.subject_key()))) {
      rec->clear_detail();
    }
    std::vector<std::pair<const char*, std::string>> after;
    ForEachIndexKey(*rec, e.index(),
                    [&after](const char* cf, const std::string& k) { after.emplace_back(cf, k); });
    for (const auto& key : before) {
      if (std::find(after.begin(), after.end(), key) == after.end()) {
        batch->Delete(key.first, key.second);
      }
    }
    e.set_erased_by(erasure_index);
    batch->Put(kEntries, store::EncodeSeq(e.index()), e.SerializeAsString());
  }
  return response;
}

bool AuditLog::IsStoredWalk(const asb::v1::AuditQueryRequest& request) {
  return request.stored() && !HasFilter(request);
}

std::string AuditLog::DescribeQuery(const asb::v1::AuditQueryRequest& request) {
  std::vector<std::string> parts;
  if (!request.case_id().empty()) {
    parts.push_back(absl::StrCat("case_id=", Shorten(request.case_id())));
  }
  if (!request.agency().empty()) {
    parts.push_back(absl::StrCat("agency=", Shorten(request.agency())));
  }
  if (!request.actor().empty()) {
    parts.push_back(absl::StrCat("actor=", Shorten(request.actor())));
  }
  if (!request.subject_key().empty()) {
    parts.push_back("subject_key=(given)");
  }
  if (!request.purpose().empty()) {
    parts.push_back(absl::StrCat("purpose=", Shorten(request.purpose())));
  }
  if (request.kinds_size() > 0) {
    std::vector<std::string> kinds;
    for (int kind : request.kinds()) {
      std::string name = asb::v1::AuditKind_IsValid(kind)
                             ? asb::v1::AuditKind_Name(static_cast<asb::v1::AuditKind>(kind))
                             : absl::StrCat(kind);
      absl::string_view short_name(name);
      absl::ConsumePrefix(&short_name, "AUDIT_KIND_");
      kinds.emplace_back(short_name);
    }
    parts.push_back(absl::StrCat("kinds=", absl::StrJoin(kinds, ",")));
  }
  if (request.has_since()) {
    parts.push_back(
        absl::StrCat("since=", google::protobuf::util::TimeUtil::ToString(request.since())));
  }
  if (request.has_until()) {
    parts.push_back(
        absl::StrCat("until=", google::protobuf::util::TimeUtil::ToString(request.until())));
  }
  if (request.after_index() != 0) {
    parts.push_back(absl::StrCat("after_index=", request.after_index()));
  }
  if (request.limit() != 0) {
    parts.push_back(absl::StrCat("limit=", request.limit()));
  }
  if (parts.empty()) {
    return "audit query: all entries";
  }
  return absl::StrCat("audit query: ", absl::StrJoin(parts, " "));
}

}  // namespace asb::audit
