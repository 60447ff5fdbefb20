// Encryption at rest for Store: value format, per-subject data keys, erasure, key rotation and
// the decrypting iterator. See store.h for the format.

#include "common/store/encryption.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crypto/aead.h"
#include "common/crypto/crypto.h"
#include "common/log/log.h"
#include "common/status/check.h"
#include "common/status/macros.h"
#include "rocksdb/options.h"

namespace asb::store {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("store");
  return lg;
}

constexpr unsigned char kValueMagic = 0xA5;  // format version 1 of an encrypted value
constexpr unsigned char kKindMaster = 1;     // 4-byte master key id
constexpr unsigned char kKindSubject = 2;    // 16-byte data key id
constexpr std::size_t kMasterIdSize = 4;
constexpr std::size_t kDataKeyIdSize = 16;
constexpr std::size_t kSubjectHashSize = 16;

// subject_keys records: 'k' + data key id → live or erased record; 's' + subject hash + data key
// id → "" (the subject's keys, so erasure finds them all).
constexpr char kKeyRecordPrefix = 'k';
constexpr char kSubjectPrefix = 's';
constexpr unsigned char kKeyLive = 1;    // | master id (4) | nonce (12) | wrapped key + tag (48)
constexpr unsigned char kKeyErased = 0;  // | erased at, ms since the epoch (8)

constexpr char kErasedPayloadUrl[] = "type.asbhub.dev/asb.store.Erased";

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }

void AppendU32(uint32_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint32_t ReadU32(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v = (v << 8) | static_cast<uint8_t>(s[i]);
  }
  return v;
}

// A key as it may appear in an error: escaped and bounded (keys hold ids, never values).
std::string KeyText(std::string_view key) {
  constexpr std::size_t kMax = 48;
  std::string text = absl::CHexEscape(absl::string_view(key.data(), std::min(key.size(), kMax)));
  if (key.size() > kMax) {
    text += "...";
  }
  return text;
}

std::string Where(std::string_view cf, std::string_view key) {
  return absl::StrCat("value of column family '", AV(cf), "' at key \"", KeyText(key), "\"");
}

// Built in a per-thread buffer (one per value read or written: no allocation each time).
const std::string& ValueAad(std::string_view cf, std::string_view key, std::string_view header) {
  thread_local std::string aad;
  aad.assign("asb-store-value-v1");
  aad.push_back('\0');
  AppendU32(static_cast<uint32_t>(cf.size()), &aad);
  aad.append(cf);
  AppendU32(static_cast<uint32_t>(key.size()), &aad);
  aad.append(key);
  aad.append(header);
  return aad;
}

std::string DataKeyAad(std::string_view id) {
  std::string aad = "asb-store-data-key-v1";
  aad.push_back('\0');
  aad.append(id);
  return aad;
}

std::string SubjectHash(std::string_view subject) {
  std::string input = "asb-store-subject-v1";
  input.push_back('\0');
  input.append(subject);
  return crypto::Sha256(input).substr(0, kSubjectHashSize);
}

absl::Status ErasedError(std::string message) {
  absl::Status status = absl::NotFoundError(std::move(message));
  status.SetPayload(kErasedPayloadUrl, absl::Cord("erased"));
  return status;
}

// Wraps a data key under the ring's newest master key: the live subject_keys record.
absl::StatusOr<std::string> WrapDataKey(const crypto::KeyRing& ring, std::string_view id,
                                        std::string_view key) {
  ASB_ASSIGN_OR_RETURN(std::string nonce, crypto::NewAeadNonce());
  std::string record;
  record.push_back(static_cast<char>(kKeyLive));
  AppendU32(ring.newest_id(), &record);
  record.append(nonce);
  ASB_RETURN_IF_ERROR(crypto::AeadSeal(ring.newest_key(), nonce, key, DataKeyAad(id), &record));
  return record;
}

