// End-to-end tests of the cluster's result transport (issue #6's gaps): a
// `shardlake server` and `shardlake worker` processes (SHARDLAKE_BIN) on
// 127.0.0.1 with OS-chosen ports over a TPC-H SF 0.01 data dir in 4 buckets
// (bootstrapped once per binary), through the client library. Each test
// starts its own server, with the flags it is about.
//
// Bounded message sizes, a worker result far larger than the server's
// per-query buffer, the real column types of server-run results, CancelTask
// stopping the work on the worker, and the server's background compaction.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/cluster_client.h"
#include "cluster/local_cluster.h"
#include "cluster/result_batches.h"
#include "common/ids.h"
#include "fmt/format.h"
#include "shardlake.grpc.pb.h"
#include "tests/cli_runner.h"
#include "tests/cluster_fixture.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr char kClientPassword[] = "tiger-flow-1";
constexpr char kWorkerPassword[] = "united-flow-2";

// CPU seconds (user + system) a process has used, from /proc/<pid>/stat;
// negative when it cannot be read.
double CpuSeconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

class ClusterFlowTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_dir_ = new fs::path(fs::temp_directory_path() / ("shardlake-flow-" + NewUuid()));
    BootstrapSmallLake(*data_dir_, kClientPassword, kWorkerPassword);
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*data_dir_, ignored);
    delete data_dir_;
  }

  void TearDown() override {
    if (cluster_ == nullptr) return;
    EXPECT_EQ(cluster_->StopServer(), 0) << "the server did not stop cleanly";
    cluster_.reset();
  }

  // Starts a server with `server_args` (after `server`) and returns a client.
  std::unique_ptr<ClusterClient> StartCluster(std::vector<std::string> server_args) {
    cluster_ = std::make_unique<LocalCluster>(
        SmallClusterOptions(*data_dir_, kWorkerPassword, std::move(server_args)));
    absl::Status started = cluster_->StartServer(seconds(30));
    EXPECT_TRUE(started.ok()) << started;
    if (!started.ok()) return nullptr;
    auto client = ClusterClient::Connect(
        {cluster_->address(), cluster_->ca_file(), "scott", kClientPassword, 10});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // The answer with distributed off (the server alone) and on.
  void RunBothWays(ClusterClient& client, const std::string& sql, Answer* local,
                   Answer* distributed) {
    ASSERT_TRUE(client.SetOption("distributed", "false").ok());
    auto first = RunSql(client, sql);
    ASSERT_TRUE(first.ok()) << sql << ": " << first.status();
    EXPECT_FALSE(first->outcome.distributed);
    ASSERT_TRUE(client.SetOption("distributed", "true").ok());
    auto second = RunSql(client, sql);
    ASSERT_TRUE(second.ok()) << sql << ": " << second.status();
    EXPECT_TRUE(second->outcome.distributed) << sql << ": " << second->outcome.fallback_reason;
    *local = std::move(*first);
    *distributed = std::move(*second);
  }

  static fs::path* data_dir_;
  std::unique_ptr<LocalCluster> cluster_;
};

fs::path* ClusterFlowTest::data_dir_ = nullptr;

// About 3000 rows of about 10 KB each (30 MB): every DuckDB chunk of them,
// on the worker and on the coordinator, is far larger than 4 MiB.
constexpr char kWideQuery[] =
    "SELECT l_orderkey, l_linenumber, repeat(l_comment, 10000 // length(l_comment) + 1) AS wide "
    "FROM lineitem WHERE l_orderkey <= 3000 ORDER BY l_orderkey, l_linenumber";

