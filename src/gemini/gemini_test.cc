// gemini against real targets: the embedded engine against in-process DuckDB
// and against a real PostgreSQL (started in a temp dir), the fault switch in
// the engine, determinism of a seed, and the CLI's exit codes.
//
// GEMINI_TEST_SECONDS scales the mixed runs (default 20 s; the long run below
// is 60 s as issue #7 asks, or 3x GEMINI_TEST_SECONDS when that is set).
#include "gemini/gemini.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "catalog/postgres/postgres_test_server.h"
#include "cluster/local_cluster.h"
#include "common/ids.h"
#include "tests/cli_runner.h"

namespace shardlake::gemini {
namespace {

namespace fs = std::filesystem;

double TestSeconds(double fallback) {
  const char* text = std::getenv("GEMINI_TEST_SECONDS");
  return text != nullptr ? std::atof(text) : fallback;
}

class TempPath {
 public:
  explicit TempPath(const std::string& name)
      : path_(fs::temp_directory_path() / ("gemini-test-" + NewUuid() + "-" + name)) {}
  ~TempPath() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> SortedLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

Config BaseConfig(const std::string& test, const std::string& oracle) {
  Config config;
  config.test_cluster = test;
  config.oracle_cluster = oracle;
  config.seed = 42;
  config.schema_seed = 42;
  config.concurrency = 2;
  config.threads = 1;
  config.max_mutation_retries = 3;
  config.max_mutation_retries_backoff_seconds = 0.05;
  config.partition_count = 200;
  return config;
}

// The errors of a result, for a readable failure message.
std::string Errors(const nlohmann::json& result) {
  return result["result"]["errors"].dump(2).substr(0, 4000);
}

void ExpectCleanRun(const nlohmann::json& result) {
  const auto& r = result["result"];
  EXPECT_EQ(r["write_errors"], 0) << Errors(result);
  EXPECT_EQ(r["read_errors"], 0) << Errors(result);
  EXPECT_GT(r["write_ops"].get<int64_t>(), 10);
  EXPECT_GT(r["read_ops"].get<int64_t>(), 10);
  EXPECT_GT(r["validated_rows"].get<int64_t>(), 0);
  // Every read shape ran at least once.
  for (const auto& [kind, count] : result["statements"].items()) {
    EXPECT_GT(count.get<int64_t>(), 0) << kind << " never ran";
  }
}

TEST(GeminiTest, SameSeedGivesSameSchemaAndStatements) {
  TempPath log1("1.log");
  TempPath log2("2.log");
  TempPath log3("3.log");
  auto run = [](const std::string& log, uint64_t seed) {
    // The sequence depends on the seeds only; DuckDB on both sides keeps this quick.
    Config config = BaseConfig("duckdb:", "duckdb:");
    config.seed = seed;
    config.schema_seed = seed;
    config.duration_seconds = 120;  // bounded by the statement count
    config.max_statements_per_worker = 40;
    config.statement_log_file = log;
    return gemini::Run(config, nullptr);
  };
  auto first = run(log1.str(), 7);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = run(log2.str(), 7);
  ASSERT_TRUE(second.ok()) << second.status();
  auto third = run(log3.str(), 8);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(first->errors, 0) << Errors(first->result);
  EXPECT_EQ(first->result["schema"], second->result["schema"]);
  // Workers interleave differently in the file; each worker's sequence is fixed.
  std::vector<std::string> lines = SortedLines(log1.str());
  EXPECT_EQ(lines.size(), 80u);
  EXPECT_EQ(lines, SortedLines(log2.str()));
  EXPECT_NE(lines, SortedLines(log3.str()));
  EXPECT_NE(first->result["schema"], third->result["schema"]);
}

TEST(GeminiTest, SchemaSeedAloneFixesTheSchema) {
  SchemaLimits limits;
  limits.max_tables = 3;
  limits.max_columns = 12;
  EXPECT_EQ(GenerateSchema(5, limits).ToJson(), GenerateSchema(5, limits).ToJson());
  EXPECT_NE(GenerateSchema(5, limits).ToJson(), GenerateSchema(6, limits).ToJson());
}

TEST(GeminiTest, EmbeddedAgainstDuckDbMixedRunHasNoErrors) {
  Config config = BaseConfig("embedded:", "duckdb:");
  config.duration_seconds = TestSeconds(20);
  config.seed = 1001;
  config.schema_seed = 1001;
  config.schema_limits.max_tables = 2;
  config.schema_limits.max_clustering_keys = 3;
  config.schema_limits.max_columns = 10;
  auto outcome = gemini::Run(config, nullptr);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ExpectCleanRun(outcome->result);
}

TEST(GeminiTest, EmbeddedAgainstPostgresMixedRunHasNoErrors) {
  PostgresTestServer server;
  absl::Status started = server.Start();
  if (!started.ok()) GTEST_SKIP() << "no PostgreSQL server: " << std::string(started.message());
  auto database = server.FreshDatabase("gemini");
  ASSERT_TRUE(database.ok()) << database.status();
  Config config = BaseConfig("embedded:", server.UriFor(*database));
  config.duration_seconds = TestSeconds(20);
  config.seed = 2002;
  config.schema_seed = 2002;
  config.schema_limits.max_clustering_keys = 3;
  config.schema_limits.max_columns = 12;
  config.partition_key_distribution = KeyDistribution::kZipf;
  auto outcome = gemini::Run(config, nullptr);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ExpectCleanRun(outcome->result);
  // The password never appears in the result or the printed setup.
  EXPECT_EQ(outcome->result.dump().find(PostgresTestServer::kPassword), std::string::npos);
  EXPECT_EQ(DescribeSetup(config, GenerateSchema(config.schema_seed, config.schema_limits))
                .find(PostgresTestServer::kPassword),
            std::string::npos);
}

// A real cluster: `shardlake bootstrap`, then a server and two worker
// processes on 127.0.0.1 (cluster/local_cluster.h); gemini reaches it through
// the client protocol over TLS (shardlake://).
class GeminiClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("SHARDLAKE_BIN");
    ASSERT_NE(bin, nullptr) << "SHARDLAKE_BIN is not set";
    root_ = std::filesystem::temp_directory_path() / ("shardlake-gemini-cluster-" + NewUuid());
    std::filesystem::create_directories(root_);
    std::string data = (root_ / "data").string();
    auto made = RunShardlake({"--data-dir", data, "bootstrap", "--client-username=gemini",
                              "--client-password=gemini-pw", "--worker-password=worker-pw",
                              "--tpch-scale-factor=0.01", "--shard-count=2"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    LocalCluster::Options options;
    options.binary = bin;
    options.data_dir = data;
    options.worker_password = "worker-pw";
    options.server_args = {"--compact-interval", "0"};
    cluster_ = std::make_unique<LocalCluster>(options);
    // The processes inherit the environment: a faulty cluster gets the
    // test-only switch that drops one file from every query's file list.
    if (Faulty()) {
      ASSERT_EQ(setenv("SHARDLAKE_TEST_FAULT", "drop_one_file", 1), 0);
    }
    ASSERT_TRUE(cluster_->StartServer().ok()) << cluster_->ServerLog();
    cluster_->StartWorker("worker-1");
    cluster_->StartWorker("worker-2");
    unsetenv("SHARDLAKE_TEST_FAULT");
    uri_ = fmt::format("shardlake://gemini:gemini-pw@{}?tls-roots={}", cluster_->address(),
                       cluster_->ca_file());
  }
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) {
      std::printf("server log:\n%s\n", cluster_->ServerLog().c_str());
    }
    cluster_.reset();
    std::error_code error;
    std::filesystem::remove_all(root_, error);
  }

