#include "compact/compactor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "common/ids.h"
#include "common/time_util.h"
#include "fmt/format.h"
#include "query/engine.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSecond = 1'000'000'000;

class CompactorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("shardlake-compact-" + NewUuid());
    fs::create_directories(dir_);
    catalog_ = "sqlite://" + (dir_ / "catalog.sqlite").string();
    storage_ = "file://" + (dir_ / "lake").string();
    auto index = OpenIndex(catalog_);
    ASSERT_TRUE(index.ok()) << index.status();
    auto store = OpenObjectStore(storage_);
    ASSERT_TRUE(store.ok()) << store.status();
    EngineOptions options;
    options.staging_dir = (dir_ / "staging").string();
    auto engine = Engine::Open(std::move(*index), std::move(*store), options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    ASSERT_TRUE(Run("CREATE TABLE m.t (time TIMESTAMP_NS, v BIGINT)").ok());
    // 12 INSERTs into one hour: 12 small .1 files in date=2026-01-01/hour=05,
    // written out of time order.
    for (int i = 11; i >= 0; --i) {
      ASSERT_TRUE(Run(fmt::format("INSERT INTO m.t SELECT TIMESTAMP_NS '2026-01-01 05:00:00' + "
                                  "INTERVAL ({} * 100 + j) SECOND, {} * 100 + j FROM range(100) "
                                  "r(j)",
                                  i, i))
                      .ok());
    }
    auto db = duck::Database::Open("");
    ASSERT_TRUE(db.ok());
    duck_db_ = std::move(*db);
    auto conn = duck::Connection::Open(*duck_db_);
    ASSERT_TRUE(conn.ok());
    duck_ = std::move(*conn);
  }

  void TearDown() override {
    duck_.reset();
    duck_db_.reset();
    engine_.reset();
    fs::remove_all(dir_);
  }

  absl::StatusOr<StatementOutcome> Run(const std::string& sql) {
    return engine_->Execute(sql, sink_);
  }

  std::string Scalar(const std::string& sql) {
    auto result = Run(sql);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok() || sink_.rows().empty() || !sink_.rows()[0][0]) return "<none>";
    return *sink_.rows()[0][0];
  }

  std::vector<IndexEntry> Entries() {
    auto entries = engine_->index().Query("m", "t", QueryOptions{});
    EXPECT_TRUE(entries.ok()) << entries.status();
    return entries.ok() ? *entries : std::vector<IndexEntry>{};
  }

  Compactor MakeCompactor() {
    return Compactor(engine_->index(), engine_->store(), *duck_, (dir_ / "staging").string());
  }

  fs::path LocalFile(const std::string& path) { return dir_ / "lake" / "m" / "t" / path; }

  fs::path dir_;
  std::string catalog_;
  std::string storage_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<duck::Database> duck_db_;
  std::unique_ptr<duck::Connection> duck_;
  CollectingSink sink_;
};

TEST_F(CompactorTest, MergesAnHourIntoOneSortedFileAndKeepsAnswers) {
  std::string before = Scalar("SELECT count(*) || ' ' || sum(v) || ' ' || min(time) FROM m.t");
  std::vector<IndexEntry> sources = Entries();
  ASSERT_EQ(sources.size(), 12u);

  Compactor compactor = MakeCompactor();
  CompactionOptions options;
  int64_t now = NowUnixNanos();
  // Not due yet: the files were just written and .1 waits 10 s.
  auto early = compactor.RunOnce(options, now);
  ASSERT_TRUE(early.ok()) << early.status();
  EXPECT_EQ(early->plans, 0);

  options.ignore_timeouts = true;
  auto stats = compactor.RunOnce(options, now);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->plans, 1);
  EXPECT_EQ(stats->files_merged, 12);
  EXPECT_EQ(stats->rows, 1200);
  std::vector<IndexEntry> after = Entries();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(FolderOfPath(after[0].path), "date=2026-01-01/hour=05");
  EXPECT_EQ(IterationOfPath(after[0].path), 2);
  EXPECT_EQ(after[0].row_count, 1200);
  int64_t min_time = sources[0].min_time, max_time = sources[0].max_time;
  for (const auto& source : sources) {
    min_time = std::min(min_time, source.min_time);
    max_time = std::max(max_time, source.max_time);
  }
  EXPECT_EQ(after[0].min_time, min_time);
  EXPECT_EQ(after[0].max_time, max_time);
  EXPECT_EQ(Scalar("SELECT count(*) || ' ' || sum(v) || ' ' || min(time) FROM m.t"), before);
  // Sorted by time inside the merged file.
  auto sorted = duck::QueryScalar(
      *duck_, fmt::format("SELECT bool_and(v = rn - 1) FROM (SELECT v, row_number() OVER () AS rn "
                          "FROM read_parquet('{}'))",
                          LocalFile(after[0].path).string()));
  ASSERT_TRUE(sorted.ok()) << sorted.status();
  EXPECT_EQ(sorted->value_or("?"), "true");

  // The sources stay readable during the grace period (a query that listed
  // them before the swap still works), then a later run deletes them.
  for (const auto& source : sources) EXPECT_TRUE(fs::exists(LocalFile(source.path)));
  auto later = compactor.RunOnce(options, now + options.drop_grace_ns - 1);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->files_deleted, 0);
  auto deleted = compactor.RunOnce(options, now + options.drop_grace_ns);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->files_deleted, 12);
  for (const auto& source : sources) EXPECT_FALSE(fs::exists(LocalFile(source.path)));
  EXPECT_TRUE(fs::exists(LocalFile(after[0].path)));
}