TEST_F(ClusterFlowTest, WideRowsTravelInMessagesOfAtMost4MiBAndArriveExactly) {
  auto client = StartCluster({"--compact-interval", "0"});
  ASSERT_NE(client, nullptr);
  cluster_->StartWorker("wide");
  WaitForWorkers(*client, 1);
  Answer local, distributed;
  RunBothWays(*client, kWideQuery, &local, &distributed);
  if (HasFatalFailure()) return;
  ASSERT_GT(local.rows.size(), 2048u);
  EXPECT_EQ(distributed.rows, local.rows);
  for (const Answer* answer : {&local, &distributed}) {
    EXPECT_LE(answer->outcome.largest_reply_bytes, kMaxResultMessageBytes);
    EXPECT_GT(answer->outcome.largest_reply_bytes, kMaxResultMessageBytes / 2)
        << "batches far below the bound: the rows were not wide enough to test anything";
  }
  EXPECT_LE(distributed.outcome.largest_worker_batch_bytes, kMaxBatchBytes);
  EXPECT_GT(distributed.outcome.bytes_from_workers, 20 << 20);
  std::cout << "[ figures  ] " << distributed.rows.size() << " rows, "
            << distributed.outcome.bytes_from_workers << " bytes from the worker; largest reply "
            << local.outcome.largest_reply_bytes << " (server-run) / "
            << distributed.outcome.largest_reply_bytes << " (distributed), largest worker batch "
            << distributed.outcome.largest_worker_batch_bytes << "\n";
  // Every row is whole: the text is the comment repeated past 10 KB.
  for (const auto& row : distributed.rows) {
    ASSERT_TRUE(row[2].has_value());
    ASSERT_GE(row[2]->size(), 10000u);
  }
}

TEST_F(ClusterFlowTest, AWorkerResultFarLargerThanTheQueryBufferCompletesExactly) {
  // 1 MiB of worker batches per query; the result is about 30 MB.
  auto client = StartCluster({"--compact-interval", "0", "--query-buffer-mb", "1"});
  ASSERT_NE(client, nullptr);
  cluster_->StartWorker("flow");
  WaitForWorkers(*client, 1);
  Answer local, distributed;
  RunBothWays(*client, kWideQuery, &local, &distributed);
  if (HasFatalFailure()) return;
  EXPECT_EQ(distributed.rows, local.rows);
  const auto& outcome = distributed.outcome;
  EXPECT_GT(outcome.bytes_from_workers, 20 * (int64_t{1} << 20));
  EXPECT_GT(outcome.peak_buffered_bytes, 0);
  EXPECT_LE(outcome.peak_buffered_bytes, (int64_t{1} << 20) + outcome.largest_worker_batch_bytes)
      << "the server buffered more than its bound plus one batch";
  std::cout << "[ figures  ] " << outcome.bytes_from_workers << " bytes from the worker through "
            << "a 1 MiB buffer: peak " << outcome.peak_buffered_bytes << ", largest batch "
            << outcome.largest_worker_batch_bytes << ", " << outcome.server_seconds << " s\n";
  // The worker stayed connected through the back-pressure (no heartbeat loss).
  EXPECT_EQ(outcome.tasks_retried, 0);
  auto status = client->Status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->workers, 1);
  // A second query on the same worker stream still runs.
  auto count = RunSql(*client, "SELECT count(*) FROM lineitem");
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_TRUE(count->outcome.distributed);
}

TEST_F(ClusterFlowTest, ASlowClientHoldsTheStatementBackInsteadOfTheServerBuffering) {
  auto observer = StartCluster({"--compact-interval", "0"});
  ASSERT_NE(observer, nullptr);
  // A raw client with gRPC's default 4 MiB receive limit: every message fits.
  std::ifstream ca_file(cluster_->ca_file());
  std::string ca((std::istreambuf_iterator<char>(ca_file)), std::istreambuf_iterator<char>());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ca;
  auto stub = v1::ClientService::NewStub(
      grpc::CreateChannel(cluster_->address(), grpc::SslCredentials(ssl)));
  grpc::ClientContext login_context;
  v1::LoginRequest login;
  login.set_username("scott");
  login.set_password(kClientPassword);
  v1::LoginReply session;
  ASSERT_TRUE(stub->Login(&login_context, login, &session).ok());
  v1::ExecuteRequest request;
  request.set_session_token(session.session_token());
  request.set_sql(kWideQuery);  // about 30 MB, on the server (no worker)
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(120));
  auto reader = stub->Execute(&context, request);
  v1::ExecuteReply reply;
  ASSERT_TRUE(reader->Read(&reply));
  ASSERT_TRUE(reply.has_header());
  // The client stops reading. Run alone, the statement takes well under a
  // second; held back by flow control it is still running seconds later.
  std::this_thread::sleep_for(seconds(3));
  auto status = observer->Status();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->queries_running, 1)
      << "the statement finished while its client read nothing: the server buffered the result";
  // Then it reads everything, and nothing is lost.
  int64_t batches = 0;
  int64_t rows = -1;
  while (reader->Read(&reply)) {
    if (reply.part_case() == v1::ExecuteReply::kBatch) ++batches;
    if (reply.has_trailer()) rows = reply.trailer().rows();
  }
  grpc::Status finished = reader->Finish();
  ASSERT_TRUE(finished.ok()) << finished.error_message();
  auto expected = RunSql(*observer, "SELECT count(*) FROM lineitem WHERE l_orderkey <= 3000");
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(std::to_string(rows), expected->rows[0][0].value_or("?"));
  EXPECT_GE(batches, 7) << "30 MB in batches of at most 4 MiB";
}

