// asbctl's command lines parsed by the real CLI11 app: options land in their struct, defaults
// hold, bad values are refused; and through AddCommands, a command's status becomes the exit
// code (only commands that need no hub run here).
#include "tools/asbctl/options.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/support/temp_dir.h"
#include "tools/asbctl/commands.h"

namespace asb::ctl {
namespace {

// Parses `line` with only the command `add` registers (under the group `group`, if given) and
// returns its options; throws what CLI11 throws for a bad command line.
template <class Options>
Options Parse(CLI::App* (*add)(CLI::App&, Options&), const std::string& line,
              const char* group = nullptr) {
  CLI::App app;
  Options o;
  add(group == nullptr ? app : *app.add_subcommand(group), o);
  app.parse(line, false);
  return o;
}

TEST(SubmitOptionsTest, ParsesIntoTheStruct) {
  const SubmitOptions o = Parse(AddSubmitOptions, "submit events.jsonl --as police-feed --batch 7");
  EXPECT_EQ(o.file, "events.jsonl");
  EXPECT_EQ(o.as, "police-feed");
  EXPECT_EQ(o.batch, 7);
}

TEST(SubmitOptionsTest, Defaults) {
  const SubmitOptions o = Parse(AddSubmitOptions, "submit events.jsonl");
  EXPECT_EQ(o.as, "council");
  EXPECT_EQ(o.batch, 500);
}

TEST(SubmitOptionsTest, RefusesABatchOutOfRangeAndAMissingFile) {
  EXPECT_THROW(Parse(AddSubmitOptions, "submit events.jsonl --batch 0"), CLI::ValidationError);
  EXPECT_THROW(Parse(AddSubmitOptions, "submit events.jsonl --batch 1001"), CLI::ValidationError);
  EXPECT_THROW(Parse(AddSubmitOptions, "submit --as council"), CLI::RequiredError);
}

TEST(AlertsOptionsTest, FlagsAndRequiredAgency) {
  const AlertsOptions o =
      Parse(AddAlertsOptions, "alerts --as police -f --no-ack --max 5 --from-seq 12");
  EXPECT_EQ(o.as, "police");
  EXPECT_TRUE(o.follow);
  EXPECT_TRUE(o.no_ack);
  EXPECT_EQ(o.max, 5u);
  EXPECT_EQ(o.from_seq, 12);
  EXPECT_THROW(Parse(AddAlertsOptions, "alerts --follow"), CLI::RequiredError);
}

TEST(AuditQueryOptionsTest, FiltersAndRepeatedKinds) {
  const AuditQueryOptions o =
      Parse(AddAuditQueryOptions,
            "audit query --case CBC-1 --kind disclosure --kind delivery --since 2026-01-31 "
            "--until 2026-02-01T09:00:00Z --agency fire --all --limit 50 --format csv",
            "audit");
  EXPECT_EQ(o.case_id, "CBC-1");
  EXPECT_EQ(o.kinds, (std::vector<std::string>{"disclosure", "delivery"}));
  EXPECT_EQ(o.since, "2026-01-31");
  EXPECT_EQ(o.until, "2026-02-01T09:00:00Z");
  EXPECT_EQ(o.agency, "fire");
  EXPECT_TRUE(o.all);
  EXPECT_EQ(o.limit, 50u);
  EXPECT_EQ(o.format, "csv");
  EXPECT_EQ(o.as, "dpo");
}

TEST(AuditQueryOptionsTest, Defaults) {
  const AuditQueryOptions o = Parse(AddAuditQueryOptions, "audit query", "audit");
  EXPECT_EQ(o.as, "dpo");
  EXPECT_EQ(o.limit, 1000u);
  EXPECT_FALSE(o.all);
  EXPECT_EQ(o.format, "table");
  EXPECT_TRUE(o.kinds.empty());
}

TEST(AuditQueryOptionsTest, RefusesAnUnknownFormatAndALimitOutOfRange) {
  EXPECT_THROW(Parse(AddAuditQueryOptions, "audit query --format xml", "audit"),
               CLI::ValidationError);
  EXPECT_THROW(Parse(AddAuditQueryOptions, "audit query --limit 10001", "audit"),
               CLI::ValidationError);
}

// A case is read on behalf of a named officer, with a reason: both required, the officer
// from $ASBHUB_OFFICER (and the name from $ASBHUB_OFFICER_NAME) when not given.
TEST(CaseGetOptionsTest, TheOfficerAndTheReasonAreRequired) {
  unsetenv("ASBHUB_OFFICER");
  unsetenv("ASBHUB_OFFICER_NAME");
  unsetenv("ASBHUB_REASON");
  const CaseGetOptions o =
      Parse(AddCaseGetOptions,
            "case get CBC-1 --as police --officer PC-4471 --officer-name \"PC Jane Ashworth\" "
            "--reason \"CBO breach file\" --purpose law-enforcement",
            "case");
  EXPECT_EQ(o.id, "CBC-1");
  EXPECT_EQ(o.officer.officer_id, "PC-4471");
  EXPECT_EQ(o.officer.officer_name, "PC Jane Ashworth");
  EXPECT_EQ(o.officer.reason, "CBO breach file");
  EXPECT_EQ(o.officer.purpose, "law-enforcement");
  const asb::v1::OnBehalfOf sent = OnBehalfOf(o.officer);
  EXPECT_EQ(sent.officer_id(), "PC-4471");
  EXPECT_EQ(sent.reason(), "CBO breach file");
  EXPECT_THROW(Parse(AddCaseGetOptions, "case get CBC-1 --as police --reason r", "case"),
               CLI::RequiredError);
  EXPECT_THROW(Parse(AddCaseGetOptions, "case get CBC-1 --as police --officer PC-1", "case"),
               CLI::RequiredError);
}

TEST(CaseGetOptionsTest, TheOfficerComesFromTheEnvironment) {
  setenv("ASBHUB_OFFICER", "PC-9001", 1);
  setenv("ASBHUB_OFFICER_NAME", "PC Sam Example", 1);
  const CaseGetOptions o =
      Parse(AddCaseGetOptions, "case get CBC-1 --as police --reason r", "case");
  EXPECT_EQ(o.officer.officer_id, "PC-9001");
  EXPECT_EQ(o.officer.officer_name, "PC Sam Example");
  const CaseGetOptions given =
      Parse(AddCaseGetOptions, "case get CBC-1 --as police --officer PC-1 --reason r", "case");
  EXPECT_EQ(given.officer.officer_id, "PC-1");  // the command line wins
  setenv("ASBHUB_REASON", "weekly tasking", 1);
  EXPECT_EQ(Parse(AddCaseGetOptions, "case get CBC-1 --as police", "case").officer.reason,
            "weekly tasking");
  unsetenv("ASBHUB_OFFICER");
  unsetenv("ASBHUB_OFFICER_NAME");
  unsetenv("ASBHUB_REASON");
}

TEST(PolicyExplainOptionsTest, AnOfficerIsOptionalForACaseFile) {
  unsetenv("ASBHUB_OFFICER");
  const PolicyExplainOptions file =
      Parse(AddPolicyExplainOptions, "policy explain --agency fire --case c.yaml", "policy");
  EXPECT_TRUE(file.officer.officer_id.empty());
  const PolicyExplainOptions stored = Parse(
      AddPolicyExplainOptions,
      "policy explain --agency fire --case CBC-1 --officer IG-7 --reason \"assurance\"", "policy");
  EXPECT_EQ(stored.officer.officer_id, "IG-7");
  EXPECT_EQ(stored.officer.reason, "assurance");
}

TEST(AuditQueryOptionsTest, ByOfficer) {
  const AuditQueryOptions o =
      Parse(AddAuditQueryOptions, "audit query --officer PC-4471 --agency police", "audit");
  EXPECT_EQ(o.officer, "PC-4471");
  EXPECT_EQ(o.agency, "police");
}

TEST(PolicyDocumentOptionsTest, FormatAndOut) {
  const PolicyDocumentOptions o =
      Parse(AddPolicyDocumentOptions, "policy document isp.yaml --format md --out a.md", "policy");
  EXPECT_EQ(o.file, "isp.yaml");
  EXPECT_EQ(o.format, "md");
  EXPECT_EQ(o.out, "a.md");
  EXPECT_EQ(Parse(AddPolicyDocumentOptions, "policy document isp.yaml", "policy").format, "html");
  EXPECT_THROW(Parse(AddPolicyDocumentOptions, "policy document isp.yaml --format pdf", "policy"),
               CLI::ValidationError);
}

TEST(AuditVerifyOptionsTest, RangeAndKey) {
  const AuditVerifyOptions o =
      Parse(AddAuditVerifyOptions,
            "audit verify --from 3 --to 9 --public-key sth.pub.pem --as auditor2", "audit");
  EXPECT_EQ(o.from, 3u);
  EXPECT_EQ(o.to, 9u);
  EXPECT_EQ(o.public_key, "sth.pub.pem");
  EXPECT_EQ(o.as, "auditor2");
}

// The whole app, as main() builds it: a command's status becomes g.exit_code.
class AsbctlTest : public ::testing::Test {
 protected:
  AsbctlTest() {
    g_.hub_config = dir_.Sub("no-such-client.yaml");  // no command here may reach a hub
    AddCommands(app_, g_);
  }

