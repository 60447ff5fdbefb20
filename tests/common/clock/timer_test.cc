// The hub's clock: durable timers in a real RocksDB store, fired in simulated time. A "crash" is
// a store closed without writing the batch in progress (what kill -9 leaves on disk); every timer
// must fire exactly once across any number of them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/timer_service.h"
#include "common/clock/timer_store.h"
#include "common/status/macros.h"
#include "common/store/store.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::clock {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using namespace std::string_literals;

const absl::Time kStart = absl::FromUnixSeconds(1796083200);  // 2026-12-01T00:00:00Z

class TimerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    service_.reset();
    timers_.reset();
    store_.reset();
    store::StoreOptions o;
    o.path = dir_.Sub("db");
    o.sync = false;
    o.column_families = {"timers", "timer_index", "effects"};
    auto s = store::Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    timers_ = std::make_unique<TimerStore>(store_.get(), "timers", "timer_index");
    service_ = std::make_unique<TimerService>(
        nullptr, store_.get(), timers_.get(), &clock_,
        [this](const Timer& t, store::Batch* batch) { return Fire(t, batch); },
        TimerService::Options{});
  }

  // The owner's effect of firing: one record per firing in the same batch (so it is durable
  // exactly when the timer's removal is).
  absl::Status Fire(const Timer& t, store::Batch* batch) {
    if (fail_next_) {
      fail_next_ = false;
      return absl::UnavailableError("store busy");
    }
    batch->Put("effects", t.name + "#" + std::to_string(++firings_[t.name]), t.payload);
    return absl::OkStatus();
  }

  void Schedule(const std::string& name, absl::Time due, const std::string& payload = "p") {
    store::Batch batch = store_->NewBatch();
    ASB_ASSERT_OK(timers_->Schedule(name, due, payload, &batch));
    ASB_ASSERT_OK(store_->Write(&batch));
  }

  // Every recorded effect, by timer name: how many times it fired (durably).
  std::map<std::string, int> Effects() {
    std::map<std::string, int> out;
    auto it = store_->NewIterator("effects");
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string key = it->key().ToString();
      ++out[key.substr(0, key.find('#'))];
    }
    return out;
  }

  std::vector<std::string> DueNames() {
    auto due = timers_->Due(clock_.Now(), 100);
    EXPECT_TRUE(due.ok()) << due.status();
    std::vector<std::string> names;
    for (const Timer& t : *due) {
      names.push_back(t.name);
    }
    return names;
  }

  asb::testing::TempDir dir_;
  SimulatedClock clock_{kStart};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TimerStore> timers_;
  std::unique_ptr<TimerService> service_;
  std::map<std::string, int> firings_;
  bool fail_next_ = false;
};

TEST_F(TimerTest, FiresInDueOrderOnlyWhenDue) {
  Schedule("c\0b"s, kStart + absl::Hours(2));
  Schedule("c\0a"s, kStart + absl::Hours(1));
  EXPECT_THAT(DueNames(), IsEmpty());
  auto fired = service_->FireDue();
  ASB_ASSERT_OK(fired.status());
  EXPECT_EQ(*fired, 0u);

  clock_.Advance(absl::Minutes(59));
  EXPECT_THAT(DueNames(), IsEmpty());  // one minute early
  clock_.Advance(absl::Minutes(1));
  EXPECT_THAT(DueNames(), ElementsAre("c\0a"s));
  clock_.Advance(absl::Hours(1));
  EXPECT_THAT(DueNames(), ElementsAre("c\0a"s, "c\0b"s));
  fired = service_->FireAllDue();
  ASB_ASSERT_OK(fired.status());
  EXPECT_EQ(*fired, 2u);
  EXPECT_EQ(Effects(), (std::map<std::string, int>{{"c\0a"s, 1}, {"c\0b"s, 1}}));
  // Fired timers are gone: nothing fires twice.
  clock_.Advance(absl::Hours(100));
  fired = service_->FireAllDue();
  ASB_ASSERT_OK(fired.status());
  EXPECT_EQ(*fired, 0u);
  EXPECT_EQ(service_->fired(), 2u);
}

TEST_F(TimerTest, ADeadlineAlreadyPastFiresAtOnce) {
  Schedule("backfill", kStart - absl::Hours(24 * 400));  // a year and more ago
  Schedule("before-1970", absl::FromUnixSeconds(-5));
  EXPECT_THAT(DueNames(), ElementsAre("before-1970", "backfill"));
  auto fired = service_->FireDue();
  ASB_ASSERT_OK(fired.status());
  EXPECT_EQ(*fired, 2u);
}

