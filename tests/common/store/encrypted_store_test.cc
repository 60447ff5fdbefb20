// Store with encryption at rest: real RocksDB, real OpenSSL, real key files.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto/aead.h"
#include "common/store/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::store {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;

// Every byte of every file under `dir`.
std::string AllBytes(const std::string& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    all += bytes.str();
  }
  return all;
}

class EncryptedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASB_ASSERT_OK(crypto::WriteNextRingKey(Prefix()).status()); }

  std::string Prefix() const { return dir_.Sub("keys/store"); }

  std::shared_ptr<const crypto::KeyRing> Ring() {
    auto ring = crypto::KeyRing::Load(Prefix());
    EXPECT_TRUE(ring.ok()) << ring.status();
    return std::make_shared<const crypto::KeyRing>(std::move(*ring));
  }

  // Values of "cases" belong to the subject named by their key; "plain" stays plaintext.
  StoreOptions Options(bool encrypt = true) {
    StoreOptions options;
    options.path = dir_.Sub("db");
    options.sync = false;
    options.column_families = {"cases", "log", "plain"};
    if (encrypt) {
      options.key_ring = Ring();
      options.plaintext_column_families = {"plain"};
      options.subject_of = [](std::string_view cf, std::string_view key, std::string_view) {
        return cf == "cases" ? std::string(key) : std::string();
      };
    }
    return options;
  }

  std::unique_ptr<Store> OpenOrDie(const StoreOptions& options) {
    auto store = Store::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  void Put(Store* store, std::string_view cf, std::string_view key, std::string_view value) {
    Batch batch = store->NewBatch();
    batch.Put(cf, key, value);
    ASB_ASSERT_OK(store->Write(&batch));
  }

  std::string GetOrDie(Store* store, std::string_view cf, std::string_view key) {
    std::string value;
    absl::Status s = store->Get(cf, key, &value);
    EXPECT_TRUE(s.ok()) << s;
    return value;
  }

  std::vector<std::pair<std::string, std::string>> Scan(Store* store, std::string_view cf) {
    std::vector<std::pair<std::string, std::string>> out;
    auto it = store->NewIterator(cf);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.emplace_back(it->key().ToString(), it->value().ToString());
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return out;
  }

  asb::testing::TempDir dir_;
};

TEST_F(EncryptedStoreTest, ValuesRoundTripAndAreNotStoredInPlaintext) {
  auto store = OpenOrDie(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->encrypted());
  Put(store.get(), "cases", "CBC-1", "Jane Doe of 12 Acacia Avenue");
  Put(store.get(), "log", "0001", "Fred Bloggs born 1990-02-03");
  Put(store.get(), "plain", "offset", "plaintext offset");
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-1"), "Jane Doe of 12 Acacia Avenue");
  EXPECT_EQ(GetOrDie(store.get(), "log", "0001"), "Fred Bloggs born 1990-02-03");

  std::string raw;
  ASB_ASSERT_OK(store->GetStored("cases", "CBC-1", &raw));
  EXPECT_EQ(raw.find("Jane"), std::string::npos);
  EXPECT_EQ(static_cast<unsigned char>(raw[0]), 0xA5);
  ASB_ASSERT_OK(store->GetStored("plain", "offset", &raw));
  EXPECT_EQ(raw, "plaintext offset");

  auto scanned = Scan(store.get(), "cases");
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(scanned[0].second, "Jane Doe of 12 Acacia Avenue");

  store.reset();  // flush everything to files
  const std::string bytes = AllBytes(dir_.Sub("db"));
  EXPECT_EQ(bytes.find("Jane Doe"), std::string::npos);
  EXPECT_EQ(bytes.find("Acacia"), std::string::npos);
  EXPECT_EQ(bytes.find("1990-02-03"), std::string::npos);
  EXPECT_NE(bytes.find("plaintext offset"), std::string::npos) << "the control must be found";
}

TEST_F(EncryptedStoreTest, WithoutKeyRingValuesArePlaintext) {
  auto store = OpenOrDie(Options(/*encrypt=*/false));
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->encrypted());
  Put(store.get(), "cases", "CBC-1", "Jane Doe of 12 Acacia Avenue");
  store.reset();
  EXPECT_NE(AllBytes(dir_.Sub("db")).find("Acacia"), std::string::npos);
}

TEST_F(EncryptedStoreTest, ReopenReadsWithTheKeyFile) {
  {
    auto store = OpenOrDie(Options());
    Put(store.get(), "cases", "CBC-1", "case one");
    Put(store.get(), "log", "k", "log one");
  }
  auto store = OpenOrDie(Options());
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-1"), "case one");
  EXPECT_EQ(GetOrDie(store.get(), "log", "k"), "log one");
}

