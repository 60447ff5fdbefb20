#pragma once

// Internal to the store library: the decrypting iterator behind Store::NewIterator.

#include <memory>
#include <string>

#include "common/store/store.h"
#include "rocksdb/iterator.h"

namespace asb::store {

// Wraps `raw` (an iterator over encrypted column family `cf` of `store`): value() is the
// plaintext. A value that does not decrypt makes the iterator invalid with a Corruption status
// naming cf and key; an erased subject's value is skipped or replaced by the store's
// erased_placeholder.
std::unique_ptr<rocksdb::Iterator> NewDecryptingIterator(const Store* store, std::string cf,
                                                         std::unique_ptr<rocksdb::Iterator> raw);

}  // namespace asb::store
