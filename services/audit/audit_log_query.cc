// AuditLog's reads for auditors: Query (by index or by scan, with time blocks skipped),
// Get, and the description of a query for its own audit record.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/auditlog/entry.h"
#include "common/model/model.h"
#include "google/protobuf/util/time_util.h"
#include "services/audit/audit_log.h"
#include "services/audit/internal/log_store.h"

namespace asb::audit {

using ::asb::audit::internal::CaseOfEntry;
using ::asb::audit::internal::DamagedEntry;
using ::asb::audit::internal::FirstStoredEntry;
using ::asb::audit::internal::IndexPrefix;
using ::asb::audit::internal::kByAgency;
using ::asb::audit::internal::kByCase;
using ::asb::audit::internal::kByOfficer;
using ::asb::audit::internal::kBySubject;
using ::asb::audit::internal::kEntries;
using ::asb::audit::internal::kMeta;
using ::asb::audit::internal::MicrosOf;
using ::asb::audit::internal::Shorten;
using ::asb::audit::internal::TimeBlockKey;

namespace {

// Damaged entries whose case is looked up in the by_case index (a scan) per query page.
constexpr int kMaxCaseLookups = 8;

bool ValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.nanos() >= 0 && ts.nanos() < 1000000000;
}

bool Matches(const asb::v1::AuditEntry& entry, const asb::v1::AuditQueryRequest& request) {
  const asb::v1::AuditRecord& r = entry.record();
  if (!request.case_id().empty() && r.case_id() != request.case_id()) {
    return false;
  }
  if (!request.agency().empty() && r.actor_agency() != request.agency() &&
      r.recipient_agency() != request.agency()) {
    return false;
  }
  if (!request.actor().empty() && r.actor() != request.actor()) {
    return false;
  }
  if (request.kinds_size() > 0 && std::find(request.kinds().begin(), request.kinds().end(),
                                            r.kind()) == request.kinds().end()) {
    return false;
  }
  if (!request.subject_key().empty() &&
      std::find(r.subject_keys().begin(), r.subject_keys().end(), request.subject_key()) ==
          r.subject_keys().end()) {
    return false;
  }
  if (!request.purpose().empty() && r.on_behalf_of().purpose() != request.purpose() &&
      std::none_of(
          r.justifications().begin(), r.justifications().end(),
          [&](const asb::v1::Justification& j) { return j.purpose() == request.purpose(); })) {
    return false;
  }
  if (!request.officer_id().empty() && r.on_behalf_of().officer_id() != request.officer_id()) {
    return false;
  }
  if (request.has_since() && ::asb::model::ToTime(r.at()) < ::asb::model::ToTime(request.since())) {
    return false;
  }
  if (request.has_until() &&
      ::asb::model::ToTime(r.at()) >= ::asb::model::ToTime(request.until())) {
    return false;
  }
  return true;
}

// True if the request filters entries (beyond after_index and limit).
bool HasFilter(const asb::v1::AuditQueryRequest& request) {
  return !request.case_id().empty() || !request.agency().empty() || !request.actor().empty() ||
         request.kinds_size() > 0 || !request.subject_key().empty() || !request.purpose().empty() ||
         !request.officer_id().empty() || request.has_since() || request.has_until();
}

}  // namespace

