// The conformance suite every Index backend must pass (the contract in
// catalog/index.h). A backend's test instantiates it once:
//
//   #include "catalog/index_conformance.h"
//   INSTANTIATE_TEST_SUITE_P(Redis, IndexConformanceTest,
//                            ::testing::Values(IndexBackend{"redis", OpenFreshRedis, Cleanup}),
//                            IndexBackendName);
//
// Merge plans are a second suite on the same backends, MergePlanTest, which a
// backend instantiates the same way with the same IndexBackend values.
//
// The header defines the tests (TEST_P), so include it in exactly one .cc file
// of a test binary.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <latch>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/index.h"
#include "catalog/index_entry.h"
#include "fmt/format.h"

// ASSERT/EXPECT that an absl::Status is OK, printing it otherwise.
#define CATALOG_ASSERT_OK(expr)                           \
  do {                                                    \
    const ::absl::Status catalog_status_ = (expr);        \
    ASSERT_TRUE(catalog_status_.ok()) << catalog_status_; \
  } while (0)
#define CATALOG_EXPECT_OK(expr)                           \
  do {                                                    \
    const ::absl::Status catalog_status_ = (expr);        \
    EXPECT_TRUE(catalog_status_.ok()) << catalog_status_; \
  } while (0)

namespace shardlake {

// How the suite gets an index.
struct IndexBackend {
  // Test-name suffix: letters, digits and '_' only.
  std::string name;
  // Returns a new, empty index; called once at the start of every test. Each
  // call must yield a catalog no other test sees.
  std::function<absl::StatusOr<std::unique_ptr<Index>>()> open;
  // Optional: called after every test, once its index has been destroyed
  // (delete temp files, flush a Redis DB...).
  std::function<void()> cleanup;
};

inline void PrintTo(const IndexBackend& backend, std::ostream* os) { *os << backend.name; }

inline std::string IndexBackendName(const ::testing::TestParamInfo<IndexBackend>& info) {
  return info.param.name;
}

class IndexConformanceTest : public ::testing::TestWithParam<IndexBackend> {
 protected:
  static constexpr int64_t kSecond = 1'000'000'000;
  static constexpr int64_t kHour = 3600 * kSecond;
  static constexpr int64_t kDay = 24 * kHour;
  static constexpr int64_t kT0 = 1'767'225'600 * kSecond;  // 2026-01-01T00:00:00Z

  void SetUp() override {
    auto index = GetParam().open();
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = std::move(*index);
  }

  void TearDown() override {
    index_.reset();
    if (GetParam().cleanup) GetParam().cleanup();
  }

  static IndexEntry Entry(const std::string& path, int64_t min_time = kT0,
                          int64_t max_time = kT0 + kSecond, const std::string& database = "db",
                          const std::string& table = "t") {
    IndexEntry e;
    e.database = database;
    e.table = table;
    e.path = path;
    e.size_bytes = 1000;
    e.row_count = 10;
    e.chunk_time = max_time;
    e.min_time = min_time;
    e.max_time = max_time;
    e.min = {{"value", 1}};
    e.max = {{"value", 2}};
    return e;
  }

  // Only database, table and path: what a remove needs.
  static IndexEntry Ref(const std::string& path, const std::string& database = "db",
                        const std::string& table = "t") {
    IndexEntry e;
    e.database = database;
    e.table = table;
    e.path = path;
    return e;
  }

  static std::vector<std::string> Paths(const std::vector<IndexEntry>& entries) {
    std::vector<std::string> out;
    for (const IndexEntry& e : entries) out.push_back(e.path);
    return out;
  }

  // Paths of Query(database, table, options); fails the test on error.
  std::vector<std::string> QueryPaths(const QueryOptions& options = {},
                                      const std::string& database = "db",
                                      const std::string& table = "t") {
    auto result = index_->Query(database, table, options);
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    return Paths(*result);
  }

  std::vector<std::string> Between(std::optional<int64_t> after, std::optional<int64_t> before) {
    QueryOptions options;
    options.after = after;
    options.before = before;
    return QueryPaths(options);
  }

  // The value of `result`, or a default T after failing the test.
  template <typename T>
  static T ValueOrFail(absl::StatusOr<T> result) {
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? std::move(*result) : T();
  }

  bool IsLive(const std::string& path, const std::string& database = "db",
              const std::string& table = "t") {
    auto got = index_->Get(database, table, path);
    EXPECT_TRUE(got.ok() || absl::IsNotFound(got.status())) << got.status();
    return got.ok();
  }

