// metrics::Registry: the Prometheus text format and the Ping counters from one registry.
#include "common/metrics/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace asb::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(Registry, RendersCountersGaugesAndFamiliesInTheTextFormat) {
  Registry r;
  r.GetCounter("bad_messages", "Undecodable requests.")->Add(3);
  r.GetCounter("events_refused", "Events refused.", {{"reason", "invalid_argument"}})->Add();
  r.GetCounter("events_refused", "Events refused.", {{"reason", "invalid_argument"}})->Add();
  r.GetCounter("events_refused", "ignored", {{"reason", "unavailable"}})->Add(5);
  uint64_t owned = 7;
  r.AddCounterFn("entries", "Entries.", [&] { return owned; });
  r.AddGaugeFn("store_free_bytes", "Free bytes.", [] { return 1.5e9; });
  r.AddGaugeFamily("outbox_depth", "Alerts not yet acknowledged.", [] {
    return std::vector<Sample>{{{{"agency", "police"}}, 4}, {{{"agency", "fire"}}, 0}};
  });
  const std::string text = r.RenderText();
  EXPECT_THAT(text, HasSubstr("# HELP asb_bad_messages_total Undecodable requests.\n"
                              "# TYPE asb_bad_messages_total counter\n"
                              "asb_bad_messages_total 3\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE asb_events_refused_total counter\n"
                              "asb_events_refused_total{reason=\"invalid_argument\"} 2\n"
                              "asb_events_refused_total{reason=\"unavailable\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("asb_entries_total 7\n"));
  EXPECT_THAT(text,
              HasSubstr("# TYPE asb_store_free_bytes gauge\nasb_store_free_bytes 1500000000\n"));
  EXPECT_THAT(text, HasSubstr("asb_outbox_depth{agency=\"police\"} 4\n"
                              "asb_outbox_depth{agency=\"fire\"} 0\n"));
  // Read at render time.
  owned = 8;
  EXPECT_THAT(r.RenderText(), HasSubstr("asb_entries_total 8\n"));
}

TEST(Registry, PingCountersAreTheSameCounters) {
  Registry r;
  r.GetCounter("bad_messages", "x")->Add(2);
  r.GetCounter("events_refused", "x", {{"reason", "unavailable"}})->Add(1);
  r.AddCounterFn("entries", "x", [] { return uint64_t{9}; });
  r.AddGaugeFn("lag", "x", [] { return 1.0; });  // gauges are not counters
  EXPECT_THAT(r.CounterValues(),
              UnorderedElementsAre(Pair("bad_messages", 2u),
                                   Pair("events_refused{reason=\"unavailable\"}", 1u),
                                   Pair("entries", 9u)));
}

TEST(Registry, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  Histogram* h = r.GetHistogram("store_fsync_seconds", "fsync", {0.001, 0.01, 0.1});
  EXPECT_EQ(h, r.GetHistogram("store_fsync_seconds", "fsync", {}));
  h->Observe(0.0005);
  h->Observe(0.001);  // on a bound: in that bucket
  h->Observe(0.05);
  h->Observe(3);
  const std::string text = r.RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE asb_store_fsync_seconds histogram\n"
                              "asb_store_fsync_seconds_bucket{le=\"0.001\"} 2\n"
                              "asb_store_fsync_seconds_bucket{le=\"0.01\"} 2\n"
                              "asb_store_fsync_seconds_bucket{le=\"0.1\"} 3\n"
                              "asb_store_fsync_seconds_bucket{le=\"+Inf\"} 4\n"
                              "asb_store_fsync_seconds_sum 3.0515\n"
                              "asb_store_fsync_seconds_count 4\n"));
}

TEST(Registry, LabelValuesAreEscaped) {
  EXPECT_EQ(FormatLabels({{"version", "a\"b\\c\nd"}}), "{version=\"a\\\"b\\\\c\\nd\"}");
  EXPECT_EQ(FormatLabels({}), "");
}

TEST(Registry, CountersAndHistogramsTakeUpdatesFromOtherThreads) {
  Registry r;
  Counter* c = r.GetCounter("n", "x");
  Histogram* h = r.GetHistogram("d", "x", LatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Add();
        h->Observe(0.002);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(c->value(), 40000u);
  EXPECT_EQ(h->count(), 40000u);
}

}  // namespace
}  // namespace asb::metrics
