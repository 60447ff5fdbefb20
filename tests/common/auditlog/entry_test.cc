// The access log's entry bytes: what asb-audit stores is the entry's own serialisation, and the
// leaf hash commits to its canonical bytes; the framing of stored pages.
#include "common/auditlog/entry.h"

#include <string>
#include <vector>

#include "common/crypto/merkle.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace asb::audit {
namespace {

namespace merkle = ::asb::crypto::merkle;

asb::v1::AuditRecord Record() {
  asb::v1::AuditRecord r;
  r.set_kind(asb::v1::AUDIT_KIND_DISCLOSURE);
  r.set_case_id("CBC-2026-0142");
  r.set_actor("sharing");
  r.set_actor_agency("hub");
  r.set_recipient_agency("police");
  r.add_subject_keys("sk_1");
  r.add_fields("people.address");
  *r.mutable_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1780000000);
  return r;
}

TEST(EncodeEntryTest, IsTheEntrysSerialisationWhateverIsEmpty) {
  asb::v1::AuditRecord with_unknown = Record();
  with_unknown.GetReflection()->MutableUnknownFields(&with_unknown)->AddVarint(999, 7);
  struct Case {
    uint64_t index;
    asb::v1::AuditRecord record;
    std::string origin;
    uint64_t origin_seq;
  };
  const std::vector<Case> cases = {{1, Record(), "sharing/audit", 42},
                                   {2, Record(), "", 0},
                                   {uint64_t{1} << 40, with_unknown, "notify/audit", 3},
                                   {4, asb::v1::AuditRecord(), kSelfOrigin, 0}};
  for (const Case& c : cases) {
    const EncodedEntry encoded = EncodeEntry(c.index, c.record, c.origin, c.origin_seq);
    asb::v1::AuditEntry e;
    ASSERT_TRUE(e.ParseFromString(encoded.bytes)) << c.index;
    EXPECT_EQ(e.index(), c.index);
    EXPECT_EQ(e.origin(), c.origin);
    EXPECT_EQ(e.origin_seq(), c.origin_seq);
    EXPECT_EQ(e.record().SerializeAsString(), c.record.SerializeAsString());
    EXPECT_EQ(e.SerializeAsString(), encoded.bytes) << c.index;
    ASSERT_EQ(encoded.leaf_hash.size(), merkle::kHashSize);
    EXPECT_EQ(e.leaf_hash(), encoded.leaf_hash);
    EXPECT_EQ(LeafHash(e), encoded.leaf_hash) << c.index;
    EXPECT_EQ(merkle::HashLeaf(CanonicalEntryBytes(e)), encoded.leaf_hash) << c.index;
    // The canonical bytes are the stored bytes without the trailing leaf_hash field.
    EXPECT_EQ(CanonicalEntryBytes(e), encoded.bytes.substr(0, encoded.bytes.size() - 34));
  }
}

TEST(CanonicalEntryBytesTest, LeaveOutLeafHashAndErasedBy) {
  asb::v1::AuditEntry e;
  e.set_index(7);
  *e.mutable_record() = Record();
  e.set_origin("intake/audit");
  const std::string plain = e.SerializeAsString();
  EXPECT_EQ(CanonicalEntryBytes(e), plain);
  e.set_leaf_hash(std::string(32, 'h'));
  EXPECT_EQ(CanonicalEntryBytes(e), plain);
  e.set_erased_by(9);  // serialised after leaf_hash: the copying path
  EXPECT_EQ(CanonicalEntryBytes(e), plain);
  EXPECT_EQ(LeafHash(e), merkle::HashLeaf(plain));
  // Any change to the record changes them.
  e.mutable_record()->set_recipient_agency("housing");
  EXPECT_NE(CanonicalEntryBytes(e), plain);
}

TEST(StoredPageTest, WalksWhatWasAppendedInOrder) {
  // Lengths with one- and two-byte varints, and an empty entry.
  const std::vector<std::string> entries = {"abc", std::string(200, 'x'), "", "z"};
  std::string page;
  for (const std::string& e : entries) {
    AppendStoredEntry(e, &page);
  }
  std::vector<std::string> seen;
  EXPECT_TRUE(ForEachStoredEntry(page, [&](std::string_view e) {
    seen.emplace_back(e);
    return true;
  }));
  EXPECT_EQ(seen, entries);
  // f stops the walk: still a well-formed page.
  int calls = 0;
  EXPECT_TRUE(ForEachStoredEntry(page, [&](std::string_view) { return ++calls < 2; }));
  EXPECT_EQ(calls, 2);
  // Truncated, or another field: malformed.
  auto any = [](std::string_view) { return true; };
  EXPECT_FALSE(ForEachStoredEntry(std::string_view(page).substr(0, page.size() - 1), any));
  EXPECT_FALSE(ForEachStoredEntry(std::string("\x08\x01", 2), any));
  EXPECT_TRUE(ForEachStoredEntry("", any));
}

}  // namespace
}  // namespace asb::audit
