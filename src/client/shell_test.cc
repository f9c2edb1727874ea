#include "client/shell.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/ids.h"
#include "duck/duck.h"

namespace shardlake {
namespace {

// A ClusterClient that runs statements on an in-memory DuckDB and records
// what the shell asked of it. A statement containing "slow_query" blocks
// until Cancel() (or 20 s) and then fails with Cancelled.
class FakeClusterClient : public ClusterClient {
 public:
  FakeClusterClient() {
    database_ = std::move(*duck::Database::Open(""));
    connection_ = std::move(*duck::Connection::Open(*database_));
  }

  absl::StatusOr<ClientQueryOutcome> Execute(const std::string& sql, ResultSink& sink) override {
    executed.push_back(sql);
    if (sql.find("slow_query") != std::string::npos) {
      std::unique_lock lock(mutex_);
      running_slow_ = true;
      started_.notify_all();
      cancelled_.wait_for(lock, std::chrono::seconds(20), [this] { return cancels > 0; });
      running_slow_ = false;
      return absl::CancelledError("the query was cancelled");
    }
    auto result = connection_->Query(sql);
    if (!result.ok()) return result.status();
    std::vector<std::string> columns;
    for (size_t i = 0; i < (*result)->ColumnCount(); ++i) {
      columns.push_back((*result)->ColumnName(i));
    }
    auto rows = (*result)->FetchAllAsStrings();
    if (!rows.ok()) return rows.status();
    if (absl::Status s = sink.Begin(columns); !s.ok()) return s;
    if (absl::Status s = sink.Rows(*rows); !s.ok()) return s;
    if (absl::Status s = sink.End(); !s.ok()) return s;
    ClientQueryOutcome outcome = next_outcome;
    outcome.rows = static_cast<int64_t>(rows->size());
    return outcome;
  }

  absl::Status SetOption(const std::string& name, const std::string& value) override {
    options_set.emplace_back(name, value);
    return absl::OkStatus();
  }

  void Cancel() override {
    std::lock_guard lock(mutex_);
    ++cancels;
    cancelled_.notify_all();
  }

  absl::StatusOr<ClusterStatus> Status() override {
    ClusterStatus status;
    status.workers = 2;
    status.worker_names = {"w1", "w2"};
    status.server_version = "0.1.0";
    return status;
  }

  // Waits until a slow statement runs; false after 20 s.
  bool WaitForSlowQuery() {
    std::unique_lock lock(mutex_);
    return started_.wait_for(lock, std::chrono::seconds(20), [this] { return running_slow_; });
  }

  std::vector<std::string> executed;
  std::vector<std::pair<std::string, std::string>> options_set;
  ClientQueryOutcome next_outcome;
  int cancels = 0;  // guarded by mutex_ while a slow statement runs

 private:
  std::unique_ptr<duck::Database> database_;
  std::unique_ptr<duck::Connection> connection_;
  std::mutex mutex_;
  std::condition_variable started_;
  std::condition_variable cancelled_;
  bool running_slow_ = false;
};

std::string ReadAll(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
  return text;
}

class ShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = std::tmpfile();
    err_ = std::tmpfile();
    ASSERT_NE(out_, nullptr);
    ASSERT_NE(err_, nullptr);
  }
  void TearDown() override {
    std::fclose(out_);
    std::fclose(err_);
  }
  ShellOptions Options(OutputFormat mode = OutputFormat::kCsv) {
    ShellOptions options;
    options.out = out_;
    options.err = err_;
    options.mode = mode;
    return options;
  }
  std::string Out() { return ReadAll(out_); }
  std::string Err() { return ReadAll(err_); }

  FakeClusterClient client_;
  std::FILE* out_ = nullptr;
  std::FILE* err_ = nullptr;
};

