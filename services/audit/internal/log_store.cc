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

absl::StatusOr<uint64_t> FirstStoredEntry(const store::Store& store, uint64_t from) {
  std::string raw;
  for (uint64_t i = from; i < from + kMaxProbe; ++i) {
    absl::Status s = store.GetStored(kEntries, store::EncodeSeq(i), &raw);
    if (s.ok()) {
      return i;
    }
    if (!absl::IsNotFound(s)) {
      return s;
    }
  }
  return absl::DataLossError(
      absl::StrCat("audit entries: an entry after ", from - 1, " cannot be read"));
}

absl::StatusOr<std::string> CaseOfEntry(const store::Store& store, uint64_t index) {
  const std::string suffix = std::string(1, '\0') + store::EncodeSeq(index);
  auto it = store.NewScanIterator(kByCase);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() > suffix.size() && key.substr(key.size() - suffix.size()) == suffix) {
      return std::string(key.substr(0, key.size() - suffix.size()));
    }
  }
  if (!it->status().ok()) {
    return store::FromRocks(it->status(), "audit by_case");
  }
  return std::string();
}

asb::v1::AuditEntry DamagedEntry(const store::Store& store, uint64_t index, std::string why,
                                 std::string case_id) {
  asb::v1::AuditEntry e;
  e.set_index(index);
  std::string leaf;
  if (store.Get(kMeta, LeafKey(index), &leaf).ok()) {
    e.set_leaf_hash(std::move(leaf));
  }
  if (!case_id.empty()) {
    e.mutable_record()->set_case_id(std::move(case_id));
  }
  e.set_damage(std::move(why));
  return e;
}

std::string Shorten(absl::string_view value) {
  if (value.size() <= kMaxDescribedValue) {
    return std::string(value);
  }
  return absl::StrCat(value.substr(0, kMaxDescribedValue), "...");
}

}  // namespace asb::audit::internal
