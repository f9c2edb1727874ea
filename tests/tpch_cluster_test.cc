// The 22 TPC-H queries at SF 0.01 through the cluster (server + 0, 1, 2 and 4
// worker processes, the client protocol over TLS) must give exactly the
// answer DuckDB gives when run directly on the same Parquet files: same
// columns, same rows (doubles to 1e-9 relative), same order where the query
// orders. The lake is made by `shardlake bootstrap` (orders and lineitem in 4
// buckets).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/cluster_client.h"
#include "cluster/local_cluster.h"
#include "common/ids.h"
#include "common/sql_text.h"
#include "duck/duck.h"
#include "fmt/format.h"
#include "query/result_compare.h"
#include "tests/cli_runner.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;

constexpr int kQueries = 22;
const char* const kTables[] = {"nation",   "region",   "part",   "supplier",
                               "partsupp", "customer", "orders", "lineitem"};

struct Expected {
  std::vector<std::string> columns;
  std::vector<TextRow> rows;
  CompareOptions compare;
};

std::string QueryText(int number) {
  fs::path path =
      fs::path(SHARDLAKE_SOURCE_DIR) / "queries/tpch" / fmt::format("q{:02}.sql", number);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == ';')) {
    text.pop_back();
  }
  return text;
}

bool Orders(const std::string& sql) {
  std::string lower = sql;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("order by") != std::string::npos;
}

class TpchClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("shardlake-tpch-cluster-" + NewUuid()));
    fs::create_directories(*root_);
    data_dir_ = new std::string((*root_ / "data").string());
    auto result = RunShardlake({"--data-dir", *data_dir_, "bootstrap", "--client-username=scott",
                                "--client-password=tiger-tiger", "--worker-password=united-united",
                                "--tpch-scale-factor=0.01", "--shard-count=4"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    expected_ = new std::map<int, Expected>(ComputeExpected(*data_dir_));
  }
  static void TearDownTestSuite() {
    std::error_code error;
    fs::remove_all(*root_, error);
    delete expected_;
    delete data_dir_;
    delete root_;
  }

  // DuckDB alone over the bootstrap's Parquet files, with no shardlake code
  // between them.
  static std::map<int, Expected> ComputeExpected(const std::string& data_dir) {
    std::map<int, Expected> expected;
    auto database = duck::Database::Open("");
    EXPECT_TRUE(database.ok()) << database.status();
    auto connection = duck::Connection::Open(**database);
    EXPECT_TRUE(connection.ok()) << connection.status();
    for (const char* table : kTables) {
      std::string glob = fmt::format("{}/lake/main/{}/**/*.parquet", data_dir, table);
      auto status = (*connection)
                        ->Execute(fmt::format("CREATE VIEW main.{} AS SELECT * FROM "
                                              "read_parquet({}, hive_partitioning = false)",
                                              table, QuoteLiteral(glob)));
      EXPECT_TRUE(status.ok()) << status;
    }
    for (int q = 1; q <= kQueries; ++q) {
      std::string sql = QueryText(q);
      auto result = (*connection)->Query(sql);
      EXPECT_TRUE(result.ok()) << "Q" << q << ": " << result.status();
      if (!result.ok()) continue;
      Expected& e = expected[q];
      for (size_t c = 0; c < (*result)->ColumnCount(); ++c) {
        e.columns.push_back((*result)->ColumnName(c));
        auto kind = (*result)->ColumnKind(c);
        e.compare.approximate_columns.push_back(kind == duck::TypeKind::kDouble ||
                                                kind == duck::TypeKind::kFloat);
      }
      e.compare.ordered = Orders(sql);
      // As text, the way shardlake renders results (DuckDB's VARCHAR casts).
      auto text = (*connection)
                      ->Query(fmt::format(
                          "SELECT COLUMNS(*)::VARCHAR FROM ({}\n) AS __shardlake_result", sql));
      EXPECT_TRUE(text.ok()) << "Q" << q << ": " << text.status();
      if (!text.ok()) continue;
      auto rows = (*text)->FetchAllAsStrings();
      EXPECT_TRUE(rows.ok()) << rows.status();
      if (rows.ok()) e.rows = std::move(*rows);
    }
    return expected;
  }

  static absl::StatusOr<std::unique_ptr<ClusterClient>> Connect(const LocalCluster& cluster) {
    ClientOptions options;
    options.address = cluster.address();
    options.tls_roots_path = cluster.ca_file();
    options.username = "scott";
    options.password = "tiger-tiger";
    return ClusterClient::Connect(options);
  }

  static void WaitForWorkers(ClusterClient& client, int count) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int seen = -1;
    while (std::chrono::steady_clock::now() < deadline) {
      auto status = client.Status();
      ASSERT_TRUE(status.ok()) << status.status();
      seen = status->workers;
      if (seen == count) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "expected " << count << " workers, the server reports " << seen;
  }

  // Runs all 22 queries and checks each against DuckDB alone; returns the
  // numbers of the queries that ran distributed.
  static std::set<int> RunAllQueries(ClusterClient& client, int workers) {
    std::set<int> distributed;
    for (int q = 1; q <= kQueries; ++q) {
      SCOPED_TRACE(fmt::format("Q{} with {} workers", q, workers));
      CollectingSink sink;
      auto outcome = client.Execute(QueryText(q), sink);
      EXPECT_TRUE(outcome.ok()) << outcome.status();
      if (!outcome.ok()) continue;
      if (outcome->distributed) distributed.insert(q);
      if (workers == 0) {
        EXPECT_FALSE(outcome->distributed);
      }
      const Expected& e = expected_->at(q);
      auto same = CompareResults(e.columns, e.rows, sink.columns(), sink.rows(), e.compare);
      EXPECT_TRUE(same.ok()) << same
                             << (outcome->distributed
                                     ? " (distributed)"
                                     : " (not distributed: " + outcome->fallback_reason + ")");
    }
    return distributed;
  }

  static fs::path* root_;
  static std::string* data_dir_;
  static std::map<int, Expected>* expected_;
};

