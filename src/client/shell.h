// The `shardlake client` shell: reads SQL and dot-commands, runs statements
// on a ClusterClient and prints their results.
//
// Input: statements end with ';' outside quotes and comments and may span
// lines; a line starting with '.' while no statement is pending is a
// dot-command (.help lists them). Interactive mode edits lines with libedit,
// keeps a history file (created mode 0600) and shows the prompts
// "shardlake> " and "     ...> ". Script mode (-c, -f, or a pipe on stdin)
// reads the same syntax without prompts, runs a final statement that lacks its
// ';', and stops at the first error.
//
// Ctrl-C while a statement runs calls ClusterClient::Cancel() (from a watcher
// thread: the signal handler only writes a byte to a pipe); at the prompt it
// clears the line being typed.
//
// Thread-safety: a Shell belongs to one thread; at most one Shell may install
// its SIGINT handler (Run*() with handle_interrupts) at a time.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "client/cluster_client.h"
#include "client/result_printer.h"

namespace shardlake {

struct ShellOptions {
  std::FILE* out = stdout;  // results
  std::FILE* err = stderr;  // errors, timings, notices
  OutputFormat mode = OutputFormat::kTable;
  // Interactive history; empty: no history file.
  std::string history_path;
  // Install a SIGINT handler that cancels running statements.
  bool handle_interrupts = false;
};

// What the shell has set; the server keeps the session's copy of the first three.
struct ShellSettings {
  bool distributed = true;
  bool summarize = true;
  double timeout_seconds = 0;  // 0: none
  bool explain = false;        // prefix statements with EXPLAIN
  bool timer = false;          // print times and distribution after each statement
  // After a distributed query, run it again on the server alone and check that
  // both answers are equal (a statement fails when they differ).
  bool verify = false;
  OutputFormat mode = OutputFormat::kTable;
};

class Shell {
 public:
  // `client` must outlive the shell.
  Shell(ClusterClient& client, ShellOptions options);
  ~Shell();
  Shell(const Shell&) = delete;
  Shell& operator=(const Shell&) = delete;

  // Runs `script` (statements and dot-commands). Returns the exit code: 0, or
  // 1 after the first failing statement or command (whose error goes to err).
  int RunScript(std::string_view script);
  // Runs what `in` yields until its end, as RunScript (a file or a pipe).
  int RunStream(std::FILE* in);
  // The interactive loop on the terminal, until .quit or Ctrl-D. Errors are
  // printed and the loop goes on; returns 0.
  int RunInteractive();

  const ShellSettings& settings() const { return settings_; }

 private:
  enum class LineResult { kContinue, kFailed, kQuit };

  // Feeds one input line; runs what it completes.
  LineResult FeedLine(const std::string& line);
  // Runs the pending statements (at end of input, even without ';').
  LineResult FlushPending();
  LineResult RunDotCommand(const std::string& line);
  LineResult RunStatements(const std::string& text);
  bool RunStatement(const std::string& statement);
  // Runs `sql` with distributed=false and compares with `columns`/`rows`.
  bool VerifyAgainstServerAlone(const std::string& sql, const std::vector<std::string>& columns,
                                const std::vector<std::vector<std::optional<std::string>>>& rows);
  void PrintHelp();
  void PrintSettings();
  bool PrintStatus();
  void Error(const std::string& message);

  ClusterClient& client_;
  ShellOptions options_;
  ShellSettings settings_;
  std::string pending_;  // lines of an unfinished statement
  class InterruptWatcher;
  std::unique_ptr<InterruptWatcher> interrupts_;  // while a Run*() handles SIGINT
};

// True when `text` ends, outside quotes and comments, with ';' followed only by
// whitespace and comments: the statement(s) in it are complete.
bool SqlInputComplete(std::string_view text);

}  // namespace shardlake
