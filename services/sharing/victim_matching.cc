#include "services/sharing/victim_matching.h"

#include <algorithm>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/macros.h"
#include "services/sharing/case_folder.h"

namespace asb::sharing {
namespace {

// Separators no person_id can hold (intake refuses control characters in ids), so a key over a
// name can never equal a key over a person_id.
constexpr char kNameDob[] = "\x1fname-dob\x1f";
constexpr char kUprn[] = "\x1fuprn\x1f";

std::string NormalisePart(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(u)) {
      out.push_back(absl::ascii_tolower(u));
    } else if (u >= 0x80) {
      out.push_back(ch);  // non-ASCII letters kept as they are
    }
  }
  return out;
}

std::string IndexKey(const std::string& key, const std::string& case_id,
                     const std::string& person_id) {
  return absl::StrCat(key, std::string(1, '\0'), case_id, std::string(1, '\0'), person_id);
}

}  // namespace

std::string NormaliseName(const std::string& given, const std::string& family) {
  return absl::StrCat(NormalisePart(given), " ", NormalisePart(family));
}

std::vector<MatchKey> MatchKeysOf(const policy::Policy& policy, const asb::v1::Person& person) {
  std::vector<MatchKey> out;
  out.push_back({policy.SubjectKey(person.person_id()), asb::v1::MATCH_BASIS_PERSON_ID});
  const std::string name = NormaliseName(person.given_name(), person.family_name());
  if (name.size() > 2 && name.front() != ' ' && name.back() != ' ' &&
      !person.date_of_birth().empty()) {
    out.push_back({policy.SubjectKey(absl::StrCat(kNameDob, name, "\x1f", person.date_of_birth())),
                   asb::v1::MATCH_BASIS_NAME_AND_DATE_OF_BIRTH});
  }
  if (!person.address().uprn().empty()) {
    out.push_back({policy.SubjectKey(absl::StrCat(kUprn, person.address().uprn())),
                   asb::v1::MATCH_BASIS_UPRN});
  }
  return out;
}

VictimIndex::VictimIndex(store::Store* store) : store_(store) {}

void VictimIndex::Bind(store::Batch* batch) {
  if (bound_ == batch) {
    return;
  }
  dirty_.clear();
  bound_ = batch;
  const uint64_t generation = ++generation_;
  auto reset = [this, generation] {
    if (generation_ == generation) {
      dirty_.clear();
      bound_ = nullptr;
      ++generation_;
    }
  };
  batch->OnCommit(reset);
  batch->OnAbort(reset);
}

absl::StatusOr<std::vector<VictimIndex::Entry>> VictimIndex::Lookup(const std::string& key) const {
  std::vector<Entry> out;
  const std::string prefix = key + std::string(1, '\0');
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kVictimIndexColumnFamily);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view rest = it->key().ToStringView().substr(prefix.size());
    const std::size_t nul = rest.find('\0');
    if (nul == std::string_view::npos) {
      continue;
    }
    Entry e;
    e.key = key;
    e.case_id = std::string(rest.substr(0, nul));
    e.person_id = std::string(rest.substr(nul + 1));
    e.basis = it->value().empty()
                  ? asb::v1::MATCH_BASIS_UNSPECIFIED
                  : static_cast<asb::v1::MatchBasis>(static_cast<unsigned char>(it->value()[0]));
    out.push_back(std::move(e));
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading the victim index"));
  if (auto d = dirty_.find(key); d != dirty_.end()) {
    for (const Entry& e : d->second) {
      out.push_back(e);
    }
  }
  return out;
}

absl::StatusOr<std::vector<VictimIndex::Entry>> VictimIndex::AddAndMatch(
    const std::string& case_id, const std::string& person_id, const std::vector<MatchKey>& keys,
    store::Batch* batch) {
  Bind(batch);
  std::map<std::pair<std::string, std::string>, Entry> found;
  std::vector<std::pair<std::string, Entry>> puts;
  for (const MatchKey& k : keys) {
    ASB_ASSIGN_OR_RETURN(std::vector<Entry> entries, Lookup(k.key));
    bool have = false;
    for (Entry& e : entries) {
      if (e.case_id == case_id) {
        have = have || e.person_id == person_id;
        continue;
      }
      auto [it, inserted] = found.emplace(std::make_pair(e.case_id, e.person_id), e);
      if (!inserted && e.basis < it->second.basis) {
        it->second = e;  // a stronger basis (lower number)
      }
    }
    if (!have) {
      Entry mine{k.key, case_id, person_id, k.basis};
      puts.emplace_back(k.key, std::move(mine));
    }
  }
  for (auto& [key, e] : puts) {
    batch->Put(kVictimIndexColumnFamily, IndexKey(key, e.case_id, e.person_id),
               std::string(1, static_cast<char>(e.basis)));
    dirty_[key].push_back(std::move(e));
  }
  std::vector<Entry> out;
  for (auto& [id, e] : found) {
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    if (a.basis != b.basis) {
      return a.basis < b.basis;
    }
    return a.case_id < b.case_id;
  });
  return out;
}

absl::Status VictimIndex::DeleteCases(const absl::flat_hash_set<std::string>& case_ids,
                                      store::Batch* batch) {
  Bind(batch);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kVictimIndexColumnFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view k = it->key().ToStringView();
    const std::size_t a = k.find('\0');
    const std::size_t b = a == std::string_view::npos ? a : k.find('\0', a + 1);
    if (b != std::string_view::npos && case_ids.contains(std::string(k.substr(a + 1, b - a - 1)))) {
      batch->Delete(kVictimIndexColumnFamily, k);
    }
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading the victim index"));
  for (auto& [key, entries] : dirty_) {
    entries.erase(std::remove_if(entries.begin(), entries.end(),
                                 [&](const Entry& e) { return case_ids.contains(e.case_id); }),
                  entries.end());
  }
  return absl::OkStatus();
}

absl::Status VictimIndex::ForEachShared(
    const std::function<bool(const std::vector<Entry>&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kVictimIndexColumnFamily);
  std::vector<Entry> group;
  auto flush = [&]() {
    std::set<std::string> cases;
    for (const Entry& e : group) {
      cases.insert(e.case_id);
    }
    const bool go_on = cases.size() < 2 || fn(group);
    group.clear();
    return go_on;
  };
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view k = it->key().ToStringView();
    const std::size_t a = k.find('\0');
    const std::size_t b = a == std::string_view::npos ? a : k.find('\0', a + 1);
    if (b == std::string_view::npos) {
      continue;
    }
    Entry e;
    e.key = std::string(k.substr(0, a));
    e.case_id = std::string(k.substr(a + 1, b - a - 1));
    e.person_id = std::string(k.substr(b + 1));
    e.basis = it->value().empty()
                  ? asb::v1::MATCH_BASIS_UNSPECIFIED
                  : static_cast<asb::v1::MatchBasis>(static_cast<unsigned char>(it->value()[0]));
    if (!group.empty() && group.front().key != e.key && !flush()) {
      return store::FromRocks(it->status(), "reading the victim index");
    }
    group.push_back(std::move(e));
  }
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading the victim index"));
  if (!group.empty()) {
    flush();
  }
  return absl::OkStatus();
}

}  // namespace asb::sharing
