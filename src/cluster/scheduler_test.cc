#include "cluster/scheduler.h"

#include <gtest/gtest.h>

#include <set>

#include "cluster/cluster_manifest.h"

namespace shardlake {
namespace {

IndexEntry Entry(const std::string& table, const std::string& path) {
  IndexEntry entry;
  entry.database = "main";
  entry.table = table;
  entry.path = path;
  return entry;
}

std::map<std::string, QueryTableFiles> BucketedTables(int buckets) {
  std::map<std::string, QueryTableFiles> tables;
  for (const char* table : {"orders", "lineitem"}) {
    auto& files = tables[std::string("main.") + table];
    files.schema.database = "main";
    files.schema.table = table;
    for (int b = 0; b < buckets; ++b) {
      files.files.push_back(Entry(table, "bucket=" + std::to_string(b) + "/f.1.parquet"));
    }
  }
  return tables;
}

TEST(SchedulerTest, BucketUnitsHoldEveryTableOfTheirBucket) {
  DistributedPlan plan;
  plan.sliced_tables = {"main.orders", "main.lineitem"};
  plan.slice_by_bucket = true;
  auto units = BuildSliceUnits(plan, BucketedTables(5));
  ASSERT_TRUE(units.ok()) << units.status();
  ASSERT_EQ(units->size(), 5u);
  for (const auto& unit : *units) {
    ASSERT_EQ(unit.file_keys.size(), 2u) << unit.key;
    std::string bucket = unit.key.substr(std::string("bucket=").size());
    EXPECT_EQ(unit.file_keys.at("main.orders")[0], "main/orders/bucket=" + bucket + "/f.1.parquet");
    EXPECT_EQ(unit.file_keys.at("main.lineitem")[0],
              "main/lineitem/bucket=" + bucket + "/f.1.parquet");
  }
}

TEST(SchedulerTest, FilesOutsideBucketsAreRefusedWhenSlicingByBucket) {
  DistributedPlan plan;
  plan.sliced_tables = {"main.t"};
  plan.slice_by_bucket = true;
  std::map<std::string, QueryTableFiles> tables;
  tables["main.t"].files.push_back(Entry("t", "date=2026-01-01/x.1.parquet"));
  EXPECT_EQ(BuildSliceUnits(plan, tables).status().code(), absl::StatusCode::kInvalidArgument);
  plan.slice_by_bucket = false;
  auto units = BuildSliceUnits(plan, tables);
  ASSERT_TRUE(units.ok());
  EXPECT_EQ((*units)[0].key, "main/t/date=2026-01-01/x.1.parquet");
}

TEST(SchedulerTest, EveryUnitIsAssignedOnceAndTasksPerWorkerAreBounded) {
  DistributedPlan plan;
  plan.sliced_tables = {"main.lineitem"};
  auto tables = BucketedTables(40);
  auto units = BuildSliceUnits(plan, tables);
  ASSERT_TRUE(units.ok());
  std::vector<std::string> workers = {"a", "b", "c"};
  auto tasks = AssignSlices(*units, workers, 2);
  std::multiset<std::string> seen;
  std::map<size_t, int> tasks_per_worker;
  for (const auto& task : tasks) {
    ++tasks_per_worker[task.worker];
    for (const auto& unit : task.units) seen.insert(unit.key);
  }
  EXPECT_EQ(seen.size(), 40u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 40u);
  for (const auto& [worker, count] : tasks_per_worker) EXPECT_LE(count, 2) << worker;
  EXPECT_EQ(tasks_per_worker.size(), 3u) << "40 units should reach all 3 workers";
}

TEST(SchedulerTest, RendezvousMovesOnlyTheUnitsOfALeavingWorker) {
  std::vector<std::string> three = {"a", "b", "c"};
  std::vector<std::string> two = {"a", "c"};
  int moved = 0;
  for (int i = 0; i < 300; ++i) {
    std::string unit = "bucket=" + std::to_string(i);
    std::string before = three[RendezvousOwner(unit, three)];
    std::string after = two[RendezvousOwner(unit, two)];
    if (before != "b") {
      EXPECT_EQ(before, after) << unit;
    } else {
      ++moved;
    }
  }
  EXPECT_GT(moved, 50);  // about a third
  EXPECT_LT(moved, 150);
}

TEST(SchedulerTest, NoUnitsStillGivesOneTask) {
  auto tasks = AssignSlices({}, {"a"}, 2);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_TRUE(tasks[0].units.empty());
}

TEST(SchedulerTest, BucketOfPath) {
  EXPECT_EQ(BucketOfPath("bucket=07/x.parquet"), 7);
  EXPECT_EQ(BucketOfPath("bucket=/x.parquet"), -1);
  EXPECT_EQ(BucketOfPath("bucket=7x/x.parquet"), -1);
  EXPECT_EQ(BucketOfPath("date=2026-01-01/x.parquet"), -1);
}

}  // namespace
}  // namespace shardlake
