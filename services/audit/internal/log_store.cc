#include "services/audit/internal/log_store.h"

#include "absl/strings/str_cat.h"

namespace asb::audit::internal {
namespace {

// Longest value Shorten keeps whole.
constexpr std::size_t kMaxDescribedValue = 64;

}  // namespace

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("audit");
  return lg;
}

std::string IndexKey(absl::string_view value, uint64_t index) {
  std::string key = IndexPrefix(value);
  key.append(store::EncodeSeq(index));
  return key;
}

std::string IndexPrefix(absl::string_view value) {
  std::string key;
  key.reserve(value.size() + 9);
  key.append(value.data(), value.size());
  key.push_back('\0');
  return key;
}

std::string LeafKey(uint64_t index) { return absl::StrCat(kLeafPrefix, store::EncodeSeq(index)); }

std::string NodeKey(int level, uint64_t index) {
  std::string key(kNodePrefix);
  key.push_back(static_cast<char>(level));
  key.append(store::EncodeSeq(index));
  return key;
}

std::string TreeHeadKey(uint64_t tree_size) {
  return absl::StrCat(kTreeHeadPrefix, store::EncodeSeq(tree_size));
}

std::string TimeBlockKey(uint64_t block) {
  return absl::StrCat(kTimeBlockPrefix, store::EncodeSeq(block));
}

uint64_t MicrosOf(const google::protobuf::Timestamp& ts) {
  const int64_t us = ts.seconds() * 1000000 + ts.nanos() / 1000;
  return us < 0 ? 0 : static_cast<uint64_t>(us);
}

void SeekToLastWithPrefix(rocksdb::Iterator* it, std::string_view prefix) {
  std::string end(prefix);
  end.back() = static_cast<char>(end.back() + 1);
  it->SeekForPrev(rocksdb::Slice(end));
  if (it->Valid() && it->key().ToStringView() == end) {
    it->Prev();
  }
}

absl::StatusOr<uint64_t> ReadSeq(const store::Store& store, const char* key) {
  std::string value;
  absl::Status s = store.Get(kMeta, key, &value);
  if (absl::IsNotFound(s)) {
    return 0;
  }
  if (!s.ok()) {
    return s;
  }
  if (value.size() != 8) {
    return absl::DataLossError(absl::StrCat("audit meta ", key, ": malformed"));
  }
  return store::DecodeSeq(value);
}

std::string Shorten(absl::string_view value) {
  if (value.size() <= kMaxDescribedValue) {
    return std::string(value);
  }
  return absl::StrCat(value.substr(0, kMaxDescribedValue), "...");
}

}  // namespace asb::audit::internal
