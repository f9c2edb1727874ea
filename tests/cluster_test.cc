// End-to-end tests of the cluster: a `shardlake server` and `shardlake
// worker` processes (SHARDLAKE_BIN) on 127.0.0.1 with OS-chosen ports, over a
// data dir bootstrapped once per test binary (TPC-H SF 0.01 in 4 buckets), and
// the cluster client library (client/cluster_client.h) or a raw gRPC stub.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/cluster_client.h"
#include "cluster/local_cluster.h"
#include "common/ids.h"
#include "common/sql_text.h"
#include "duck/duck.h"
#include "query/result_compare.h"
#include "shardlake.grpc.pb.h"
#include "tests/cli_runner.h"
#include "tests/cluster_fixture.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr char kClientPassword[] = "tiger-secret-1";
constexpr char kWorkerPassword[] = "united-secret-2";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_dir_ = new fs::path(fs::temp_directory_path() / ("shardlake-cluster-" + NewUuid()));
    BootstrapSmallLake(*data_dir_, kClientPassword, kWorkerPassword);
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*data_dir_, ignored);
    delete data_dir_;
  }

  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>(SmallClusterOptions(*data_dir_, kWorkerPassword));
    absl::Status started = cluster_->StartServer(seconds(30));
    ASSERT_TRUE(started.ok()) << started;
    address_ = cluster_->address();
  }
  void TearDown() override {
    EXPECT_EQ(cluster_->StopServer(), 0) << "the server did not stop cleanly";
    std::string log = cluster_->ServerLog();
    EXPECT_EQ(log.find(kClientPassword), std::string::npos) << "a password is in the log";
    EXPECT_EQ(log.find(kWorkerPassword), std::string::npos) << "a password is in the log";
    cluster_.reset();
  }

  std::string CaPath() const { return (*data_dir_ / "tls" / "ca.crt").string(); }

  ChildProcess& StartWorker(const std::string& name,
                            const std::string& password = kWorkerPassword) {
    return cluster_->StartWorker(name, password);
  }

  std::unique_ptr<ClusterClient> Connect(const std::string& password = kClientPassword) {
    auto client = ClusterClient::Connect({address_, CaPath(), "scott", password, 10});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  static fs::path* data_dir_;
  std::unique_ptr<LocalCluster> cluster_;
  std::string address_;
};

fs::path* ClusterTest::data_dir_ = nullptr;

const std::vector<std::string>& ComparedQueries() {
  static const std::vector<std::string> queries = {
      "SELECT count(*) FROM lineitem",
      "SELECT l_returnflag, l_linestatus, sum(l_quantity), avg(l_extendedprice), count(*), "
      "min(l_shipdate), max(l_discount) FROM lineitem GROUP BY ALL ORDER BY ALL",
      "SELECT o_orderpriority, count(*) FROM orders WHERE o_totalprice > 100000 GROUP BY 1 "
      "HAVING count(*) > 10 ORDER BY 1",
      "SELECT l_orderkey, l_linenumber, l_comment FROM lineitem WHERE l_quantity = 7 "
      "ORDER BY l_orderkey, l_linenumber LIMIT 25",
      "SELECT count(DISTINCT l_suppkey) FROM lineitem",
  };
  return queries;
}

TEST_F(ClusterTest, LoginErrorsAreClearAndTheServerKeepsServing) {
  auto bad = ClusterClient::Connect({address_, CaPath(), "scott", "wrong-password", 10});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnauthenticated) << bad.status();
  EXPECT_EQ(std::string(bad.status().message()).find("wrong-password"), std::string::npos);

  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto answer = RunSql(*client, "SELECT 40 + 2 AS answer");
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->rows.size(), 1u);
  EXPECT_EQ(answer->columns, std::vector<std::string>{"answer"});
  EXPECT_EQ(answer->rows[0][0], "42");

  // Malformed requests: empty SQL, an unknown option, a bad option value.
  auto empty = RunSql(*client, "  ;  ");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument) << empty.status();
  absl::Status unknown = client->SetOption("no_such_option", "1");
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(unknown.message()).find("no_such_option"), std::string::npos);
  EXPECT_EQ(client->SetOption("timeout", "soon").code(), absl::StatusCode::kInvalidArgument);
  auto parse_error = RunSql(*client, "SELEC 1");
  EXPECT_FALSE(parse_error.ok());

  // A bad token, through the raw service.
  auto channel = grpc::CreateChannel(address_, grpc::SslCredentials({ReadFile(CaPath()), "", ""}));
  auto stub = v1::ClientService::NewStub(channel);
  grpc::ClientContext context;
  v1::StatusRequest request;
  request.set_session_token(std::string(64, 'a'));
  v1::StatusReply reply;
  grpc::Status status = stub->Status(&context, request, &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();

  // The first session still works.
  EXPECT_TRUE(RunSql(*client, "SELECT 1").ok());
}