  std::unique_ptr<Index> index_;
};

using Strings = std::vector<std::string>;

TEST_P(IndexConformanceTest, AddThenGetReturnsEqualEntry) {
  constexpr int64_t k62 = int64_t{1} << 62;
  IndexEntry e;
  e.layer = "hot";
  e.database = "metrics";
  e.table = "cpu";
  e.path = "date=2026-01-01/hour=05/0b7c6a4e.1.parquet";
  e.size_bytes = 123'456'789'012;
  e.row_count = 987'654;
  e.chunk_time = k62 + 7;
  e.min = {{"i", -42},       {"big", k62 + 1},   {"neg", -k62 - 1},  {"d", 3.25},
           {"tiny", 1e-300}, {"third", 1.0 / 3}, {"s", "a\"b\\c é"}, {"t", true},
           {"f", false},     {"ts", k62 + 123}};
  e.max = {{"i", 42}, {"big", k62 + 3}, {"d", -0.5}, {"s", "zz"}, {"t", false}};
  e.min_time = k62 + 1;
  e.max_time = k62 + 3;
  e.writer_id = "writer-1";
  IndexEntry plain = Entry("x.1.parquet");
  plain.min = nlohmann::json::object();
  plain.max = nlohmann::json::object();
  CATALOG_ASSERT_OK(index_->Batch({e, plain}, {}));

  auto got = index_->Get("metrics", "cpu", e.path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, e);
  EXPECT_EQ(got->min_time, k62 + 1);
  EXPECT_EQ(got->max_time, k62 + 3);
  EXPECT_EQ(got->chunk_time, k62 + 7);
  EXPECT_EQ(got->min["big"].get<int64_t>(), k62 + 1);
  EXPECT_EQ(got->min["neg"].get<int64_t>(), -k62 - 1);
  EXPECT_EQ(got->min["ts"].get<int64_t>(), k62 + 123);
  EXPECT_EQ(got->min["third"].get<double>(), 1.0 / 3);
  EXPECT_EQ(got->min["s"].get<std::string>(), "a\"b\\c é");
  EXPECT_TRUE(got->min["t"].get<bool>());

  auto queried = index_->Query("metrics", "cpu", {});
  ASSERT_TRUE(queried.ok()) << queried.status();
  ASSERT_EQ(queried->size(), 1u);
  EXPECT_EQ((*queried)[0], e);

  auto got_plain = index_->Get("db", "t", "x.1.parquet");
  ASSERT_TRUE(got_plain.ok()) << got_plain.status();
  EXPECT_EQ(*got_plain, plain);

  EXPECT_TRUE(absl::IsNotFound(index_->Get("metrics", "cpu", "other.1.parquet").status()));
  EXPECT_TRUE(absl::IsNotFound(index_->Get("metrics", "mem", e.path).status()));
  EXPECT_TRUE(absl::IsNotFound(index_->Get("other", "cpu", e.path).status()));
}

TEST_P(IndexConformanceTest, EmptyBatchSucceeds) {
  CATALOG_EXPECT_OK(index_->Batch({}, {}));
  EXPECT_TRUE(QueryPaths().empty());
}

TEST_P(IndexConformanceTest, InvalidLastEntryChangesNothing) {
  CATALOG_ASSERT_OK(index_->Batch({Entry("live.1.parquet")}, {}));
  std::vector<std::function<void(IndexEntry&)>> breakers = {
      [](IndexEntry& e) { e.database = ""; },
      [](IndexEntry& e) { e.table = ""; },
      [](IndexEntry& e) { e.path = ""; },
      [](IndexEntry& e) { e.path = "/abs.1.parquet"; },
      [](IndexEntry& e) { e.path = "dir/"; },
      [](IndexEntry& e) { e.path = "a//b.1.parquet"; },
      [](IndexEntry& e) { e.path = "a/./b.1.parquet"; },
      [](IndexEntry& e) { e.path = "../b.1.parquet"; },
      [](IndexEntry& e) { e.path = "a/.."; },
      [](IndexEntry& e) { e.size_bytes = -1; },
      [](IndexEntry& e) { e.row_count = -1; },
      [](IndexEntry& e) { e.min_time = e.max_time + 1; },
  };
  for (size_t i = 0; i < breakers.size(); ++i) {
    IndexEntry bad = Entry("bad.1.parquet");
    breakers[i](bad);
    absl::Status status =
        index_->Batch({Entry("new1.1.parquet"), Entry("date=2026-01-01/new2.1.parquet"), bad},
                      {Ref("live.1.parquet")});
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << "breaker " << i << ": " << status;
    EXPECT_EQ(QueryPaths(), Strings({"live.1.parquet"})) << "breaker " << i;
    EXPECT_FALSE(IsLive("new1.1.parquet"));
  }
  // An invalid removed path is rejected too.
  absl::Status status = index_->Batch({Entry("new1.1.parquet")}, {Ref("a//b")});
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(QueryPaths(), Strings({"live.1.parquet"}));
}

TEST_P(IndexConformanceTest, AddingALivePathChangesNothing) {
  CATALOG_ASSERT_OK(index_->Batch({Entry("a.1.parquet"), Entry("b.1.parquet")}, {}));
  absl::Status status = index_->Batch(
      {Entry("c.1.parquet"), Entry("d.1.parquet"), Entry("a.1.parquet")}, {Ref("b.1.parquet")});
  EXPECT_TRUE(absl::IsAlreadyExists(status)) << status;
  EXPECT_EQ(QueryPaths(), Strings({"a.1.parquet", "b.1.parquet"}));
  EXPECT_FALSE(IsLive("c.1.parquet"));
  EXPECT_TRUE(IsLive("b.1.parquet"));
  // The original entry is untouched.
  auto a = index_->Get("db", "t", "a.1.parquet");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, Entry("a.1.parquet"));
}

TEST_P(IndexConformanceTest, RemovingAMissingPathChangesNothing) {
  CATALOG_ASSERT_OK(index_->Batch({Entry("a.1.parquet"), Entry("b.1.parquet")}, {}));
  absl::Status status =
      index_->Batch({Entry("c.1.parquet")}, {Ref("a.1.parquet"), Ref("missing.1.parquet")});
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_EQ(QueryPaths(), Strings({"a.1.parquet", "b.1.parquet"}));
  // A path live in another table does not count.
  status = index_->Batch({}, {Ref("a.1.parquet", "db", "other")});
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_TRUE(IsLive("a.1.parquet"));
}

TEST_P(IndexConformanceTest, DuplicatePathWithinBatchIsRejected) {
  CATALOG_ASSERT_OK(index_->Batch({Entry("live.1.parquet")}, {}));
  EXPECT_TRUE(absl::IsInvalidArgument(
      index_->Batch({Entry("p.1.parquet"), Entry("q.1.parquet"), Entry("p.1.parquet")}, {})));
  EXPECT_TRUE(
      absl::IsInvalidArgument(index_->Batch({Entry("live.1.parquet")}, {Ref("live.1.parquet")})));
  EXPECT_TRUE(
      absl::IsInvalidArgument(index_->Batch({}, {Ref("live.1.parquet"), Ref("live.1.parquet")})));
  EXPECT_EQ(QueryPaths(), Strings({"live.1.parquet"}));
}

TEST_P(IndexConformanceTest, SamePathInDifferentTablesIsIndependent) {
  const std::string path = "date=2026-01-01/hour=00/x.1.parquet";
  CATALOG_ASSERT_OK(
      index_->Batch({Entry(path, kT0, kT0, "db", "t"), Entry(path, kT0, kT0, "db", "u"),
                     Entry(path, kT0, kT0, "db2", "t")},
                    {}));
  CATALOG_ASSERT_OK(index_->Batch({}, {Ref(path, "db", "t")}));
  EXPECT_FALSE(IsLive(path, "db", "t"));
  EXPECT_TRUE(IsLive(path, "db", "u"));
  EXPECT_TRUE(IsLive(path, "db2", "t"));
}

