// Fuzzes what a verifier (asbctl audit verify) does with a page of stored entries from the hub:
// common/auditlog's page walk (ForEachStoredEntry) and LogVerifier (AddStored hashes entries of
// asb-audit's own shape without parsing them and parses the rest), then locating a bad entry.
// Two invariants abort if broken: for every entry that parses, LeafHash is the hash of
// CanonicalEntryBytes; and the verifier accepts what EncodeEntry (asb-audit's writer) writes
// for that entry's record, origin and index.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "asb/v1/audit.pb.h"
#include "common/auditlog/verifier.h"
#include "common/crypto/merkle.h"

namespace {

// The writer and the reader agree: entry `e`'s contents, encoded as asb-audit stores them,
// verify as the entry after a (made-up) compact range of e.index() - 1 leaves.
void CheckWriterAndReaderAgree(const asb::v1::AuditEntry& e) {
  if (e.index() == 0 || e.index() > (uint64_t{1} << 62)) {
    return;
  }
  const uint64_t before = e.index() - 1;
  std::vector<std::string> frontier(static_cast<std::size_t>(__builtin_popcountll(before)),
                                    std::string(asb::crypto::merkle::kHashSize, 'f'));
  asb::audit::LogVerifier verifier({});
  const asb::audit::EncodedEntry encoded =
      asb::audit::EncodeEntry(e.index(), e.record(), e.origin(), e.origin_seq());
  if (!verifier.StartAt(before, frontier).ok() || !verifier.AddStored(encoded.bytes).ok()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The hub's pages are bounded by the bus (ZMQ_MAXMSGSIZE).
  if (size > (4u << 20)) {
    return -1;
  }
  const std::string_view page(reinterpret_cast<const char*>(data), size);
  asb::audit::LogVerifier verifier({}, /*keep_leaves=*/true);
  (void)asb::audit::ForEachStoredEntry(page, [&](std::string_view bytes) {
    asb::v1::AuditEntry entry;
    if (entry.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      if (asb::audit::LeafHash(entry) !=
          asb::crypto::merkle::HashLeaf(asb::audit::CanonicalEntryBytes(entry))) {
        std::abort();  // two definitions of one leaf hash disagree
      }
      CheckWriterAndReaderAgree(entry);
    }
    return verifier.AddStored(bytes).ok();
  });
  (void)verifier.Finish();
  // Locating against a head the entries do not reach, with no proofs to be had.
  asb::v1::SignedTreeHead head;
  head.set_tree_size(verifier.size() + 1);
  head.set_root_hash(std::string(asb::crypto::merkle::kHashSize, '\0'));
  (void)verifier.LocateWithConsistencyProofs(
      head, [](uint64_t, uint64_t) -> absl::StatusOr<std::vector<std::string>> {
        return absl::UnavailableError("no proofs");
      });
  return 0;
}
