// issue 16 end to end on the real daemons: `asbctl import policeuk` on police.uk rows
// (tests/tools/asbctl/testdata), re-import all duplicates, a bad-row file and files of other
// formats; asb-sharing killed (-9) while it folds them; `asbctl hotspots` against a hand count of
// the CSV; the consultation in the access log with its officer; `asbctl report indicators` as
// HTML rendered by headless Chromium with its charts and figures.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asb/v1/intelligence.pb.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kData = std::string(ASB_SOURCE_DIR) + "/tests/tools/asbctl/testdata";

struct Ran {
  int code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a program in the source tree with ASBHUB_DATA set, as an operator would.
Ran RunProgram(const Hub& hub, const TempDir& tmp, const std::vector<std::string>& argv) {
  static int n = 0;
  const std::string out = tmp.Sub(absl::StrCat("out", ++n)), err = tmp.Sub(absl::StrCat("err", n));
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(hub.source_dir().c_str()) != 0) {
      _exit(127);
    }
    setenv("ASBHUB_DATA", hub.data_dir().c_str(), 1);
    unsetenv("ASBHUB_OFFICER");
    unsetenv("ASBHUB_REASON");
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, 1);
    dup2(e, 2);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Ran r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = Slurp(out);
  r.err = Slurp(err);
  return r;
}

std::vector<std::string> Asbctl(std::vector<std::string> args) {
  args.insert(args.begin(), {ASB_ASBCTL_BIN, "--hub", "config/asbctl.yaml"});
  return args;
}

// ASB rows per LSOA of a sample file, counted without the importer's parser.
std::map<std::string, int> HandCount(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  std::map<std::string, int> out;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, ',')) {
      f.push_back(field);
    }
    if (f.size() >= 10 && f[9] == "Anti-social behaviour") {
      ++out[f[7]];
    }
  }
  return out;
}

// Waits until asb-sharing has folded every event intake holds.
absl::Status WaitFolded(Hub& hub) {
  return WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        ASB_ASSIGN_OR_RETURN(asb::v1::PingResponse intake, hub.Ping("intake"));
        ASB_ASSIGN_OR_RETURN(asb::v1::PingResponse sharing, hub.Ping("sharing"));
        uint64_t head = 0;
        for (const auto& s : intake.streams()) {
          if (s.name() == "events") {
            head = s.head();
          }
        }
        for (const auto& c : sharing.consumers()) {
          if (c.stream() == "events") {
            return head > 0 && c.offset() == head;
          }
        }
        return false;
      },
      absl::Now() + absl::Seconds(90), "asb-sharing to fold every event", absl::Milliseconds(50));
}

