#include "tools/asbctl/policeuk.h"

#include <cctype>
#include <fstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/crypto/crypto.h"
#include "common/status/macros.h"

namespace asb::ctl::policeuk {
namespace {

enum Column {
  kCrimeId = 0,
  kMonth,
  kReportedBy,
  kFallsWithin,
  kLongitude,
  kLatitude,
  kLocation,
  kLsoaCode,
  kLsoaName,
  kCrimeType,
  kOutcome,
  kContext,
  kColumns
};

absl::string_view Clean(absl::string_view line) {
  if (absl::StartsWith(line, "\xEF\xBB\xBF")) {
    line.remove_prefix(3);
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
    line.remove_suffix(1);
  }
  return line;
}

bool IsLsoaCode(absl::string_view s) {
  if (s.size() != 9 || !absl::ascii_isalpha(static_cast<unsigned char>(s[0]))) {
    return false;
  }
  for (char c : s.substr(1)) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

bool ValidMonth(absl::string_view m, int* year, int* month) {
  if (m.size() != 7 || m[4] != '-') {
    return false;
  }
  return absl::SimpleAtoi(m.substr(0, 4), year) && absl::SimpleAtoi(m.substr(5, 2), month) &&
         *year >= 1990 && *month >= 1 && *month <= 12;
}

// At most n bytes, cut at a character boundary ("…" marks a cut).
std::string Truncate(absl::string_view s, std::size_t n) {
  if (s.size() <= n) {
    return std::string(s);
  }
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
    --n;
  }
  return absl::StrCat(s.substr(0, n), "…");
}

// Valid UTF-8 (protobuf strings must be).
bool IsUtf8(absl::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
      return false;
    }
    for (int k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

}  // namespace

absl::Status CheckHeader(absl::string_view raw) {
  const absl::string_view line = Clean(raw);
  if (line == kStreetHeader) {
    return absl::OkStatus();
  }
  const std::string lower = absl::AsciiStrToLower(line);
  if (absl::StrContains(lower, "easting") && absl::StrContains(lower, "northing")) {
    return absl::InvalidArgumentError(
        "an old-format police.uk street file (Easting/Northing grid references instead of "
        "Longitude/Latitude): not imported; download the month again from data.police.uk, whose "
        "current street-level files have the 12 columns Crime ID … Context");
  }
  if (absl::StrContains(lower, "object of search") ||
      absl::StartsWith(lower, "type,date,part of a policing operation")) {
    return absl::InvalidArgumentError(
        "a police.uk stop-and-search file (searches of people, not incidents): not imported");
  }
  if (absl::StrContains(lower, "outcome type")) {
    return absl::InvalidArgumentError(
        "a police.uk outcomes file (court and police outcomes of crimes, not incidents): not "
        "imported; import the month's street-level file");
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "not a police.uk street-level file: its first line should be the 12-column header '",
      kStreetHeader, "', it is '", Truncate(line, 120), "'"));
}

absl::StatusOr<std::vector<std::string>> SplitCsvLine(absl::string_view raw) {
  const absl::string_view line = Clean(raw);
  std::vector<std::string> out;
  std::string field;
  std::size_t i = 0;
  while (true) {
    field.clear();
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("field ", out.size() + 1, ": a quote is not closed"));
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(line[i++]);
      }
      if (i < line.size() && line[i] != ',') {
        return absl::InvalidArgumentError(
            absl::StrCat("field ", out.size() + 1, ": text after a closing quote"));
      }
    } else {
      const std::size_t end = line.find(',', i);
      const absl::string_view part =
          line.substr(i, end == absl::string_view::npos ? line.size() - i : end - i);
      field.assign(part.data(), part.size());
      i = end == absl::string_view::npos ? line.size() : end;
    }
    out.push_back(field);
    if (i >= line.size()) {
      return out;
    }
    ++i;  // the comma
  }
}

