#include "cluster/query_inbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace shardlake {
namespace {

using std::chrono::milliseconds;

TaskEvent Batch(int64_t attempt, size_t bytes, char fill = 'x') {
  TaskEvent event;
  event.kind = EventKind::kBatch;
  event.attempt_id = attempt;
  event.batch.assign(bytes, fill);
  return event;
}

TaskEvent Done(int64_t attempt) {
  TaskEvent event;
  event.kind = EventKind::kDone;
  event.attempt_id = attempt;
  return event;
}

TEST(QueryInboxTest, ABatchPastTheBoundWaitsUntilTheConsumerMakesRoom) {
  QueryInbox inbox(1000);
  ASSERT_TRUE(inbox.Push(Batch(1, 400)));
  ASSERT_TRUE(inbox.Push(Batch(1, 400)));
  std::atomic<bool> pushed{false};
  auto third = std::async(std::launch::async, [&] {
    bool queued = inbox.Push(Batch(1, 400, 'z'));
    pushed = true;
    return queued;
  });
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(pushed) << "a batch that does not fit must wait";
  EXPECT_EQ(inbox.peak_bytes(), 800);
  auto first = inbox.Pop(milliseconds(100));
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(third.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(third.get());
  EXPECT_EQ(inbox.waited_pushes(), 1);
  EXPECT_EQ(inbox.peak_bytes(), 800);
  // Order is kept: the waiting batch comes last.
  ASSERT_TRUE(inbox.Pop(milliseconds(100)).has_value());
  auto last = inbox.Pop(milliseconds(100));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->batch, std::string(400, 'z'));
}

TEST(QueryInboxTest, AStreamMuchLargerThanTheBoundPassesWithBoundedPeak) {
  constexpr int kBatches = 200;
  constexpr int64_t kBound = 4096;
  QueryInbox inbox(kBound);
  auto producer = std::async(std::launch::async, [&] {
    for (int i = 0; i < kBatches; ++i) {
      if (!inbox.Push(Batch(7, 100 + static_cast<size_t>(i % 13) * 97, static_cast<char>(i)))) {
        return false;
      }
    }
    return inbox.Push(Done(7));
  });
  int batches = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto event = inbox.Pop(milliseconds(100));
    if (!event) continue;
    if (event->kind == EventKind::kDone) break;
    ASSERT_EQ(event->batch.front(), static_cast<char>(batches)) << "batches out of order";
    ++batches;
    if (batches % 10 == 0) std::this_thread::sleep_for(milliseconds(2));  // a slow consumer
  }
  ASSERT_EQ(producer.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(producer.get());
  EXPECT_EQ(batches, kBatches);
  EXPECT_LE(inbox.peak_bytes(), kBound);
  EXPECT_GT(inbox.waited_pushes(), 0) << "the producer never had to wait: the test shows nothing";
  EXPECT_EQ(inbox.largest_batch_bytes(), 100 + 12 * 97);
}

TEST(QueryInboxTest, ABatchLargerThanTheBoundPassesAlone) {
  QueryInbox inbox(100);
  ASSERT_TRUE(inbox.Push(Batch(1, 5000)));
  EXPECT_EQ(inbox.peak_bytes(), 5000);
  auto event = inbox.Pop(milliseconds(10));
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->batch.size(), 5000u);
}

TEST(QueryInboxTest, OtherEventsNeverWait) {
  QueryInbox inbox(100);
  ASSERT_TRUE(inbox.Push(Batch(1, 100)));
  auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(inbox.Push(Done(1), [] { return false; }));
  TaskEvent lost;
  lost.kind = EventKind::kLost;
  ASSERT_TRUE(inbox.Push(std::move(lost)));
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(40));
  EXPECT_EQ(inbox.waited_pushes(), 0);
}

TEST(QueryInboxTest, AWaitingBatchIsDroppedWhenItsAttemptIsGivenUp) {
  QueryInbox inbox(100);
  ASSERT_TRUE(inbox.Push(Batch(1, 100)));
  std::atomic<int> asked{0};
  std::atomic<bool> attempt_wanted{true};
  auto waiting = std::async(std::launch::async, [&] {
    return inbox.Push(Batch(1, 50), [&] {
      ++asked;
      return attempt_wanted.load();
    });
  });
  std::this_thread::sleep_for(milliseconds(3 * QueryInbox::kWaitPoll.count()));
  EXPECT_GE(asked.load(), 1) << "a waiting push must keep asking whether to go on";
  attempt_wanted = false;
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_FALSE(waiting.get());
  // Only the first batch is queued.
  ASSERT_TRUE(inbox.Pop(milliseconds(10)).has_value());
  EXPECT_FALSE(inbox.Pop(milliseconds(10)).has_value());
}

}  // namespace
}  // namespace shardlake
