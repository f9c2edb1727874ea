// SQLite-specific behaviour; the shared semantics are in index_conformance.h.
#include "catalog/sqlite_index.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "catalog/index.h"
#include "common/time_util.h"
#include "fmt/format.h"

#define CATALOG_ASSERT_OK(expr)                           \
  do {                                                    \
    const ::absl::Status catalog_status_ = (expr);        \
    ASSERT_TRUE(catalog_status_.ok()) << catalog_status_; \
  } while (0)

namespace shardlake {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kT0 = 1'767'225'600 * kSecond;  // 2026-01-01T00:00:00Z

class SqliteIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = std::filesystem::temp_directory_path() / "shardlake_sqlite_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/catalog.sqlite";
    uri_ = "sqlite://" + path_;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<Index> OpenOrDie() {
    auto index = OpenIndex(uri_);
    EXPECT_TRUE(index.ok()) << index.status();
    return index.ok() ? std::move(*index) : nullptr;
  }

  static IndexEntry Entry(const std::string& path, int64_t min_time = kT0,
                          int64_t max_time = kT0 + kSecond) {
    IndexEntry e;
    e.database = "db";
    e.table = "t";
    e.path = path;
    e.size_bytes = 100;
    e.row_count = 1;
    e.chunk_time = max_time;
    e.min_time = min_time;
    e.max_time = max_time;
    return e;
  }

  // A file whose entry stats look like a real table's.
  static IndexEntry RealisticEntry(int i, int64_t start, int64_t span) {
    int64_t t = start + i * span;
    IndexEntry e;
    e.database = "metrics";
    e.table = "cpu";
    e.path = fmt::format("date={}/hour={}/{:08x}-5f2e-4c1a-9b7d-{:012x}.1.parquet",
                         DateOfUnixNanos(t), HourOfUnixNanos(t), i * 2654435761u, i);
    e.size_bytes = 1'000'000 + i;
    e.row_count = 10'000;
    e.chunk_time = t + span;
    e.min = {{"__timestamp", t}, {"host", "host-001"}, {"usage", 0.5}, {"count", 1}};
    e.max = {{"__timestamp", t + span - 1}, {"host", "host-999"}, {"usage", 99.5}, {"count", 9999}};
    e.min_time = t;
    e.max_time = t + span - 1;
    return e;
  }

  std::string dir_;
  std::string path_;
  std::string uri_;
};

TEST_F(SqliteIndexTest, DataSurvivesCloseAndReopen) {
  TableSchema schema{"db", "t", {{"ts", "TIMESTAMP_NS"}}, "ts", 1, kT0};
  {
    auto index = OpenOrDie();
    ASSERT_NE(index, nullptr);
    EXPECT_EQ(index->Describe(), uri_);
    CATALOG_ASSERT_OK(index->CreateTable(schema));
    CATALOG_ASSERT_OK(
        index->Batch({Entry("date=2026-01-01/a.1.parquet"), Entry("b.1.parquet")}, {}));
  }
  auto index = OpenOrDie();
  ASSERT_NE(index, nullptr);
  auto got = index->Get("db", "t", "date=2026-01-01/a.1.parquet");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Entry("date=2026-01-01/a.1.parquet"));
  EXPECT_EQ(*index->GetTable("db", "t"), schema);
  EXPECT_EQ(*index->ListFolders("db", "t"), (std::vector<std::string>{"", "date=2026-01-01"}));
  EXPECT_EQ(index->Query("db", "t", {})->size(), 2u);
}

