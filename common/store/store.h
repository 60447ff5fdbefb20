#pragma once

// The one wrapper around RocksDB. Each daemon owns one Store (its own directory) with named
// column families; every durable change goes through a Batch, written atomically with one
// fsync (unless unsafe_no_sync), so effects and consumer offsets commit together.
//
// Encryption at rest (StoreOptions.key_ring): every value of every column family except the
// plaintext ones is stored AES-256-GCM encrypted, transparently to Get, iterators and Batch.
// A stored value is
//   0xA5 | kind | key id | nonce (12) | ciphertext | tag (16)
// kind 1: key id = the 4-byte (big-endian) id of the master key in the ring that encrypted it;
// kind 2: key id = the 16-byte id of the data key of the value's subject (see below).
// The associated data binds the column family, the RocksDB key and the header, so a value
// copied to another key or family does not decrypt (kDataLoss naming the family and key).
//
// Subjects: StoreOptions.subject_of names the subject of a value (in asbhub: its case id). Each
// subject gets its own random data key, stored wrapped (encrypted) by the newest master key in
// the column family kSubjectKeysColumnFamily; EraseSubject destroys it, after which the
// subject's values read as erased (IsErased): Get returns that status, iterators skip such
// values or, where StoreOptions.erased_placeholder gives one, yield the placeholder instead.

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto/aead.h"
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
  // Column families written in key order within a prefix: keys are <prefix><EncodeSeq(n)> with
  // n rising per prefix (a stream log, an index by value then sequence). Their inserts start
  // from the previous insert's position for the same prefix (RocksDB's
  // memtable_insert_with_hint_prefix_extractor, prefix = the key without its last 8 bytes)
  // instead of searching the memtable's skiplist from the top — about twice as many keys per
  // second for an append-only log. For few distinct prefixes only: each costs a hash-map entry
  // (~250 bytes of memtable memory) that every insert looks up, so an index over many values
  // (case ids) is faster without.
  std::vector<std::string> appended_column_families;
  // Memtable size of these column families, instead of the default 16 MiB. Small keys written
  // at random places (an index by case id) insert faster into a smaller memtable, whose skiplist
  // stays in cache (asb-audit's indexes: 4 MiB, +8% appends measured); each flush is smaller.
  std::map<std::string, std::size_t> memtable_bytes;

  // Encryption at rest; nullptr stores values in plaintext. New values use the newest key.
  std::shared_ptr<const crypto::KeyRing> key_ring;
  // Column families whose values stay plaintext (they hold no personal data: offsets, hashes,
  // counters). kSubjectKeysColumnFamily holds wrapped keys and is never encrypted again.
  std::vector<std::string> plaintext_column_families;
  // The subject of a value about to be written to an encrypted column family, or "" for none
  // (then the master key encrypts it directly). Called from Batch::Put.
  std::function<std::string(std::string_view cf, std::string_view key, std::string_view value)>
      subject_of;
  // Called with the seconds each durable write took (a synchronous Write with its fsync, or a
  // deferred batch's WAL flush), for the daemon's fsync latency histogram. Called on the flush
  // thread too: it must be thread-safe. Unset: not measured.
  std::function<void(double seconds)> on_sync;
  // What an iterator yields for a value whose subject was erased, or nullopt to skip it.
  // Unset: skip. (A log whose keys must stay dense returns a placeholder record.)
  std::function<std::optional<std::string>(std::string_view cf, std::string_view key)>
      erased_placeholder;
};

// Column family of the wrapped per-subject data keys (created when a key ring is set).
inline constexpr char kSubjectKeysColumnFamily[] = "subject_keys";

// True for the status of a read whose subject key was destroyed by EraseSubject. Its code is
// kNotFound (the value is gone for good), so readers that treat "absent" as absent carry on.
bool IsErased(const absl::Status& status);

class Store;

