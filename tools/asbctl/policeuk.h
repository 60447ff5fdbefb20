#pragma once

// Reading data.police.uk street-level CSV files (`asbctl import policeuk`): the 12 columns
//   Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,
//   Crime type,Last outcome category,Context
// one row per recorded crime or ASB incident, anonymised (a snap point "On or near …" for the
// place, the month for the time, no person). Each row becomes an incident_reported event of an
// area-intelligence case, one per LSOA and month ("PUK-<LSOA code>-<YYYY-MM>", opened by a
// case_opened event the first time the importer meets it): the rows are incidents, not cases
// of any person, and the hub's fold, ISP and aggregates then treat them like any feed's events.
//
// Stable ids: an ASB row has no Crime ID, and identical rows (same month, snap point and LSOA)
// are common, so a row's source event id is "puk-" + the first 12 bytes (hex) of SHA-256 over
// its 12 fields + "-" + its ordinal among identical rows of its LSOA and month in the file.
// Re-importing a file yields the same ids (all duplicates). Published files list each LSOA's
// rows together; the ordinal is counted within that block, so memory is bounded by the
// largest block, not the file. A block that reappears later in a file cannot be numbered
// consistently and its rows are skipped with that reason.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asb/v1/events.pb.h"

namespace asb::ctl::policeuk {

// The header of a street-level file.
inline constexpr char kStreetHeader[] =
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context";
inline constexpr char kAsbCrimeType[] = "Anti-social behaviour";

// OK if `line` (a file's first line; a UTF-8 BOM and CR are allowed) is the street-level
// header. Otherwise kInvalidArgument saying what the file is: an old-format street file
// (Easting/Northing), a stop-and-search file, an outcomes file, or something else.
absl::Status CheckHeader(absl::string_view line);

// Splits one CSV line (RFC 4180: quoted fields, "" inside quotes). kInvalidArgument for an
// unterminated quote or text after a closing quote.
absl::StatusOr<std::vector<std::string>> SplitCsvLine(absl::string_view line);

// LSOA code → ward name, from an ONS lookup CSV (a header naming an LSOA code column such as
// LSOA11CD / LSOA21CD and a ward name column such as WD18NM / WD22NM).
absl::StatusOr<absl::flat_hash_map<std::string, std::string>> LoadWardLookup(
    const std::string& path);

struct MapOptions {
  // The agency id of the feed (lead agency of the area cases, reported_by of incidents).
  std::string agency = "police";
  // Import other crime types too (default: ASB rows only).
  bool include_crime = false;
  // Only rows whose LSOA name is in this district ("Chesterfield" for "Chesterfield 002D").
  std::string district;
  // Optional LSOA → ward.
  const absl::flat_hash_map<std::string, std::string>* wards = nullptr;
};

// What became of one row.
struct Mapped {
  enum Kind { kEvents, kSkipped, kBad };
  Kind kind = kEvents;
  // kSkipped: why (a short phrase the summary groups by); kBad: the problem.
  std::string reason;
  // kEvents: the area case's case_opened (the first row of an LSOA-month in this run), if any.
  std::optional<asb::v1::CaseEvent> case_opened;
  // kEvents: the incident.
  asb::v1::CaseEvent incident;
};

// Maps the rows of one or more files to events. Call StartFile before each file's rows.
// Memory: the ordinals of the current LSOA-month block, and one entry per block met.
class RowMapper {
 public:
  explicit RowMapper(MapOptions options);

  void StartFile();
  // One data row (fields as split; line_no for messages).
  Mapped Map(const std::vector<std::string>& fields);

  // The area case id of an LSOA and month.
  static std::string CaseId(absl::string_view lsoa_code, absl::string_view month);
  // The district of an LSOA name: the name without its last word ("Chesterfield 002D" →
  // "Chesterfield"); "" if it has one word.
  static std::string DistrictOf(absl::string_view lsoa_name);

 private:
  MapOptions options_;
  std::string block_;                                 // LSOA code + month of the current block
  absl::flat_hash_map<std::string, uint32_t> seen_;   // content hash → rows so far, this block
  absl::flat_hash_set<std::string> finished_blocks_;  // this file's earlier blocks
  absl::flat_hash_set<std::string> opened_;           // area cases opened in this run
};

}  // namespace asb::ctl::policeuk
