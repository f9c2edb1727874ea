// Time helpers. All catalog times are Unix nanoseconds (int64, UTC).
#pragma once

#include <cstdint>
#include <string>

namespace shardlake {

// The current wall-clock time in Unix nanoseconds.
int64_t NowUnixNanos();

// "YYYY-MM-DD" and "HH" (UTC) of a Unix-nanosecond time, as used in the
// `date=YYYY-MM-DD/hour=HH` folder layout.
std::string DateOfUnixNanos(int64_t ns);
std::string HourOfUnixNanos(int64_t ns);

// Formats a Unix-nanosecond time as "YYYY-MM-DD HH:MM:SS.fffffffff" (UTC).
std::string FormatUnixNanos(int64_t ns);

// Monotonic stopwatch for timings shown to users.
class Stopwatch {
 public:
  Stopwatch();
  double ElapsedSeconds() const;
  double ElapsedMillis() const { return ElapsedSeconds() * 1000.0; }

 private:
  int64_t start_ns_;
};

// Where an operation spent its time, phase by phase, for log lines:
// "plan 5.1 ms, tasks 40.2 ms". Not thread-safe: one thread ends the phases.
class PhaseTimer {
 public:
  // Ends the current phase under `name` and starts the next one.
  void EndPhase(const char* name);
  // Forgets the phases so far and starts timing anew.
  void Restart();
  const std::string& text() const { return text_; }

 private:
  Stopwatch watch_;
  std::string text_;
};

}  // namespace shardlake