TEST_P(IndexConformanceTest, CompactionSwapIsAtomic) {
  const std::string dir = "date=2026-01-01/hour=05/";
  std::vector<IndexEntry> small = {Entry(dir + "a.1.parquet", kT0, kT0 + 10),
                                   Entry(dir + "b.1.parquet", kT0 + 5, kT0 + 20),
                                   Entry(dir + "c.1.parquet", kT0 + 15, kT0 + 30)};
  CATALOG_ASSERT_OK(index_->Batch(small, {}));
  IndexEntry merged = Entry(dir + "m.2.parquet", kT0, kT0 + 30);
  merged.row_count = 30;
  // Removes carry only the identity: other fields are ignored.
  CATALOG_ASSERT_OK(index_->Batch(
      {merged}, {Ref(dir + "a.1.parquet"), Ref(dir + "b.1.parquet"), Ref(dir + "c.1.parquet")}));
  EXPECT_EQ(QueryPaths(), Strings({dir + "m.2.parquet"}));
  EXPECT_FALSE(IsLive(dir + "a.1.parquet"));
  EXPECT_EQ(ValueOrFail(index_->ListFolders("db", "t")), Strings({"date=2026-01-01/hour=05"}));

  // A swap that fails half-way (second removed path missing) leaves everything.
  absl::Status status = index_->Batch({Entry(dir + "n.3.parquet", kT0, kT0 + 30)},
                                      {Ref(dir + "m.2.parquet"), Ref(dir + "a.1.parquet")});
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_EQ(QueryPaths(), Strings({dir + "m.2.parquet"}));
}

TEST_P(IndexConformanceTest, ReadersNeverSeePartOfABatch) {
  constexpr int kFiles = 40;
  auto make = [](char set, int generation) {
    std::vector<IndexEntry> entries;
    for (int i = 0; i < kFiles; ++i) {
      entries.push_back(Entry(fmt::format("{}/g{}/f{:03}.1.parquet", set, generation, i)));
    }
    return entries;
  };
  CATALOG_ASSERT_OK(index_->Batch(make('a', 0), {}));
  std::atomic<bool> done{false};
  std::atomic<int> bad_reads{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        auto result = index_->Query("db", "t", {});
        if (!result.ok() || result->size() != static_cast<size_t>(kFiles) ||
            FolderOfPath(result->front().path) != FolderOfPath(result->back().path)) {
          ++bad_reads;
        }
        ++reads;
      }
    });
  }
  std::vector<IndexEntry> live = make('a', 0);
  for (int generation = 1; generation <= 30; ++generation) {
    std::vector<IndexEntry> next = make(generation % 2 ? 'b' : 'a', generation);
    absl::Status status = index_->Batch(next, live);
    ASSERT_TRUE(status.ok()) << status;
    live = next;
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad_reads.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_EQ(QueryPaths(), Paths(live));
}

TEST_P(IndexConformanceTest, TimeRangeBoundsAreInclusive) {
  CATALOG_ASSERT_OK(index_->Batch(
      {Entry("e1.1.parquet", kT0 + 100, kT0 + 200), Entry("e2.1.parquet", kT0 + 300, kT0 + 400),
       Entry("e3.1.parquet", kT0 + 500, kT0 + 600), Entry("point.1.parquet", kT0 + 700, kT0 + 700)},
      {}));
  // after touches max_time / before touches min_time: included.
  EXPECT_EQ(Between(kT0 + 200, kT0 + 250), Strings({"e1.1.parquet"}));
  EXPECT_EQ(Between(kT0 + 250, kT0 + 300), Strings({"e2.1.parquet"}));
  // One ns outside: excluded.
  EXPECT_EQ(Between(kT0 + 201, kT0 + 299), Strings({}));
  EXPECT_EQ(Between(kT0 + 250, kT0 + 350), Strings({"e2.1.parquet"}));
  EXPECT_EQ(Between(kT0 + 200, kT0 + 500),
            Strings({"e1.1.parquet", "e2.1.parquet", "e3.1.parquet"}));
  EXPECT_EQ(Between(kT0 + 350, kT0 + 350), Strings({"e2.1.parquet"}));
  EXPECT_EQ(Between(kT0 + 700, kT0 + 700), Strings({"point.1.parquet"}));
  EXPECT_EQ(Between(kT0 + 701, kT0 + 800), Strings({}));
  EXPECT_EQ(Between(kT0 + 601, kT0 + 699), Strings({}));
  // An empty range (after > before) matches nothing.
  EXPECT_EQ(Between(kT0 + 400, kT0 + 300), Strings({}));
}

TEST_P(IndexConformanceTest, OpenEndedTimeRanges) {
  CATALOG_ASSERT_OK(index_->Batch(
      {Entry("e1.1.parquet", kT0 + 100, kT0 + 200), Entry("e2.1.parquet", kT0 + 300, kT0 + 400),
       Entry("e3.1.parquet", kT0 + 500, kT0 + 600)},
      {}));
  EXPECT_EQ(Between(kT0 + 400, std::nullopt), Strings({"e2.1.parquet", "e3.1.parquet"}));
  EXPECT_EQ(Between(kT0 + 401, std::nullopt), Strings({"e3.1.parquet"}));
  EXPECT_EQ(Between(std::nullopt, kT0 + 300), Strings({"e1.1.parquet", "e2.1.parquet"}));
  EXPECT_EQ(Between(std::nullopt, kT0 + 299), Strings({"e1.1.parquet"}));
  EXPECT_EQ(Between(std::nullopt, std::nullopt),
            Strings({"e1.1.parquet", "e2.1.parquet", "e3.1.parquet"}));
  EXPECT_EQ(Between(INT64_MIN, INT64_MAX),
            Strings({"e1.1.parquet", "e2.1.parquet", "e3.1.parquet"}));
}

TEST_P(IndexConformanceTest, LongEntriesOverlapInnerRanges) {
  // Many short hourly files plus one file spanning ten days: a window in the
  // middle must find the long file although it starts days earlier.
  std::vector<IndexEntry> add;
  for (int h = 0; h < 24 * 10; ++h) {
    add.push_back(
        Entry(fmt::format("h{:04}.1.parquet", h), kT0 + h * kHour, kT0 + (h + 1) * kHour - 1));
  }
  add.push_back(Entry("long.1.parquet", kT0 - kDay, kT0 + 10 * kDay));
  CATALOG_ASSERT_OK(index_->Batch(add, {}));
  EXPECT_EQ(Between(kT0 + 5 * kDay + 10, kT0 + 5 * kDay + 20),
            Strings({"h0120.1.parquet", "long.1.parquet"}));
  EXPECT_EQ(Between(kT0 + 10 * kDay, std::nullopt), Strings({"long.1.parquet"}));
  EXPECT_EQ(Between(kT0 + 10 * kDay + 1, std::nullopt), Strings({}));
  EXPECT_EQ(Between(std::nullopt, kT0 - kDay), Strings({"long.1.parquet"}));
  // After it is removed, the same window finds only the short file.
  CATALOG_ASSERT_OK(index_->Batch({}, {Ref("long.1.parquet")}));
  EXPECT_EQ(Between(kT0 + 5 * kDay + 10, kT0 + 5 * kDay + 20), Strings({"h0120.1.parquet"}));
}