  virtual bool Faulty() const { return false; }

  std::filesystem::path root_;
  std::unique_ptr<LocalCluster> cluster_;
  std::string uri_;
};

class FaultyGeminiClusterTest : public GeminiClusterTest {
 protected:
  bool Faulty() const override { return true; }
};

// The server drops one file from each query (SHARDLAKE_TEST_FAULT): gemini
// reports differences whose diffs show rows missing on the cluster's side.
TEST_F(FaultyGeminiClusterTest, FileDroppedByTheServerIsCaughtWithADiff) {
  Config config = BaseConfig(uri_, "duckdb:");
  config.duration_seconds = 30;
  config.seed = 5005;
  config.schema_seed = 5005;
  config.max_errors_to_store = 5;
  auto outcome = gemini::Run(config, nullptr);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_GT(outcome->errors, 0);
  const auto& errors = outcome->result["result"]["errors"];
  ASSERT_FALSE(errors.empty());
  bool missing_in_test = false;
  for (const auto& error : errors) {
    const auto& results = error["results"];
    if (!results.is_object()) continue;
    EXPECT_LE(results["test_rows"].get<int64_t>(), results["oracle_rows"].get<int64_t>())
        << error.dump(2);
    missing_in_test |= results.contains("missing_in_test") && !results["missing_in_test"].empty();
  }
  EXPECT_TRUE(missing_in_test) << errors.dump(2).substr(0, 4000);
}

TEST_F(GeminiClusterTest, SixtySecondMixedRunAgainstDuckDbHasNoErrors) {
  Config config = BaseConfig(uri_, "duckdb:");
  config.duration_seconds = TestSeconds(60);
  config.seed = 3003;
  config.schema_seed = 3003;
  auto outcome = gemini::Run(config, nullptr);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ExpectCleanRun(outcome->result);
}

TEST_F(GeminiClusterTest, SixtySecondMixedRunAgainstPostgresHasNoErrors) {
  PostgresTestServer server;
  absl::Status started = server.Start();
  if (!started.ok()) GTEST_SKIP() << "no PostgreSQL server: " << std::string(started.message());
  auto database = server.FreshDatabase("gemini");
  ASSERT_TRUE(database.ok()) << database.status();
  Config config = BaseConfig(uri_, server.UriFor(*database));
  config.duration_seconds = TestSeconds(60);
  config.seed = 4004;
  config.schema_seed = 4004;
  auto outcome = gemini::Run(config, nullptr);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ExpectCleanRun(outcome->result);
}

TEST(GeminiTest, LoadOnlyWithoutOracle) {
  Config config = BaseConfig("embedded:", "");
  config.mode = Mode::kWrite;
  config.duration_seconds = 2;
  auto outcome = gemini::Run(config, nullptr);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->errors, 0) << Errors(outcome->result);
  EXPECT_GT(outcome->result["result"]["write_ops"].get<int64_t>(), 0);
  EXPECT_EQ(outcome->result["result"]["read_ops"], 0);
}

