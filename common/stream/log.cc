#include "common/stream/log.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/bus/wire.h"
#include "common/log/log.h"
#include "common/status/macros.h"

namespace asb::stream {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("stream");
  return lg;
}

// The stream's own metadata lives in its column family under keys that cannot be a record key:
// records are exactly 8 bytes, these are longer and sort after every record key.
std::string MetaKey(std::string_view what) {
  std::string key(8, '\xff');
  key.append("/");
  key.append(what);
  return key;
}
const std::string& FirstRetainedKey() {
  static const std::string* key = new std::string(MetaKey("first_retained"));
  return *key;
}

bool IsRecordKey(const rocksdb::Slice& key) { return key.size() == 8; }

}  // namespace

std::string LogColumnFamily(const std::string& name) { return "log." + name; }

Log::Log(store::Store* store, std::string name, std::string producer)
    : store_(store),
      name_(std::move(name)),
      cf_(LogColumnFamily(name_)),
      producer_(std::move(producer)) {}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(store::Store* store, std::string name,
                                               std::string producer) {
  auto log = std::unique_ptr<Log>(new Log(store, std::move(name), std::move(producer)));
  const std::string& cf = log->cf_;
  if (!store->HasColumnFamily(cf)) {
    return absl::FailedPreconditionError(absl::StrCat("stream ", log->name_, ": column family ", cf,
                                                      " is not in the store's column_families"));
  }

  uint64_t marker = 0;
  std::string value;
  absl::Status got = store->Get(cf, FirstRetainedKey(), &value);
  if (got.ok()) {
    if (value.size() != 8) {
      return absl::DataLossError(
          absl::StrCat("stream ", log->name_, ": malformed first_retained marker"));
    }
    marker = store::DecodeSeq(value);
  } else if (!absl::IsNotFound(got)) {
    return got;
  }

  auto it = store->NewIterator(cf);
  it->SeekToFirst();
  bool any = it->Valid() && IsRecordKey(it->key());
  uint64_t first_key = any ? store::DecodeSeq(it->key().ToStringView()) : 0;
  uint64_t last_key = 0;
  if (any) {
    // The metadata keys sort last; step back over them to the last record.
    it->SeekToLast();
    while (it->Valid() && !IsRecordKey(it->key())) {
      it->Prev();
    }
    if (it->Valid()) {
      last_key = store::DecodeSeq(it->key().ToStringView());
    }
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), absl::StrCat("opening stream ", log->name_));
  }

  if (any) {
    log->first_ = first_key;
    log->head_ = last_key;
  } else {
    // Empty: never written, or everything trimmed (then the marker remembers where it ended).
    log->first_ = std::max<uint64_t>(marker, 1);
    log->head_ = log->first_ - 1;
  }
  log->pending_ = log->head_;
  SPDLOG_LOGGER_INFO(Logger(), "stream {}: head {}, first retained {}", log->name_, log->head_,
                     log->first_);
  return log;
}

uint64_t Log::Append(store::Batch* batch, asb::v1::Envelope* envelope) {
  return AppendEncoded(batch, envelope, 0, {});
}

uint64_t Log::AppendEncoded(store::Batch* batch, asb::v1::Envelope* envelope, int payload_field,
                            std::string_view payload) {
  const uint64_t seq = ++pending_;
  envelope->set_seq(seq);
  envelope->set_event_id(absl::StrCat(producer_, "/", name_, "/", seq));
  envelope->set_producer(producer_);
  if (!envelope->has_produced_at()) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
    envelope->mutable_produced_at()->set_seconds(nanos / 1000000000);
    envelope->mutable_produced_at()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
  }
  std::string value = envelope->SerializeAsString();
  if (payload_field > 0) {
    bus::AppendLengthDelimited(payload_field, payload, &value);
  }
  batch->Put(cf_, store::EncodeSeq(seq), value);
  batch->OnCommit([this, seq] {
    if (seq <= head_) {
      return;
    }
    head_ = seq;
    // Callbacks run in append order, so only the batch's last record (the highest number
    // assigned) announces the head: one hint per batch, not one per record.
    if (seq == pending_) {
      for (auto& fn : on_head_) {
        fn(head_);
      }
    }
  });
  batch->OnAbort([this] { pending_ = head_; });
  return seq;
}

absl::Status Log::Read(uint64_t from_seq, uint32_t max, std::vector<asb::v1::Envelope>* out,
                       std::size_t max_bytes) const {
  out->clear();
  std::vector<std::string> encoded;
  ASB_RETURN_IF_ERROR(ReadEncoded(from_seq, max, &encoded, max_bytes));
  out->reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    asb::v1::Envelope& envelope = out->emplace_back();
    if (!envelope.ParseFromString(encoded[i])) {
      out->clear();
      return absl::DataLossError(
          absl::StrCat("stream ", name_, ": record ", from_seq + i, " is corrupt"));
    }
  }
  return absl::OkStatus();
}

absl::Status Log::ReadEncoded(uint64_t from_seq, uint32_t max, std::vector<std::string>* out,
                              std::size_t max_bytes) const {
  out->clear();
  if (from_seq < first_) {
    return absl::OutOfRangeError(absl::StrCat("stream ", name_, ": records below ", first_,
                                              " were deleted by retention (asked from ", from_seq,
                                              ")"));
  }
  if (from_seq > head_ || max == 0) {
    return absl::OkStatus();
  }
  auto it = store_->NewIterator(cf_);
  std::size_t bytes = 0;
  uint64_t expected = from_seq;
  for (it->Seek(store::EncodeSeq(from_seq));
       it->Valid() && IsRecordKey(it->key()) && expected <= head_ && out->size() < max;
       it->Next()) {
    const uint64_t seq = store::DecodeSeq(it->key().ToStringView());
    if (seq != expected) {
      out->clear();
      return absl::DataLossError(
          absl::StrCat("stream ", name_, ": record ", expected, " is missing (found ", seq, ")"));
    }
    // Always return at least one record, however large, so a reader makes progress.
    if (!out->empty() && bytes + it->value().size() > max_bytes) {
      break;
    }
    out->emplace_back(it->value().data(), it->value().size());
    bytes += it->value().size();
    ++expected;
  }
  if (!it->status().ok()) {
    out->clear();
    return store::FromRocks(it->status(), absl::StrCat("reading stream ", name_));
  }
  if (out->empty()) {
    // from_seq is within [first_, head_], so a record must be there.
    return absl::DataLossError(
        absl::StrCat("stream ", name_, ": record ", from_seq, " is missing"));
  }
  return absl::OkStatus();
}

absl::Status Log::TrimBefore(uint64_t seq) {
  // Never past the committed head: the next record must stay at first_retained or above.
  seq = std::min(seq, head_ + 1);
  if (seq <= first_) {
    return absl::OkStatus();
  }
  store::Batch batch = store_->NewBatch();
  batch.DeleteRange(cf_, store::EncodeSeq(0), store::EncodeSeq(seq));
  batch.Put(cf_, FirstRetainedKey(), store::EncodeSeq(seq));
  ASB_RETURN_IF_ERROR(store_->Write(&batch));
  SPDLOG_LOGGER_INFO(Logger(), "stream {}: trimmed records {}..{}", name_, first_, seq - 1);
  first_ = seq;
  return absl::OkStatus();
}

}  // namespace asb::stream
