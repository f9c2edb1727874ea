#include "common/time_util.h"

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <thread>

namespace shardlake {
namespace {

TEST(TimeUtilTest, DateAndHourAreUtc) {
  // 2026-01-02 03:04:05.000000006 UTC
  int64_t ns = 1767323045LL * 1'000'000'000 + 6;
  EXPECT_EQ(DateOfUnixNanos(ns), "2026-01-02");
  EXPECT_EQ(HourOfUnixNanos(ns), "03");
  EXPECT_EQ(FormatUnixNanos(ns), "2026-01-02 03:04:05.000000006");
}

TEST(TimeUtilTest, BeforeEpochFloors) {
  EXPECT_EQ(DateOfUnixNanos(-1), "1969-12-31");
  EXPECT_EQ(HourOfUnixNanos(-1), "23");
  EXPECT_EQ(FormatUnixNanos(-1), "1969-12-31 23:59:59.999999999");
}

TEST(TimeUtilTest, StopwatchAdvances) {
  Stopwatch watch;
  EXPECT_GE(watch.ElapsedSeconds(), 0.0);
}

TEST(PhaseTimerTest, NamesEachPhaseWithItsMillisecondsInOrder) {
  PhaseTimer phases;
  phases.EndPhase("plan");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  phases.EndPhase("run");
  std::regex shape(R"(plan (\d+\.\d) ms, run (\d+\.\d) ms)");
  std::smatch parts;
  ASSERT_TRUE(std::regex_match(phases.text(), parts, shape)) << phases.text();
  EXPECT_GE(std::stod(parts[2].str()), 19.9);  // the sleep is in "run", not "plan"
  phases.Restart();
  EXPECT_EQ(phases.text(), "");
  phases.EndPhase("again");
  EXPECT_EQ(phases.text().rfind("again ", 0), 0u) << phases.text();
}

}  // namespace
}  // namespace shardlake
