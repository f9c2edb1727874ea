#include <editline/readline.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <thread>

#include "cli/commands.h"
#include "fmt/format.h"
#include "query/sql_lexer.h"

namespace shardlake::cli {
namespace {

std::atomic<bool> g_interrupt_requested{false};

void OnSigint(int) { g_interrupt_requested.store(true); }

// Forwards Ctrl-C to the engine while a statement runs, from a normal thread
// (DuckDB's interrupt is not async-signal-safe).
class InterruptForwarder {
 public:
  explicit InterruptForwarder(Engine& engine) : engine_(engine) {
    std::signal(SIGINT, OnSigint);
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        if (g_interrupt_requested.exchange(false)) engine_.Interrupt();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
  ~InterruptForwarder() {
    stop_.store(true);
    thread_.join();
    std::signal(SIGINT, SIG_DFL);
  }

 private:
  Engine& engine_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

void PrintOutcome(const GlobalOptions& options, const StatementOutcome& outcome, bool interactive) {
  bool table = options.format == "table";
  if (!outcome.message.empty()) {
    std::fprintf(table ? stdout : stderr, "%s\n", outcome.message.c_str());
  }
  if (outcome.produced_rows && (options.stats || interactive)) {
    std::string line = fmt::format("({} row{}, {:.1f} ms", outcome.rows,
                                   outcome.rows == 1 ? "" : "s", outcome.seconds * 1000);
    for (const auto& scan : outcome.scans) {
      if (scan.files_total >= 0) {
        line +=
            fmt::format("; {}: {} of {} files scanned, {} pruned", scan.table, scan.files_scanned,
                        scan.files_total, scan.files_total - scan.files_scanned);
      } else {
        line += fmt::format("; {}: {} files scanned", scan.table, scan.files_scanned);
      }
    }
    std::fflush(stdout);  // the result first, then its footer
    std::fprintf(stderr, "%s)\n", line.c_str());
  }
}

// Runs a script, printing each outcome; returns the exit code.
int RunScript(Engine& engine, const GlobalOptions& options, const std::string& sql,
              bool interactive) {
  auto format = ParseOutputFormat(options.format);
  if (!format.ok()) return ReportError(format.status());
  auto statements = SplitSqlStatements(sql);
  if (!statements.ok()) return ReportError(statements.status());
  for (const auto& statement : *statements) {
    auto printer = MakePrinter(*format, stdout);
    auto outcome = engine.Execute(statement, *printer);
    if (!outcome.ok()) return ReportError(outcome.status());
    PrintOutcome(options, *outcome, interactive);
  }
  return 0;
}

bool StatementComplete(const std::string& buffer) {
  // Complete when the text ends, outside quotes and comments, with ';'.
  auto statements = SplitSqlStatements(buffer + "\n");
  if (!statements.ok()) return false;  // e.g. an open quote: keep reading
  size_t end = buffer.find_last_not_of(" \t\r\n");
  return end != std::string::npos && buffer[end] == ';';
}

int Interactive(Engine& engine, GlobalOptions options) {
  std::printf(
      "shardlake SQL. End statements with ';'. .help for commands, .quit or Ctrl-D to exit.\n");
  std::string buffer;
  while (true) {
    char* raw = readline(buffer.empty() ? "shardlake> " : "      ...> ");
    if (raw == nullptr) break;  // Ctrl-D
    std::string line(raw);
    std::free(raw);
    if (buffer.empty() && !line.empty() && line[0] == '.') {
      add_history(line.c_str());
      if (line == ".quit" || line == ".exit") break;
      if (line == ".help") {
        std::printf(
            ".tables              list tables\n"
            ".format table|csv|json\n"
            ".stats on|off        show files scanned and pruned after queries\n"
            ".quit                leave\n");
      } else if (line == ".tables") {
        RunTables(options);
      } else if (line.rfind(".format ", 0) == 0) {
        std::string name = line.substr(8);
        if (auto f = ParseOutputFormat(name); f.ok()) {
          options.format = name;
        } else {
          ReportError(f.status());
        }
      } else if (line == ".stats on" || line == ".stats off") {
        options.stats = line == ".stats on";
      } else {
        std::fprintf(stderr, "unknown command %s (try .help)\n", line.c_str());
      }
      continue;
    }
    buffer += line + "\n";
    if (!StatementComplete(buffer)) continue;
    add_history(buffer.substr(0, buffer.size() - 1).c_str());
    {
      InterruptForwarder forwarder(engine);
      RunScript(engine, options, buffer, /*interactive=*/true);
    }
    buffer.clear();
  }
  return 0;
}

}  // namespace

int ReportError(const absl::Status& status) {
  std::fprintf(stderr, "error: %s\n", std::string(status.message()).c_str());
  return 1;
}

int RunSql(GlobalOptions options, const std::string& sql) {
  bool interactive = sql.empty() && isatty(STDIN_FILENO);
  options.count_files = options.stats || interactive;
  auto engine = OpenEngine(options);
  if (!engine.ok()) return ReportError(engine.status());
  if (!sql.empty()) {
    InterruptForwarder forwarder(**engine);
    return RunScript(**engine, options, sql, /*interactive=*/false);
  }
  if (interactive) return Interactive(**engine, options);
  std::string script((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  InterruptForwarder forwarder(**engine);
  return RunScript(**engine, options, script, /*interactive=*/false);
}

}  // namespace shardlake::cli
