#include "services/sharing/aggregates.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/status/macros.h"

namespace asb::sharing {
namespace {

constexpr char kSep = '\0';
constexpr int64_t kSecondsPerDay = 86400;
// Days from first incident to first action are kept exactly up to this (longer: this).
constexpr uint32_t kMaxDays = 3650;

std::string Key(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (std::string_view p : parts) {
    if (!key.empty()) {
      key.push_back(kSep);
    }
    key.append(p);
  }
  return key;
}

std::string Prefix(std::initializer_list<std::string_view> parts) {
  std::string key = Key(parts);
  key.push_back(kSep);
  return key;
}

std::string EncodeCount(uint64_t n) { return store::EncodeSeq(n); }

absl::StatusOr<uint64_t> DecodeCount(std::string_view v) {
  if (v.size() != 8) {
    return absl::DataLossError("an aggregate count is not 8 bytes");
  }
  return store::DecodeSeq(v);
}

std::string EncodeDays(uint32_t days) {
  std::string s(4, '\0');
  for (int i = 3; i >= 0; --i) {
    s[i] = static_cast<char>(days & 0xff);
    days >>= 8;
  }
  return s;
}

uint32_t DecodeDays(std::string_view s) {
  uint32_t d = 0;
  for (char c : s.substr(0, 4)) {
    d = (d << 8) | static_cast<unsigned char>(c);
  }
  return d;
}

char LevelChar(asb::v1::AreaLevel level) {
  switch (level) {
    case asb::v1::AREA_LEVEL_WARD:
      return 'w';
    case asb::v1::AREA_LEVEL_DISTRICT:
      return 'd';
    default:
      return 'l';
  }
}

const absl::TimeZone& UkZone() {
  static const absl::TimeZone* zone = [] {
    auto* z = new absl::TimeZone(absl::UTCTimeZone());
    absl::TimeZone london;
    if (absl::LoadTimeZone("Europe/London", &london)) {
      *z = london;
    }
    return z;
  }();
  return *zone;
}

// The NUL-separated fields of a key.
std::vector<std::string_view> Split(std::string_view key) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t at = key.find(kSep, start);
    if (at == std::string_view::npos) {
      parts.push_back(key.substr(start));
      return parts;
    }
    parts.push_back(key.substr(start, at - start));
    start = at + 1;
  }
}

// Calls fn(parts, value) for every key with `prefix` in the column family.
absl::Status Scan(
    const store::Store* store, const std::string& prefix,
    const std::function<absl::Status(const std::vector<std::string_view>&, std::string_view)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it = store->NewIterator(kAggregatesColumnFamily);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    ASB_RETURN_IF_ERROR(fn(Split(key.substr(prefix.size())),
                           std::string_view(it->value().data(), it->value().size())));
  }
  return store::FromRocks(it->status(), "reading aggregates");
}

// Calls fn(first, second, count) for every two-part key with `prefix`.
absl::Status ScanPairs(
    const store::Store* store, const std::string& prefix, const char* what,
    const std::function<void(std::string_view, std::string_view, uint64_t)>& fn) {
  return Scan(store, prefix,
              [&](const std::vector<std::string_view>& parts, std::string_view value) {
                if (parts.size() != 2) {
                  return absl::DataLossError(absl::StrCat("a malformed ", what, " count key"));
                }
                ASB_ASSIGN_OR_RETURN(uint64_t n, DecodeCount(value));
                fn(parts[0], parts[1], n);
                return absl::OkStatus();
              });
}

const asb::v1::Location& PlaceOf(const asb::v1::Incident& incident, const asb::v1::Case& c) {
  return incident.has_location() ? incident.location() : c.location();
}

bool IsSnapPoint(std::string_view description) {
  return description.substr(0, 11) == "On or near ";
}

}  // namespace

std::string CategoryKey(const asb::v1::Incident& incident) {
  if (!incident.crime_type().empty()) {
    return absl::StrCat("crime:", incident.crime_type());
  }
  switch (incident.category()) {
    case asb::v1::NSIR_CATEGORY_PERSONAL:
      return "personal";
    case asb::v1::NSIR_CATEGORY_NUISANCE:
      return "nuisance";
    case asb::v1::NSIR_CATEGORY_ENVIRONMENTAL:
      return "environmental";
    case asb::v1::NSIR_CATEGORY_NOT_KNOWN:
      return "not-known";
    default:
      return "unspecified";
  }
}

