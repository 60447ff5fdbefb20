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
#include <future>
#include <optional>
#include <string>
#include <string_view>
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
// (and erased_by) cleared. leaf_hash is the highest-numbered field, so it is serialised last: the
// canonical bytes are the full serialisation without that trailing field (no copy of the entry),
// unless the entry carries unknown fields (serialised after it), which take the copying path.
inline std::string CanonicalEntryBytes(const asb::v1::AuditEntry& entry) {
  // erased_by (field 6) and unknown fields are serialised after leaf_hash: copy then.
  const bool strip = !entry.leaf_hash().empty() && entry.erased_by() == 0 &&
                     entry.GetReflection()->GetUnknownFields(entry).empty();
  const asb::v1::AuditEntry* source = &entry;
  asb::v1::AuditEntry copy;
  if (!strip && (!entry.leaf_hash().empty() || entry.erased_by() != 0)) {
    copy = entry;
    copy.clear_leaf_hash();
    copy.clear_erased_by();
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

// RFC 9162 leaf hash: SHA-256(0x00 || CanonicalEntryBytes(entry)), 32 raw bytes. The common
// case (leaf_hash set last, nothing after it) serialises into a reused per-thread buffer and
// hashes it without the trailing leaf_hash field: no allocation. (Plain serialisation is
// deterministic here: no message in AuditEntry has a map field.)
inline std::string LeafHash(const asb::v1::AuditEntry& entry) {
  if (entry.leaf_hash().empty() || entry.erased_by() != 0 ||
      !entry.GetReflection()->GetUnknownFields(entry).empty()) {
    return crypto::merkle::HashLeaf(CanonicalEntryBytes(entry));
  }
  thread_local std::string buffer;
  const std::size_t size = entry.ByteSizeLong();
  buffer.resize(size);
  entry.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(buffer.data()));
  const std::size_t len = entry.leaf_hash().size();
  const std::size_t tail =
      1 + google::protobuf::io::CodedOutputStream::VarintSize32(static_cast<uint32_t>(len)) + len;
  return crypto::merkle::HashLeaf(std::string_view(buffer.data(), size - tail));
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

// The right edge of a tree being appended to: the log's and the verifier's compact range.
using AuditRange = crypto::merkle::CompactRange;

// Builds the compact range of `size` leaves from its hashes (one per set bit of size, largest
// subtree first). kDataLoss if the count or a hash length is wrong.
inline absl::StatusOr<AuditRange> RangeFromFrontier(uint64_t size,
                                                    const std::vector<std::string>& frontier) {
  if (static_cast<std::size_t>(__builtin_popcountll(size)) != frontier.size()) {
    return absl::DataLossError(absl::StrCat("compact range of ", size,
                                            " entries: ", frontier.size(), " hashes instead of ",
                                            __builtin_popcountll(size)));
  }
  std::size_t next = 0;
  return AuditRange::FromNodes(size, [&](int, uint64_t) -> absl::StatusOr<std::string> {
    if (frontier[next].size() != crypto::merkle::kHashSize) {
      return absl::DataLossError("compact range: a hash is not 32 bytes");
    }
    return frontier[next++];
  });
}

// Appends `entry` (stored bytes) to `page` as AuditQueryResponse.stored_page holds it: a
// length-delimited field 1 of StoredAuditEntries.
inline void AppendStoredEntry(std::string_view entry, std::string* page) {
  uint8_t head[1 + 5];  // the tag and a varint32 of at most 5 bytes
  head[0] = (1 << 3) | 2;
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(entry.size()), head + 1);
  page->append(reinterpret_cast<const char*>(head), static_cast<std::size_t>(end - head));
  page->append(entry.data(), entry.size());
}

// Calls f(std::string_view entry) for each entry of a stored_page, in order, until f returns
// false. Returns false if the page is not a well-formed StoredAuditEntries of fields 1 only.
template <typename F>
bool ForEachStoredEntry(std::string_view page, F&& f) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(page.data()),
                                            static_cast<int>(page.size()));
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      return in.CurrentPosition() == static_cast<int>(page.size());
    }
    uint32_t length = 0;
    const void* data = nullptr;
    int available = 0;
    if (tag != ((1 << 3) | 2) || !in.ReadVarint32(&length) ||
        !in.GetDirectBufferPointer(&data, &available) ||
        static_cast<uint32_t>(available) < length) {
      return false;
    }
    if (!f(std::string_view(static_cast<const char*>(data), length))) {
      return true;
    }
    in.Skip(static_cast<int>(length));
  }
}

