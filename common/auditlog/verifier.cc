#include "common/auditlog/verifier.h"

#include <algorithm>
#include <future>

#include "absl/strings/str_cat.h"
#include "common/auditlog/internal/wire.h"
#include "common/crypto/merkle.h"
#include "google/protobuf/io/coded_stream.h"

namespace asb::audit {
namespace {

// The offset of the leaf_hash field (its tag, length 32, the hash) in stored bytes that are
// exactly what EncodeEntry writes for entry `expected` — index, record, origin (not
// asb-audit's own: those may record erasures, which the verifier must read), origin_seq and
// leaf_hash in field order with nothing after — so the bytes before it are the canonical
// bytes. 0 for anything else (the caller parses then). Called once per entry of a stored page:
// keep it in this file, next to AddStored, so it can be inlined there.
std::size_t StoredLeafHashOffset(std::string_view bytes, uint64_t expected) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  uint64_t index = 0;
  uint32_t length = 0;
  if (in.ReadTag() != internal::kIndexTag || !in.ReadVarint64(&index) || index != expected ||
      in.ReadTag() != internal::kRecordTag || !in.ReadVarint32(&length) ||
      !in.Skip(static_cast<int>(length))) {
    return 0;
  }
  uint32_t tag = in.ReadTag();
  if (tag == internal::kOriginTag) {
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
  if (tag == internal::kOriginSeqTag) {
    uint64_t seq = 0;
    if (!in.ReadVarint64(&seq)) {
      return 0;
    }
    tag = in.ReadTag();
  }
  const std::size_t leaf_at = static_cast<std::size_t>(in.CurrentPosition()) - 1;
  if (tag != internal::kLeafHashTag || bytes.size() != leaf_at + 2 + crypto::merkle::kHashSize ||
      static_cast<unsigned char>(bytes[leaf_at + 1]) != crypto::merkle::kHashSize) {
    return 0;
  }
  return leaf_at;
}

}  // namespace

LogVerifier::LogVerifier(std::vector<asb::v1::SignedTreeHead> checkpoints, bool keep_leaves)
    : checkpoints_(std::move(checkpoints)), keep_leaves_(keep_leaves) {
  std::sort(checkpoints_.begin(), checkpoints_.end(),
            [](const auto& a, const auto& b) { return a.tree_size() < b.tree_size(); });
}

absl::Status LogVerifier::StartAt(uint64_t size, const std::vector<std::string>& frontier) {
  auto range = RangeFromFrontier(size, frontier);
  if (!range.ok()) {
    return Fail(0, std::string(range.status().message()));
  }
  range_ = *std::move(range);
  start_ = size;
  position_ = size;
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

void LogVerifier::ReserveLeaves(uint64_t entries) {
  if (keep_leaves_) {
    leaves_.reserve(leaves_.size() + entries * crypto::merkle::kHashSize);
  }
}

void LogVerifier::KeepGoing(FrontierFn frontier) { frontier_ = std::move(frontier); }

absl::Status LogVerifier::Add(const asb::v1::AuditEntry& entry) {
  const bool going = frontier_ != nullptr;
  if (!status_.ok() && !going) {
    return status_;
  }
  const uint64_t expected = position_ + 1;
  if (going && lost_from_ != 0) {
    // The tree is not followed: pass the entries until a signed head picks it up again.
    if (entry.index() > position_) {
      if (keep_leaves_) {
        leaves_.append((entry.index() - position_) * crypto::merkle::kHashSize, '\0');
      }
      position_ = entry.index();
      MaybeResync();
    }
    return absl::OkStatus();
  }
  if (entry.index() != expected) {
    const std::string message =
        entry.index() > expected
            ? absl::StrCat("entry ", expected, " is missing or moved (found entry ", entry.index(),
                           " in its place)")
            : absl::StrCat("entry ", expected, " is out of order (found entry ", entry.index(),
                           " in its place)");
    if (!going) {
      return Fail(expected, message);
    }
    if (entry.index() < expected) {
      Fail(entry.index(), message).IgnoreError();  // listed; the entry is not taken
      return absl::OkStatus();
    }
    // No leaf hash for the entries in between: the tree is lost until the next signed head.
    if (status_.ok()) {
      first_bad_ = expected;
      status_ = absl::DataLossError(message);
    }
    ListDamage(expected, entry.index() - 1, message, "");
    Lose(entry.index() - 1);
    return Add(entry);
  }
  if (!entry.damage().empty()) {
    // The source could not read it and says why.
    const std::string what = absl::StrCat("entry ", expected, " cannot be read: ", entry.damage());
    if (!going) {
      return Fail(expected, what);
    }
    return StandIn(expected, entry.leaf_hash(), what, entry.record().case_id());
  }
  std::string leaf;
  if (entry.erased_by() != 0) {
    if (entry.erased_by() <= expected || entry.leaf_hash().size() != crypto::merkle::kHashSize) {
      const std::string what =
          absl::StrCat("entry ", expected, " was altered: it claims an impossible erasure");
      return going ? StandIn(expected, entry.leaf_hash(), what, entry.record().case_id())
                   : Fail(expected, what);
    }
    leaf = entry.leaf_hash();
    erased_.emplace_back(expected, entry.erased_by());
    pending_erasures_.emplace_back(entry.erased_by(), expected);
  } else {
    leaf = LeafHash(entry);
    if (leaf != entry.leaf_hash()) {
      if (going) {
        return StandIn(expected, entry.leaf_hash(),
                       absl::StrCat("entry ", expected,
                                    " was altered: its contents do not match its leaf hash"),
                       entry.record().case_id());
      }
      return Altered(expected);
    }
    if (entry.origin() == kSelfOrigin && entry.record().has_erasure()) {
      if (absl::Status s = Confirm(entry); !s.ok() && !going) {
        return s;
      }
    }
  }
  absl::Status accepted = Accept(std::move(leaf));
  return going ? absl::OkStatus() : accepted;
}

absl::Status LogVerifier::AddStored(std::string_view bytes) {
  const bool going = frontier_ != nullptr;
  if (!status_.ok() && !going) {
    return status_;
  }
  const uint64_t expected = position_ + 1;
  const std::size_t leaf_at = lost_from_ != 0 ? 0 : StoredLeafHashOffset(bytes, expected);
  if (leaf_at == 0) {
    asb::v1::AuditEntry entry;
    if (!entry.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      const std::string what =
          absl::StrCat("entry ", expected, " was altered: its stored bytes do not parse");
      return going ? StandIn(expected, "", what, "") : Fail(expected, what);
    }
    return Add(entry);
  }
  std::string leaf = crypto::merkle::HashLeaf(bytes.substr(0, leaf_at));
  if (bytes.substr(leaf_at + 2) != leaf) {
    if (going) {
      return StandIn(
          expected, std::string(bytes.substr(leaf_at + 2)),
          absl::StrCat("entry ", expected, " was altered: its contents do not match its leaf hash"),
          "");
    }
    return Altered(expected);
  }
  absl::Status accepted = Accept(std::move(leaf));
  return going ? absl::OkStatus() : accepted;
}

absl::Status LogVerifier::StandIn(uint64_t index, const std::string& leaf, const std::string& what,
                                  const std::string& case_id) {
  if (status_.ok()) {
    first_bad_ = index;
    status_ = absl::DataLossError(what);
  }
  ListDamage(index, index, what, case_id);
  if (leaf.size() == crypto::merkle::kHashSize) {
    Accept(leaf).IgnoreError();  // a mismatch there is listed by Accept
  } else {
    Lose(index);
    if (keep_leaves_) {
      leaves_.append(crypto::merkle::kHashSize, '\0');
    }
    position_ = index;
    MaybeResync();
  }
  return absl::OkStatus();
}

void LogVerifier::ListDamage(uint64_t first, uint64_t last, const std::string& what,
                             const std::string& case_id) {
  if (first != 0 && !damaged_.empty() && damaged_.back().first() != 0 &&
      damaged_.back().last() + 1 == first && damaged_.back().case_id() == case_id) {
    asb::v1::AuditDamage& d = damaged_.back();
    if (d.last() == d.first()) {
      d.set_what(absl::StrCat(d.what(), "; and the entries after it"));
    }
    d.set_last(last);
    return;
  }
  asb::v1::AuditDamage d;
  d.set_first(first);
  d.set_last(last);
  d.set_what(what);
  d.set_case_id(case_id);
  damaged_.push_back(std::move(d));
}

void LogVerifier::Lose(uint64_t index) {
  if (lost_from_ == 0) {
    lost_from_ = index;
  }
}

void LogVerifier::MaybeResync() {
  while (next_checkpoint_ < checkpoints_.size() &&
         checkpoints_[next_checkpoint_].tree_size() < position_) {
    ++next_checkpoint_;  // passed while the tree was lost: not checked
  }
  if (next_checkpoint_ == checkpoints_.size() ||
      checkpoints_[next_checkpoint_].tree_size() != position_) {
    return;
  }
  const asb::v1::SignedTreeHead& sth = checkpoints_[next_checkpoint_];
  auto frontier = frontier_(position_);
  absl::StatusOr<AuditRange> range =
      frontier.ok() ? RangeFromFrontier(position_, *frontier) : frontier.status();
  if (!range.ok() || range->Root() != sth.root_hash()) {
    return;  // the source's hashes do not give this head either: try the next one
  }
  if (position_ > lost_from_) {
    ListDamage(lost_from_ + 1, position_,
               absl::StrCat("entries ", lost_from_ + 1, "..", position_,
                            " could not be checked against a signed tree head (the tree is "
                            "picked up again at the signed tree head of size ",
                            position_, ")"),
               "");
  }
  range_ = *std::move(range);
  lost_from_ = 0;
  last_good_size_ = position_;
  while (next_checkpoint_ < checkpoints_.size() &&
         checkpoints_[next_checkpoint_].tree_size() == position_) {
    ++next_checkpoint_;
  }
}

absl::Status LogVerifier::Finish(bool partial) {
  const bool going = frontier_ != nullptr;
  if (!status_.ok() && !going) {
    return status_;
  }
  if (going && lost_from_ != 0 && position_ > lost_from_) {
    ListDamage(lost_from_ + 1, position_,
               absl::StrCat("entries ", lost_from_ + 1, "..", position_,
                            " could not be checked: no later signed tree head picks the tree up "
                            "again"),
               "");
  }
  if (partial) {
    return status_;
  }
  if (next_checkpoint_ < checkpoints_.size()) {
    const uint64_t want = checkpoints_.back().tree_size();
    Fail(position_ + 1,
         absl::StrCat("the log ends at entry ", position_, " but a signed tree head covers ", want,
                      " entries (the log was truncated: entries ", position_ + 1, "..", want,
                      " are gone)"))
        .IgnoreError();
    if (!going) {
      return status_;
    }
  }
  if (!pending_erasures_.empty()) {
    for (const auto& [by, index] : pending_erasures_) {
      Fail(index, absl::StrCat("entry ", index, " was altered: it is marked erased by entry ", by,
                               ", which is not an erasure in this log"))
          .IgnoreError();
      if (!going) {
        return status_;
      }
    }
  }
  if (expected_expiry_ != 0 && expiry_record_ == 0) {
    Fail(1, absl::StrCat("entries 1..", expected_expiry_,
                         " are gone and no EXPIRY entry of the log accounts for them"))
        .IgnoreError();
  }
  return status_;
}

uint64_t LogVerifier::LocateWithConsistencyProofs(
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

std::string LogVerifier::KeptLeaf(uint64_t i) const {
  return leaves_.substr((i - start_) * crypto::merkle::kHashSize, crypto::merkle::kHashSize);
}

absl::Status LogVerifier::Accept(std::string leaf) {
  if (keep_leaves_) {
    leaves_.append(leaf);
  }
  range_.Append(std::move(leaf));
  position_ = range_.size();
  while (next_checkpoint_ < checkpoints_.size() &&
         checkpoints_[next_checkpoint_].tree_size() <= range_.size()) {
    const auto& sth = checkpoints_[next_checkpoint_];
    if (sth.tree_size() == range_.size()) {
      if (range_.Root() != sth.root_hash()) {
        const uint64_t from = std::max(last_good_size_, start_) + 1;
        const std::string what = absl::StrCat(
            "entries ", from, "..", sth.tree_size(), " do not match the signed tree head of size ",
            sth.tree_size(),
            " (an entry in that range was altered, removed or inserted together with its leaf "
            "hash)");
        if (frontier_ == nullptr) {
          return Fail(from, what);
        }
        if (status_.ok()) {
          first_bad_ = from;
          status_ = absl::DataLossError(what);
        }
        ListDamage(from, sth.tree_size(), what, "");
        // Pick the tree up again at this head, from the source's hashes if they give its root.
        auto frontier = frontier_(sth.tree_size());
        absl::StatusOr<AuditRange> range =
            frontier.ok() ? RangeFromFrontier(sth.tree_size(), *frontier) : frontier.status();
        if (range.ok() && range->Root() == sth.root_hash()) {
          range_ = *std::move(range);
        } else {
          Lose(sth.tree_size());
          ++next_checkpoint_;
          return status_;
        }
      }
      last_good_size_ = sth.tree_size();
    }
    ++next_checkpoint_;
  }
  return absl::OkStatus();
}

absl::Status LogVerifier::Altered(uint64_t index) {
  return Fail(index, absl::StrCat("entry ", index,
                                  " was altered: its contents do not match its leaf hash"));
}

absl::Status LogVerifier::Confirm(const asb::v1::AuditEntry& entry) {
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

absl::Status LogVerifier::Fail(uint64_t index, std::string message) {
  if (frontier_ != nullptr) {
    // Keep going: the first problem stays the verdict, each one is listed.
    ListDamage(index, index, message, "");
    if (!status_.ok()) {
      return status_;
    }
  }
  first_bad_ = index;
  status_ = absl::DataLossError(std::move(message));
  return status_;
}

absl::Status FeedEntries(
    uint64_t tree_size,
    const std::function<absl::StatusOr<asb::v1::AuditQueryResponse>(uint64_t after_index)>& fetch,
    LogVerifier* verifier, bool partial) {
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

VerifyReport VerifyLog(const asb::v1::SignedTreeHead& head,
                       std::vector<asb::v1::SignedTreeHead> history, const VerifyRange& range,
                       const LogSource& source) {
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
  verifier.KeepGoing(source.frontier);
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
  report.damaged = verifier.damaged();
  report.erased = verifier.erased();
  report.unconfirmed_erasures = verifier.unconfirmed_erasures();
  report.expiry_record = verifier.expiry_record();
  return report;
}

}  // namespace asb::audit
