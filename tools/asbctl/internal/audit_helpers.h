#pragma once

// What the audit commands share (audit_*_command(s).cc): the page size, and for those that check
// the log (verify, prove, export, verify-export) the signed tree heads and the key that checks
// them, the hub as an audit::LogSource, and how a verification's verdict is printed.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/audit.pb.h"
#include "common/auditlog/verifier.h"
#include "common/crypto/crypto.h"
#include "tools/asbctl/hub_client.h"

namespace asb::ctl::internal {

// Entries per request when fetching every page of the log.
inline constexpr uint32_t kAuditPage = 10000;

// "size 12, signed 2026-01-31T09:00:00Z, root <hex>".
std::string Describe(const asb::v1::SignedTreeHead& sth);

// The key tree heads are checked with: --public-key FILE if given (kNotFound, kInvalidArgument
// name the file), else the PEM `fallback` (the hub's or the export's own), with a warning on
// stderr that this proves integrity only relative to that key.
absl::StatusOr<crypto::Ed25519PublicKey> TrustedKey(const std::string& public_key_file,
                                                    const std::string& fallback,
                                                    const char* fallback_source);

// The latest tree head (fresh), its key, and (with history) every stored earlier head.
struct HeadInfo {
  asb::v1::SignedTreeHead head;
  std::string public_key_pem;
  std::vector<asb::v1::SignedTreeHead> history;
  uint64_t expired_through = 0;
  // Damage asb-audit found at start (the log is not whole while any is listed).
  std::vector<asb::v1::AuditDamage> damage;
};
absl::StatusOr<HeadInfo> FetchHeads(HubClient& hub, bool with_history);

// Verifies every checkpoint's signature; the first forged one is the error.
absl::Status CheckSignatures(const std::vector<asb::v1::SignedTreeHead>& heads,
                             const crypto::Ed25519PublicKey& key);

// Prints the damage asb-audit reports (HeadInfo.damage), one line each; returns kDataLoss
// saying the log is not whole if there is any, else OK.
absl::Status ReportHubDamage(const std::vector<asb::v1::AuditDamage>& damage);

// "entries 4..9 (case C-1): what" for a damaged stretch.
std::string DescribeDamage(const asb::v1::AuditDamage& d);

// The hub as a LogSource: unfiltered pages of stored entries, consistency proofs and compact
// ranges. `hub` must outlive the source.
audit::LogSource HubSource(HubClient& hub);

// Prints what a verification accounted for (expired and erased entries) and, if the log
// verifies, "OK: …" naming `head` and `heads_note`. A log that does not verify is
// NotVerified() (exit 3, naming the first bad entry); a failure to verify at all (the hub down,
// say) is the plain error.
absl::Status ReportVerification(const audit::VerifyReport& report,
                                const asb::v1::SignedTreeHead& head, const std::string& heads_note);

}  // namespace asb::ctl::internal
