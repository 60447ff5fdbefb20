// StreamServer and Consumer over a real bus::Server (ipc:// in a temp dir), a producer Log in one
// Store and a Consumer in another, all driven by one Loop in this thread.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/bus/auth.h"
#include "common/bus/client.h"
#include "common/bus/keys.h"
#include "common/bus/loop.h"
#include "common/bus/server.h"
#include "common/status/macros.h"
#include "common/status/proto_status.h"
#include "common/store/store.h"
#include "common/stream/consumer.h"
#include "common/stream/log.h"
#include "common/stream/stream_server.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::stream {
namespace {

using namespace std::chrono_literals;
using ::asb::testing::StatusIs;

constexpr auto kDeadline = 20s;

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::StoreOptions producer;
    producer.path = dir_.Sub("producer");
    producer.sync = false;
    producer.column_families = {LogColumnFamily("events")};
    auto ps = store::Store::Open(producer);
    ASSERT_TRUE(ps.ok()) << ps.status();
    producer_store_ = std::move(*ps);
    auto log = Log::Open(producer_store_.get(), "events", "intake");
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);

    store::StoreOptions consumer;
    consumer.path = dir_.Sub("consumer");
    consumer.sync = consumer_sync_;
    consumer.column_families = {kOffsetsColumnFamily, "applied", LogColumnFamily("derived")};
    auto cs = store::Store::Open(consumer);
    ASSERT_TRUE(cs.ok()) << cs.status();
    consumer_store_ = std::move(*cs);

    auth_ = std::make_unique<bus::Authenticator>(&context_, &loop_);
  }

  void TearDown() override {
    consumer_.reset();
    stream_server_.reset();
    server_.reset();
    auth_.reset();
  }

  // Starts (or restarts) the producer's bus::Server and StreamServer.
  void StartServer() {
    stream_server_.reset();
    server_.reset();
    bus::ServerOptions options;
    options.api_bind = "ipc://" + dir_.Sub("api");
    options.hints_bind = "ipc://" + dir_.Sub("hints");
    if (curve_) {
      options.keys = server_keys_;
    } else {
      options.plaintext_for_test = true;
    }
    server_ = std::make_unique<bus::Server>(&context_, &loop_, auth_.get(), options);
    stream_server_ = std::make_unique<StreamServer>(server_.get());
    stream_server_->Register(log_.get());
    ASB_ASSERT_OK(server_->Start([this](const bus::Caller& caller, const asb::v1::Request& r) {
      ++requests_;
      if (r.has_fetch()) {
        stream_server_->HandleFetch(caller, r.fetch());
      } else {
        server_->ReplyError(caller, absl::UnimplementedError("not here"));
      }
    }));
  }

  ConsumerOptions Options() {
    ConsumerOptions options;
    options.upstream = "intake";
    options.stream = "events";
    options.api_endpoint = "ipc://" + dir_.Sub("api");
    options.hints_endpoint = "ipc://" + dir_.Sub("hints");
    options.batch = 64;
    options.poll_interval = 50ms;
    options.request_timeout = 300ms;
    if (curve_) {
      options.server_public_key = server_keys_.public_key;
      options.keys = daemon_keys_;
    } else {
      options.plaintext_for_test = true;
    }
    return options;
  }

  // The default ApplyFn: records the seq in the "applied" CF and, on commit, in applied_.
  Consumer::ApplyFn Recorder() {
    return [this](const asb::v1::Envelope& e, store::Batch* batch) -> absl::Status {
      ++apply_calls_;
      if (apply_hook_) {
        ASB_RETURN_IF_ERROR(apply_hook_(e, batch));
      }
      batch->Put("applied", store::EncodeSeq(e.seq()), e.event_id());
      batch->OnCommit([this, seq = e.seq()] { applied_.push_back(seq); });
      return absl::OkStatus();
    };
  }

  void StartConsumer(ConsumerOptions options) {
    consumer_.reset();
    consumer_ = std::make_unique<Consumer>(&context_, &loop_, consumer_store_.get(),
                                           std::move(options), Recorder());
    ASB_ASSERT_OK(consumer_->Start());
  }
  void StartConsumer() { StartConsumer(Options()); }

  // Appends n records in one committed batch.
  void Append(int n) {
    store::Batch batch = producer_store_->NewBatch();
    for (int i = 0; i < n; ++i) {
      asb::v1::Envelope e;
      e.mutable_audit()->set_actor("producer");
      log_->Append(&batch, &e);
    }
    ASB_ASSERT_OK(producer_store_->Write(&batch));
  }

  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = kDeadline) {
    auto deadline = bus::Clock::now() + limit;
    while (!done()) {
      if (bus::Clock::now() >= deadline) {
        return false;
      }
      loop_.RunOnce(10ms);
    }
    return true;
  }

  // Runs the loop for `d` (used only where the assertion is that nothing happens).
  void RunFor(std::chrono::milliseconds d) {
    RunUntil([] { return false; }, d);
  }

  std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
    std::vector<uint64_t> out;
    for (uint64_t s = from; s <= to; ++s) {
      out.push_back(s);
    }
    return out;
  }

  // Consumes 1,000 records appended in batches of 100 and checks each was applied and
  // committed once, in order, in batches of at most options.batch, with the offset stored.
  void ConsumeThousandInOrderExactlyOnce() {
    StartServer();
    for (int i = 0; i < 10; ++i) {
      Append(100);
    }
    std::vector<uint64_t> committed;
    StartConsumer();
    consumer_->OnCommitted([&](uint64_t offset) { committed.push_back(offset); });
    // OnCommitted runs from the loop soon after the commit.
    ASSERT_TRUE(RunUntil([&] { return !committed.empty() && committed.back() == 1000; }))
        << "offset " << consumer_->offset();
    EXPECT_EQ(consumer_->offset(), 1000u);
    EXPECT_EQ(applied_, Range(1, 1000));
    EXPECT_EQ(Stored(), Range(1, 1000));
    EXPECT_EQ(apply_calls_, 1000);
    EXPECT_EQ(consumer_->upstream_head(), 1000u);
    EXPECT_EQ(consumer_->skipped(), 0u);
    // Batches of at most options.batch records, each committed once, offsets increasing.
    ASSERT_FALSE(committed.empty());
    EXPECT_TRUE(std::is_sorted(committed.begin(), committed.end()));
    EXPECT_EQ(committed.back(), 1000u);
    EXPECT_GE(committed.size(), 1000u / 64);

    std::string value;
    ASB_ASSERT_OK(consumer_store_->Get(kOffsetsColumnFamily, "intake/events", &value));
    EXPECT_EQ(store::DecodeSeq(value), 1000u);
    consumer_->OnCommitted(nullptr);  // `committed` goes out of scope
  }

  // Records in the consumer's "applied" CF.
  std::vector<uint64_t> Stored() {
    std::vector<uint64_t> out;
    auto it = consumer_store_->NewIterator("applied");
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.push_back(store::DecodeSeq(it->key().ToStringView()));
    }
    return out;
  }

  // One fetch through an AsyncClient in this loop.
  absl::StatusOr<asb::v1::Response> Fetch(const asb::v1::FetchRequest& fetch,
                                          bus::ClientOptions options) {
    bus::AsyncClient client(&context_, &loop_, options);
    ASB_RETURN_IF_ERROR(client.Start());
    asb::v1::Request request;
    *request.mutable_fetch() = fetch;
    std::optional<absl::StatusOr<asb::v1::Response>> result;
    client.Send(request, 5s, [&](absl::StatusOr<asb::v1::Response> r) { result = std::move(r); });
    if (!RunUntil([&] { return result.has_value(); })) {
      return absl::DeadlineExceededError("test: no callback");
    }
    return std::move(*result);
  }
  bus::ClientOptions PlainClient() {
    bus::ClientOptions options;
    options.endpoint = "ipc://" + dir_.Sub("api");
    options.plaintext_for_test = true;
    return options;
  }
  static asb::v1::FetchRequest FetchReq(const std::string& stream, uint64_t from, uint32_t max) {
    asb::v1::FetchRequest f;
    f.set_stream(stream);
    f.set_from_seq(from);
    f.set_max_records(max);
    return f;
  }

  asb::testing::TempDir dir_;
  bool consumer_sync_ = false;  // the consumer's store fsyncs (set before SetUp)
  zmq::context_t context_;
  bus::Loop loop_;
  bool curve_ = false;
  bus::KeyPair server_keys_;
  bus::KeyPair daemon_keys_;
  std::unique_ptr<store::Store> producer_store_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<store::Store> consumer_store_;
  std::unique_ptr<bus::Authenticator> auth_;
  std::unique_ptr<bus::Server> server_;
  std::unique_ptr<StreamServer> stream_server_;
  std::unique_ptr<Consumer> consumer_;
  std::function<absl::Status(const asb::v1::Envelope&, store::Batch*)> apply_hook_;
  std::vector<uint64_t> applied_;
  int apply_calls_ = 0;
  int requests_ = 0;
};

