#pragma once

// How an asbctl command ends. Every command returns an absl::Status; Finish() is the one place
// that turns it into what the user sees and asbctl's exit code:
//
//   OK          nothing more is printed; exit 0
//   an error    "asbctl: error: <message>" on stderr; exit 2 if it is kPermissionDenied (not
//               authorised, so scripts can tell), else 1
//
// The functions below mark the errors that are shown differently; the exit code of a marked
// error follows the same rule unless its comment says otherwise.

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace asb::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitNotAuthorised = 2;
inline constexpr int kExitNotVerified = 3;

// What Finish() prints for a status, and the exit code.
struct Outcome {
  int exit_code = kExitOk;
  std::string out;  // for stdout
  std::string err;  // for stderr
};

// Finish() without the printing.
Outcome Render(const absl::Status& status);

// Prints Render(status) to stdout and stderr and returns its exit code.
int Finish(const absl::Status& status);

// The command has printed its own account of the failure (e.g. `submit`'s "3 refused"): nothing
// more is printed. REQUIRES: !status.ok().
absl::Status Quiet(absl::Status status);

// One daemon of several failed: "asb-<daemon>: asbctl: error: <message>".
// REQUIRES: !status.ok().
absl::Status FromDaemon(const std::string& daemon, absl::Status status);

// `file` did not load, and `status` lists every problem ("f:3: a: x; f:9: b: y", as an ISP load
// reports them): one problem per line on stderr, without the "asbctl: error:" prefix.
// REQUIRES: !status.ok().
absl::Status FileProblems(const std::string& file, absl::Status status);

// The audit log (or an export of it) does not verify: "FAILED: <message>" on stdout, then
// "first bad entry: N" unless first_bad is 0; exit 3 whatever the code. REQUIRES: !why.ok().
absl::Status NotVerified(absl::Status why, uint64_t first_bad = 0);

}  // namespace asb::ctl
