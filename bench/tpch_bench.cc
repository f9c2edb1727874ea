// tpch_bench: "Generate TPC-H SF 1 into Parquet".
//
// Two child processes per run (this binary re-executed), alternating
// --runs times:
//   baseline : plain DuckDB, COPY (SELECT <16 lineitem-like columns> FROM
//              range(R)) TO parquet zstd, R = the rows the generator writes
//              in total at that scale factor (8.66 million at SF 1): the cost
//              of writing an equally large table of similar width;
//   shardlake: tpch::ExportParquet (what `shardlake tpch gen` runs), all
//              eight tables into a fresh directory.
// Wall time and peak RSS (wait4's ru_maxrss) come from the child; the best
// run of each side is reported, with rows/s per table (rows over the summed
// busy seconds of that table's files, i.e. per writing thread).
//
// Goals: SF 1 in under 90 s on 2 cores; peak RSS under 2 GiB.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench_util.h"
#include "common/sql_text.h"
#include "duck/duck.h"
#include "fmt/format.h"
#include "tpch/parquet_export.h"

namespace {

namespace fs = std::filesystem;
using shardlake::bench::CheckChild;
using shardlake::bench::ChildRun;
using shardlake::bench::Die;
using shardlake::bench::Grouped;
using shardlake::bench::RunChild;
constexpr const char* kName = "tpch_bench";

std::string Mib(int64_t bytes) { return fmt::format("{:.0f} MiB", bytes / 1048576.0); }

// Child: the generator. Prints "TABLE name rows bytes busy_seconds" lines.
int GenerateChild(const std::string& dir, double scale_factor, int threads) {
  shardlake::tpch::ExportOptions options;
  options.scale_factor = scale_factor;
  options.threads = threads;
  options.out_dir = dir;
  auto stats = shardlake::tpch::ExportParquet(options);
  if (!stats.ok()) Die(kName, std::string(stats.status().message()));
  for (const auto& table : stats->tables) {
    std::printf("TABLE %s %lld %lld %.6f\n",
                std::string(shardlake::tpch::TableName(table.table)).c_str(),
                static_cast<long long>(table.rows), static_cast<long long>(table.bytes),
                table.busy_seconds);
  }
  return 0;
}

// Child: plain DuckDB writing `rows` synthetic lineitem-shaped rows.
int BaselineChild(const std::string& file, int64_t rows, int threads) {
  std::map<std::string, std::string> options;
  if (threads > 0) options["threads"] = std::to_string(threads);
  auto database = shardlake::duck::Database::Open("", options);
  if (!database.ok()) Die(kName, std::string(database.status().message()));
  auto connection = shardlake::duck::Connection::Open(**database);
  if (!connection.ok()) Die(kName, std::string(connection.status().message()));
  std::string sql = fmt::format(
      "COPY (SELECT i AS k1, i % 200000 + 1 AS k2, i % 10000 + 1 AS k3, "
      "(i % 7 + 1)::INTEGER AS n, (i % 50 + 1)::DECIMAL(15,2) AS q, "
      "((i * 7919) % 10000000 / 100)::DECIMAL(15,2) AS p, (i % 11 / 100)::DECIMAL(15,2) AS d, "
      "(i % 9 / 100)::DECIMAL(15,2) AS t, chr((65 + i % 3)::INTEGER) AS f1, "
      "chr((70 + i % 2)::INTEGER) AS f2, DATE '1992-01-01' + (i % 2400)::INTEGER AS d1, "
      "DATE '1992-01-01' + ((i * 3) % 2400)::INTEGER AS d2, "
      "DATE '1992-01-01' + ((i * 7) % 2400)::INTEGER AS d3, "
      "['DELIVER IN PERSON', 'COLLECT COD', 'NONE', 'TAKE BACK RETURN'][i % 4 + 1] AS s1, "
      "['REG AIR', 'AIR', 'RAIL', 'SHIP', 'TRUCK', 'MAIL', 'FOB'][i % 7 + 1] AS s2, "
      "substr('carefully ironic packages sleep quickly above the furiously final deposits; "
      "slyly even requests wake', ((i * 31) % 60 + 1)::INTEGER, (10 + i % 34)::INTEGER) AS c "
      "FROM range({}) r(i)) TO {} (FORMAT parquet, COMPRESSION zstd)",
      rows, shardlake::QuoteLiteral(file));
  auto written = shardlake::duck::QueryScalar(**connection, sql);
  if (!written.ok()) Die(kName, std::string(written.status().message()));
  std::printf("baseline: %s rows\n", written->value_or("?").c_str());
  return 0;
}

std::string SelfExe() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error) Die(kName, fmt::format("cannot read /proc/self/exe: {}", error.message()));
  return self.string();
}

struct TableFigures {
  int64_t rows = 0;
  int64_t bytes = 0;
  double busy_seconds = 0;
};