// The origin of asb-audit's own records; only these may erase or expire entries.
inline constexpr char kSelfOrigin[] = "audit/self";

// Re-derives the log from its entries, in index order, and checks it against signed tree
// heads. Feed every entry from index 1 (or from StartAt's size + 1) with Add(); the first
// problem is kept (first_bad() names the entry) and later calls are ignored. Not thread-safe.
//
// Erased entries (erased_by set) are not re-hashed: their stored leaf hash stands in for the
// erased contents (the signed roots still commit to it), and the ERASURE entry they name must
// come later in the log and list them — otherwise the entry counts as altered. Expired entries
// (ExpectExpiry) are accounted for by asb-audit's EXPIRY entry.
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

  // Starts after the first `size` entries, from their compact range, without feeding them.
  // If a checkpoint of exactly `size` exists, the range's root must match it (kDataLoss
  // otherwise, first_bad() 0: the hub's hashes, not an entry, are wrong); checkpoints below
  // are skipped. Without one, the caller must check the range (e.g. with a consistency proof).
  // REQUIRES: nothing added yet.
  absl::Status StartAt(uint64_t size, const std::vector<std::string>& frontier) {
    auto range = RangeFromFrontier(size, frontier);
    if (!range.ok()) {
      return Fail(0, std::string(range.status().message()));
    }
    range_ = *std::move(range);
    start_ = size;
    start_range_ = range_;
    while (next_checkpoint_ < checkpoints_.size() &&
           checkpoints_[next_checkpoint_].tree_size() <= size) {
      const auto& sth = checkpoints_[next_checkpoint_];
      if (sth.tree_size() == size) {
        if (range_.Root() != sth.root_hash()) {
          return Fail(0, absl::StrCat("the hashes given for entries 1..", size,
                                      " do not match the signed tree head of that size"));
        }
        anchored_ = true;
        last_good_size_ = size;
      }
      ++next_checkpoint_;
    }
    return absl::OkStatus();
  }

  // With keep_leaves: room for the leaf hashes of `entries` more entries, allocated once.
  void ReserveLeaves(uint64_t entries) {
    if (keep_leaves_) {
      leaves_.reserve(leaves_.size() + entries * crypto::merkle::kHashSize);
    }
  }

  // Entries 1..k were deleted under retention: Finish() wants asb-audit's EXPIRY entry saying
  // so among the entries fed.
  void ExpectExpiry(uint64_t k) { expected_expiry_ = k; }

  // Checks one more entry: its index must be the next one (a gap is a deleted entry, a lower or
  // repeated index a reordered one), its stored leaf_hash must match its contents (unless it
  // is erased), and the tree after it must match any checkpoint of that size. Returns the
  // first problem (kDataLoss, naming the entry) — also on later calls.
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
    std::string leaf;
    if (entry.erased_by() != 0) {
      if (entry.erased_by() <= expected || entry.leaf_hash().size() != crypto::merkle::kHashSize) {
        return Fail(expected, absl::StrCat("entry ", expected,
                                           " was altered: it claims an impossible erasure"));
      }
      leaf = entry.leaf_hash();
      erased_.emplace_back(expected, entry.erased_by());
      pending_erasures_.emplace_back(entry.erased_by(), expected);
    } else {
      leaf = LeafHash(entry);
      if (leaf != entry.leaf_hash()) {
        return Altered(expected);
      }
      if (entry.origin() == kSelfOrigin && entry.record().has_erasure()) {
        if (absl::Status s = Confirm(entry); !s.ok()) {
          return s;
        }
      }
    }
    return Accept(std::move(leaf));
  }

  // Add() for an entry as the log stores it (one of AuditQueryResponse.stored_page). Bytes of the
  // shape asb-audit writes (index, record, origin, origin_seq, leaf_hash, nothing after) are
  // hashed as they are, without parsing: any byte other than those asb-audit wrote fails, even
  // a re-encoding that Add() would accept after re-serialising. Other shapes (erased entries,
  // asb-audit's own records, unknown fields, fields out of order) are parsed and given to Add().
  absl::Status AddStored(std::string_view bytes) {
    if (!status_.ok()) {
      return status_;
    }
    const uint64_t expected = range_.size() + 1;
    const std::size_t leaf_at = StoredLeafHashOffset(bytes, expected);
    if (leaf_at == 0) {
      asb::v1::AuditEntry entry;
      if (!entry.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
        return Fail(expected, absl::StrCat("entry ", expected,
                                           " was altered: its stored bytes do not parse"));
      }
      return Add(entry);
    }
    std::string leaf = crypto::merkle::HashLeaf(bytes.substr(0, leaf_at));
    if (bytes.substr(leaf_at + 2) != leaf) {
      return Altered(expected);
    }
    return Accept(std::move(leaf));
  }

  // Call after the last entry. Whole log (`partial` false): every checkpoint must have been
  // reached, every erased entry's ERASURE entry seen, and an expected expiry recorded
  // (kDataLoss naming the entry otherwise). A range (`partial`): checkpoints beyond it and
  // erasure or expiry entries after it are not required; see unconfirmed_erasures().
  absl::Status Finish(bool partial = false) {
    if (!status_.ok()) {
      return status_;
    }
    if (partial) {
      return absl::OkStatus();
    }
    if (next_checkpoint_ < checkpoints_.size()) {
      const uint64_t want = checkpoints_.back().tree_size();
      return Fail(range_.size() + 1,
                  absl::StrCat("the log ends at entry ", range_.size(),
                               " but a signed tree head covers ", want, " entries"));
    }
    if (!pending_erasures_.empty()) {
      const auto& [by, index] = pending_erasures_.front();
      return Fail(index,
                  absl::StrCat("entry ", index, " was altered: it is marked erased by entry ", by,
                               ", which is not an erasure in this log"));
    }
    if (expected_expiry_ != 0 && expiry_record_ == 0) {
      return Fail(1, absl::StrCat("entries 1..", expected_expiry_,
                                  " are gone and no EXPIRY entry of the log accounts for them"));
    }
    return absl::OkStatus();
  }

  // With keep_leaves, after a mismatch with the signed root `sth`: finds the first entry
  // whose leaf does not fit it, by binary search over prefixes (StartAt's size .. the entries
  // fed, capped at sth.tree_size()), each checked with a consistency proof from
  // `proof_for(m, sth.tree_size())` (e.g. asked of the hub; its stored hashes need not be
  // trusted: a proof only verifies if it matches the signed root). Returns the 1-based index,
  // or 0 if it cannot tell (proofs unavailable or inconsistent, or every prefix fits).
  uint64_t LocateWithConsistencyProofs(
      const asb::v1::SignedTreeHead& sth,
      const std::function<absl::StatusOr<std::vector<std::string>>(uint64_t, uint64_t)>& proof_for)
      const {
    const uint64_t n = sth.tree_size();
    const uint64_t end = std::min<uint64_t>(n, start_ + leaves_.size() / crypto::merkle::kHashSize);
    if (!keep_leaves_ || end <= start_) {
      return 0;
    }
    // good(m): the leaves up to m are a prefix of the signed tree. good(start_) is assumed.
    auto good = [&](uint64_t m) {
      if (m == n) {
        AuditRange all = start_range_;
        for (uint64_t i = start_; i < m; ++i) {
          all.Append(KeptLeaf(i));
        }
        return all.Root() == sth.root_hash();
      }
      auto proof = proof_for(m, n);
      if (!proof.ok()) {
        return false;
      }
      AuditRange prefix = start_range_;
      for (uint64_t i = start_; i < m; ++i) {
        prefix.Append(KeptLeaf(i));
      }
      return crypto::merkle::VerifyConsistency(m, n, prefix.Root(), sth.root_hash(), *proof).ok();
    };
    if (good(end)) {
      return 0;
    }
    uint64_t lo = start_;
    uint64_t hi = end;
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
  // 1-based index of the first entry that does not verify (0 while all is well, or when the
  // problem is not one entry's).
  uint64_t first_bad() const { return first_bad_; }
  // Entries accounted for so far (those before StartAt included).
  uint64_t size() const { return range_.size(); }
  // StartAt's size (0 if not called).
  uint64_t start() const { return start_; }
  // True if StartAt's range matched a signed tree head.
  bool anchored() const { return anchored_; }
  std::string Root() const { return range_.Root(); }
  // The largest checkpoint size that matched.
  uint64_t last_good_size() const { return last_good_size_; }
  // (entry, erasure entry) of every erased entry fed, in order.
  const std::vector<std::pair<uint64_t, uint64_t>>& erased() const { return erased_; }
  // Erased entries whose ERASURE entry was not among those fed: (erasure entry, entry).
  const std::vector<std::pair<uint64_t, uint64_t>>& unconfirmed_erasures() const {
    return pending_erasures_;
  }
  // The EXPIRY entry that accounts for ExpectExpiry's entries (0: none seen).
  uint64_t expiry_record() const { return expiry_record_; }

 private:
  // Kept leaf hash of the entry at leaf index i (entry i + 1).
  std::string KeptLeaf(uint64_t i) const {
    return leaves_.substr((i - start_) * crypto::merkle::kHashSize, crypto::merkle::kHashSize);
  }

  // The entry after the last one, with leaf hash `leaf` (checked), joins the tree; the tree
  // must match any checkpoint of its new size.
  absl::Status Accept(std::string leaf) {
    if (keep_leaves_) {
      leaves_.append(leaf);
    }
    range_.Append(std::move(leaf));
    while (next_checkpoint_ < checkpoints_.size() &&
           checkpoints_[next_checkpoint_].tree_size() <= range_.size()) {
      const auto& sth = checkpoints_[next_checkpoint_];
      if (sth.tree_size() == range_.size()) {
        if (range_.Root() != sth.root_hash()) {
          const uint64_t from = std::max(last_good_size_, start_) + 1;
          return Fail(from,
                      absl::StrCat("entries ", from, "..", sth.tree_size(),
                                   " do not match the signed tree head of size ", sth.tree_size(),
                                   " (an entry in that range was altered, removed or inserted "
                                   "together with its leaf hash)"));
        }
        last_good_size_ = sth.tree_size();
      }
      ++next_checkpoint_;
    }
    return absl::OkStatus();
  }

  absl::Status Altered(uint64_t index) {
    return Fail(index, absl::StrCat("entry ", index,
                                    " was altered: its contents do not match its leaf hash"));
  }

  // The offset of the leaf_hash field (tag 0x2a, length 32, the hash) in stored bytes that are
  // exactly index `expected`, record, origin (not asb-audit's own), origin_seq and leaf_hash in
  // field order with nothing after — so the bytes before it are the canonical bytes. 0 for
  // anything else (the caller parses then).
  static std::size_t StoredLeafHashOffset(std::string_view bytes, uint64_t expected) {
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                              static_cast<int>(bytes.size()));
    uint64_t index = 0;
    uint32_t length = 0;
    if (in.ReadTag() != ((1 << 3) | 0) || !in.ReadVarint64(&index) || index != expected ||
        in.ReadTag() != ((2 << 3) | 2) || !in.ReadVarint32(&length) ||
        !in.Skip(static_cast<int>(length))) {
      return 0;
    }
    uint32_t tag = in.ReadTag();
    if (tag == ((3 << 3) | 2)) {
      const void* data = nullptr;
      int size = 0;
      if (!in.ReadVarint32(&length) || !in.GetDirectBufferPointer(&data, &size) ||
          static_cast<uint32_t>(size) < length ||
          std::string_view(static_cast<const char*>(data), length) == kSelfOrigin ||
          !in.Skip(static_cast<int>(length))) {
        return 0;
      }
      tag = in.ReadTag();
    }
    if (tag == ((4 << 3) | 0)) {
      uint64_t seq = 0;
      if (!in.ReadVarint64(&seq)) {
        return 0;
      }
      tag = in.ReadTag();
    }
    const std::size_t leaf_at = static_cast<std::size_t>(in.CurrentPosition()) - 1;
    if (tag != ((5 << 3) | 2) || bytes.size() != leaf_at + 2 + crypto::merkle::kHashSize ||
        static_cast<unsigned char>(bytes[leaf_at + 1]) != crypto::merkle::kHashSize) {
      return 0;
    }
    return leaf_at;
  }

  // `entry` (verified, asb-audit's own) records an erasure or expiry: settle the claims of the
  // erased entries that name it.
  absl::Status Confirm(const asb::v1::AuditEntry& entry) {
    const asb::v1::AuditErasure& erasure = entry.record().erasure();
    if (entry.record().kind() == asb::v1::AUDIT_KIND_EXPIRY && expected_expiry_ != 0 &&
        erasure.expired_through() == expected_expiry_) {
      expiry_record_ = entry.index();
    }
    if (entry.record().kind() != asb::v1::AUDIT_KIND_ERASURE) {
      return absl::OkStatus();
    }
    std::vector<std::pair<uint64_t, uint64_t>> still;
    for (const auto& claim : pending_erasures_) {
      if (claim.first != entry.index()) {
        still.push_back(claim);
        continue;
      }
      if (!std::binary_search(erasure.entries().begin(), erasure.entries().end(), claim.second)) {
        return Fail(claim.second, absl::StrCat("entry ", claim.second,
                                               " was altered: it is marked erased by entry ",
                                               entry.index(), ", which does not list it"));
      }
    }
    pending_erasures_ = std::move(still);
    return absl::OkStatus();
  }

  absl::Status Fail(uint64_t index, std::string message) {
    first_bad_ = index;
    status_ = absl::DataLossError(std::move(message));
    return status_;
  }

  std::vector<asb::v1::SignedTreeHead> checkpoints_;
  bool keep_leaves_;
  std::size_t next_checkpoint_ = 0;
  uint64_t last_good_size_ = 0;
  uint64_t start_ = 0;
  bool anchored_ = false;
  uint64_t expected_expiry_ = 0;
  uint64_t expiry_record_ = 0;
  AuditRange range_;
  AuditRange start_range_;
  // The leaf hashes of entries start_ + 1.., 32 bytes each, back to back (one allocation, not
  // one per entry: 10M entries take 320 MB).
  std::string leaves_;
  std::vector<std::pair<uint64_t, uint64_t>> erased_;
  std::vector<std::pair<uint64_t, uint64_t>> pending_erasures_;
  absl::Status status_;
  uint64_t first_bad_ = 0;
};

