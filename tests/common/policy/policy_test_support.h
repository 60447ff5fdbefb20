#pragma once

// Helpers shared by the policy engine's unit tests: an ISP compiled from a few lines of YAML, a
// sample case, and a fixture that writes an ISP file and checks a load error down to its file
// and line.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/config/config.h"
#include "common/crypto/crypto.h"
#include "common/policy/policy.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::policy::test_support {

using ::asb::v1::Disclosure;

inline const std::string kKey(32, 'k');

inline std::string Src(const std::string& rel) { return std::string(ASB_SOURCE_DIR) + "/" + rel; }

inline std::string Read(const std::string& path) {
  std::string text;
  EXPECT_TRUE(config::ReadFile(path, &text).ok()) << path;
  return text;
}

inline void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Compiles an ISP written in YAML with kKey. The header (name, key file, two agencies, one
// purpose) is added so each test only writes its rules.
inline std::shared_ptr<const Policy> Make(const std::string& rules_yaml) {
  const std::string text = R"(name: "T"
pseudonymisation_key_file: "k"
agencies:
  - { id: council, name: "Council" }
  - { id: police, name: "Police" }
purposes:
  - { id: csp, description: "d", lawful_basis: "CDA 1998 s.115" }
  - { id: safe, description: "d", lawful_basis: "Children Act 2004 s.11" }
)" + rules_yaml;
  asb::config::v1::Isp isp;
  absl::Status s = config::ParseYaml(text, "t.yaml", &isp);
  EXPECT_TRUE(s.ok()) << s;
  auto policy = Policy::Compile(isp, kKey, "t.yaml", nullptr);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : nullptr;
}

inline asb::v1::Case SampleCase() {
  asb::v1::Case c;
  c.set_case_id("CBC-2024-0042");
  c.set_status(asb::v1::CASE_STATUS_OPEN);
  c.set_nsir_category(asb::v1::NSIR_CATEGORY_PERSONAL);
  c.set_title("Noise and intimidation, Brimington");
  c.set_summary("Repeated shouting at the victim's door.");
  c.set_lead_agency("council");
  c.set_lead_officer("A. Officer");
  auto* loc = c.mutable_location();
  loc->set_latitude(53.25);
  loc->set_longitude(-1.42);
  loc->set_description("On or near Manor Road");
  loc->set_lsoa_code("E01019400");
  loc->set_ward("Brimington South");
  c.mutable_flags()->set_council_tenancy(true);
  c.set_victim_risk(asb::v1::RISK_LEVEL_MEDIUM);
  c.set_risk_notes("Victim anxious.");
  c.mutable_opened_at()->set_seconds(1717000000);   // 2024-05-29T16:26:40Z
  c.mutable_updated_at()->set_seconds(1718000000);  // 2024-06-10T06:13:20Z
  auto* v = c.add_people();
  v->set_person_id("P-1");
  v->set_role(asb::v1::PERSON_ROLE_VICTIM);
  v->set_given_name("Alice");
  v->set_family_name("Smith");
  v->set_date_of_birth("1980-06-11");  // 43 on 2024-06-10 (birthday the next day)
  v->mutable_address()->set_line1("1 Manor Road");
  v->mutable_address()->set_town("Chesterfield");
  v->mutable_address()->set_postcode("S40 1LP");
  v->set_tenure(asb::v1::TENURE_COUNCIL_TENANT);
  v->set_phone("07700 900001");
  auto* p = c.add_people();
  p->set_person_id("P-2");
  p->set_role(asb::v1::PERSON_ROLE_PERPETRATOR);
  p->set_given_name("Bob");
  p->set_family_name("Jones");
  p->set_date_of_birth("1990-01-01");
  p->mutable_address()->set_postcode("S41 7AB");
  p->set_phone("07700 900002");
  auto* w = c.add_people();
  w->set_person_id("P-3");
  w->set_role(asb::v1::PERSON_ROLE_WITNESS);
  w->set_given_name("Carol");
  auto* inc = c.add_incidents();
  inc->set_incident_id("I-1");
  inc->mutable_occurred_at()->set_seconds(1716900000);
  inc->set_description("Shouting");
  return c;
}

inline Disclosure Apply(const Policy& p, const std::string& agency, const asb::v1::Case& c,
                        EventContext ctx = {}) {
  Disclosure d;
  EXPECT_TRUE(p.Apply(agency, c, ctx, &d));
  return d;
}

inline std::string Pseudonym(const std::string& path, const std::string& value) {
  return "ps_" + crypto::HexEncode(crypto::HmacSha256(kKey, path + ":" + value)).substr(0, 24);
}

class PolicyLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = Read(Src("tests/common/policy/testdata/test_isp.yaml"));
    key_ = Read(Src("tests/common/policy/testdata/test.key"));
  }

  // Writes `text` as isp.yaml (and the key) and loads it.
  absl::StatusOr<std::shared_ptr<const Policy>> Load(const std::string& text) {
    Write(dir_.Sub("isp.yaml"), text);
    Write(dir_.Sub("test.key"), key_);
    return Policy::LoadFile(dir_.Sub("isp.yaml"));
  }

  // Replaces `from` (which must occur) in the base ISP.
  std::string With(const std::string& from, const std::string& to) {
    EXPECT_NE(base_.find(from), std::string::npos) << from;
    return absl::StrReplaceAll(base_, {{from, to}});
  }

  // "<dir>/isp.yaml:<line of needle in text>: <path>"
  std::string Where(const std::string& text, const std::string& needle, const std::string& path) {
    std::size_t at = text.find(needle);
    EXPECT_NE(at, std::string::npos) << needle;
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
    return absl::StrCat(dir_.Sub("isp.yaml"), ":", line, ": ", path, ": ");
  }

  // The load fails with a message holding "<file>:<line>: <path>: ..." where `problem` is part
  // of that one entry.
  void ExpectError(const std::string& text, const std::string& needle, const std::string& path,
                   const std::string& problem) {
    auto policy = Load(text);
    ASSERT_THAT(policy, ::asb::testing::StatusIs(absl::StatusCode::kInvalidArgument));
    const std::string message(policy.status().message());
    const std::string where = Where(text, needle, path);
    const std::size_t at = message.find(where);
    ASSERT_NE(at, std::string::npos) << "no '" << where << "' in: " << message;
    const std::string entry = message.substr(at, message.find("; ", at) - at);
    EXPECT_THAT(entry, ::testing::HasSubstr(problem));
  }

  asb::testing::TempDir dir_;
  std::string base_;
  std::string key_;
};

}  // namespace asb::policy::test_support