std::map<std::string, TableFigures> ParseTables(const std::string& output) {
  std::map<std::string, TableFigures> tables;
  std::istringstream in(output);
  std::string word;
  while (in >> word) {
    if (word != "TABLE") continue;
    std::string name;
    TableFigures figures;
    in >> name >> figures.rows >> figures.bytes >> figures.busy_seconds;
    tables[name] = figures;
  }
  return tables;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--generate-child") {
    return GenerateChild(argv[2], std::atof(argv[3]), std::atoi(argv[4]));
  }
  if (argc == 5 && std::string(argv[1]) == "--baseline-child") {
    return BaselineChild(argv[2], std::atoll(argv[3]), std::atoi(argv[4]));
  }

  double scale_factor = 1;
  int runs = 1;
  int threads = 0;
  int timeout_seconds = 600;
  shardlake::bench::CommonOptions common;
  CLI::App app{"tpch_bench: generate TPC-H into Parquet vs DuckDB writing as many synthetic rows"};
  app.add_option("--sf", scale_factor, "TPC-H scale factor (default 1)")
      ->check(CLI::Range(0.001, 100.0));
  app.add_option("--runs", runs, "runs of each side (alternating; best is reported)")
      ->check(CLI::Range(1, 5));
  app.add_option("--threads", threads, "threads for both sides (0: all cores)")
      ->check(CLI::Range(0, 256));
  app.add_option("--timeout", timeout_seconds, "seconds before a child process is killed")
      ->check(CLI::Range(10, 3600));
  shardlake::bench::AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);

  auto generator = shardlake::tpch::Generator::Create(scale_factor, 0);
  if (!generator.ok()) Die(kName, std::string(generator.status().message()));
  int64_t expected_rows = 0;
  for (auto table : shardlake::tpch::kAllTables) {
    expected_rows +=
        shardlake::tpch::Generator::ExpectedRows(table, (*generator)->UnitCount(table));
  }
  shardlake::bench::TempDir work(kName, common.keep);
  std::string self = SelfExe();
  int effective_threads =
      threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());

  ChildRun best_baseline, best_generate;
  best_baseline.seconds = best_generate.seconds = 1e300;
  std::map<std::string, TableFigures> tables;
  int64_t baseline_bytes = 0;
  for (int run = 0; run < runs; ++run) {
    fs::path base_file = work.path() / "baseline.parquet";
    fs::remove(base_file);
    std::fprintf(stderr, "%s: run %d: baseline (%s rows)...\n", kName, run + 1,
                 Grouped(expected_rows).c_str());
    ChildRun baseline = RunChild(kName,
                                 {self, "--baseline-child", base_file.string(),
                                  std::to_string(expected_rows), std::to_string(threads)},
                                 work.path() / "baseline.log", timeout_seconds);
    CheckChild(kName, baseline, "the baseline child");
    baseline_bytes = static_cast<int64_t>(fs::file_size(base_file));
    if (baseline.seconds < best_baseline.seconds) best_baseline = baseline;

    fs::path out = work.path() / "tpch";
    fs::remove_all(out);
    std::fprintf(stderr, "%s: run %d: generating SF %g...\n", kName, run + 1, scale_factor);
    ChildRun generate = RunChild(kName,
                                 {self, "--generate-child", out.string(),
                                  fmt::format("{}", scale_factor), std::to_string(threads)},
                                 work.path() / "generate.log", timeout_seconds);
    CheckChild(kName, generate, "the generator child");
    if (generate.seconds < best_generate.seconds) {
      best_generate = generate;
      tables = ParseTables(generate.output);
    }
  }
  if (tables.size() != shardlake::tpch::kAllTables.size()) {
    Die(kName, "the generator child did not report all eight tables:\n" + best_generate.output);
  }

  shardlake::bench::Report report;
  report.Add(
      fmt::format("TPC-H SF {} into Parquet (zstd), {} thread(s), best of {} run(s); "
                  "machine shared with other jobs",
                  scale_factor, effective_threads, runs));
  report.Add(fmt::format("{:<10} {:>12} {:>10} {:>10} {:>14}", "table", "rows", "parquet", "busy s",
                         "rows/s/thread"));
  int64_t rows = 0, bytes = 0;
  for (auto table : shardlake::tpch::kAllTables) {
    const TableFigures& figures = tables[std::string(shardlake::tpch::TableName(table))];
    rows += figures.rows;
    bytes += figures.bytes;
    report.Add(fmt::format(
        "{:<10} {:>12} {:>10} {:>10.2f} {:>14}", shardlake::tpch::TableName(table),
        Grouped(figures.rows), Mib(figures.bytes), figures.busy_seconds,
        Grouped(figures.busy_seconds > 0 ? static_cast<int64_t>(figures.rows / figures.busy_seconds)
                                         : 0)));
  }
  double shard_rate = rows / best_generate.seconds;
  double base_rate = static_cast<double>(expected_rows) / best_baseline.seconds;
  report.Add(fmt::format("{:<28} {:>9} {:>12} {:>10} {:>14} {:>10}", "", "wall s", "rows",
                         "parquet", "rows/s", "peak RSS"));
  report.Add(fmt::format("{:<28} {:>9.1f} {:>12} {:>10} {:>14} {:>10}", "shardlake tpch gen",
                         best_generate.seconds, Grouped(rows), Mib(bytes),
                         Grouped(static_cast<int64_t>(shard_rate)),
                         Mib(best_generate.max_rss_bytes)));
  report.Add(fmt::format("{:<28} {:>9.1f} {:>12} {:>10} {:>14} {:>10}", "baseline DuckDB synthetic",
                         best_baseline.seconds, Grouped(expected_rows), Mib(baseline_bytes),
                         Grouped(static_cast<int64_t>(base_rate)),
                         Mib(best_baseline.max_rss_bytes)));
  report.Add(fmt::format("ratio shardlake/baseline: wall time {:.2f}x, rows/s {:.2f}x",
                         best_generate.seconds / best_baseline.seconds, shard_rate / base_rate));
  bool whole_sf1 = scale_factor == 1;
  report.Goal(fmt::format("SF {} generation wall time < 90 s", scale_factor),
              fmt::format("{:.1f} s", best_generate.seconds),
              whole_sf1 ? best_generate.seconds < 90 : true);
  report.Goal("peak RSS of generation < 2 GiB", Mib(best_generate.max_rss_bytes),
              best_generate.max_rss_bytes < (int64_t{2} << 30));
  report.Publish(kName, common.results_dir);
  return 0;
}
