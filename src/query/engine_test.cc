#include "query/engine.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "catalog/memory_index.h"
#include "common/ids.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;
using RowList = CollectingSink::RowList;

// An index whose Batch always fails, to prove a failed registration leaves
// nothing behind in the store.
class FailingBatchIndex : public Index {
 public:
  explicit FailingBatchIndex(std::unique_ptr<Index> inner) : inner_(std::move(inner)) {}
  std::string Describe() const override { return "failing"; }
  absl::Status Batch(const std::vector<IndexEntry>&, const std::vector<IndexEntry>&) override {
    return absl::UnavailableError("injected batch failure");
  }
  absl::StatusOr<IndexEntry> Get(const std::string& d, const std::string& t,
                                 const std::string& p) override {
    return inner_->Get(d, t, p);
  }
  absl::StatusOr<std::vector<IndexEntry>> Query(const std::string& d, const std::string& t,
                                                const QueryOptions& o) override {
    return inner_->Query(d, t, o);
  }
  absl::StatusOr<std::vector<std::string>> ListDatabases() override {
    return inner_->ListDatabases();
  }
  absl::StatusOr<std::vector<std::string>> ListTables(const std::string& d) override {
    return inner_->ListTables(d);
  }
  absl::StatusOr<std::vector<std::string>> ListFolders(const std::string& d,
                                                       const std::string& t) override {
    return inner_->ListFolders(d, t);
  }
  absl::Status CreateTable(const TableSchema& s) override { return inner_->CreateTable(s); }
  absl::StatusOr<TableSchema> GetTable(const std::string& d, const std::string& t) override {
    return inner_->GetTable(d, t);
  }
  absl::StatusOr<std::vector<IndexEntry>> DropTable(const std::string& d,
                                                    const std::string& t) override {
    return inner_->DropTable(d, t);
  }
  absl::StatusOr<std::optional<MergePlan>> LeaseMergePlan(const std::string& d,
                                                          const std::string& t,
                                                          const LeaseRequest& r) override {
    return inner_->LeaseMergePlan(d, t, r);
  }
  absl::Status CompleteMerge(const MergePlan& p, const IndexEntry& m, int64_t now,
                             int64_t due) override {
    return inner_->CompleteMerge(p, m, now, due);
  }
  absl::Status AbandonMerge(const MergePlan& p) override { return inner_->AbandonMerge(p); }
  absl::StatusOr<std::vector<DropItem>> DueDrops(const std::string& d, const std::string& t,
                                                 int64_t now, size_t limit) override {
    return inner_->DueDrops(d, t, now, limit);
  }
  absl::Status ForgetDrops(const std::vector<DropItem>& items) override {
    return inner_->ForgetDrops(items);
  }

 private:
  std::unique_ptr<Index> inner_;
};

class EngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("shardlake-engine-" + NewUuid());
    fs::create_directories(dir_);
    ASSERT_TRUE(Open(false).ok());
  }
  void TearDown() override {
    engine_.reset();
    fs::remove_all(dir_);
  }

  absl::Status Open(bool failing_batches) {
    engine_.reset();
    std::string catalog = GetParam() == "sqlite" ? "sqlite://" + (dir_ / "catalog.sqlite").string()
                                                 : "memory://engine-" + dir_.filename().string();
    auto index = OpenIndex(catalog);
    if (!index.ok()) return index.status();
    std::unique_ptr<Index> chosen = std::move(*index);
    if (failing_batches) chosen = std::make_unique<FailingBatchIndex>(std::move(chosen));
    auto store = OpenObjectStore("file://" + (dir_ / "lake").string());
    if (!store.ok()) return store.status();
    EngineOptions options;
    options.staging_dir = (dir_ / "staging").string();
    options.duckdb_options["threads"] = "2";
    options.count_total_files = true;
    auto engine = Engine::Open(std::move(chosen), std::move(*store), options);
    if (!engine.ok()) return engine.status();
    engine_ = std::move(*engine);
    return absl::OkStatus();
  }

  absl::StatusOr<StatementOutcome> Run(const std::string& sql) {
    return engine_->Execute(sql, sink_);
  }

  // Runs a query and returns its rows; fails the test on error.
  RowList Query(const std::string& sql, StatementOutcome* outcome = nullptr) {
    auto result = Run(sql);
    EXPECT_TRUE(result.ok()) << sql << ": " << result.status();
    if (outcome != nullptr && result.ok()) *outcome = *result;
    return sink_.rows();
  }

  std::string Scalar(const std::string& sql) {
    RowList rows = Query(sql);
    if (rows.empty() || rows[0].empty() || !rows[0][0]) return "<null>";
    return *rows[0][0];
  }

  std::string WriteFile(const std::string& name, const std::string& contents) {
    fs::path path = dir_ / name;
    std::ofstream(path) << contents;
    return path.string();
  }

  size_t StoredParquetFiles() {
    size_t count = 0;
    if (!fs::exists(dir_ / "lake")) return 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir_ / "lake")) {
      if (entry.is_regular_file() && entry.path().extension() == ".parquet") ++count;
    }
    return count;
  }

  fs::path dir_;
  std::unique_ptr<Engine> engine_;
  CollectingSink sink_;
};