// --- StreamServer -------------------------------------------------------------------------

TEST_F(StreamTest, FetchReturnsRecordsHeadAndRetention) {
  StartServer();
  Append(10);
  auto r = Fetch(FetchReq("events", 3, 4), PlainClient());
  ASSERT_TRUE(r.ok()) << r.status();
  ASB_ASSERT_OK(FromProto(r->status()));
  ASSERT_TRUE(r->has_fetch());
  EXPECT_EQ(r->fetch().stream(), "events");
  EXPECT_EQ(r->fetch().head(), 10u);
  EXPECT_EQ(r->fetch().first_retained(), 1u);
  ASSERT_EQ(r->fetch().records_size(), 4);
  EXPECT_EQ(r->fetch().records(0).seq(), 3u);
  EXPECT_EQ(r->fetch().records(0).event_id(), "intake/events/3");
  EXPECT_EQ(r->fetch().records(3).seq(), 6u);

  // Past the head: OK and empty.
  r = Fetch(FetchReq("events", 11, 4), PlainClient());
  ASSERT_TRUE(r.ok()) << r.status();
  ASB_ASSERT_OK(FromProto(r->status()));
  EXPECT_EQ(r->fetch().records_size(), 0);
  EXPECT_EQ(r->fetch().head(), 10u);
}

