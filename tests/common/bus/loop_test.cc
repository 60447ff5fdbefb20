// bus::Loop::Post: work handed to the loop from another thread runs in the loop, at once.
#include "common/bus/loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace asb::bus {
namespace {

TEST(LoopPost, WakesALoopWaitingInPoll) {
  Loop loop;
  std::atomic<bool> ran{false};
  std::thread::id ran_on;
  std::thread poster([&] {
    loop.Post([&] {
      ran_on = std::this_thread::get_id();
      ran = true;
    });
  });
  const auto start = std::chrono::steady_clock::now();
  // Without the wake-up this waits the whole 30 s.
  while (!ran && std::chrono::steady_clock::now() - start < std::chrono::seconds(30)) {
    loop.RunOnce(std::chrono::seconds(30));
  }
  poster.join();
  EXPECT_TRUE(ran);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(LoopPost, RunsEveryPostedFunctionInOrder) {
  Loop loop;
  std::vector<int> order;
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      loop.Post([&order, i] { order.push_back(i); });
    }
  });
  poster.join();
  loop.RunOnce(std::chrono::milliseconds(0));
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(order[i], i);
  }
}

}  // namespace
}  // namespace asb::bus
