// End-to-end tests of the `shardlake` binary: what a user types, what they see,
// and exit codes. The binary's path comes from SHARDLAKE_BIN (set by CMake).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "catalog/index.h"
#include "cli_runner.h"
#include "common/ids.h"
#include "duck/duck.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("shardlake-cli-" + NewUuid());
    fs::create_directories(dir_);
    data_ = (dir_ / "data").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandResult Sql(const std::string& sql, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--data-dir", data_, "sql"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(sql);
    return RunShardlake(args);
  }

  std::string Write(const std::string& name, const std::string& contents) {
    fs::path path = dir_ / name;
    std::ofstream(path) << contents;
    return path.string();
  }

  // A one-line error: "error: ..." and nothing that looks like a crash.
  static void ExpectCleanError(const CommandResult& r, const std::string& fragment) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("Aborted"), std::string::npos) << r.err;
    EXPECT_LT(r.exit_code, 128) << "killed by a signal";
  }

  fs::path dir_;
  std::string data_;
};

TEST_F(CliTest, TourFromTheReadme) {
  auto created = Sql("CREATE TABLE metrics.cpu (time TIMESTAMP_NS, host VARCHAR, usage DOUBLE)");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  std::string csv = Write("data.csv",
                          "time,host,usage\n2026-01-01 00:00:00,a,0.5\n2026-01-01 01:00:00,b,1.5\n"
                          "2026-01-02 00:00:00,a,2.5\n");
  auto loaded = RunShardlake({"--data-dir", data_, "load", "metrics.cpu", csv});
  ASSERT_EQ(loaded.exit_code, 0) << loaded.err;
  EXPECT_NE(loaded.out.find("3 rows into 3 file(s)"), std::string::npos) << loaded.out;
  ASSERT_EQ(Sql("INSERT INTO metrics.cpu VALUES (now(), 'a', 0.5)").exit_code, 0);
  auto query =
      Sql("SELECT host, avg(usage) AS a FROM metrics.cpu WHERE time >= '2026-01-01' AND time < "
          "'2026-01-03' GROUP BY host ORDER BY host",
          {"--format", "csv", "--stats"});
  ASSERT_EQ(query.exit_code, 0) << query.err;
  EXPECT_EQ(query.out, "host,a\na,1.5\nb,1.5\n");
  EXPECT_NE(query.err.find("3 of 4 files scanned, 1 pruned"), std::string::npos) << query.err;

  auto tables = RunShardlake({"--data-dir", data_, "tables"});
  ASSERT_EQ(tables.exit_code, 0);
  EXPECT_NE(tables.out.find("metrics.cpu"), std::string::npos);
  EXPECT_NE(tables.out.find("│ 4 "), std::string::npos) << tables.out;  // files and rows
  auto files =
      RunShardlake({"--data-dir", data_, "files", "metrics.cpu", "--before", "2026-01-01 12:00"});
  ASSERT_EQ(files.exit_code, 0) << files.err;
  EXPECT_NE(files.out.find("date=2026-01-01/hour=00/"), std::string::npos) << files.out;
  EXPECT_NE(files.out.find("2 file(s)"), std::string::npos) << files.out;

  auto json = Sql("SELECT host FROM metrics.cpu WHERE usage > 2", {"--format", "json"});
  EXPECT_EQ(json.out, "{\"host\":\"a\"}\n");
}

TEST_F(CliTest, SqlReadsStatementsFromStdin) {
  auto r = RunShardlake({"--data-dir", data_, "sql", "--format", "csv"},
                        "CREATE TABLE t.x (time TIMESTAMP, v INTEGER);\n"
                        "INSERT INTO t.x VALUES ('2026-01-01', 1), ('2026-01-01', 2);\n"
                        "SELECT sum(v) AS s FROM t.x;\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("s\n3\n"), std::string::npos) << r.out;
}

TEST_F(CliTest, BadInputGivesOneLineErrors) {
  std::string file = Write("plain-file", "x");
  ExpectCleanError(RunShardlake({"--data-dir", file + "/sub", "tables"}), "data directory");
  ExpectCleanError(RunShardlake({"--data-dir", data_, "--catalog", "nosuch://x", "tables"}),
                   "unknown catalog scheme");
  ExpectCleanError(RunShardlake({"--data-dir", data_, "--storage", "nosuch://x", "tables"}),
                   "nosuch");
  ASSERT_EQ(Sql("CREATE TABLE m.t (time TIMESTAMP, v INTEGER)").exit_code, 0);
  ExpectCleanError(RunShardlake({"--data-dir", data_, "load", "m.t", (dir_ / "none.csv").string()}),
                   "no such file");
  ExpectCleanError(RunShardlake({"--data-dir", data_, "load", "m.nope", file}), "m.t");
  auto malformed = Sql("SELECT * FROM m.t WHER v > 1");
  ExpectCleanError(malformed, "syntax error");
  EXPECT_NE(malformed.err.find("LINE 1"), std::string::npos);
  ExpectCleanError(Sql("SELECT * FROM m.missing"), "m.t");
  // A failed statement in a script stops the script.
  auto script =
      Sql("INSERT INTO m.t VALUES ('2026-01-01', 1); SELECT nope; INSERT INTO m.t "
          "VALUES ('2026-01-01', 2)");
  EXPECT_NE(script.exit_code, 0);
  EXPECT_EQ(Sql("SELECT count(*) FROM m.t", {"--format", "csv"}).out, "count_star()\n1\n");
}

TEST_F(CliTest, DebugQueriesLogsCatalogStatements) {
  setenv("SHARDLAKE_DEBUG_QUERIES", "1", 1);
  auto r = Sql("CREATE TABLE m.t (time TIMESTAMP, v INTEGER)");
  unsetenv("SHARDLAKE_DEBUG_QUERIES");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("shardlake catalog sqlite: INSERT INTO tables"), std::string::npos) << r.err;
  auto quiet = Sql("SELECT count(*) FROM m.t");
  EXPECT_EQ(quiet.err.find("shardlake catalog"), std::string::npos) << quiet.err;
}