TEST_F(StreamTest, FetchErrors) {
  StartServer();
  Append(3);
  auto r = Fetch(FetchReq("nope", 1, 4), PlainClient());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(FromProto(r->status()), StatusIs(absl::StatusCode::kNotFound));

  r = Fetch(FetchReq("events", 0, 4), PlainClient());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(FromProto(r->status()), StatusIs(absl::StatusCode::kInvalidArgument));

  ASB_ASSERT_OK(log_->TrimBefore(3));
  r = Fetch(FetchReq("events", 1, 4), PlainClient());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(FromProto(r->status()), StatusIs(absl::StatusCode::kOutOfRange));
  ASSERT_TRUE(r->has_fetch());  // tells the consumer where the stream starts now
  EXPECT_EQ(r->fetch().first_retained(), 3u);
  EXPECT_EQ(r->fetch().head(), 3u);
  EXPECT_EQ(r->fetch().records_size(), 0);
}

TEST_F(StreamTest, FetchCapsRecordsAndBytes) {
  StartServer();
  for (int i = 0; i < 6; ++i) {
    Append(1000);
  }
  auto r = Fetch(FetchReq("events", 1, 0), PlainClient());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(static_cast<uint32_t>(r->fetch().records_size()), StreamServer::kDefaultBatch);
  r = Fetch(FetchReq("events", 1, 100000), PlainClient());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(static_cast<uint32_t>(r->fetch().records_size()), StreamServer::kMaxBatch);

  // Large records: the reply stops near kMaxResponseBytes.
  const std::string big(256 << 10, 'x');
  store::Batch batch = producer_store_->NewBatch();
  for (int i = 0; i < 20; ++i) {
    asb::v1::Envelope e;
    e.mutable_audit()->set_actor(big);
    log_->Append(&batch, &e);
  }
  ASB_ASSERT_OK(producer_store_->Write(&batch));
  r = Fetch(FetchReq("events", 6001, 20), PlainClient());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->fetch().records_size(), 1);
  EXPECT_LT(r->fetch().records_size(), 20);
  EXPECT_LE(r->fetch().ByteSizeLong(), StreamServer::kMaxResponseBytes + 1024);
}

// --- Consumer -----------------------------------------------------------------------------

TEST_F(StreamTest, ConsumesInOrderExactlyOnce) { ConsumeThousandInOrderExactlyOnce(); }