// Feeds entries verifier->size()+1..tree_size to `verifier`, fetching unfiltered query pages
// with `fetch(after_index)` (AuditQueryRequest{after_index, stored}; a page may hold entries or
// a stored_page), then calls Finish(partial). While the verifier hashes one page the next is
// fetched on another thread (the server reads while the client hashes). Returns the verifier's
// first problem, or the fetch error.
inline absl::Status FeedEntries(
    uint64_t tree_size,
    const std::function<absl::StatusOr<asb::v1::AuditQueryResponse>(uint64_t after_index)>& fetch,
    LogVerifier* verifier, bool partial = false) {
  uint64_t after = verifier->size();
  if (after >= tree_size) {
    return verifier->Finish(partial);
  }
  absl::StatusOr<asb::v1::AuditQueryResponse> page = fetch(after);
  while (true) {
    if (!page.ok()) {
      return page.status();
    }
    // The next page starts after this one's next_after_index (0, or not past `after`: none).
    const uint64_t following = page->next_after_index() > after ? page->next_after_index() : 0;
    // A std::async future waits for its task when destroyed: no return leaves `fetch` running.
    std::future<absl::StatusOr<asb::v1::AuditQueryResponse>> prefetch;
    if (following != 0 && following < tree_size) {
      prefetch = std::async(std::launch::async, fetch, following);
    }
    absl::Status s;
    for (const asb::v1::AuditEntry& e : page->entries()) {
      if (verifier->size() >= tree_size || !(s = verifier->Add(e)).ok()) {
        break;
      }
    }
    const bool well_formed = ForEachStoredEntry(page->stored_page(), [&](std::string_view bytes) {
      return verifier->size() < tree_size && (s = verifier->AddStored(bytes)).ok();
    });
    if (s.ok() && !well_formed) {
      s = absl::DataLossError(absl::StrCat("the page of entries after ", after,
                                           " is malformed (not a StoredAuditEntries)"));
    }
    if (!s.ok()) {
      return s;
    }
    if (!prefetch.valid() || verifier->size() >= tree_size) {
      break;
    }
    page = prefetch.get();
    after = following;
  }
  return verifier->Finish(partial);
}