TEST(GeminiTest, UnreachableTargetIsFatal) {
  Config config = BaseConfig("embedded:", "postgresql://nobody:pw@127.0.0.1:1/none");
  config.duration_seconds = 1;
  auto outcome = gemini::Run(config, nullptr);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(std::string(outcome.status().message()).find(":pw@"), std::string::npos)
      << outcome.status();
}

TEST(GeminiTest, ParsesDurationsAndSeeds) {
  EXPECT_EQ(*ParseDurationSeconds("90s"), 90);
  EXPECT_EQ(*ParseDurationSeconds("1m30s"), 90);
  EXPECT_EQ(*ParseDurationSeconds("500ms"), 0.5);
  EXPECT_EQ(*ParseDurationSeconds("2"), 2);
  EXPECT_FALSE(ParseDurationSeconds("soon").ok());
  EXPECT_FALSE(ParseDurationSeconds("5x").ok());
  EXPECT_EQ(*ParseSeed("18446744073709551615"), 18446744073709551615ULL);
  EXPECT_FALSE(ParseSeed("18446744073709551616").ok());
  EXPECT_FALSE(ParseSeed("-1").ok());
  EXPECT_TRUE(ParseSeed("random").ok());
}

// --- through the binary ---------------------------------------------------

TEST(GeminiCliTest, SixtySecondMixedRunAgainstDuckDbIsClean) {
  TempPath out("result.json");
  double seconds = std::getenv("GEMINI_TEST_SECONDS") ? 3 * TestSeconds(20) : 60;
  auto run = RunShardlake({"--threads",
                           "1",
                           "gemini",
                           "--test-cluster",
                           "embedded:",
                           "--oracle-cluster",
                           "duckdb:",
                           "--mode",
                           "mixed",
                           "--duration",
                           fmt::format("{}s", seconds),
                           "--concurrency",
                           "3",
                           "--seed",
                           "42",
                           "--max-tables",
                           "2",
                           "--max-mutation-retries-backoff",
                           "50ms",
                           "--outfile",
                           out.str()});
  ASSERT_EQ(run.exit_code, 0) << run.err << ReadFile(out.str()).substr(0, 4000);
  auto result = nlohmann::json::parse(ReadFile(out.str()));
  ExpectCleanRun(result);
  EXPECT_EQ(result["seed"], 42);
  EXPECT_EQ(result["schema_seed"], 42);
  EXPECT_GE(result["elapsed_seconds"].get<double>(), seconds);
  // Seeds and schema are printed at start too.
  EXPECT_NE(run.err.find("seed 42 schema seed 42"), std::string::npos) << run.err;
}

