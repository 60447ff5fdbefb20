#pragma once

// Policy test files (asb.config.v1.PolicyTestSuite): expected decisions of an ISP, checked
// against Policy::Explain — the `opa test` of the hub. Used by `asbctl policy test` and by the
// unit test that runs the shipped protocol's own test file.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asb/config/v1/isp.pb.h"
#include "common/policy/policy.h"

namespace asb::policy {

struct SuiteResult {
  int tests = 0;
  int passed = 0;
  // One sentence per failed expectation, e.g. "test 'fire sees nothing on a noise case':
  // expected withheld people[0].given_name, got shown by rule police-personal-parties".
  std::vector<std::string> failures;
};

// Loads the suite file, the ISP it names (relative to the suite's directory) and any case
// files, and runs every test. Errors (kInvalidArgument, kNotFound) are for files that cannot
// be loaded or a malformed suite; failed expectations are in the result, not the status.
absl::StatusOr<SuiteResult> RunPolicyTestFile(const std::string& path);

// Runs a parsed suite against `policy`. `base_dir` resolves case_file entries.
absl::StatusOr<SuiteResult> RunPolicyTests(const asb::config::v1::PolicyTestSuite& suite,
                                           const Policy& policy, const std::string& base_dir);

}  // namespace asb::policy
