// catalog_bench: "Catalog, SQLite".
//
// 1. Batch add: --entries entries (default 100,000) in ONE Index::Batch into a
//    fresh SQLite catalog. Baselines in the same run: the in-memory backend
//    doing the same Batch, and a raw sqlite3 loop inserting the same rows into
//    a table like the catalog's (same pragmas, one transaction, one prepared
//    statement). Alternating, --batch-runs times; best of each.
//    Goal: SQLite catalog >= 100,000 entries/s.
// 2. Time query: --days days (default 7) of 15-second files (40,320 entries);
//    Query(QueryOptions{after, before}) covering one whole day (5,760 entries).
//    Baselines: the in-memory backend, and a raw sqlite3 SELECT on the raw
//    table (rows turned into IndexEntry values, JSON parsed, like the catalog).
//    Alternating, --runs times (default 20); medians.
//    Goal: SQLite catalog median < 20 ms.
#include <sqlite3.h>

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
#include "common/ids.h"
#include "common/time_util.h"
#include "fmt/format.h"

namespace {

namespace fs = std::filesystem;
using shardlake::IndexEntry;
using shardlake::bench::Die;
using shardlake::bench::Grouped;
using shardlake::bench::Median;
using shardlake::bench::Min;
using shardlake::bench::SecondsOf;
constexpr const char* kName = "catalog_bench";
constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kDay = 86'400 * kSecond;
constexpr int64_t kStart = 1'767'225'600 * kSecond;  // 2026-01-01T00:00:00Z

// `count` consecutive files of `interval_s` seconds each, from 2026-01-01,
// as the ingester would register them: one file per interval in its hour folder.
std::vector<IndexEntry> MakeEntries(int64_t count, int64_t interval_s) {
  std::vector<IndexEntry> entries;
  entries.reserve(count);
  const std::string writer = shardlake::NewUuid();
  for (int64_t i = 0; i < count; ++i) {
    int64_t begin = kStart + i * interval_s * kSecond;
    int64_t end = begin + interval_s * kSecond - 1'000'000;  // last row 1 ms before the next file
    IndexEntry entry;
    entry.database = "metrics";
    entry.table = "cpu";
    entry.path = fmt::format("date={}/hour={}/{}.1.parquet", shardlake::DateOfUnixNanos(begin),
                             shardlake::HourOfUnixNanos(begin), shardlake::NewUuid());
    entry.size_bytes = 40'000 + (i * 7919) % 20'000;
    entry.row_count = 1'500 + i % 100;
    entry.chunk_time = end + 2 * kSecond;
    entry.min = {{"time", begin}, {"host", fmt::format("host-{:03}", i % 7)}, {"usage", 0.25}};
    entry.max = {{"time", end}, {"host", fmt::format("host-{:03}", 90 + i % 10)}, {"usage", 99.75}};
    entry.min_time = begin;
    entry.max_time = end;
    entry.writer_id = writer;
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::unique_ptr<shardlake::Index> Open(const std::string& uri) {
  auto index = shardlake::OpenIndex(uri);
  if (!index.ok()) Die(kName, fmt::format("OpenIndex({}): {}", uri, index.status().ToString()));
  return std::move(*index);
}

// A raw sqlite3 table shaped like the catalog's `files` table, with the same
// pragmas; the baseline for what SQLite itself costs.
class RawTable {
 public:
  explicit RawTable(const fs::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) Die(kName, "sqlite3_open failed");
    Exec("PRAGMA journal_mode = WAL");
    Exec("PRAGMA synchronous = NORMAL");
    Exec("PRAGMA cache_size = -65536");
    Exec("PRAGMA temp_store = MEMORY");
    Exec(R"sql(CREATE TABLE files (
      database TEXT NOT NULL, tbl TEXT NOT NULL, path TEXT NOT NULL, layer TEXT NOT NULL,
      size_bytes INTEGER NOT NULL, row_count INTEGER NOT NULL, chunk_time INTEGER NOT NULL,
      min_json TEXT NOT NULL, max_json TEXT NOT NULL, min_time INTEGER NOT NULL,
      max_time INTEGER NOT NULL, writer_id TEXT NOT NULL,
      PRIMARY KEY (database, tbl, path)))sql");
    Exec("CREATE INDEX files_by_time ON files (database, tbl, min_time, max_time)");
  }
  ~RawTable() { sqlite3_close(db_); }

  // One transaction, one prepared statement; JSON serialized per row.
  void Insert(const std::vector<IndexEntry>& entries) {
    sqlite3_stmt* stmt = Prepare(
        "INSERT INTO files (database, tbl, path, layer, size_bytes, row_count, chunk_time, "
        "min_json, max_json, min_time, max_time, writer_id) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    Exec("BEGIN IMMEDIATE");
    for (const auto& e : entries) {
      std::string min_json = e.min.dump(), max_json = e.max.dump();
      sqlite3_bind_text(stmt, 1, e.database.data(), static_cast<int>(e.database.size()),
                        SQLITE_STATIC);
      sqlite3_bind_text(stmt, 2, e.table.data(), static_cast<int>(e.table.size()), SQLITE_STATIC);
      sqlite3_bind_text(stmt, 3, e.path.data(), static_cast<int>(e.path.size()), SQLITE_STATIC);
      sqlite3_bind_text(stmt, 4, e.layer.data(), static_cast<int>(e.layer.size()), SQLITE_STATIC);
      sqlite3_bind_int64(stmt, 5, e.size_bytes);
      sqlite3_bind_int64(stmt, 6, e.row_count);
      sqlite3_bind_int64(stmt, 7, e.chunk_time);
      sqlite3_bind_text(stmt, 8, min_json.data(), static_cast<int>(min_json.size()),
                        SQLITE_TRANSIENT);
      sqlite3_bind_text(stmt, 9, max_json.data(), static_cast<int>(max_json.size()),
                        SQLITE_TRANSIENT);
      sqlite3_bind_int64(stmt, 10, e.min_time);
      sqlite3_bind_int64(stmt, 11, e.max_time);
      sqlite3_bind_text(stmt, 12, e.writer_id.data(), static_cast<int>(e.writer_id.size()),
                        SQLITE_STATIC);
      if (sqlite3_step(stmt) != SQLITE_DONE) Die(kName, fmt::format("raw insert: {}", Error()));
      sqlite3_reset(stmt);
    }
    Exec("COMMIT");
    sqlite3_finalize(stmt);
  }

  // Entries overlapping [after, before], sorted by path, read back into
  // IndexEntry values (JSON parsed) as a catalog would.
  std::vector<IndexEntry> Query(int64_t after, int64_t before) {
    sqlite3_stmt* stmt = Prepare(
        "SELECT path, layer, size_bytes, row_count, chunk_time, min_json, max_json, min_time, "
        "max_time, writer_id FROM files WHERE database = ?1 AND tbl = ?2 AND min_time <= ?3 "
        "AND max_time >= ?4 ORDER BY path");
    sqlite3_bind_text(stmt, 1, "metrics", -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, "cpu", -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, before);
    sqlite3_bind_int64(stmt, 4, after);
    std::vector<IndexEntry> out;
    int rc;
    auto text = [&](int column) {
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, column)),
                         sqlite3_column_bytes(stmt, column));
    };
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      IndexEntry e;
      e.database = "metrics";
      e.table = "cpu";
      e.path = text(0);
      e.layer = text(1);
      e.size_bytes = sqlite3_column_int64(stmt, 2);
      e.row_count = sqlite3_column_int64(stmt, 3);
      e.chunk_time = sqlite3_column_int64(stmt, 4);
      e.min = nlohmann::json::parse(text(5));
      e.max = nlohmann::json::parse(text(6));
      e.min_time = sqlite3_column_int64(stmt, 7);
      e.max_time = sqlite3_column_int64(stmt, 8);
      e.writer_id = text(9);
      out.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) Die(kName, fmt::format("raw query: {}", Error()));
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  std::string Error() { return sqlite3_errmsg(db_); }
  void Exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      Die(kName, fmt::format("raw sqlite '{}': {}", sql, Error()));
    }
  }
  sqlite3_stmt* Prepare(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      Die(kName, fmt::format("raw prepare: {}", Error()));
    }
    return stmt;
  }
  sqlite3* db_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  int64_t entries_count = 100'000;
  int batch_runs = 3;
  int days = 7;
  int interval_s = 15;
  int query_day = 4;
  int runs = 20;
  shardlake::bench::CommonOptions common;
  CLI::App app{"catalog_bench: SQLite catalog batch add and time query vs memory and raw sqlite3"};
  app.add_option("--entries", entries_count, "entries added in one Batch")
      ->check(CLI::Range(int64_t{100}, int64_t{2'000'000}));
  app.add_option("--batch-runs", batch_runs, "batch runs per backend (best is reported)")
      ->check(CLI::Range(1, 10));
  app.add_option("--days", days, "days of files in the catalog for the query")
      ->check(CLI::Range(1, 31));
  app.add_option("--interval", interval_s, "seconds covered by each file")
      ->check(CLI::Range(1, 3600));
  app.add_option("--query-day", query_day, "which day (1-based) the query covers")
      ->check(CLI::Range(1, 31));
  app.add_option("--runs", runs, "query runs per backend (median is reported)")
      ->check(CLI::Range(1, 1000));
  shardlake::bench::AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);
  if (query_day > days) Die(kName, "--query-day must be <= --days");
  if (kDay % (interval_s * kSecond) != 0) Die(kName, "--interval must divide a day");

  shardlake::bench::TempDir work(kName, common.keep);
  const std::string run_id = work.path().filename().string();

  // ---- 1. Batch add -------------------------------------------------------
  std::printf("%s: batch add of %s entries, %d runs each ...\n", kName,
              Grouped(entries_count).c_str(), batch_runs);
  std::fflush(stdout);
  const std::vector<IndexEntry> batch = MakeEntries(entries_count, 15);
  std::vector<double> mem_batch, sql_batch, raw_batch;
  for (int run = 0; run < batch_runs; ++run) {
    {
      auto index = Open(fmt::format("memory://{}-batch-{}", run_id, run));
      mem_batch.push_back(SecondsOf([&] {
        auto status = index->Batch(batch, {});
        if (!status.ok()) Die(kName, fmt::format("memory Batch: {}", status.ToString()));
      }));
    }
    {
      fs::path file = work.path() / fmt::format("batch-{}.sqlite", run);
      auto index = Open("sqlite://" + file.string());
      sql_batch.push_back(SecondsOf([&] {
        auto status = index->Batch(batch, {});
        if (!status.ok()) Die(kName, fmt::format("sqlite Batch: {}", status.ToString()));
      }));
      auto back = index->Query("metrics", "cpu", {});
      if (!back.ok() || static_cast<int64_t>(back->size()) != entries_count) {
        Die(kName, fmt::format("sqlite catalog holds {} entries after the batch, expected {}",
                               back.ok() ? static_cast<int64_t>(back->size()) : -1, entries_count));
      }
    }
    {
      RawTable raw(work.path() / fmt::format("raw-{}.sqlite", run));
      raw_batch.push_back(SecondsOf([&] { raw.Insert(batch); }));
    }
    std::printf("%s: batch run %d: memory %.3f s, sqlite %.3f s, raw sqlite3 %.3f s\n", kName,
                run + 1, mem_batch.back(), sql_batch.back(), raw_batch.back());
    std::fflush(stdout);
  }

  // ---- 2. One day out of `days` days of files -----------------------------
  const int64_t per_day = kDay / (interval_s * kSecond);
  const int64_t total = per_day * days;
  std::printf("%s: time query: %s entries (%d days of %d s files), %d runs each ...\n", kName,
              Grouped(total).c_str(), days, interval_s, runs);
  std::fflush(stdout);
  const std::vector<IndexEntry> week = MakeEntries(total, interval_s);
  auto mem_index = Open(fmt::format("memory://{}-query", run_id));
  auto sql_index = Open("sqlite://" + (work.path() / "query.sqlite").string());
  RawTable raw_table(work.path() / "raw-query.sqlite");
  for (auto* index : {mem_index.get(), sql_index.get()}) {
    auto status = index->Batch(week, {});
    if (!status.ok()) Die(kName, fmt::format("{} Batch: {}", index->Describe(), status.ToString()));
  }
  raw_table.Insert(week);

  shardlake::QueryOptions options;
  options.after = kStart + (query_day - 1) * kDay;
  options.before = *options.after + kDay - 1;  // both ends inclusive: exactly that day
  auto query = [&](shardlake::Index& index) {
    auto result = index.Query("metrics", "cpu", options);
    if (!result.ok())
      Die(kName, fmt::format("{} Query: {}", index.Describe(), result.status().ToString()));
    return std::move(*result);
  };
  // Warm up, and check all three agree on the answer.
  auto expected = query(*mem_index);
  if (static_cast<int64_t>(expected.size()) != per_day) {
    Die(kName, fmt::format("memory index returned {} entries for the day, expected {}",
                           expected.size(), per_day));
  }
  if (query(*sql_index) != expected)
    Die(kName, "sqlite index returned different entries than memory");
  if (raw_table.Query(*options.after, *options.before) != expected) {
    Die(kName, "raw sqlite3 query returned different entries than memory");
  }
  std::vector<double> mem_q, sql_q, raw_q;
  size_t sink = 0;
  for (int run = 0; run < runs; ++run) {
    mem_q.push_back(SecondsOf([&] { sink += query(*mem_index).size(); }));
    sql_q.push_back(SecondsOf([&] { sink += query(*sql_index).size(); }));
    raw_q.push_back(
        SecondsOf([&] { sink += raw_table.Query(*options.after, *options.before).size(); }));
  }
  if (sink != static_cast<size_t>(3 * runs * per_day)) Die(kName, "a query returned a wrong count");

  // ---- Report --------------------------------------------------------------
  double mem_b = Min(mem_batch);
  double sql_b = Min(sql_batch);
  double raw_b = Min(raw_batch);
  auto rate = [&](double seconds) { return static_cast<int64_t>(entries_count / seconds); };
  double mem_m = Median(mem_q) * 1e3, sql_m = Median(sql_q) * 1e3, raw_m = Median(raw_q) * 1e3;
  constexpr int64_t kBatchGoal = 100'000;
  constexpr double kQueryGoalMs = 20;

  shardlake::bench::Report report;
  report.Add(
      fmt::format("catalog_bench: SQLite catalog ({} cores)", std::thread::hardware_concurrency()));
  report.Add(fmt::format(
      "batch add of {} entries in one Batch (best of {}):", Grouped(entries_count), batch_runs));
  report.Add(
      fmt::format("  {:<28}{:>10}{:>14}{:>18}", "", "seconds", "entries/s", "rate sqlite/base"));
  report.Add(fmt::format("  {:<28}{:>10.3f}{:>14}{:>18}", "sqlite catalog", sql_b,
                         Grouped(rate(sql_b)), "-"));
  report.Add(fmt::format("  {:<28}{:>10.3f}{:>14}{:>18.2f}", "memory catalog (baseline)", mem_b,
                         Grouped(rate(mem_b)), mem_b / sql_b));
  report.Add(fmt::format("  {:<28}{:>10.3f}{:>14}{:>18.2f}", "raw sqlite3 loop (baseline)", raw_b,
                         Grouped(rate(raw_b)), raw_b / sql_b));
  report.Add(fmt::format("query one day ({} entries) of {} ({} days), median of {}:",
                         Grouped(per_day), Grouped(total), days, runs));
  report.Add(
      fmt::format("  {:<28}{:>10}{:>14}{:>18}", "", "median ms", "min ms", "time sqlite/base"));
  report.Add(fmt::format("  {:<28}{:>10.2f}{:>14.2f}{:>18}", "sqlite catalog", sql_m,
                         Min(sql_q) * 1e3, "-"));
  report.Add(fmt::format("  {:<28}{:>10.2f}{:>14.2f}{:>18.2f}", "memory catalog (baseline)", mem_m,
                         Min(mem_q) * 1e3, sql_m / mem_m));
  report.Add(fmt::format("  {:<28}{:>10.2f}{:>14.2f}{:>18.2f}", "raw sqlite3 query (baseline)",
                         raw_m, Min(raw_q) * 1e3, sql_m / raw_m));
  report.Goal(fmt::format("catalog batch add >= {} entries/s", Grouped(kBatchGoal)),
              Grouped(rate(sql_b)), rate(sql_b) >= kBatchGoal);
  report.Goal(fmt::format("catalog one-day query median < {:.0f} ms", kQueryGoalMs),
              fmt::format("{:.2f} ms", sql_m), sql_m < kQueryGoalMs);
  report.Publish(kName, common.results_dir);
  return 0;
}