TEST_P(EngineTest, CreateInsertSelectRoundTripsEveryType) {
  ASSERT_TRUE(Run("CREATE TABLE t.all_types (time TIMESTAMP_NS, i BIGINT, small SMALLINT, "
                  "d DOUBLE, dec DECIMAL(18,3), s VARCHAR, b BOOLEAN, day DATE, ts TIMESTAMP)")
                  .ok());
  auto inserted =
      Run("INSERT INTO t.all_types VALUES "
          "('2026-01-01 00:00:00.000000001', 9223372036854775807, -3, 1.5, 12345.678, 'héllo', "
          "true, DATE '2026-02-03', TIMESTAMP '2026-01-01 10:00:00.123456'), "
          "('2026-01-02 23:59:59.999999999', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  EXPECT_EQ(inserted->rows, 2);
  RowList rows = Query("SELECT * FROM t.all_types ORDER BY time");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(sink_.columns(),
            (std::vector<std::string>{"time", "i", "small", "d", "dec", "s", "b", "day", "ts"}));
  EXPECT_EQ(rows[0][0], "2026-01-01 00:00:00.000000001");
  EXPECT_EQ(rows[0][1], "9223372036854775807");
  EXPECT_EQ(rows[0][2], "-3");
  EXPECT_EQ(rows[0][3], "1.5");
  EXPECT_EQ(rows[0][4], "12345.678");
  EXPECT_EQ(rows[0][5], "héllo");
  EXPECT_EQ(rows[0][6], "true");
  EXPECT_EQ(rows[0][7], "2026-02-03");
  EXPECT_EQ(rows[0][8], "2026-01-01 10:00:00.123456");
  EXPECT_EQ(rows[1][0], "2026-01-02 23:59:59.999999999");
  for (size_t col = 1; col < rows[1].size(); ++col) EXPECT_FALSE(rows[1][col].has_value());
  // Two rows in two different hours: two files in two hour folders.
  auto folders = engine_->index().ListFolders("t", "all_types");
  ASSERT_TRUE(folders.ok());
  EXPECT_EQ(*folders,
            (std::vector<std::string>{"date=2026-01-01/hour=00", "date=2026-01-02/hour=23"}));
}

TEST_P(EngineTest, InsertNowIntoNanosecondColumn) {
  ASSERT_TRUE(Run("CREATE TABLE metrics.cpu (time TIMESTAMP_NS, host VARCHAR, usage DOUBLE)").ok());
  auto inserted = Run("INSERT INTO metrics.cpu VALUES (now(), 'a', 0.5)");
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  EXPECT_EQ(Scalar("SELECT count(*) FROM metrics.cpu WHERE time > '2000-01-01'"), "1");
  // INSERT ... SELECT from the table itself reads the files that existed before.
  ASSERT_TRUE(Run("INSERT INTO metrics.cpu SELECT * FROM metrics.cpu").ok());
  ASSERT_TRUE(Run("INSERT INTO metrics.cpu (host, time) SELECT host, time FROM metrics.cpu").ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM metrics.cpu"), "4");
  EXPECT_EQ(Scalar("SELECT count(*) FROM metrics.cpu WHERE usage IS NULL"), "2");
}

TEST_P(EngineTest, TimePruningSkipsFilesAndKeepsResults) {
  ASSERT_TRUE(Run("CREATE TABLE m.t (time TIMESTAMP, v INTEGER)").ok());
  // 48 hours, one file per hour.
  ASSERT_TRUE(Run("INSERT INTO m.t SELECT TIMESTAMP '2026-03-01' + INTERVAL (i) MINUTE, i "
                  "FROM range(48 * 60) r(i)")
                  .ok());
  StatementOutcome outcome;
  RowList pruned = Query(
      "SELECT count(*), sum(v) FROM m.t WHERE time >= '2026-03-01 10:00' AND time < "
      "'2026-03-01 12:00'",
      &outcome);
  ASSERT_EQ(outcome.scans.size(), 1u);
  EXPECT_EQ(outcome.scans[0].files_total, 48);
  // Hours 10 and 11; the 12:00 file starts exactly at the strict bound.
  EXPECT_EQ(outcome.scans[0].files_scanned, 2);
  EXPECT_EQ(pruned[0][0], "120");
  // The same filter in a form the pruner cannot read scans everything.
  StatementOutcome full;
  RowList unpruned = Query(
      "SELECT count(*), sum(v) FROM m.t WHERE time + INTERVAL 0 SECOND >= '2026-03-01 10:00' "
      "AND time + INTERVAL 0 SECOND < '2026-03-01 12:00'",
      &full);
  EXPECT_EQ(full.scans[0].files_scanned, 48);
  EXPECT_EQ(pruned, unpruned);
}

TEST_P(EngineTest, EachReferenceIsPrunedOnItsOwn) {
  ASSERT_TRUE(Run("CREATE TABLE m.t (time TIMESTAMP, v INTEGER)").ok());
  ASSERT_TRUE(Run("INSERT INTO m.t SELECT TIMESTAMP '2026-03-01' + INTERVAL (i) MINUTE, i "
                  "FROM range(24 * 60) r(i)")
                  .ok());
  // This hour against the same hour a day... here: hour 3 against hour 20.
  std::string where =
      "a.time >= '2026-03-01 03:00' AND a.time < '2026-03-01 04:00' AND b.time >= "
      "'2026-03-01 20:00' AND b.time < '2026-03-01 21:00'";
  StatementOutcome outcome;
  RowList pruned = Query(
      "SELECT count(*), sum(a.v - b.v) FROM m.t a JOIN m.t b ON minute(a.time) = minute(b.time) "
      "WHERE " +
          where,
      &outcome);
  ASSERT_EQ(outcome.scans.size(), 1u);
  EXPECT_LE(outcome.scans[0].files_scanned, 4);  // each side: its hour and a boundary file
  RowList full = Query(
      "SELECT count(*), sum(a.v - b.v) FROM m.t a JOIN m.t b ON minute(a.time) = minute(b.time) "
      "WHERE (" +
      where + ") OR (a.v IS NULL AND false)");
  EXPECT_EQ(pruned, full);
  EXPECT_EQ(pruned[0][0], "60");
  EXPECT_EQ(pruned[0][1], "-61200");
  // Scalar subqueries over the same table each keep their own window.
  Query(
      "SELECT (SELECT count(*) FROM m.t WHERE time < '2026-03-01 01:00'), count(*) FROM m.t "
      "WHERE time >= '2026-03-01 23:00'",
      &outcome);
  EXPECT_LE(outcome.scans[0].files_scanned, 3);
  EXPECT_EQ(sink_.rows()[0][0], "60");
  EXPECT_EQ(sink_.rows()[0][1], "60");
}

TEST_P(EngineTest, TimesBefore1970LandInTheirHour) {
  ASSERT_TRUE(Run("CREATE TABLE m.old (time TIMESTAMP_NS, v INTEGER)").ok());
  ASSERT_TRUE(Run("INSERT INTO m.old VALUES ('1969-12-31 23:59:59.999999999', 1), "
                  "('1969-12-31 23:00:00', 2), ('1969-12-31 22:59:59.999999999', 3), "
                  "('1970-01-01 00:00:00', 4)")
                  .ok());
  auto folders = engine_->index().ListFolders("m", "old");
  ASSERT_TRUE(folders.ok());
  EXPECT_EQ(*folders,
            (std::vector<std::string>{"date=1969-12-31/hour=22", "date=1969-12-31/hour=23",
                                      "date=1970-01-01/hour=00"}));
  EXPECT_EQ(Scalar("SELECT sum(v) FROM m.old WHERE time >= '1969-12-31 23:00'"), "7");
}

TEST_P(EngineTest, NoMatchingFileGivesEmptyResultWithColumns) {
  ASSERT_TRUE(Run("CREATE TABLE m.t (time TIMESTAMP_NS, host VARCHAR, usage DOUBLE)").ok());
  ASSERT_TRUE(Run("INSERT INTO m.t VALUES ('2026-01-01 00:00:00', 'a', 1)").ok());
  StatementOutcome outcome;
  RowList rows = Query("SELECT host, usage * 2 AS u FROM m.t WHERE time > '2030-01-01'", &outcome);
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(sink_.columns(), (std::vector<std::string>{"host", "u"}));
  EXPECT_EQ(outcome.scans[0].files_scanned, 0);
  // An empty table behaves the same, including aggregates.
  ASSERT_TRUE(Run("CREATE TABLE m.empty (time TIMESTAMP, x INTEGER)").ok());
  EXPECT_EQ(Query("SELECT count(*), sum(x) FROM m.empty").size(), 1u);
  EXPECT_EQ(Scalar("SELECT count(*) FROM m.empty"), "0");
}

// Random predicates over every statistics domain: the pruned answer must
// always equal the answer computed over all files.
TEST_P(EngineTest, RandomPredicatesNeverChangeAnswers) {
  ASSERT_TRUE(Run("CREATE TABLE r.t (time TIMESTAMP_NS, i INTEGER, d DOUBLE, s VARCHAR, "
                  "day DATE, ts TIMESTAMP, f FLOAT, dec DECIMAL(10,2))")
                  .ok());
  ASSERT_TRUE(Run("INSERT INTO r.t SELECT TIMESTAMP_NS '2026-05-01' + INTERVAL (i * 7) MINUTE, "
                  "(i * 37) % 1000 - 500, (i % 97) * 1.25, 'k' || lpad(((i * 13) % 200)::VARCHAR, "
                  "3, '0'), DATE '2026-05-01' + (i % 9)::INTEGER, TIMESTAMP '2026-05-01' + "
                  "INTERVAL (i) SECOND, (i % 50) / 10.0, (i % 300) / 4.0 FROM range(2000) r(i)")
                  .ok());
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const char* ops[] = {"=", "<", "<=", ">", ">="};
  for (int iteration = 0; iteration < 60; ++iteration) {
    std::string column, value;
    switch (pick(8)) {
      case 0:
        column = "time";
        value = fmt::format("'2026-05-0{} {:02d}:{:02d}:00'", 1 + pick(9), pick(24), 7 * pick(9));
        break;
      case 1:
        column = "i";
        value = std::to_string(pick(1100) - 550);
        break;
      case 2:
        column = "d";
        value = fmt::format("{}", pick(130) * 0.625);
        break;
      case 3:
        column = "s";
        value = fmt::format("'k{:03d}'", pick(210));
        break;
      case 4:
        column = "day";
        value = fmt::format("'2026-05-{:02d}'", 1 + pick(10));
        break;
      case 5:
        column = "ts";
        value = fmt::format("TIMESTAMP '2026-05-01 00:{:02d}:{:02d}.5'", pick(34), pick(60));
        break;
      case 6:
        column = "f";
        value = fmt::format("{}", pick(60) / 10.0);
        break;
      default:
        column = "dec";
        value = fmt::format("{}", pick(80) * 0.25);
        break;
    }
    std::string predicate = fmt::format("{} {} {}", column, ops[pick(5)], value);
    if (pick(4) == 0) predicate = fmt::format("{} BETWEEN {} AND {}", column, value, value);
    std::string pruned_sql = "SELECT count(*), sum(i) FROM r.t WHERE " + predicate;
    // `OR false` on a column-free branch keeps semantics but hides the predicate
    // from the pruner (it only reads top-level conjuncts).
    std::string full_sql =
        "SELECT count(*), sum(i) FROM r.t WHERE (" + predicate + ") OR (i IS NULL AND false)";
    StatementOutcome outcome;
    RowList pruned = Query(pruned_sql, &outcome);
    RowList full = Query(full_sql);
    EXPECT_EQ(pruned, full) << predicate;
  }
}

TEST_P(EngineTest, ColumnStatisticsPruneNonTimeColumns) {
  ASSERT_TRUE(Run("CREATE TABLE m.t (time TIMESTAMP, host VARCHAR, v INTEGER)").ok());
  for (int hour = 0; hour < 4; ++hour) {
    ASSERT_TRUE(Run(fmt::format("INSERT INTO m.t SELECT TIMESTAMP '2026-01-01 {:02d}:00:00' + "
                                "INTERVAL (i) SECOND, 'h{}', {} + i FROM range(10) r(i)",
                                hour, hour, hour * 100))
                    .ok());
  }
  StatementOutcome outcome;
  EXPECT_EQ(Query("SELECT count(*) FROM m.t WHERE host = 'h2'", &outcome)[0][0], "10");
  EXPECT_EQ(outcome.scans[0].files_scanned, 1);
  EXPECT_EQ(outcome.scans[0].pruned_by_stats, 3);
  EXPECT_EQ(Query("SELECT count(*) FROM m.t WHERE v BETWEEN 105 AND 205", &outcome)[0][0], "11");
  EXPECT_EQ(outcome.scans[0].files_scanned, 2);
  EXPECT_EQ(Query("SELECT count(*) FROM m.t WHERE host IN ('h0', 'h3')", &outcome)[0][0], "20");
  // A subquery's WHERE prunes its own reference only.
  EXPECT_EQ(Scalar("SELECT count(*) FROM m.t WHERE v > (SELECT max(v) FROM m.t WHERE host = 'h0')"),
            "30");
}

TEST_P(EngineTest, LoadsCsvParquetAndNdjson) {
  ASSERT_TRUE(Run("CREATE TABLE m.t (time TIMESTAMP_NS, host VARCHAR, usage DOUBLE)").ok());
  std::string csv = WriteFile("a.csv",
                              "host,time,usage\n"  // header order differs from the table
                              "a,2026-01-01 00:00:00,0.5\n"
                              "\"b,c\",2026-01-01 01:30:00,1.5\n");
  auto loaded = engine_->LoadFile("m.t", csv);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->rows, 2);
  EXPECT_EQ(loaded->files, 2);
  std::string json = WriteFile("b.jsonl",
                               "{\"time\":\"2026-01-02 00:00:00\",\"host\":\"j\",\"usage\":2}\n"
                               "{\"time\":\"2026-01-02 00:00:01\",\"host\":\"k\"}\n");
  ASSERT_TRUE(engine_->LoadFile("m.t", json).ok());
  // Parquet: write one with DuckDB through the engine's session.
  fs::path parquet = dir_ / "c.parquet";
  ASSERT_TRUE(Run(fmt::format("SELECT 1")).ok());
  {
    auto db = duck::Database::Open("");
    auto conn = duck::Connection::Open(**db);
    ASSERT_TRUE((*conn)
                    ->Execute(fmt::format("COPY (SELECT TIMESTAMP '2026-01-03' AS time, 'p' AS "
                                          "host, 3.0 AS usage) TO '{}'",
                                          parquet.string()))
                    .ok());
  }
  ASSERT_TRUE(engine_->LoadFile("m.t", parquet.string()).ok());
  EXPECT_EQ(Scalar("SELECT string_agg(host, '|' ORDER BY time) FROM m.t"), "a|b,c|j|k|p");
  EXPECT_EQ(Scalar("SELECT count(*) FROM m.t WHERE usage IS NULL"), "1");
}

TEST_P(EngineTest, BadCsvRegistersNothing) {
  ASSERT_TRUE(Run("CREATE TABLE m.t (time TIMESTAMP_NS, host VARCHAR, usage DOUBLE)").ok());
  std::string bad_value = WriteFile("bad.csv",
                                    "time,host,usage\n"
                                    "2026-01-01 00:00:00,a,0.5\n"
                                    "2026-01-01 01:00:00,b,not-a-number\n");
  auto result = engine_->LoadFile("m.t", bad_value);
  ASSERT_FALSE(result.ok());
  std::string message(result.status().message());
  EXPECT_NE(message.find("bad.csv"), std::string::npos) << message;
  EXPECT_NE(message.find("Line: 3"), std::string::npos) << message;
  EXPECT_NE(message.find("not-a-number"), std::string::npos) << message;

  std::string many_lines = "time,host,usage\n";
  for (int i = 0; i < 50; ++i) many_lines += fmt::format("2026-01-01 00:00:{:02d},a,1\n", i);
  many_lines += "2026-01-01 02:00:00,b,1,extra\n";
  auto wrong_fields = engine_->LoadFile("m.t", WriteFile("fields.csv", many_lines));
  ASSERT_FALSE(wrong_fields.ok());
  message = std::string(wrong_fields.status().message());
  EXPECT_NE(message.find("fields.csv"), std::string::npos) << message;
  EXPECT_NE(message.find("Line: 52"), std::string::npos) << message;

  auto null_time = engine_->LoadFile(
      "m.t", WriteFile("null.csv", "time,host,usage\n2026-01-01 00:00:00,a,1\n,b,2\n"));
  ASSERT_FALSE(null_time.ok());
  EXPECT_NE(std::string(null_time.status().message()).find("NULL time"), std::string::npos);

  auto unknown_column =
      engine_->LoadFile("m.t", WriteFile("cols.csv", "time,hots,usage\n2026-01-01,a,1\n"));
  ASSERT_FALSE(unknown_column.ok());
  EXPECT_NE(std::string(unknown_column.status().message()).find("hots"), std::string::npos);

  auto missing = engine_->LoadFile("m.t", (dir_ / "missing.csv").string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  auto entries = engine_->index().Query("m", "t", QueryOptions{});
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
  EXPECT_EQ(StoredParquetFiles(), 0u);
}

TEST_P(EngineTest, FailedCatalogBatchLeavesNoFiles) {
  ASSERT_TRUE(Run("CREATE TABLE m.t (time TIMESTAMP, v INTEGER)").ok());
  ASSERT_TRUE(Open(/*failing_batches=*/true).ok());
  auto result =
      Run("INSERT INTO m.t SELECT TIMESTAMP '2026-01-01' + INTERVAL (i) HOUR, i FROM "
          "range(5) r(i)");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(std::string(result.status().message()).find("injected"), std::string::npos);
  EXPECT_EQ(StoredParquetFiles(), 0u);
}

TEST_P(EngineTest, ErrorsNameTheProblem) {
  ASSERT_TRUE(Run("CREATE TABLE metrics.cpu (time TIMESTAMP, v INTEGER)").ok());
  auto unknown = Run("SELECT * FROM metrics.memory");
  ASSERT_FALSE(unknown.ok());
  std::string message(unknown.status().message());
  EXPECT_NE(message.find("memory"), std::string::npos) << message;
  EXPECT_NE(message.find("metrics.cpu"), std::string::npos) << message;

  auto malformed = Run("SELECT * FROM metrics.cpu WHER v > 1");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(malformed.status().message()).find("LINE 1"), std::string::npos);

  auto typo = Run("SELEC 1");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(std::string(typo.status().message()).find("syntax error"), std::string::npos);

  EXPECT_EQ(Run("DELETE FROM metrics.cpu").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Run("CREATE TABLE metrics.cpu (a INT)").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(Run("CREATE TABLE IF NOT EXISTS metrics.cpu (a INT)").ok());
  EXPECT_FALSE(Run("CREATE TABLE m.k (a INT PRIMARY KEY)").ok());
  EXPECT_FALSE(Run("CREATE TABLE \"bad/name\".t (a INT)").ok());
  EXPECT_FALSE(Run("INSERT INTO metrics.nope VALUES (1)").ok());
  auto bad_value = Run("INSERT INTO metrics.cpu VALUES ('yesterday-ish', 1)");
  EXPECT_FALSE(bad_value.ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM metrics.cpu"), "0");
}

TEST_P(EngineTest, DropTableRemovesFilesAndSchema) {
  ASSERT_TRUE(Run("CREATE TABLE m.t (time TIMESTAMP, v INTEGER)").ok());
  ASSERT_TRUE(Run("INSERT INTO m.t VALUES ('2026-01-01', 1), ('2026-01-02', 2)").ok());
  EXPECT_EQ(StoredParquetFiles(), 2u);
  ASSERT_TRUE(Run("DROP TABLE m.t").ok());
  EXPECT_EQ(StoredParquetFiles(), 0u);
  EXPECT_FALSE(Run("SELECT * FROM m.t").ok());
  EXPECT_FALSE(Run("DROP TABLE m.t").ok());
  EXPECT_TRUE(Run("DROP TABLE IF EXISTS m.t").ok());
}

TEST_P(EngineTest, FlatTableWithoutTimeColumn) {
  ASSERT_TRUE(Run("CREATE TABLE dim.hosts (host VARCHAR, rack INTEGER)").ok());
  ASSERT_TRUE(Run("INSERT INTO dim.hosts VALUES ('a', 1), ('b', 2)").ok());
  auto entries = engine_->index().Query("dim", "hosts", QueryOptions{});
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].path.find('/'), std::string::npos);  // at the table root
  EXPECT_EQ(Scalar("SELECT sum(rack) FROM dim.hosts WHERE host = 'b'"), "2");
  // Joins across lake tables.
  ASSERT_TRUE(Run("CREATE TABLE m.cpu (time TIMESTAMP, host VARCHAR, v DOUBLE)").ok());
  ASSERT_TRUE(Run("INSERT INTO m.cpu VALUES ('2026-01-01', 'a', 1), ('2026-01-01', 'b', 5)").ok());
  EXPECT_EQ(Scalar("SELECT sum(v * rack) FROM m.cpu JOIN dim.hosts USING (host)"), "11.0");
}

TEST_P(EngineTest, ExplainShowsFileCounts) {
  ASSERT_TRUE(Run("CREATE TABLE m.t (time TIMESTAMP, v INTEGER)").ok());
  ASSERT_TRUE(Run("INSERT INTO m.t VALUES ('2026-01-01', 1), ('2026-01-02', 2)").ok());
  RowList rows = Query("EXPLAIN SELECT * FROM m.t WHERE time >= '2026-01-02'");
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0][0], "shardlake files");
  EXPECT_NE(rows[0][1]->find("1 of 2 files scanned"), std::string::npos) << *rows[0][1];
}

