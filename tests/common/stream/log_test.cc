#include "common/stream/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/store/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::stream {
namespace {

using ::asb::testing::StatusIs;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(); }

  void OpenStore() {
    log_.reset();
    store_.reset();
    store::StoreOptions options;
    options.path = dir_.Sub("db");
    options.sync = false;
    options.column_families = {LogColumnFamily("events"), LogColumnFamily("audit")};
    auto store = store::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto log = Log::Open(store_.get(), "events", "intake");
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }

  static asb::v1::Envelope Record(const std::string& tag) {
    asb::v1::Envelope envelope;
    envelope.mutable_audit()->set_actor(tag);
    return envelope;
  }

  // Appends `n` records in one batch and commits it.
  void AppendCommitted(int n) {
    store::Batch batch = store_->NewBatch();
    for (int i = 0; i < n; ++i) {
      asb::v1::Envelope envelope = Record("r");
      log_->Append(&batch, &envelope);
    }
    ASB_ASSERT_OK(store_->Write(&batch));
  }

  std::vector<uint64_t> Seqs(uint64_t from, uint32_t max) {
    std::vector<asb::v1::Envelope> out;
    absl::Status s = log_->Read(from, max, &out);
    EXPECT_TRUE(s.ok()) << s;
    std::vector<uint64_t> seqs;
    for (const auto& e : out) {
      seqs.push_back(e.seq());
    }
    return seqs;
  }

  asb::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Log> log_;
};

