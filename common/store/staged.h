#pragma once

// What a batch in progress has changed, for readers that must see their own unwritten changes
// (several events of one case applied within one group commit). A Staged<V> remembers the values
// put (or deleted) for keys while one Batch is being built; it forgets them when that batch
// commits or aborts (its OnCommit/OnAbort callbacks), or when it is given another batch (the
// previous one was abandoned). The store itself is unchanged until the batch is written: the
// caller also adds the real Put/Delete to the batch.
//
// Thread-compatible (the daemon's loop thread only). A Staged must outlive every batch it was
// given: their callbacks refer to it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "common/store/store.h"

namespace asb::store {

template <class V>
class Staged {
 public:
  Staged() = default;
  Staged(const Staged&) = delete;
  Staged& operator=(const Staged&) = delete;

  // The change staged for `key` in the current batch: nullptr if none; otherwise a pointer to
  // nullopt (deleted) or to the value put.
  const std::optional<V>* Find(const std::string& key) const {
    auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
  }

  // Stages `value` (nullopt: deleted) for `key` in `batch`.
  void Set(Batch* batch, const std::string& key, std::optional<V> value) {
    Track(batch);
    values_[key] = std::move(value);
  }

  // Every staged change, by key.
  const std::map<std::string, std::optional<V>>& values() const { return values_; }

  // Forgets every staged change (the caller abandoned its batch without writing it).
  void Clear() {
    values_.clear();
    batch_ = nullptr;
    ++generation_;
  }

 private:
  void Track(Batch* batch) {
    if (batch_ == batch) {
      return;
    }
    Clear();
    batch_ = batch;
    const uint64_t generation = generation_;
    auto reset = [this, generation] {
      if (generation_ == generation) {
        Clear();
      }
    };
    batch->OnCommit(reset);
    batch->OnAbort(reset);
  }

  std::map<std::string, std::optional<V>> values_;
  Batch* batch_ = nullptr;
  uint64_t generation_ = 0;
};

}  // namespace asb::store
