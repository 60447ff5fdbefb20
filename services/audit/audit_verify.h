#pragma once

// Checking the access log from outside: canonical entry bytes and leaf hashes, the bytes a
// signed tree head signs, and a streaming verifier that re-derives the Merkle tree from entries
// and compares it with signed tree heads, naming the first entry that does not fit.
//
// Header-only on purpose: asbctl (which links asb::proto and asb::crypto but not the daemon's
// library) and asb-audit must compute exactly the same bytes, so there is one definition.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"
#include "common/crypto/crypto.h"
#include "common/crypto/merkle.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace asb::audit {

// The canonical bytes of an entry: its deterministic protobuf serialisation with leaf_hash
// cleared. leaf_hash is the highest-numbered field, so it is serialised last: the canonical
// bytes are the full serialisation without that trailing field (no copy of the entry), unless
// the entry carries unknown fields (serialised after it), which take the copying path.
inline std::string CanonicalEntryBytes(const asb::v1::AuditEntry& entry) {
  const bool strip =
      !entry.leaf_hash().empty() && entry.GetReflection()->GetUnknownFields(entry).empty();
  const asb::v1::AuditEntry* source = &entry;
  asb::v1::AuditEntry copy;
  if (!strip && !entry.leaf_hash().empty()) {
    copy = entry;
    copy.clear_leaf_hash();
    source = &copy;
  }
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream raw(&bytes);
    google::protobuf::io::CodedOutputStream coded(&raw);
    coded.SetSerializationDeterministic(true);
    // Only fails for messages over 2 GiB, which the bus limits rule out; an empty result then
    // simply fails verification.
    if (!source->SerializeToCodedStream(&coded)) {
      return std::string();
    }
  }
  if (strip) {
    const std::size_t len = entry.leaf_hash().size();
    const std::size_t tail =
        1 + google::protobuf::io::CodedOutputStream::VarintSize32(static_cast<uint32_t>(len)) + len;
    bytes.resize(bytes.size() - tail);
  }
  return bytes;
}

// RFC 9162 leaf hash: SHA-256(0x00 || CanonicalEntryBytes(entry)), 32 raw bytes.
inline std::string LeafHash(const asb::v1::AuditEntry& entry) {
  return crypto::merkle::HashLeaf(CanonicalEntryBytes(entry));
}

// What a tree head's signature covers: "asbhub-audit-sth-v1" 0x00, big-endian tree_size and
// timestamp_ms, then root_hash.
inline std::string TreeHeadSigningInput(const asb::v1::SignedTreeHead& sth) {
  std::string out("asbhub-audit-sth-v1");
  out.push_back('\0');
  for (uint64_t v : {sth.tree_size(), sth.timestamp_ms()}) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((v >> shift) & 0xff));
    }
  }
  out.append(sth.root_hash());
  return out;
}

// OK if `sth` is signed by `key`; kDataLoss ("tree head of size N: ...") otherwise.
inline absl::Status VerifyTreeHeadSignature(const asb::v1::SignedTreeHead& sth,
                                            const crypto::Ed25519PublicKey& key) {
  if (sth.root_hash().size() != crypto::merkle::kHashSize) {
    return absl::DataLossError(
        absl::StrCat("tree head of size ", sth.tree_size(), ": root hash is not 32 bytes"));
  }
  if (absl::Status s = key.Verify(TreeHeadSigningInput(sth), sth.signature()); !s.ok()) {
    return absl::DataLossError(absl::StrCat(
        "tree head of size ", sth.tree_size(),
        ": signature does not verify with the public key (forged, altered or another key)"));
  }
  return absl::OkStatus();
}

// Re-derives the log from its entries, in index order, and checks it against signed tree
// heads. Feed every entry from index 1 with Add(); the first problem is kept (first_bad() names
// the entry) and later calls are ignored. Not thread-safe.
class LogVerifier {
 public:
  // `checkpoints`: signed tree heads (signatures already verified) to compare with as the
  // entries pass their sizes; any order. `keep_leaves` keeps every leaf hash (32 bytes per
  // entry) for LocateWithConsistencyProofs.
  explicit LogVerifier(std::vector<asb::v1::SignedTreeHead> checkpoints, bool keep_leaves = false)
      : checkpoints_(std::move(checkpoints)), keep_leaves_(keep_leaves) {
    std::sort(checkpoints_.begin(), checkpoints_.end(),
              [](const auto& a, const auto& b) { return a.tree_size() < b.tree_size(); });
  }

