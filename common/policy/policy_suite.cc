#include "common/policy/policy_suite.h"

#include <filesystem>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config/config.h"

namespace asb::policy {

namespace {

using asb::config::v1::PolicyTest;

std::string Resolve(const std::string& base_dir, const std::string& file) {
  std::filesystem::path p(file);
  if (p.is_relative() && !base_dir.empty()) {
    p = std::filesystem::path(base_dir) / p;
  }
  return p.string();
}

// True if the explained field lies at or under `want` (schema or indexed path).
bool Covers(const std::string& want, const Policy::FieldExplanation& fe) {
  for (const std::string* have : {&fe.path, &fe.schema_path}) {
    if (*have == want) {
      return true;
    }
    if (absl::StartsWith(*have, want) &&
        ((*have)[want.size()] == '.' || (*have)[want.size()] == '[')) {
      return true;
    }
  }
  return false;
}

void Check(const std::string& test, const Policy::Explanation& e, const char* outcome,
           const google::protobuf::RepeatedPtrField<std::string>& paths,
           std::vector<std::string>* failures) {
  for (const std::string& want : paths) {
    bool any = false;
    for (const auto& fe : e.fields) {
      if (!Covers(want, fe)) {
        continue;
      }
      any = true;
      if (fe.outcome != outcome) {
        std::string got = fe.outcome;
        if (!fe.rule_id.empty()) {
          absl::StrAppend(&got, " by rule ", fe.rule_id);
        }
        if (!fe.note.empty()) {
          absl::StrAppend(&got, " (", fe.note, ")");
        }
        failures->push_back(
            absl::StrCat("test '", test, "': expected ", outcome, " ", fe.path, ", got ", got));
      }
    }
    if (!any) {
      failures->push_back(absl::StrCat("test '", test, "': expected ", outcome, " ", want,
                                       ", but the case has no value there"));
    }
  }
}

}  // namespace

absl::StatusOr<SuiteResult> RunPolicyTests(const asb::config::v1::PolicyTestSuite& suite,
                                           const Policy& policy, const std::string& base_dir) {
  if (suite.tests_size() == 0) {
    return absl::InvalidArgumentError("tests: required: at least one test");
  }
  SuiteResult result;
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < suite.tests_size(); ++i) {
    const PolicyTest& t = suite.tests(i);
    const std::string at = absl::StrCat("tests[", i, "]");
    if (t.name().empty()) {
      return absl::InvalidArgumentError(at + ".name: required");
    }
    if (!names.insert(t.name()).second) {
      return absl::InvalidArgumentError(at + ".name: duplicate test '" + t.name() + "'");
    }
    const int sources =
        (t.has_case_() ? 1 : 0) + (t.case_name().empty() ? 0 : 1) + (t.case_file().empty() ? 0 : 1);
    if (sources != 1) {
      return absl::InvalidArgumentError(
          at + ": exactly one of case, case_name and case_file is required");
    }
    asb::v1::Case loaded;
    const asb::v1::Case* c = &t.case_();
    if (!t.case_name().empty()) {
      auto it = suite.cases().find(t.case_name());
      if (it == suite.cases().end()) {
        return absl::InvalidArgumentError(at + ".case_name: no case '" + t.case_name() +
                                          "' in cases");
      }
      c = &it->second;
    } else if (!t.case_file().empty()) {
      if (absl::Status s = config::LoadConfigFile(Resolve(base_dir, t.case_file()), &loaded);
          !s.ok()) {
        return s;
      }
      c = &loaded;
    }
    const EventContext ctx{t.event_type(), t.order_type()};
    auto e = policy.Explain(t.agency(), *c, ctx);
    if (!e.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".agency: ", e.status().message()));
    }
    ++result.tests;
    const std::size_t before = result.failures.size();
    if (e->visible != t.expect_visible()) {
      result.failures.push_back(
          absl::StrCat("test '", t.name(), "': expected ", t.agency(),
                       t.expect_visible() ? " to see the case, but no rule of it matches"
                                          : " not to see the case, but rules match: ",
                       t.expect_visible() ? "" : absl::StrJoin(e->matched_rules, ", ")));
    }
    Check(t.name(), *e, "shown", t.shown(), &result.failures);
    Check(t.name(), *e, "pseudonymised", t.pseudonymised(), &result.failures);
    Check(t.name(), *e, "generalised", t.generalised(), &result.failures);
    Check(t.name(), *e, "redacted", t.redacted(), &result.failures);
    Check(t.name(), *e, "withheld", t.withheld(), &result.failures);
    Check(t.name(), *e, "denied", t.denied(), &result.failures);
    for (const std::string& rule : t.rules()) {
      if (std::find(e->matched_rules.begin(), e->matched_rules.end(), rule) ==
          e->matched_rules.end()) {
        result.failures.push_back(absl::StrCat(
            "test '", t.name(), "': expected rule ", rule, " to match, matched: ",
            e->matched_rules.empty() ? "none" : absl::StrJoin(e->matched_rules, ", ")));
      }
    }
    if (result.failures.size() == before) {
      ++result.passed;
    }
  }
  return result;
}

absl::StatusOr<SuiteResult> RunPolicyTestFile(const std::string& path) {
  asb::config::v1::PolicyTestSuite suite;
  if (absl::Status s = config::LoadConfigFile(path, &suite); !s.ok()) {
    return s;
  }
  if (suite.isp_file().empty()) {
    return absl::InvalidArgumentError(path + ": isp_file: required");
  }
  const std::string base_dir = std::filesystem::path(path).parent_path().string();
  auto policy = Policy::LoadFile(Resolve(base_dir, suite.isp_file()));
  if (!policy.ok()) {
    return policy.status();
  }
  auto result = RunPolicyTests(suite, **policy, base_dir);
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat(path, ": ", result.status().message()));
  }
  return result;
}

}  // namespace asb::policy
