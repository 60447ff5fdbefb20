#pragma once

// Witnessing the access log from outside the hub, as Certificate Transparency's clients do: keep
// the largest signed tree head seen (an asb.v1.AuditWitness file) and check every new head
// against it with an RFC 9162 consistency proof, so a hub that forks its log (two different
// logs for different viewers) or truncates it (entries signed before are gone) is caught by
// anyone who kept an older head. The check is written out in the README ("Witnesses") for
// other clients to implement.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/audit.pb.h"

namespace asb::audit {

// How a new head relates to the saved one.
enum class WitnessStep {
  kSame,   // the same tree size and root
  kNewer,  // a larger tree that extends the saved one: keep it instead
  kOlder,  // a smaller tree that the saved one extends: keep the saved one
};

// The consistency proof CheckWitness needs: from the smaller of the two tree sizes to the
// larger (none when they are equal).
struct ProofSizes {
  uint64_t first = 0;
  uint64_t second = 0;
};
ProofSizes WitnessProofSizes(const asb::v1::SignedTreeHead& saved,
                             const asb::v1::SignedTreeHead& seen);

// Checks `seen` against `saved` (both signatures already verified) with `proof`, the
// consistency proof WitnessProofSizes names. kDataLoss, beginning "FORK:", if the two heads
// cannot both be heads of one append-only log (same size with another root, or a proof that
// does not verify). A hub that cannot give the proof because it has fewer entries than `saved`
// covers is a truncation: the caller says so with Truncated().
absl::StatusOr<WitnessStep> CheckWitness(const asb::v1::SignedTreeHead& saved,
                                         const asb::v1::SignedTreeHead& seen,
                                         const std::vector<std::string>& proof);

// kDataLoss, beginning "TRUNCATED:", for a hub whose log no longer holds the `saved` head
// (`log_size` entries, or fewer than it covers). `where` names the witness (a file).
absl::Status Truncated(const asb::v1::SignedTreeHead& saved, uint64_t log_size,
                       std::string_view where);

// The witness file: JSON (protobuf JSON mapping) of an AuditWitness. ParseWitness also takes a
// bare SignedTreeHead in JSON (then public_key_pem is empty). kInvalidArgument if it is
// neither, or has no tree head.
absl::StatusOr<asb::v1::AuditWitness> ParseWitness(std::string_view json);
std::string WitnessJson(const asb::v1::AuditWitness& witness);

}  // namespace asb::audit
