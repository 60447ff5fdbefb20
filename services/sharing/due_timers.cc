#include "services/sharing/due_timers.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/status/macros.h"

namespace asb::sharing {
namespace {

constexpr char kAtPrefix[] = "at/";
constexpr char kIdPrefix[] = "id/";

uint64_t Micros(absl::Time t) {
  return static_cast<uint64_t>(std::max<int64_t>(absl::ToUnixMicros(t), 0));
}

std::string KindPrefix(const char* space, std::string_view kind) {
  std::string key(space);
  key.append(kind);
  key.push_back('\0');
  return key;
}

std::string AtKey(std::string_view kind, uint64_t at, std::string_view id) {
  return KindPrefix(kAtPrefix, kind).append(store::EncodeSeq(at)).append(id);
}

std::string IdKey(std::string_view kind, std::string_view id) {
  return KindPrefix(kIdPrefix, kind).append(id);
}

}  // namespace

DueTimers::DueTimers(store::Store* store) : store_(store) {}

void DueTimers::Track(store::Batch* batch) {
  if (dirty_batch_ == batch) {
    return;
  }
  dirty_.clear();
  dirty_batch_ = batch;
  const uint64_t generation = ++generation_;
  auto reset = [this, generation] {
    if (generation_ == generation) {
      dirty_.clear();
      dirty_batch_ = nullptr;
      ++generation_;
    }
  };
  batch->OnCommit(reset);
  batch->OnAbort(reset);
}

absl::StatusOr<std::optional<uint64_t>> DueTimers::Current(const std::string& id_key,
                                                           store::Batch* batch) const {
  if (dirty_batch_ == batch) {
    if (auto it = dirty_.find(id_key); it != dirty_.end()) {
      if (it->second == UINT64_MAX) {
        return std::optional<uint64_t>();  // cancelled in this batch
      }
      return std::optional<uint64_t>(it->second);
    }
  }
  std::string value;
  absl::Status s = store_->Get(kTimersColumnFamily, id_key, &value);
  if (absl::IsNotFound(s)) {
    return std::optional<uint64_t>();
  }
  ASB_RETURN_IF_ERROR(s);
  if (value.size() != 8) {
    return absl::DataLossError("timers: malformed time of a timer");
  }
  return std::optional<uint64_t>(store::DecodeSeq(value));
}

absl::Status DueTimers::Set(std::string_view kind, std::string_view id, absl::Time at,
                            std::string_view payload, store::Batch* batch) {
  const std::string id_key = IdKey(kind, id);
  ASB_ASSIGN_OR_RETURN(std::optional<uint64_t> before, Current(id_key, batch));
  const uint64_t us = Micros(at);
  Track(batch);
  if (before.has_value() && *before != us) {
    batch->Delete(kTimersColumnFamily, AtKey(kind, *before, id));
  }
  batch->Put(kTimersColumnFamily, AtKey(kind, us, id), payload);
  batch->Put(kTimersColumnFamily, id_key, store::EncodeSeq(us));
  dirty_[id_key] = us;
  return absl::OkStatus();
}

absl::Status DueTimers::Cancel(std::string_view kind, std::string_view id, store::Batch* batch) {
  const std::string id_key = IdKey(kind, id);
  ASB_ASSIGN_OR_RETURN(std::optional<uint64_t> before, Current(id_key, batch));
  if (!before.has_value()) {
    return absl::OkStatus();
  }
  Track(batch);
  batch->Delete(kTimersColumnFamily, AtKey(kind, *before, id));
  batch->Delete(kTimersColumnFamily, id_key);
  dirty_[id_key] = UINT64_MAX;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DueTimers::Timer>> DueTimers::Due(std::string_view kind,
                                                             absl::Time cutoff,
                                                             std::size_t max) const {
  std::vector<Timer> out;
  const std::string prefix = KindPrefix(kAtPrefix, kind);
  if (absl::ToUnixMicros(cutoff) < 0) {
    return out;
  }
  const uint64_t limit = Micros(cutoff);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kTimersColumnFamily);
  for (it->Seek(prefix); it->Valid() && out.size() < max; it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (!key.starts_with(prefix) || key.size() < prefix.size() + 8) {
      break;
    }
    const uint64_t us = store::DecodeSeq(key.substr(prefix.size(), 8));
    if (us > limit) {
      break;
    }
    Timer t;
    t.kind = std::string(kind);
    t.id = std::string(key.substr(prefix.size() + 8));
    t.at = absl::FromUnixMicros(static_cast<int64_t>(us));
    t.payload = it->value().ToString();
    std::string when;
    absl::Status s = store_->Get(kTimersColumnFamily, IdKey(kind, t.id), &when);
    if (!s.ok() && !absl::IsNotFound(s)) {
      return s;
    }
    t.stale = !s.ok() || when.size() != 8 || store::DecodeSeq(when) != us;
    out.push_back(std::move(t));
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading timers"));
  return out;
}

absl::StatusOr<absl::Time> DueTimers::When(std::string_view kind, std::string_view id) const {
  std::string value;
  absl::Status s = store_->Get(kTimersColumnFamily, IdKey(kind, id), &value);
  if (absl::IsNotFound(s)) {
    return absl::NotFoundError(
        absl::StrCat("no ", std::string(kind), " timer for '", std::string(id), "'"));
  }
  ASB_RETURN_IF_ERROR(s);
  if (value.size() != 8) {
    return absl::DataLossError("timers: malformed time of a timer");
  }
  return absl::FromUnixMicros(static_cast<int64_t>(store::DecodeSeq(value)));
}

void DueTimers::Done(const Timer& timer, store::Batch* batch) {
  batch->Delete(kTimersColumnFamily, AtKey(timer.kind, Micros(timer.at), timer.id));
  if (!timer.stale) {
    batch->Delete(kTimersColumnFamily, IdKey(timer.kind, timer.id));
    if (dirty_batch_ == batch) {
      dirty_[IdKey(timer.kind, timer.id)] = UINT64_MAX;
    }
  }
}

}  // namespace asb::sharing
