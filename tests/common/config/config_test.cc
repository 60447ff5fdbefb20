#include "common/config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "asb/config/v1/daemons.pb.h"
#include "common/config/violations.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::config {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;

TEST(YamlToJson, EmitsTypedScalars) {
  std::string json;
  ASB_ASSERT_OK(YamlToJson("a: true\nb: 42\nc: -1.5\nd: hello\ne: \"7\"\nf: ~\ng: False\n", &json));
  EXPECT_EQ(json, R"({"a":true,"b":42,"c":-1.5,"d":"hello","e":"7","f":null,"g":false})");
}

TEST(YamlToJson, SequencesAndEscapes) {
  std::string json;
  ASB_ASSERT_OK(YamlToJson("list: [1, two, \"th\\\"ree\"]\nnested: {x: 'a\\b'}\n", &json));
  EXPECT_EQ(json, R"({"list":[1,"two","th\"ree"],"nested":{"x":"a\\b"}})");
}

TEST(YamlToJson, RecordsLines) {
  std::string json;
  SourceMap lines;
  ASB_ASSERT_OK(YamlToJson("a: 1\nlist:\n  - x: 1\n  - x: 2\n", &json, &lines));
  EXPECT_EQ(lines["a"], 1);
  EXPECT_EQ(lines["list[1].x"], 4);
}

TEST(YamlToJson, RejectsBadYaml) {
  std::string json;
  EXPECT_THAT(YamlToJson("a: [1, 2\n", &json), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(YamlToJson("- just\n- a list\n", &json),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(YamlToJson, RejectsDuplicateKeysWithLine) {
  std::string json;
  EXPECT_THAT(YamlToJson("a: 1\nb: 2\na: 3\n", &json),
              StatusIsWith(absl::StatusCode::kInvalidArgument,
                           "line 3 column 1: duplicate key 'a' (first at line 1)"));
  EXPECT_THAT(
      YamlToJson("rules:\n  - id: x\n    fields: []\n    id: y\n", &json),
      StatusIsWith(absl::StatusCode::kInvalidArgument, "line 4 column 5: duplicate key 'id'"));
  // The same key in different maps is fine.
  ASB_EXPECT_OK(YamlToJson("a: {k: 1}\nb: {k: 2}\n", &json));
}

// Found by tests/fuzz/fuzz_config: a long number-like scalar overflowed std::regex's stack,
// and a few lines of nested aliases expanded without bound ("billion laughs").
TEST(YamlToJson, LongScalarsAndNumbers) {
  std::string json;
  ASB_ASSERT_OK(YamlToJson("a: " + std::string(200000, '7') + "\n", &json));
  EXPECT_EQ(json.size(), 200000u + 6);
  ASB_ASSERT_OK(YamlToJson("a: 0\nb: -0.5e+3\nc: 01\nd: 1.\ne: 1e\nf: -x\n", &json));
  EXPECT_EQ(json, R"({"a":0,"b":-0.5e+3,"c":"01","d":"1.","e":"1e","f":"-x"})");
}

TEST(YamlToJson, RefusesAliasBombsAndDeepNesting) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) {
      yaml += (j > 0 ? ", *a" : "*a") + std::to_string(i - 1);
    }
    yaml += "]\n";
  }
  std::string json;
  EXPECT_THAT(YamlToJson(yaml, &json),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "document expands to more than"));
  EXPECT_THAT(YamlToJson("a: " + std::string(100, '[') + std::string(100, ']') + "\n", &json),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "nested deeper than"));
  // An alias used a few times is fine.
  ASB_EXPECT_OK(YamlToJson("a: &x {k: 1}\nb: *x\n", &json));
  EXPECT_EQ(json, R"({"a":{"k":1},"b":{"k":1}})");
}

TEST(ParseYaml, RejectsUnknownFieldWithLine) {
  asb::config::v1::IntakeConfig cfg;
  auto s = ParseYaml("store:\n  path: /x\n  pathh: /y\n", "intake.yaml", &cfg);
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "pathh"));
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "line 3"));
}

TEST(ParseYaml, AcceptsBothFieldNameStyles) {
  asb::config::v1::IntakeConfig cfg;
  ASB_ASSERT_OK(ParseYaml("isp_file: a\nmaxEventsPerSubmit: 5\n", "t", &cfg));
  EXPECT_EQ(cfg.isp_file(), "a");
  EXPECT_EQ(cfg.max_events_per_submit(), 5u);
}

