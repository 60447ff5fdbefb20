#include "common/store/store.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/check.h"
#include "common/status/macros.h"
#include "common/store/encryption.h"
#include "rocksdb/cache.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/write_buffer_manager.h"

namespace asb::store {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("store");
  return lg;
}

// Memory bounds for one Store. Every daemon opens one Store, so these are per process: memtables
// of all column families together stay under kWriteBufferBudget (the WriteBufferManager flushes
// the largest when they reach it), and blocks read from SST files share one LRU cache.
constexpr std::size_t kWriteBufferSize = 16 << 20;    // per column family memtable
constexpr std::size_t kWriteBufferBudget = 64 << 20;  // all memtables together
constexpr std::size_t kBlockCacheSize = 32 << 20;

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// The insert-hint prefix of StoreOptions.appended_column_families: a key without its trailing
// 8-byte sequence number. Shorter keys (meta counters) are outside the domain: inserted as usual.
class SequenceSuffixPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "asb.SequenceSuffixPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() >= 8; }
};

bool Listed(const std::vector<std::string>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

bool IsLockError(const rocksdb::Status& status) {
  // RocksDB reports a held LOCK file as IOError: "lock hold by current process" (same process)
  // or "While lock file: …/LOCK: Resource temporarily unavailable" (another process).
  const std::string text = status.ToString();
  return status.IsIOError() && (text.find("lock hold") != std::string::npos ||
                                text.find("lock file") != std::string::npos);
}

}  // namespace

absl::Status FromRocks(const rocksdb::Status& status, std::string_view context) {
  if (status.ok()) {
    return absl::OkStatus();
  }
  std::string message = context.empty()
                            ? status.ToString()
                            : absl::StrCat(absl::string_view(context.data(), context.size()), ": ",
                                           status.ToString());
  switch (status.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(message);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kTimedOut:
    case rocksdb::Status::kIOError:  // includes NoSpace: a full disk may clear, retry later
    case rocksdb::Status::kShutdownInProgress:
    case rocksdb::Status::kIncomplete:
      return absl::UnavailableError(message);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(message);
    case rocksdb::Status::kInvalidArgument:
      return absl::InvalidArgumentError(message);
    case rocksdb::Status::kNotSupported:
      return absl::UnimplementedError(message);
    case rocksdb::Status::kAborted:
      return absl::AbortedError(message);
    default:
      return absl::InternalError(message);
  }
}

std::string EncodeSeq(uint64_t seq) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return out;
}

uint64_t DecodeSeq(std::string_view key) {
  ASB_CHECK(key.size() >= 8);
  uint64_t seq = 0;
  for (int i = 0; i < 8; ++i) {
    seq = (seq << 8) | static_cast<uint8_t>(key[i]);
  }
  return seq;
}

void Batch::Put(std::string_view cf, std::string_view key, std::string_view value) {
  const int index = store_->IndexOf(cf);
  rocksdb::ColumnFamilyHandle* handle = store_->Handle(cf);
  if (index >= 0 && store_->encrypted_[index]) {
    if (!error_.ok()) {
      return;  // the batch will fail anyway
    }
    std::string sealed;
    if (absl::Status s = store_->Encrypt(this, cf, key, value, &sealed); !s.ok()) {
      error_ = s;
      return;
    }
    rocksdb::Status s = batch_.Put(handle, ToSlice(key), ToSlice(sealed));
    ASB_CHECK(s.ok());
    return;
  }
  rocksdb::Status s = batch_.Put(handle, ToSlice(key), ToSlice(value));
  // WriteBatch::Put only fails for entries over 4 GiB, which the bus limits rule out.
  ASB_CHECK(s.ok());
}

void Batch::Delete(std::string_view cf, std::string_view key) {
  rocksdb::Status s = batch_.Delete(store_->Handle(cf), ToSlice(key));
  ASB_CHECK(s.ok());
}