TEST_F(TimerTest, RescheduleAndCancelReplaceTheOldDueTime) {
  Schedule("t", kStart + absl::Hours(1), "first");
  Schedule("t", kStart + absl::Hours(3), "second");  // replaces, not adds
  clock_.Advance(absl::Hours(2));
  EXPECT_THAT(DueNames(), IsEmpty());
  clock_.Advance(absl::Hours(1));
  auto due = timers_->Due(clock_.Now(), 10);
  ASB_ASSERT_OK(due.status());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].payload, "second");

  store::Batch batch = store_->NewBatch();
  ASB_ASSERT_OK(timers_->Cancel("t", &batch));
  ASB_ASSERT_OK(timers_->Cancel("never-scheduled", &batch));
  ASB_ASSERT_OK(store_->Write(&batch));
  EXPECT_THAT(DueNames(), IsEmpty());
  auto next = timers_->Next();
  ASB_ASSERT_OK(next.status());
  EXPECT_FALSE(next->has_value());
}

// Next and Due seek past the timers already gone (the store keeps no tombstone scan per look),
// yet a timer scheduled earlier than any seen so far is found at once.
TEST_F(TimerTest, AnEarlierTimerIsFoundAfterLaterOnesWereSeen) {
  for (int i = 0; i < 50; ++i) {
    Schedule("late" + std::to_string(i), kStart + absl::Hours(10) + absl::Minutes(i));
  }
  auto next = timers_->Next();
  ASB_ASSERT_OK(next.status());
  EXPECT_EQ(*next, std::optional<absl::Time>(kStart + absl::Hours(10)));
  Schedule("early", kStart + absl::Hours(1));
  next = timers_->Next();
  ASB_ASSERT_OK(next.status());
  EXPECT_EQ(*next, std::optional<absl::Time>(kStart + absl::Hours(1)));
  // Even one scheduled before 1970 (sorted as 0) after the scans moved on.
  Schedule("ancient", absl::FromUnixSeconds(-5));
  auto due = timers_->Due(kStart, 10);
  ASB_ASSERT_OK(due.status());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].name, "ancient");
  // Fired (removed) timers leave the front; what is next is the next.
  clock_.Advance(absl::Hours(10) + absl::Minutes(20));
  auto fired = service_->FireAllDue();
  ASB_ASSERT_OK(fired.status());
  EXPECT_EQ(*fired, 23u);  // ancient, early, late0..late20
  next = timers_->Next();
  ASB_ASSERT_OK(next.status());
  EXPECT_EQ(*next, std::optional<absl::Time>(kStart + absl::Hours(10) + absl::Minutes(21)));
}

TEST_F(TimerTest, ABatchSeesItsOwnChanges) {
  // Scheduled twice and cancelled within one batch: the reads in between see the batch.
  store::Batch batch = store_->NewBatch();
  ASB_ASSERT_OK(timers_->Schedule("t", kStart + absl::Hours(1), "a", &batch));
  auto due = timers_->DueOf("t");
  ASB_ASSERT_OK(due.status());
  EXPECT_EQ(*due, std::optional<absl::Time>(kStart + absl::Hours(1)));
  ASB_ASSERT_OK(timers_->Schedule("t", kStart + absl::Hours(2), "b", &batch));
  ASB_ASSERT_OK(store_->Write(&batch));
  clock_.Advance(absl::Hours(5));
  auto all = timers_->Due(clock_.Now(), 10);
  ASB_ASSERT_OK(all.status());
  ASSERT_EQ(all->size(), 1u) << "the first due time was replaced within the batch";
  EXPECT_EQ((*all)[0].due, kStart + absl::Hours(2));

  // An abandoned batch leaves nothing behind, staged changes included.
  {
    store::Batch abandoned = store_->NewBatch();
    ASB_ASSERT_OK(timers_->Cancel("t", &abandoned));
  }
  due = timers_->DueOf("t");
  ASB_ASSERT_OK(due.status());
  EXPECT_TRUE(due->has_value());
}

