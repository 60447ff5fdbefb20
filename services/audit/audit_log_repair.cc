// AuditLog's repair (an admin's explicit answer to damage Load found): which leaf hashes can be
// recomputed from stored entries, and the tree's nodes written anew. Only ever run on request
// (AuditRepairRequest); the caller records the REPAIR entry and sets aside tree heads the new
// tree does not match (services/audit/tree_heads.h).
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/auditlog/entry.h"
#include "common/log/log.h"
#include "common/status/macros.h"
#include "services/audit/audit_log.h"
#include "services/audit/internal/log_store.h"

namespace asb::audit {

using ::asb::audit::internal::kEntries;
using ::asb::audit::internal::kLeafPrefix;
using ::asb::audit::internal::kMeta;
using ::asb::audit::internal::LeafKey;
using ::asb::audit::internal::Logger;
using ::asb::audit::internal::NodeKey;
using ::asb::audit::internal::SeekToLastWithPrefix;

namespace {

// The index of the last key of `cf` under `prefix` (keys prefix + EncodeSeq(index)), 0 if
// none.
absl::StatusOr<uint64_t> LastIndex(const store::Store& store, const char* cf,
                                   std::string_view prefix) {
  auto it = store.NewIterator(cf);
  SeekToLastWithPrefix(it.get(), prefix);
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), cf);
  }
  if (!it->Valid() || !it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size())) ||
      it->key().size() != prefix.size() + 8) {
    return 0;
  }
  return store::DecodeSeq(std::string_view(it->key().data() + prefix.size(), 8));
}

}  // namespace

absl::StatusOr<AuditLog::RepairPlan> AuditLog::PlanRepair() const {
  RepairPlan plan;
  plan.damage = damage_;
  ASB_ASSIGN_OR_RETURN(const uint64_t last_leaf, LastIndex(*store_, kMeta, kLeafPrefix));
  // Entries after the last leaf hash (their hashes lost): probed one by one (stored bytes,
  // so an entry that does not decrypt still counts).
  uint64_t last_entry = last_leaf;
  for (std::string raw; store_->GetStored(kEntries, store::EncodeSeq(last_entry + 1), &raw).ok();) {
    ++last_entry;
  }
  plan.tree_size = std::max(last_leaf, last_entry);
  // Every leaf 1..tree_size must be there, or be recomputable from its entry.
  auto it = store_->NewIterator(kMeta);
  uint64_t expect = 1;
  auto recompute = [&](uint64_t from, uint64_t to) -> absl::Status {
    for (uint64_t i = from; i <= to; ++i) {
      std::string raw;
      const absl::Status got = store_->GetStored(kEntries, store::EncodeSeq(i), &raw);
      if (!got.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "entry ", i, " and its leaf hash are both gone: the tree cannot be rebuilt over ",
            "the gap (the log stays read-only; restore the store from a backup)"));
      }
      if (plan.recompute_first == 0) {
        plan.recompute_first = i;
      }
      plan.recompute_last = i;
    }
    return absl::OkStatus();
  };
  for (it->Seek(rocksdb::Slice(LeafKey(1))); it->Valid() && it->key().starts_with(kLeafPrefix);
       it->Next()) {
    if (it->key().size() != sizeof(kLeafPrefix) - 1 + 8) {
      continue;
    }
    const uint64_t i =
        store::DecodeSeq(std::string_view(it->key().data() + sizeof(kLeafPrefix) - 1, 8));
    if (i > expect) {
      ASB_RETURN_IF_ERROR(recompute(expect, i - 1));
    }
    expect = i + 1;
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit leaf hashes");
  }
  if (expect <= plan.tree_size) {
    ASB_RETURN_IF_ERROR(recompute(expect, plan.tree_size));
  }
  return plan;
}

absl::Status AuditLog::Repair(const RepairPlan& plan) {
  if (plan.recompute_first != 0) {
    store::Batch batch = store_->NewBatch();
    for (uint64_t i = plan.recompute_first; i <= plan.recompute_last; ++i) {
      std::string leaf;
      if (store_->Get(kMeta, LeafKey(i), &leaf).ok()) {
        continue;  // between missing ones
      }
      std::string value;
      ASB_RETURN_IF_ERROR(store_->Get(kEntries, store::EncodeSeq(i), &value));
      asb::v1::AuditEntry entry;
      if (!entry.ParseFromString(value) || entry.index() != i) {
        return absl::FailedPreconditionError(
            absl::StrCat("entry ", i,
                         " has no leaf hash and its stored bytes do not parse: "
                         "the tree cannot be rebuilt over it"));
      }
      // What the entry says its leaf hash is (an erased entry's contents no longer hash to it);
      // a verifier still checks the contents against it.
      batch.Put(kMeta, LeafKey(i),
                entry.leaf_hash().size() == crypto::merkle::kHashSize ? entry.leaf_hash()
                                                                      : LeafHash(entry));
      if (batch.count() >= 10000) {
        ASB_RETURN_IF_ERROR(store_->Write(&batch));
      }
    }
    ASB_RETURN_IF_ERROR(store_->Write(&batch));
  }
  ASB_RETURN_IF_ERROR(RebuildTree(plan.tree_size));
  ASB_ASSIGN_OR_RETURN(AuditRange range, AuditRange::FromNodes(plan.tree_size, Reader()));
  size_ = plan.tree_size;
  pending_ = plan.tree_size;
  committed_ = range;
  pending_range_ = std::move(range);
  damage_.clear();
  broken_ = absl::OkStatus();
  ASB_RETURN_IF_ERROR(LoadTimeBlock());
  SPDLOG_LOGGER_WARN(Logger(), "audit log repaired: the tree of {} entries was rebuilt",
                     plan.tree_size);
  return absl::OkStatus();
}

absl::Status AuditLog::RebuildTree(uint64_t size) {
  SPDLOG_LOGGER_WARN(Logger(), "audit log repair: writing the Merkle tree's nodes for {} entries",
                     size);
  AuditRange range;
  store::Batch batch = store_->NewBatch();
  auto it = store_->NewIterator(kMeta);
  uint64_t expect = 1;
  for (it->Seek(rocksdb::Slice(LeafKey(1)));
       it->Valid() && expect <= size && it->key().starts_with(kLeafPrefix); it->Next()) {
    if (it->key() != rocksdb::Slice(LeafKey(expect)) ||
        it->value().size() != crypto::merkle::kHashSize) {
      return absl::FailedPreconditionError(
          absl::StrCat("audit tree: leaf hash ", expect, " is missing or malformed"));
    }
    range.Append(it->value().ToString(), [&batch](int level, uint64_t node, const std::string& h) {
      batch.Put(kMeta, NodeKey(level, node), h);
    });
    ++expect;
    if (batch.count() >= 10000) {
      ASB_RETURN_IF_ERROR(store_->Write(&batch));
    }
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit leaf hashes");
  }
  if (expect <= size) {
    return absl::FailedPreconditionError(
        absl::StrCat("audit tree: leaf hash ", expect, " is missing"));
  }
  return store_->Write(&batch);
}

}  // namespace asb::audit
