// The low-level SHA-256 API (deprecated in OpenSSL 3.0, present throughout 3.x) hashes a leaf
// without an EVP context allocation; see crypto.cc.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "common/crypto/merkle.h"

#include <openssl/sha.h>

#include <bit>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/crypto/crypto.h"

namespace asb::crypto::merkle {
namespace {

// MTH(D[begin:end]). Every range the RFC's recursion visits is either a complete aligned
// subtree (one read) or splits into one; so a root costs one read per set bit of its size.
absl::StatusOr<std::string> RangeRoot(uint64_t begin, uint64_t end, const NodeReader& read) {
  const uint64_t n = end - begin;
  if (n == 0) {
    return EmptyRoot();
  }
  if (std::has_single_bit(n) && begin % n == 0) {
    const int level = std::countr_zero(n);
    return read(level, begin >> level);
  }
  const uint64_t k = SplitPoint(n);
  auto left = RangeRoot(begin, begin + k, read);
  if (!left.ok()) {
    return left.status();
  }
  auto right = RangeRoot(begin + k, end, read);
  if (!right.ok()) {
    return right.status();
  }
  return HashChildren(*left, *right);
}

absl::Status Path(uint64_t m, uint64_t begin, uint64_t end, const NodeReader& read,
                  std::vector<std::string>* out) {
  const uint64_t n = end - begin;
  if (n <= 1) {
    return absl::OkStatus();
  }
  const uint64_t k = SplitPoint(n);
  absl::StatusOr<std::string> sibling;
  if (m < begin + k) {
    if (absl::Status s = Path(m, begin, begin + k, read, out); !s.ok()) {
      return s;
    }
    sibling = RangeRoot(begin + k, end, read);
  } else {
    if (absl::Status s = Path(m, begin + k, end, read, out); !s.ok()) {
      return s;
    }
    sibling = RangeRoot(begin, begin + k, read);
  }
  if (!sibling.ok()) {
    return sibling.status();
  }
  out->push_back(*std::move(sibling));
  return absl::OkStatus();
}

// SUBPROOF(m, D[begin:end], whole) of RFC 9162 §2.1.4.1; m counts leaves from `begin`.
absl::Status SubProof(uint64_t m, uint64_t begin, uint64_t end, bool whole, const NodeReader& read,
                      std::vector<std::string>* out) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (!whole) {
      auto root = RangeRoot(begin, end, read);
      if (!root.ok()) {
        return root.status();
      }
      out->push_back(*std::move(root));
    }
    return absl::OkStatus();
  }
  const uint64_t k = SplitPoint(n);
  absl::StatusOr<std::string> sibling;
  if (m <= k) {
    if (absl::Status s = SubProof(m, begin, begin + k, whole, read, out); !s.ok()) {
      return s;
    }
    sibling = RangeRoot(begin + k, end, read);
  } else {
    if (absl::Status s = SubProof(m - k, begin + k, end, false, read, out); !s.ok()) {
      return s;
    }
    sibling = RangeRoot(begin, begin + k, read);
  }
  if (!sibling.ok()) {
    return sibling.status();
  }
  out->push_back(*std::move(sibling));
  return absl::OkStatus();
}