TEST_F(LogTest, UnconfiguredStreamIsAnError) {
  EXPECT_THAT(Log::Open(store_.get(), "nope", "intake"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(LogTest, EmptyLog) {
  EXPECT_EQ(log_->name(), "events");
  EXPECT_EQ(log_->head(), 0u);
  EXPECT_EQ(log_->first_retained(), 1u);
  EXPECT_TRUE(Seqs(1, 10).empty());
}

TEST_F(LogTest, AppendStampsAndHeadMovesOnlyOnCommit) {
  std::vector<uint64_t> hints;
  log_->OnHeadAdvanced([&](uint64_t head) { hints.push_back(head); });

  store::Batch batch = store_->NewBatch();
  asb::v1::Envelope a = Record("a");
  asb::v1::Envelope b = Record("b");
  b.mutable_produced_at()->set_seconds(42);  // kept when set
  EXPECT_EQ(log_->Append(&batch, &a), 1u);
  EXPECT_EQ(log_->Append(&batch, &b), 2u);
  EXPECT_EQ(a.seq(), 1u);
  EXPECT_EQ(a.event_id(), "intake/events/1");
  EXPECT_EQ(a.producer(), "intake");
  EXPECT_GT(a.produced_at().seconds(), 1600000000);
  EXPECT_EQ(b.event_id(), "intake/events/2");
  EXPECT_EQ(b.produced_at().seconds(), 42);

  // Not yet committed: head still 0, nothing readable, no hint.
  EXPECT_EQ(log_->head(), 0u);
  EXPECT_TRUE(Seqs(1, 10).empty());
  EXPECT_TRUE(hints.empty());

  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_EQ(log_->head(), 2u);
  EXPECT_THAT(hints, ::testing::ElementsAre(2));  // one hint per batch

  std::vector<asb::v1::Envelope> out;
  ASB_ASSERT_OK(log_->Read(1, 10, &out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].seq(), 1u);
  EXPECT_EQ(out[0].event_id(), "intake/events/1");
  EXPECT_EQ(out[0].audit().actor(), "a");
  EXPECT_EQ(out[1].audit().actor(), "b");
  EXPECT_EQ(out[1].produced_at().seconds(), 42);

  AppendCommitted(1);
  EXPECT_EQ(log_->head(), 3u);
  EXPECT_THAT(hints, ::testing::ElementsAre(2, 3));
}

TEST_F(LogTest, AppendEncodedStoresTheSameRecordAsAppend) {
  asb::v1::Disclosure d;
  d.set_agency("police");
  d.set_case_id("C-1");
  d.mutable_view()->set_title("t");
  store::Batch batch = store_->NewBatch();
  asb::v1::Envelope header;
  header.mutable_produced_at()->set_seconds(7);
  EXPECT_EQ(log_->AppendEncoded(&batch, &header, asb::v1::Envelope::kDisclosureFieldNumber,
                                d.SerializeAsString()),
            1u);
  asb::v1::Envelope whole;
  whole.mutable_produced_at()->set_seconds(7);
  *whole.mutable_disclosure() = d;
  EXPECT_EQ(log_->Append(&batch, &whole), 2u);
  ASB_ASSERT_OK(store_->Write(&batch));

  std::vector<asb::v1::Envelope> out;
  ASB_ASSERT_OK(log_->Read(1, 10, &out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].event_id(), "intake/events/1");
  EXPECT_EQ(out[0].seq(), 1u);
  ASSERT_TRUE(out[0].has_disclosure());
  EXPECT_EQ(out[0].disclosure().SerializeAsString(), d.SerializeAsString());
  out[1].set_seq(1);
  out[1].set_event_id("intake/events/1");
  EXPECT_EQ(out[0].SerializeAsString(), out[1].SerializeAsString());
}

TEST_F(LogTest, FailedWriteReusesSequenceNumbers) {
  AppendCommitted(2);
  std::vector<uint64_t> hints;
  log_->OnHeadAdvanced([&](uint64_t head) { hints.push_back(head); });

  store_->SetWriteFaultForTest([] { return absl::UnavailableError("disk full (injected)"); });
  store::Batch batch = store_->NewBatch();
  asb::v1::Envelope e = Record("lost");
  EXPECT_EQ(log_->Append(&batch, &e), 3u);
  EXPECT_EQ(log_->Append(&batch, &e), 4u);
  EXPECT_THAT(store_->Write(&batch), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(log_->head(), 2u);
  EXPECT_TRUE(hints.empty());

  store_->SetWriteFaultForTest(nullptr);
  asb::v1::Envelope f = Record("kept");
  EXPECT_EQ(log_->Append(&batch, &f), 3u);
  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_EQ(log_->head(), 3u);
  EXPECT_THAT(hints, ::testing::ElementsAre(3));
  std::vector<asb::v1::Envelope> out;
  ASB_ASSERT_OK(log_->Read(3, 10, &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].audit().actor(), "kept");
}

TEST_F(LogTest, AbandonedBatchReusesSequenceNumbers) {
  AppendCommitted(1);
  {
    store::Batch batch = store_->NewBatch();
    asb::v1::Envelope e = Record("dropped");
    EXPECT_EQ(log_->Append(&batch, &e), 2u);
  }
  AppendCommitted(1);
  EXPECT_EQ(log_->head(), 2u);
  EXPECT_THAT(Seqs(1, 10), ::testing::ElementsAre(1, 2));
}

TEST_F(LogTest, ReopenKeepsHead) {
  AppendCommitted(5);
  OpenStore();
  EXPECT_EQ(log_->head(), 5u);
  EXPECT_EQ(log_->first_retained(), 1u);
  AppendCommitted(1);
  EXPECT_EQ(log_->head(), 6u);
  EXPECT_THAT(Seqs(1, 100), ::testing::ElementsAre(1, 2, 3, 4, 5, 6));
}

TEST_F(LogTest, StreamsAreSeparate) {
  auto audit = Log::Open(store_.get(), "audit", "intake");
  ASSERT_TRUE(audit.ok()) << audit.status();
  AppendCommitted(3);
  store::Batch batch = store_->NewBatch();
  asb::v1::Envelope e = Record("x");
  EXPECT_EQ((*audit)->Append(&batch, &e), 1u);
  EXPECT_EQ(e.event_id(), "intake/audit/1");
  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_EQ((*audit)->head(), 1u);
  EXPECT_EQ(log_->head(), 3u);
}

TEST_F(LogTest, ReadBounds) {
  AppendCommitted(10);
  EXPECT_THAT(Seqs(1, 3), ::testing::ElementsAre(1, 2, 3));
  EXPECT_THAT(Seqs(8, 100), ::testing::ElementsAre(8, 9, 10));
  EXPECT_THAT(Seqs(10, 1), ::testing::ElementsAre(10));
  EXPECT_TRUE(Seqs(11, 10).empty());
  EXPECT_TRUE(Seqs(5, 0).empty());
  std::vector<asb::v1::Envelope> out;
  EXPECT_THAT(log_->Read(0, 10, &out), StatusIs(absl::StatusCode::kOutOfRange));

  // A byte cap stops early but always yields at least one record.
  ASB_ASSERT_OK(log_->Read(1, 100, &out, /*max_bytes=*/1));
  EXPECT_EQ(out.size(), 1u);
  const std::size_t one = out[0].ByteSizeLong();
  ASB_ASSERT_OK(log_->Read(1, 100, &out, /*max_bytes=*/3 * one));
  EXPECT_EQ(out.size(), 3u);
}

TEST_F(LogTest, TrimBeforeMovesFirstRetained) {
  AppendCommitted(10);
  ASB_ASSERT_OK(log_->TrimBefore(4));
  EXPECT_EQ(log_->first_retained(), 4u);
  EXPECT_EQ(log_->head(), 10u);
  std::vector<asb::v1::Envelope> out;
  EXPECT_THAT(log_->Read(3, 10, &out), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(log_->Read(1, 10, &out), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(Seqs(4, 100), ::testing::ElementsAre(4, 5, 6, 7, 8, 9, 10));

  // Trimming backwards does nothing.
  ASB_ASSERT_OK(log_->TrimBefore(2));
  EXPECT_EQ(log_->first_retained(), 4u);

  OpenStore();
  EXPECT_EQ(log_->first_retained(), 4u);
  EXPECT_EQ(log_->head(), 10u);
}

TEST_F(LogTest, TrimEverythingKeepsHeadAcrossReopen) {
  AppendCommitted(5);
  // Capped at head + 1: the next record still gets 6.
  ASB_ASSERT_OK(log_->TrimBefore(100));
  EXPECT_EQ(log_->first_retained(), 6u);
  EXPECT_EQ(log_->head(), 5u);
  EXPECT_TRUE(Seqs(6, 10).empty());

  OpenStore();
  EXPECT_EQ(log_->head(), 5u);
  EXPECT_EQ(log_->first_retained(), 6u);
  std::vector<asb::v1::Envelope> out;
  EXPECT_THAT(log_->Read(5, 10, &out), StatusIs(absl::StatusCode::kOutOfRange));
  AppendCommitted(2);
  EXPECT_EQ(log_->head(), 7u);
  EXPECT_THAT(Seqs(6, 10), ::testing::ElementsAre(6, 7));
}

TEST_F(LogTest, TrimFailureChangesNothing) {
  AppendCommitted(5);
  store_->SetWriteFaultForTest([] { return absl::UnavailableError("injected"); });
  EXPECT_THAT(log_->TrimBefore(3), StatusIs(absl::StatusCode::kUnavailable));
  store_->SetWriteFaultForTest(nullptr);
  EXPECT_EQ(log_->first_retained(), 1u);
  EXPECT_THAT(Seqs(1, 10), ::testing::ElementsAre(1, 2, 3, 4, 5));
}

}  // namespace
}  // namespace asb::stream