bool CategoryMatches(std::string_view key, std::string_view wanted) {
  if (wanted.empty() || wanted == "asb") {
    return IsAsbCategory(key);
  }
  if (wanted == "all") {
    return true;
  }
  if (wanted == "crime") {
    return !IsAsbCategory(key);
  }
  return key == wanted;
}

bool ValidQueryCategory(std::string_view wanted) {
  return wanted.empty() || wanted == "asb" || wanted == "all" || wanted == "crime" ||
         wanted == "personal" || wanted == "nuisance" || wanted == "environmental" ||
         wanted == "not-known" || wanted == "unspecified" ||
         (wanted.substr(0, 6) == "crime:" && wanted.size() > 6);
}

std::string MonthOf(int64_t unix_seconds) {
  const absl::CivilSecond cs = absl::ToCivilSecond(absl::FromUnixSeconds(unix_seconds), UkZone());
  return absl::StrFormat("%04d-%02d", cs.year(), cs.month());
}

bool ParseMonth(std::string_view month, int* year, int* mon) {
  if (month.size() != 7 || month[4] != '-') {
    return false;
  }
  for (int i : {0, 1, 2, 3, 5, 6}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(month[i]))) {
      return false;
    }
  }
  int y = 0, m = 0;
  const absl::string_view text(month.data(), month.size());
  if (!absl::SimpleAtoi(text.substr(0, 4), &y) || !absl::SimpleAtoi(text.substr(5, 2), &m) ||
      m < 1 || m > 12 || y < 1900) {
    return false;
  }
  *year = y;
  *mon = m;
  return true;
}

std::string AddMonths(std::string_view month, int delta) {
  int y = 0, m = 0;
  ParseMonth(month, &y, &m);
  const int total = y * 12 + (m - 1) + delta;
  return absl::StrFormat("%04d-%02d", total / 12, total % 12 + 1);
}

Aggregates::Aggregates(store::Store* store) : store_(store) {}

void Aggregates::DiscardUncommitted() {
  dirty_.clear();
  dirty_names_.clear();
  dirty_batch_ = nullptr;
  dirty_count_ = 0;
  ++generation_;
}

void Aggregates::Track(store::Batch* batch) {
  if (dirty_batch_ != nullptr && (dirty_batch_ != batch || batch->count() < dirty_count_)) {
    DiscardUncommitted();
  }
  if (dirty_batch_ != batch) {
    dirty_batch_ = batch;
    const uint64_t generation = generation_;
    batch->OnCommit([this, generation] {
      if (generation_ == generation) {
        names_.insert(dirty_names_.begin(), dirty_names_.end());
        DiscardUncommitted();
      }
    });
    batch->OnAbort([this, generation] {
      if (generation_ == generation) {
        DiscardUncommitted();
      }
    });
  }
}

absl::StatusOr<uint64_t> Aggregates::Read(const std::string& key) const {
  if (auto it = dirty_.find(key); it != dirty_.end()) {
    return it->second;
  }
  std::string value;
  absl::Status got = store_->Get(kAggregatesColumnFamily, key, &value);
  if (absl::IsNotFound(got)) {
    return 0;
  }
  ASB_RETURN_IF_ERROR(got);
  return DecodeCount(value);
}

absl::Status Aggregates::Add(const std::string& key, int64_t delta, store::Batch* batch) {
  ASB_ASSIGN_OR_RETURN(uint64_t now, Read(key));
  uint64_t next = 0;
  if (delta >= 0) {
    next = now + static_cast<uint64_t>(delta);
  } else {
    const auto down = static_cast<uint64_t>(-delta);
    next = now > down ? now - down : 0;
  }
  if (next == 0) {
    batch->Delete(kAggregatesColumnFamily, key);
  } else {
    batch->Put(kAggregatesColumnFamily, key, EncodeCount(next));
  }
  dirty_[key] = next;
  dirty_count_ = batch->count();
  return absl::OkStatus();
}