INSTANTIATE_TEST_SUITE_P(Catalogs, EngineTest, ::testing::Values("sqlite", "memory"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace shardlake

namespace shardlake {
namespace {

// A store without local files (as S3 is): queries read through the file cache.
TEST(EngineRemoteStoreTest, QueriesReadRemoteObjectsThroughTheFileCache) {
  fs::path dir = fs::temp_directory_path() / ("shardlake-engine-remote-" + NewUuid());
  fs::create_directories(dir);
  const std::string name = "engine-remote-" + dir.filename().string();
  auto index = OpenIndex("memory://" + name);
  ASSERT_TRUE(index.ok()) << index.status();
  auto store = OpenObjectStore("memory://" + name);
  ASSERT_TRUE(store.ok()) << store.status();
  EngineOptions options;
  options.staging_dir = (dir / "staging").string();
  options.file_cache_dir = (dir / "file-cache").string();
  options.file_cache_bytes = 64 << 20;
  auto engine = Engine::Open(std::move(*index), std::move(*store), options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  CollectingSink sink;
  ASSERT_TRUE((*engine)->Execute("CREATE TABLE m.cpu (time TIMESTAMP, v BIGINT)", sink).ok());
  ASSERT_TRUE((*engine)
                  ->Execute("INSERT INTO m.cpu VALUES ('2026-01-01 00:10:00', 1), "
                            "('2026-01-01 03:00:00', 2), ('2026-01-02 03:00:00', 4)",
                            sink)
                  .ok());
  auto outcome = (*engine)->Execute("SELECT sum(v) FROM m.cpu WHERE time < '2026-01-02'", sink);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(sink.rows().size(), 1u);
  EXPECT_EQ(sink.rows()[0][0].value_or(""), "3");
  auto cache = (*engine)->file_cache();
  ASSERT_TRUE(cache.ok() && *cache != nullptr);
  EXPECT_EQ((*cache)->stats().misses, 2);  // the two files of the first day
  ASSERT_TRUE((*engine)->Execute("SELECT sum(v) FROM m.cpu", sink).ok());
  EXPECT_EQ(sink.rows()[0][0].value_or(""), "7");
  EXPECT_EQ((*cache)->stats().misses, 3);
  EXPECT_GE((*cache)->stats().hits, 2);

  // Without a cache directory such a store cannot be queried, and says why.
  auto bare_index = OpenIndex("memory://" + name);
  auto bare_store = OpenObjectStore("memory://" + name);
  EngineOptions bare_options;
  bare_options.staging_dir = (dir / "staging2").string();
  auto bare = Engine::Open(std::move(*bare_index), std::move(*bare_store), bare_options);
  ASSERT_TRUE(bare.ok());
  auto refused = (*bare)->Execute("SELECT sum(v) FROM m.cpu", sink);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("file cache"), std::string::npos);
  engine->reset();
  bare->reset();
  MemoryIndex::Forget(name);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shardlake
