#pragma once

// Depersonalised aggregates of asb-sharing (Crime and Disorder Act 1998 s.17A): counts kept in
// column family "aggregates" as events are folded, in the same Batch as the fold and the
// consumer's offset, so each event counts exactly once across crashes. Nothing kept here names a
// person, a case or free text: keys are months, areas (LSOA code, ward, district), NSIR
// categories or crime types, source agencies, order types, and police.uk snap points ("On or
// near …", published anonymised). Queries read counts, never cases.
//
// Keys (fields separated by NUL; values are 8-byte big-endian counts unless said otherwise):
//   i  level month area category source   incidents; level 'l' LSOA, 'w' ward, 'd' district
//   p  month lsoa location                ASB incidents at a snap point (area pictures only)
//   o  month order_type what              orders: issued / breached / expired / discharged
//   c  month what                         cases: opened / closed / intel-opened / intel-closed
//   f  month days(4 bytes BE)             cases whose first action came that month, by days
//                                         from the case's first incident
//   n  l lsoa_code                        the LSOA's ONS name (value: the name)

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/intelligence.pb.h"
#include "common/store/store.h"
#include "services/sharing/case_folder.h"

namespace asb::sharing {

// The category key of an incident: "personal", "nuisance", "environmental", "not-known",
// "unspecified", or "crime:<type>" for an imported crime.
std::string CategoryKey(const asb::v1::Incident& incident);
// True for the category keys of anti-social behaviour (not "crime:…").
inline bool IsAsbCategory(std::string_view key) { return key.substr(0, 6) != "crime:"; }
// Does a category key match a query's category ("asb", "all", "crime", "crime:X" or a key)?
bool CategoryMatches(std::string_view key, std::string_view wanted);
// "asb", "all", "crime", the NSIR keys and "crime:<type>" are the valid query categories.
bool ValidQueryCategory(std::string_view wanted);

// "YYYY-MM" of a time in the UK (Europe/London; UTC if the zone database is missing).
std::string MonthOf(int64_t unix_seconds);
// Checks "YYYY-MM"; sets year and month.
bool ParseMonth(std::string_view month, int* year, int* mon);
// The month `delta` months after `month` (negative: before). REQUIRES: ParseMonth(month).
std::string AddMonths(std::string_view month, int delta);

// Owns no storage: the Store belongs to the daemon and must outlive it. Thread-compatible (the
// daemon's loop thread only). Uncommitted changes of the batch in progress are kept in a dirty
// map read through by Record (as CaseFolder does), dropped when the batch commits or aborts or
// when Record is given another batch.
class Aggregates {
 public:
  explicit Aggregates(store::Store* store);

  // Counts one applied event in `batch`. On an error (kUnavailable / kDataLoss reading a count)
  // some counts of this event may already be in `batch`: the caller must not write it (the
  // consumer abandons a batch whose ApplyFn fails that way).
  absl::Status Record(const CaseFolder::Applied& applied, store::Batch* batch);

  // One stored incident count.
  struct IncidentCount {
    std::string area;
    std::string category;
    std::string source;
    uint64_t count = 0;
  };
  // Every incident count of `level` in `month` (committed or written), in key order.
  absl::Status ForEachIncident(asb::v1::AreaLevel level, std::string_view month,
                               const std::function<void(const IncidentCount&)>& fn) const;
  // Every snap-point count of `month`: (lsoa, location, count).
  absl::Status ForEachLocation(
      std::string_view month,
      const std::function<void(std::string_view, std::string_view, uint64_t)>& fn) const;
  // Every order count of `month`: (order type name, what, count).
  absl::Status ForEachOrder(
      std::string_view month,
      const std::function<void(std::string_view, std::string_view, uint64_t)>& fn) const;
  // Every first-action count of `month`: (days, count).
  absl::Status ForEachFirstAction(std::string_view month,
                                  const std::function<void(uint32_t, uint64_t)>& fn) const;
  // The case counts of one month: what ("opened", "closed", "intel-opened", "intel-closed") →
  // count.
  absl::StatusOr<absl::flat_hash_map<std::string, uint64_t>> CaseCounts(
      std::string_view month) const;
  // Every month with a case count, up to and including `through` ("" for all), in order, with
  // (opened, closed) of casework: for cases open at the end of a month.
  absl::Status ForEachCaseMonth(std::string_view through,
                                const std::function<void(std::string_view month, uint64_t opened,
                                                         uint64_t closed)>& fn) const;
  // True if any incident of any area was counted in `month`.
  absl::StatusOr<bool> HasIncidents(std::string_view month) const;
  // The ONS name of an LSOA, or "" if none was recorded.
  std::string LsoaName(std::string_view lsoa_code) const;

  // Forgets uncommitted changes (the caller abandoned its batch without writing it).
  void DiscardUncommitted();

 private:
  // Adds `delta` to the count at `key` in `batch` (a count reaching 0 is deleted).
  absl::Status Add(const std::string& key, int64_t delta, store::Batch* batch);
  absl::StatusOr<uint64_t> Read(const std::string& key) const;
  absl::Status CountIncident(const asb::v1::Incident& incident, const asb::v1::Case& c,
                             const std::string& source, int64_t delta, store::Batch* batch);
  void Track(store::Batch* batch);

  store::Store* store_;
  store::Batch* dirty_batch_ = nullptr;
  int dirty_count_ = 0;
  uint64_t generation_ = 0;
  absl::flat_hash_map<std::string, uint64_t> dirty_;
  // LSOA names known to be stored (committed), and those put in the batch in progress.
  absl::flat_hash_set<std::string> names_;
  absl::flat_hash_set<std::string> dirty_names_;
};

}  // namespace asb::sharing