TEST_F(StreamTest, ProducerAppendingWhileConsumerRuns) {
  StartServer();
  StartConsumer();
  for (int round = 0; round < 40; ++round) {
    Append(1 + round % 7);
    loop_.RunOnce(1ms);
  }
  const uint64_t head = log_->head();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == head; }));
  EXPECT_EQ(applied_, Range(1, head));
  EXPECT_EQ(Stored(), Range(1, head));
}

TEST_F(StreamTest, HintsDriveFetchesWithoutPolling) {
  StartServer();
  ConsumerOptions options = Options();
  options.poll_interval = 60s;  // only the first fetch and hints can bring records
  StartConsumer(options);
  // The first fetch (at Start) finds nothing; every later fetch must be caused by a hint.
  ASSERT_TRUE(RunUntil([&] { return requests_ >= 1 && !consumer_->fetching(); }));
  EXPECT_EQ(consumer_->offset(), 0u);
  // PUB/SUB joins asynchronously and may drop the first hints: keep appending until one lands.
  ASSERT_TRUE(RunUntil([&] {
    if (consumer_->offset() > 0) {
      return true;
    }
    Append(1);
    RunUntil([&] { return consumer_->offset() > 0; }, 100ms);
    return consumer_->offset() > 0;
  }));
  const uint64_t head = log_->head();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == head; }));
  EXPECT_EQ(applied_, Range(1, head));
}

TEST_F(StreamTest, RestartResumesFromStoredOffset) {
  StartServer();
  Append(50);
  StartConsumer();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 50; }));
  consumer_.reset();

  Append(30);
  applied_.clear();
  StartConsumer();
  EXPECT_EQ(consumer_->offset(), 50u);  // read from the store at Start
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 80; }));
  EXPECT_EQ(applied_, Range(51, 80));  // nothing applied twice
  EXPECT_EQ(Stored(), Range(1, 80));
  EXPECT_EQ(apply_calls_, 80);
}

TEST_F(StreamTest, InvalidRecordsAreSkipped) {
  StartServer();
  Append(30);
  apply_hook_ = [](const asb::v1::Envelope& e, store::Batch*) {
    if (e.seq() % 10 == 3) {
      return absl::InvalidArgumentError("bad record");
    }
    if (e.seq() == 25) {
      return absl::FailedPreconditionError("never applicable");
    }
    return absl::OkStatus();
  };
  std::vector<uint64_t> skipped;
  StartConsumer();
  consumer_->OnSkipped([&](const asb::v1::Envelope& e, const absl::Status& s) {
    EXPECT_TRUE(absl::IsInvalidArgument(s) || absl::IsFailedPrecondition(s)) << s;
    skipped.push_back(e.seq());
  });
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 30; }));
  EXPECT_THAT(skipped, ::testing::ElementsAre(3, 13, 23, 25));
  EXPECT_EQ(consumer_->skipped(), 4u);
  std::vector<uint64_t> expected;
  for (uint64_t s = 1; s <= 30; ++s) {
    if (s % 10 != 3 && s != 25) {
      expected.push_back(s);
    }
  }
  EXPECT_EQ(applied_, expected);
  EXPECT_EQ(apply_calls_, 30);
}

TEST_F(StreamTest, UnavailableApplyRetriesSameRecords) {
  StartServer();
  Append(10);
  // Each record also appends to a log of the consumer's own (as asb-sharing does): what the
  // failed batch staged there must roll back, leaving that log dense.
  auto derived = Log::Open(consumer_store_.get(), "derived", "sharing");
  ASSERT_TRUE(derived.ok()) << derived.status();
  int failures_left = 2;
  apply_hook_ = [&](const asb::v1::Envelope& e, store::Batch* batch) {
    asb::v1::Envelope out;
    out.mutable_audit()->set_actor(e.event_id());
    (*derived)->Append(batch, &out);
    if (e.seq() == 5 && failures_left > 0) {
      --failures_left;
      return absl::UnavailableError("downstream busy");
    }
    return absl::OkStatus();
  };
  StartConsumer();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 10; }));
  EXPECT_EQ(failures_left, 0);
  EXPECT_EQ(applied_, Range(1, 10));  // 1..4 were re-applied, but committed once
  EXPECT_EQ(apply_calls_, 10 + 2 * 5);
  EXPECT_EQ(Stored(), Range(1, 10));
  EXPECT_EQ(consumer_->skipped(), 0u);

  EXPECT_EQ((*derived)->head(), 10u);
  std::vector<asb::v1::Envelope> out;
  ASB_ASSERT_OK((*derived)->Read(1, 100, &out));
  ASSERT_EQ(out.size(), 10u);
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].seq(), i + 1);
    EXPECT_EQ(out[i].audit().actor(), "intake/events/" + std::to_string(i + 1));
  }
}