// Seals `value` under `key` with header kind|id, into *out.
absl::Status SealWith(std::string_view cf, std::string_view key, std::string_view value,
                      unsigned char kind, std::string_view id, std::string_view aes_key,
                      std::string* out) {
  ASB_ASSIGN_OR_RETURN(std::string nonce, crypto::NewAeadNonce());
  out->clear();
  out->reserve(2 + id.size() + nonce.size() + value.size() + crypto::kAeadTagSize);
  out->push_back(static_cast<char>(kValueMagic));
  out->push_back(static_cast<char>(kind));
  out->append(id);
  const std::string& aad = ValueAad(cf, key, *out);
  out->append(nonce);
  return crypto::AeadSeal(aes_key, nonce, value, aad, out);
}

}  // namespace

bool IsErased(const absl::Status& status) {
  return absl::IsNotFound(status) && status.GetPayload(kErasedPayloadUrl).has_value();
}

namespace internal {
void ForgetDataKeys(absl::flat_hash_map<std::string, DataKey>* keys) {
  for (auto& [hash, key] : *keys) {
    OPENSSL_cleanse(key.key.data(), key.key.size());
  }
  keys->clear();
}
}  // namespace internal

std::shared_ptr<const crypto::KeyRing> Store::ring() const {
  absl::MutexLock lock(&mu_);
  return ring_;
}

absl::Status Store::Encrypt(Batch* batch, std::string_view cf, std::string_view key,
                            std::string_view value, std::string* out) {
  std::shared_ptr<const crypto::KeyRing> ring = this->ring();
  const std::string subject =
      options_.subject_of ? options_.subject_of(cf, key, value) : std::string();
  if (subject.empty()) {
    std::string id;
    AppendU32(ring->newest_id(), &id);
    return SealWith(cf, key, value, kKindMaster, id, ring->newest_key(), out);
  }
  const std::string hash = SubjectHash(subject);
  auto pending = batch->new_keys_.find(hash);
  if (pending != batch->new_keys_.end()) {
    return SealWith(cf, key, value, kKindSubject, pending->second.id, pending->second.key, out);
  }
  ASB_ASSIGN_OR_RETURN(std::optional<internal::DataKey> existing, SubjectDataKey(hash));
  if (existing.has_value()) {
    absl::Status s = SealWith(cf, key, value, kKindSubject, existing->id, existing->key, out);
    OPENSSL_cleanse(existing->key.data(), existing->key.size());
    return s;
  }
  // A new subject: a fresh data key, stored wrapped in this same batch.
  internal::DataKey fresh;
  ASB_ASSIGN_OR_RETURN(fresh.id, crypto::RandomBytes(kDataKeyIdSize));
  ASB_ASSIGN_OR_RETURN(fresh.key, crypto::RandomBytes(crypto::kAeadKeySize));
  ASB_ASSIGN_OR_RETURN(std::string record, WrapDataKey(*ring, fresh.id, fresh.key));
  rocksdb::ColumnFamilyHandle* keys_cf = Handle(kSubjectKeysColumnFamily);
  const std::string record_key = std::string(1, kKeyRecordPrefix) + fresh.id;
  const std::string member_key = std::string(1, kSubjectPrefix) + hash + fresh.id;
  ASB_CHECK(batch->batch_.Put(keys_cf, ToSlice(record_key), ToSlice(record)).ok());
  ASB_CHECK(batch->batch_.Put(keys_cf, ToSlice(member_key), rocksdb::Slice()).ok());
  absl::Status s = SealWith(cf, key, value, kKindSubject, fresh.id, fresh.key, out);
  batch->new_keys_.emplace(hash, std::move(fresh));
  return s;
}