absl::Status Aggregates::CountIncident(const asb::v1::Incident& incident, const asb::v1::Case& c,
                                       const std::string& source, int64_t delta,
                                       store::Batch* batch) {
  const asb::v1::Location& place = PlaceOf(incident, c);
  const std::string month = MonthOf(incident.occurred_at().seconds());
  const std::string category = CategoryKey(incident);
  ASB_RETURN_IF_ERROR(
      Add(Key({"i", "l", month, place.lsoa_code(), category, source}), delta, batch));
  ASB_RETURN_IF_ERROR(Add(Key({"i", "w", month, place.ward(), category, source}), delta, batch));
  ASB_RETURN_IF_ERROR(
      Add(Key({"i", "d", month, place.district(), category, source}), delta, batch));
  // Only police.uk's published snap points (the area pictures the importer opens) are kept: a
  // case system's "On or near …" text is the place of a real case, personal data.
  if (c.flags().area_intelligence() && IsAsbCategory(category) &&
      IsSnapPoint(place.description()) && !place.lsoa_code().empty()) {
    ASB_RETURN_IF_ERROR(
        Add(Key({"p", month, place.lsoa_code(), place.description()}), delta, batch));
  }
  if (delta > 0 && !place.lsoa_code().empty() && !place.lsoa_name().empty() &&
      !names_.contains(place.lsoa_code()) && !dirty_names_.contains(place.lsoa_code())) {
    std::string stored;
    const std::string key = Key({"n", "l", place.lsoa_code()});
    absl::Status got = store_->Get(kAggregatesColumnFamily, key, &stored);
    if (!got.ok() && !absl::IsNotFound(got)) {
      return got;
    }
    if (stored != place.lsoa_name()) {
      batch->Put(kAggregatesColumnFamily, key, place.lsoa_name());
      dirty_count_ = batch->count();
    }
    dirty_names_.insert(place.lsoa_code());
  }
  return absl::OkStatus();
}

absl::Status Aggregates::Record(const CaseFolder::Applied& a, store::Batch* batch) {
  Track(batch);
  const asb::v1::Case& c = a.case_after;
  const std::string month = MonthOf(a.occurred_at.seconds());
  const bool intelligence = c.flags().area_intelligence();
  switch (a.type) {
    case asb::v1::EVENT_TYPE_INCIDENT_REPORTED: {
      // The incident as folded: a correction replaced it in place, a new one was appended.
      const asb::v1::Incident* now = nullptr;
      if (a.replaced_incident.has_value()) {
        for (const asb::v1::Incident& inc : c.incidents()) {
          if (inc.incident_id() == a.replaced_incident->incident_id()) {
            now = &inc;
          }
        }
      } else if (c.incidents_size() > 0) {
        now = &c.incidents(c.incidents_size() - 1);
      }
      if (now == nullptr) {
        return absl::OkStatus();
      }
      if (a.replaced_incident.has_value()) {
        // A correction: the old version no longer counts (its source was recorded as the
        // source of this event too: corrections come from the reporting feed).
        ASB_RETURN_IF_ERROR(CountIncident(*a.replaced_incident, c, a.source_agency, -1, batch));
      }
      return CountIncident(*now, c, a.source_agency, +1, batch);
    }
    case asb::v1::EVENT_TYPE_CASE_OPENED:
      return Add(
          Key({"c", MonthOf(c.opened_at().seconds()), intelligence ? "intel-opened" : "opened"}),
          +1, batch);
    case asb::v1::EVENT_TYPE_CASE_CLOSED:
      if (a.status_before != asb::v1::CASE_STATUS_OPEN) {
        return absl::OkStatus();  // closed again: counted once
      }
      return Add(
          Key({"c", MonthOf(c.closed_at().seconds()), intelligence ? "intel-closed" : "closed"}),
          +1, batch);
    case asb::v1::EVENT_TYPE_ORDER_ISSUED: {
      const std::string type = asb::v1::OrderType_Name(a.order_type);
      ASB_RETURN_IF_ERROR(Add(Key({"o", month, type, "issued"}), +1, batch));
      if (!a.first_order || !a.first_incident_at.has_value()) {
        return absl::OkStatus();
      }
      const int64_t first = a.first_incident_at->seconds();
      int64_t issued = a.occurred_at.seconds();
      for (const asb::v1::Order& o : c.orders()) {
        if (o.order_id() == a.order_id && o.has_issued_at()) {
          issued = o.issued_at().seconds();
        }
      }
      if (issued < first) {
        return absl::OkStatus();  // an action before any incident: nothing to time
      }
      const auto days =
          static_cast<uint32_t>(std::min<int64_t>((issued - first) / kSecondsPerDay, kMaxDays));
      return Add(Key({"f", MonthOf(issued)}) + kSep + EncodeDays(days), +1, batch);
    }
    case asb::v1::EVENT_TYPE_ORDER_BREACHED:
      return Add(Key({"o", month, asb::v1::OrderType_Name(a.order_type), "breached"}), +1, batch);
    case asb::v1::EVENT_TYPE_ORDER_EXPIRED:
      return Add(Key({"o", month, asb::v1::OrderType_Name(a.order_type), "expired"}), +1, batch);
    case asb::v1::EVENT_TYPE_ORDER_DISCHARGED:
      return Add(Key({"o", month, asb::v1::OrderType_Name(a.order_type), "discharged"}), +1, batch);
    case asb::v1::EVENT_TYPE_CASE_REVIEW_APPLIED:
      return Add(Key({"r", month, "applied"}), +1, batch);
    case asb::v1::EVENT_TYPE_CASE_REVIEW_DECIDED:
      return RecordDecision(a, month, batch);
    case asb::v1::EVENT_TYPE_CASE_REVIEW_COMPLETED:
      return Add(Key({"r", month, "completed"}), +1, batch);
    case asb::v1::EVENT_TYPE_CASE_REVIEW_APPEALED:
      return Add(Key({"r", month, "appealed"}), +1, batch);
    default:
      return absl::OkStatus();
  }
}