TEST_F(StreamTest, FailedOffsetWriteRetriesWithoutDuplicates) {
  StartServer();
  Append(20);
  int faults = 3;
  consumer_store_->SetWriteFaultForTest([&]() -> absl::Status {
    if (faults > 0) {
      --faults;
      return absl::UnavailableError("disk full (injected)");
    }
    return absl::OkStatus();
  });
  StartConsumer();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 20; }));
  EXPECT_EQ(faults, 0);
  EXPECT_EQ(applied_, Range(1, 20));
  EXPECT_EQ(Stored(), Range(1, 20));
}

TEST_F(StreamTest, UpstreamDownAtStartThenRestarting) {
  // No server yet: the consumer keeps trying.
  StartConsumer();
  RunFor(400ms);
  EXPECT_EQ(consumer_->offset(), 0u);

  Append(20);
  StartServer();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 20; }));

  // The upstream goes away, appends while down, and comes back on the same endpoints.
  stream_server_.reset();
  server_.reset();
  Append(15);
  RunFor(200ms);
  EXPECT_EQ(consumer_->offset(), 20u);
  StartServer();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 35; }));
  EXPECT_EQ(applied_, Range(1, 35));
}

TEST_F(StreamTest, BehindRetentionJumpsToFirstRetained) {
  StartServer();
  Append(100);
  ASB_ASSERT_OK(log_->TrimBefore(61));
  StartConsumer();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 100; }));
  EXPECT_EQ(consumer_->lost(), 60u);
  EXPECT_EQ(applied_, Range(61, 100));
}

TEST_F(StreamTest, ConsumerNeedsOffsetsColumnFamily) {
  store::StoreOptions options;
  options.path = dir_.Sub("bare");
  options.sync = false;
  auto bare = store::Store::Open(options);
  ASSERT_TRUE(bare.ok()) << bare.status();
  Consumer consumer(&context_, &loop_, bare->get(), Options(), Recorder());
  EXPECT_THAT(consumer.Start(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(StreamTest, ConsumerPausesWhileItsDiskIsShortOfSpace) {
  StartServer();
  Append(20);
  ConsumerOptions options = Options();
  options.min_free_bytes = uint64_t{1} << 62;  // more than any disk has: "full"
  StartConsumer(options);
  RunFor(300ms);
  EXPECT_EQ(consumer_->offset(), 0u);
  EXPECT_THAT(applied_, ::testing::IsEmpty());
  // Space returns (here: the reserve is met): it goes on by itself, nothing lost or doubled.
  StartConsumer();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 20; }));
  EXPECT_EQ(applied_, Range(1, 20));
}

// --- Retention -----------------------------------------------------------------------------

// The plaintext test server names every caller "plaintext-test".
constexpr char kConsumer[] = "plaintext-test";

TEST_F(StreamTest, RetentionDeletesWhatTheConsumerHasCommitted) {
  StartServer();
  ASB_ASSERT_OK(stream_server_->SetRetention("events", producer_store_.get(),
                                             StreamServer::RetentionPolicy{{kConsumer}}));
  Append(100);
  // Nothing is deleted before the consumer has been seen.
  auto deleted = stream_server_->TrimNow();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0u);
  StartConsumer();
  // Its fetch after committing 100 tells the server so.
  ASSERT_TRUE(
      RunUntil([&] { return stream_server_->ConsumerPosition("events", kConsumer) == 100; }));
  deleted = stream_server_->TrimNow();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 100u);
  EXPECT_EQ(log_->first_retained(), 101u);
  // It goes on consuming what comes next; nothing was lost.
  Append(10);
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 110; }));
  EXPECT_EQ(applied_, Range(1, 110));
  EXPECT_EQ(consumer_->lost(), 0u);
}

