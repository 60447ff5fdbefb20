#pragma once

// asbctl's witness of one hub's access log: the largest signed tree head it has seen, kept in a
// file (asb.v1.AuditWitness, JSON), against which every head the hub shows it — on every answer
// of asb-audit and every alert pull — is checked with a consistency proof
// (common/auditlog/witness.h). A fork or a truncation fails the command loudly; a head that
// extends the kept one replaces it.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/audit.pb.h"

namespace asb::ctl {

// What the witness asks the hub's asb-audit.
struct WitnessSource {
  // The tree-head signing key (PEM) asb-audit publishes (trusted on first use).
  std::function<absl::StatusOr<std::string>()> public_key_pem;
  // A consistency proof from m to n entries; kOutOfRange if the log has fewer than n.
  std::function<absl::StatusOr<std::vector<std::string>>(uint64_t m, uint64_t n)> consistency;
  // The log's current size (for the message when it no longer holds the kept head).
  std::function<absl::StatusOr<uint64_t>()> log_size;
};

// The default witness file of the hub whose asb-audit is at `audit_endpoint`: in
// $ASBHUB_WITNESS_DIR, else $XDG_STATE_HOME/asbhub, else ~/.local/state/asbhub.
std::string DefaultWitnessFile(const std::string& audit_endpoint);

class HeadWitness {
 public:
  // `hub` names the hub in the file (its audit endpoint). `trusted_key_pem`, if not empty, is
  // the key heads must be signed with (else the key saved in the file, else asb-audit's).
  HeadWitness(std::string path, std::string hub, WitnessSource source,
              std::string trusted_key_pem = "");

  // Checks `head` against the kept one and keeps it if it extends it (the first head seen is
  // kept as it is, noted on stderr). kDataLoss "FORK: …" / "TRUNCATED: …" / a signature that
  // does not verify with the trusted key; other errors as the source or the file give them.
  absl::Status See(const asb::v1::SignedTreeHead& head);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string hub_;
  WitnessSource source_;
  std::string trusted_key_pem_;
  // The head last checked, so a repeated one costs nothing.
  std::string last_checked_;
};

}  // namespace asb::ctl