TEST_P(IndexConformanceTest, ExtremeTimesDoNotOverflow) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  CATALOG_ASSERT_OK(
      index_->Batch({Entry("all.1.parquet", kMin, kMax), Entry("first.1.parquet", kMin, kMin),
                     Entry("last.1.parquet", kMax, kMax), Entry("mid.1.parquet", -5, 5)},
                    {}));
  EXPECT_EQ(Between(kMax, std::nullopt), Strings({"all.1.parquet", "last.1.parquet"}));
  EXPECT_EQ(Between(kMax, kMax), Strings({"all.1.parquet", "last.1.parquet"}));
  EXPECT_EQ(Between(std::nullopt, kMin), Strings({"all.1.parquet", "first.1.parquet"}));
  EXPECT_EQ(Between(0, 0), Strings({"all.1.parquet", "mid.1.parquet"}));
  EXPECT_EQ(Between(kMin, kMax),
            Strings({"all.1.parquet", "first.1.parquet", "last.1.parquet", "mid.1.parquet"}));
  EXPECT_EQ(Between(6, kMax - 1), Strings({"all.1.parquet"}));
  // Without the widest entry, the remaining spans bound the scan again.
  CATALOG_ASSERT_OK(index_->Batch({}, {Ref("all.1.parquet")}));
  EXPECT_EQ(Between(kMax, std::nullopt), Strings({"last.1.parquet"}));
  EXPECT_EQ(Between(-5, -5), Strings({"mid.1.parquet"}));
  EXPECT_EQ(Between(6, kMax - 1), Strings({}));
}

TEST_P(IndexConformanceTest, FolderFilterMatchesWholeFolders) {
  CATALOG_ASSERT_OK(
      index_->Batch({Entry("date=2026-01-01/hour=00/a.1.parquet", kT0, kT0 + 10),
                     Entry("date=2026-01-01/hour=01/b.1.parquet", kT0 + kHour, kT0 + kHour + 10),
                     Entry("date=2026-01-01/c.1.parquet", kT0, kT0 + 10),
                     Entry("date=2026-01-010/hour=00/d.1.parquet", kT0, kT0 + 10),
                     Entry("date=2026-01-01.1.parquet", kT0, kT0 + 10),
                     Entry("date=2026-01-02/hour=00/e.1.parquet", kT0 + kDay, kT0 + kDay + 10),
                     Entry("root.1.parquet", kT0, kT0 + 10)},
                    {}));
  QueryOptions day;
  day.folder = "date=2026-01-01";
  EXPECT_EQ(QueryPaths(day),
            Strings({"date=2026-01-01/c.1.parquet", "date=2026-01-01/hour=00/a.1.parquet",
                     "date=2026-01-01/hour=01/b.1.parquet"}));
  QueryOptions partial;
  partial.folder = "date=2026-01-0";
  EXPECT_EQ(QueryPaths(partial), Strings({}));
  QueryOptions hour;
  hour.folder = "date=2026-01-01/hour=00";
  EXPECT_EQ(QueryPaths(hour), Strings({"date=2026-01-01/hour=00/a.1.parquet"}));
  QueryOptions missing;
  missing.folder = "date=2027-01-01";
  EXPECT_EQ(QueryPaths(missing), Strings({}));
  // Folder and time range together.
  QueryOptions both = day;
  both.after = kT0 + kHour;
  EXPECT_EQ(QueryPaths(both), Strings({"date=2026-01-01/hour=01/b.1.parquet"}));
  both.before = kT0 + kHour - 1;
  EXPECT_EQ(QueryPaths(both), Strings({}));
}

TEST_P(IndexConformanceTest, IterationFilter) {
  CATALOG_ASSERT_OK(index_->Batch({Entry("d/x.1.parquet"), Entry("d/y.2.parquet"),
                                   Entry("d/z.12.parquet"), Entry("d/q.21.parquet")},
                                  {}));
  auto with_iteration = [&](int n) {
    QueryOptions options;
    options.iteration = n;
    return QueryPaths(options);
  };
  EXPECT_EQ(with_iteration(1), Strings({"d/x.1.parquet"}));
  EXPECT_EQ(with_iteration(2), Strings({"d/y.2.parquet"}));
  EXPECT_EQ(with_iteration(12), Strings({"d/z.12.parquet"}));
  EXPECT_EQ(with_iteration(3), Strings({}));
  EXPECT_EQ(with_iteration(0).size(), 4u);
  QueryOptions combined;
  combined.iteration = 2;
  combined.folder = "d";
  combined.after = kT0;
  EXPECT_EQ(QueryPaths(combined), Strings({"d/y.2.parquet"}));
}

TEST_P(IndexConformanceTest, AddedPathsNeedAnIteration) {
  for (const char* path : {"d/w.parquet", "d/w.0.parquet", "d/w.x.parquet", "d/w.1.csv"}) {
    absl::Status status = index_->Batch({Entry("d/ok.1.parquet"), Entry(path)}, {});
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << path << ": " << status;
  }
  EXPECT_EQ(QueryPaths(), Strings({}));
}

TEST_P(IndexConformanceTest, QueryResultsAreSortedAndUnique) {
  std::vector<IndexEntry> entries;
  for (int i = 0; i < 300; ++i) {
    entries.push_back(Entry(fmt::format("date=2026-01-0{}/hour={:02}/f{:03}.1.parquet", 1 + i % 3,
                                        i % 24, (i * 37) % 300),
                            kT0 + i * kSecond, kT0 + (i + 5) * kSecond));
  }
  std::mt19937 rng(42);
  std::shuffle(entries.begin(), entries.end(), rng);
  for (size_t start = 0; start < entries.size(); start += 70) {
    std::vector<IndexEntry> part(
        entries.begin() + static_cast<std::ptrdiff_t>(start),
        entries.begin() + static_cast<std::ptrdiff_t>(std::min(start + 70, entries.size())));
    CATALOG_ASSERT_OK(index_->Batch(part, {}));
  }
  std::vector<IndexEntry> expected = entries;
  std::sort(expected.begin(), expected.end(),
            [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; });
  auto all = index_->Query("db", "t", {});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, expected);
  QueryOptions wide;
  wide.after = kT0;
  wide.before = kT0 + 1000 * kSecond;
  auto ranged = index_->Query("db", "t", wide);
  ASSERT_TRUE(ranged.ok()) << ranged.status();
  EXPECT_EQ(*ranged, expected);
  QueryOptions folder;
  folder.folder = "date=2026-01-02";
  folder.after = kT0 + 50 * kSecond;
  std::vector<std::string> want;
  for (const IndexEntry& e : expected) {
    if (e.path.starts_with("date=2026-01-02/") && e.max_time >= kT0 + 50 * kSecond) {
      want.push_back(e.path);
    }
  }
  EXPECT_EQ(QueryPaths(folder), want);
  EXPECT_TRUE(QueryPaths({}, "db", "unknown").empty());
  EXPECT_TRUE(QueryPaths({}, "unknown", "t").empty());
}