TEST_F(StreamTest, RetentionWaitsForEveryConfiguredConsumer) {
  StartServer();
  ASB_ASSERT_OK(stream_server_->SetRetention("events", producer_store_.get(),
                                             StreamServer::RetentionPolicy{{kConsumer, "audit"}}));
  Append(50);
  StartConsumer();
  ASSERT_TRUE(
      RunUntil([&] { return stream_server_->ConsumerPosition("events", kConsumer) == 50; }));
  auto deleted = stream_server_->TrimNow();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0u) << "audit never fetched: it may still need every record";
  EXPECT_EQ(log_->first_retained(), 1u);
}

TEST_F(StreamTest, RetentionPositionsSurviveAServerRestart) {
  StartServer();
  ASB_ASSERT_OK(stream_server_->SetRetention("events", producer_store_.get(),
                                             StreamServer::RetentionPolicy{{kConsumer}}));
  Append(50);
  StartConsumer();
  ASSERT_TRUE(
      RunUntil([&] { return stream_server_->ConsumerPosition("events", kConsumer) == 50; }));
  consumer_.reset();
  ASSERT_TRUE(stream_server_->TrimNow().ok());
  ASSERT_EQ(log_->first_retained(), 51u);
  Append(50);

  // The producer restarts; the consumer has not fetched again: it keeps its place at 50.
  StartServer();
  ASB_ASSERT_OK(stream_server_->SetRetention("events", producer_store_.get(),
                                             StreamServer::RetentionPolicy{{kConsumer}}));
  EXPECT_EQ(stream_server_->ConsumerPosition("events", kConsumer), 50u);
  auto deleted = stream_server_->TrimNow();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0u);
  StartConsumer();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 100; }));
  EXPECT_EQ(applied_, Range(1, 100));
  EXPECT_EQ(consumer_->lost(), 0u);
}

// --- Backpressure: lag and holding back ---------------------------------------------------

TEST(StreamServerLagTest, LagIsHeadMinusCommittedPosition) {
  EXPECT_EQ(StreamServer::Lag(10, 3), 7u);
  EXPECT_EQ(StreamServer::Lag(10, 10), 0u);
  EXPECT_EQ(StreamServer::Lag(0, 0), 0u);
  // A position past the head (a head reported before a restart that lost nothing) is no lag.
  EXPECT_EQ(StreamServer::Lag(3, 10), 0u);
}

TEST_F(StreamTest, LagOfTheSlowestConfiguredConsumer) {
  StartServer();
  ASB_ASSERT_OK(stream_server_->SetRetention("events", producer_store_.get(),
                                             StreamServer::RetentionPolicy{{kConsumer, "audit"}}));
  int advanced = 0;
  stream_server_->OnPositionAdvanced([&] { ++advanced; });
  Append(100);
  // Nobody has fetched: nothing is known, so nothing lags.
  EXPECT_TRUE(stream_server_->ConsumerLags().empty());
  EXPECT_EQ(stream_server_->Slowest().lag, 0u);
  StartConsumer();
  ASSERT_TRUE(
      RunUntil([&] { return stream_server_->ConsumerPosition("events", kConsumer) == 100; }));
  EXPECT_GE(advanced, 1);
  std::vector<StreamServer::ConsumerLag> lags = stream_server_->ConsumerLags();
  ASSERT_EQ(lags.size(), 1u) << "audit never fetched";
  EXPECT_EQ(lags[0].stream, "events");
  EXPECT_EQ(lags[0].consumer, kConsumer);
  EXPECT_EQ(lags[0].lag, 0u);
  // The consumer stops; the head moves on: it lags by what was appended since.
  consumer_.reset();
  Append(40);
  StreamServer::ConsumerLag slowest = stream_server_->Slowest();
  EXPECT_EQ(slowest.consumer, kConsumer);
  EXPECT_EQ(slowest.stream, "events");
  EXPECT_EQ(slowest.lag, 40u);
  // Back, it catches up and the lag is gone.
  StartConsumer();
  ASSERT_TRUE(RunUntil([&] { return stream_server_->Slowest().lag == 0; }))
      << stream_server_->Slowest().lag;
  EXPECT_EQ(stream_server_->ConsumerPosition("events", kConsumer), 140u);
}

