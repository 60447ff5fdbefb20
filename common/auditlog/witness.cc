#include "common/auditlog/witness.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/crypto/crypto.h"
#include "common/crypto/merkle.h"
#include "google/protobuf/util/json_util.h"

namespace asb::audit {
namespace {

std::string Describe(const asb::v1::SignedTreeHead& sth) {
  return absl::StrCat(
      "size ", sth.tree_size(), ", signed ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                       absl::FromUnixMillis(static_cast<int64_t>(sth.timestamp_ms())),
                       absl::UTCTimeZone()),
      ", root ", crypto::HexEncode(sth.root_hash()).substr(0, 16), "…");
}

}  // namespace

ProofSizes WitnessProofSizes(const asb::v1::SignedTreeHead& saved,
                             const asb::v1::SignedTreeHead& seen) {
  ProofSizes p;
  p.first = std::min(saved.tree_size(), seen.tree_size());
  p.second = std::max(saved.tree_size(), seen.tree_size());
  return p;
}

absl::StatusOr<WitnessStep> CheckWitness(const asb::v1::SignedTreeHead& saved,
                                         const asb::v1::SignedTreeHead& seen,
                                         const std::vector<std::string>& proof) {
  if (saved.tree_size() == seen.tree_size()) {
    if (saved.root_hash() != seen.root_hash()) {
      return absl::DataLossError(absl::StrCat(
          "FORK: the hub signed two different logs of the same size: the head seen now (",
          Describe(seen), ") and the one kept (", Describe(saved), ")"));
    }
    return WitnessStep::kSame;
  }
  const bool newer = seen.tree_size() > saved.tree_size();
  const asb::v1::SignedTreeHead& small = newer ? saved : seen;
  const asb::v1::SignedTreeHead& large = newer ? seen : saved;
  // A head of size 0 is the empty tree, which every log extends.
  if (small.tree_size() > 0) {
    if (absl::Status s = crypto::merkle::VerifyConsistency(
            small.tree_size(), large.tree_size(), small.root_hash(), large.root_hash(), proof);
        !s.ok()) {
      return absl::DataLossError(absl::StrCat(
          "FORK: the log of the head seen now (", Describe(seen),
          ") is not an extension of the one kept (", Describe(saved),
          ") or the other way round: entries signed before were rewritten (", s.message(), ")"));
    }
  }
  return newer ? WitnessStep::kNewer : WitnessStep::kOlder;
}

absl::Status Truncated(const asb::v1::SignedTreeHead& saved, uint64_t log_size,
                       std::string_view where) {
  return absl::DataLossError(
      absl::StrCat("TRUNCATED: the log no longer holds the signed tree head kept in ",
                   absl::string_view(where.data(), where.size()), " (", Describe(saved),
                   "): the hub has ", log_size, " entries, so entries ", log_size + 1, "..",
                   saved.tree_size(), " it signed for are gone"));
}

absl::StatusOr<asb::v1::AuditWitness> ParseWitness(std::string_view json) {
  google::protobuf::util::JsonParseOptions options;
  asb::v1::AuditWitness witness;
  if (google::protobuf::util::JsonStringToMessage(
          google::protobuf::StringPiece(json.data(), json.size()), &witness, options)
          .ok() &&
      witness.has_tree_head()) {
    return witness;
  }
  asb::v1::SignedTreeHead sth;
  if (google::protobuf::util::JsonStringToMessage(
          google::protobuf::StringPiece(json.data(), json.size()), &sth, options)
          .ok() &&
      sth.tree_size() > 0) {
    witness = asb::v1::AuditWitness();
    *witness.mutable_tree_head() = sth;
    return witness;
  }
  return absl::InvalidArgumentError(
      "not a witness file (an asb.v1.AuditWitness or SignedTreeHead in JSON, as `asbctl audit "
      "head --out` writes)");
}

std::string WitnessJson(const asb::v1::AuditWitness& witness) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = false;
  (void)google::protobuf::util::MessageToJsonString(witness, &out, options);
  return out;
}

}  // namespace asb::audit
