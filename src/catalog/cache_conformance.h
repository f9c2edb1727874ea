// The catalog cache's own conformance suite (cached_index.h), run over every
// remote backend: a CachedIndex reads while a second, uncached handle on the
// same catalog writes, as another process would. A backend's test file
// instantiates it once (include this header in exactly one .cc of a binary):
//
//   INSTANTIATE_TEST_SUITE_P(Redis, CacheConformanceTest,
//                            ::testing::Values(CacheBackend{"redis", Fresh, OpenRedis, Flush}),
//                            CacheBackendName);
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/cached_index.h"
#include "catalog/catalog_cache.h"
#include "catalog/index.h"
#include "fmt/format.h"

namespace shardlake {

struct CacheBackend {
  std::string name;  // letters, digits and '_'
  // Prepares a fresh, empty remote catalog for the next test.
  std::function<absl::Status()> fresh;
  // Opens a new, uncached handle on the current remote catalog.
  std::function<absl::StatusOr<std::unique_ptr<Index>>()> open_remote;
  std::function<void()> cleanup;
};

inline std::string CacheBackendName(const ::testing::TestParamInfo<CacheBackend>& info) {
  return info.param.name;
}

class CacheConformanceTest : public ::testing::TestWithParam<CacheBackend> {
 protected:
  static constexpr int64_t kSecond = 1'000'000'000;
  static constexpr int64_t kHour = 3600 * kSecond;
  static constexpr int64_t kT0 = 1'767'225'600 * kSecond;  // 2026-01-01T00:00:00Z
  // With the default merge configuration (4 levels) iteration 5 is final.
  static constexpr int kFinal = 5;