absl::StatusOr<absl::flat_hash_map<std::string, std::string>> LoadWardLookup(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(path + ": cannot open");
  }
  std::string line;
  if (!std::getline(in, line)) {
    return absl::InvalidArgumentError(path + ": empty");
  }
  ASB_ASSIGN_OR_RETURN(std::vector<std::string> header, SplitCsvLine(line));
  int lsoa = -1, ward = -1;
  for (int i = 0; i < static_cast<int>(header.size()); ++i) {
    const std::string h = absl::AsciiStrToUpper(header[i]);
    if (lsoa < 0 && ((absl::StartsWith(h, "LSOA") && absl::EndsWith(h, "CD")) || h == "LSOA_CODE" ||
                     h == "LSOA CODE")) {
      lsoa = i;
    }
    if (ward < 0 && ((absl::StartsWith(h, "WD") && absl::EndsWith(h, "NM")) || h == "WARD" ||
                     h == "WARD NAME")) {
      ward = i;
    }
  }
  if (lsoa < 0 || ward < 0) {
    return absl::InvalidArgumentError(
        path +
        ": the header names no LSOA code column (e.g. LSOA11CD) and ward name column "
        "(e.g. WD18NM)");
  }
  absl::flat_hash_map<std::string, std::string> out;
  int line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    auto f = SplitCsvLine(line);
    if (!f.ok() || static_cast<int>(f->size()) <= std::max(lsoa, ward)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": not a lookup row"));
    }
    out[(*f)[lsoa]] = (*f)[ward];
  }
  return out;
}

RowMapper::RowMapper(MapOptions options) : options_(std::move(options)) {}

void RowMapper::StartFile() {
  block_.clear();
  seen_.clear();
  finished_blocks_.clear();
}

std::string RowMapper::CaseId(absl::string_view lsoa_code, absl::string_view month) {
  return absl::StrCat("PUK-", lsoa_code.empty() ? "NOLOCATION" : lsoa_code, "-", month);
}

std::string RowMapper::DistrictOf(absl::string_view lsoa_name) {
  const std::size_t space = lsoa_name.rfind(' ');
  return space == absl::string_view::npos ? std::string() : std::string(lsoa_name.substr(0, space));
}