TEST_F(ClusterFlowTest, ServerRunResultsReportTheirRealColumnTypes) {
  auto client = StartCluster({"--compact-interval", "0"});
  ASSERT_NE(client, nullptr);
  cluster_->StartWorker("types");
  WaitForWorkers(*client, 1);
  const std::vector<std::string> queries = {
      "SELECT l_orderkey, l_linenumber, l_quantity, l_shipdate, l_extendedprice::DOUBLE AS price, "
      "l_comment FROM lineitem ORDER BY l_orderkey, l_linenumber LIMIT 5",
      "SELECT l_returnflag, min(l_linenumber) AS lo, max(l_quantity) AS most, "
      "max(l_shipdate) AS last_ship, avg(l_discount) AS mean FROM lineitem GROUP BY 1 ORDER BY 1",
  };
  for (const auto& sql : queries) {
    Answer local, distributed;
    RunBothWays(*client, sql, &local, &distributed);
    if (HasFatalFailure()) return;
    EXPECT_EQ(local.outcome.column_types, distributed.outcome.column_types) << sql;
    EXPECT_EQ(local.rows, distributed.rows) << sql;
  }
  ASSERT_TRUE(client->SetOption("distributed", "false").ok());
  auto scan = RunSql(*client, queries[0]);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->outcome.column_types,
            (std::vector<std::string>{"BIGINT", "INTEGER", "DECIMAL(15,2)", "DATE", "DOUBLE",
                                      "VARCHAR"}));
  auto literal = RunSql(*client, "SELECT 42 AS i, 1.5 AS d, DATE '2024-02-29' AS day");
  ASSERT_TRUE(literal.ok()) << literal.status();
  EXPECT_EQ(literal->outcome.column_types,
            (std::vector<std::string>{"INTEGER", "DECIMAL(2,1)", "DATE"}));
  ASSERT_EQ(literal->rows.size(), 1u);
  EXPECT_EQ(literal->rows[0][2].value_or(""), "2024-02-29");
}

