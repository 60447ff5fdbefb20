#include "common/clock/timer_store.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/macros.h"

namespace asb::clock {
namespace {

int64_t ToMillis(absl::Time t) { return absl::ToUnixMillis(t); }

}  // namespace

TimerStore::TimerStore(store::Store* store, std::string due_cf, std::string index_cf)
    : store_(store), due_cf_(std::move(due_cf)), index_cf_(std::move(index_cf)) {}

std::string TimerStore::DueKey(absl::Time due, std::string_view name) {
  // Timers before 1970 sort first (as 0): every one of them is long overdue anyway.
  const int64_t ms = ToMillis(due);
  std::string key = store::EncodeSeq(ms < 0 ? 0 : static_cast<uint64_t>(ms));
  key.append(name);
  return key;
}

std::string TimerStore::SubjectOfName(std::string_view name) {
  const std::size_t nul = name.find('\0');
  return nul == std::string_view::npos ? std::string() : std::string(name.substr(0, nul));
}

std::string TimerStore::SubjectOfDueKey(std::string_view key) {
  return key.size() <= 8 ? std::string() : SubjectOfName(key.substr(8));
}

absl::StatusOr<std::optional<absl::Time>> TimerStore::DueOf(const std::string& name) const {
  if (const std::optional<int64_t>* staged = staged_.Find(name); staged != nullptr) {
    if (!staged->has_value()) {
      return std::optional<absl::Time>();
    }
    return std::optional<absl::Time>(absl::FromUnixMillis(**staged));
  }
  std::string value;
  absl::Status got = store_->Get(index_cf_, name, &value);
  if (absl::IsNotFound(got)) {
    return std::optional<absl::Time>();
  }
  ASB_RETURN_IF_ERROR(got);
  if (value.size() != 8) {
    return absl::DataLossError(absl::StrCat("timer index entry of '", name, "' is corrupt"));
  }
  return std::optional<absl::Time>(
      absl::FromUnixMillis(static_cast<int64_t>(store::DecodeSeq(value))));
}

void TimerStore::Replace(const std::string& name, std::optional<absl::Time> current_due,
                         absl::Time due, std::string_view payload, store::Batch* batch) {
  if (current_due.has_value()) {
    batch->Delete(due_cf_, DueKey(*current_due, name));
  }
  const int64_t ms = std::max<int64_t>(0, ToMillis(due));
  floor_ms_ = std::min(floor_ms_, ms);
  batch->Put(due_cf_, DueKey(due, name), payload);
  batch->Put(index_cf_, name, store::EncodeSeq(static_cast<uint64_t>(ms)));
  staged_.Set(batch, name, ms);
}

absl::Status TimerStore::Schedule(const std::string& name, absl::Time due, std::string_view payload,
                                  store::Batch* batch) {
  ASB_ASSIGN_OR_RETURN(std::optional<absl::Time> current, DueOf(name));
  Replace(name, current, due, payload, batch);
  return absl::OkStatus();
}

void TimerStore::Remove(const std::string& name, absl::Time due, store::Batch* batch) {
  batch->Delete(due_cf_, DueKey(due, name));
  batch->Delete(index_cf_, name);
  staged_.Set(batch, name, std::nullopt);
}

absl::Status TimerStore::Cancel(const std::string& name, store::Batch* batch) {
  ASB_ASSIGN_OR_RETURN(std::optional<absl::Time> current, DueOf(name));
  if (current.has_value()) {
    Remove(name, *current, batch);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Timer>> TimerStore::Due(absl::Time now, std::size_t max) const {
  std::vector<Timer> out;
  const int64_t now_ms = ToMillis(now);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(due_cf_);
  bool first = true;
  for (it->Seek(store::EncodeSeq(static_cast<uint64_t>(floor_ms_)));
       it->Valid() && out.size() < max; it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.size() < 8) {
      continue;  // not one of ours
    }
    const int64_t ms = static_cast<int64_t>(store::DecodeSeq(key.ToStringView()));
    if (first) {
      floor_ms_ = std::max(floor_ms_, ms);  // the earliest committed timer
      first = false;
    }
    if (ms > now_ms) {
      break;
    }
    out.push_back(Timer{std::string(key.ToStringView().substr(8)), absl::FromUnixMillis(ms),
                        it->value().ToString()});
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading due timers"));
  return out;
}

absl::StatusOr<std::optional<absl::Time>> TimerStore::Next() const {
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(due_cf_);
  for (it->Seek(store::EncodeSeq(static_cast<uint64_t>(floor_ms_))); it->Valid(); it->Next()) {
    if (it->key().size() >= 8) {
      const int64_t ms = static_cast<int64_t>(store::DecodeSeq(it->key().ToStringView()));
      floor_ms_ = std::max(floor_ms_, ms);
      return std::optional<absl::Time>(absl::FromUnixMillis(ms));
    }
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading the next timer"));
  return std::optional<absl::Time>();
}

absl::StatusOr<std::vector<Timer>> TimerStore::List(std::size_t max) const {
  return Due(absl::InfiniteFuture(), max);
}

}  // namespace asb::clock