TEST_F(EncryptedStoreTest, MovedValueFailsNamingCfAndKeyNotValue) {
  auto store = OpenOrDie(Options());
  Put(store.get(), "log", "a", "secret-alpha");
  std::string raw;
  ASB_ASSERT_OK(store->GetStored("log", "a", &raw));
  // Copy the stored bytes to another key, bypassing encryption (as an attacker with the disk).
  ASB_ASSERT_OK(store->GetStored("log", "a", &raw));
  {
    StoreOptions plain = Options(false);
    plain.path = dir_.Sub("db");
    store.reset();
    auto raw_store = OpenOrDie(plain);
    Put(raw_store.get(), "log", "b", raw);
    Put(raw_store.get(), "cases", "CBC-2", raw);
  }
  store = OpenOrDie(Options());
  std::string value;
  absl::Status moved = store->Get("log", "b", &value);
  EXPECT_THAT(moved, StatusIsWith(absl::StatusCode::kDataLoss, "does not authenticate"));
  EXPECT_THAT(moved, StatusIsWith(absl::StatusCode::kDataLoss, "'log' at key \"b\""));
  EXPECT_EQ(std::string(moved.message()).find("secret"), std::string::npos);
  EXPECT_THAT(store->Get("cases", "CBC-2", &value), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(GetOrDie(store.get(), "log", "a"), "secret-alpha");

  // An iterator stops at the bad value with a DataLoss status.
  auto it = store->NewIterator("log");
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->value().ToString(), "secret-alpha");
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_THAT(FromRocks(it->status()), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(EncryptedStoreTest, TamperedByteFails) {
  auto store = OpenOrDie(Options());
  Put(store.get(), "log", "a", "secret-alpha");
  std::string raw;
  ASB_ASSERT_OK(store->GetStored("log", "a", &raw));
  store.reset();
  // Magic, kind, key id, nonce, ciphertext and tag (each reopen costs ~0.1 s: not every byte).
  for (std::size_t i : {std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{8},
                        std::size_t{20}, raw.size() - 1}) {
    std::string bad = raw;
    bad[i] ^= 0x20;
    {
      auto raw_store = OpenOrDie(Options(false));
      Put(raw_store.get(), "log", "a", bad);
    }
    auto reopened = OpenOrDie(Options());
    std::string value;
    EXPECT_THAT(reopened->Get("log", "a", &value), StatusIs(absl::StatusCode::kDataLoss))
        << "byte " << i;
  }
}

TEST_F(EncryptedStoreTest, PlaintextValueInEncryptedFamilyIsDataLoss) {
  {
    auto raw_store = OpenOrDie(Options(false));
    Put(raw_store.get(), "log", "a", "written before encryption");
  }
  auto store = OpenOrDie(Options());
  std::string value;
  EXPECT_THAT(store->Get("log", "a", &value),
              StatusIsWith(absl::StatusCode::kDataLoss, "is not encrypted"));
}

TEST_F(EncryptedStoreTest, WrongKeyWithSameIdFails) {
  {
    auto store = OpenOrDie(Options());
    Put(store.get(), "log", "a", "secret");
    Put(store.get(), "cases", "CBC-1", "subject secret");
  }
  // Replace key file 1 with a different key.
  std::filesystem::remove(crypto::RingKeyFile(Prefix(), 1));
  ASB_ASSERT_OK(crypto::WriteNextRingKey(Prefix()).status());  // id 1 again, new bytes
  auto store = OpenOrDie(Options());
  std::string value;
  EXPECT_THAT(store->Get("log", "a", &value),
              StatusIsWith(absl::StatusCode::kDataLoss, "does not authenticate"));
  EXPECT_THAT(store->Get("cases", "CBC-1", &value),
              StatusIsWith(absl::StatusCode::kDataLoss, "does not decrypt under master key 1"));
}

TEST_F(EncryptedStoreTest, MissingKeyIdNamesTheKeyFile) {
  ASB_ASSERT_OK(crypto::WriteNextRingKey(Prefix()).status());  // key 2 is newest
  {
    auto store = OpenOrDie(Options());
    Put(store.get(), "log", "a", "under key 2");
  }
  std::filesystem::remove(crypto::RingKeyFile(Prefix(), 2));
  auto store = OpenOrDie(Options());
  std::string value;
  EXPECT_THAT(store->Get("log", "a", &value),
              StatusIsWith(absl::StatusCode::kDataLoss, "master key 2, which is not in key ring"));
  EXPECT_THAT(store->Get("log", "a", &value),
              StatusIsWith(absl::StatusCode::kDataLoss, "store.2.key"));
}

TEST_F(EncryptedStoreTest, RotationKeepsOldValuesReadableAndUsesNewestKey) {
  auto store = OpenOrDie(Options());
  Put(store.get(), "log", "old", "written under key 1");
  Put(store.get(), "cases", "CBC-1", "case under key 1");
  std::string raw;
  ASB_ASSERT_OK(store->GetStored("log", "old", &raw));
  EXPECT_EQ(raw.substr(1, 5), std::string("\x01\x00\x00\x00\x01", 5));

  // asbctl keys rotate, then SIGHUP: the running store takes the new ring.
  ASB_ASSERT_OK(crypto::WriteNextRingKey(Prefix()).status());
  ASB_ASSERT_OK(store->SetKeyRing(Ring()));
  Put(store.get(), "log", "new", "written under key 2");
  Put(store.get(), "cases", "CBC-2", "case under key 2");
  ASB_ASSERT_OK(store->GetStored("log", "new", &raw));
  EXPECT_EQ(raw.substr(1, 5), std::string("\x01\x00\x00\x00\x02", 5));
  EXPECT_EQ(GetOrDie(store.get(), "log", "old"), "written under key 1");
  EXPECT_EQ(GetOrDie(store.get(), "log", "new"), "written under key 2");
  store.reset();

  // After a restart too.
  store = OpenOrDie(Options());
  EXPECT_EQ(GetOrDie(store.get(), "log", "old"), "written under key 1");
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-1"), "case under key 1");
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-2"), "case under key 2");

  // A reloaded ring that lost key 1 is refused; the old ring stays.
  std::filesystem::rename(crypto::RingKeyFile(Prefix(), 1), dir_.Sub("key1.bak"));
  EXPECT_THAT(store->SetKeyRing(Ring()),
              StatusIsWith(absl::StatusCode::kFailedPrecondition, "lacks key 1"));
  EXPECT_EQ(GetOrDie(store.get(), "log", "old"), "written under key 1");
  std::filesystem::rename(dir_.Sub("key1.bak"), crypto::RingKeyFile(Prefix(), 1));

  // Re-encryption moves everything to key 2, so key 1 can be retired.
  auto rewritten = store->ReencryptToNewestKey();
  ASB_ASSERT_OK(rewritten.status());
  EXPECT_EQ(*rewritten, 2u);  // "log"/"old" and the data key of CBC-1
  store.reset();
  std::filesystem::remove(crypto::RingKeyFile(Prefix(), 1));
  store = OpenOrDie(Options());
  EXPECT_EQ(GetOrDie(store.get(), "log", "old"), "written under key 1");
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-1"), "case under key 1");
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-2"), "case under key 2");
}

TEST_F(EncryptedStoreTest, EraseSubjectDestroysItsKeyOnly) {
  StoreOptions options = Options();
  // "log" values name their subject in the value: "<case>|<text>".
  options.subject_of = [](std::string_view cf, std::string_view key, std::string_view value) {
    if (cf == "cases") return std::string(key);
    if (cf == "log") return std::string(value.substr(0, value.find('|')));
    return std::string();
  };
  auto store = OpenOrDie(options);
  Put(store.get(), "cases", "CBC-1", "Jane Doe");
  Put(store.get(), "cases", "CBC-2", "John Roe");
  Put(store.get(), "log", "1", "CBC-1|first");
  Put(store.get(), "log", "2", "CBC-2|second");
  Put(store.get(), "log", "3", "CBC-1|third");
  {
    Batch batch = store->NewBatch();
    batch.Put("log", "4", "CBC-3|fourth");  // a new subject and another value of it in one batch
    batch.Put("cases", "CBC-3", "Ann Smith");
    ASB_ASSERT_OK(store->Write(&batch));
  }

  // The wrapped data key of CBC-1 as stored: it must be gone from every file afterwards.
  std::vector<std::string> wrapped;
  {
    auto it = store->NewIterator(kSubjectKeysColumnFamily);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().starts_with("k")) {
        wrapped.push_back(it->value().ToString());
      }
    }
  }
  ASSERT_EQ(wrapped.size(), 3u);
  store.reset();
  store = OpenOrDie(options);  // the keys are now in files, not only the memtable
  {
    const std::string bytes = AllBytes(dir_.Sub("db"));
    for (const auto& w : wrapped) {
      ASSERT_NE(bytes.find(w), std::string::npos) << "precondition: wrapped keys are on disk";
    }
  }

  auto erased = store->EraseSubject("CBC-1");
  ASB_ASSERT_OK(erased.status());
  EXPECT_EQ(*erased, 1);

  std::string value;
  absl::Status got = store->Get("cases", "CBC-1", &value);
  EXPECT_TRUE(IsErased(got)) << got;
  EXPECT_THAT(got, StatusIsWith(absl::StatusCode::kNotFound, "erased"));
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-2"), "John Roe");
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-3"), "Ann Smith");

  // Iterators skip erased values.
  auto log = Scan(store.get(), "log");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].second, "CBC-2|second");
  EXPECT_EQ(log[1].second, "CBC-3|fourth");
  {
    auto it = store->NewIterator("log");
    it->SeekToLast();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key().ToString(), "4");
    it->Prev();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key().ToString(), "2");
    it->Prev();
    EXPECT_FALSE(it->Valid());
    EXPECT_TRUE(it->status().ok());
  }

  // Exactly one wrapped key left the files: CBC-1's; the others are still there.
  int still_on_disk = 0;
  const std::string bytes = AllBytes(dir_.Sub("db"));
  for (const auto& w : wrapped) {
    still_on_disk += bytes.find(w) != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(still_on_disk, 2);

  // Erased stays erased after a restart, and a second erase finds nothing.
  store.reset();
  store = OpenOrDie(options);
  EXPECT_TRUE(IsErased(store->Get("cases", "CBC-1", &value)));
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-2"), "John Roe");
  auto again = store->EraseSubject("CBC-1");
  ASB_ASSERT_OK(again.status());
  EXPECT_EQ(*again, 0);

  // New data for the same case id gets a fresh key and is readable.
  Put(store.get(), "cases", "CBC-1", "reopened");
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-1"), "reopened");
  EXPECT_EQ(Scan(store.get(), "log").size(), 2u);
}