TEST_P(IndexConformanceTest, ListsAreSortedAndDistinct) {
  TableSchema schema_only{"zeta", "only_schema", {{"ts", "TIMESTAMP_NS"}}, "ts", 1, kT0};
  CATALOG_ASSERT_OK(index_->CreateTable(schema_only));
  CATALOG_ASSERT_OK(index_->Batch(
      {Entry("date=2026-01-02/hour=00/a.1.parquet", kT0, kT0, "alpha", "t1"),
       Entry("date=2026-01-01/hour=05/b.1.parquet", kT0, kT0, "alpha", "t1"),
       Entry("date=2026-01-01/hour=05/c.1.parquet", kT0, kT0, "alpha", "t1"),
       Entry("root.1.parquet", kT0, kT0, "alpha", "t1"),
       Entry("x.1.parquet", kT0, kT0, "alpha", "t2"), Entry("x.1.parquet", kT0, kT0, "beta", "t1")},
      {}));
  EXPECT_EQ(ValueOrFail(index_->ListDatabases()), Strings({"alpha", "beta", "zeta"}));
  EXPECT_EQ(ValueOrFail(index_->ListTables("alpha")), Strings({"t1", "t2"}));
  EXPECT_EQ(ValueOrFail(index_->ListTables("zeta")), Strings({"only_schema"}));
  EXPECT_EQ(ValueOrFail(index_->ListTables("nope")), Strings({}));
  EXPECT_EQ(ValueOrFail(index_->ListFolders("alpha", "t1")),
            Strings({"", "date=2026-01-01/hour=05", "date=2026-01-02/hour=00"}));
  EXPECT_EQ(ValueOrFail(index_->ListFolders("zeta", "only_schema")), Strings({}));

  // Folders disappear with their last file; tables and databases with their
  // last file when they have no schema.
  CATALOG_ASSERT_OK(index_->Batch({}, {Ref("date=2026-01-01/hour=05/b.1.parquet", "alpha", "t1")}));
  EXPECT_EQ(ValueOrFail(index_->ListFolders("alpha", "t1")),
            Strings({"", "date=2026-01-01/hour=05", "date=2026-01-02/hour=00"}));
  CATALOG_ASSERT_OK(index_->Batch({}, {Ref("date=2026-01-01/hour=05/c.1.parquet", "alpha", "t1"),
                                       Ref("root.1.parquet", "alpha", "t1")}));
  EXPECT_EQ(ValueOrFail(index_->ListFolders("alpha", "t1")), Strings({"date=2026-01-02/hour=00"}));
  CATALOG_ASSERT_OK(index_->Batch({}, {Ref("x.1.parquet", "alpha", "t2")}));
  EXPECT_EQ(ValueOrFail(index_->ListTables("alpha")), Strings({"t1"}));
  CATALOG_ASSERT_OK(index_->Batch({}, {Ref("x.1.parquet", "beta", "t1")}));
  EXPECT_EQ(ValueOrFail(index_->ListDatabases()), Strings({"alpha", "zeta"}));
  EXPECT_EQ(ValueOrFail(index_->ListFolders("beta", "t1")), Strings({}));
}

TEST_P(IndexConformanceTest, CreateGetDropTable) {
  TableSchema schema{
      "db", "t", {{"ts", "TIMESTAMP_NS"}, {"host", "VARCHAR"}, {"v", "DECIMAL(18,3)"}},
      "ts", 3,   kT0};
  CATALOG_ASSERT_OK(index_->CreateTable(schema));
  auto got = index_->GetTable("db", "t");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, schema);
  TableSchema changed = schema;
  changed.columns.push_back({"extra", "INTEGER"});
  EXPECT_TRUE(absl::IsAlreadyExists(index_->CreateTable(changed)));
  EXPECT_EQ(ValueOrFail(index_->GetTable("db", "t")), schema);
  EXPECT_TRUE(absl::IsNotFound(index_->GetTable("db", "nope").status()));
  EXPECT_TRUE(absl::IsNotFound(index_->GetTable("nope", "t").status()));
  EXPECT_TRUE(absl::IsNotFound(index_->DropTable("db", "nope").status()));

  TableSchema bad = schema;
  bad.database = "";
  EXPECT_TRUE(absl::IsInvalidArgument(index_->CreateTable(bad)));
  bad = schema;
  bad.table = "";
  EXPECT_TRUE(absl::IsInvalidArgument(index_->CreateTable(bad)));
  bad = schema;
  bad.table = "no_columns";
  bad.columns.clear();
  bad.time_column = "";
  EXPECT_TRUE(absl::IsInvalidArgument(index_->CreateTable(bad)));
  EXPECT_TRUE(absl::IsNotFound(index_->GetTable("db", "no_columns").status()));

  TableSchema other{"db", "other", {{"x", "BIGINT"}}, "", 1, kT0};
  CATALOG_ASSERT_OK(index_->CreateTable(other));
  std::vector<IndexEntry> entries = {Entry("date=2026-01-01/hour=00/b.1.parquet"),
                                     Entry("date=2026-01-01/hour=01/a.1.parquet"),
                                     Entry("root.2.parquet")};
  CATALOG_ASSERT_OK(index_->Batch(entries, {}));
  CATALOG_ASSERT_OK(index_->Batch({Entry("o.1.parquet", kT0, kT0 + 1, "db", "other")}, {}));

  auto dropped = index_->DropTable("db", "t");
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  std::sort(dropped->begin(), dropped->end(),
            [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; });
  std::sort(entries.begin(), entries.end(),
            [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; });
  EXPECT_EQ(*dropped, entries);
  EXPECT_TRUE(absl::IsNotFound(index_->GetTable("db", "t").status()));
  EXPECT_TRUE(QueryPaths().empty());
  EXPECT_FALSE(IsLive("root.2.parquet"));
  EXPECT_EQ(ValueOrFail(index_->ListTables("db")), Strings({"other"}));
  EXPECT_EQ(ValueOrFail(index_->ListFolders("db", "t")), Strings({}));
  EXPECT_TRUE(absl::IsNotFound(index_->DropTable("db", "t").status()));
  // The other table is untouched.
  EXPECT_EQ(ValueOrFail(index_->GetTable("db", "other")), other);
  EXPECT_EQ(QueryPaths({}, "db", "other"), Strings({"o.1.parquet"}));
  // The table can be created again and its old paths re-added.
  CATALOG_ASSERT_OK(index_->CreateTable(schema));
  CATALOG_ASSERT_OK(index_->Batch({Entry("root.2.parquet")}, {}));
  EXPECT_EQ(QueryPaths(), Strings({"root.2.parquet"}));
}