// What VerifyLog reads the log through: the hub (asbctl) or a log in process (tests).
struct LogSource {
  // An unfiltered page of entries after `after_index`.
  std::function<absl::StatusOr<asb::v1::AuditQueryResponse>(uint64_t after_index)> fetch;
  // A consistency proof from m to n entries.
  std::function<absl::StatusOr<std::vector<std::string>>(uint64_t m, uint64_t n)> consistency;
  // The compact range of the first `size` entries.
  std::function<absl::StatusOr<std::vector<std::string>>(uint64_t size)> frontier;
};

// What to verify.
struct VerifyRange {
  // First entry to check (1: from the start; raised past expired entries).
  uint64_t from = 1;
  // Last entry (0: the head's tree size).
  uint64_t to = 0;
  // Entries 1..expired_through were deleted under retention (AuditTreeHeadResponse).
  uint64_t expired_through = 0;
};

// The outcome of VerifyLog.
struct VerifyReport {
  // OK, kDataLoss (the log does not verify: first_bad names the entry when one is to blame),
  // or the error that stopped the check.
  absl::Status status;
  uint64_t first_bad = 0;
  // The entries checked: first..last.
  uint64_t first = 0;
  uint64_t last = 0;
  // Signed tree heads matched along the way (the head included when reached).
  uint64_t last_good_size = 0;
  // (entry, erasure entry) of every erased entry in the range.
  std::vector<std::pair<uint64_t, uint64_t>> erased;
  // Erased entries whose erasure entry lies after the range (not checked): (erasure, entry).
  std::vector<std::pair<uint64_t, uint64_t>> unconfirmed_erasures;
  // Entries 1..expired_through were deleted under retention, as EXPIRY entry expiry_record
  // (0 if outside the range) records.
  uint64_t expired_through = 0;
  uint64_t expiry_record = 0;
};