TEST_F(StreamTest, AHeldConsumerDoesNotFetchUntilTheHoldLifts) {
  StartServer();
  Append(10);
  bool hold = true;
  consumer_ =
      std::make_unique<Consumer>(&context_, &loop_, consumer_store_.get(), Options(), Recorder());
  consumer_->HoldWhile(
      [&] { return hold ? absl::UnavailableError("test: downstream behind") : absl::OkStatus(); });
  ASB_ASSERT_OK(consumer_->Start());
  // Polls (every 50 ms) and the head hint all find it held: nothing is fetched.
  RunFor(300ms);
  EXPECT_TRUE(consumer_->held());
  EXPECT_EQ(consumer_->holds(), 1u) << "one episode, however many polls";
  EXPECT_EQ(requests_, 0);
  EXPECT_EQ(consumer_->offset(), 0u);
  hold = false;
  consumer_->Resume();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 10; }));
  EXPECT_FALSE(consumer_->held());
  EXPECT_EQ(applied_, Range(1, 10));
}

TEST_F(StreamTest, RetentionKeepsRecordsYoungerThanTheMinimumAge) {
  StartServer();
  absl::Time now = absl::Now();
  stream_server_->SetClockForTest([&now] { return now; });
  StreamServer::RetentionPolicy policy{{kConsumer}};
  policy.min_age = absl::Hours(2);
  ASB_ASSERT_OK(stream_server_->SetRetention("events", producer_store_.get(), policy));
  Append(30);
  StartConsumer();
  ASSERT_TRUE(
      RunUntil([&] { return stream_server_->ConsumerPosition("events", kConsumer) == 30; }));
  now += absl::Hours(1);
  auto deleted = stream_server_->TrimNow();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0u);
  now += absl::Hours(2);
  deleted = stream_server_->TrimNow();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 30u);
}

TEST_F(StreamTest, RetentionRunsAsConsumersFetch) {
  StartServer();
  StreamServer::RetentionPolicy policy{{kConsumer}};
  policy.check_every = absl::ZeroDuration();
  ASB_ASSERT_OK(stream_server_->SetRetention("events", producer_store_.get(), policy));
  StartConsumer();
  for (int i = 0; i < 5; ++i) {
    Append(40);
  }
  // The log is deleted behind the consumer as it goes, without any explicit call.
  ASSERT_TRUE(RunUntil([&] { return log_->first_retained() == 201; }));
  EXPECT_EQ(applied_, Range(1, 200));
}

TEST_F(StreamTest, RetentionConfigErrorsNameTheField) {
  StartServer();
  asb::config::v1::ServerConfig config;
  config.add_stream_retention()->set_stream("nope");
  config.mutable_stream_retention(0)->add_consumers("sharing");
  EXPECT_THAT(stream_server_->ConfigureRetention(config, producer_store_.get()),
              StatusIs(absl::StatusCode::kNotFound));
  config.mutable_stream_retention(0)->set_stream("events");
  config.mutable_stream_retention(0)->clear_consumers();
  EXPECT_THAT(stream_server_->ConfigureRetention(config, producer_store_.get()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  config.mutable_stream_retention(0)->add_consumers("sharing");
  ASB_EXPECT_OK(stream_server_->ConfigureRetention(config, producer_store_.get()));
}

// --- A consumer whose store fsyncs: a batch's flush overlaps the next fetch and write -------

class PipelinedStreamTest : public StreamTest {
 protected:
  PipelinedStreamTest() { consumer_sync_ = true; }
};

TEST_F(PipelinedStreamTest, ConsumesInOrderExactlyOnceAcrossARestart) {
  ASSERT_NO_FATAL_FAILURE(ConsumeThousandInOrderExactlyOnce());  // callbacks in order, once

  consumer_.reset();
  Append(30);
  applied_.clear();
  StartConsumer();
  EXPECT_EQ(consumer_->offset(), 1000u);  // read from the store at Start
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 1030; }));
  EXPECT_EQ(applied_, Range(1001, 1030));
  EXPECT_EQ(Stored(), Range(1, 1030));
  EXPECT_EQ(apply_calls_, 1030);
}