TEST_F(EncryptedStoreTest, ErasedPlaceholderKeepsAnIteratorDense) {
  StoreOptions options = Options();
  options.subject_of = [](std::string_view, std::string_view, std::string_view value) {
    return std::string(value.substr(0, value.find('|')));
  };
  options.erased_placeholder = [](std::string_view cf,
                                  std::string_view key) -> std::optional<std::string> {
    if (cf != "log") return std::nullopt;
    return "erased:" + std::string(key);
  };
  auto store = OpenOrDie(options);
  Put(store.get(), "log", "1", "A|one");
  Put(store.get(), "log", "2", "B|two");
  ASB_ASSERT_OK(store->EraseSubject("A").status());
  auto log = Scan(store.get(), "log");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].second, "erased:1");
  EXPECT_EQ(log[1].second, "B|two");
}

// Several subjects at once (a retention run): each one's keys go, the others' stay, and the
// count comes back per subject, in order.
TEST_F(EncryptedStoreTest, EraseSubjectsErasesSeveralAtOnce) {
  StoreOptions options = Options();
  options.subject_of = [](std::string_view, std::string_view key, std::string_view) {
    return std::string(key);
  };
  auto store = OpenOrDie(options);
  Put(store.get(), "cases", "A", "alpha");
  Put(store.get(), "cases", "B", "beta");
  Put(store.get(), "cases", "C", "gamma");
  auto erased = store->EraseSubjects({"A", "NEVER-STORED", "C"});
  ASB_ASSERT_OK(erased.status());
  EXPECT_EQ(*erased, (std::vector<int>{1, 0, 1}));
  std::string value;
  EXPECT_TRUE(IsErased(store->Get("cases", "A", &value)));
  EXPECT_TRUE(IsErased(store->Get("cases", "C", &value)));
  EXPECT_EQ(GetOrDie(store.get(), "cases", "B"), "beta");
  store.reset();
  store = OpenOrDie(options);
  EXPECT_TRUE(IsErased(store->Get("cases", "A", &value)));
  EXPECT_EQ(*store->EraseSubjects({"A", "C"}), (std::vector<int>{0, 0}));
  EXPECT_EQ(GetOrDie(store.get(), "cases", "B"), "beta");
}

TEST_F(EncryptedStoreTest, AbortedBatchDoesNotLeaveAnUnstoredKeyInUse) {
  auto store = OpenOrDie(Options());
  store->SetWriteFaultForTest([] { return absl::UnavailableError("disk full"); });
  {
    Batch batch = store->NewBatch();
    batch.Put("cases", "CBC-9", "first try");
    EXPECT_THAT(store->Write(&batch), StatusIs(absl::StatusCode::kUnavailable));
  }
  store->SetWriteFaultForTest(nullptr);
  Put(store.get(), "cases", "CBC-9", "second try");
  store.reset();
  store = OpenOrDie(Options());
  EXPECT_EQ(GetOrDie(store.get(), "cases", "CBC-9"), "second try");
}

TEST_F(EncryptedStoreTest, EraseWithoutEncryptionIsRefused) {
  auto store = OpenOrDie(Options(false));
  EXPECT_THAT(store->EraseSubject("CBC-1").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store->SetKeyRing(Ring()), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace asb::store