namespace internal {
// A subject's data key: its random 16-byte id and the 32-byte AES key.
struct DataKey {
  std::string id;
  std::string key;
};
// Overwrites the key bytes and clears the map.
void ForgetDataKeys(absl::flat_hash_map<std::string, DataKey>* keys);
}  // namespace internal

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
  // Deletes keys in [begin, end) of cf, atomically with the rest of the batch. In an appended
  // column family (StoreOptions.appended_column_families) it deletes, one by one, the keys the
  // store holds in the range now (not those put earlier in this batch): RocksDB 7.8 shares a
  // memtable's insert hints between keys and range tombstones, so a range tombstone there
  // would corrupt the memtable (fixed upstream in later releases).
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
  // The first encryption failure in Put; Store::Write fails with it.
  absl::Status error_;
  // Subject data keys created by this batch, by subject hash (cached by the store on commit).
  absl::flat_hash_map<std::string, internal::DataKey> new_keys_;
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

  // Group commit with the disk flush overlapped (a store opened with sync; otherwise this is
  // Write): writes the batch atomically and returns before it is on disk — readers of the store
  // see it at once, so callers must not publish it before its OnCommit callbacks run. Its flush
  // (fsync of the WAL) runs on another thread while the caller goes on, e.g. with the next
  // batch; its callbacks run later, in order, on the caller's thread: from the next
  // WriteDeferred (after that batch is written, so one batch's flush overlaps the next one's
  // write), or Write, or Settle. On an error writing it, returns it and runs its OnAbort
  // callbacks (after any earlier batch's). A failed flush fails the store for good: that
  // batch's and every later batch's OnAbort callbacks run, and every later write returns the
  // error (restart the daemon: what is on disk is consistent, and the batches are re-fetched).
  absl::Status WriteDeferred(Batch* batch);
  // Waits until the deferred batch (if any) is on disk and runs its callbacks. Returns the
  // flush's error if it failed (or failed before). Write calls it first, so a synchronous
  // write's callbacks never overtake a deferred one's — and so a deferred batch's callbacks may
  // run inside any caller's Write: they must only update their owner's state (no writes, no
  // calls back into code that may be mid-way); post anything more to the loop.
  absl::Status Settle();

  // kNotFound if absent.
  absl::Status Get(std::string_view cf, std::string_view key, std::string* value) const;

  // An iterator over one column family (consistent snapshot of that moment). Destroy it before
  // the Store.
  std::unique_ptr<rocksdb::Iterator> NewIterator(std::string_view cf) const;
  // The same for reading a long run of keys in order once (verifying a whole log): blocks are
  // read ahead in 2 MiB and not kept in the block cache (they would evict the hot ones).
  std::unique_ptr<rocksdb::Iterator> NewScanIterator(std::string_view cf) const;

  // Deletes keys in [begin, end) of cf (retention) as one batch (see Batch::DeleteRange).
  // Durable (fsync unless options.sync is false). Subject to the write fault seam too.
  absl::Status DeleteRange(std::string_view cf, std::string_view begin, std::string_view end);

  // Destroys every data key of `subject` (durably), then flushes and compacts so no file of the
  // store still holds them. Its values can no longer be decrypted by anyone, with any master
  // key. Returns how many keys were destroyed (0: nothing of it was ever stored encrypted).
  // kFailedPrecondition without a key ring.
  absl::StatusOr<int> EraseSubject(std::string_view subject);
  // The same for several subjects at once, with one durable write, one flush and one
  // compaction for them all (a retention run shreds many cases). Returns the keys destroyed for
  // each subject, in order.
  absl::StatusOr<std::vector<int>> EraseSubjects(const std::vector<std::string>& subjects);

  // Swaps in a reloaded key ring (SIGHUP after `asbctl keys rotate`): new values use its newest
  // key. kFailedPrecondition (and the old ring stays) if it lacks a key id of the current ring,
  // which values may still need, or if the store was opened without encryption.
  absl::Status SetKeyRing(std::shared_ptr<const crypto::KeyRing> ring);
  // Re-encrypts every value encrypted directly under an older master key with the newest, and
  // re-wraps every subject data key under the newest, so older key files can be retired.
  // Returns how many values and keys were rewritten.
  absl::StatusOr<uint64_t> ReencryptToNewestKey();
  bool encrypted() const { return ring() != nullptr; }

  // REQUIRES: cf was configured at Open (fatal otherwise).
  rocksdb::ColumnFamilyHandle* Handle(std::string_view cf) const;
  // True if cf is open (configured at Open, or found on disk).
  bool HasColumnFamily(std::string_view cf) const;
  const std::string& path() const { return options_.path; }

  // Test seam: when set, Write() and WriteDeferred() call it first and fail with its status if not
  // OK (full disk, I/O error) without writing anything.
  void SetWriteFaultForTest(std::function<absl::Status()> fault) { fault_ = std::move(fault); }
  // Test seam: when set, a deferred batch's flush calls it (on the flush thread) and fails with
  // its status if not OK. Set it only while no flush runs (after Settle).
  void SetFlushFaultForTest(std::function<absl::Status()> fault) {
    flush_fault_ = std::move(fault);
  }

  // The stored bytes as on disk (encrypted in an encrypted column family: Get decrypts them).
  // kNotFound if absent.
  absl::Status GetStored(std::string_view cf, std::string_view key, std::string* raw) const;

 private:
  friend class Batch;
  friend class DecryptingIterator;
  friend std::unique_ptr<rocksdb::Iterator> NewDecryptingIterator(
      const Store* store, std::string cf, std::unique_ptr<rocksdb::Iterator> raw);
  Store() = default;
  int IndexOf(std::string_view cf) const;
  std::unique_ptr<rocksdb::Iterator> NewIteratorWith(std::string_view cf,
                                                     const rocksdb::ReadOptions& options) const;
  std::shared_ptr<const crypto::KeyRing> ring() const;
  // Encrypts `value` for cf/key into *out (with the subject's data key, created in `batch` if
  // new).
  absl::Status Encrypt(Batch* batch, std::string_view cf, std::string_view key,
                       std::string_view value, std::string* out);
  // Decrypts a stored value of an encrypted cf. IsErased for an erased subject; kDataLoss
  // otherwise when it cannot be read.
  absl::Status Decrypt(std::string_view cf, std::string_view key, std::string_view stored,
                       std::string* out) const;
  // The live data key with this id (from the cache or the subject_keys family).
  absl::StatusOr<std::string> DataKey(std::string_view id) const;
  // The live data key of the subject with this hash, or nullopt if it has none.
  absl::StatusOr<std::optional<internal::DataKey>> SubjectDataKey(std::string_view hash) const;

  StoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::string> names_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<bool> encrypted_;  // parallel to names_
  std::vector<bool> appended_;   // parallel to names_
  std::function<absl::Status()> fault_;
  std::function<absl::Status()> flush_fault_;

  // The batch written by WriteDeferred whose flush may still run, and its callbacks.
  struct Deferred {
    std::future<absl::Status> flushed;
    std::vector<std::function<void()>> on_commit;
    std::vector<std::function<void()>> on_abort;
  };
  // Moves the batch's callbacks out (no flush yet).
  static Deferred TakeCallbacks(Batch* batch);
  // Writes the batch (without its callbacks, which the caller took out); fsync if `sync`. Fails
  // with failed_ once a flush failed.
  absl::Status Apply(Batch* batch, bool sync);
  // Runs `d`'s callbacks once its flush is done; the flush's status (or the store's failure).
  absl::Status Finish(Deferred d);
  std::optional<Deferred> deferred_;
  absl::Status failed_;  // a deferred flush failed: every later write fails with this

  mutable absl::Mutex mu_;
  std::shared_ptr<const crypto::KeyRing> ring_ ABSL_GUARDED_BY(mu_);
  // Data keys by id: the key, or "" once erased.
  mutable absl::flat_hash_map<std::string, std::string> data_keys_ ABSL_GUARDED_BY(mu_);
  // Current data key id by subject hash.
  mutable absl::flat_hash_map<std::string, std::string> subject_keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace asb::store