absl::StatusOr<std::string> Store::DataKey(std::string_view id) const {
  std::shared_ptr<const crypto::KeyRing> ring;
  {
    absl::MutexLock lock(&mu_);
    auto it = data_keys_.find(std::string(id));
    if (it != data_keys_.end()) {
      if (it->second.empty()) {
        return ErasedError("its subject was erased (the subject's key was destroyed)");
      }
      return it->second;
    }
    ring = ring_;
  }
  std::string record;
  absl::Status got = GetStored(kSubjectKeysColumnFamily,
                               std::string(1, kKeyRecordPrefix) + std::string(id), &record);
  if (absl::IsNotFound(got)) {
    return absl::DataLossError("its subject's data key is missing from the store");
  }
  ASB_RETURN_IF_ERROR(got);
  if (!record.empty() && static_cast<unsigned char>(record[0]) == kKeyErased) {
    absl::MutexLock lock(&mu_);
    data_keys_[std::string(id)] = "";
    return ErasedError("its subject was erased (the subject's key was destroyed)");
  }
  constexpr std::size_t kLiveSize =
      1 + kMasterIdSize + crypto::kAeadNonceSize + crypto::kAeadKeySize + crypto::kAeadTagSize;
  if (record.size() != kLiveSize || static_cast<unsigned char>(record[0]) != kKeyLive) {
    return absl::DataLossError("its subject's data key record is malformed");
  }
  const uint32_t master_id = ReadU32(std::string_view(record).substr(1));
  const std::string* master = ring->Find(master_id);
  if (master == nullptr) {
    return absl::DataLossError(absl::StrCat("its subject's data key is wrapped by master key ",
                                            master_id, ", which is not in key ring ",
                                            ring->prefix(), ": restore ",
                                            crypto::RingKeyFile(ring->prefix(), master_id)));
  }
  std::string key;
  const std::string_view rv(record);
  absl::Status opened =
      crypto::AeadOpen(*master, rv.substr(1 + kMasterIdSize, crypto::kAeadNonceSize),
                       rv.substr(1 + kMasterIdSize + crypto::kAeadNonceSize), DataKeyAad(id), &key);
  if (!opened.ok()) {
    return absl::DataLossError(
        absl::StrCat("its subject's data key does not decrypt under master key ", master_id,
                     " (a different key file with that id, or an altered record)"));
  }
  absl::MutexLock lock(&mu_);
  data_keys_[std::string(id)] = key;
  return key;
}

absl::StatusOr<std::optional<internal::DataKey>> Store::SubjectDataKey(
    std::string_view hash) const {
  {
    absl::MutexLock lock(&mu_);
    auto it = subject_keys_.find(std::string(hash));
    if (it != subject_keys_.end()) {
      auto key = data_keys_.find(it->second);
      if (key != data_keys_.end() && !key->second.empty()) {
        return internal::DataKey{it->second, key->second};
      }
    }
  }
  const std::string prefix = std::string(1, kSubjectPrefix) + std::string(hash);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), Handle(kSubjectKeysColumnFamily)));
  for (it->Seek(ToSlice(prefix)); it->Valid() && it->key().starts_with(ToSlice(prefix));
       it->Next()) {
    const std::string id = it->key().ToString().substr(prefix.size());
    absl::StatusOr<std::string> key = DataKey(id);
    if (IsErased(key.status())) {
      continue;
    }
    ASB_RETURN_IF_ERROR(key.status());
    absl::MutexLock lock(&mu_);
    subject_keys_[std::string(hash)] = id;
    return internal::DataKey{id, std::move(*key)};
  }
  ASB_RETURN_IF_ERROR(FromRocks(it->status(), "reading subject keys"));
  return std::nullopt;
}