absl::Status Aggregates::RecordDecision(const CaseFolder::Applied& a, const std::string& month,
                                        store::Batch* batch) {
  // The application as the decision left it (the case review state of the folded case).
  const asb::v1::CaseReviewApplication* app = nullptr;
  for (const asb::v1::CaseReviewApplication& candidate :
       a.case_after.case_review().applications()) {
    if (candidate.application_id() == a.application_id) {
      app = &candidate;
    }
  }
  ASB_RETURN_IF_ERROR(Add(Key({"r", month, "decided"}), +1, batch));
  if (app == nullptr || !app->has_decided_at()) {
    return absl::OkStatus();
  }
  if (app->threshold_met()) {
    ASB_RETURN_IF_ERROR(Add(Key({"r", month, "met"}), +1, batch));
  }
  if (app->has_decision_due() && app->decided_at().seconds() > app->decision_due().seconds()) {
    ASB_RETURN_IF_ERROR(Add(Key({"r", month, "late"}), +1, batch));
  }
  if (!app->has_applied_at() || app->decided_at().seconds() < app->applied_at().seconds()) {
    return absl::OkStatus();  // a decision recorded as before its application: nothing to time
  }
  const auto days = static_cast<uint32_t>(std::min<int64_t>(
      (app->decided_at().seconds() - app->applied_at().seconds()) / kSecondsPerDay, kMaxDays));
  return Add(Key({"rd", month}) + kSep + EncodeDays(days), +1, batch);
}

absl::Status Aggregates::ForEachIncident(
    asb::v1::AreaLevel level, std::string_view month,
    const std::function<void(const IncidentCount&)>& fn) const {
  const char l[2] = {LevelChar(level), '\0'};
  return Scan(
      store_, Prefix({"i", std::string_view(l, 1), month}),
      [&](const std::vector<std::string_view>& parts, std::string_view value) {
        if (parts.size() != 3) {
          return absl::DataLossError("a malformed incident count key");
        }
        ASB_ASSIGN_OR_RETURN(uint64_t n, DecodeCount(value));
        fn(IncidentCount{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]), n});
        return absl::OkStatus();
      });
}