absl::StatusOr<asb::v1::AuditQueryResponse> AuditLog::Query(
    const asb::v1::AuditQueryRequest& request) const {
  if ((request.has_since() && !ValidTimestamp(request.since())) ||
      (request.has_until() && !ValidTimestamp(request.until()))) {
    return absl::InvalidArgumentError("since/until: invalid timestamp");
  }
  if (request.has_since() && request.has_until() &&
      ::asb::model::ToTime(request.since()) >= ::asb::model::ToTime(request.until())) {
    return absl::InvalidArgumentError("since: must be before until");
  }
  const uint32_t limit =
      request.limit() == 0 ? kDefaultLimit : std::min<uint32_t>(request.limit(), kMaxLimit);

  asb::v1::AuditQueryResponse response;
  response.set_log_size(size_);
  const uint64_t after = std::max(request.after_index(), expired_through_);
  if (after >= size_) {
    return response;
  }
  const uint64_t first = after + 1;

  // Either walk an index (keys prefix + EncodeSeq(index)) or the entries themselves.
  std::string index_cf;
  std::string prefix;
  if (!request.case_id().empty()) {
    index_cf = kByCase;
    prefix = IndexPrefix(request.case_id());
  } else if (!request.subject_key().empty()) {
    index_cf = kBySubject;
    prefix = IndexPrefix(request.subject_key());
  } else if (!request.officer_id().empty()) {
    index_cf = kByOfficer;
    prefix = IndexPrefix(request.officer_id());
  } else if (!request.agency().empty()) {
    index_cf = kByAgency;
    prefix = IndexPrefix(request.agency());
  }
  const bool use_index = !index_cf.empty();
  // A walk of the entries themselves may read millions (a verifier's pages): a scan iterator.
  auto it = use_index ? store_->NewIterator(index_cf) : store_->NewScanIterator(kEntries);
  const std::string start = use_index ? prefix + store::EncodeSeq(first) : store::EncodeSeq(first);
  it->Seek(rocksdb::Slice(start));

  uint64_t scanned = 0;
  uint64_t last_examined = 0;
  bool more = false;  // a further match exists (or the scan budget ran out)
  // Entries are parsed straight into the page; a slot whose entry does not match is reused.
  // Stored entries are copied as they are, parsed (into scratch) only to check filters.
  asb::v1::AuditEntry* slot = nullptr;
  asb::v1::AuditEntry scratch;
  const bool filtered = HasFilter(request);
  uint32_t returned = 0;
  uint64_t last_returned = 0;
  std::string value;
  // With a time range, a whole block of entries whose summary lies outside it is skipped.
  const bool by_time = request.has_since() || request.has_until();
  const uint64_t since_us = request.has_since() ? MicrosOf(request.since()) : 0;
  const uint64_t until_us =
      request.has_until() ? MicrosOf(request.until()) : std::numeric_limits<uint64_t>::max();
  uint64_t block_checked_through = 0;
  // An unfiltered walk (a verifier's pages) stands for every index in order: an entry that is
  // missing or cannot be read is given in its place (AuditEntry.damage), so the verifier names
  // it and goes on. Other queries list such entries in response.damaged and go on.
  const bool walk = !filtered && !use_index;
  uint64_t expected = first;  // walk: the next index to give
  int case_lookups = 0;
  // One damaged entry: given in its place (walk) or listed; false once the page is full.
  auto damaged = [&](uint64_t index, const std::string& why) {
    std::string case_id;
    if (case_lookups < kMaxCaseLookups) {
      ++case_lookups;
      case_id = CaseOfEntry(*store_, index).value_or("");
    }
    if (!walk) {
      if (response.damaged_size() > 0 &&
          response.damaged(response.damaged_size() - 1).last() + 1 == index &&
          response.damaged(response.damaged_size() - 1).what() == why && case_id.empty()) {
        response.mutable_damaged(response.damaged_size() - 1)->set_last(index);
        return true;
      }
      asb::v1::AuditDamage* d = response.add_damaged();
      d->set_first(index);
      d->set_last(index);
      d->set_what(why);
      d->set_case_id(case_id);
      return true;
    }
    if (returned == limit) {
      more = true;
      return false;
    }
    ++returned;
    last_returned = index;
    asb::v1::AuditEntry placeholder = DamagedEntry(*store_, index, why, std::move(case_id));
    if (request.stored()) {
      AppendStoredEntry(placeholder.SerializeAsString(), response.mutable_stored_page());
    } else {
      if (slot == nullptr) {
        slot = response.add_entries();
      }
      *slot = std::move(placeholder);
      slot = nullptr;
    }
    return true;
  };
  // Walk: entries from `expected` up to (not including) `index` are missing.
  auto missing_before = [&](uint64_t index) {
    for (; walk && expected < index && expected <= size_; ++expected) {
      if (!damaged(expected, absl::StrCat("audit entry ", expected,
                                          " is missing from the store (its leaf hash remains)"))) {
        return false;
      }
    }
    return true;
  };
  bool advance = false;  // false right after a Seek
  while (true) {
    if (advance) {
      it->Next();
    }
    advance = true;
    if (!it->Valid()) {
      if (!it->status().ok() && !use_index && absl::IsDataLoss(store::FromRocks(it->status()))) {
        // A stored entry that does not decrypt: name it and go on after it.
        auto bad = FirstStoredEntry(*store_, std::max(first, last_examined + 1));
        if (!bad.ok()) {
          return bad.status();
        }
        if (*bad > size_) {
          break;
        }
        if (!missing_before(*bad)) {
          break;
        }
        ++scanned;
        last_examined = *bad;
        expected = *bad + 1;
        if (!damaged(*bad, absl::StrCat("audit entry ", *bad,
                                        " cannot be read: its stored bytes do not authenticate "
                                        "(altered, or corrupt on disk)"))) {
          break;
        }
        it->Seek(rocksdb::Slice(store::EncodeSeq(*bad + 1)));
        advance = false;
        continue;
      }
      break;
    }
    const rocksdb::Slice key = it->key();
    uint64_t index = 0;
    if (use_index) {
      if (!key.starts_with(rocksdb::Slice(prefix))) {
        break;
      }
      if (key.size() != prefix.size() + 8) {
        continue;  // a longer value that shares the prefix (one containing '\0')
      }
      index = store::DecodeSeq(std::string_view(key.data() + prefix.size(), 8));
    } else {
      if (key.size() != 8) {
        return absl::DataLossError("audit entries: malformed key");
      }
      index = store::DecodeSeq(std::string_view(key.data(), 8));
    }
    if (index > size_) {
      break;  // committed after this query started: leave it to the next page
    }
    if (by_time && index > block_checked_through) {
      const uint64_t block = (index - 1) / kTimeBlock;
      const uint64_t block_last = (block + 1) * kTimeBlock;
      block_checked_through = block_last;
      std::string span;
      if (block_last <= size_ && store_->Get(kMeta, TimeBlockKey(block), &span).ok() &&
          span.size() == 16 &&
          (store::DecodeSeq(std::string_view(span.data() + 8, 8)) < since_us ||
           store::DecodeSeq(std::string_view(span.data(), 8)) >= until_us)) {
        // No entry of this block is in the range: go on after it.
        last_examined = block_last;
        it->Seek(use_index ? rocksdb::Slice(prefix + store::EncodeSeq(block_last + 1))
                           : rocksdb::Slice(store::EncodeSeq(block_last + 1)));
        advance = false;
        continue;
      }
    }
    if (scanned >= kMaxScan) {
      more = true;
      break;
    }
    if (!missing_before(index)) {
      break;
    }
    ++scanned;
    last_examined = index;
    expected = index + 1;

    std::string_view bytes;
    if (use_index) {
      absl::Status s = store_->Get(kEntries, store::EncodeSeq(index), &value);
      if (!s.ok()) {
        if (absl::IsNotFound(s)) {
          damaged(index, absl::StrCat("the index names audit entry ", index, ", which is missing"));
          continue;
        }
        if (absl::IsDataLoss(s)) {
          damaged(index, absl::StrCat("audit entry ", index,
                                      " cannot be read: its stored bytes do not authenticate "
                                      "(altered, or corrupt on disk)"));
          continue;
        }
        return s;
      }
      bytes = value;
    } else {
      bytes = it->value().ToStringView();
    }
    asb::v1::AuditEntry* parsed = nullptr;
    if (!request.stored()) {
      if (slot == nullptr) {
        slot = response.add_entries();
      }
      parsed = slot;
    } else if (filtered) {
      parsed = &scratch;
    }
    if (parsed != nullptr) {
      if (!parsed->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        if (!damaged(index, absl::StrCat("audit entry ", index,
                                         ": unparsable (its stored bytes are not an entry)"))) {
          break;
        }
        continue;
      }
      if (!Matches(*parsed, request)) {
        continue;
      }
    }
    if (returned == limit) {
      more = true;  // one match beyond the page: there is a next page
      break;
    }
    ++returned;
    last_returned = index;
    if (request.stored()) {
      AppendStoredEntry(bytes, response.mutable_stored_page());
    } else {
      slot = nullptr;
    }
  }
  if (!it->status().ok() && !(absl::IsDataLoss(store::FromRocks(it->status())) && !use_index)) {
    return store::FromRocks(it->status(), "audit query");
  }
  // Walk: entries missing at the end of the log (their leaf hashes remain).
  if (!more && walk && scanned < kMaxScan) {
    missing_before(size_ + 1);
  }
  if (slot != nullptr) {
    response.mutable_entries()->RemoveLast();
  }
  if (more) {
    // Continue after the last entry returned; if the scan budget ran out first, after the last
    // one examined (all before it were looked at).
    response.set_next_after_index(returned == limit ? last_returned : last_examined);
  }
  return response;
}

