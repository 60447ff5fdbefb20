// The streaming verifier over a log held in memory (entries encoded as asb-audit stores them):
// an intact log verifies from stored bytes and from parsed entries alike, a changed byte, a
// missing entry or a wrong head is named, and a range verifies against the head through
// consistency proofs. The same checks against asb-audit's real log: tests/services/audit/.
#include "common/auditlog/verifier.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/crypto/merkle.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/support/status_matchers.h"

namespace asb::audit {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
namespace merkle = ::asb::crypto::merkle;

// A log in memory: each entry's stored bytes, and every complete subtree's hash.
class MemoryLog {
 public:
  explicit MemoryLog(uint64_t n) {
    for (uint64_t index = 1; index <= n; ++index) {
      asb::v1::AuditRecord r;
      r.set_kind(asb::v1::AUDIT_KIND_DISCLOSURE);
      r.set_case_id("CBC-" + std::to_string(index % 5));
      r.set_recipient_agency(index % 2 == 0 ? "police" : "housing");
      *r.mutable_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1780000000 + index);
      EncodedEntry e = EncodeEntry(index, r, "sharing/audit", index);
      nodes_[{0, index - 1}] = e.leaf_hash;
      range_.Append(e.leaf_hash, [this](int level, uint64_t i, const std::string& hash) {
        nodes_[{level, i}] = hash;
      });
      entries_.push_back(std::move(e.bytes));
    }
  }

  asb::v1::SignedTreeHead Head(uint64_t size) const {
    asb::v1::SignedTreeHead sth;
    sth.set_tree_size(size);
    auto root = merkle::RootAt(size, Reader());
    EXPECT_TRUE(root.ok());
    sth.set_root_hash(*root);
    return sth;
  }

  // A page of at most `limit` entries after `after`, as stored bytes or parsed.
  absl::StatusOr<asb::v1::AuditQueryResponse> Page(uint64_t after, bool stored,
                                                   uint64_t limit = 7) const {
    asb::v1::AuditQueryResponse page;
    uint64_t index = after;
    for (; index < entries_.size() && index < after + limit; ++index) {
      if (stored) {
        AppendStoredEntry(entries_[index], page.mutable_stored_page());
      } else if (!page.add_entries()->ParseFromString(entries_[index])) {
        return absl::DataLossError("unparsable");
      }
    }
    if (index < entries_.size()) {
      page.set_next_after_index(index);
    }
    return page;
  }

  LogSource Source(bool stored) const {
    LogSource source;
    source.fetch = [this, stored](uint64_t after) { return Page(after, stored); };
    source.consistency = [this](uint64_t m, uint64_t n) {
      return merkle::ConsistencyProof(m, n, Reader());
    };
    source.frontier = [this](uint64_t size) -> absl::StatusOr<std::vector<std::string>> {
      std::vector<std::string> out;
      uint64_t begin = 0;
      for (int level = 63; level >= 0; --level) {
        if ((size >> level) & 1) {
          out.push_back(nodes_.at({level, begin >> level}));
          begin += uint64_t{1} << level;
        }
      }
      return out;
    };
    return source;
  }

  // Entry `index`'s stored bytes (1-based), to tamper with.
  std::string& Entry(uint64_t index) { return entries_[index - 1]; }

 private:
  merkle::NodeReader Reader() const {
    return [this](int level, uint64_t i) -> absl::StatusOr<std::string> {
      auto it = nodes_.find({level, i});
      if (it == nodes_.end()) {
        return absl::NotFoundError("no node");
      }
      return it->second;
    };
  }

  std::vector<std::string> entries_;
  std::map<std::pair<int, uint64_t>, std::string> nodes_;
  AuditRange range_;
};

// Changes one byte of an entry's record (its case id), keeping it parsable.
void Alter(std::string& entry) { entry[entry.find("CBC-") + 1] = 'X'; }

