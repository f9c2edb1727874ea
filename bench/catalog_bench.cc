// catalog_bench: the catalog backends side by side: SQLite, Redis, PostgreSQL.
//
// Redis and PostgreSQL run as real servers started by this program
// (RedisTestServer: `redis-server` on a free port; PostgresTestServer: initdb +
// pg_ctl in a temp dir, as the `postgres` user when run as root), stopped at
// the end. --no-redis / --no-postgres skip one; a server that cannot start is
// reported (why) and its figures are "n/a" (its goals MISS), the rest still runs.
//
// 1. Batch add: --entries entries (default 100,000) in ONE Index::Batch into a
//    fresh catalog of each backend (a fresh SQLite file, a flushed Redis DB, a
//    new PostgreSQL database with the schema initialized). Baselines in the
//    same run: the in-memory backend doing the same Batch, and a raw sqlite3
//    loop inserting the same rows into a table like the catalog's (same
//    pragmas, one transaction, one prepared statement). Alternating,
//    --batch-runs times; best of each.
//    Goals: SQLite >= 100,000, Redis >= 50,000, PostgreSQL >= 20,000 entries/s.
// 2. Time query: --days days (default 7) of 15-second files (40,320 entries);
//    Query(QueryOptions{after, before}) covering one whole day (5,760 entries)
//    on each backend (PostgreSQL ANALYZEd after the load). Baselines: the
//    in-memory backend, and a raw sqlite3 SELECT on the raw table (rows turned
//    into IndexEntry values, JSON parsed, like the catalog). Every backend must
//    return the same entries. Alternating, --runs times (default 20); medians.
//    Goals: SQLite median < 20 ms; Redis and PostgreSQL medians < 30 ms.
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench_util.h"
#include "catalog/index.h"
#include "catalog/postgres/postgres_index.h"
#include "catalog/postgres/postgres_test_server.h"
#include "catalog/redis/redis_test_server.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/uri.h"
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
// `iteration` is the merge level of the paths (".N.parquet").
std::vector<IndexEntry> MakeEntries(int64_t count, int64_t interval_s, int iteration = 1) {
  std::vector<IndexEntry> entries;
  entries.reserve(count);
  const std::string writer = shardlake::NewUuid();
  for (int64_t i = 0; i < count; ++i) {
    int64_t begin = kStart + i * interval_s * kSecond;
    int64_t end = begin + interval_s * kSecond - 1'000'000;  // last row 1 ms before the next file
    IndexEntry entry;
    entry.database = "metrics";
    entry.table = "cpu";
    entry.path = fmt::format("date={}/hour={}/{}.{}.parquet", shardlake::DateOfUnixNanos(begin),
                             shardlake::HourOfUnixNanos(begin), shardlake::NewUuid(), iteration);
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

// Opens `uri`; remote backends behind the catalog cache only when `cache`.
std::unique_ptr<shardlake::Index> Open(const std::string& uri, bool cache = false) {
  shardlake::IndexOptions options;
  options.cache = cache;
  auto index = shardlake::OpenIndex(uri, options);
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

// ---- Redis and PostgreSQL servers -------------------------------------------

// The servers of this run. At namespace scope so that they are stopped also
// when the benchmark dies (Die() calls std::exit, which runs their
// destructors); main() stops them itself at the end.
std::unique_ptr<shardlake::redis::RedisTestServer> g_redis;
std::unique_ptr<shardlake::PostgresTestServer> g_postgres;
// Their pids, for the SIGINT / SIGTERM handler (a timeout, ^C).
volatile std::sig_atomic_t g_redis_pid = 0;
volatile std::sig_atomic_t g_postmaster_pid = 0;

void StopServersAndDie(int sig) {
  if (g_redis_pid > 0) ::kill(g_redis_pid, SIGTERM);
  if (g_postmaster_pid > 0) ::kill(g_postmaster_pid, SIGINT);  // PostgreSQL "fast" shutdown
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void StopServers() {
  g_redis_pid = 0;
  g_postmaster_pid = 0;
  g_redis.reset();
  g_postgres.reset();
}

constexpr int kRedisBatchDb = 1;
constexpr int kRedisQueryDb = 2;

absl::Status StartRedis() {
  ASSIGN_OR_RETURN(g_redis, shardlake::redis::RedisTestServer::Start({}));
  ASSIGN_OR_RETURN(shardlake::redis::Reply info, g_redis->Command(0, {"INFO", "server"}));
  const size_t at = info.str.find("process_id:");
  if (at != std::string::npos) g_redis_pid = std::atoi(info.str.c_str() + at + 11);
  return absl::OkStatus();
}

absl::Status StartPostgres() {
  g_postgres = std::make_unique<shardlake::PostgresTestServer>();
  RETURN_IF_ERROR(g_postgres->Start());
  g_postmaster_pid = g_postgres->postmaster_pid();
  return absl::OkStatus();
}

// A new PostgreSQL database with the catalog schema; returns its URI.
absl::StatusOr<std::string> FreshPostgresCatalog(std::string* database) {
  ASSIGN_OR_RETURN(*database, g_postgres->FreshDatabase("bench"));
  std::string uri_text = g_postgres->UriFor(*database);
  ASSIGN_OR_RETURN(shardlake::Uri uri, shardlake::ParseUri(uri_text));
  RETURN_IF_ERROR(shardlake::InitPostgresCatalog(uri).status());
  return uri_text;
}

// A backend served by a server of its own: its timings, or why it has none.
struct Remote {
  std::string name;
  std::string unavailable;  // non-empty: not measured, and why
  std::vector<double> batch;
  std::vector<double> query;
  std::vector<double> cached_answer;   // the same query again, table unchanged
  std::vector<double> cached_entries;  // after a change elsewhere: entries from the cache
  std::unique_ptr<shardlake::Index> query_index;
  std::unique_ptr<shardlake::Index> cached_index;  // the same catalog behind the cache
  bool on() const { return unavailable.empty(); }
};

// The first line of `text` (server errors carry whole logs).
std::string FirstLine(std::string_view text) {
  return std::string(text.substr(0, text.find('\n')));
}

void CheckCount(shardlake::Index& index, int64_t expected) {
  auto back = index.Query("metrics", "cpu", {});
  if (!back.ok() || static_cast<int64_t>(back->size()) != expected) {
    Die(kName, fmt::format("{} holds {} entries after the batch, expected {}", index.Describe(),
                           back.ok() ? static_cast<int64_t>(back->size()) : -1, expected));
  }
}

void MustBatch(shardlake::Index& index, const std::vector<IndexEntry>& entries) {
  auto status = index.Batch(entries, {});
  if (!status.ok()) Die(kName, fmt::format("{} Batch: {}", index.Describe(), status.ToString()));
}

}  // namespace

int main(int argc, char** argv) {
  int64_t entries_count = 100'000;
  int batch_runs = 3;
  int days = 7;
  int interval_s = 15;
  int query_day = 4;
  int runs = 20;
  bool no_redis = false;
  bool no_postgres = false;
  shardlake::bench::CommonOptions common;
  CLI::App app{
      "catalog_bench: catalog batch add and time query, SQLite vs Redis vs PostgreSQL "
      "(baselines: memory, raw sqlite3)"};
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
  app.add_flag("--no-redis", no_redis, "skip the Redis backend (no redis-server is started)");
  app.add_flag("--no-postgres", no_postgres,
               "skip the PostgreSQL backend (no PostgreSQL server is started)");
  shardlake::bench::AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);
  if (query_day > days) Die(kName, "--query-day must be <= --days");
  if (kDay % (interval_s * kSecond) != 0) Die(kName, "--interval must divide a day");

  shardlake::bench::TempDir work(kName, common.keep);
  const std::string run_id = work.path().filename().string();

  // ---- 0. Servers ----------------------------------------------------------
  std::signal(SIGINT, StopServersAndDie);
  std::signal(SIGTERM, StopServersAndDie);
  Remote redis, postgres;
  redis.name = "redis";
  postgres.name = "postgresql";
  auto start_server = [&](Remote& remote, bool skip, const char* flag, absl::Status (*start)()) {
    if (skip) {
      remote.unavailable = fmt::format("skipped ({})", flag);
      return;
    }
    std::printf("%s: starting a %s server ...\n", kName, remote.name.c_str());
    std::fflush(stdout);
    absl::Status status = start();
    if (!status.ok()) {
      remote.unavailable = "server did not start: " + FirstLine(status.ToString());
      std::fprintf(stderr, "%s: %s server did not start, its figures are n/a: %s\n", kName,
                   remote.name.c_str(), status.ToString().c_str());
    }
  };
  start_server(redis, no_redis, "--no-redis", StartRedis);
  start_server(postgres, no_postgres, "--no-postgres", StartPostgres);
  if (!redis.on()) g_redis.reset();
  if (!postgres.on()) g_postgres.reset();

  // ---- 1. Batch add -------------------------------------------------------
  std::printf("%s: batch add of %s entries, %d runs each ...\n", kName,
              Grouped(entries_count).c_str(), batch_runs);
  std::fflush(stdout);
  const std::vector<IndexEntry> batch = MakeEntries(entries_count, 15);
  std::vector<double> mem_batch, sql_batch, raw_batch;
  for (int run = 0; run < batch_runs; ++run) {
    {
      auto index = Open(fmt::format("memory://{}-batch-{}", run_id, run));
      mem_batch.push_back(SecondsOf([&] { MustBatch(*index, batch); }));
    }
    {
      fs::path file = work.path() / fmt::format("batch-{}.sqlite", run);
      auto index = Open("sqlite://" + file.string());
      sql_batch.push_back(SecondsOf([&] { MustBatch(*index, batch); }));
      CheckCount(*index, entries_count);
    }
    {
      RawTable raw(work.path() / fmt::format("raw-{}.sqlite", run));
      raw_batch.push_back(SecondsOf([&] { raw.Insert(batch); }));
    }
    std::string remote_times;
    if (redis.on()) {
      auto flushed = g_redis->Command(kRedisBatchDb, {"FLUSHDB"});
      if (!flushed.ok()) Die(kName, fmt::format("redis FLUSHDB: {}", flushed.status().ToString()));
      auto index = Open(g_redis->Uri(kRedisBatchDb));
      redis.batch.push_back(SecondsOf([&] { MustBatch(*index, batch); }));
      CheckCount(*index, entries_count);
      remote_times += fmt::format(", redis {:.3f} s", redis.batch.back());
    }
    if (postgres.on()) {
      std::string database;
      auto uri = FreshPostgresCatalog(&database);
      if (!uri.ok()) Die(kName, fmt::format("postgresql catalog: {}", uri.status().ToString()));
      {
        auto index = Open(*uri);
        postgres.batch.push_back(SecondsOf([&] { MustBatch(*index, batch); }));
        CheckCount(*index, entries_count);
      }
      (void)g_postgres->Sql(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", database));
      remote_times += fmt::format(", postgresql {:.3f} s", postgres.batch.back());
    }
    std::printf("%s: batch run %d: memory %.3f s, sqlite %.3f s, raw sqlite3 %.3f s%s\n", kName,
                run + 1, mem_batch.back(), sql_batch.back(), raw_batch.back(),
                remote_times.c_str());
    std::fflush(stdout);
  }

  // ---- 2. One day out of `days` days of files -----------------------------
  const int64_t per_day = kDay / (interval_s * kSecond);
  const int64_t total = per_day * days;
  std::printf("%s: time query: %s entries (%d days of %d s files), %d runs each ...\n", kName,
              Grouped(total).c_str(), days, interval_s, runs);
  std::fflush(stdout);
  // Fully merged files (iteration 5, past the 4 default merge levels), as a
  // day of history is: the catalog cache keeps their entries.
  const std::vector<IndexEntry> week = MakeEntries(total, interval_s, 5);
  auto mem_index = Open(fmt::format("memory://{}-query", run_id));
  auto sql_index = Open("sqlite://" + (work.path() / "query.sqlite").string());
  RawTable raw_table(work.path() / "raw-query.sqlite");
  MustBatch(*mem_index, week);
  MustBatch(*sql_index, week);
  raw_table.Insert(week);
  if (redis.on()) {
    auto flushed = g_redis->Command(kRedisQueryDb, {"FLUSHDB"});
    if (!flushed.ok()) Die(kName, fmt::format("redis FLUSHDB: {}", flushed.status().ToString()));
    redis.query_index = Open(g_redis->Uri(kRedisQueryDb));
    redis.cached_index = Open(g_redis->Uri(kRedisQueryDb), /*cache=*/true);
    MustBatch(*redis.query_index, week);
  }
  if (postgres.on()) {
    std::string database;
    auto uri = FreshPostgresCatalog(&database);
    if (!uri.ok()) Die(kName, fmt::format("postgresql catalog: {}", uri.status().ToString()));
    postgres.query_index = Open(*uri);
    postgres.cached_index = Open(*uri, /*cache=*/true);
    MustBatch(*postgres.query_index, week);
    // As autovacuum would, so that the planner knows the table's size.
    auto analyzed = g_postgres->Sql("ANALYZE", database);
    if (!analyzed.ok()) Die(kName, fmt::format("ANALYZE: {}", analyzed.status().ToString()));
  }

  shardlake::QueryOptions options;
  options.after = kStart + (query_day - 1) * kDay;
  options.before = *options.after + kDay - 1;  // both ends inclusive: exactly that day
  auto query = [&](shardlake::Index& index) {
    auto result = index.Query("metrics", "cpu", options);
    if (!result.ok())
      Die(kName, fmt::format("{} Query: {}", index.Describe(), result.status().ToString()));
    return std::move(*result);
  };
  // Warm up, and check all backends agree on the answer.
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
  for (Remote* remote : {&redis, &postgres}) {
    if (remote->on() &&
        (query(*remote->query_index) != expected || query(*remote->cached_index) != expected)) {
      Die(kName, fmt::format("{} index returned different entries than memory", remote->name));
    }
  }
  std::vector<double> mem_q, sql_q, raw_q;
  size_t sink = 0;
  size_t queries = 0;
  for (int run = 0; run < runs; ++run) {
    mem_q.push_back(SecondsOf([&] { sink += query(*mem_index).size(); }));
    sql_q.push_back(SecondsOf([&] { sink += query(*sql_index).size(); }));
    raw_q.push_back(
        SecondsOf([&] { sink += raw_table.Query(*options.after, *options.before).size(); }));
    queries += 3;
    for (Remote* remote : {&redis, &postgres}) {
      if (!remote->on()) continue;
      remote->query.push_back(SecondsOf([&] { sink += query(*remote->query_index).size(); }));
      // A change to the table outside the queried day (through the uncached
      // handle, as another process would) makes the cached answer stale.
      IndexEntry outside = week.back();
      outside.path = fmt::format("date=2099-01-01/hour=00/bump-{}.1.parquet", run);
      MustBatch(*remote->query_index, {outside});
      remote->cached_entries.push_back(
          SecondsOf([&] { sink += query(*remote->cached_index).size(); }));
      remote->cached_answer.push_back(
          SecondsOf([&] { sink += query(*remote->cached_index).size(); }));
      queries += 3;
    }
  }
  if (sink != queries * static_cast<size_t>(per_day)) Die(kName, "a query returned a wrong count");

  // The indexes first (they hold connections), then the servers.
  redis.query_index.reset();
  redis.cached_index.reset();
  postgres.query_index.reset();
  postgres.cached_index.reset();
  StopServers();

  // ---- Report --------------------------------------------------------------
  auto rate = [&](double seconds) { return static_cast<int64_t>(entries_count / seconds); };
  const double sql_b = Min(sql_batch);
  const double sql_m = Median(sql_q) * 1e3;
  constexpr int64_t kSqliteBatchGoal = 100'000;
  constexpr int64_t kRedisBatchGoal = 50'000;
  constexpr int64_t kPostgresBatchGoal = 20'000;
  constexpr double kSqliteQueryGoalMs = 20;
  constexpr double kRemoteQueryGoalMs = 30;

  shardlake::bench::Report report;
  report.Add(fmt::format("catalog_bench: catalog backends side by side ({} cores)",
                         std::thread::hardware_concurrency()));
  report.Add(fmt::format(
      "batch add: {} entries in one Batch (best of {}); query: one day ({} entries) of {} "
      "({} days), median of {}",
      Grouped(entries_count), batch_runs, Grouped(per_day), Grouped(total), days, runs));
  report.Add(fmt::format("  {:<26}{:>9}{:>12}{:>10}{:>11}{:>9}{:>10}", "backend", "batch s",
                         "entries/s", "x sqlite", "query ms", "min ms", "x sqlite"));
  auto row = [&](const std::string& name, const std::vector<double>& b,
                 const std::vector<double>& q) {
    const double best = Min(b), median = Median(q) * 1e3;
    report.Add(fmt::format("  {:<26}{:>9.3f}{:>12}{:>10.2f}{:>11.2f}{:>9.2f}{:>10.2f}", name, best,
                           Grouped(rate(best)), sql_b / best, median, Min(q) * 1e3,
                           median / sql_m));
  };
  row("sqlite", sql_batch, sql_q);
  for (const Remote* remote : {&redis, &postgres}) {
    if (remote->on()) {
      row(remote->name, remote->batch, remote->query);
    } else {
      report.Add(fmt::format("  {:<26}{:>9}{:>12}{:>10}{:>11}{:>9}{:>10}", remote->name, "n/a",
                             "n/a", "n/a", "n/a", "n/a", "n/a"));
    }
  }
  for (const Remote* remote : {&redis, &postgres}) {
    if (!remote->on()) continue;
    const double uncached = Median(remote->query);
    for (const auto& [label, q] : {std::pair{"cached, entries", &remote->cached_entries},
                                   std::pair{"cached, answer", &remote->cached_answer}}) {
      report.Add(fmt::format("  {:<26}{:>9}{:>12}{:>10}{:>11.2f}{:>9.2f}{:>10.2f}",
                             fmt::format("{} {}", remote->name, label), "", "", "",
                             Median(*q) * 1e3, Min(*q) * 1e3, Median(*q) * 1e3 / sql_m));
    }
    report.Add(fmt::format(
        "  {} cached vs uncached: {:.1f}x (answer remembered), {:.1f}x (table changed, entries "
        "cached)",
        remote->name, uncached / Median(remote->cached_answer),
        uncached / Median(remote->cached_entries)));
  }
  row("memory (baseline)", mem_batch, mem_q);
  row("raw sqlite3 (baseline)", raw_batch, raw_q);
  report.Add(
      "  (x sqlite: batch entries/s and query time relative to the sqlite catalog's; "
      "raw sqlite3: one prepared INSERT loop / SELECT)");
  for (const Remote* remote : {&redis, &postgres}) {
    if (!remote->on()) report.Add(fmt::format("  {}: n/a: {}", remote->name, remote->unavailable));
  }

  auto batch_goal = [&](const std::string& name, const std::vector<double>& b, bool on,
                        int64_t goal) {
    const std::string what = fmt::format("{} batch add >= {} entries/s", name, Grouped(goal));
    if (!on) return report.Goal(what, "n/a", false);
    const int64_t measured = rate(Min(b));
    report.Goal(what, Grouped(measured), measured >= goal);
  };
  auto query_goal = [&](const std::string& name, const std::vector<double>& q, bool on,
                        double goal_ms) {
    const std::string what = fmt::format("{} one-day query median < {:.0f} ms", name, goal_ms);
    if (!on) return report.Goal(what, "n/a", false);
    const double median = Median(q) * 1e3;
    report.Goal(what, fmt::format("{:.2f} ms", median), median < goal_ms);
  };
  batch_goal("sqlite", sql_batch, true, kSqliteBatchGoal);
  batch_goal("redis", redis.batch, redis.on(), kRedisBatchGoal);
  batch_goal("postgresql", postgres.batch, postgres.on(), kPostgresBatchGoal);
  query_goal("sqlite", sql_q, true, kSqliteQueryGoalMs);
  query_goal("redis", redis.query, redis.on(), kRemoteQueryGoalMs);
  query_goal("postgresql", postgres.query, postgres.on(), kRemoteQueryGoalMs);
  for (const Remote* remote : {&redis, &postgres}) {
    const std::string what = fmt::format("{} cached one-day query >= 10x faster", remote->name);
    if (!remote->on()) {
      report.Goal(what, "n/a", false);
      continue;
    }
    const double ratio = Median(remote->query) / Median(remote->cached_answer);
    report.Goal(what, fmt::format("{:.1f}x", ratio), ratio >= 10);
  }
  report.Publish(kName, common.results_dir);
  return 0;
}
