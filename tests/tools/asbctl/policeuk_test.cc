// The police.uk street-level reader on real rows (testdata/policeuk: Chesterfield LSOAs of the
// published Derbyshire files, Oct-Dec 2018): every ASB row maps to one incident (counted
// independently of the CSV parser), ids are stable and distinct, other formats are named, bad
// rows say what is wrong.

#include "tools/asbctl/policeuk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/support/status_matchers.h"

namespace asb::ctl::policeuk {
namespace {

using ::asb::testing::StatusIsWith;
using ::testing::HasSubstr;

const std::string kData = std::string(ASB_ASBCTL_TESTDATA);
const std::vector<std::string> kSamples = {
    kData + "/policeuk/2018-10-chesterfield-sample-street.csv",
    kData + "/policeuk/2018-11-chesterfield-sample-street.csv",
    kData + "/policeuk/2018-12-chesterfield-sample-street.csv"};

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(line);
  }
  return out;
}

// An independent count: ASB rows are the lines whose 10th comma-separated field is the ASB
// crime type (the sample has no quoted fields), as `awk -F, '$10=="Anti-social behaviour"'`.
std::map<std::string, int> AwkCount(const std::string& path) {
  std::map<std::string, int> by_lsoa;
  for (const std::string& line : Lines(path)) {
    std::vector<std::string> f;
    std::size_t start = 0;
    while (true) {
      const std::size_t at = line.find(',', start);
      f.push_back(line.substr(start, at == std::string::npos ? std::string::npos : at - start));
      if (at == std::string::npos) {
        break;
      }
      start = at + 1;
    }
    if (f.size() >= 10 && f[9] == "Anti-social behaviour") {
      ++by_lsoa[f[7]];
    }
  }
  return by_lsoa;
}

struct Result {
  int incidents = 0, cases = 0, skipped = 0, bad = 0;
  std::vector<std::string> ids;
  std::map<std::string, int> by_lsoa;
};

Result MapFiles(RowMapper& mapper, const std::vector<std::string>& files) {
  Result r;
  for (const std::string& file : files) {
    mapper.StartFile();
    std::vector<std::string> lines = Lines(file);
    for (std::size_t i = 1; i < lines.size(); ++i) {
      auto f = SplitCsvLine(lines[i]);
      if (!f.ok()) {
        ++r.bad;
        continue;
      }
      Mapped m = mapper.Map(*f);
      if (m.kind == Mapped::kBad) {
        ++r.bad;
      } else if (m.kind == Mapped::kSkipped) {
        ++r.skipped;
      } else {
        ++r.incidents;
        r.cases += m.case_opened.has_value() ? 1 : 0;
        r.ids.push_back(m.incident.source_event_id());
        ++r.by_lsoa[m.incident.incident_reported().incident().location().lsoa_code()];
      }
    }
  }
  return r;
}

TEST(PoliceUkTest, RecognisesTheStreetFormatAndNamesOthers) {
  for (const std::string& file : kSamples) {
    ASB_EXPECT_OK(CheckHeader(Lines(file)[0]));
  }
  ASB_EXPECT_OK(CheckHeader(std::string("\xEF\xBB\xBF") + kStreetHeader + "\r"));
  EXPECT_THAT(CheckHeader(Lines(kData + "/old-format-street.csv")[0]),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "Easting/Northing"));
  EXPECT_THAT(CheckHeader(Lines(kData + "/stop-and-search.csv")[0]),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "stop-and-search"));
  EXPECT_THAT(CheckHeader("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
                          "LSOA code,LSOA name,Outcome type"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "outcomes file"));
  EXPECT_THAT(CheckHeader("name,age"),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "not a police.uk street-level"));
}