TEST_F(CompactorTest, CrashedCompactorsLeaseExpires) {
  LeaseRequest request;
  request.writer_id = "crashed";
  request.now_ns = NowUnixNanos();
  request.lease_ns = kSecond;
  request.ignore_timeouts = true;
  auto plan = engine_->index().LeaseMergePlan("m", "t", request);
  ASSERT_TRUE(plan.ok() && plan->has_value());
  // The holder never finishes. While its lease lasts nothing is merged...
  Compactor compactor = MakeCompactor();
  CompactionOptions options;
  options.ignore_timeouts = true;
  auto blocked = compactor.RunOnce(options, request.now_ns);
  ASSERT_TRUE(blocked.ok());
  EXPECT_EQ(blocked->plans, 0);
  // ...and once it expires the plan is handed out again.
  auto resumed = compactor.RunOnce(options, request.now_ns + 2 * kSecond);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->plans, 1);
  EXPECT_EQ(Entries().size(), 1u);
}

TEST_F(CompactorTest, TwoCompactorsNeverMergeAFileTwice) {
  // More hours, so both have work.
  for (int hour = 6; hour < 10; ++hour) {
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(Run(fmt::format("INSERT INTO m.t VALUES ('2026-01-01 {:02d}:00:0{}', {})", hour,
                                  i, hour * 10 + i))
                      .ok());
    }
  }
  std::string before = Scalar("SELECT count(*) || ' ' || sum(v) FROM m.t");
  // A second process: its own catalog handle, store and DuckDB.
  auto index2 = OpenIndex(catalog_);
  auto store2 = OpenObjectStore(storage_);
  auto db2 = duck::Database::Open("");
  ASSERT_TRUE(index2.ok() && store2.ok() && db2.ok());
  auto conn2 = duck::Connection::Open(**db2);
  ASSERT_TRUE(conn2.ok());
  Compactor first = MakeCompactor();
  Compactor second(**index2, **store2, **conn2, (dir_ / "staging2").string());
  CompactionOptions options;
  options.ignore_timeouts = true;
  int64_t now = NowUnixNanos();
  absl::Status first_status, second_status;
  CompactionStats first_stats, second_stats;
  std::thread a([&] {
    auto s = first.RunOnce(options, now);
    first_status = s.status();
    if (s.ok()) first_stats = *s;
  });
  std::thread b([&] {
    auto s = second.RunOnce(options, now);
    second_status = s.status();
    if (s.ok()) second_stats = *s;
  });
  a.join();
  b.join();
  EXPECT_TRUE(first_status.ok()) << first_status;
  EXPECT_TRUE(second_status.ok()) << second_status;
  EXPECT_EQ(first_stats.plans + second_stats.plans, 5);  // hours 05..09
  EXPECT_EQ(first_stats.files_merged + second_stats.files_merged, 12 + 16);
  EXPECT_EQ(Entries().size(), 5u);
  EXPECT_EQ(Scalar("SELECT count(*) || ' ' || sum(v) FROM m.t"), before);
}

}  // namespace
}  // namespace shardlake