  // Checks one more entry: its index must be the next one (a gap is a deleted entry, a lower or
  // repeated index a reordered one), its stored leaf_hash must match its contents, and the
  // tree after it must match any checkpoint of that size. Returns the first problem (kDataLoss,
  // naming the entry) — also on later calls.
  absl::Status Add(const asb::v1::AuditEntry& entry) {
    if (!status_.ok()) {
      return status_;
    }
    const uint64_t expected = range_.size() + 1;
    if (entry.index() != expected) {
      return Fail(expected,
                  entry.index() > expected
                      ? absl::StrCat("entry ", expected, " is missing or moved (found entry ",
                                     entry.index(), " in its place)")
                      : absl::StrCat("entry ", expected, " is out of order (found entry ",
                                     entry.index(), " in its place)"));
    }
    std::string leaf = LeafHash(entry);
    if (leaf != entry.leaf_hash()) {
      return Fail(expected, absl::StrCat("entry ", expected,
                                         " was altered: its contents do not match its leaf hash"));
    }
    if (keep_leaves_) {
      leaves_.push_back(leaf);
    }
    range_.Append(std::move(leaf));
    while (next_checkpoint_ < checkpoints_.size() &&
           checkpoints_[next_checkpoint_].tree_size() <= range_.size()) {
      const auto& sth = checkpoints_[next_checkpoint_];
      if (sth.tree_size() == range_.size()) {
        if (range_.Root() != sth.root_hash()) {
          return Fail(
              last_good_size_ + 1,
              absl::StrCat("entries ", last_good_size_ + 1, "..", sth.tree_size(),
                           " do not match the signed tree head of size ", sth.tree_size(),
                           " (an entry in that range was altered, removed or inserted together "
                           "with its leaf hash)"));
        }
        last_good_size_ = sth.tree_size();
      }
      ++next_checkpoint_;
    }
    return absl::OkStatus();
  }

  // Call after the last entry: every checkpoint must have been reached. kDataLoss if the log
  // is shorter than a signed tree head says.
  absl::Status Finish() {
    if (!status_.ok()) {
      return status_;
    }
    if (next_checkpoint_ < checkpoints_.size()) {
      const uint64_t want = checkpoints_.back().tree_size();
      return Fail(range_.size() + 1,
                  absl::StrCat("the log ends at entry ", range_.size(),
                               " but a signed tree head covers ", want, " entries"));
    }
    return absl::OkStatus();
  }

  // With keep_leaves, after a checkpoint mismatch: finds the first entry whose leaf does not
  // fit the signed root `sth` by binary search over prefixes, each checked with a consistency
  // proof from `proof_for(m, sth.tree_size())` (e.g. asked of the hub; its stored hashes need
  // not be trusted: a proof only verifies if it matches the signed root). Returns the 1-based
  // index, or 0 if it cannot tell (proofs unavailable or inconsistent).
  uint64_t LocateWithConsistencyProofs(
      const asb::v1::SignedTreeHead& sth,
      const std::function<absl::StatusOr<std::vector<std::string>>(uint64_t, uint64_t)>& proof_for)
      const {
    const uint64_t n = sth.tree_size();
    if (!keep_leaves_ || leaves_.size() < n || n == 0) {
      return 0;
    }
    // good(m): leaves[0..m) are a prefix of the signed tree. good(0) holds; good(n) does not.
    auto good = [&](uint64_t m) {
      auto proof = proof_for(m, n);
      if (!proof.ok()) {
        return false;
      }
      crypto::merkle::CompactRange prefix;
      for (uint64_t i = 0; i < m; ++i) {
        prefix.Append(leaves_[i]);
      }
      return crypto::merkle::VerifyConsistency(m, n, prefix.Root(), sth.root_hash(), *proof).ok();
    };
    uint64_t lo = 0;
    uint64_t hi = n;
    while (hi - lo > 1) {
      const uint64_t mid = lo + (hi - lo) / 2;
      if (good(mid)) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return hi;
  }

  const absl::Status& status() const { return status_; }
  // 1-based index of the first entry that does not verify (0 while all is well).
  uint64_t first_bad() const { return first_bad_; }
  // Entries checked so far.
  uint64_t size() const { return range_.size(); }
  std::string Root() const { return range_.Root(); }
  // The largest checkpoint size that matched.
  uint64_t last_good_size() const { return last_good_size_; }

 private:
  absl::Status Fail(uint64_t index, std::string message) {
    first_bad_ = index;
    status_ = absl::DataLossError(std::move(message));
    return status_;
  }

  std::vector<asb::v1::SignedTreeHead> checkpoints_;
  bool keep_leaves_;
  std::size_t next_checkpoint_ = 0;
  uint64_t last_good_size_ = 0;
  crypto::merkle::CompactRange range_;
  std::vector<std::string> leaves_;
  absl::Status status_;
  uint64_t first_bad_ = 0;
};

// Feeds entries 1..tree_size to `verifier`, fetching unfiltered query pages with
// `fetch(after_index)` (AuditQueryRequest{after_index}), then calls Finish(). Returns the
// verifier's first problem, or the fetch error.
inline absl::Status FeedEntries(
    uint64_t tree_size,
    const std::function<absl::StatusOr<asb::v1::AuditQueryResponse>(uint64_t after_index)>& fetch,
    LogVerifier* verifier) {
  uint64_t after = 0;
  while (verifier->size() < tree_size) {
    auto page = fetch(after);
    if (!page.ok()) {
      return page.status();
    }
    for (const asb::v1::AuditEntry& e : page->entries()) {
      if (verifier->size() >= tree_size) {
        break;
      }
      if (absl::Status s = verifier->Add(e); !s.ok()) {
        return s;
      }
    }
    if (page->next_after_index() == 0 || page->next_after_index() <= after) {
      break;
    }
    after = page->next_after_index();
  }
  return verifier->Finish();
}

}  // namespace asb::audit
