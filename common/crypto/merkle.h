#pragma once

// RFC 9162 (RFC 6962) Merkle tree hashing, proofs and proof verification, with SHA-256.
//
//   leaf hash  = SHA-256(0x00 || data)
//   node hash  = SHA-256(0x01 || left || right)
//   MTH({})    = SHA-256("")
//   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
//
// Every subtree a proof or root needs is a *complete* subtree (2^level leaves, aligned), named
// (level, index): it covers leaves [index << level, (index + 1) << level). A log that stores the
// hash of every complete subtree as it appears (CompactRange::Append reports each one) can
// produce the root of any earlier size and any proof with O(log n) reads through a NodeReader.
//
// All hashes are 32 raw bytes. Pure functions, thread-safe.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace asb::crypto::merkle {

inline constexpr std::size_t kHashSize = 32;

std::string HashLeaf(std::string_view data);
std::string HashChildren(std::string_view left, std::string_view right);
// SHA-256 of the empty string: the root of the empty tree.
std::string EmptyRoot();

// The largest power of two smaller than n. REQUIRES: n >= 2.
uint64_t SplitPoint(uint64_t n);

// Returns the hash of complete subtree (level, index); level 0 is the leaf hashes. kNotFound (or
// any storage error) is passed through by the functions below.
using NodeReader = std::function<absl::StatusOr<std::string>(int level, uint64_t index)>;

// MTH(D[0:size]) from stored complete subtrees: at most ⌈log₂ size⌉ reads.
absl::StatusOr<std::string> RootAt(uint64_t size, const NodeReader& read);

// RFC 9162 inclusion proof (audit path) of leaf `index` (0-based) in the tree of `size` leaves,
// innermost sibling first; at most ⌈log₂ size⌉ hashes. kInvalidArgument unless index < size.
absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t index, uint64_t size,
                                                        const NodeReader& read);

// RFC 9162 consistency proof between tree sizes first <= second. Empty when first == 0 or
// first == second. kInvalidArgument if first > second.
absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t first, uint64_t second,
                                                          const NodeReader& read);

// RFC 9162 §2.1.3.2. OK if `proof` proves leaf_hash is leaf `index` of the tree of `size` with
// `root`; kInvalidArgument (saying why) otherwise.
absl::Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                             const std::vector<std::string>& proof, std::string_view root);

// The root an inclusion proof leads to (for callers that compare it themselves).
absl::StatusOr<std::string> RootFromInclusionProof(uint64_t index, uint64_t size,
                                                   std::string_view leaf_hash,
                                                   const std::vector<std::string>& proof);

// RFC 9162 §2.1.4.2. OK if `proof` proves the tree of `first` leaves with `first_root` is a
// prefix of the tree of `second` leaves with `second_root`; kInvalidArgument otherwise.
absl::Status VerifyConsistency(uint64_t first, uint64_t second, std::string_view first_root,
                               std::string_view second_root, const std::vector<std::string>& proof);

// The right edge of a tree being appended to (a "compact range" [0, size)): the roots of the
// complete subtrees that make up the first `size` leaves, largest first — one per set bit of
// size, so at most 64 hashes. Append is O(1) amortised hashing; Root() is O(log n).
// Copyable value type; not thread-safe.
class CompactRange {
 public:
  // Called for every complete subtree of level >= 1 that an append completes.
  using NodeSink = std::function<void(int level, uint64_t index, const std::string& hash)>;

  CompactRange() = default;

  // The frontier of a tree of `size` leaves, read from stored complete subtrees.
  static absl::StatusOr<CompactRange> FromNodes(uint64_t size, const NodeReader& read);

  // Appends leaf `size()` with hash `leaf_hash` (32 bytes); reports new nodes to `sink` (may be
  // empty).
  void Append(std::string leaf_hash, const NodeSink& sink = nullptr);

  // MTH of the leaves appended so far (EmptyRoot() for none).
  std::string Root() const;
  uint64_t size() const { return size_; }

 private:
  uint64_t size_ = 0;
  std::vector<std::string> hashes_;  // largest subtree first
};

// MTH of a list of leaf hashes held in memory.
std::string RootOfLeaves(const std::vector<std::string>& leaf_hashes);

}  // namespace asb::crypto::merkle