TEST_F(ClusterTest, PlainTextConnectionToTheTlsPortFails) {
  auto channel = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  auto stub = v1::ClientService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(5));
  v1::LoginRequest request;
  request.set_username("scott");
  request.set_password(kClientPassword);
  v1::LoginReply reply;
  grpc::Status status = stub->Login(&context, request, &reply);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_code() << " " << status.error_message();
  EXPECT_TRUE(reply.session_token().empty());
  auto client = Connect();
  ASSERT_NE(client, nullptr);
}

TEST_F(ClusterTest, FailedLoginsAreRateLimited) {
  absl::Status last;
  for (int attempt = 0; attempt < 7; ++attempt) {
    last = ClusterClient::Connect(
               {address_, CaPath(), "scott", "guess-" + std::to_string(attempt), 10})
               .status();
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted) << last;
  // Even the right password waits for the window now.
  auto blocked = ClusterClient::Connect({address_, CaPath(), "scott", kClientPassword, 10});
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(cluster_->ServerLog().find("failed login of user 'scott'"), std::string::npos);
}

TEST_F(ClusterTest, WorkerWithTheWrongPasswordIsRefused) {
  ChildProcess& worker = StartWorker("intruder", "not-the-password");
  int code = worker.Wait(seconds(30));
  EXPECT_NE(code, 0);
  EXPECT_NE(code, -1) << "the worker kept running";
  EXPECT_NE(worker.Log().find("wrong worker password"), std::string::npos) << worker.Log();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto status = client->Status();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->workers, 0);
}

TEST_F(ClusterTest, SameAnswersWithZeroOneAndTwoWorkers) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SetOption("distributed", "false").ok());
  std::vector<Answer> expected;
  for (const auto& sql : ComparedQueries()) {
    auto answer = RunSql(*client, sql);
    ASSERT_TRUE(answer.ok()) << sql << ": " << answer.status();
    EXPECT_FALSE(answer->outcome.distributed);
    expected.push_back(*answer);
  }
  ASSERT_TRUE(client->SetOption("distributed", "true").ok());
  for (int workers = 0; workers <= 2; ++workers) {
    if (workers > 0) StartWorker("w" + std::to_string(workers));
    WaitForWorkers(*client, workers);
    for (size_t i = 0; i < ComparedQueries().size(); ++i) {
      auto answer = RunSql(*client, ComparedQueries()[i]);
      ASSERT_TRUE(answer.ok()) << ComparedQueries()[i] << ": " << answer.status();
      EXPECT_EQ(answer->columns, expected[i].columns) << ComparedQueries()[i];
      // Doubles (avg) summed in another order may differ in the last bits.
      CompareOptions compare;
      compare.ordered = true;
      compare.approximate_columns.assign(answer->columns.size(), true);
      EXPECT_TRUE(CompareResults(expected[i].columns, expected[i].rows, answer->columns,
                                 answer->rows, compare)
                      .ok())
          << ComparedQueries()[i] << " with " << workers << " worker(s)";
      if (workers == 0) {
        EXPECT_FALSE(answer->outcome.distributed);
        EXPECT_NE(answer->outcome.fallback_reason.find("no worker"), std::string::npos);
      }
    }
  }
  // The simplest aggregate is distributed once workers are up, over both.
  auto count = RunSql(*client, "SELECT count(*) FROM lineitem");
  ASSERT_TRUE(count.ok());
  EXPECT_TRUE(count->outcome.distributed) << count->outcome.fallback_reason;
  EXPECT_GT(count->outcome.bytes_from_workers, 0);
  auto explain = RunSql(*client, "EXPLAIN SELECT count(*) FROM lineitem");
  ASSERT_TRUE(explain.ok()) << explain.status();
  std::string text;
  for (const auto& row : explain->rows)
    text += row[0].value_or("") + "=" + row[1].value_or("") + "\n";
  EXPECT_NE(text.find("worker sql"), std::string::npos) << text;
  EXPECT_NE(text.find("files per worker"), std::string::npos) << text;
  // summarize = false: the partial rows, one or more per task.
  ASSERT_TRUE(client->SetOption("summarize", "false").ok());
  auto partials = RunSql(*client, "SELECT count(*) FROM lineitem");
  ASSERT_TRUE(partials.ok()) << partials.status();
  EXPECT_GE(partials->rows.size(), 1u);
}