absl::Status Store::Decrypt(std::string_view cf, std::string_view key, std::string_view stored,
                            std::string* out) const {
  if (stored.size() < 2 || static_cast<unsigned char>(stored[0]) != kValueMagic) {
    return absl::DataLossError(
        absl::StrCat(Where(cf, key),
                     " is not encrypted (or not in a known format), though its column family "
                     "is: was it written without a key ring?"));
  }
  const unsigned char kind = static_cast<unsigned char>(stored[1]);
  const std::size_t id_size = kind == kKindMaster    ? kMasterIdSize
                              : kind == kKindSubject ? kDataKeyIdSize
                                                     : 0;
  if (id_size == 0) {
    return absl::DataLossError(absl::StrCat(Where(cf, key), " has an unknown key kind"));
  }
  const std::size_t header = 2 + id_size;
  if (stored.size() < header + crypto::kAeadNonceSize + crypto::kAeadTagSize) {
    return absl::DataLossError(absl::StrCat(Where(cf, key), " is truncated"));
  }
  const std::string_view id = stored.substr(2, id_size);
  std::string subject_key;
  const std::string* aes_key = nullptr;
  std::shared_ptr<const crypto::KeyRing> ring;
  if (kind == kKindMaster) {
    ring = this->ring();
    const uint32_t master_id = ReadU32(id);
    aes_key = ring->Find(master_id);
    if (aes_key == nullptr) {
      return absl::DataLossError(absl::StrCat(Where(cf, key), " is encrypted with master key ",
                                              master_id, ", which is not in key ring ",
                                              ring->prefix(), ": restore ",
                                              crypto::RingKeyFile(ring->prefix(), master_id)));
    }
  } else {
    absl::StatusOr<std::string> data_key = DataKey(id);
    if (!data_key.ok()) {
      if (IsErased(data_key.status())) {
        return ErasedError(
            absl::StrCat(Where(cf, key), " is erased: ", data_key.status().message()));
      }
      return absl::Status(data_key.status().code(),
                          absl::StrCat(Where(cf, key), ": ", data_key.status().message()));
    }
    subject_key = std::move(*data_key);
    aes_key = &subject_key;
  }
  absl::Status opened = crypto::AeadOpen(*aes_key, stored.substr(header, crypto::kAeadNonceSize),
                                         stored.substr(header + crypto::kAeadNonceSize),
                                         ValueAad(cf, key, stored.substr(0, header)), out);
  if (!subject_key.empty()) {
    OPENSSL_cleanse(subject_key.data(), subject_key.size());
  }
  if (!opened.ok()) {
    return absl::DataLossError(absl::StrCat(
        Where(cf, key),
        " does not authenticate: altered, moved from another key, or encrypted with a different "
        "key of the same id"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Store::EraseSubject(std::string_view subject) {
  ASB_ASSIGN_OR_RETURN(std::vector<int> destroyed, EraseSubjects({std::string(subject)}));
  return destroyed[0];
}

absl::StatusOr<std::vector<int>> Store::EraseSubjects(const std::vector<std::string>& subjects) {
  if (ring() == nullptr) {
    return absl::FailedPreconditionError("erasure needs an encrypted store (a key ring)");
  }
  rocksdb::ColumnFamilyHandle* keys_cf = Handle(kSubjectKeysColumnFamily);
  std::vector<int> destroyed(subjects.size(), 0);
  std::vector<std::string> hashes;
  std::vector<std::string> ids;
  rocksdb::WriteBatch batch;
  std::string tombstone(1, static_cast<char>(kKeyErased));
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  for (int shift = 56; shift >= 0; shift -= 8) {
    tombstone.push_back(static_cast<char>((static_cast<uint64_t>(now_ms) >> shift) & 0xff));
  }
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    const std::string hash = SubjectHash(subjects[i]);
    const std::string prefix = std::string(1, kSubjectPrefix) + hash;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), keys_cf));
    for (it->Seek(ToSlice(prefix)); it->Valid() && it->key().starts_with(ToSlice(prefix));
         it->Next()) {
      const std::string id = it->key().ToString().substr(prefix.size());
      ASB_CHECK(
          batch.Put(keys_cf, ToSlice(std::string(1, kKeyRecordPrefix) + id), ToSlice(tombstone))
              .ok());
      ASB_CHECK(batch.Delete(keys_cf, ToSlice(prefix + id)).ok());
      ids.push_back(id);
      ++destroyed[i];
    }
    ASB_RETURN_IF_ERROR(FromRocks(it->status(), "reading subject keys"));
    if (destroyed[i] > 0) {
      hashes.push_back(hash);
    }
  }
  if (ids.empty()) {
    return destroyed;
  }
  if (fault_) {
    ASB_RETURN_IF_ERROR(fault_());
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = true;  // an erasure is never left to chance
  ASB_RETURN_IF_ERROR(FromRocks(db_->Write(write_options, &batch), "erasing subject keys"));
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& hash : hashes) {
      subject_keys_.erase(hash);
    }
    for (const std::string& id : ids) {
      std::string& cached = data_keys_[id];
      OPENSSL_cleanse(cached.data(), cached.size());
      cached.clear();
    }
  }
  // The wrapped keys are still in the write-ahead log and SST files: flush every family (so the
  // WAL files holding them become obsolete and are deleted) and rewrite the key family's files,
  // once for every subject of the call.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  ASB_RETURN_IF_ERROR(FromRocks(db_->Flush(flush, handles_), "flushing after erasure"));
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  ASB_RETURN_IF_ERROR(
      FromRocks(db_->CompactRange(compact, keys_cf, nullptr, nullptr), "compacting subject keys"));
  SPDLOG_LOGGER_INFO(Logger(), "store {}: erased {} subject(s) ({} data keys destroyed)",
                     options_.path, hashes.size(), ids.size());
  return destroyed;
}