TEST_P(IndexConformanceTest, DropTableWithoutSchemaIsNotFound) {
  CATALOG_ASSERT_OK(index_->Batch({Entry("a.1.parquet")}, {}));
  EXPECT_TRUE(absl::IsNotFound(index_->DropTable("db", "t").status()));
  EXPECT_TRUE(IsLive("a.1.parquet"));
}

TEST_P(IndexConformanceTest, ConcurrentBatchesOnDistinctPathsAllLand) {
  constexpr int kThreads = 8;
  constexpr int kBatches = 25;
  constexpr int kPerBatch = 20;
  std::latch start(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int b = 0; b < kBatches; ++b) {
        std::vector<IndexEntry> add;
        for (int i = 0; i < kPerBatch; ++i) {
          add.push_back(
              Entry(fmt::format("date=2026-01-01/hour={:02}/t{}-b{}-{}.1.parquet", t, t, b, i)));
        }
        if (!index_->Batch(add, {}).ok()) ++failures;
        if (b % 5 == 0 && !index_->Query("db", "t", {}).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(QueryPaths().size(), static_cast<size_t>(kThreads * kBatches * kPerBatch));
  EXPECT_EQ(ValueOrFail(index_->ListFolders("db", "t")).size(), static_cast<size_t>(kThreads));
}

TEST_P(IndexConformanceTest, ConcurrentAddsOfTheSamePathExactlyOneWins) {
  constexpr int kThreads = 6;
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    std::latch start(kThreads);
    std::atomic<int> ok{0};
    std::atomic<int> already_exists{0};
    std::atomic<int> other{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        // Each batch also adds a path of its own, which must land only with
        // the winner.
        std::vector<IndexEntry> add = {Entry(fmt::format("r{}/shared.1.parquet", round)),
                                       Entry(fmt::format("r{}/own{}.1.parquet", round, t))};
        start.arrive_and_wait();
        absl::Status status = index_->Batch(add, {});
        if (status.ok()) {
          ++ok;
        } else if (absl::IsAlreadyExists(status)) {
          ++already_exists;
        } else {
          ++other;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(ok.load(), 1) << "round " << round;
    EXPECT_EQ(already_exists.load(), kThreads - 1) << "round " << round;
    EXPECT_EQ(other.load(), 0) << "round " << round;
    QueryOptions options;
    options.folder = fmt::format("r{}", round);
    EXPECT_EQ(QueryPaths(options).size(), 2u) << "round " << round;
  }
}

TEST_P(IndexConformanceTest, ChangeVersionIncreasesWithEveryChange) {
  absl::StatusOr<int64_t> start = index_->ChangeVersion("db", "t");
  if (absl::IsUnimplemented(start.status())) GTEST_SKIP() << "backend keeps no change versions";
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(*start, 0) << "a table never changed";
  std::vector<int64_t> seen = {*start};
  auto expect_bumped = [&](const char* step) {
    int64_t now = ValueOrFail(index_->ChangeVersion("db", "t"));
    EXPECT_GT(now, seen.back()) << step;
    seen.push_back(now);
  };
  TableSchema schema;
  schema.database = "db";
  schema.table = "t";
  schema.columns = {{"time", "TIMESTAMP_NS"}};
  CATALOG_ASSERT_OK(index_->CreateTable(schema));
  expect_bumped("CreateTable");
  CATALOG_ASSERT_OK(index_->Batch({Entry("a.1.parquet"), Entry("b.1.parquet")}, {}));
  expect_bumped("Batch add");
  // Another table's change and a failed batch leave it alone.
  CATALOG_ASSERT_OK(index_->Batch({Entry("a.1.parquet", kT0, kT0, "db", "other")}, {}));
  EXPECT_FALSE(index_->Batch({Entry("a.1.parquet")}, {}).ok());
  EXPECT_EQ(ValueOrFail(index_->ChangeVersion("db", "t")), seen.back());
  CATALOG_ASSERT_OK(index_->Batch({}, {Ref("a.1.parquet")}));
  expect_bumped("Batch remove");
  ASSERT_TRUE(index_->DropTable("db", "t").ok());
  expect_bumped("DropTable");
  // Re-created: the version goes on from where it was, never back.
  CATALOG_ASSERT_OK(index_->CreateTable(schema));
  expect_bumped("CreateTable again");
}

TEST_P(IndexConformanceTest, QueryPathsCoverQueryAndGetManySkipsDeadPaths) {
  CATALOG_ASSERT_OK(index_->Batch(
      {Entry("date=2026-01-01/hour=00/a.1.parquet", kT0, kT0 + kHour - 1),
       Entry("date=2026-01-01/hour=01/b.1.parquet", kT0 + kHour, kT0 + 2 * kHour - 1),
       Entry("date=2026-01-02/hour=00/c.5.parquet", kT0 + kDay, kT0 + kDay + kHour - 1)},
      {}));
  QueryOptions options;
  options.after = kT0 + kHour;
  options.before = kT0 + kDay;
  absl::StatusOr<PathListing> listing = index_->QueryPaths("db", "t", options);
  if (absl::IsUnimplemented(listing.status())) GTEST_SKIP() << "backend keeps no change versions";
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_EQ(listing->version, ValueOrFail(index_->ChangeVersion("db", "t")));
  EXPECT_TRUE(std::is_sorted(listing->paths.begin(), listing->paths.end()));
  for (const std::string& path : QueryPaths(options)) {
    EXPECT_TRUE(std::binary_search(listing->paths.begin(), listing->paths.end(), path)) << path;
  }
  auto many = index_->GetMany("db", "t",
                              {"date=2026-01-02/hour=00/c.5.parquet", "missing/x.1.parquet",
                               "date=2026-01-01/hour=00/a.1.parquet"});
  ASSERT_TRUE(many.ok()) << many.status();
  EXPECT_EQ(Paths(*many), (Strings{"date=2026-01-01/hour=00/a.1.parquet",
                                   "date=2026-01-02/hour=00/c.5.parquet"}));
  EXPECT_EQ((*many)[1],
            Entry("date=2026-01-02/hour=00/c.5.parquet", kT0 + kDay, kT0 + kDay + kHour - 1));
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(IndexConformanceTest);

// ---- Merge plans and the drop queue. The backend runs with the default
// merge configuration: .1 files are due 10 s after the oldest was written and
// grouped up to 100 MiB; .2 files after 100 s, up to 400 MiB.

class MergePlanTest : public IndexConformanceTest {
 protected:
  static constexpr int64_t kMiB = 1 << 20;

  static IndexEntry Sized(const std::string& path, int64_t size_bytes, int64_t chunk_time) {
    IndexEntry e = Entry(path);
    e.size_bytes = size_bytes;
    e.chunk_time = chunk_time;
    return e;
  }

  std::optional<MergePlan> Lease(int64_t now_ns, bool ignore_timeouts = false,
                                 int64_t lease_ns = 60 * kSecond) {
    LeaseRequest request;
    request.writer_id = "test";
    request.now_ns = now_ns;
    request.lease_ns = lease_ns;
    request.ignore_timeouts = ignore_timeouts;
    auto plan = index_->LeaseMergePlan("db", "t", request);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() ? *plan : std::nullopt;
  }

  static IndexEntry Merged(const MergePlan& plan) {
    IndexEntry e = Entry(plan.target);
    e.size_bytes = 5000;
    e.row_count = 30;
    return e;
  }
};

TEST_P(MergePlanTest, PlanBecomesDueAfterTimeout) {
  CATALOG_ASSERT_OK(
      index_->Batch({Sized("date=2026-01-01/hour=05/b.1.parquet", 10, kT0),
                     Sized("date=2026-01-01/hour=05/a.1.parquet", 10, kT0 + kSecond),
                     Sized("date=2026-01-01/hour=05/c.1.parquet", 10, kT0 + 2 * kSecond)},
                    {}));
  EXPECT_FALSE(Lease(kT0 + 9 * kSecond).has_value());
  auto plan = Lease(kT0 + 10 * kSecond);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->database, "db");
  EXPECT_EQ(plan->table, "t");
  EXPECT_EQ(plan->folder, "date=2026-01-01/hour=05");
  EXPECT_EQ(plan->iteration, 1);
  EXPECT_EQ(plan->sources, (std::vector<std::string>{"date=2026-01-01/hour=05/a.1.parquet",
                                                     "date=2026-01-01/hour=05/b.1.parquet",
                                                     "date=2026-01-01/hour=05/c.1.parquet"}));
  EXPECT_EQ(FolderOfPath(plan->target), "date=2026-01-01/hour=05");
  EXPECT_EQ(IterationOfPath(plan->target), 2);
  EXPECT_EQ(plan->lease_expires_ns, kT0 + 70 * kSecond);
  EXPECT_FALSE(plan->id.empty());
}

TEST_P(MergePlanTest, SingleFilesAreNeverPlanned) {
  CATALOG_ASSERT_OK(index_->Batch(
      {Sized("date=2026-01-01/hour=05/a.1.parquet", 10, kT0),
       Sized("date=2026-01-01/hour=06/b.1.parquet", 10, kT0), Sized("c.1.parquet", 10, kT0)},
      {}));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Lease(kT0 + kDay, /*ignore_timeouts=*/true).has_value());
}

TEST_P(MergePlanTest, GroupsStayWithinMaxBytesAndSkipOversizedFiles) {
  CATALOG_ASSERT_OK(index_->Batch(
      {Sized("h/huge.1.parquet", 200 * kMiB, kT0), Sized("h/a.1.parquet", 90 * kMiB, kT0 + 1),
       Sized("h/b.1.parquet", 20 * kMiB, kT0 + 2), Sized("h/c.1.parquet", 20 * kMiB, kT0 + 3),
       Sized("h/d.1.parquet", 70 * kMiB, kT0 + 4)},
      {}));
  auto plan = Lease(kT0 + kHour);
  ASSERT_TRUE(plan.has_value());
  // huge never fits; a cannot pair with b (110 MiB); b + c fit, d does not.
  EXPECT_EQ(plan->sources, (std::vector<std::string>{"h/b.1.parquet", "h/c.1.parquet"}));
  EXPECT_FALSE(Lease(kT0 + kHour).has_value());  // the rest cannot pair up
}

TEST_P(MergePlanTest, LevelsUseTheirOwnConfiguration) {
  CATALOG_ASSERT_OK(
      index_->Batch({Sized("h/a.2.parquet", 10, kT0), Sized("h/b.2.parquet", 10, kT0),
                     Sized("h/x.5.parquet", 10, kT0), Sized("h/y.5.parquet", 10, kT0)},
                    {}));
  EXPECT_FALSE(Lease(kT0 + 99 * kSecond).has_value());  // .2 waits 100 s
  auto plan = Lease(kT0 + 100 * kSecond, false, /*lease_ns=*/2 * kDay);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->iteration, 2);
  EXPECT_EQ(IterationOfPath(plan->target), 3);
  // Iteration 5 is past the configuration: final, never planned.
  EXPECT_FALSE(Lease(kT0 + kDay, /*ignore_timeouts=*/true).has_value());
}

TEST_P(MergePlanTest, LeasesAreExclusiveUntilTheyExpire) {
  CATALOG_ASSERT_OK(
      index_->Batch({Sized("h/a.1.parquet", 10, kT0), Sized("h/b.1.parquet", 10, kT0)}, {}));
  auto first = Lease(kT0 + kHour, false, /*lease_ns=*/60 * kSecond);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(Lease(kT0 + kHour + 59 * kSecond).has_value());
  // The holder crashed: after expiry the same files are planned again.
  auto second = Lease(kT0 + kHour + 60 * kSecond);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->sources, first->sources);
  EXPECT_NE(second->id, first->id);
  // The expired lease can no longer complete; the new one can.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      index_->CompleteMerge(*first, Merged(*first), kT0 + kHour + 61 * kSecond, kT0)));
  CATALOG_EXPECT_OK(
      index_->CompleteMerge(*second, Merged(*second), kT0 + kHour + 61 * kSecond, kT0));
}