TEST_F(ClusterTest, SqlThatFailsOnAWorkerFailsTheQueryClearly) {
  StartWorker("w1");
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  WaitForWorkers(*client, 1);
  auto answer = RunSql(*client, "SELECT sum(CAST(l_comment AS INTEGER)) FROM lineitem");
  ASSERT_FALSE(answer.ok());
  EXPECT_NE(std::string(answer.status().message()).find("Conversion"), std::string::npos)
      << answer.status();
  // The session and the worker still serve.
  EXPECT_TRUE(RunSql(*client, "SELECT count(*) FROM lineitem").ok());
}

TEST_F(ClusterTest, KilledAndStalledWorkersHaveTheirTasksRerun) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  const std::string sql =
      "SELECT l_returnflag, sum(l_quantity), count(*) FROM lineitem GROUP BY 1 ORDER BY 1";
  ASSERT_TRUE(client->SetOption("distributed", "false").ok());
  auto expected = RunSql(*client, sql);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_TRUE(client->SetOption("distributed", "true").ok());
  auto observer = Connect();  // Status calls while `client` runs the query
  ASSERT_NE(observer, nullptr);

  // kill -9 while the victim holds every task: it is the only worker and
  // stopped when the query starts; a second worker joins, then the victim dies.
  ChildProcess& victim = StartWorker("victim");
  WaitForWorkers(*observer, 1);
  victim.Signal(SIGSTOP);
  auto running = std::async(std::launch::async, [&] { return RunSql(*client, sql); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ChildProcess& survivor = StartWorker("survivor");
  WaitForWorkers(*observer, 2);
  victim.Signal(SIGKILL);
  ASSERT_EQ(running.wait_for(seconds(60)), std::future_status::ready);
  auto answer = running.get();
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->rows, expected->rows);
  EXPECT_TRUE(answer->outcome.distributed);
  EXPECT_GT(answer->outcome.tasks_retried, 0);
  EXPECT_EQ(answer->outcome.workers_used, 1);
  WaitForWorkers(*observer, 1);

  // The survivor stalls (SIGSTOP): it misses its heartbeats, is dropped, and
  // with no worker left the server runs the tasks itself.
  survivor.Signal(SIGSTOP);
  auto started = steady_clock::now();
  auto stalled = RunSql(*client, sql);
  ASSERT_TRUE(stalled.ok()) << stalled.status();
  EXPECT_EQ(stalled->rows, expected->rows);
  EXPECT_GT(stalled->outcome.tasks_retried, 0);
  EXPECT_LT(steady_clock::now() - started, seconds(30));
  EXPECT_NE(cluster_->ServerLog().find("dropped"), std::string::npos) << cluster_->ServerLog();
  survivor.Signal(SIGCONT);
}

TEST_F(ClusterTest, CancelAndTimeoutStopALongQuery) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  const std::string slow = "SELECT sum(i * i) FROM range(0, 20000000000) AS t(i)";
  auto running = std::async(std::launch::async, [&] { return RunSql(*client, slow); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto cancelled_at = steady_clock::now();
  client->Cancel();
  ASSERT_EQ(running.wait_for(seconds(20)), std::future_status::ready);
  auto answer = running.get();
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kCancelled) << answer.status();
  EXPECT_LT(steady_clock::now() - cancelled_at, seconds(5));

  ASSERT_TRUE(client->SetOption("timeout", "0.5").ok());
  auto timed_out = RunSql(*client, slow);
  EXPECT_EQ(timed_out.status().code(), absl::StatusCode::kDeadlineExceeded) << timed_out.status();
  ASSERT_TRUE(client->SetOption("timeout", "0").ok());

  // A distributed query waiting on a stalled worker is cancelled too.
  ChildProcess& worker = StartWorker("slowpoke");
  WaitForWorkers(*client, 1);
  worker.Signal(SIGSTOP);
  auto waiting = std::async(std::launch::async,
                            [&] { return RunSql(*client, "SELECT count(*) FROM lineitem"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  client->Cancel();
  ASSERT_EQ(waiting.wait_for(seconds(10)), std::future_status::ready);
  auto cancelled = waiting.get();
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled) << cancelled.status();
  worker.Signal(SIGCONT);
  EXPECT_TRUE(RunSql(*client, "SELECT 1").ok());
}

}  // namespace
}  // namespace shardlake