// Verifies entries range.from..range.to of the log against `head` (whose signature and those
// of `history`, earlier signed tree heads, the caller has verified): every entry's leaf hash,
// order, erasures and expiry, and the Merkle root — directly where the range ends at a signed
// tree head, else by a consistency proof to `head`. Entries before the range (or expired)
// enter as a compact range that must match a signed tree head of that size or `head` through
// a consistency proof, so nothing the source says is trusted. On a root mismatch the first bad
// entry is located with consistency proofs.
inline VerifyReport VerifyLog(const asb::v1::SignedTreeHead& head,
                              std::vector<asb::v1::SignedTreeHead> history,
                              const VerifyRange& range, const LogSource& source) {
  VerifyReport report;
  const uint64_t n = head.tree_size();
  const uint64_t to = range.to == 0 ? n : range.to;
  const uint64_t start =
      std::max<uint64_t>(range.from == 0 ? 0 : range.from - 1, range.expired_through);
  report.expired_through = range.expired_through;
  report.first = start + 1;
  report.last = to;
  if (to > n || start >= to) {
    report.status = absl::OutOfRangeError(absl::StrCat(
        "nothing to verify in entries ", start + 1, "..", to, " (the signed tree head ", "covers ",
        n, " entries; 1..", range.expired_through, " expired)"));
    return report;
  }
  history.push_back(head);
  LogVerifier verifier(std::move(history), /*keep_leaves=*/true);
  if (start > 0) {
    auto frontier = source.frontier(start);
    if (!frontier.ok()) {
      report.status = frontier.status();
      return report;
    }
    if (absl::Status s = verifier.StartAt(start, *frontier); !s.ok()) {
      report.status = s;
      return report;
    }
    if (!verifier.anchored()) {
      auto proof = source.consistency(start, n);
      auto root = RangeFromFrontier(start, *frontier);
      if (!proof.ok()) {
        report.status = proof.status();
        return report;
      }
      if (!root.ok() ||
          !crypto::merkle::VerifyConsistency(start, n, root->Root(), head.root_hash(), *proof)
               .ok()) {
        report.status = absl::DataLossError(
            absl::StrCat("the hashes given for entries 1..", start,
                         " are not consistent with the signed tree head of size ", n));
        return report;
      }
    }
  }
  // To the head: strict (every erasure and the expiry must be accounted for); a range that
  // ends earlier: erasure entries after it are not required.
  const bool partial = to < n;
  if (range.expired_through > 0 && start == range.expired_through && !partial) {
    verifier.ExpectExpiry(range.expired_through);
  }
  verifier.ReserveLeaves(to - start);
  report.status = FeedEntries(to, source.fetch, &verifier, partial);
  if (report.status.ok() && partial) {
    // The range's root must be a prefix of the signed head.
    auto proof = source.consistency(to, n);
    if (!proof.ok()) {
      report.status = proof.status();
    } else if (!crypto::merkle::VerifyConsistency(to, n, verifier.Root(), head.root_hash(), *proof)
                    .ok()) {
      report.status = absl::DataLossError(absl::StrCat(
          "entries ", start + 1, "..", to, " do not fit the signed tree head of size ", n,
          " (an entry in that range was altered, removed or inserted with its leaf hash)"));
    }
  }
  report.first_bad = verifier.first_bad();
  if (absl::IsDataLoss(report.status) &&
      (report.first_bad == 0 || verifier.size() >= std::min(to, n))) {
    const uint64_t located = verifier.LocateWithConsistencyProofs(head, source.consistency);
    if (located != 0) {
      report.first_bad = located;
    }
  }
  report.last_good_size = verifier.last_good_size();
  report.erased = verifier.erased();
  report.unconfirmed_erasures = verifier.unconfirmed_erasures();
  report.expiry_record = verifier.expiry_record();
  return report;
}

}  // namespace asb::audit
