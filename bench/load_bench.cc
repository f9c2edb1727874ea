// load_bench: "Load 10 million CSV rows".
//
// Generates a CSV of --rows rows (~5 days of 43 ms samples), then alternates
// (baseline, shardlake) --runs times, each side in a child process:
//   baseline : plain DuckDB, COPY (SELECT * FROM read_csv(x.csv)) TO parquet zstd
//              (this binary re-executed with --baseline-child)
//   shardlake: `shardlake --data-dir D load m.cpu x.csv` into a fresh data dir
// Wall time and peak RSS (wait4's ru_maxrss) are measured for both; the best
// time of each side is reported. Every shardlake load is checked with
// `SELECT count(*) FROM m.cpu` == rows.
//
// Goals: shardlake rows/s >= 0.8 x baseline rows/s; peak RSS of the load < 1 GiB.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench_util.h"
#include "duck/duck.h"
#include "fmt/format.h"

namespace {

namespace fs = std::filesystem;
using shardlake::bench::CheckChild;
using shardlake::bench::ChildRun;
using shardlake::bench::Die;
using shardlake::bench::Grouped;
using shardlake::bench::RunChild;
constexpr const char* kName = "load_bench";

std::string Mib(int64_t bytes) { return fmt::format("{:.0f} MiB", bytes / 1048576.0); }

std::string SqlQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// The baseline, run in a child: plain DuckDB converting the CSV to Parquet.
int BaselineChild(const std::string& csv, const std::string& parquet, int threads) {
  std::map<std::string, std::string> options;
  if (threads > 0) options["threads"] = std::to_string(threads);
  auto database = shardlake::duck::Database::Open("", options);
  if (!database.ok()) Die(kName, std::string(database.status().message()));
  auto connection = shardlake::duck::Connection::Open(**database);
  if (!connection.ok()) Die(kName, std::string(connection.status().message()));
  auto rows = shardlake::duck::QueryScalar(
      **connection, fmt::format("COPY (SELECT * FROM read_csv({})) TO {} (FORMAT parquet, "
                                "COMPRESSION zstd)",
                                SqlQuote(csv), SqlQuote(parquet)));
  if (!rows.ok()) Die(kName, std::string(rows.status().message()));
  std::printf("baseline: %s rows\n", rows->value_or("?").c_str());
  return 0;
}

std::string SelfExe() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) Die(kName, fmt::format("cannot read /proc/self/exe: {}", ec.message()));
  return self.string();
}