TEST_P(MergePlanTest, AbandonedPlansAreAvailableAtOnce) {
  CATALOG_ASSERT_OK(
      index_->Batch({Sized("h/a.1.parquet", 10, kT0), Sized("h/b.1.parquet", 10, kT0)}, {}));
  auto plan = Lease(kT0 + kHour);
  ASSERT_TRUE(plan.has_value());
  CATALOG_ASSERT_OK(index_->AbandonMerge(*plan));
  CATALOG_EXPECT_OK(index_->AbandonMerge(*plan));  // twice is fine
  auto again = Lease(kT0 + kHour);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->sources, plan->sources);
}

TEST_P(MergePlanTest, CompleteMergeSwapsAtomicallyAndQueuesDrops) {
  CATALOG_ASSERT_OK(index_->Batch({Sized("h/a.1.parquet", 10, kT0), Sized("h/b.1.parquet", 10, kT0),
                                   Sized("other/c.1.parquet", 10, kT0)},
                                  {}));
  auto plan = Lease(kT0 + kHour);
  ASSERT_TRUE(plan.has_value());
  ASSERT_EQ(plan->folder, "h");
  int64_t due = kT0 + kHour + 30 * kSecond;
  CATALOG_ASSERT_OK(index_->CompleteMerge(*plan, Merged(*plan), kT0 + kHour, due));
  EXPECT_EQ(QueryPaths(), (std::vector<std::string>{plan->target, "other/c.1.parquet"}));
  auto merged = index_->Get("db", "t", plan->target);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->row_count, 30);
  // Sources are deleted only once due.
  EXPECT_TRUE(ValueOrFail(index_->DueDrops("db", "t", due - 1, 100)).empty());
  auto drops = ValueOrFail(index_->DueDrops("db", "t", due, 100));
  ASSERT_EQ(drops.size(), 2u);
  EXPECT_EQ(drops[0], (DropItem{"db", "t", "h/a.1.parquet", due}));
  EXPECT_EQ(drops[1], (DropItem{"db", "t", "h/b.1.parquet", due}));
  EXPECT_EQ(ValueOrFail(index_->DueDrops("db", "t", due, 1)).size(), 1u);
  CATALOG_ASSERT_OK(index_->ForgetDrops(drops));
  CATALOG_EXPECT_OK(index_->ForgetDrops(drops));
  EXPECT_TRUE(ValueOrFail(index_->DueDrops("db", "t", due + kDay, 100)).empty());
  // Completing the same plan again changes nothing.
  EXPECT_TRUE(
      absl::IsFailedPrecondition(index_->CompleteMerge(*plan, Merged(*plan), kT0 + kHour, due)));
  EXPECT_EQ(QueryPaths().size(), 2u);
}

