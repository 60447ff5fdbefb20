#pragma once

// For tests of encryption at rest and erasure: the keys a stopped daemon's store holds (what
// encryption at rest leaves in plaintext), read with RocksDB directly. Link RocksDB::rocksdb.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "rocksdb/db.h"

namespace asb::testing {

// Every key of column family `cf` of the stopped daemon's store at `db` (read directly: the
// keys are what encryption at rest leaves in plaintext).
inline std::vector<std::string> KeysOf(const std::string& db, const std::string& cf) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), db, &names).ok()) << db;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& name : names) {
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), db, cfs, &handles, &raw);
  EXPECT_TRUE(s.ok()) << db << ": " << s.ToString();
  std::vector<std::string> keys;
  if (!s.ok()) {
    return keys;
  }
  std::unique_ptr<rocksdb::DB> rdb(raw);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == cf) {
      std::unique_ptr<rocksdb::Iterator> it(rdb->NewIterator(rocksdb::ReadOptions(), handles[i]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        keys.push_back(it->key().ToString());
      }
      EXPECT_TRUE(it->status().ok());
    }
  }
  for (auto* h : handles) {
    EXPECT_TRUE(rdb->DestroyColumnFamilyHandle(h).ok());
  }
  return keys;
}

// The keys among `keys` that contain any of `needles`.
inline std::vector<std::string> Containing(const std::vector<std::string>& keys,
                                           const std::vector<std::string>& needles) {
  std::vector<std::string> out;
  for (const std::string& k : keys) {
    for (const std::string& n : needles) {
      if (k.find(n) != std::string::npos) {
        out.push_back(absl::StrReplaceAll(k, {{std::string(1, '\0'), "\\0"}}));
        break;
      }
    }
  }
  return out;
}

}  // namespace asb::testing
