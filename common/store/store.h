#pragma once

// The one wrapper around RocksDB. Each daemon owns one Store (its own directory) with named
// column families; every durable change goes through a Batch, written atomically with one
// fsync (unless unsafe_no_sync), so effects and consumer offsets commit together.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace asb::store {

// Maps a RocksDB status to absl (the one place that does): NotFound→kNotFound, Busy/TryAgain/
// TimedOut/IOError (incl. no space)/ShutdownInProgress/Incomplete→kUnavailable, Corruption→
// kDataLoss, InvalidArgument→kInvalidArgument, NotSupported→kUnimplemented, Aborted→kAborted,
// others→kInternal. `context` prefixes the message.
absl::Status FromRocks(const rocksdb::Status& status, std::string_view context = "");

// Big-endian fixed64 keys sort in numeric order.
std::string EncodeSeq(uint64_t seq);
// REQUIRES: key.size() >= 8. Reads the first 8 bytes.
uint64_t DecodeSeq(std::string_view key);

struct StoreOptions {
  // Directory; created if missing.
  std::string path;
  // fsync every Write (the default). false only for tests and benchmarks.
  bool sync = true;
  // Column families to open or create ("default" is always there).
  std::vector<std::string> column_families;
};

class Store;

// An atomic group of changes across column families. Not thread-safe. Callbacks registered with
// OnCommit run, in order, after the batch is durably written; OnAbort callbacks run if the write
// fails (so in-memory state such as a log head can roll back), and also if the batch is
// destroyed without being written (an abandoned batch rolls back like a failed one).
// Movable, not copyable.
class Batch {
 public:
  explicit Batch(Store* store) : store_(store) {}
  ~Batch();
  Batch(Batch&& other) noexcept;
  Batch& operator=(Batch&&) = delete;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  // REQUIRES: cf was configured at Open.
  void Put(std::string_view cf, std::string_view key, std::string_view value);
  void Delete(std::string_view cf, std::string_view key);
  // Deletes keys in [begin, end) of cf, atomically with the rest of the batch.
  void DeleteRange(std::string_view cf, std::string_view begin, std::string_view end);
  void OnCommit(std::function<void()> fn) { on_commit_.push_back(std::move(fn)); }
  void OnAbort(std::function<void()> fn) { on_abort_.push_back(std::move(fn)); }

  // Number of Put/Delete/DeleteRange operations.
  int count() const { return batch_.Count(); }
  bool empty() const { return batch_.Count() == 0 && on_commit_.empty(); }
  // Bytes in the batch.
  std::size_t byte_size() const { return batch_.GetDataSize(); }

 private:
  friend class Store;
  Store* store_;
  rocksdb::WriteBatch batch_;
  std::vector<std::function<void()>> on_commit_;
  std::vector<std::function<void()>> on_abort_;
};

// Thread-compatible: one daemon thread uses it.
class Store {
 public:
  // Opens (creating if needed) the database. kUnavailable if locked by another process,
  // kDataLoss on corruption, kInvalidArgument for a bad path.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();

  Batch NewBatch() { return Batch(this); }

  // Writes the batch atomically (fsync unless options.sync is false), then runs its OnCommit
  // callbacks; on failure runs its OnAbort callbacks and returns the error (kUnavailable for
  // a full disk or I/O error: retry later). The batch is left empty either way.
  absl::Status Write(Batch* batch);

  // kNotFound if absent.
  absl::Status Get(std::string_view cf, std::string_view key, std::string* value) const;

  // An iterator over one column family (consistent snapshot of that moment). Destroy it before
  // the Store.
  std::unique_ptr<rocksdb::Iterator> NewIterator(std::string_view cf) const;

  // Deletes keys in [begin, end) of cf (retention). Durable (fsync unless options.sync is
  // false). Subject to the write fault seam too.
  absl::Status DeleteRange(std::string_view cf, std::string_view begin, std::string_view end);

  // REQUIRES: cf was configured at Open (fatal otherwise).
  rocksdb::ColumnFamilyHandle* Handle(std::string_view cf) const;
  // True if cf is open (configured at Open, or found on disk).
  bool HasColumnFamily(std::string_view cf) const;
  const std::string& path() const { return options_.path; }

  // Test seam: when set, Write() calls it first and fails with its status if not OK (full disk,
  // I/O error) without writing anything.
  void SetWriteFaultForTest(std::function<absl::Status()> fault) { fault_ = std::move(fault); }

 private:
  Store() = default;
  StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::function<absl::Status()> fault_;
};

}  // namespace asb::store