absl::Status Aggregates::ForEachLocation(
    std::string_view month,
    const std::function<void(std::string_view, std::string_view, uint64_t)>& fn) const {
  return ScanPairs(store_, Prefix({"p", month}), "location", fn);
}

absl::Status Aggregates::ForEachOrder(
    std::string_view month,
    const std::function<void(std::string_view, std::string_view, uint64_t)>& fn) const {
  return ScanPairs(store_, Prefix({"o", month}), "order", fn);
}

absl::Status Aggregates::ForEachFirstAction(
    std::string_view month, const std::function<void(uint32_t, uint64_t)>& fn) const {
  return ForEachDays("f", month, fn);
}

absl::Status Aggregates::ForEachCaseReviewDecision(
    std::string_view month, const std::function<void(uint32_t, uint64_t)>& fn) const {
  return ForEachDays("rd", month, fn);
}

absl::StatusOr<absl::flat_hash_map<std::string, uint64_t>> Aggregates::CaseReviewCounts(
    std::string_view month) const {
  return CountsUnder("r", month);
}

absl::Status Aggregates::ForEachDays(std::string_view kind, std::string_view month,
                                     const std::function<void(uint32_t, uint64_t)>& fn) const {
  const std::string prefix = Prefix({kind, month});
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kAggregatesColumnFamily);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    ASB_ASSIGN_OR_RETURN(uint64_t n,
                         DecodeCount(std::string_view(it->value().data(), it->value().size())));
    fn(DecodeDays(key.substr(prefix.size())), n);
  }
  return store::FromRocks(it->status(), "reading aggregates");
}

absl::StatusOr<absl::flat_hash_map<std::string, uint64_t>> Aggregates::CaseCounts(
    std::string_view month) const {
  return CountsUnder("c", month);
}

absl::StatusOr<absl::flat_hash_map<std::string, uint64_t>> Aggregates::CountsUnder(
    std::string_view kind, std::string_view month) const {
  absl::flat_hash_map<std::string, uint64_t> out;
  ASB_RETURN_IF_ERROR(
      Scan(store_, Prefix({kind, month}),
           [&](const std::vector<std::string_view>& parts, std::string_view value) -> absl::Status {
             ASB_ASSIGN_OR_RETURN(uint64_t n, DecodeCount(value));
             out[std::string(parts[0])] = n;
             return absl::OkStatus();
           }));
  return out;
}

absl::Status Aggregates::ForEachCaseMonth(
    std::string_view through,
    const std::function<void(std::string_view, uint64_t, uint64_t)>& fn) const {
  std::string month;
  uint64_t opened = 0, closed = 0;
  auto flush = [&] {
    if (!month.empty()) {
      fn(month, opened, closed);
    }
  };
  ASB_RETURN_IF_ERROR(
      Scan(store_, Prefix({"c"}),
           [&](const std::vector<std::string_view>& parts, std::string_view value) -> absl::Status {
             if (parts.size() != 2) {
               return absl::DataLossError("a malformed case count key");
             }
             if (!through.empty() && parts[0] > through) {
               return absl::OkStatus();
             }
             if (parts[0] != month) {
               flush();
               month = std::string(parts[0]);
               opened = closed = 0;
             }
             ASB_ASSIGN_OR_RETURN(uint64_t n, DecodeCount(value));
             if (parts[1] == "opened") {
               opened = n;
             } else if (parts[1] == "closed") {
               closed = n;
             }
             return absl::OkStatus();
           }));
  flush();
  return absl::OkStatus();
}

absl::StatusOr<bool> Aggregates::HasIncidents(std::string_view month) const {
  const std::string prefix = Prefix({"i", "d", month});
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kAggregatesColumnFamily);
  it->Seek(prefix);
  const bool found = it->Valid() && it->key().starts_with(prefix);
  ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading aggregates"));
  return found;
}

std::string Aggregates::LsoaName(std::string_view lsoa_code) const {
  std::string name;
  if (!store_->Get(kAggregatesColumnFamily, Key({"n", "l", lsoa_code}), &name).ok()) {
    return std::string();
  }
  return name;
}

}  // namespace asb::sharing