void Batch::DeleteRange(std::string_view cf, std::string_view begin, std::string_view end) {
  rocksdb::ColumnFamilyHandle* handle = store_->Handle(cf);
  const int index = store_->IndexOf(cf);
  if (index >= 0 && store_->appended_[index]) {
    rocksdb::ReadOptions read_options;
    const rocksdb::Slice upper = ToSlice(end);
    read_options.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(store_->db_->NewIterator(read_options, handle));
    for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
      ASB_CHECK(batch_.Delete(handle, it->key()).ok());
    }
    if (!it->status().ok() && error_.ok()) {
      error_ = FromRocks(it->status(), "delete range");
    }
    return;
  }
  rocksdb::Status s = batch_.DeleteRange(handle, ToSlice(begin), ToSlice(end));
  ASB_CHECK(s.ok());
}

Batch::Batch(Batch&& other) noexcept
    : store_(other.store_),
      batch_(std::move(other.batch_)),
      error_(std::move(other.error_)),
      new_keys_(std::move(other.new_keys_)),
      on_commit_(std::move(other.on_commit_)),
      on_abort_(std::move(other.on_abort_)) {
  other.on_commit_.clear();
  other.on_abort_.clear();
  other.new_keys_.clear();
  other.error_ = absl::OkStatus();
}

Batch::~Batch() {
  // Abandoned without Write: whoever registered an OnAbort (e.g. a Log that assigned sequence
  // numbers) must roll back, exactly as if the write had failed.
  for (auto& fn : on_abort_) {
    fn();
  }
  internal::ForgetDataKeys(&new_keys_);
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("store path: required");
  }

  // Every column family that exists on disk must be opened too; add the ones configured.
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName};
  std::vector<std::string> existing;
  rocksdb::Status listed =
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), options.path, &existing);
  if (listed.ok()) {
    for (const auto& name : existing) {
      if (!Listed(names, name)) {
        names.push_back(name);
      }
    }
  }  // else: a new database (or an unreadable one, which Open below reports).
  for (const auto& name : options.column_families) {
    if (!Listed(names, name)) {
      names.push_back(name);
    }
  }
  if (options.key_ring != nullptr && !Listed(names, kSubjectKeysColumnFamily)) {
    names.push_back(kSubjectKeysColumnFamily);
  }

  auto cache = rocksdb::NewLRUCache(kBlockCacheSize);
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(kWriteBufferBudget, cache);
  db_options.max_open_files = 512;
  db_options.keep_log_file_num = 4;  // RocksDB's own info LOG files
  db_options.max_log_file_size = 8 << 20;
  db_options.max_background_jobs = 2;  // the machines have few cores
  db_options.max_total_wal_size = 128 << 20;

  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = cache;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = kWriteBufferSize;
  cf_options.max_write_buffer_number = 2;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.reserve(names.size());
  auto appended_hint = std::make_shared<SequenceSuffixPrefix>();
  std::vector<bool> appended;  // parallel to names
  for (const auto& name : names) {
    descriptors.emplace_back(name, cf_options);
    if (auto size = options.memtable_bytes.find(name); size != options.memtable_bytes.end()) {
      descriptors.back().options.write_buffer_size = size->second;
    }
    appended.push_back(Listed(options.appended_column_families, name));
    if (appended.back()) {
      descriptors.back().options.memtable_insert_with_hint_prefix_extractor = appended_hint;
    }
    if (name == kSubjectKeysColumnFamily) {
      // Random wrapped keys do not compress; stored as they are, an erasure can be checked by
      // looking for their bytes.
      descriptors.back().options.compression = rocksdb::kNoCompression;
      descriptors.back().options.bottommost_compression = rocksdb::kNoCompression;
    }
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) {
    if (IsLockError(s)) {
      return absl::UnavailableError(absl::StrCat(
          "store ", options.path, " is locked: is another daemon using it? (", s.ToString(), ")"));
    }
    return FromRocks(s, absl::StrCat("opening store ", options.path));
  }

  auto store = std::unique_ptr<Store>(new Store());
  store->options_ = options;
  store->db_.reset(raw);
  store->names_ = std::move(names);
  store->handles_ = std::move(handles);
  store->appended_ = std::move(appended);
  int encrypted = 0;
  for (const auto& name : store->names_) {
    const bool plain = options.key_ring == nullptr || name == kSubjectKeysColumnFamily ||
                       Listed(options.plaintext_column_families, name);
    store->encrypted_.push_back(!plain);
    encrypted += plain ? 0 : 1;
  }
  {
    absl::MutexLock lock(&store->mu_);
    store->ring_ = options.key_ring;
  }
  if (options.key_ring != nullptr) {
    SPDLOG_LOGGER_INFO(Logger(),
                       "opened store {} ({} column families, {} encrypted with AES-256-GCM; "
                       "newest master key id {} of key ring {})",
                       options.path, store->names_.size(), encrypted, options.key_ring->newest_id(),
                       options.key_ring->prefix());
  } else {
    SPDLOG_LOGGER_INFO(Logger(), "opened store {} ({} column families, not encrypted)",
                       options.path, store->names_.size());
  }
  return store;
}