TEST_F(SqliteIndexTest, TwoHandlesOnOneFileSeeEachOthersBatches) {
  auto a = OpenOrDie();
  auto b = OpenOrDie();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  CATALOG_ASSERT_OK(a->Batch({Entry("x.1.parquet")}, {}));
  ASSERT_TRUE(b->Get("db", "t", "x.1.parquet").ok());
  CATALOG_ASSERT_OK(b->Batch({Entry("y.2.parquet")}, {Entry("x.1.parquet")}));
  EXPECT_TRUE(absl::IsNotFound(a->Get("db", "t", "x.1.parquet").status()));
  EXPECT_TRUE(absl::IsAlreadyExists(a->Batch({Entry("y.2.parquet")}, {})));

  // Writers on both handles at once: all distinct paths land.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Index* index = t % 2 ? a.get() : b.get();
      for (int i = 0; i < 20; ++i) {
        absl::Status status = index->Batch({Entry(fmt::format("c/t{}-{}.1.parquet", t, i))}, {});
        EXPECT_TRUE(status.ok()) << status;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  QueryOptions folder;
  folder.folder = "c";
  EXPECT_EQ(a->Query("db", "t", folder)->size(), 80u);
  EXPECT_EQ(b->Query("db", "t", folder)->size(), 80u);
}

TEST_F(SqliteIndexTest, OpeningInAMissingDirectoryFails) {
  std::string path = dir_ + "/no/such/dir/catalog.sqlite";
  auto index = OpenIndex("sqlite://" + path);
  ASSERT_FALSE(index.ok());
  EXPECT_TRUE(absl::IsUnavailable(index.status())) << index.status();
  std::string message(index.status().message());
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST_F(SqliteIndexTest, OpeningADirectoryFails) {
  auto index = OpenIndex("sqlite://" + dir_);
  ASSERT_FALSE(index.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(index.status())) << index.status();
  EXPECT_NE(std::string(index.status().message()).find(dir_), std::string::npos);
}

TEST_F(SqliteIndexTest, OpeningANonSqliteFileFails) {
  {
    std::ofstream out(path_);
    for (int i = 0; i < 200; ++i) out << "this is not an SQLite database, just text\n";
  }
  auto index = OpenIndex(uri_);
  ASSERT_FALSE(index.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(index.status())) << index.status();
  std::string message(index.status().message());
  EXPECT_NE(message.find(path_), std::string::npos) << message;
  EXPECT_NE(message.find("not a database"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST_F(SqliteIndexTest, NewerSchemaVersionIsRejected) {
  ASSERT_NE(OpenOrDie(), nullptr);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto index = OpenIndex(uri_);
  ASSERT_FALSE(index.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(index.status())) << index.status();
  EXPECT_NE(std::string(index.status().message()).find("99"), std::string::npos);
}

TEST_F(SqliteIndexTest, UriForms) {
  // sqlite:relative/path is relative to the working directory.
  std::string relative = std::filesystem::relative(path_, std::filesystem::current_path()).string();
  auto index = OpenIndex("sqlite:" + relative);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ((*index)->Describe(), "sqlite:" + relative);
  CATALOG_ASSERT_OK((*index)->Batch({Entry("r.1.parquet")}, {}));
  auto absolute = OpenIndex(uri_);
  ASSERT_TRUE(absolute.ok()) << absolute.status();
  EXPECT_TRUE((*absolute)->Get("db", "t", "r.1.parquet").ok());

  auto unknown = OpenIndex("postgres-ish://host/db");
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(unknown.status()));
  std::string message(unknown.status().message());
  EXPECT_NE(message.find("sqlite"), std::string::npos) << message;
  EXPECT_NE(message.find("memory"), std::string::npos) << message;
  EXPECT_TRUE(absl::IsInvalidArgument(OpenIndex("sqlite://host/x.sqlite").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(OpenIndex("sqlite:").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(OpenIndex("memory://").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(OpenIndex("/plain/path").status()));
}

TEST_F(SqliteIndexTest, TimeRangeQueryUsesAnIndex) {
  auto opened = SqliteIndex::Open(path_, uri_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  SqliteIndex& index = **opened;
  std::vector<IndexEntry> add;
  for (int i = 0; i < 1000; ++i) add.push_back(RealisticEntry(i, kT0, 15 * kSecond));
  CATALOG_ASSERT_OK(index.Batch(add, {}));

  auto explain = [&](const QueryOptions& options) {
    auto plan = index.TEST_ExplainQuery("metrics", "cpu", options);
    EXPECT_TRUE(plan.ok()) << plan.status();
    std::cout << "plan:\n" << plan.value_or("");
    return plan.value_or("");
  };
  QueryOptions range;
  range.after = kT0 + 100 * kSecond;
  range.before = kT0 + 200 * kSecond;
  std::string plan = explain(range);
  EXPECT_NE(
      plan.find("SEARCH files USING INDEX files_by_time (database=? AND tbl=? AND min_time>? AND "
                "min_time<?)"),
      std::string::npos)
      << plan;
  EXPECT_NE(plan.find("SEARCH spans USING PRIMARY KEY (database=? AND tbl=?)"), std::string::npos)
      << plan;
  EXPECT_EQ(plan.find("SCAN"), std::string::npos) << plan;

  QueryOptions after_only;
  after_only.after = kT0;
  plan = explain(after_only);
  EXPECT_NE(plan.find("USING INDEX files_by_time (database=? AND tbl=? AND min_time>?)"),
            std::string::npos)
      << plan;

  QueryOptions folder;
  folder.folder = "date=2026-01-01/hour=00";
  plan = explain(folder);
  EXPECT_NE(plan.find("USING INDEX sqlite_autoindex_files_1 (database=? AND tbl=? AND path>? AND "
                      "path<?)"),
            std::string::npos)
      << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;  // no sort needed

  folder.after = kT0;
  plan = explain(folder);
  EXPECT_NE(plan.find("USING INDEX sqlite_autoindex_files_1 (database=? AND tbl=? AND path>? AND "
                      "path<?)"),
            std::string::npos)
      << plan;

  plan = explain({});
  EXPECT_NE(plan.find("USING INDEX sqlite_autoindex_files_1 (database=? AND tbl=?)"),
            std::string::npos)
      << plan;
  EXPECT_EQ(index.Query("metrics", "cpu", range)->size(), 8u);  // [90s, 210s) in 15 s files
}

// Timings for the record (not asserted): batch-adding 100,000 entries and
// querying one day of 5,760 entries out of ~17 days.
TEST_F(SqliteIndexTest, LargeBatchAndOneDayQueryTimings) {
  constexpr int kEntries = 100'000;
  constexpr int64_t kSpan = 15 * kSecond;  // 5,760 files per day
  auto index = OpenOrDie();
  ASSERT_NE(index, nullptr);
  std::vector<IndexEntry> add;
  add.reserve(kEntries);
  for (int i = 0; i < kEntries; ++i) add.push_back(RealisticEntry(i, kT0, kSpan));
  Stopwatch batch_watch;
  absl::Status status = index->Batch(add, {});
  double batch_s = batch_watch.ElapsedSeconds();
  ASSERT_TRUE(status.ok()) << status;

  QueryOptions day;
  day.after = kT0 + 5 * 86'400 * kSecond;
  day.before = kT0 + 6 * 86'400 * kSecond - 1;
  double best_ms = 1e9;
  size_t count = 0;
  for (int i = 0; i < 5; ++i) {
    Stopwatch query_watch;
    auto result = index->Query("metrics", "cpu", day);
    best_ms = std::min(best_ms, query_watch.ElapsedMillis());
    ASSERT_TRUE(result.ok()) << result.status();
    count = result->size();
  }
  EXPECT_EQ(count, 5760u);
  QueryOptions folder;
  folder.folder = "date=2026-01-06";
  Stopwatch folder_watch;
  auto by_folder = index->Query("metrics", "cpu", folder);
  double folder_ms = folder_watch.ElapsedMillis();
  ASSERT_TRUE(by_folder.ok());
  EXPECT_EQ(by_folder->size(), 5760u);

  // Swap a day's files for one merged file (compaction-sized batch).
  std::vector<IndexEntry> remove(add.begin() + 5 * 5760, add.begin() + 6 * 5760);
  IndexEntry merged = RealisticEntry(5 * 5760, kT0, kSpan);
  merged.path = "date=2026-01-06/hour=00/merged.2.parquet";
  merged.max_time = day.before.value();
  Stopwatch swap_watch;
  status = index->Batch({merged}, remove);
  double swap_ms = swap_watch.ElapsedMillis();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(index->Query("metrics", "cpu", day)->size(), 1u);

  std::string report = fmt::format(
      "Batch add {} entries: {:.3f} s ({:.0f} entries/s); one-day Query ({} entries): {:.2f} ms; "
      "folder Query: {:.2f} ms; swap 5,760 -> 1: {:.2f} ms",
      kEntries, batch_s, kEntries / batch_s, count, best_ms, folder_ms, swap_ms);
  std::cout << report << "\n";
  RecordProperty("timings", report);
}

}  // namespace
}  // namespace shardlake
