#include "tools/asbctl/outcome.h"

#include <cstdio>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "common/status/check.h"

namespace asb::ctl {
namespace {

// A marked error carries one payload, "<form>:<argument>" (the argument may be empty).
constexpr char kReportUrl[] = "type.asbhub.dev/asb.ctl.Report";
constexpr absl::string_view kQuiet = "quiet";
constexpr absl::string_view kFromDaemon = "daemon";
constexpr absl::string_view kFileProblems = "file";
constexpr absl::string_view kNotVerified = "verdict";

absl::Status Mark(absl::Status status, absl::string_view form, absl::string_view argument = "") {
  ASB_CHECK(!status.ok());
  status.SetPayload(kReportUrl, absl::Cord(absl::StrCat(form, ":", argument)));
  return status;
}

int ExitCode(const absl::Status& status) {
  if (status.ok()) {
    return kExitOk;
  }
  return absl::IsPermissionDenied(status) ? kExitNotAuthorised : kExitError;
}

std::string ErrorLine(const absl::Status& status) {
  return absl::StrCat("asbctl: error: ", status.message(), "\n");
}

}  // namespace

Outcome Render(const absl::Status& status) {
  Outcome outcome;
  outcome.exit_code = ExitCode(status);
  if (status.ok()) {
    return outcome;
  }
  const absl::optional<absl::Cord> payload = status.GetPayload(kReportUrl);
  if (!payload.has_value()) {
    outcome.err = ErrorLine(status);
    return outcome;
  }
  const std::string report(*payload);
  const std::size_t colon = report.find(':');
  const absl::string_view form = absl::string_view(report).substr(0, colon);
  const std::string argument = colon == std::string::npos ? "" : report.substr(colon + 1);
  if (form == kQuiet) {
    return outcome;
  }
  if (form == kFromDaemon) {
    outcome.err = absl::StrCat("asb-", argument, ": ", ErrorLine(status));
  } else if (form == kFileProblems) {
    const std::vector<std::string> parts =
        absl::StrSplit(status.message(), absl::ByString(absl::StrCat("; ", argument)));
    for (std::size_t i = 0; i < parts.size(); ++i) {
      absl::StrAppend(&outcome.err, i == 0 ? "" : argument, parts[i], "\n");
    }
  } else if (form == kNotVerified) {
    outcome.exit_code = kExitNotVerified;
    outcome.out = absl::StrCat("FAILED: ", status.message(), "\n");
    uint64_t first_bad = 0;
    if (absl::SimpleAtoi(argument, &first_bad) && first_bad != 0) {
      absl::StrAppend(&outcome.out, "first bad entry: ", first_bad, "\n");
    }
  } else {
    outcome.err = ErrorLine(status);
  }
  return outcome;
}

int Finish(const absl::Status& status) {
  const Outcome outcome = Render(status);
  std::fputs(outcome.out.c_str(), stdout);
  std::fputs(outcome.err.c_str(), stderr);
  return outcome.exit_code;
}

absl::Status Quiet(absl::Status status) { return Mark(std::move(status), kQuiet); }

absl::Status FromDaemon(const std::string& daemon, absl::Status status) {
  return Mark(std::move(status), kFromDaemon, daemon);
}

absl::Status FileProblems(const std::string& file, absl::Status status) {
  return Mark(std::move(status), kFileProblems, file);
}

absl::Status NotVerified(absl::Status why, uint64_t first_bad) {
  return Mark(std::move(why), kNotVerified, absl::StrCat(first_bad));
}

}  // namespace asb::ctl
