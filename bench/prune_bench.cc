// prune_bench: "A one-hour query over 30 days of hourly data: pruned vs
// unpruned (goal >= 20x)".
//
// An in-process Engine (SQLite catalog + file store in a temp dir) gets
// m.cpu (time TIMESTAMP_NS, host VARCHAR, usage DOUBLE) with --days days of
// --rows-per-hour rows each hour, one file per hour (--days x 24 files),
// written by a few big INSERT ... SELECT statements. Then a one-hour
// aggregate runs --runs times (alternating, after one warm-up each):
//   pruned  : WHERE time >= 'D 10:00' AND time < 'D 11:00'          (1-2 files)
//   baseline: WHERE time + INTERVAL 0 SECOND >= ... AND ... < ...   (all files;
//             the pruner cannot use the expression)
// Both must return identical rows. Reports medians, the files each scanned and
// the time ratio unpruned/pruned. Goal: >= 20x.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench_util.h"
#include "catalog/index.h"
#include "fmt/format.h"
#include "query/engine.h"
#include "storage/object_store.h"

namespace {

using shardlake::bench::Die;
using shardlake::bench::Grouped;
using shardlake::bench::Median;
using shardlake::bench::Min;
constexpr const char* kName = "prune_bench";

struct Timed {
  shardlake::StatementOutcome outcome;
  shardlake::CollectingSink::RowList rows;
  double seconds = 0;
};

Timed Run(shardlake::Engine& engine, const std::string& sql) {
  shardlake::CollectingSink sink;
  auto start = shardlake::bench::Clock::now();
  auto outcome = engine.Execute(sql, sink);
  double seconds = shardlake::bench::SecondsSince(start);
  if (!outcome.ok()) Die(kName, fmt::format("{}\n  -> {}", sql, outcome.status().ToString()));
  return Timed{*outcome, sink.rows(), seconds};
}

std::string ScansText(const shardlake::StatementOutcome& outcome) {
  std::string text;
  for (const auto& scan : outcome.scans) {
    if (!text.empty()) text += "; ";
    text += fmt::format("{}: {} of {} files scanned ({} pruned by time, {} by stats)", scan.table,
                        scan.files_scanned, scan.files_total, scan.pruned_by_time,
                        scan.pruned_by_stats);
  }
  return text.empty() ? "no scans reported" : text;
}

}  // namespace