  int Run(const std::string& command_line) {
    app_.parse(command_line, false);
    return g_.exit_code;
  }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.Sub(name)) << text;
  }

  asb::testing::TempDir dir_;
  Globals g_;
  CLI::App app_;
};

TEST_F(AsbctlTest, ACommandThatSucceedsExitsZero) {
  EXPECT_EQ(Run("keys generate tester --dir " + dir_.path()), 0);
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("tester.key")));
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("tester.pub")));
}

TEST_F(AsbctlTest, AnErrorExitsOne) { EXPECT_EQ(Run("submit " + dir_.Sub("missing.jsonl")), 1); }

TEST_F(AsbctlTest, NoClientConfigExitsOne) { EXPECT_EQ(Run("ping"), 1); }

TEST_F(AsbctlTest, AnIspThatDoesNotLoadExitsOne) {
  Write("bad.yaml", "version: x\nbogus: 1\n");
  EXPECT_EQ(Run("policy check " + dir_.Sub("bad.yaml")), 1);
}

TEST_F(AsbctlTest, EraseWithNothingToEraseExitsOneBeforeReachingTheHub) {
  EXPECT_EQ(Run("audit erase --reference R-1"), 1);
}

TEST_F(AsbctlTest, AnExportThatIsNotOneExitsThree) {
  Write("junk.jsonl", "not json\n");
  EXPECT_EQ(Run("audit verify-export " + dir_.Sub("junk.jsonl")), 3);
}

TEST_F(AsbctlTest, AnExportWithoutItsHeaderExitsThree) {
  Write("empty.jsonl", "\n");
  EXPECT_EQ(Run("audit verify-export " + dir_.Sub("empty.jsonl")), 3);
}

TEST_F(AsbctlTest, ExplainingAStoredCaseWithoutAnOfficerExitsOneBeforeReachingTheHub) {
  unsetenv("ASBHUB_OFFICER");
  EXPECT_EQ(Run("policy explain --agency fire --case CBC-1"), 1);
}

TEST_F(AsbctlTest, APolicyDocumentIsWritten) {
  const std::string out = dir_.Sub("agreement.html");
  EXPECT_EQ(Run("policy document " + std::string(ASB_SOURCE_DIR) +
                "/config/isp/chesterfield.yaml --out " + out),
            0);
  std::ifstream in(out);
  std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("<!DOCTYPE html>"), std::string::npos);
  EXPECT_NE(html.find("Signatures"), std::string::npos);
}

TEST_F(AsbctlTest, AMissingExportExitsOne) {
  EXPECT_EQ(Run("audit verify-export " + dir_.Sub("missing.jsonl")), 1);
}

}  // namespace
}  // namespace asb::ctl
