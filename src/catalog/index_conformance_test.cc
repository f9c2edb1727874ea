// Runs the Index conformance suite against the SQLite and in-memory backends.
#include "catalog/index_conformance.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "catalog/cached_index.h"
#include "catalog/memory_index.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

// Temp directories created for the current test, removed by cleanup.
std::vector<std::string>& TempDirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

absl::StatusOr<std::unique_ptr<Index>> OpenFreshSqlite() {
  std::string pattern = (std::filesystem::temp_directory_path() / "shardlake_catalog_XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(fmt::format("mkdtemp({}) failed", pattern));
  }
  TempDirs().push_back(pattern);
  return OpenIndex("sqlite://" + pattern + "/catalog.sqlite");
}

void RemoveTempDirs() {
  for (const std::string& dir : TempDirs()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TempDirs().clear();
}

// Memory indexes with a unique name per test; forgotten afterwards.
std::vector<std::string>& MemoryNames() {
  static std::vector<std::string> names;
  return names;
}

absl::StatusOr<std::unique_ptr<Index>> OpenFreshMemory() {
  static int counter = 0;
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name =
      fmt::format("conformance-{}-{}", info != nullptr ? info->name() : "test", ++counter);
  MemoryNames().push_back(name);
  return OpenIndex("memory://" + name);
}

void ForgetMemoryIndexes() {
  for (const std::string& name : MemoryNames()) MemoryIndex::Forget(name);
  MemoryNames().clear();
}

// The memory index behind the catalog cache (the remote backends run the
// same in their own binaries).
absl::StatusOr<std::unique_ptr<Index>> OpenFreshCachedMemory() {
  ASSIGN_OR_RETURN(std::unique_ptr<Index> remote, OpenFreshMemory());
  return CachedIndex::Wrap(std::move(remote), IndexOptions{});
}

std::vector<IndexBackend> Backends() {
  return {IndexBackend{"sqlite", OpenFreshSqlite, RemoveTempDirs},
          IndexBackend{"memory", OpenFreshMemory, ForgetMemoryIndexes},
          IndexBackend{"cached_memory", OpenFreshCachedMemory, ForgetMemoryIndexes}};
}

INSTANTIATE_TEST_SUITE_P(Backends, IndexConformanceTest, ::testing::ValuesIn(Backends()),
                         IndexBackendName);
INSTANTIATE_TEST_SUITE_P(Backends, MergePlanTest, ::testing::ValuesIn(Backends()),
                         IndexBackendName);

}  // namespace
}  // namespace shardlake

namespace shardlake {
namespace {

TEST(MemoryIndexTest, SameNameSharesStateUntilForgotten) {
  auto a = OpenIndex("memory://shared-test");
  auto b = OpenIndex("memory://shared-test");
  auto other = OpenIndex("memory://other-test");
  ASSERT_TRUE(a.ok() && b.ok() && other.ok());
  EXPECT_EQ((*a)->Describe(), "memory://shared-test");
  IndexEntry e;
  e.database = "db";
  e.table = "t";
  e.path = "x.1.parquet";
  ASSERT_TRUE((*a)->Batch({e}, {}).ok());
  EXPECT_TRUE((*b)->Get("db", "t", "x.1.parquet").ok());
  EXPECT_TRUE(absl::IsNotFound((*other)->Get("db", "t", "x.1.parquet").status()));
  a->reset();
  b->reset();
  auto reopened = OpenIndex("memory://shared-test");
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE((*reopened)->Get("db", "t", "x.1.parquet").ok());
  MemoryIndex::Forget("shared-test");
  MemoryIndex::Forget("other-test");
  auto fresh = OpenIndex("memory://shared-test");
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(absl::IsNotFound((*fresh)->Get("db", "t", "x.1.parquet").status()));
  MemoryIndex::Forget("shared-test");
}

}  // namespace
}  // namespace shardlake
