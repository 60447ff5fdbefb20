// AuditLog's retention (Expire: whole segments up to an anchoring signed tree head) and
// erasure (Erase: a person's or a case's identifiers out of the entries, leaf hashes kept).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/auditlog/entry.h"
#include "common/log/log.h"
#include "common/status/macros.h"
#include "services/audit/audit_log.h"
#include "services/audit/internal/log_store.h"

namespace asb::audit {

using ::asb::audit::internal::ForEachIndexKey;
using ::asb::audit::internal::IndexPrefix;
using ::asb::audit::internal::kByCase;
using ::asb::audit::internal::kBySubject;
using ::asb::audit::internal::kDeletedThroughKey;
using ::asb::audit::internal::kEntries;
using ::asb::audit::internal::kExpiredThroughKey;
using ::asb::audit::internal::kMeta;
using ::asb::audit::internal::kTreeHeadPrefix;
using ::asb::audit::internal::Logger;
using ::asb::audit::internal::Shorten;
using ::asb::audit::internal::TreeHeadKey;

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
    // An entry that cannot be read goes too; only its index keys (which it names) stay behind,
    // below expired_through, where no query looks.
    auto unreadable = [](uint64_t index) {
      SPDLOG_LOGGER_WARN(Logger(), "expiring audit entry {}: it cannot be read", index);
    };
    ASB_RETURN_IF_ERROR(internal::WalkEntries(
        *store_, from,
        [&](uint64_t index, std::string_view bytes) {
          if (index > to) {
            return false;
          }
          if (!entry.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
            unreadable(index);
            return true;
          }
          ForEachIndexKey(entry.record(), entry.index(),
                          [&batch](const char* cf, const std::string& k) { batch.Delete(cf, k); });
          return true;
        },
        unreadable));
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
  const std::string prefix = IndexPrefix(value);
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
      absl::StatusOr<asb::v1::AuditEntry> got = Get(index);
      if (absl::IsDataLoss(got.status()) || absl::IsNotFound(got.status())) {
        // Nothing readable to erase in it (verify names it as damaged).
        SPDLOG_LOGGER_WARN(Logger(), "erasure: audit entry {} cannot be read; skipped", index);
        continue;
      }
      ASB_ASSIGN_OR_RETURN(asb::v1::AuditEntry entry, std::move(got));
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
    // The officer's reason is free text and may name the person: it goes with them.
    if (rec->has_on_behalf_of()) {
      rec->mutable_on_behalf_of()->clear_reason();
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

}  // namespace asb::audit