TEST(PoliceUkHubTest, ImportHotspotsAndTheIndicatorsReportOnARunningHub) {
  TempDir tmp;
  Hub hub(BuiltHubOptions());
  ASB_ASSERT_OK(hub.StartAll());
  const std::vector<std::string> samples = {
      kData + "/policeuk/2018-10-chesterfield-sample-street.csv",
      kData + "/policeuk/2018-11-chesterfield-sample-street.csv",
      kData + "/policeuk/2018-12-chesterfield-sample-street.csv"};
  int asb_rows = 0;
  for (const auto& f : samples) {
    for (const auto& [lsoa, n] : HandCount(f)) {
      asb_rows += n;
    }
  }
  ASSERT_EQ(asb_rows, 255);

  // Files of other formats are refused at once, saying what they are; nothing is sent.
  Ran old = RunProgram(hub, tmp,
                       Asbctl({"import", "policeuk", samples[0], kData + "/old-format-street.csv",
                               "--as", "police"}));
  EXPECT_EQ(old.code, 1);
  EXPECT_THAT(old.err, HasSubstr("old-format-street.csv: an old-format police.uk street file"));
  Ran sas = RunProgram(hub, tmp, Asbctl({"import", "policeuk", kData + "/stop-and-search.csv"}));
  EXPECT_EQ(sas.code, 1);
  EXPECT_THAT(sas.err, HasSubstr("a police.uk stop-and-search file"));
  auto intake = hub.Ping("intake");
  ASB_ASSERT_OK(intake.status());
  for (const auto& s : intake->streams()) {
    if (s.name() == "events") {
      EXPECT_EQ(s.head(), 0u) << "a refused file sent events";
    }
  }

  // A file with bad rows: each named with its line, the good ones imported.
  Ran bad = RunProgram(hub, tmp, Asbctl({"import", "policeuk", kData + "/bad-rows-street.csv"}));
  EXPECT_EQ(bad.code, 1) << bad.err;
  for (int line : {8, 9, 10, 11, 12}) {
    EXPECT_THAT(bad.err, HasSubstr(absl::StrCat("bad-rows-street.csv:", line, ": bad row")));
  }
  EXPECT_THAT(bad.out, HasSubstr("15 rows read"));
  EXPECT_THAT(bad.out, HasSubstr("10 submitted, 0 duplicate (already held), 0 skipped, 5 bad"));

  // The shipped samples: every ASB row, the ten above already held (same content, same id).
  Ran first = RunProgram(
      hub, tmp,
      Asbctl({"import", "policeuk", samples[0], samples[1], samples[2], "--as", "police"}));
  EXPECT_EQ(first.code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr(absl::StrCat(asb_rows - 10, " submitted, 10 duplicate")));
  EXPECT_THAT(first.out, HasSubstr("not anti-social behaviour"));
  // Killed while it folds them: nothing lost, nothing counted twice.
  ASB_ASSERT_OK(hub.Kill("sharing"));
  ASB_ASSERT_OK(hub.StartAndWait("sharing"));
  // A second import: all duplicates.
  Ran second =
      RunProgram(hub, tmp, Asbctl({"import", "policeuk", samples[0], samples[1], samples[2]}));
  EXPECT_EQ(second.code, 0) << second.err;
  EXPECT_THAT(second.out, HasSubstr(absl::StrCat("0 submitted, ", asb_rows, " duplicate")));
  EXPECT_THAT(second.out, HasSubstr("0 opened"));
  ASB_ASSERT_OK(WaitFolded(hub));

  // Hot spots of October by LSOA against the hand count.
  Ran no_officer =
      RunProgram(hub, tmp, Asbctl({"hotspots", "--month", "2018-10", "--as", "police"}));
  EXPECT_EQ(no_officer.code, 1);
  EXPECT_THAT(no_officer.err, HasSubstr("on_behalf_of.officer_id: required"));
  Ran hot = RunProgram(hub, tmp,
                       Asbctl({"hotspots", "--month", "2018-10", "--by", "lsoa", "--top", "5",
                               "--format", "json", "--as", "police", "--officer", "PC 4021",
                               "--reason", "tasking group: October hot spots"}));
  ASSERT_EQ(hot.code, 0) << hot.err;
  asb::v1::HotspotsResponse r;
  ASB_ASSERT_OK(config::ParseJson(hot.out, &r));
  std::vector<std::pair<int, std::string>> want;
  for (const auto& [lsoa, n] : HandCount(samples[0])) {
    want.emplace_back(-n, lsoa);
  }
  std::sort(want.begin(), want.end());
  ASSERT_EQ(r.areas_size(), 5);
  for (int i = 0; i < 5; ++i) {
    ASSERT_GE(-want[i].first, 5) << "the hand count's top 5 fall below the threshold";
    EXPECT_EQ(r.areas(i).area(), want[i].second) << i;
    EXPECT_EQ(r.areas(i).count(), static_cast<uint64_t>(-want[i].first)) << i;
    EXPECT_TRUE(r.areas(i).no_baseline());
  }
  EXPECT_EQ(r.total(), 110u);
  EXPECT_THAT(r.areas(0).name(), HasSubstr("Chesterfield 00"));
  // November against October: the rule and its figures are in the answer.
  Ran nov = RunProgram(hub, tmp,
                       Asbctl({"hotspots", "--month", "2018-11", "--as", "police", "--officer",
                               "PC 4021", "--reason", "tasking group: November hot spots"}));
  ASSERT_EQ(nov.code, 0) << nov.err;
  EXPECT_THAT(nov.out, HasSubstr("with data: 2018-10"));
  EXPECT_THAT(nov.out, HasSubstr("Benjamini-Hochberg"));

  // The consultation is in the access log, with the officer and reason.
  ASB_ASSERT_OK(WaitUntil(
      [&]() -> absl::StatusOr<bool> {
        asb::v1::AuditQueryRequest q;
        q.add_kinds(asb::v1::AUDIT_KIND_CONSULTATION);
        ASB_ASSIGN_OR_RETURN(auto entries, hub.AuditQueryAll("dpo-auditor", q));
        for (const auto& e : entries) {
          if (e.record().on_behalf_of().reason() == "tasking group: October hot spots" &&
              e.record().on_behalf_of().officer_id() == "PC 4021" &&
              e.record().actor() == "police-partner") {
            return true;
          }
        }
        return false;
      },
      absl::Now() + absl::Seconds(30), "the hot spots consultation in the access log"));

  // The indicators report for the quarter, as HTML, opened by headless Chromium.
  const std::string html = tmp.Sub("indicators.html");
  Ran report = RunProgram(hub, tmp,
                          Asbctl({"report", "indicators", "--from", "2018-10", "--to", "2018-12",
                                  "--format", "html", "--out", html, "--as", "police", "--officer",
                                  "PC 4021", "--reason", "annual report to the panel"}));
  ASSERT_EQ(report.code, 0) << report.err;
  const std::string chromium = "/usr/bin/chromium";
  ASSERT_TRUE(std::filesystem::exists(chromium))
      << "headless Chromium renders the report: install Debian's chromium (./asbhub deps)";
  Ran dom = RunProgram(
      hub, tmp,
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
       "--disable-component-update", "--disable-sync", "--no-first-run",
       "--user-data-dir=" + tmp.Sub("chromium"), "--dump-dom", "file://" + html});
  ASSERT_EQ(dom.code, 0) << dom.err;
  EXPECT_THAT(dom.out, HasSubstr("<svg data-chart=\"trend\""));
  EXPECT_THAT(dom.out, HasSubstr("<svg data-chart=\"top-areas\""));
  EXPECT_THAT(dom.out, HasSubstr("<svg data-chart=\"cases\""));
  EXPECT_THAT(dom.out, HasSubstr("<polyline class=\"series\" data-series=\"ASB, all categories\""));
  EXPECT_THAT(dom.out, HasSubstr("255 ASB incidents over 3 months; down from 110 in 2018-10 to "
                                 "65 in 2018-12 (-41%)"));
  EXPECT_THAT(dom.out, HasSubstr("Chesterfield"));
  // CSV for analysts.
  Ran csv =
      RunProgram(hub, tmp,
                 Asbctl({"report", "indicators", "--from", "2018-10", "--to", "2018-12", "--format",
                         "csv", "--as", "police", "--officer", "PC 4021", "--reason", "analysis"}));
  ASSERT_EQ(csv.code, 0) << csv.err;
  EXPECT_THAT(csv.out, HasSubstr("month,2018-10,asb,,,asb_incidents,110\n"));
  EXPECT_THAT(csv.out, HasSubstr("month,2018-12,asb,,,asb_incidents,65\n"));
  EXPECT_THAT(csv.out, Not(HasSubstr("PUK-")));  // no case id in depersonalised output
}

}  // namespace
}  // namespace asb::testing
