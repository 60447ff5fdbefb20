// AuditLog: loading, appending (with the Merkle tree's and the indexes' upkeep in the same
// batch), the tree's roots and proofs, and the stored tree heads. Queries are in
// audit_log_query.cc, retention and erasure in audit_log_retention.cc; the Store's keys in
// internal/log_store.h.
#include "services/audit/audit_log.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/auditlog/entry.h"
#include "common/log/log.h"
#include "common/model/model.h"
#include "common/status/macros.h"
#include "common/stream/consumer.h"
#include "services/audit/internal/log_store.h"

namespace asb::audit {

using ::asb::audit::internal::ForEachIndexKey;
using ::asb::audit::internal::kAuditStreamColumnFamily;
using ::asb::audit::internal::kByAgency;
using ::asb::audit::internal::kByCase;
using ::asb::audit::internal::kByOfficer;
using ::asb::audit::internal::kBySubject;
using ::asb::audit::internal::kDeletedThroughKey;
using ::asb::audit::internal::kEntries;
using ::asb::audit::internal::kExpiredThroughKey;
using ::asb::audit::internal::kLeafPrefix;
using ::asb::audit::internal::kMeta;
using ::asb::audit::internal::kSubjectIndexDoneKey;
using ::asb::audit::internal::kSupersededTreeHeadPrefix;
using ::asb::audit::internal::kTreeHeadPrefix;
using ::asb::audit::internal::LeafKey;
using ::asb::audit::internal::Logger;
using ::asb::audit::internal::MicrosOf;
using ::asb::audit::internal::NodeKey;
using ::asb::audit::internal::ReadSeq;
using ::asb::audit::internal::SeekToLastWithPrefix;
using ::asb::audit::internal::TimeBlockKey;
using ::asb::audit::internal::TreeHeadKey;

namespace {

// Tree heads returned per TreeHeads() call at most.
constexpr uint32_t kMaxTreeHeads = 10000;

}  // namespace

store::StoreOptions AuditStoreLayout() {
  store::StoreOptions options;
  options.column_families = {kEntries,
                             kByCase,
                             kByAgency,
                             kMeta,
                             stream::kOffsetsColumnFamily,
                             kAuditStreamColumnFamily,
                             kBySubject,
                             kByOfficer};
  options.appended_column_families = {kEntries, kMeta, kByAgency};
  options.memtable_bytes = {{kByCase, std::size_t{4} << 20}, {kBySubject, std::size_t{4} << 20}};
  options.plaintext_column_families = {kMeta, kByCase, kByAgency, kBySubject, kByOfficer};
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
  uint64_t last = it->Valid() && it->key().size() == 8
                      ? store::DecodeSeq(std::string_view(it->key().data(), 8))
                      : 0;
  if (absl::Status s = store::FromRocks(it->status(), "audit entries"); absl::IsDataLoss(s)) {
    // The newest entry does not decrypt (a bad byte): not damage to the tree, and never fatal.
    // Its key is found from the stored bytes: at `size`, or the last one stored before it, and
    // any after it.
    std::string raw;
    last = 0;
    for (uint64_t i = size; i > 0 && size - i < internal::kMaxProbe; --i) {
      if (store_->GetStored(kEntries, store::EncodeSeq(i), &raw).ok()) {
        last = i;
        break;
      }
    }
    while (store_->GetStored(kEntries, store::EncodeSeq(last + 1), &raw).ok()) {
      ++last;
    }
  } else if (!s.ok()) {
    return s;
  }
  it.reset();
  damage_.clear();
  if (last != size && !(last == 0 && deleted_through_ == size && size > 0)) {
    asb::v1::AuditDamage d;
    if (last > size) {
      d.set_first(size + 1);
      d.set_last(last);
      d.set_what(absl::StrCat("entries ", size + 1, "..", last,
                              " have no leaf hash: the newest hashes of the tree are missing"));
    } else {
      d.set_first(std::max(last, deleted_through_) + 1);
      d.set_last(size);
      d.set_what(absl::StrCat("entries ", d.first(), "..", size,
                              " are missing: their leaf hashes remain, the entries are gone"));
    }
    AddDamage(std::move(d));
  }
  size_ = size;
  pending_ = size;
  auto range = AuditRange::FromNodes(size, Reader());
  if (absl::IsNotFound(range.status()) || absl::IsDataLoss(range.status())) {
    // Never rebuilt here: a tree rebuilt over a gap would be signed as if whole.
    asb::v1::AuditDamage d;
    d.set_first(1);
    d.set_last(size);
    d.set_what(absl::StrCat("the Merkle tree's hashes of entries 1..", size, " are incomplete (",
                            range.status().message(), ")"));
    AddDamage(std::move(d));
    range = AuditRange();
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

void AuditLog::AddDamage(asb::v1::AuditDamage damage) {
  SPDLOG_LOGGER_CRITICAL(Logger(),
                         "THE ACCESS LOG IS DAMAGED: {}. It is served as it is and nothing is "
                         "appended or signed until an admin runs `asbctl audit repair` (recorded "
                         "in the log); `asbctl audit verify` reports it",
                         damage.what());
  damage_.push_back(std::move(damage));
  std::sort(damage_.begin(), damage_.end(),
            [](const auto& a, const auto& b) { return a.first() < b.first(); });
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
  // The serialisation of AuditEntry{index, record, origin, origin_seq, leaf_hash}, written
  // without copying the record into an entry (common/auditlog/entry.h).
  const EncodedEntry entry = EncodeEntry(index, *rec, origin, origin_seq);
  const std::string& leaf = entry.leaf_hash;

  // No "size" key: the last leaf key, written with every entry, is the size (see Load).
  batch->Put(kEntries, store::EncodeSeq(index), entry.bytes);
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
  // Batches commit in the order they were written, so entry `index` committing means every
  // entry before it has. The tree of exactly size_ entries is pending_range_ only when nothing
  // was appended after it; otherwise (a later batch already written: pipelined group commit)
  // committed_ is refreshed from the stored nodes when asked for (RangeAt).
  batch->OnCommit([this, index] {
    size_ = std::max(size_, index);
    if (index == pending_) {
      committed_ = pending_range_;
    }
  });
  // This entry and every later one are free again; earlier batches (written, maybe still
  // flushing) keep theirs.
  batch->OnAbort([this, index] { RollBackTo(index - 1); });
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
        envelope.audit().has_erasure() || envelope.audit().has_repair()) {
      asb::v1::AuditRecord record = envelope.audit();
      if (!record.has_at()) {
        *record.mutable_at() = envelope.produced_at();
      }
      // Only asb-audit itself records erasures and repairs (the verifier trusts only
      // "audit/self").
      record.clear_erasure();
      record.clear_repair();
      Append(record, origin, envelope.seq(), batch);
    } else {
      Append(envelope.audit(), origin, envelope.seq(), batch);
    }
    return absl::OkStatus();
  };
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

void AuditLog::RollBackTo(uint64_t n) {
  if (n >= pending_) {
    return;  // an earlier entry of the same batch rolled back already
  }
  pending_ = n;
  auto range = RangeAt(n);
  if (range.ok()) {
    pending_range_ = *std::move(range);
  } else {
    // The tree's own hashes cannot be read back: appends must not build on a wrong edge.
    SPDLOG_LOGGER_CRITICAL(Logger(),
                           "audit tree: the right edge of {} entries is unreadable "
                           "({}); nothing more is appended until a restart",
                           n, range.status().ToString());
    broken_ = range.status();
  }
  if (absl::Status s = LoadTimeBlock(); !s.ok()) {
    // Only makes the current block's summary wider or narrower than the truth at worst;
    // queries then scan that block. Logged, never fatal.
    SPDLOG_LOGGER_WARN(Logger(), "audit time block not reloaded: {}", s.ToString());
  }
}

absl::StatusOr<AuditRange> AuditLog::RangeAt(uint64_t n) const {
  if (committed_.size() == n) {
    return committed_;
  }
  if (pending_range_.size() == n) {
    return pending_range_;
  }
  return AuditRange::FromNodes(n, Reader());
}

std::string AuditLog::Root() const {
  auto root = RootAt(size_);
  return root.ok() ? *std::move(root) : std::string();
}

absl::StatusOr<std::string> AuditLog::RootAt(uint64_t tree_size) const {
  if (tree_size > size_) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", tree_size, " is beyond the log's ", size_, " entries"));
  }
  if (tree_size == size_) {
    if (committed_.size() != size_) {
      ASB_ASSIGN_OR_RETURN(committed_, RangeAt(size_));
    }
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

absl::StatusOr<bool> AuditLog::TreeMatchesLeavesAfter(uint64_t m) const {
  if (m >= size_) {
    return true;
  }
  ASB_ASSIGN_OR_RETURN(AuditRange range, AuditRange::FromNodes(m, Reader()));
  auto it = store_->NewIterator(kMeta);
  uint64_t next = m + 1;
  for (it->Seek(rocksdb::Slice(LeafKey(next)));
       next <= size_ && it->Valid() && it->key() == rocksdb::Slice(LeafKey(next)); it->Next()) {
    if (it->value().size() != crypto::merkle::kHashSize) {
      return false;
    }
    range.Append(it->value().ToString());
    ++next;
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit leaf hashes");
  }
  if (next <= size_) {
    return false;  // a leaf hash is missing
  }
  ASB_ASSIGN_OR_RETURN(std::string root, RootAt(size_));
  return range.Root() == root;
}

absl::StatusOr<std::vector<uint64_t>> AuditLog::TreeHeadSizes() const {
  std::vector<uint64_t> sizes;
  auto it = store_->NewIterator(kMeta);
  for (it->Seek(rocksdb::Slice(kTreeHeadPrefix));
       it->Valid() && it->key().starts_with(kTreeHeadPrefix); it->Next()) {
    if (it->key().size() == sizeof(kTreeHeadPrefix) - 1 + 8) {
      sizes.push_back(
          store::DecodeSeq(std::string_view(it->key().data() + sizeof(kTreeHeadPrefix) - 1, 8)));
    }
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit tree heads");
  }
  return sizes;
}

void AuditLog::SupersedeTreeHead(const asb::v1::SignedTreeHead& sth, store::Batch* batch) {
  batch->Put(kMeta, absl::StrCat(kSupersededTreeHeadPrefix, store::EncodeSeq(sth.tree_size())),
             sth.SerializeAsString());
  batch->Delete(kMeta, TreeHeadKey(sth.tree_size()));
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
  asb::v1::AuditEntry entry;
  // A damaged entry (verify names it) must not stop the log: the block then spans all time.
  auto widen = [this](uint64_t index) {
    SPDLOG_LOGGER_WARN(Logger(), "audit entry {} cannot be read: its time block is not summarised",
                       index);
    block_min_ = 0;
    block_max_ = std::numeric_limits<uint64_t>::max();
  };
  ASB_RETURN_IF_ERROR(internal::WalkEntries(
      *store_, from,
      [&](uint64_t index, std::string_view bytes) {
        if (index > pending_) {
          return false;
        }
        if (!entry.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
          widen(index);
          return false;
        }
        block_min_ = std::min(block_min_, MicrosOf(entry.record().at()));
        block_max_ = std::max(block_max_, MicrosOf(entry.record().at()));
        return true;
      },
      widen));
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
  asb::v1::AuditEntry entry;
  absl::Status written;
  auto skip = [](uint64_t index) {
    SPDLOG_LOGGER_WARN(Logger(), "audit entry {} cannot be read: not indexed by subject", index);
  };
  ASB_RETURN_IF_ERROR(internal::WalkEntries(
      *store_, 1,
      [&](uint64_t index, std::string_view bytes) {
        if (!entry.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
          skip(index);
          return true;
        }
        ForEachIndexKey(entry.record(), entry.index(),
                        [&batch](const char* cf, const std::string& k) {
                          if (std::string_view(cf) == kBySubject) {
                            batch.Put(cf, k, "");
                          }
                        });
        if (batch.count() >= 10000) {
          written = store_->Write(&batch);
        }
        return written.ok();
      },
      skip));
  ASB_RETURN_IF_ERROR(written);
  batch.Put(kMeta, kSubjectIndexDoneKey, "");
  return store_->Write(&batch);
}

}  // namespace asb::audit
