#include "common/time_util.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "fmt/format.h"

namespace shardlake {
namespace {

std::tm BrokenDownUtc(int64_t ns) {
  // Floor division so that times before 1970 land in the right second.
  int64_t seconds = ns / 1'000'000'000;
  if (ns % 1'000'000'000 < 0) --seconds;
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int64_t NowUnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string DateOfUnixNanos(int64_t ns) {
  std::tm tm = BrokenDownUtc(ns);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

std::string HourOfUnixNanos(int64_t ns) {
  std::tm tm = BrokenDownUtc(ns);
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%02d", tm.tm_hour);
  return buf;
}

std::string FormatUnixNanos(int64_t ns) {
  std::tm tm = BrokenDownUtc(ns);
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) frac += 1'000'000'000;
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d.%09lld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

Stopwatch::Stopwatch() : start_ns_(MonotonicNanos()) {}

double Stopwatch::ElapsedSeconds() const { return (MonotonicNanos() - start_ns_) / 1e9; }

void PhaseTimer::EndPhase(const char* name) {
  text_ += fmt::format("{}{} {:.1f} ms", text_.empty() ? "" : ", ", name, watch_.ElapsedMillis());
  watch_ = Stopwatch();
}

void PhaseTimer::Restart() {
  text_.clear();
  watch_ = Stopwatch();
}

}  // namespace shardlake