  void SetUp() override {
    absl::Status fresh = GetParam().fresh();
    ASSERT_TRUE(fresh.ok()) << fresh;
    auto writer = GetParam().open_remote();
    ASSERT_TRUE(writer.ok()) << writer.status();
    writer_ = std::move(*writer);
    char pattern[] = "/tmp/shardlake_cache_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }

  void TearDown() override {
    writer_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    if (GetParam().cleanup) GetParam().cleanup();
  }

  // A CachedIndex over a new handle on the remote, with `options`.
  std::unique_ptr<CachedIndex> OpenCached(CatalogCacheOptions options = {}) {
    auto remote = GetParam().open_remote();
    EXPECT_TRUE(remote.ok()) << remote.status();
    if (!remote.ok()) return nullptr;
    auto cache = CatalogCache::Open((*remote)->Describe(), options);
    EXPECT_TRUE(cache.ok()) << cache.status();
    if (!cache.ok()) return nullptr;
    return std::make_unique<CachedIndex>(std::move(*remote), std::move(*cache),
                                         DefaultMergeConfigs());
  }

  static IndexEntry Entry(const std::string& name, int iteration, int hour = 0) {
    IndexEntry e;
    e.database = "db";
    e.table = "t";
    e.path = fmt::format("date=2026-01-01/hour={:02}/{}.{}.parquet", hour, name, iteration);
    e.size_bytes = 1000;
    e.row_count = 10;
    e.min_time = kT0 + hour * kHour;
    e.max_time = e.min_time + kHour - 1;
    e.chunk_time = e.max_time;
    e.min = {{"v", 1}, {"host", "a"}};
    e.max = {{"v", 9}, {"host", "z"}};
    return e;
  }
  static IndexEntry Ref(const IndexEntry& e) {
    IndexEntry ref;
    ref.database = e.database;
    ref.table = e.table;
    ref.path = e.path;
    return ref;
  }
  static std::vector<std::string> Paths(const absl::StatusOr<std::vector<IndexEntry>>& entries) {
    EXPECT_TRUE(entries.ok()) << entries.status();
    std::vector<std::string> out;
    if (entries.ok()) {
      for (const IndexEntry& e : *entries) out.push_back(e.path);
    }
    return out;
  }
  static QueryOptions Hours(int first, int last) {
    QueryOptions options;
    options.after = kT0 + first * kHour;
    options.before = kT0 + (last + 1) * kHour - 1;
    return options;
  }

  std::unique_ptr<Index> writer_;
  std::string dir_;
};

using CachePaths = std::vector<std::string>;

TEST_P(CacheConformanceTest, RemovedFinalEntryIsNeverReturnedAsLive) {
  IndexEntry a = Entry("a", kFinal, 1), b = Entry("b", kFinal, 2);
  ASSERT_TRUE(writer_->Batch({a, b}, {}).ok());
  auto cached = OpenCached();
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ(Paths(cached->Query("db", "t", {})), (CachePaths{a.path, b.path}));
  EXPECT_EQ(Paths(cached->Query("db", "t", Hours(0, 5))), (CachePaths{a.path, b.path}));
  EXPECT_EQ(cached->cache().Count().value_or(-1), 2);  // both final: cached

  ASSERT_TRUE(writer_->Batch({}, {Ref(a)}).ok());  // another process removes a
  EXPECT_EQ(Paths(cached->Query("db", "t", {})), (CachePaths{b.path}));
  EXPECT_EQ(Paths(cached->Query("db", "t", Hours(0, 5))), (CachePaths{b.path}));
  EXPECT_EQ(Paths(cached->Query("db", "t", Hours(1, 1))), CachePaths{});
  EXPECT_TRUE(absl::IsNotFound(cached->Get("db", "t", a.path).status()));
  auto many = cached->GetMany("db", "t", {a.path, b.path});
  EXPECT_EQ(Paths(many), (CachePaths{b.path}));
}

TEST_P(CacheConformanceTest, PersistentCacheStillAsksWhatIsLive) {
  IndexEntry a = Entry("a", kFinal, 1), b = Entry("b", kFinal, 2), c = Entry("c", kFinal, 3);
  ASSERT_TRUE(writer_->Batch({a, b}, {}).ok());
  CatalogCacheOptions persistent;
  persistent.path = dir_ + "/cache.sqlite";
  {
    auto first = OpenCached(persistent);
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(Paths(first->Query("db", "t", {})), (CachePaths{a.path, b.path}));
  }
  ASSERT_TRUE(writer_->Batch({c}, {Ref(a)}).ok());
  auto second = OpenCached(persistent);  // a new process with the same file
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->cache().Count().value_or(-1), 2);  // a and b, from the first process
  auto looked_up = second->cache().Lookup("db", "t", {b.path});
  ASSERT_TRUE(looked_up.ok()) << looked_up.status();
  ASSERT_NE((*looked_up)[0], nullptr);
  EXPECT_EQ(*(*looked_up)[0], b);
  EXPECT_EQ(Paths(second->Query("db", "t", {})), (CachePaths{b.path, c.path}));
  EXPECT_EQ(second->cache().Count().value_or(-1), 3);
}

TEST_P(CacheConformanceTest, AnswersFollowEveryChangeIncludingMerges) {
  IndexEntry x = Entry("x", 1, 4), y = Entry("y", 1, 4);
  ASSERT_TRUE(writer_->Batch({x}, {}).ok());
  auto cached = OpenCached();
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ(Paths(cached->Query("db", "t", Hours(4, 4))), (CachePaths{x.path}));
  EXPECT_EQ(Paths(cached->Query("db", "t", Hours(4, 4))), (CachePaths{x.path}));  // remembered
  ASSERT_TRUE(writer_->Batch({y}, {}).ok());
  EXPECT_EQ(Paths(cached->Query("db", "t", Hours(4, 4))), (CachePaths{x.path, y.path}));

  LeaseRequest request;
  request.writer_id = "compactor";
  request.now_ns = kT0 + 100 * kHour;
  request.ignore_timeouts = true;
  auto plan = writer_->LeaseMergePlan("db", "t", request);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->has_value());
  IndexEntry merged = Entry("merged", 2, 4);
  merged.path = (*plan)->target;
  ASSERT_TRUE(writer_->CompleteMerge(**plan, merged, request.now_ns, request.now_ns).ok());
  EXPECT_EQ(Paths(cached->Query("db", "t", Hours(4, 4))), (CachePaths{merged.path}));
  EXPECT_EQ(cached->cache().Count().value_or(-1), 0);  // nothing final yet
}

