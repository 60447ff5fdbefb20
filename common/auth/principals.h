#pragma once

// Who may connect to a daemon, read from the ISP file's `agencies` and `principals`, and whether
// the ISP's data sharing agreement is in force: every daemon's ZAP authenticator is fed from
// this (services/daemon). It compiles no sharing rules and never reads the pseudonymisation key,
// so a daemon that only authenticates (asb-intake, asb-notify, asb-audit) cannot re-identify
// pseudonyms, and a rule error that only matters to asb-sharing does not block their start or
// reload. An agreement past its review date and grace (common/agreement) is refused here, so no
// daemon loads it.

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asb/config/v1/isp.pb.h"
#include "common/bus/auth.h"
#include "common/config/config.h"
#include "common/config/violations.h"

namespace asb::auth {

// The agency of the hub's own daemons (isp.proto: Principal.agency); only role DAEMON uses it.
inline constexpr char kHubAgency[] = "hub";

// True when `id` is a valid ISP id (agency, purpose): non-empty, only [a-z0-9_-].
bool ValidId(const std::string& id);

// The one check of an ISP's agencies and principals, used by Principals and by the policy
// engine (common/policy, which checks the rest of the ISP): adds to `problems` each problem of
// the agencies (id required, valid [a-z0-9_-]+, unique and not "hub"; name required) and of the
// principals (name required and unique; agency required and known, or "hub"; role valid, DAEMON
// exactly for "hub"; public key a CurveZMQ key, 40 Z85 characters, no other principal uses).
// Returns the ids of the agencies that passed, in no order.
absl::flat_hash_set<std::string> CheckAgenciesAndPrincipals(const asb::config::v1::Isp& isp,
                                                            config::Violations* problems);

// The principals of one ISP, checked and ready for bus::Authenticator. Immutable; cheap to copy
// (the table is shared).
class Principals {
 public:
  // Parses the ISP file (YAML/JSON, asb.config.v1.Isp, through common/config: unknown fields are
  // errors) and checks its agencies and principals (CheckAgenciesAndPrincipals). Errors are
  // kInvalidArgument listing every problem with the file's name and, where the file gives it,
  // the line ("isp.yaml:42: principals[3].agency: unknown agency 'polce'"), or kNotFound for a
  // missing file. The data sharing agreement, if the ISP has one, is checked too
  // (agreement::Check) and refused if it has lapsed at `now` (agreement::CheckInForce). Rules,
  // purposes and the pseudonymisation key are not looked at.
  static absl::StatusOr<Principals> LoadFile(const std::string& isp_file,
                                             absl::Time now = absl::Now());

  // The same checks on an already parsed ISP; `lines` (may be null) gives the lines for
  // `file_name`'s messages.
  static absl::StatusOr<Principals> FromIsp(const asb::config::v1::Isp& isp,
                                            const std::string& file_name,
                                            const config::SourceMap* lines,
                                            absl::Time now = absl::Now());

  // The ISP's name (Isp.name), for logs.
  const std::string& isp_name() const { return isp_name_; }
  // Hex SHA-256 of the deterministic serialisation of the agencies and principals: changes
  // exactly when who may connect, as whom, changes.
  const std::string& version() const { return version_; }
  // The table bus::Authenticator::SetPrincipals takes.
  std::shared_ptr<const bus::PrincipalTable> table() const { return table_; }
  // The ISP's data sharing agreement (and name) only, for agreement::AssessReview and
  // agreement::RetentionDays: the daemons warn while it is due for review.
  const asb::config::v1::Isp& agreement_isp() const { return review_isp_; }

 private:
  Principals() = default;

  std::string isp_name_;
  std::string version_;
  std::shared_ptr<const bus::PrincipalTable> table_;
  asb::config::v1::Isp review_isp_;  // name and agreement only
};

}  // namespace asb::auth