TEST_F(TimerTest, AFailedRoundWritesNothingAndIsRetried) {
  Schedule("a", kStart);
  Schedule("b", kStart);
  fail_next_ = true;
  EXPECT_THAT(service_->FireDue(), asb::testing::StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Effects(), IsEmpty());
  EXPECT_THAT(DueNames(), ElementsAre("a", "b"));
  auto fired = service_->FireAllDue();
  ASB_ASSERT_OK(fired.status());
  EXPECT_EQ(*fired, 2u);
  EXPECT_EQ(Effects(), (std::map<std::string, int>{{"a", 1}, {"b", 1}}));
}

TEST_F(TimerTest, ATimerThatCanNeverFireIsDroppedAndReported) {
  Schedule("bad", kStart);
  Schedule("good", kStart);
  service_ = std::make_unique<TimerService>(
      nullptr, store_.get(), timers_.get(), &clock_,
      [this](const Timer& t, store::Batch* batch) {
        return t.name == "bad" ? absl::NotFoundError("its order is gone") : Fire(t, batch);
      },
      TimerService::Options{});
  std::vector<std::string> dropped;
  service_->OnDropped([&](const Timer& t, const absl::Status&) { dropped.push_back(t.name); });
  auto fired = service_->FireDue();
  ASB_ASSERT_OK(fired.status());
  EXPECT_EQ(*fired, 1u);
  EXPECT_THAT(dropped, ElementsAre("bad"));
  EXPECT_THAT(DueNames(), IsEmpty());
  EXPECT_EQ(service_->dropped(), 1u);
}

TEST_F(TimerTest, FiringMayScheduleTheSameNameAgain) {
  // A recurring deadline: firing "r" schedules "r" an hour later, in the same batch.
  service_ = std::make_unique<TimerService>(
      nullptr, store_.get(), timers_.get(), &clock_,
      [this](const Timer& t, store::Batch* batch) {
        ASB_RETURN_IF_ERROR(Fire(t, batch));
        return timers_->Schedule(t.name, t.due + absl::Hours(1), t.payload, batch);
      },
      TimerService::Options{});
  Schedule("r", kStart);
  for (int hour = 0; hour < 3; ++hour) {
    auto fired = service_->FireAllDue();
    ASB_ASSERT_OK(fired.status());
    EXPECT_EQ(*fired, 1u) << hour;
    clock_.Advance(absl::Hours(1));
  }
  EXPECT_EQ(Effects(), (std::map<std::string, int>{{"r", 3}}));
  auto next = timers_->Next();
  ASB_ASSERT_OK(next.status());
  EXPECT_EQ(*next, std::optional<absl::Time>(kStart + absl::Hours(3)));
}

// kill -9 between any two writes: a timer's effect and its removal are one atomic write, so
// after any number of "crashes" (reopening the store, losing the batch in progress) every timer
// has fired exactly once.
TEST_F(TimerTest, EveryTimerFiresExactlyOnceAcrossCrashes) {
  constexpr int kTimers = 200;
  for (int i = 0; i < kTimers; ++i) {
    Schedule("t" + std::to_string(1000 + i), kStart + absl::Minutes(i));
  }
  TimerService::Options options;
  options.max_per_batch = 7;
  service_ = std::make_unique<TimerService>(
      nullptr, store_.get(), timers_.get(), &clock_,
      [this](const Timer& t, store::Batch* batch) { return Fire(t, batch); }, options);
  int crashes = 0;
  while (true) {
    clock_.Advance(absl::Minutes(13));
    // A round that is lost: its batch is built and then dropped, as a crash before the write.
    {
      auto due = timers_->Due(clock_.Now(), 7);
      ASB_ASSERT_OK(due.status());
      store::Batch lost = store_->NewBatch();
      for (const Timer& t : *due) {
        timers_->Remove(t.name, t.due, &lost);
        ASB_ASSERT_OK(Fire(t, &lost));
      }
    }
    ++crashes;
    Open();  // the daemon restarts on what is on disk
    auto fired = service_->FireDue();
    ASB_ASSERT_OK(fired.status());
    auto left = timers_->Next();
    ASB_ASSERT_OK(left.status());
    if (!left->has_value()) {
      break;
    }
  }
  const std::map<std::string, int> effects = Effects();
  EXPECT_EQ(effects.size(), static_cast<size_t>(kTimers));
  for (const auto& [name, n] : effects) {
    EXPECT_EQ(n, 1) << name << " fired " << n << " times";
  }
  EXPECT_GT(crashes, 10);
}

}  // namespace
}  // namespace asb::clock