absl::Status Store::SetKeyRing(std::shared_ptr<const crypto::KeyRing> ring) {
  if (ring == nullptr) {
    return absl::InvalidArgumentError("key ring: required");
  }
  absl::MutexLock lock(&mu_);
  if (ring_ == nullptr) {
    return absl::FailedPreconditionError(
        "the store was opened without encryption; restart to turn it on");
  }
  // Old values may need any key the current ring has.
  for (uint32_t id = 1; id <= ring_->newest_id(); ++id) {
    if (ring_->Find(id) != nullptr && ring->Find(id) == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("reloaded key ring ", ring->prefix(), " lacks key ", id,
                       ", which stored values may need; the old ring stays in force"));
    }
  }
  ring_ = std::move(ring);
  SPDLOG_LOGGER_INFO(Logger(), "store {}: key ring reloaded, new values use master key {}",
                     options_.path, ring_->newest_id());
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Store::ReencryptToNewestKey() {
  std::shared_ptr<const crypto::KeyRing> ring = this->ring();
  if (ring == nullptr) {
    return absl::FailedPreconditionError("the store is not encrypted");
  }
  const uint32_t newest = ring->newest_id();
  uint64_t rewritten = 0;
  constexpr int kBatch = 1000;
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  auto flush_batch = [&](rocksdb::WriteBatch* batch) -> absl::Status {
    if (batch->Count() == 0) {
      return absl::OkStatus();
    }
    if (fault_) {
      ASB_RETURN_IF_ERROR(fault_());
    }
    ASB_RETURN_IF_ERROR(FromRocks(db_->Write(write_options, batch), "re-encrypting"));
    batch->Clear();
    return absl::OkStatus();
  };
  rocksdb::WriteBatch batch;
  // Values encrypted directly under an older master key.
  for (std::size_t i = 0; i < names_.size(); ++i) {
    if (!encrypted_[i]) {
      continue;
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view stored = it->value().ToStringView();
      if (stored.size() < 2 + kMasterIdSize ||
          static_cast<unsigned char>(stored[1]) != kKindMaster ||
          ReadU32(stored.substr(2)) == newest) {
        continue;
      }
      const std::string_view key = it->key().ToStringView();
      std::string plain;
      ASB_RETURN_IF_ERROR(Decrypt(names_[i], key, stored, &plain));
      std::string id;
      AppendU32(newest, &id);
      std::string sealed;
      absl::Status s =
          SealWith(names_[i], key, plain, kKindMaster, id, ring->newest_key(), &sealed);
      OPENSSL_cleanse(plain.data(), plain.size());
      ASB_RETURN_IF_ERROR(s);
      ASB_CHECK(batch.Put(handles_[i], ToSlice(key), ToSlice(sealed)).ok());
      ++rewritten;
      if (batch.Count() >= kBatch) {
        ASB_RETURN_IF_ERROR(flush_batch(&batch));
      }
    }
    ASB_RETURN_IF_ERROR(FromRocks(it->status(), "re-encrypting " + names_[i]));
  }
  // Subject data keys wrapped under an older master key.
  if (HasColumnFamily(kSubjectKeysColumnFamily)) {
    rocksdb::ColumnFamilyHandle* keys_cf = Handle(kSubjectKeysColumnFamily);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), keys_cf));
    const std::string prefix(1, kKeyRecordPrefix);
    for (it->Seek(ToSlice(prefix)); it->Valid() && it->key().starts_with(ToSlice(prefix));
         it->Next()) {
      const std::string_view record = it->value().ToStringView();
      if (record.size() < 1 + kMasterIdSize || static_cast<unsigned char>(record[0]) != kKeyLive ||
          ReadU32(record.substr(1)) == newest) {
        continue;
      }
      const std::string id = it->key().ToString().substr(1);
      ASB_ASSIGN_OR_RETURN(std::string key, DataKey(id));
      absl::StatusOr<std::string> wrapped = WrapDataKey(*ring, id, key);
      OPENSSL_cleanse(key.data(), key.size());
      ASB_RETURN_IF_ERROR(wrapped.status());
      ASB_CHECK(batch.Put(keys_cf, it->key(), ToSlice(*wrapped)).ok());
      ++rewritten;
      if (batch.Count() >= kBatch) {
        ASB_RETURN_IF_ERROR(flush_batch(&batch));
      }
    }
    ASB_RETURN_IF_ERROR(FromRocks(it->status(), "re-wrapping subject keys"));
  }
  ASB_RETURN_IF_ERROR(flush_batch(&batch));
  SPDLOG_LOGGER_INFO(Logger(), "store {}: {} values and keys re-encrypted under master key {}",
                     options_.path, rewritten, newest);
  return rewritten;
}