TEST_F(ClusterFlowTest, CancelStopsTheWorkOnTheWorker) {
  auto client = StartCluster({"--compact-interval", "0"});
  ASSERT_NE(client, nullptr);
  ChildProcess& worker = cluster_->StartWorker("busy");
  WaitForWorkers(*client, 1);
  // An edit distance of two 500-character strings per row: about a minute
  // of CPU on the worker, in chunks of a second or two (DuckDB checks for
  // interrupts between chunks), with little memory.
  const std::string slow =
      "SELECT count(*) FROM lineitem WHERE levenshtein(repeat(l_comment, 20), "
      "reverse(repeat(l_comment, 20))) > 1";
  auto explain = RunSql(*client, "EXPLAIN " + slow);
  ASSERT_TRUE(explain.ok()) << explain.status();
  ASSERT_FALSE(explain->rows.empty());
  ASSERT_EQ(explain->rows[0][1].value_or(""), "yes") << "the slow query must run on the worker";

  double idle_cpu = CpuSeconds(worker.pid());
  ASSERT_GE(idle_cpu, 0);
  auto running = std::async(std::launch::async, [&] { return RunSql(*client, slow); });
  // Wait (bounded) until the worker is visibly busy with it.
  auto deadline = steady_clock::now() + seconds(30);
  while (steady_clock::now() < deadline && CpuSeconds(worker.pid()) < idle_cpu + 1.0) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_GE(CpuSeconds(worker.pid()), idle_cpu + 1.0) << "the worker never started the task";
  ASSERT_NE(running.wait_for(milliseconds(0)), std::future_status::ready)
      << "the query finished before it could be cancelled";
  client->Cancel();
  ASSERT_EQ(running.wait_for(seconds(10)), std::future_status::ready);
  auto answer = running.get();
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kCancelled) << answer.status();

  // Within 10 s of the cancel the worker is idle: under 0.2 CPU seconds in a
  // 1 s window (the task used a whole core).
  bool idle = false;
  deadline = steady_clock::now() + seconds(10);
  while (!idle && steady_clock::now() < deadline) {
    double before = CpuSeconds(worker.pid());
    std::this_thread::sleep_for(seconds(1));
    idle = CpuSeconds(worker.pid()) - before < 0.2;
  }
  EXPECT_TRUE(idle) << "the worker kept working on the cancelled task";
  EXPECT_NE(worker.Log().find("cancelled"), std::string::npos) << worker.Log();
  // And it takes the next query at once.
  auto started = steady_clock::now();
  auto next = RunSql(*client, "SELECT count(*) FROM lineitem");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(next->outcome.distributed);
  EXPECT_EQ(next->outcome.workers_used, 1);
  EXPECT_LT(steady_clock::now() - started, seconds(10));
}

// The "N of M files scanned" count of a table, from EXPLAIN on the server.
absl::StatusOr<int> FilesOf(ClusterClient& client, const std::string& table) {
  auto explain = RunSql(client, "EXPLAIN SELECT * FROM " + table);
  if (!explain.ok()) return explain.status();
  static const std::regex kScanned(R"((\d+) of (\d+) files scanned)");
  for (const auto& row : explain->rows) {
    std::smatch match;
    std::string value = row.size() > 1 ? row[1].value_or("") : "";
    if (std::regex_search(value, match, kScanned)) return std::stoi(match[2].str());
  }
  return absl::NotFoundError("EXPLAIN did not count the table's files");
}

TEST_F(ClusterFlowTest, BackgroundCompactionMergesFilesAndKeepsAnswers) {
  auto client = StartCluster({"--compact-interval", "1"});
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SetOption("distributed", "false").ok());
  ASSERT_TRUE(RunSql(*client, "CREATE TABLE flow_events (time TIMESTAMP_NS, v BIGINT)").ok());
  constexpr int kBatches = 6;
  for (int i = 0; i < kBatches; ++i) {
    auto inserted = RunSql(
        *client, fmt::format("INSERT INTO flow_events SELECT TIMESTAMP_NS '2026-01-01 05:00:00' + "
                             "INTERVAL ({0} * 100 + j) SECOND, {0} * 100 + j FROM range(100) r(j)",
                             i));
    ASSERT_TRUE(inserted.ok()) << inserted.status();
  }
  const std::string answer_sql =
      "SELECT count(*), sum(v), min(time), max(time), count(DISTINCT v) FROM flow_events";
  auto before = RunSql(*client, answer_sql);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->rows.size(), 1u);
  EXPECT_EQ(before->rows[0][0].value_or(""), "600");
  auto files = FilesOf(*client, "flow_events");
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(*files, kBatches);

  // The first merge level is due 10 s after the files were written.
  auto deadline = steady_clock::now() + seconds(90);
  while (steady_clock::now() < deadline) {
    files = FilesOf(*client, "flow_events");
    ASSERT_TRUE(files.ok()) << files.status();
    if (*files < kBatches) break;
    std::this_thread::sleep_for(milliseconds(500));
  }
  EXPECT_EQ(*files, 1) << "the server's compactor did not merge the table's files in 90 s\n"
                       << cluster_->ServerLog();
  auto after = RunSql(*client, answer_sql);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->rows, before->rows);
  // Only this table had files to merge (the TPC-H buckets hold one file each).
  EXPECT_NE(cluster_->ServerLog().find("compaction: 6 file(s) merged in 1 plan(s)"),
            std::string::npos)
      << cluster_->ServerLog();
}

}  // namespace
}  // namespace shardlake