TEST(PoliceUkTest, SplitsQuotedFields) {
  auto f = SplitCsvLine(R"(a,"b, c","say ""hi""",,e)");
  ASB_ASSERT_OK(f.status());
  EXPECT_EQ(*f, (std::vector<std::string>{"a", "b, c", "say \"hi\"", "", "e"}));
  EXPECT_THAT(SplitCsvLine(R"(a,"b)").status(),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "not closed"));
}

TEST(PoliceUkTest, EveryAsbRowOfTheShippedSamplesBecomesOneIncident) {
  RowMapper mapper(MapOptions{});
  Result r = MapFiles(mapper, kSamples);
  std::map<std::string, int> want;
  int total = 0, lines = 0;
  for (const std::string& file : kSamples) {
    for (const auto& [lsoa, n] : AwkCount(file)) {
      want[lsoa] += n;
      total += n;
    }
    lines += static_cast<int>(Lines(file).size()) - 1;
  }
  EXPECT_EQ(total, 110 + 80 + 65);  // `awk -F, '$10=="Anti-social behaviour"' | wc -l` per file
  EXPECT_EQ(r.incidents, total);
  EXPECT_EQ(r.by_lsoa, want);
  EXPECT_EQ(r.incidents + r.skipped, lines);
  EXPECT_EQ(r.bad, 0);
  // Ids are distinct although identical rows are common, and stable on a second reading.
  EXPECT_EQ(std::set<std::string>(r.ids.begin(), r.ids.end()).size(), r.ids.size());
  RowMapper again(MapOptions{});
  EXPECT_EQ(MapFiles(again, kSamples).ids, r.ids);
  // One area case per LSOA and month.
  std::set<std::string> lsoa_months;
  for (const std::string& file : kSamples) {
    for (const auto& [lsoa, n] : AwkCount(file)) {
      lsoa_months.insert(lsoa + file);
    }
  }
  EXPECT_EQ(r.cases, static_cast<int>(lsoa_months.size()));
}

TEST(PoliceUkTest, MapsARowToAnAreaCaseIncident) {
  RowMapper mapper(MapOptions{});
  auto f = SplitCsvLine(
      ",2018-10,Derbyshire Constabulary,Derbyshire Constabulary,-1.349891,53.267772,On or near "
      "Duke Street,E01019566,Chesterfield 002D,Anti-social behaviour,,");
  ASB_ASSERT_OK(f.status());
  Mapped m = mapper.Map(*f);
  ASSERT_EQ(m.kind, Mapped::kEvents);
  ASSERT_TRUE(m.case_opened.has_value());
  EXPECT_EQ(m.case_opened->case_id(), "PUK-E01019566-2018-10");
  EXPECT_TRUE(m.case_opened->case_opened().flags().area_intelligence());
  EXPECT_EQ(m.case_opened->case_opened().nsir_category(), asb::v1::NSIR_CATEGORY_NOT_KNOWN);
  const auto& inc = m.incident.incident_reported().incident();
  EXPECT_EQ(m.incident.case_id(), "PUK-E01019566-2018-10");
  EXPECT_EQ(inc.category(), asb::v1::NSIR_CATEGORY_NOT_KNOWN);
  EXPECT_TRUE(inc.crime_type().empty());
  EXPECT_EQ(inc.location().lsoa_name(), "Chesterfield 002D");
  EXPECT_EQ(inc.location().district(), "Chesterfield");
  EXPECT_EQ(inc.location().description(), "On or near Duke Street");
  EXPECT_EQ(m.incident.occurred_at().seconds(), 1538352000);  // 2018-10-01T00:00:00Z
  // The identical row again: same content, next ordinal, no second case_opened.
  Mapped twin = mapper.Map(*f);
  EXPECT_FALSE(twin.case_opened.has_value());
  EXPECT_NE(twin.incident.source_event_id(), m.incident.source_event_id());
  EXPECT_EQ(twin.incident.source_event_id().substr(0, 28),
            m.incident.source_event_id().substr(0, 28));
}

TEST(PoliceUkTest, FiltersByDistrictAndImportsCrimeOnlyWhenAsked) {
  MapOptions o;
  o.district = "Bolsover";
  RowMapper none(o);
  Result r = MapFiles(none, kSamples);
  EXPECT_EQ(r.incidents, 0);
  MapOptions crime;
  crime.include_crime = true;
  RowMapper all(crime);
  int lines = 0;
  for (const std::string& file : kSamples) {
    lines += static_cast<int>(Lines(file).size()) - 1;
  }
  EXPECT_EQ(MapFiles(all, kSamples).incidents, lines);
}

TEST(PoliceUkTest, BadRowsSayWhatIsWrong) {
  RowMapper mapper(MapOptions{});
  std::vector<std::string> reasons;
  int good = 0;
  const std::vector<std::string> lines = Lines(kData + "/bad-rows-street.csv");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto f = SplitCsvLine(lines[i]);
    if (!f.ok()) {
      reasons.push_back(std::string(f.status().message()));
      continue;
    }
    Mapped m = mapper.Map(*f);
    if (m.kind == Mapped::kBad) {
      reasons.push_back(m.reason);
    } else {
      good += m.kind == Mapped::kEvents ? 1 : 0;
    }
  }
  EXPECT_EQ(good, 10);
  ASSERT_EQ(reasons.size(), 5u);
  EXPECT_THAT(reasons[0], HasSubstr("11 columns"));
  EXPECT_THAT(reasons[1], HasSubstr("Month"));
  EXPECT_THAT(reasons[2], HasSubstr("LSOA code"));
  EXPECT_THAT(reasons[3], HasSubstr("Longitude/Latitude"));
  EXPECT_THAT(reasons[4], HasSubstr("quote"));
}

TEST(PoliceUkTest, AnAreaMonthSplitAcrossTheFileIsSkippedNotMisnumbered) {
  RowMapper mapper(MapOptions{});
  mapper.StartFile();
  auto row = [](const std::string& lsoa, const std::string& street) {
    return *SplitCsvLine(
        ",2018-10,Derbyshire Constabulary,Derbyshire Constabulary,-1.4,53.2,On "
        "or near " +
        street + "," + lsoa + ",Chesterfield 001A,Anti-social behaviour,,");
  };
  EXPECT_EQ(mapper.Map(row("E01019531", "A Street")).kind, Mapped::kEvents);
  EXPECT_EQ(mapper.Map(row("E01019532", "B Street")).kind, Mapped::kEvents);
  Mapped back = mapper.Map(row("E01019531", "A Street"));
  EXPECT_EQ(back.kind, Mapped::kSkipped);
  EXPECT_THAT(back.reason, HasSubstr("appear again"));
}

}  // namespace
}  // namespace asb::ctl::policeuk