TEST(GeminiCliTest, FaultInTheEngineIsCaughtWithADiff) {
  TempPath out("result.json");
  ASSERT_EQ(setenv("SHARDLAKE_TEST_FAULT", "drop_one_file", 1), 0);
  auto run = RunShardlake({"--threads", "1",
                           "gemini",    "--test-cluster",
                           "embedded:", "--oracle-cluster",
                           "duckdb:",   "--duration",
                           "30s",       "--concurrency",
                           "1",         "--seed",
                           "3",         "--max-mutation-retries",
                           "1",         "--max-mutation-retries-backoff",
                           "10ms",      "--max-errors-to-store",
                           "5",         "--outfile",
                           out.str()});
  unsetenv("SHARDLAKE_TEST_FAULT");
  ASSERT_EQ(run.exit_code, 1) << run.err;
  auto result = nlohmann::json::parse(ReadFile(out.str()));
  const auto& errors = result["result"]["errors"];
  ASSERT_FALSE(errors.empty());
  // The run stopped at the error budget, long before its duration.
  EXPECT_LT(result["elapsed_seconds"].get<double>(), 30);
  // The diff points at the dropped file: the test side returns fewer rows.
  // A row-level read lists exactly rows the test side lacks (and none it has
  // in excess); an aggregate shows a per-column diff of its counts.
  bool missing_in_test = false;
  for (const auto& error : errors) {
    ASSERT_EQ(error["type"], "read") << error.dump(2);
    EXPECT_NE(error["message"].get<std::string>().find("Validation failed"), std::string::npos);
    EXPECT_FALSE(error["statement"].get<std::string>().empty());
    const auto& results = error["results"];
    EXPECT_LE(results["test_rows"].get<int64_t>(), results["oracle_rows"].get<int64_t>());
    if (results["test_rows"] < results["oracle_rows"]) {
      EXPECT_TRUE(results["missing_in_oracle"].empty()) << results.dump(2);
      missing_in_test |= !results["missing_in_test"].empty();
    } else {
      EXPECT_FALSE(results["different_rows"].empty()) << results.dump(2);
    }
  }
  EXPECT_TRUE(missing_in_test) << errors.dump(2).substr(0, 4000);
}

TEST(GeminiCliTest, BadFlagsExitTwoWithAClearMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"--concurrency", "0"}, "--concurrency 0: must be in 1..256"},
      {{"--mode", "sideways"}, "--mode sideways: use write, read or mixed"},
      {{"--duration", "soon"}, "duration `soon`"},
      {{"--seed", "-5"}, "--seed: seed `-5`"},
      {{"--partition-key-distribution", "pareto"}, "use uniform, normal or zipf"},
      {{"--dataset-size", "huge"}, "--dataset-size huge"},
      {{"--partition-count", "1", "--concurrency", "4"}, "--partition-count 1"},
      {{"--concurrency", "many"}, "--concurrency"},
      {{"--oracle-cluster", "mysql://x"}, "unknown target `mysql://x`"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"gemini", "--test-cluster", "embedded:"};
    if (c.args[0] != "--duration") args.insert(args.end(), {"--duration", "1s"});
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto run = RunShardlake(args);
    EXPECT_EQ(run.exit_code, 2) << c.args[0] << ": " << run.err;
    EXPECT_NE(run.err.find(c.message), std::string::npos) << run.err;
  }
  auto missing = RunShardlake({"gemini", "--oracle-cluster", "duckdb:"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("--test-cluster"), std::string::npos) << missing.err;
}

TEST(GeminiCliTest, HelpExplainsEveryFlag) {
  auto run = RunShardlake({"gemini", "--help"});
  EXPECT_EQ(run.exit_code, 0);
  for (const char* flag : {"--mode",
                           "--duration",
                           "--warmup",
                           "--concurrency",
                           "--seed",
                           "--schema-seed",
                           "--drop-schema",
                           "--partition-count",
                           "--partition-key-distribution",
                           "--max-partition-keys",
                           "--max-clustering-keys",
                           "--max-columns",
                           "--dataset-size",
                           "--max-mutation-retries",
                           "--max-mutation-retries-backoff",
                           "--max-errors-to-store",
                           "--fail-fast",
                           "--outfile",
                           "--statement-log-file",
                           "--verbose",
                           "--test-cluster",
                           "--oracle-cluster",
                           "append-only"}) {
    EXPECT_NE(run.out.find(flag), std::string::npos) << flag;
  }
}

TEST(GeminiCliTest, CtrlCEndsTheRunAndStillWritesTheResult) {
  const char* bin = std::getenv("SHARDLAKE_BIN");
  ASSERT_NE(bin, nullptr);
  TempPath out("result.json");
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    std::string outfile = out.str();
    execl(bin, bin, "--threads", "1", "gemini", "--test-cluster", "embedded:", "--oracle-cluster",
          "duckdb:", "--duration", "120s", "--concurrency", "1", "--seed", "9", "--outfile",
          outfile.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::seconds(4));
  kill(pid, SIGINT);
  int status = 0;
  auto start = std::chrono::steady_clock::now();
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(30)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL() << "gemini did not stop within 30 s of SIGINT";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto result = nlohmann::json::parse(ReadFile(out.str()));
  EXPECT_EQ(result["interrupted"], true);
  EXPECT_LT(result["elapsed_seconds"].get<double>(), 60);
  EXPECT_GT(result["result"]["write_ops"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace shardlake::gemini
