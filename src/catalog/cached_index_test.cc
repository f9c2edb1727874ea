// The catalog cache over the in-memory backend (fast): the Index conformance
// suites through a CachedIndex, and the cache's own suite. The same suites run
// over Redis and PostgreSQL in their test binaries.
#include "catalog/cached_index.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "catalog/cache_conformance.h"
#include "catalog/catalog_stats.h"
#include "catalog/memory_index.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

std::string& CurrentMemoryName() {
  static std::string name;
  return name;
}

absl::Status FreshMemory() {
  static int counter = 0;
  CurrentMemoryName() = fmt::format("cache-test-{}", ++counter);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Index>> OpenMemory() {
  return std::unique_ptr<Index>(MemoryIndex::Open(CurrentMemoryName(), IndexOptions{}));
}

void ForgetMemory() { MemoryIndex::Forget(CurrentMemoryName()); }

INSTANTIATE_TEST_SUITE_P(Memory, CacheConformanceTest,
                         ::testing::Values(CacheBackend{"memory", FreshMemory, OpenMemory,
                                                        ForgetMemory}),
                         CacheBackendName);

TEST(CachedIndexTest, RepeatedQueryIsAnsweredFromMemoryUntilTheTableChanges) {
  ASSERT_TRUE(FreshMemory().ok());
  auto writer = OpenMemory();
  ASSERT_TRUE(writer.ok());
  auto cache = CatalogCache::Open("memory://stats-test", {});
  ASSERT_TRUE(cache.ok()) << cache.status();
  CachedIndex cached(*OpenMemory(), std::move(*cache), DefaultMergeConfigs());
  CatalogStats& stats = CatalogStats::For("cache:" + cached.Describe());
  IndexEntry e;
  e.database = "db";
  e.table = "t";
  e.path = "date=2026-01-01/hour=00/a.5.parquet";
  ASSERT_TRUE((*writer)->Batch({e}, {}).ok());
  const int64_t misses = stats.Counter("answer_misses"), hits = stats.Counter("answer_hits");
  EXPECT_EQ(cached.Query("db", "t", {})->size(), 1u);
  EXPECT_EQ(cached.Query("db", "t", {})->size(), 1u);
  EXPECT_EQ(stats.Counter("answer_misses"), misses + 1);
  EXPECT_EQ(stats.Counter("answer_hits"), hits + 1);
  // A change elsewhere: the next answer is fetched again, its entry from the cache.
  const int64_t entry_hits = stats.Counter("entry_hits");
  IndexEntry other = e;
  other.path = "date=2026-01-01/hour=00/b.1.parquet";
  ASSERT_TRUE((*writer)->Batch({other}, {}).ok());
  EXPECT_EQ(cached.Query("db", "t", {})->size(), 2u);
  EXPECT_EQ(stats.Counter("answer_misses"), misses + 2);
  EXPECT_EQ(stats.Counter("entry_hits"), entry_hits + 1);
  ForgetMemory();
}

TEST(CatalogCacheTest, FileOfAnotherFormatIsRefusedWithAHint) {
  char dir[] = "/tmp/shardlake_cache_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  CatalogCacheOptions options;
  options.path = std::string(dir) + "/cache.sqlite";
  {
    auto cache = CatalogCache::Open("redis://x", options);
    ASSERT_TRUE(cache.ok()) << cache.status();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options.path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE cache_format SET version = 99", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto reopened = CatalogCache::Open("redis://x", options);
  EXPECT_TRUE(absl::IsFailedPrecondition(reopened.status())) << reopened.status();
  EXPECT_NE(reopened.status().message().find("delete the file"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(CatalogCacheTest, NotACacheFileIsAClearError) {
  char dir[] = "/tmp/shardlake_cache_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  CatalogCacheOptions options;
  options.path = std::string(dir) + "/garbage";
  FILE* f = std::fopen(options.path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("this is not an sqlite database, just some text of a decent length to be read\n", f);
  std::fclose(f);
  auto cache = CatalogCache::Open("redis://x", options);
  EXPECT_FALSE(cache.ok());
  EXPECT_NE(cache.status().message().find(options.path), std::string::npos) << cache.status();
  std::filesystem::remove_all(dir);
}

TEST(CatalogCacheTest, EnvironmentSelectsPathInsertsAndDisabling) {
  setenv("SHARDLAKE_CATALOG_CACHE", "/tmp/x.sqlite", 1);
  setenv("SHARDLAKE_CATALOG_CACHE_INSERTS_DISABLED", "1", 1);
  setenv("SHARDLAKE_CATALOG_CACHE_DISABLED", "0", 1);
  CatalogCacheOptions options = CatalogCacheOptionsFromEnv();
  EXPECT_EQ(options.path, "/tmp/x.sqlite");
  EXPECT_FALSE(options.inserts_enabled);
  EXPECT_FALSE(CatalogCacheDisabledByEnv());
  setenv("SHARDLAKE_CATALOG_CACHE_DISABLED", "1", 1);
  EXPECT_TRUE(CatalogCacheDisabledByEnv());
  unsetenv("SHARDLAKE_CATALOG_CACHE");
  unsetenv("SHARDLAKE_CATALOG_CACHE_INSERTS_DISABLED");
  unsetenv("SHARDLAKE_CATALOG_CACHE_DISABLED");
  EXPECT_TRUE(CatalogCacheOptionsFromEnv().path.empty());
  EXPECT_TRUE(CatalogCacheOptionsFromEnv().inserts_enabled);
}

}  // namespace
}  // namespace shardlake