TEST_F(CliTest, LogStatsReportsCatalogCallsAtExit) {
  ASSERT_EQ(Sql("CREATE TABLE m.t (time TIMESTAMP, v INTEGER)").exit_code, 0);
  setenv("SHARDLAKE_LOG_STATS", "1", 1);
  auto r = Sql("SELECT count(*) FROM m.t");
  unsetenv("SHARDLAKE_LOG_STATS");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("shardlake catalog stats {\"backend\":\"sqlite://"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("\"Query\":{\"calls\":1"), std::string::npos) << r.err;
}

TEST_F(CliTest, VersionAndHelp) {
  auto version = RunShardlake({"version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("shardlake"), std::string::npos);
  auto help = RunShardlake({"load", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("table"), std::string::npos);
  EXPECT_NE(RunShardlake({"frobnicate"}).exit_code, 0);
}

// Every index entry must name a file that exists, whatever moment a load dies.
void ExpectEveryEntryHasItsFile(const std::string& data_dir) {
  auto index = OpenIndex("sqlite://" + data_dir + "/catalog.sqlite");
  ASSERT_TRUE(index.ok()) << index.status();
  auto entries = (*index)->Query("m", "big", QueryOptions{});
  ASSERT_TRUE(entries.ok()) << entries.status();
  for (const auto& entry : *entries) {
    EXPECT_TRUE(fs::exists(fs::path(data_dir) / "lake" / "m" / "big" / entry.path)) << entry.path;
  }
}

TEST_F(CliTest, KilledLoadLeavesNoEntryWithoutItsFile) {
  ASSERT_EQ(Sql("CREATE TABLE m.big (time TIMESTAMP_NS, host VARCHAR, v DOUBLE)").exit_code, 0);
  fs::path csv = dir_ / "big.csv";
  {
    auto db = duck::Database::Open("");
    auto conn = duck::Connection::Open(**db);
    ASSERT_TRUE((*conn)
                    ->Execute(fmt::format(
                        "COPY (SELECT TIMESTAMP_NS '2026-01-01' + INTERVAL (i * 997) MILLISECOND "
                        "AS time, 'h' || (i % 50) AS host, i * 0.5 AS v FROM range(1500000) r(i)) "
                        "TO '{}' (HEADER)",
                        csv.string()))
                    .ok());
  }
  const char* bin = std::getenv("SHARDLAKE_BIN");
  ASSERT_NE(bin, nullptr);
  uint32_t seed = std::random_device{}();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  // Kill the load at random moments (bounded: 5 attempts, each at most ~3 s).
  for (int attempt = 0; attempt < 5; ++attempt) {
    pid_t pid = fork();
    if (pid == 0) {
      int null_fd = open("/dev/null", O_WRONLY);
      dup2(null_fd, 1);
      dup2(null_fd, 2);
      execl(bin, bin, "--data-dir", data_.c_str(), "load", "m.big", csv.c_str(), nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 2500));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ExpectEveryEntryHasItsFile(data_);
  }
  // The deterministic worst moment: files are in the store, the batch not sent.
  pid_t pid = fork();
  if (pid == 0) {
    setenv("SHARDLAKE_TEST_CRASH_BEFORE_BATCH", "1", 1);
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    execl(bin, bin, "--data-dir", data_.c_str(), "load", "m.big", csv.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the crash hook did not fire";
  ExpectEveryEntryHasItsFile(data_);
  // After all of that, a complete load still works and is counted once.
  auto before = Sql("SELECT count(*) FROM m.big", {"--format", "csv"});
  auto load = RunShardlake({"--data-dir", data_, "load", "m.big", csv.string()});
  ASSERT_EQ(load.exit_code, 0) << load.err;
  auto after = Sql("SELECT count(*) FROM m.big", {"--format", "csv"});
  int64_t rows_before = std::stoll(before.out.substr(before.out.find('\n') + 1));
  int64_t rows_after = std::stoll(after.out.substr(after.out.find('\n') + 1));
  EXPECT_EQ(rows_after - rows_before, 1500000);
  EXPECT_EQ(rows_before % 1500000, 0) << "a killed load registered part of its rows";
}

}  // namespace
}  // namespace shardlake