absl::StatusOr<asb::v1::AuditEntry> AuditLog::Get(uint64_t index) const {
  if (index != 0 && index <= expired_through_) {
    return absl::NotFoundError(absl::StrCat("audit entry ", index, " has expired (entries 1..",
                                            expired_through_,
                                            " were deleted under the retention policy)"));
  }
  std::string value;
  absl::Status s = store_->Get(kEntries, store::EncodeSeq(index), &value);
  if (!s.ok()) {
    return absl::IsNotFound(s) ? absl::NotFoundError(absl::StrCat("no audit entry ", index)) : s;
  }
  asb::v1::AuditEntry entry;
  if (!entry.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("audit entry ", index, ": unparsable"));
  }
  return entry;
}

bool AuditLog::IsStoredWalk(const asb::v1::AuditQueryRequest& request) {
  return request.stored() && !HasFilter(request);
}

std::string AuditLog::DescribeQuery(const asb::v1::AuditQueryRequest& request) {
  std::vector<std::string> parts;
  if (!request.case_id().empty()) {
    parts.push_back(absl::StrCat("case_id=", Shorten(request.case_id())));
  }
  if (!request.agency().empty()) {
    parts.push_back(absl::StrCat("agency=", Shorten(request.agency())));
  }
  if (!request.actor().empty()) {
    parts.push_back(absl::StrCat("actor=", Shorten(request.actor())));
  }
  if (!request.subject_key().empty()) {
    parts.push_back("subject_key=(given)");
  }
  if (!request.purpose().empty()) {
    parts.push_back(absl::StrCat("purpose=", Shorten(request.purpose())));
  }
  if (!request.officer_id().empty()) {
    parts.push_back(absl::StrCat("officer=", Shorten(request.officer_id())));
  }
  if (request.kinds_size() > 0) {
    std::vector<std::string> kinds;
    for (int kind : request.kinds()) {
      std::string name = asb::v1::AuditKind_IsValid(kind)
                             ? asb::v1::AuditKind_Name(static_cast<asb::v1::AuditKind>(kind))
                             : absl::StrCat(kind);
      absl::string_view short_name(name);
      absl::ConsumePrefix(&short_name, "AUDIT_KIND_");
      kinds.emplace_back(short_name);
    }
    parts.push_back(absl::StrCat("kinds=", absl::StrJoin(kinds, ",")));
  }
  if (request.has_since()) {
    parts.push_back(
        absl::StrCat("since=", google::protobuf::util::TimeUtil::ToString(request.since())));
  }
  if (request.has_until()) {
    parts.push_back(
        absl::StrCat("until=", google::protobuf::util::TimeUtil::ToString(request.until())));
  }
  if (request.after_index() != 0) {
    parts.push_back(absl::StrCat("after_index=", request.after_index()));
  }
  if (request.limit() != 0) {
    parts.push_back(absl::StrCat("limit=", request.limit()));
  }
  if (parts.empty()) {
    return "audit query: all entries";
  }
  return absl::StrCat("audit query: ", absl::StrJoin(parts, " "));
}

}  // namespace asb::audit
