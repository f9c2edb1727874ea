// bench_util: helpers shared by the benchmark programs in bench/.
//
// Offers, in namespace shardlake::bench:
//   - Die(bench, message): print "<bench>: ERROR: <message>" to stderr, exit 1.
//   - Grouped(value): an integer with thousands separators ("1,234,567").
//   - TempDir: a fresh /tmp/shardlake-<bench>-<uuid> work directory, removed
//     when it goes out of scope (or kept, and its path printed, with --keep).
//   - Clock, SecondsSince(start), SecondsOf(body): wall-clock timing.
//   - Median(values), Min(values): summaries of timed runs.
//   - RunChild(bench, argv, output, timeout), CheckChild: a timed child process
//     with its peak memory (benchmarks that measure a whole program).
//   - CommonOptions, AddCommonOptions(app, bench, &options): the
//     --results-dir and --keep flags every benchmark has.
//   - Report: the summary text, with "GOAL <what>: <measured> PASS|MISS"
//     lines (the form bench/run.sh reads), printed and written to
//     <results_dir>/<bench>.txt by Publish().
// `bench` is always the benchmark's name, e.g. "load_bench".
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace shardlake::bench {

// Prints "<bench>: ERROR: <message>" to stderr and exits with status 1.
[[noreturn]] void Die(std::string_view bench, const std::string& message);

// `value` with a ',' between groups of three digits: -1234567 -> "-1,234,567".
std::string Grouped(int64_t value);

// A work directory /tmp/shardlake-<bench, '_' as '-'>-<uuid>, created by the
// constructor and removed with everything in it by the destructor, unless
// `keep`: then its path is printed to stderr and it stays.
class TempDir {
 public:
  TempDir(std::string_view bench, bool keep);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::string bench_;
  std::filesystem::path path_;
  bool keep_;
};

using Clock = std::chrono::steady_clock;

// Seconds from `start` until now.
double SecondsSince(Clock::time_point start);

// Seconds `body` took to run.
double SecondsOf(const std::function<void()>& body);

// The median of `values` (the mean of the middle two for an even count);
// `values` must not be empty.
double Median(std::vector<double> values);

// The smallest of `values`; `values` must not be empty.
double Min(const std::vector<double>& values);

// The options every benchmark has.
struct CommonOptions {
  std::string results_dir = SHARDLAKE_BENCH_RESULTS_DIR;  // bench/results in the source tree
  bool keep = false;                                      // keep the temporary work directory
};

// Adds the CommonOptions to `app`, bound to `options`, in this order:
//   --results-dir DIR  where to write <bench>.txt
//   --keep             keep the temporary work directory
void AddCommonOptions(CLI::App& app, std::string_view bench, CommonOptions* options);

// A child process's outcome (RunChild).
struct ChildRun {
  int exit_code = -1;  // -1 when killed by a signal
  bool timed_out = false;
  double seconds = 0;
  int64_t max_rss_bytes = 0;
  std::string output;  // stdout + stderr
};

// Runs argv[0] (an absolute or relative path, not searched in PATH) with its
// stdout and stderr sent to `output_file`; kills it after `timeout_seconds`.
// Measures its wall time and peak RSS. Dies (as `bench`) if it cannot fork.
ChildRun RunChild(std::string_view bench, const std::vector<std::string>& argv,
                  const std::filesystem::path& output_file, int timeout_seconds);

// Dies (as `bench`), showing the child's output, unless `run` exited with 0.
void CheckChild(std::string_view bench, const ChildRun& run, const std::string& what);

// A benchmark's summary: lines of text, ending with its GOAL lines.
class Report {
 public:
  void Add(const std::string& line);
  // Adds "GOAL <what>: <measured> PASS" if `pass`, else "... MISS".
  void Goal(const std::string& what, const std::string& measured, bool pass);
  const std::string& text() const { return text_; }
  // Prints the report to stdout after a blank line, and writes it to
  // <results_dir>/<bench>.txt (creating the directory); dies if it cannot.
  void Publish(std::string_view bench, const std::string& results_dir) const;

 private:
  std::string text_;
};

}  // namespace shardlake::bench