fs::path* TpchClusterTest::root_ = nullptr;
std::string* TpchClusterTest::data_dir_ = nullptr;
std::map<int, Expected>* TpchClusterTest::expected_ = nullptr;

TEST_F(TpchClusterTest, AllQueriesMatchDuckDbWithZeroOneTwoAndFourWorkers) {
  ASSERT_EQ(expected_->size(), static_cast<size_t>(kQueries));
  LocalCluster::Options options;
  options.binary = std::getenv("SHARDLAKE_BIN");
  options.data_dir = *data_dir_;
  options.worker_password = "united-united";
  options.server_args = {"--compact-interval", "0"};
  LocalCluster cluster(options);
  ASSERT_TRUE(cluster.StartServer().ok()) << cluster.ServerLog();
  auto client = Connect(cluster);
  ASSERT_TRUE(client.ok()) << client.status() << "\n" << cluster.ServerLog();

  int started = 0;
  for (int workers : {0, 1, 2, 4}) {
    while (started < workers) cluster.StartWorker(fmt::format("worker-{}", ++started));
    WaitForWorkers(**client, workers);
    std::set<int> distributed = RunAllQueries(**client, workers);
    if (workers > 0) {
      // The plain aggregation and co-located join queries must really run on
      // the workers (the planner's own tests list why the others fall back).
      for (int q : {1, 3, 5, 6, 10, 12, 14}) {
        EXPECT_TRUE(distributed.count(q))
            << "Q" << q << " did not run distributed with " << workers << " workers";
      }
    }
    std::printf("%d workers: %zu of 22 queries distributed\n", workers, distributed.size());
  }
}

}  // namespace
}  // namespace shardlake