Store::~Store() {
  // A deferred batch's flush finishes; its callbacks (whose owners may be gone) do not run.
  deferred_.reset();
  if (db_ == nullptr) {
    return;
  }
  for (auto* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();  // only fails for default
  }
  handles_.clear();
  rocksdb::Status s = db_->Close();
  if (!s.ok()) {
    SPDLOG_LOGGER_WARN(Logger(), "closing store {}: {}", options_.path, s.ToString());
  }
  db_.reset();
}

bool Store::HasColumnFamily(std::string_view cf) const {
  return std::find(names_.begin(), names_.end(), cf) != names_.end();
}

rocksdb::ColumnFamilyHandle* Store::Handle(std::string_view cf) const {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == cf) {
      return handles_[i];
    }
  }
  SPDLOG_LOGGER_CRITICAL(Logger(), "column family {} was not configured at Open", cf);
  ASB_CHECK(false && "column family not configured");
  return nullptr;
}

namespace {

void RunAll(const std::vector<std::function<void()>>& fns) {
  for (const auto& fn : fns) {
    fn();
  }
}

}  // namespace

absl::Status Store::Apply(Batch* batch, bool sync) {
  absl::Status status = failed_;
  if (status.ok() && fault_) {
    status = fault_();
  }
  if (status.ok() && !batch->error_.ok()) {
    status = batch->error_;
  }
  if (status.ok() && batch->batch_.Count() > 0) {
    rocksdb::WriteOptions write_options;
    write_options.sync = sync;
    const auto start = std::chrono::steady_clock::now();
    status = FromRocks(db_->Write(write_options, &batch->batch_), "write");
    if (sync && options_.on_sync) {
      options_.on_sync(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  batch->batch_.Clear();
  batch->error_ = absl::OkStatus();
  if (status.ok() && !batch->new_keys_.empty()) {
    absl::MutexLock lock(&mu_);
    for (auto& [hash, key] : batch->new_keys_) {
      subject_keys_[hash] = key.id;
      data_keys_[key.id] = key.key;
    }
  }
  internal::ForgetDataKeys(&batch->new_keys_);
  if (!status.ok()) {
    SPDLOG_LOGGER_WARN(Logger(), "write to {} failed: {}", options_.path, status.ToString());
  }
  return status;
}

Store::Deferred Store::TakeCallbacks(Batch* batch) {
  Deferred d;
  d.on_commit = std::exchange(batch->on_commit_, {});
  d.on_abort = std::exchange(batch->on_abort_, {});
  return d;
}

absl::Status Store::Write(Batch* batch) {
  // Take the callbacks out first so the batch is empty and reusable whatever they do.
  Deferred d = TakeCallbacks(batch);
  // A deferred batch commits first. If its flush failed the store has failed: Apply says so.
  Settle().IgnoreError();
  const absl::Status status = Apply(batch, options_.sync);
  RunAll(status.ok() ? d.on_commit : d.on_abort);
  return status;
}

absl::Status Store::WriteDeferred(Batch* batch) {
  if (!options_.sync) {
    return Write(batch);
  }
  Deferred d = TakeCallbacks(batch);
  absl::Status status = Apply(batch, false);
  if (status.ok()) {
    auto flush = [this] {
      absl::Status s = flush_fault_ ? flush_fault_() : absl::OkStatus();
      if (!s.ok()) {
        return s;
      }
      const auto start = std::chrono::steady_clock::now();
      s = FromRocks(db_->SyncWAL(), "flushing the write-ahead log");
      if (options_.on_sync) {
        options_.on_sync(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      return s;
    };
    try {
      d.flushed = std::async(std::launch::async, flush);
    } catch (const std::system_error&) {
      // No thread to spare: flush here (as durable, only not overlapped).
      std::promise<absl::Status> done;
      done.set_value(flush());
      d.flushed = done.get_future();
    }
  }
  // The earlier batch's callbacks run first (it was written first). Its flush has had this
  // batch's write to run in.
  std::optional<Deferred> earlier = std::exchange(deferred_, std::nullopt);
  if (status.ok()) {
    deferred_ = std::move(d);
  }
  absl::Status earlier_status = earlier ? Finish(std::move(*earlier)) : absl::OkStatus();
  if (!status.ok()) {
    RunAll(d.on_abort);
    return status;
  }
  // This batch's own write succeeded; if the earlier flush failed, Settle aborts it too.
  return earlier_status.ok() ? absl::OkStatus() : Settle();
}

absl::Status Store::Settle() {
  if (!deferred_) {
    return failed_;
  }
  Deferred d = std::move(*deferred_);
  deferred_.reset();
  return Finish(std::move(d));
}

absl::Status Store::Finish(Deferred d) {
  absl::Status status = d.flushed.valid() ? d.flushed.get() : absl::OkStatus();
  if (!status.ok() && failed_.ok()) {
    SPDLOG_LOGGER_CRITICAL(Logger(),
                           "store {}: flushing the write-ahead log failed ({}): no further "
                           "writes; restart the daemon",
                           options_.path, status.ToString());
    failed_ = status;
  }
  // Once a flush failed, later batches may not be on disk either (and an earlier one is not).
  if (!failed_.ok()) {
    RunAll(d.on_abort);
    return failed_;
  }
  RunAll(d.on_commit);
  return absl::OkStatus();
}

absl::Status Store::GetStored(std::string_view cf, std::string_view key, std::string* raw) const {
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), Handle(cf), ToSlice(key), raw);
  if (s.IsNotFound()) {
    return absl::NotFoundError("not found");
  }
  return FromRocks(s, "get");
}

absl::Status Store::Get(std::string_view cf, std::string_view key, std::string* value) const {
  const int index = IndexOf(cf);
  if (index < 0 || !encrypted_[index]) {
    return GetStored(cf, key, value);
  }
  std::string stored;
  ASB_RETURN_IF_ERROR(GetStored(cf, key, &stored));
  return Decrypt(cf, key, stored, value);
}

std::unique_ptr<rocksdb::Iterator> Store::NewIterator(std::string_view cf) const {
  return NewIteratorWith(cf, rocksdb::ReadOptions());
}

std::unique_ptr<rocksdb::Iterator> Store::NewScanIterator(std::string_view cf) const {
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  options.readahead_size = 2 << 20;
  return NewIteratorWith(cf, options);
}

std::unique_ptr<rocksdb::Iterator> Store::NewIteratorWith(
    std::string_view cf, const rocksdb::ReadOptions& options) const {
  std::unique_ptr<rocksdb::Iterator> raw(db_->NewIterator(options, Handle(cf)));
  const int index = IndexOf(cf);
  if (index < 0 || !encrypted_[index]) {
    return raw;
  }
  return NewDecryptingIterator(this, std::string(cf), std::move(raw));
}

int Store::IndexOf(std::string_view cf) const {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == cf) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

absl::Status Store::DeleteRange(std::string_view cf, std::string_view begin, std::string_view end) {
  Batch batch = NewBatch();
  batch.DeleteRange(cf, begin, end);
  return Write(&batch);
}

}  // namespace asb::store