int64_t ParquetBytes(const fs::path& dir, int64_t* files) {
  int64_t bytes = 0;
  *files = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".parquet") {
      bytes += static_cast<int64_t>(entry.file_size());
      ++*files;
    }
  }
  return bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--baseline-child") {
    return BaselineChild(argv[2], argv[3], std::atoi(argv[4]));
  }

  int64_t rows = 10'000'000;
  int runs = 2;
  int threads = 0;
  int timeout_seconds = 600;
  std::string shardlake_bin;
  shardlake::bench::CommonOptions common;
  CLI::App app{"load_bench: load N CSV rows with shardlake vs plain DuckDB CSV->Parquet"};
  app.add_option("--rows", rows, "CSV rows to generate and load")
      ->check(CLI::Range(int64_t{1000}, int64_t{100'000'000}));
  app.add_option("--runs", runs, "runs of each side (alternating; best is reported)")
      ->check(CLI::Range(1, 5));
  app.add_option("--threads", threads, "DuckDB threads for both sides (0: all cores)")
      ->check(CLI::Range(0, 256));
  app.add_option("--timeout", timeout_seconds, "seconds before a child process is killed")
      ->check(CLI::Range(10, 3600));
  app.add_option("--shardlake", shardlake_bin,
                 "path of the shardlake binary (default: $SHARDLAKE_BIN; required)");
  shardlake::bench::AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);

  if (shardlake_bin.empty()) {
    const char* env = std::getenv("SHARDLAKE_BIN");
    if (env != nullptr) shardlake_bin = env;
  }
  if (shardlake_bin.empty()) Die(kName, "pass --shardlake PATH or set SHARDLAKE_BIN");
  if (access(shardlake_bin.c_str(), X_OK) != 0) {
    Die(kName, fmt::format("shardlake binary '{}' is not executable", shardlake_bin));
  }
  shardlake_bin = fs::absolute(shardlake_bin).string();
  std::string self = SelfExe();

  shardlake::bench::TempDir work(kName, common.keep);
  const fs::path csv = work.path() / "x.csv";
  const fs::path base_parquet = work.path() / "base.parquet";
  const fs::path data_dir = work.path() / "data";

  // 1. The input CSV.
  std::printf("%s: generating %s CSV rows in %s ...\n", kName, Grouped(rows).c_str(),
              work.path().c_str());
  std::fflush(stdout);
  {
    auto start = shardlake::bench::Clock::now();
    auto database = shardlake::duck::Database::Open("");
    if (!database.ok()) Die(kName, std::string(database.status().message()));
    auto connection = shardlake::duck::Connection::Open(**database);
    if (!connection.ok()) Die(kName, std::string(connection.status().message()));
    auto status =
        (*connection)
            ->Execute(fmt::format(
                "COPY (SELECT TIMESTAMP_NS '2026-01-01' + INTERVAL (i * 43) MILLISECOND AS time, "
                "'host-' || (i % 100) AS host, 'eu-' || (i % 7) AS region, (i % 1000) / 10.0 AS "
                "usage, "
                "(i % 17)::INTEGER AS cores FROM range({}) r(i)) TO {} (HEADER)",
                rows, SqlQuote(csv.string())));
    if (!status.ok()) Die(kName, std::string(status.message()));
    std::printf("%s: CSV is %s, written in %.1f s\n", kName, Mib(fs::file_size(csv)).c_str(),
                shardlake::bench::SecondsSince(start));
  }

  // 2. Alternate baseline and shardlake.
  std::vector<ChildRun> base_runs, lake_runs;
  int64_t base_bytes = 0, lake_bytes = 0, lake_files = 0;
  for (int run = 0; run < runs; ++run) {
    std::error_code ec;
    fs::remove(base_parquet, ec);
    ChildRun base = RunChild(
        kName,
        {self, "--baseline-child", csv.string(), base_parquet.string(), std::to_string(threads)},
        work.path() / "baseline.out", timeout_seconds);
    CheckChild(kName, base, "baseline DuckDB COPY");
    base_bytes = static_cast<int64_t>(fs::file_size(base_parquet));
    std::printf("%s: run %d baseline : %6.2f s, peak RSS %s\n", kName, run + 1, base.seconds,
                Mib(base.max_rss_bytes).c_str());
    std::fflush(stdout);
    base_runs.push_back(base);
    fs::remove(base_parquet, ec);

    fs::remove_all(data_dir, ec);
    std::vector<std::string> global = {shardlake_bin, "--data-dir", data_dir.string()};
    if (threads > 0) {
      global.push_back("--threads");
      global.push_back(std::to_string(threads));
    }
    auto with = [&](std::vector<std::string> rest) {
      std::vector<std::string> all = global;
      all.insert(all.end(), rest.begin(), rest.end());
      return all;
    };
    CheckChild(kName,
               RunChild(kName,
                        with({"sql",
                              "CREATE TABLE m.cpu (time TIMESTAMP_NS, host VARCHAR, "
                              "region VARCHAR, usage DOUBLE, cores INTEGER)"}),
                        work.path() / "create.out", timeout_seconds),
               "shardlake CREATE TABLE");
    ChildRun lake = RunChild(kName, with({"load", "m.cpu", csv.string()}), work.path() / "load.out",
                             timeout_seconds);
    CheckChild(kName, lake, "shardlake load");
    // "loaded <path>: N rows into F file(s), ..." -> "N rows into F file(s), ..."
    std::string summary = lake.output.substr(0, lake.output.find('\n'));
    if (size_t colon = summary.find(": "); colon != std::string::npos) {
      summary = summary.substr(colon + 2);
    }
    std::printf("%s: run %d shardlake: %6.2f s, peak RSS %s  (%s)\n", kName, run + 1, lake.seconds,
                Mib(lake.max_rss_bytes).c_str(), summary.c_str());
    std::fflush(stdout);
    lake_runs.push_back(lake);

    // The load must be complete and correct.
    ChildRun count = RunChild(kName, with({"sql", "--format", "csv", "SELECT count(*) FROM m.cpu"}),
                              work.path() / "count.out", timeout_seconds);
    CheckChild(kName, count, "shardlake count(*)");
    std::istringstream lines(count.output);
    std::string line, last;
    while (std::getline(lines, line)) {
      if (!line.empty()) last = line;
    }
    if (last != std::to_string(rows)) {
      Die(kName, fmt::format("WRONG LOAD: count(*) of m.cpu is '{}', expected {}; output:\n{}",
                             last, rows, count.output));
    }
    lake_bytes = ParquetBytes(data_dir / "lake", &lake_files);
    fs::remove_all(data_dir, ec);
  }

  auto best = [](const std::vector<ChildRun>& all) {
    return std::min_element(
               all.begin(), all.end(),
               [](const ChildRun& a, const ChildRun& b) { return a.seconds < b.seconds; })
        ->seconds;
  };
  auto peak = [](const std::vector<ChildRun>& all) {
    int64_t max = 0;
    for (const auto& run : all) max = std::max(max, run.max_rss_bytes);
    return max;
  };
  double base_s = best(base_runs), lake_s = best(lake_runs);
  double base_rate = rows / base_s, lake_rate = rows / lake_s;
  double ratio = lake_rate / base_rate;
  int64_t base_rss = peak(base_runs), lake_rss = peak(lake_runs);
  constexpr double kRatioGoal = 0.8;
  constexpr int64_t kRssGoal = int64_t{1} << 30;

  shardlake::bench::Report report;
  report.Add(fmt::format(
      "load_bench: load {} CSV rows ({} CSV, {} cores, best of {} alternating runs)", Grouped(rows),
      Mib(fs::file_size(csv)), std::thread::hardware_concurrency(), runs));
  report.Add(fmt::format("{:<16}{:>24}{:>20}{:>16}", "", "baseline DuckDB COPY", "shardlake load",
                         "shardlake/base"));
  report.Add(fmt::format("{:<16}{:>24.2f}{:>20.2f}{:>16.2f}", "wall time (s)", base_s, lake_s,
                         lake_s / base_s));
  report.Add(fmt::format("{:<16}{:>24}{:>20}{:>16.2f}", "rows/s",
                         Grouped(static_cast<int64_t>(base_rate)),
                         Grouped(static_cast<int64_t>(lake_rate)), ratio));
  report.Add(fmt::format("{:<16}{:>24}{:>20}{:>16.2f}", "peak RSS", Mib(base_rss), Mib(lake_rss),
                         static_cast<double>(lake_rss) / base_rss));
  report.Add(fmt::format("{:<16}{:>24}{:>20}{:>16.2f}", "parquet output",
                         fmt::format("{} (1 file)", Mib(base_bytes)),
                         fmt::format("{} ({} files)", Mib(lake_bytes), lake_files),
                         static_cast<double>(lake_bytes) / base_bytes));
  report.Add(
      fmt::format("verified: SELECT count(*) FROM m.cpu = {} after each load", Grouped(rows)));
  report.Goal(fmt::format("load rows/s shardlake/baseline >= {:.2f}", kRatioGoal),
              fmt::format("{:.2f}", ratio), ratio >= kRatioGoal);
  report.Goal("load peak RSS < 1 GiB", Mib(lake_rss), lake_rss < kRssGoal);
  report.Publish(kName, common.results_dir);
  return 0;
}