// Decrypts as it moves. Positioning calls settle on the next readable value in the direction of
// travel, skipping erased ones (or yielding their placeholder).
class DecryptingIterator : public rocksdb::Iterator {
 public:
  DecryptingIterator(const Store* store, std::string cf, std::unique_ptr<rocksdb::Iterator> raw)
      : store_(store), cf_(std::move(cf)), raw_(std::move(raw)) {}
  ~DecryptingIterator() override { Forget(); }

  bool Valid() const override { return valid_; }
  void SeekToFirst() override {
    raw_->SeekToFirst();
    Settle(true);
  }
  void SeekToLast() override {
    raw_->SeekToLast();
    Settle(false);
  }
  void Seek(const rocksdb::Slice& target) override {
    raw_->Seek(target);
    Settle(true);
  }
  void SeekForPrev(const rocksdb::Slice& target) override {
    raw_->SeekForPrev(target);
    Settle(false);
  }
  void Next() override {
    raw_->Next();
    Settle(true);
  }
  void Prev() override {
    raw_->Prev();
    Settle(false);
  }
  rocksdb::Slice key() const override { return raw_->key(); }
  rocksdb::Slice value() const override { return rocksdb::Slice(value_); }
  rocksdb::Status status() const override {
    if (!error_.ok()) {
      return error_;
    }
    return raw_->status();
  }

 private:
  void Forget() {
    OPENSSL_cleanse(value_.data(), value_.size());
    value_.clear();
  }

  void Settle(bool forward) {
    error_ = rocksdb::Status::OK();
    Forget();
    while (raw_->Valid()) {
      const std::string_view key = raw_->key().ToStringView();
      absl::Status s = store_->Decrypt(cf_, key, raw_->value().ToStringView(), &value_);
      if (s.ok()) {
        valid_ = true;
        return;
      }
      if (!IsErased(s)) {
        // Corruption maps back to kDataLoss in FromRocks; the message names cf and key only.
        error_ = rocksdb::Status::Corruption(std::string(s.message()));
        valid_ = false;
        return;
      }
      if (store_->options_.erased_placeholder) {
        std::optional<std::string> placeholder = store_->options_.erased_placeholder(cf_, key);
        if (placeholder.has_value()) {
          value_ = std::move(*placeholder);
          valid_ = true;
          return;
        }
      }
      if (forward) {
        raw_->Next();
      } else {
        raw_->Prev();
      }
    }
    valid_ = false;
  }

  const Store* store_;
  std::string cf_;
  std::unique_ptr<rocksdb::Iterator> raw_;
  std::string value_;
  rocksdb::Status error_;
  bool valid_ = false;
};

std::unique_ptr<rocksdb::Iterator> NewDecryptingIterator(const Store* store, std::string cf,
                                                         std::unique_ptr<rocksdb::Iterator> raw) {
  return std::make_unique<DecryptingIterator>(store, std::move(cf), std::move(raw));
}

}  // namespace asb::store