TEST_F(ShellTest, MultiLineStatementsThroughAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string input =
      "SELECT 1 AS a,\n"
      "  'x;y' AS b; -- a comment; with a semicolon\n"
      "/* a block ; comment */\n"
      "SELECT\n"
      "  2 AS n\n"
      ";\n"
      "SELECT 'it''s' AS q, $$dollar;quoted$$ AS d;\n";
  ASSERT_EQ(write(fds[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
  close(fds[1]);
  std::FILE* in = fdopen(fds[0], "r");
  ASSERT_NE(in, nullptr);
  Shell shell(client_, Options());
  EXPECT_EQ(shell.RunStream(in), 0) << Err();
  std::fclose(in);
  ASSERT_EQ(client_.executed.size(), 3u);
  EXPECT_EQ(client_.executed[0], "SELECT 1 AS a,\n  'x;y' AS b");
  EXPECT_EQ(Out(), "a,b\n1,x;y\nn\n2\nq,d\nit's,dollar;quoted\n");
  EXPECT_EQ(Err(), "");
}

TEST_F(ShellTest, VerifyReRunsDistributedQueriesOnTheServerAlone) {
  client_.next_outcome.statement_kind = "SELECT";
  client_.next_outcome.distributed = true;
  Shell shell(client_, Options());
  EXPECT_EQ(shell.RunScript(".verify on\nSELECT 42 AS x, 'a' AS y;\n"), 0) << Err();
  ASSERT_EQ(client_.executed.size(), 2u);
  EXPECT_EQ(client_.executed[1], client_.executed[0]);
  EXPECT_EQ(client_.options_set, (std::vector<std::pair<std::string, std::string>>{
                                     {"distributed", "false"}, {"distributed", "true"}}));
  EXPECT_NE(Err().find("verified: the distributed answer equals"), std::string::npos) << Err();
  EXPECT_EQ(Out(), "x,y\n42,a\n");  // the answer is printed once

  // Two runs of random() differ: the statement fails and says how.
  EXPECT_EQ(shell.RunScript("SELECT random() AS r;\n"), 1);
  EXPECT_NE(Err().find("VERIFY FAILED"), std::string::npos) << Err();

  // A query that did not run distributed has nothing to compare.
  client_.next_outcome.distributed = false;
  client_.next_outcome.fallback_reason = "no worker is connected";
  client_.executed.clear();
  EXPECT_EQ(shell.RunScript("SELECT 1;\n"), 0) << Err();
  EXPECT_EQ(client_.executed.size(), 1u);
  EXPECT_NE(Err().find("not distributed (no worker is connected)"), std::string::npos) << Err();
}

TEST_F(ShellTest, DotCommandsChangeSettings) {
  Shell shell(client_, Options());
  EXPECT_EQ(shell.RunScript(".set distributed = false\n"
                            ".set summarize=off\n"
                            ".set timeout 30\n"
                            ".explain on\n"
                            ".timer on\n"
                            ".mode json\n"
                            ".show\n"),
            0)
      << Err();
  EXPECT_EQ(client_.options_set,
            (std::vector<std::pair<std::string, std::string>>{
                {"distributed", "false"}, {"summarize", "false"}, {"timeout", "30"}}));
  EXPECT_FALSE(shell.settings().distributed);
  EXPECT_FALSE(shell.settings().summarize);
  EXPECT_EQ(shell.settings().timeout_seconds, 30);
  EXPECT_TRUE(shell.settings().explain);
  EXPECT_TRUE(shell.settings().timer);
  EXPECT_EQ(shell.settings().mode, OutputFormat::kJson);
  EXPECT_EQ(Out(),
            "distributed = false\nsummarize   = false\ntimeout     = 30 s\nexplain     = on\n"
            "timer       = on\nverify      = off\nmode        = json\n");
}

TEST_F(ShellTest, BadSettingIsRefusedBeforeReachingTheServer) {
  Shell shell(client_, Options());
  EXPECT_EQ(shell.RunScript(".set distributed = maybe\nSELECT 1;"), 1);
  EXPECT_TRUE(client_.options_set.empty());
  EXPECT_TRUE(client_.executed.empty());
  EXPECT_NE(Err().find("distributed takes true or false, not 'maybe'"), std::string::npos);

  Shell other(client_, Options());
  EXPECT_EQ(other.RunScript(".nonsense"), 1);
  EXPECT_NE(Err().find("unknown command '.nonsense'"), std::string::npos);
}

TEST_F(ShellTest, ExplainPrefixesStatements) {
  Shell shell(client_, Options());
  EXPECT_EQ(shell.RunScript(".explain on\nSELECT 1;\nexplain SELECT 2;\n.explain off\nSELECT 3;"),
            0)
      << Err();
  EXPECT_EQ(client_.executed,
            (std::vector<std::string>{"EXPLAIN SELECT 1", "explain SELECT 2", "SELECT 3"}));
}

TEST_F(ShellTest, FirstErrorStopsTheScriptWithExitCodeOne) {
  Shell shell(client_, Options());
  EXPECT_EQ(shell.RunScript("SELECT 1 AS a;\nSELECT * FROM missing_table;\nSELECT 3;\n"), 1);
  EXPECT_EQ(client_.executed.size(), 2u);
  EXPECT_EQ(Out(), "a\n1\n");
  std::string err = Err();
  EXPECT_EQ(err.rfind("error: ", 0), 0u) << err;
  EXPECT_NE(err.find("missing_table"), std::string::npos) << err;
  EXPECT_NE(err.find("statement: SELECT * FROM missing_table"), std::string::npos) << err;
}

TEST_F(ShellTest, UnterminatedQuoteAtEndOfScriptIsAnError) {
  Shell shell(client_, Options());
  EXPECT_EQ(shell.RunScript("SELECT 'open"), 1);
  EXPECT_TRUE(client_.executed.empty());
  EXPECT_NE(Err().find("unterminated"), std::string::npos);
}

TEST_F(ShellTest, CommandWithTwoStatementsRunsBoth) {
  Shell shell(client_, Options(OutputFormat::kTable));
  EXPECT_EQ(shell.RunScript("SELECT 1 AS a; SELECT 'b' AS b"), 0) << Err();
  EXPECT_EQ(client_.executed, (std::vector<std::string>{"SELECT 1 AS a", "SELECT 'b' AS b"}));
  EXPECT_EQ(Out(),
            "┌───┐\n│ a │\n├───┤\n│ 1 │\n└───┘\n"
            "┌───┐\n│ b │\n├───┤\n│ b │\n└───┘\n");
}

TEST_F(ShellTest, TimerReportsDistribution) {
  client_.next_outcome.distributed = true;
  client_.next_outcome.workers_used = 2;
  client_.next_outcome.bytes_from_workers = 2048;
  client_.next_outcome.server_seconds = 0.0125;
  Shell shell(client_, Options());
  EXPECT_EQ(shell.RunScript(".timer on\nSELECT 42 AS x;"), 0);
  std::string err = Err();
  EXPECT_NE(err.find("Time: server 12.5 ms, wall "), std::string::npos) << err;
  EXPECT_NE(err.find("1 row; distributed on 2 workers, 2.0 KiB from workers"), std::string::npos)
      << err;

  client_.next_outcome = ClientQueryOutcome{};
  client_.next_outcome.fallback_reason = "window functions run on the server";
  EXPECT_EQ(shell.RunScript("SELECT 1;"), 0);
  EXPECT_NE(Err().find("on the server: window functions run on the server"), std::string::npos);
}

TEST_F(ShellTest, StatusShowsWorkers) {
  Shell shell(client_, Options());
  EXPECT_EQ(shell.RunScript(".status"), 0);
  EXPECT_EQ(Out(), "server 0.1.0; 2 workers connected: w1, w2; 0 queries running\n");
}

TEST_F(ShellTest, QuitStopsReading) {
  Shell shell(client_, Options());
  EXPECT_EQ(shell.RunScript("SELECT 1;\n.quit\nSELECT 2;"), 0);
  EXPECT_EQ(client_.executed.size(), 1u);
}

TEST_F(ShellTest, InterruptCancelsTheRunningStatement) {
  ShellOptions options = Options();
  options.handle_interrupts = true;
  Shell shell(client_, options);
  std::thread interrupter([this] {
    if (client_.WaitForSlowQuery()) kill(getpid(), SIGINT);
  });
  auto started = std::chrono::steady_clock::now();
  int code = shell.RunScript("SELECT slow_query;\nSELECT 2;");
  interrupter.join();
  EXPECT_EQ(code, 1);
  EXPECT_EQ(client_.cancels, 1);
  EXPECT_EQ(client_.executed.size(), 1u);  // the script stops at the cancelled statement
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(15));
  EXPECT_NE(Err().find("cancelled"), std::string::npos);
  // The handler is gone again: SIGINT's previous disposition is back.
  struct sigaction current {};
  sigaction(SIGINT, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

// Reads from `fd` until `text` has appeared in everything read so far, or
// 20 s pass. Returns what was read.
std::string ReadUntil(int fd, std::string& seen, const std::string& text) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (seen.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd ready{fd, POLLIN, 0};
    if (poll(&ready, 1, 100) <= 0) continue;
    char buffer[4096];
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    seen.append(buffer, static_cast<size_t>(n));
  }
  return seen;
}

// The interactive loop on a real pseudo-terminal: prompts, a statement over
// two lines, Ctrl-C clearing a half-typed statement, history in a 0600 file.
TEST(ShellTerminalTest, InteractiveSessionOnAPseudoTerminal) {
  std::string history = "/tmp/shardlake-history-" + NewUuid();
  int master = -1;
  pid_t child = forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv("TERM", "dumb", 1);
    FakeClusterClient client;
    ShellOptions options;
    options.mode = OutputFormat::kCsv;
    options.history_path = history;
    options.handle_interrupts = true;
    Shell shell(client, options);
    int code = shell.RunInteractive();
    std::fflush(stdout);
    _exit(code == 0 && client.executed == std::vector<std::string>{"SELECT 7 AS a,\n8 AS b"} ? 0
                                                                                             : 3);
  }
  std::string seen;
  ReadUntil(master, seen, "shardlake> ");
  ASSERT_NE(seen.find("shardlake> "), std::string::npos) << seen;
  auto type = [&](const std::string& keys) {
    ASSERT_EQ(write(master, keys.data(), keys.size()), static_cast<ssize_t>(keys.size()));
  };
  type("SELECT 7 AS a,\r");
  ReadUntil(master, seen, "     ...> ");
  ASSERT_NE(seen.find("     ...> "), std::string::npos) << seen;
  type("8 AS b;\r");
  ReadUntil(master, seen, "7,8");
  EXPECT_NE(seen.find("a,b"), std::string::npos) << seen;
  EXPECT_NE(seen.find("7,8"), std::string::npos) << seen;
  // A half-typed statement, then Ctrl-C: the prompt starts over, nothing runs.
  size_t before = seen.size();
  type("SELECT 'never',\r");
  ReadUntil(master, seen, "     ...> ");
  type("\x03");
  std::string after;
  ReadUntil(master, after, "shardlake> ");
  EXPECT_NE(after.find("shardlake> "), std::string::npos) << seen.substr(before) << after;
  type(".quit\r");
  std::string rest;
  ReadUntil(master, rest, "\x01");  // returns when the shell closes the terminal (or after 20 s)
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 200 && (done = waitpid(child, &status, WNOHANG)) == 0; ++i) usleep(100000);
  if (done == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    ADD_FAILURE() << "the shell did not leave on .quit: " << rest;
  }
  close(master);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  struct stat info {};
  ASSERT_EQ(stat(history.c_str(), &info), 0) << "no history file";
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  std::FILE* file = std::fopen(history.c_str(), "r");
  ASSERT_NE(file, nullptr);
  std::string saved = ReadAll(file);
  std::fclose(file);
  unlink(history.c_str());
  // libedit stores entries vis(3)-encoded: a space is \040, a newline \012.
  EXPECT_NE(saved.find("SELECT\\0407\\040AS\\040a,\\0128\\040AS\\040b;"), std::string::npos)
      << saved;
  EXPECT_EQ(saved.find("never"), std::string::npos) << saved;
}

TEST(SqlInputCompleteTest, EndsWithSemicolonOutsideQuotesAndComments) {
  EXPECT_TRUE(SqlInputComplete("SELECT 1;"));
  EXPECT_TRUE(SqlInputComplete("SELECT 1;  \n"));
  EXPECT_TRUE(SqlInputComplete("SELECT 1; -- done"));
  EXPECT_TRUE(SqlInputComplete("SELECT 1; /* done */"));
  EXPECT_TRUE(SqlInputComplete("SELECT $$;$$;"));
  EXPECT_FALSE(SqlInputComplete("SELECT 1"));
  EXPECT_FALSE(SqlInputComplete("SELECT ';"));
  EXPECT_FALSE(SqlInputComplete("SELECT \";\""));
  EXPECT_FALSE(SqlInputComplete("SELECT 1 -- ;"));
  EXPECT_FALSE(SqlInputComplete("SELECT 1 /* ; */"));
  EXPECT_FALSE(SqlInputComplete("SELECT 1; SELECT 2"));
}

}  // namespace
}  // namespace shardlake