absl::Status CheckHashes(const std::vector<std::string>& proof) {
  for (std::size_t i = 0; i < proof.size(); ++i) {
    if (proof[i].size() != kHashSize) {
      return absl::InvalidArgumentError(
          absl::StrCat("proof[", i, "] is ", proof[i].size(), " bytes, not ", kHashSize));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string HashLeaf(std::string_view data) {
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  const unsigned char prefix = 0x00;
  SHA256_Update(&ctx, &prefix, 1);
  SHA256_Update(&ctx, data.data(), data.size());
  std::string out(kHashSize, '\0');
  SHA256_Final(reinterpret_cast<unsigned char*>(out.data()), &ctx);
  return out;
}

std::string HashChildren(std::string_view left, std::string_view right) {
  unsigned char buf[1 + 2 * kHashSize];
  std::string input;
  std::string_view in;
  if (left.size() == kHashSize && right.size() == kHashSize) {
    buf[0] = 0x01;
    std::copy(left.begin(), left.end(), buf + 1);
    std::copy(right.begin(), right.end(), buf + 1 + kHashSize);
    in = std::string_view(reinterpret_cast<const char*>(buf), sizeof(buf));
  } else {
    input.reserve(1 + left.size() + right.size());
    input.push_back('\x01');
    input.append(left);
    input.append(right);
    in = input;
  }
  return Sha256(in);
}

std::string EmptyRoot() { return Sha256(""); }

uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

absl::StatusOr<std::string> RootAt(uint64_t size, const NodeReader& read) {
  return RangeRoot(0, size, read);
}

absl::StatusOr<std::vector<std::string>> InclusionProof(uint64_t index, uint64_t size,
                                                        const NodeReader& read) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf ", index, " is not in a tree of ", size, " leaves"));
  }
  std::vector<std::string> out;
  if (absl::Status s = Path(index, 0, size, read, &out); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ConsistencyProof(uint64_t first, uint64_t second,
                                                          const NodeReader& read) {
  if (first > second) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree size ", first, " is larger than ", second));
  }
  std::vector<std::string> out;
  if (first == 0 || first == second) {
    return out;
  }
  if (absl::Status s = SubProof(first, 0, second, true, read, &out); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<std::string> RootFromInclusionProof(uint64_t index, uint64_t size,
                                                   std::string_view leaf_hash,
                                                   const std::vector<std::string>& proof) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf ", index, " is not in a tree of ", size, " leaves"));
  }
  if (leaf_hash.size() != kHashSize) {
    return absl::InvalidArgumentError("leaf hash is not 32 bytes");
  }
  if (absl::Status s = CheckHashes(proof); !s.ok()) {
    return s;
  }
  uint64_t fn = index;
  uint64_t sn = size - 1;
  std::string r(leaf_hash);
  for (const std::string& p : proof) {
    if (sn == 0) {
      return absl::InvalidArgumentError("inclusion proof is too long");
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = HashChildren(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return absl::InvalidArgumentError("inclusion proof is too short");
  }
  return r;
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size, std::string_view leaf_hash,
                             const std::vector<std::string>& proof, std::string_view root) {
  auto computed = RootFromInclusionProof(index, size, leaf_hash, proof);
  if (!computed.ok()) {
    return computed.status();
  }
  if (*computed != root) {
    return absl::InvalidArgumentError(absl::StrCat("inclusion proof of leaf ", index,
                                                   " does not lead to the root of size ", size));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t first, uint64_t second, std::string_view first_root,
                               std::string_view second_root,
                               const std::vector<std::string>& proof) {
  if (first > second) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree size ", first, " is larger than ", second));
  }
  if (first == second) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError("consistency proof between equal sizes must be empty");
    }
    if (first_root != second_root) {
      return absl::InvalidArgumentError(absl::StrCat("two different roots for tree size ", first));
    }
    return absl::OkStatus();
  }
  if (first == 0) {
    if (!proof.empty()) {
      return absl::InvalidArgumentError("consistency proof from the empty tree must be empty");
    }
    return absl::OkStatus();
  }
  if (proof.empty()) {
    return absl::InvalidArgumentError("consistency proof is empty");
  }
  if (absl::Status s = CheckHashes(proof); !s.ok()) {
    return s;
  }
  if (first_root.size() != kHashSize || second_root.size() != kHashSize) {
    return absl::InvalidArgumentError("a root is not 32 bytes");
  }
  std::vector<std::string> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(first)) {
    path.emplace_back(first_root);
  }
  path.insert(path.end(), proof.begin(), proof.end());

  uint64_t fn = first - 1;
  uint64_t sn = second - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  std::string fr = path[0];
  std::string sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const std::string& c = path[i];
    if (sn == 0) {
      return absl::InvalidArgumentError("consistency proof is too long");
    }
    if ((fn & 1) != 0 || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return absl::InvalidArgumentError("consistency proof is too short");
  }
  if (fr != first_root) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency proof does not lead to the root of size ", first));
  }
  if (sr != second_root) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency proof does not lead to the root of size ", second));
  }
  return absl::OkStatus();
}

absl::StatusOr<CompactRange> CompactRange::FromNodes(uint64_t size, const NodeReader& read) {
  CompactRange range;
  uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((size & width) == 0) {
      continue;
    }
    auto hash = read(level, begin >> level);
    if (!hash.ok()) {
      return hash.status();
    }
    range.hashes_.push_back(*std::move(hash));
    begin += width;
  }
  range.size_ = size;
  return range;
}

void CompactRange::Append(std::string leaf_hash, const NodeSink& sink) {
  hashes_.push_back(std::move(leaf_hash));
  uint64_t index = size_;
  int level = 0;
  while ((index & 1) != 0) {
    std::string parent = HashChildren(hashes_[hashes_.size() - 2], hashes_.back());
    hashes_.pop_back();
    hashes_.back() = std::move(parent);
    index >>= 1;
    ++level;
    if (sink) {
      sink(level, index, hashes_.back());
    }
  }
  ++size_;
}

std::string CompactRange::Root() const {
  if (hashes_.empty()) {
    return EmptyRoot();
  }
  std::string r = hashes_.back();
  for (std::size_t i = hashes_.size() - 1; i-- > 0;) {
    r = HashChildren(hashes_[i], r);
  }
  return r;
}

std::string RootOfLeaves(const std::vector<std::string>& leaf_hashes) {
  CompactRange range;
  for (const std::string& leaf : leaf_hashes) {
    range.Append(leaf);
  }
  return range.Root();
}

}  // namespace asb::crypto::merkle