TEST_P(CacheConformanceTest, InsertsDisabledAddsNothing) {
  ASSERT_TRUE(writer_->Batch({Entry("a", kFinal), Entry("b", kFinal)}, {}).ok());
  CatalogCacheOptions read_only;
  read_only.inserts_enabled = false;
  auto cached = OpenCached(read_only);
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ(Paths(cached->Query("db", "t", {})).size(), 2u);
  EXPECT_TRUE(cached->Batch({Entry("c", kFinal)}, {}).ok());
  EXPECT_EQ(Paths(cached->Query("db", "t", {})).size(), 3u);
  EXPECT_EQ(cached->cache().Count().value_or(-1), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(cached->Build({{"db", "t"}}).status()));
}

TEST_P(CacheConformanceTest, SchemaFollowsDropAndRecreate) {
  TableSchema schema;
  schema.database = "db";
  schema.table = "t";
  schema.columns = {{"time", "TIMESTAMP_NS"}, {"v", "BIGINT"}};
  schema.time_column = "time";
  ASSERT_TRUE(writer_->CreateTable(schema).ok());
  auto cached = OpenCached();
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ(cached->GetTable("db", "t").value_or(TableSchema{}), schema);
  EXPECT_EQ(cached->GetTable("db", "t").value_or(TableSchema{}), schema);
  ASSERT_TRUE(writer_->DropTable("db", "t").ok());
  EXPECT_TRUE(absl::IsNotFound(cached->GetTable("db", "t").status()));
  schema.columns.push_back({"w", "DOUBLE"});
  ASSERT_TRUE(writer_->CreateTable(schema).ok());
  EXPECT_EQ(cached->GetTable("db", "t").value_or(TableSchema{}), schema);
}

TEST_P(CacheConformanceTest, BuildCachesFinalEntries) {
  TableSchema schema;
  schema.database = "db";
  schema.table = "t";
  schema.columns = {{"time", "TIMESTAMP_NS"}};
  ASSERT_TRUE(writer_->CreateTable(schema).ok());
  ASSERT_TRUE(
      writer_->Batch({Entry("a", kFinal), Entry("b", kFinal, 1), Entry("c", 1, 2)}, {}).ok());
  CatalogCacheOptions persistent;
  persistent.path = dir_ + "/built.sqlite";
  auto cached = OpenCached(persistent);
  ASSERT_NE(cached, nullptr);
  auto added = cached->Build({{"db", "t"}});
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 2);
  EXPECT_EQ(cached->cache().Count().value_or(-1), 2);
  EXPECT_TRUE(absl::IsNotFound(cached->Build({{"db", "missing"}}).status()));
}

// A writer swaps a file for another in one batch, again and again, as a merge
// does; every answer of the cached reader holds exactly one of the two.
TEST_P(CacheConformanceTest, ConcurrentSwapsNeverShowHalfABatch) {
  constexpr int kSwaps = 150;
  IndexEntry first = Entry("first", kFinal, 6), second = Entry("second", kFinal, 6);
  ASSERT_TRUE(writer_->Batch({first}, {}).ok());
  auto cached = OpenCached();
  ASSERT_NE(cached, nullptr);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  std::thread reader([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done.load() && std::chrono::steady_clock::now() < deadline) {
      auto answer = cached->Query("db", "t", Hours(6, 6));
      ++reads;
      if (!answer.ok() || answer->size() != 1) {
        if (bad++ == 0) {
          ADD_FAILURE() << (answer.ok() ? fmt::format("{} entries", answer->size())
                                        : answer.status().ToString());
        }
      }
    }
  });
  // Swap while the reader reads (bounded wait for its first read).
  for (int spin = 0; spin < 10'000 && reads.load() == 0; ++spin) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (int i = 0; i < kSwaps; ++i) {
    if (i % 10 == 0) std::this_thread::yield();
    const IndexEntry& live = i % 2 == 0 ? first : second;
    const IndexEntry& next = i % 2 == 0 ? second : first;
    ASSERT_TRUE(writer_->Batch({next}, {Ref(live)}).ok());
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 0);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CacheConformanceTest);

}  // namespace shardlake