TEST_P(MergePlanTest, BadCompletionsChangeNothing) {
  CATALOG_ASSERT_OK(
      index_->Batch({Sized("h/a.1.parquet", 10, kT0), Sized("h/b.1.parquet", 10, kT0)}, {}));
  auto plan = Lease(kT0 + kHour);
  ASSERT_TRUE(plan.has_value());
  IndexEntry wrong = Merged(*plan);
  wrong.path = "h/elsewhere.2.parquet";
  EXPECT_TRUE(absl::IsInvalidArgument(index_->CompleteMerge(*plan, wrong, kT0 + kHour, kT0)));
  // A source removed behind the plan's back: the swap is refused whole.
  CATALOG_ASSERT_OK(index_->Batch({}, {Ref("h/a.1.parquet")}));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(index_->CompleteMerge(*plan, Merged(*plan), kT0 + kHour, kT0)));
  EXPECT_EQ(QueryPaths(), (std::vector<std::string>{"h/b.1.parquet"}));
  EXPECT_TRUE(ValueOrFail(index_->DueDrops("db", "t", kT0 + kDay, 100)).empty());
}

TEST_P(MergePlanTest, ConcurrentCompactorsNeverShareAFile) {
  std::vector<IndexEntry> files;
  for (int folder = 0; folder < 8; ++folder) {
    for (int i = 0; i < 6; ++i) {
      files.push_back(Sized(fmt::format("f{}/{}.1.parquet", folder, i), 30 * kMiB, kT0 + i));
    }
  }
  CATALOG_ASSERT_OK(index_->Batch(files, {}));
  constexpr int kThreads = 4;
  std::mutex mu;
  std::vector<std::string> leased;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      LeaseRequest request;
      request.writer_id = fmt::format("w{}", t);
      request.now_ns = kT0 + kHour;
      request.lease_ns = kHour;
      for (int round = 0; round < 20; ++round) {
        auto plan = index_->LeaseMergePlan("db", "t", request);
        ASSERT_TRUE(plan.ok()) << plan.status();
        if (!plan->has_value()) break;
        std::lock_guard lock(mu);
        for (const auto& path : (*plan)->sources) leased.push_back(path);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  // 30 MiB files, 100 MiB plans: each folder yields two plans of three files.
  EXPECT_EQ(leased.size(), files.size());
  std::sort(leased.begin(), leased.end());
  EXPECT_EQ(std::adjacent_find(leased.begin(), leased.end()), leased.end())
      << "a file was leased twice";
}

TEST_P(MergePlanTest, DropTableAlsoReturnsQueuedDrops) {
  TableSchema schema;
  schema.database = "db";
  schema.table = "t";
  schema.columns = {{"value", "BIGINT"}};
  CATALOG_ASSERT_OK(index_->CreateTable(schema));
  CATALOG_ASSERT_OK(
      index_->Batch({Sized("h/a.1.parquet", 10, kT0), Sized("h/b.1.parquet", 10, kT0)}, {}));
  auto plan = Lease(kT0 + kHour);
  ASSERT_TRUE(plan.has_value());
  CATALOG_ASSERT_OK(index_->CompleteMerge(*plan, Merged(*plan), kT0 + kHour, kT0 + kDay));
  auto removed = ValueOrFail(index_->DropTable("db", "t"));
  std::vector<std::string> paths = Paths(removed);
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> expected = {"h/a.1.parquet", "h/b.1.parquet", plan->target};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(paths, expected);
  EXPECT_TRUE(ValueOrFail(index_->DueDrops("db", "t", kT0 + 2 * kDay, 100)).empty());
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(MergePlanTest);

}  // namespace shardlake