int main(int argc, char** argv) {
  int days = 30;
  int64_t rows_per_hour = 3'600;
  int hosts = 20;
  int days_per_insert = 5;
  int query_day = 15;
  int runs = 7;
  int threads = 0;
  shardlake::bench::CommonOptions common;
  CLI::App app{"prune_bench: one-hour query over days of hourly files, pruned vs unpruned"};
  app.add_option("--days", days, "days of data, from 2026-01-01")->check(CLI::Range(1, 31));
  app.add_option("--rows-per-hour", rows_per_hour, "rows in each hour file")
      ->check(CLI::Range(int64_t{10}, int64_t{100'000}));
  app.add_option("--hosts", hosts, "distinct hosts")->check(CLI::Range(1, 10'000));
  app.add_option("--days-per-insert", days_per_insert, "days written by each INSERT statement")
      ->check(CLI::Range(1, 31));
  app.add_option("--query-day", query_day, "day of January 2026 the query reads (10:00-11:00)")
      ->check(CLI::Range(1, 31));
  app.add_option("--runs", runs, "timed runs of each query (median is reported)")
      ->check(CLI::Range(1, 100));
  app.add_option("--threads", threads, "DuckDB threads (0: all cores)")->check(CLI::Range(0, 256));
  shardlake::bench::AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);
  if (query_day > days) Die(kName, "--query-day must be <= --days");

  shardlake::bench::TempDir work(kName, common.keep);

  auto index = shardlake::OpenIndex("sqlite://" + (work.path() / "catalog.sqlite").string());
  if (!index.ok()) Die(kName, index.status().ToString());
  auto store = shardlake::OpenObjectStore("file://" + (work.path() / "lake").string());
  if (!store.ok()) Die(kName, store.status().ToString());
  shardlake::EngineOptions options;
  options.staging_dir = (work.path() / "staging").string();
  options.count_total_files = true;
  if (threads > 0) options.duckdb_options["threads"] = std::to_string(threads);
  auto opened = shardlake::Engine::Open(std::move(*index), std::move(*store), options);
  if (!opened.ok()) Die(kName, opened.status().ToString());
  shardlake::Engine& engine = **opened;

  // ---- Data: one file per hour --------------------------------------------
  const int64_t hours = int64_t{days} * 24;
  const int64_t total_rows = hours * rows_per_hour;
  std::printf("%s: inserting %d days x 24 hours x %s rows (%s rows, %lld files) ...\n", kName, days,
              Grouped(rows_per_hour).c_str(), Grouped(total_rows).c_str(),
              static_cast<long long>(hours));
  std::fflush(stdout);
  Run(engine, "CREATE TABLE m.cpu (time TIMESTAMP_NS, host VARCHAR, usage DOUBLE)");
  auto load_start = shardlake::bench::Clock::now();
  for (int first_day = 0; first_day < days; first_day += days_per_insert) {
    int64_t begin = int64_t{first_day} * 24 * rows_per_hour;
    int64_t end = std::min<int64_t>(first_day + days_per_insert, days) * 24 * rows_per_hour;
    // Row i is in hour i / rows_per_hour, spread evenly over that hour. Usage
    // values are multiples of 1/8, so sums are exact whatever the order.
    Timed inserted = Run(
        engine,
        fmt::format("INSERT INTO m.cpu SELECT TIMESTAMP_NS '2026-01-01' + "
                    "INTERVAL (i // {0}) HOUR + INTERVAL ((i % {0}) * 3600000000 // {0}) "
                    "MICROSECOND, 'host-' || (i % {1}), (i % 800) / 8.0 FROM range({2}, {3}) r(i)",
                    rows_per_hour, hosts, begin, end));
    if (inserted.outcome.rows != end - begin) {
      Die(kName,
          fmt::format("INSERT reported {} rows, expected {}", inserted.outcome.rows, end - begin));
    }
  }
  double load_s = shardlake::bench::SecondsSince(load_start);
  auto entries = engine.index().Query("m", "cpu", {});
  if (!entries.ok()) Die(kName, entries.status().ToString());
  if (static_cast<int64_t>(entries->size()) != hours) {
    Die(kName, fmt::format("the catalog has {} files for m.cpu, expected one per hour = {}",
                           entries->size(), hours));
  }
  Timed count = Run(engine, "SELECT count(*) FROM m.cpu");
  if (count.rows.size() != 1 || count.rows[0][0] != std::to_string(total_rows)) {
    Die(kName, fmt::format("count(*) is {}, expected {}",
                           count.rows.empty() ? "nothing" : count.rows[0][0].value_or("NULL"),
                           total_rows));
  }
  std::printf("%s: %lld files, %s rows written in %.1f s\n", kName,
              static_cast<long long>(entries->size()), Grouped(total_rows).c_str(), load_s);

  // ---- The two queries ----------------------------------------------------
  const std::string day = fmt::format("2026-01-{:02}", query_day);
  const std::string pruned_sql = fmt::format(
      "SELECT host, avg(usage), count(*) FROM m.cpu WHERE time >= '{0} 10:00:00' AND "
      "time < '{0} 11:00:00' GROUP BY host ORDER BY host",
      day);
  const std::string unpruned_sql = fmt::format(
      "SELECT host, avg(usage), count(*) FROM m.cpu WHERE time + INTERVAL 0 SECOND >= "
      "'{0} 10:00:00' AND time + INTERVAL 0 SECOND < '{0} 11:00:00' GROUP BY host ORDER BY host",
      day);
  Timed pruned = Run(engine, pruned_sql);  // warm-up, and the answer
  Timed unpruned = Run(engine, unpruned_sql);
  if (pruned.rows != unpruned.rows) {
    Die(kName, fmt::format("pruned and unpruned queries disagree: {} vs {} rows",
                           pruned.rows.size(), unpruned.rows.size()));
  }
  int64_t counted = 0;
  for (const auto& row : pruned.rows) counted += std::stoll(row[2].value_or("0"));
  if (counted != rows_per_hour) {
    Die(kName,
        fmt::format("the one-hour query counted {} rows, expected {}", counted, rows_per_hour));
  }
  std::vector<double> pruned_s, unpruned_s;
  for (int run = 0; run < runs; ++run) {
    Timed p = Run(engine, pruned_sql);
    Timed u = Run(engine, unpruned_sql);
    if (p.rows != pruned.rows || u.rows != pruned.rows)
      Die(kName, "a timed run returned other rows");
    pruned_s.push_back(p.seconds);
    unpruned_s.push_back(u.seconds);
  }

  // ---- Report --------------------------------------------------------------
  double p_ms = Median(pruned_s) * 1e3, u_ms = Median(unpruned_s) * 1e3;
  double ratio = u_ms / p_ms;
  constexpr double kGoal = 20;
  auto scanned = [](const Timed& t) {
    int64_t n = 0;
    for (const auto& scan : t.outcome.scans) n += scan.files_scanned;
    return n;
  };
  shardlake::bench::Report report;
  report.Add(
      fmt::format("prune_bench: one-hour query over {} days of hourly files ({} files, {} rows, "
                  "{} cores, median of {} alternating runs)",
                  days, hours, Grouped(total_rows), std::thread::hardware_concurrency(), runs));
  report.Add(
      fmt::format("  query: SELECT host, avg(usage), count(*) ... {} 10:00-11:00 GROUP BY host "
                  "({} groups, {} rows; identical results)",
                  day, pruned.rows.size(), Grouped(counted)));
  report.Add(fmt::format("  {:<30}{:>11}{:>11}{:>16}", "", "median ms", "min ms", "files scanned"));
  report.Add(fmt::format("  {:<30}{:>11.2f}{:>11.2f}{:>16}", "pruned (time >= ...)", p_ms,
                         Min(pruned_s) * 1e3, fmt::format("{} / {}", scanned(pruned), hours)));
  report.Add(fmt::format("  {:<30}{:>11.2f}{:>11.2f}{:>16}", "unpruned baseline (time + 0s)", u_ms,
                         Min(unpruned_s) * 1e3, fmt::format("{} / {}", scanned(unpruned), hours)));
  report.Add(fmt::format("  pruned scans  : {}", ScansText(pruned.outcome)));
  report.Add(fmt::format("  unpruned scans: {}", ScansText(unpruned.outcome)));
  if (scanned(unpruned) != hours) {
    report.Add(fmt::format("  WARNING: the baseline was expected to scan all {} files", hours));
  }
  report.Goal(fmt::format("pruning speed-up unpruned/pruned >= {:.0f}x", kGoal),
              fmt::format("{:.1f}x", ratio), ratio >= kGoal);
  report.Publish(kName, common.results_dir);
  return 0;
}