struct Outcome {
  absl::Status status;
  uint64_t first_bad = 0;
  uint64_t size = 0;
};

Outcome FeedAll(const MemoryLog& log, std::vector<asb::v1::SignedTreeHead> heads, uint64_t size,
                bool stored) {
  LogVerifier verifier(std::move(heads));
  Outcome out;
  out.status = FeedEntries(
      size, [&](uint64_t after) { return log.Page(after, stored); }, &verifier);
  out.first_bad = verifier.first_bad();
  out.size = verifier.size();
  return out;
}

TEST(LogVerifierTest, AnIntactLogVerifiesFromStoredBytesAndFromParsedEntries) {
  MemoryLog log(50);
  for (bool stored : {true, false}) {
    Outcome out = FeedAll(log, {log.Head(20), log.Head(50), log.Head(7)}, 50, stored);
    ASB_EXPECT_OK(out.status);
    EXPECT_EQ(out.size, 50u);
  }
}

TEST(LogVerifierTest, AChangedByteNamesItsEntry) {
  MemoryLog log(30);
  const asb::v1::SignedTreeHead head = log.Head(30);
  Alter(log.Entry(12));
  for (bool stored : {true, false}) {
    Outcome out = FeedAll(log, {head}, 30, stored);
    EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss, "entry 12 was altered"));
    EXPECT_EQ(out.first_bad, 12u);
  }
}

TEST(LogVerifierTest, AMissingEntryIsNamed) {
  MemoryLog log(30);
  const asb::v1::SignedTreeHead head = log.Head(30);
  LogVerifier verifier({head});
  for (uint64_t after : {0, 7}) {
    auto page = log.Page(after, /*stored=*/false);
    ASB_ASSERT_OK(page);
    for (const auto& e : page->entries()) {
      if (e.index() == 3) {
        continue;  // entry 3 is gone
      }
      (void)verifier.Add(e);
    }
  }
  EXPECT_THAT(verifier.status(), StatusIsWith(absl::StatusCode::kDataLoss,
                                              "entry 3 is missing or moved (found entry 4"));
  EXPECT_EQ(verifier.first_bad(), 3u);
}

TEST(LogVerifierTest, AHeadThatDoesNotMatchNamesTheRangeAndAShortLogIsNotWhole) {
  MemoryLog log(30);
  asb::v1::SignedTreeHead wrong = log.Head(20);
  wrong.set_root_hash(log.Head(19).root_hash());
  Outcome out = FeedAll(log, {log.Head(10), wrong}, 30, /*stored=*/true);
  EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss,
                                       "entries 11..20 do not match the signed tree head"));
  EXPECT_EQ(out.first_bad, 11u);
  // Fed only 25 of the 30 entries a head covers.
  out = FeedAll(log, {log.Head(30)}, 25, /*stored=*/true);
  EXPECT_THAT(out.status, StatusIsWith(absl::StatusCode::kDataLoss, "the log ends at entry 25"));
}

TEST(VerifyLogTest, ARangeVerifiesThroughConsistencyProofsAndNamesItsFirstBadEntry) {
  MemoryLog log(40);
  const asb::v1::SignedTreeHead head = log.Head(40);
  VerifyRange range;
  range.from = 11;
  range.to = 25;
  VerifyReport report = VerifyLog(head, {}, range, log.Source(/*stored=*/true));
  ASB_EXPECT_OK(report.status);
  EXPECT_EQ(report.first, 11u);
  EXPECT_EQ(report.last, 25u);

  Alter(log.Entry(17));
  report = VerifyLog(head, {}, range, log.Source(/*stored=*/true));
  EXPECT_THAT(report.status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(report.first_bad, 17u);

  range.to = 41;
  EXPECT_THAT(VerifyLog(head, {}, range, log.Source(true)).status,
              StatusIs(absl::StatusCode::kOutOfRange));
}

}  // namespace
}  // namespace asb::audit