TEST(ExpandEnv, SubstitutesAndDefaults) {
  setenv("ASB_TEST_VAR", "/data", 1);
  unsetenv("ASB_TEST_UNSET");
  std::string out;
  ASB_ASSERT_OK(ExpandEnv("p: ${ASB_TEST_VAR}/db q: ${ASB_TEST_UNSET:-var}", &out));
  EXPECT_EQ(out, "p: /data/db q: var");
  ASB_ASSERT_OK(ExpandEnv("k: \"a${[b}c${9}\"", &out));  // not references: literal
  EXPECT_EQ(out, "k: \"a${[b}c${9}\"");
  EXPECT_THAT(ExpandEnv("x\ny: ${ASB_TEST_UNSET}", &out),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "line 2"));
}

TEST(LoadConfigFile, PicksFormatByExtension) {
  asb::testing::TempDir dir;
  {
    std::ofstream(dir.Sub("c.json")) << R"({"ispFile": "isp.yaml", "store": {"path": "db"}})";
    std::ofstream(dir.Sub("c.yaml")) << "isp_file: isp.yaml\nstore:\n  path: db\n";
    std::ofstream(dir.Sub("c.txt")) << "x";
  }
  asb::config::v1::IntakeConfig a, b, c;
  ASB_ASSERT_OK(LoadConfigFile(dir.Sub("c.json"), &a));
  ASB_ASSERT_OK(LoadConfigFile(dir.Sub("c.yaml"), &b));
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  EXPECT_THAT(LoadConfigFile(dir.Sub("c.txt"), &c), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(LoadConfigFile(dir.Sub("none.yaml"), &c), StatusIs(absl::StatusCode::kNotFound));
}

TEST(Violations, ReportsAllAtOnce) {
  Violations v;
  v.Required("store.path", "");
  v.Endpoint("server.api_bind", "http://x");
  v.Endpoint("server.hints_bind", "ipc:///tmp/x");
  absl::Status s = v.ToStatus("intake.yaml");
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "store.path: required"));
  EXPECT_THAT(s, StatusIsWith(absl::StatusCode::kInvalidArgument, "server.api_bind: must start"));
  EXPECT_EQ(v.items().size(), 2u);
}

TEST(Violations, NameFileAndLineOfThePath) {
  asb::testing::TempDir dir;
  const std::string path = dir.Sub("intake.yaml");
  std::ofstream(path) << "log:\n  level: info\nstore:\n  path: db\nserver:\n"
                         "  apiBind: \"http://x\"\n  stream_retention:\n    - { stream: events }\n";
  asb::config::v1::IntakeConfig cfg;
  SourceMap lines;
  ASB_ASSERT_OK(LoadConfigFile(path, &cfg, &lines));
  Violations v(path, &lines);
  v.Endpoint("server.api_bind", cfg.server().api_bind());     // camelCase in the file
  v.Required("server.key_file", "");                          // absent: its parent's line
  v.Add("server.stream_retention[0].consumers", "required");  // absent, in a list
  v.Required("isp_file", "");                                 // nothing enclosing it
  ASSERT_EQ(v.items().size(), 4u);
  EXPECT_EQ(v.items()[0], path +
                              ":6: server.api_bind: must start with tcp:// or ipc:// (got "
                              "'http://x')");
  EXPECT_EQ(v.items()[1], path + ":5: server.key_file: required");
  EXPECT_EQ(v.items()[2], path + ":8: server.stream_retention[0].consumers: required");
  EXPECT_EQ(v.items()[3], path + ": isp_file: required");
  EXPECT_THAT(v.ToStatus(), StatusIsWith(absl::StatusCode::kInvalidArgument,
                                         path + ":5: server.key_file: required; "));
}

TEST(Violations, PresentTellsAnEmptyKeyFromAnAbsentOne) {
  std::string json;
  SourceMap lines;
  ASB_ASSERT_OK(YamlToJson("orderTypes: []\nwards: []\n", &json, &lines));
  Violations v("isp.yaml", &lines);
  EXPECT_TRUE(v.Present("order_types"));
  EXPECT_TRUE(v.Present("wards"));
  EXPECT_FALSE(v.Present("tenures"));
  EXPECT_FALSE(Violations("isp.yaml", nullptr).Present("wards"));
  EXPECT_EQ(v.Line("wards[3].name"), 2);
  EXPECT_EQ(v.Line("tenures"), 0);
}

TEST(Violations, FileWithoutSourceMapNamesTheFileOnly) {
  Violations v("intake.json", nullptr);
  v.Required("store.path", "");
  ASSERT_EQ(v.items().size(), 1u);
  EXPECT_EQ(v.items()[0], "intake.json: store.path: required");
}

}  // namespace
}  // namespace asb::config