// OnCommitted may write to the store itself: that write settles the batch deferred after the
// one it reports, whose hook must then not run inside it (notify's WakeParked once re-entered
// itself this way and double-freed). Hooks run from the loop, one at a time, in order.
TEST_F(PipelinedStreamTest, OnCommittedHooksMayWriteAndNeverNest) {
  StartServer();
  for (int i = 0; i < 10; ++i) {
    Append(100);
  }
  int depth = 0;
  int deepest = 0;
  std::vector<uint64_t> seen;
  StartConsumer();
  consumer_->OnCommitted([&](uint64_t offset) {
    ++depth;
    deepest = std::max(deepest, depth);
    seen.push_back(offset);
    store::Batch batch = consumer_store_->NewBatch();
    batch.Put(kOffsetsColumnFamily, "hook-test", std::to_string(offset));
    EXPECT_TRUE(consumer_store_->Write(&batch).ok());
    --depth;
  });
  ASSERT_TRUE(RunUntil([&] { return !seen.empty() && seen.back() == 1000; }));
  EXPECT_EQ(deepest, 1);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_GE(seen.size(), 1000u / 64);
  EXPECT_EQ(applied_, Range(1, 1000));
}

// The consumer asks for the next batch before the last one is on its disk; the upstream's
// retention must only count what is. Here the flush of the first batch fails (the batch is not
// committed): nothing may be deleted upstream.
TEST_F(PipelinedStreamTest, RetentionNeverPassesWhatIsOnTheConsumersDisk) {
  StartServer();
  ASB_ASSERT_OK(stream_server_->SetRetention("events", producer_store_.get(),
                                             StreamServer::RetentionPolicy{{kConsumer}}));
  Append(100);
  std::atomic<bool> flush_failed{false};
  consumer_store_->SetFlushFaultForTest([&]() -> absl::Status {
    flush_failed = true;
    return absl::DataLossError("fsync: I/O error (injected)");
  });
  StartConsumer();
  // The first batch (1..64) is written, then the fetch of 65.. goes out while it is flushed,
  // and 65..100 are applied before the failure is known.
  ASSERT_TRUE(RunUntil([&] { return flush_failed && apply_calls_ >= 100; }));
  EXPECT_EQ(consumer_->offset(), 0u);
  EXPECT_TRUE(applied_.empty());  // never committed
  EXPECT_EQ(stream_server_->ConsumerPosition("events", kConsumer), 0u);
  auto deleted = stream_server_->TrimNow();
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0u);
  EXPECT_EQ(log_->first_retained(), 1u);
}

// --- CURVE --------------------------------------------------------------------------------

class CurveStreamTest : public StreamTest {
 protected:
  void SetUp() override {
    StreamTest::SetUp();
    curve_ = true;
    auto server = bus::GenerateKeyPair("intake");
    auto daemon = bus::GenerateKeyPair("sharing");
    auto feed = bus::GenerateKeyPair("feed");
    ASSERT_TRUE(server.ok() && daemon.ok() && feed.ok());
    server_keys_ = *server;
    daemon_keys_ = *daemon;
    feed_keys_ = *feed;
    auto table = std::make_shared<bus::PrincipalTable>();
    table->Add(bus::Principal{"sharing", "hub", asb::v1::ROLE_DAEMON, daemon_keys_.public_key});
    table->Add(bus::Principal{"feed", "council", asb::v1::ROLE_FEED, feed_keys_.public_key});
    auth_->SetPrincipals(table);
  }
  bus::KeyPair feed_keys_;
};

TEST_F(CurveStreamTest, ConsumesOverCurve) {
  StartServer();
  Append(200);
  StartConsumer();
  ASSERT_TRUE(RunUntil([&] { return consumer_->offset() == 200; }));
  EXPECT_EQ(applied_, Range(1, 200));
}

TEST_F(CurveStreamTest, OnlyDaemonsMayFetch) {
  StartServer();
  Append(5);
  bus::ClientOptions options;
  options.endpoint = server_->api_endpoint();
  options.server_public_key = server_keys_.public_key;
  options.keys = feed_keys_;
  auto r = Fetch(FetchReq("events", 1, 10), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(FromProto(r->status()), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(r->fetch().records_size(), 0);

  options.keys = daemon_keys_;
  r = Fetch(FetchReq("events", 1, 10), options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASB_ASSERT_OK(FromProto(r->status()));
  EXPECT_EQ(r->fetch().records_size(), 5);
}

}  // namespace
}  // namespace asb::stream