Mapped RowMapper::Map(const std::vector<std::string>& f) {
  Mapped m;
  auto bad = [&](std::string why) {
    m.kind = Mapped::kBad;
    m.reason = std::move(why);
    return m;
  };
  if (f.size() != kColumns) {
    return bad(absl::StrCat(f.size(), " columns, expected 12"));
  }
  for (const std::string& field : f) {
    if (!IsUtf8(field)) {
      return bad("not UTF-8 text");
    }
  }
  int year = 0, mon = 0;
  if (!ValidMonth(f[kMonth], &year, &mon)) {
    return bad(absl::StrCat("Month: '", Truncate(f[kMonth], 20), "' is not YYYY-MM"));
  }
  const std::string& crime_type = f[kCrimeType];
  if (crime_type.empty()) {
    return bad("Crime type: empty");
  }
  const std::string& lsoa = f[kLsoaCode];
  if (!lsoa.empty() && !IsLsoaCode(lsoa)) {
    return bad(absl::StrCat("LSOA code: '", Truncate(lsoa, 20),
                            "' is not an LSOA code (a letter and 8 digits)"));
  }
  double lon = 0, lat = 0;
  const bool located = !f[kLongitude].empty() || !f[kLatitude].empty();
  if (located && (!absl::SimpleAtod(f[kLongitude], &lon) || !absl::SimpleAtod(f[kLatitude], &lat) ||
                  lon < -180 || lon > 180 || lat < -90 || lat > 90)) {
    return bad("Longitude/Latitude: not a position in degrees");
  }
  for (int c : {kLocation, kLsoaName, kReportedBy, kFallsWithin, kOutcome, kContext}) {
    if (f[c].size() > 1000) {
      return bad("a field is longer than 1,000 characters");
    }
  }
  const bool asb = crime_type == kAsbCrimeType;
  if (!asb && !options_.include_crime) {
    m.kind = Mapped::kSkipped;
    m.reason = "not anti-social behaviour (--include-crime imports other crime types)";
    return m;
  }
  const std::string district = DistrictOf(f[kLsoaName]);
  if (!options_.district.empty() && district != options_.district) {
    m.kind = Mapped::kSkipped;
    m.reason = absl::StrCat("outside district ", options_.district);
    return m;
  }

  // The ordinal of this row among identical rows of its LSOA-month block.
  const std::string& month = f[kMonth];
  std::string block = absl::StrCat(lsoa, "|", month);
  if (block != block_) {
    if (!block_.empty()) {
      finished_blocks_.insert(block_);
    }
    if (finished_blocks_.contains(block)) {
      m.kind = Mapped::kSkipped;
      m.reason =
          "its LSOA and month appear again after other areas (police.uk lists each area's rows "
          "together; keep the file as published, or sort it by LSOA code)";
      return m;
    }
    block_ = std::move(block);
    seen_.clear();
  }
  const std::string hash = crypto::Sha256(absl::StrJoin(f, "\x1f")).substr(0, 12);
  const uint32_t ordinal = ++seen_[hash];
  const std::string source_id = absl::StrCat("puk-", crypto::HexEncode(hash), "-", ordinal);
  const std::string case_id = CaseId(lsoa, month);

  google::protobuf::Timestamp at;
  at.set_seconds(
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilMonth(year, mon), absl::UTCTimeZone())));
  asb::v1::Location place;
  if (located) {
    place.set_latitude(lat);
    place.set_longitude(lon);
  }
  place.set_lsoa_code(lsoa);
  place.set_lsoa_name(Truncate(f[kLsoaName], 190));
  place.set_district(Truncate(district, 190));
  if (options_.wards != nullptr) {
    if (auto it = options_.wards->find(lsoa); it != options_.wards->end()) {
      place.set_ward(Truncate(it->second, 190));
    }
  }

  if (opened_.insert(case_id).second) {
    asb::v1::CaseEvent& open = m.case_opened.emplace();
    open.set_source_event_id(absl::StrCat("puk-case-", case_id));
    open.set_case_id(case_id);
    *open.mutable_occurred_at() = at;
    auto* o = open.mutable_case_opened();
    o->set_nsir_category(asb::v1::NSIR_CATEGORY_NOT_KNOWN);
    o->set_title(Truncate(
        absl::StrCat("Area picture: ", f[kLsoaName].empty() ? "no location" : f[kLsoaName], " (",
                     lsoa.empty() ? "no LSOA" : lsoa, "), ", month, ", data.police.uk"),
        190));
    o->set_summary(absl::StrCat(
        "Anonymised street-level incidents published by data.police.uk (",
        Truncate(f[kFallsWithin], 200),
        "), one case per LSOA and month: an intelligence picture of the area, not a case of any "
        "person. Imported by asbctl import policeuk."));
    o->set_lead_agency(options_.agency);
    *o->mutable_location() = place;
    o->mutable_location()->clear_latitude();
    o->mutable_location()->clear_longitude();
    o->mutable_location()->set_description(Truncate(f[kLsoaName], 190));
    o->mutable_flags()->set_area_intelligence(true);
  }

  asb::v1::CaseEvent& e = m.incident;
  e.set_source_event_id(source_id);
  e.set_case_id(case_id);
  *e.mutable_occurred_at() = at;
  asb::v1::Incident* inc = e.mutable_incident_reported()->mutable_incident();
  inc->set_incident_id(f[kCrimeId].empty() ? source_id : Truncate(f[kCrimeId], 120));
  *inc->mutable_occurred_at() = at;
  inc->set_category(asb::v1::NSIR_CATEGORY_NOT_KNOWN);
  if (!asb) {
    inc->set_crime_type(Truncate(crime_type, 190));
  }
  std::string description = absl::StrCat(crime_type, " (data.police.uk, ", f[kReportedBy], ")");
  if (!f[kOutcome].empty()) {
    absl::StrAppend(&description, "; last outcome: ", f[kOutcome]);
  }
  if (!f[kContext].empty()) {
    absl::StrAppend(&description, "; ", f[kContext]);
  }
  inc->set_description(Truncate(description, 9000));
  *inc->mutable_location() = place;
  inc->mutable_location()->set_description(Truncate(f[kLocation], 1000));
  inc->set_reported_by(options_.agency);
  return m;
}

}  // namespace asb::ctl::policeuk
