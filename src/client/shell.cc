#include "client/shell.h"

#include <fcntl.h>
#include <histedit.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "query/result_compare.h"
#include "query/sql_lexer.h"

namespace shardlake {
namespace {

constexpr const char* kPrompt = "shardlake> ";
constexpr const char* kContinuationPrompt = "     ...> ";
constexpr int kHistorySize = 2000;

// The write end of the running watcher's pipe, for the SIGINT handler.
std::atomic<int> g_interrupt_pipe{-1};
// Set by the handler; the prompt loop reads and clears it.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void OnSigint(int) {
  g_interrupted = 1;
  int fd = g_interrupt_pipe.load();
  if (fd >= 0) {
    char byte = 'c';
    ssize_t ignored = write(fd, &byte, 1);  // async-signal-safe; a full pipe drops the byte
    (void)ignored;
  }
}

std::string Trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '=')) {
      if (text[i] == '=') words.emplace_back("=");
      ++i;
    }
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '=') ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

// "true"/"on" -> true, "false"/"off" -> false.
std::optional<bool> ParseSwitch(const std::string& text) {
  if (text == "true" || text == "on") return true;
  if (text == "false" || text == "off") return false;
  return std::nullopt;
}

const char* OnOff(bool value) { return value ? "on" : "off"; }

bool StartsWithExplain(const std::string& statement) {
  auto tokens = TokenizeSql(statement, 1);
  return tokens.ok() && !tokens->empty() && (*tokens)[0].kind == SqlToken::Kind::kWord &&
         (*tokens)[0].text == "EXPLAIN";
}

// The statement as shown in an error: its first line, shortened.
std::string StatementExcerpt(const std::string& statement) {
  std::string text = Trim(statement);
  constexpr size_t kMaxExcerpt = 200;
  if (text.size() > kMaxExcerpt) text = text.substr(0, kMaxExcerpt) + "...";
  return text;
}

std::string FormatBytes(int64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (bytes < (int64_t{1} << 20)) return fmt::format("{:.1f} KiB", bytes / 1024.0);
  if (bytes < (int64_t{1} << 30)) return fmt::format("{:.1f} MiB", bytes / 1048576.0);
  return fmt::format("{:.2f} GiB", bytes / 1073741824.0);
}

}  // namespace

bool SqlInputComplete(std::string_view text) {
  // Appending a word on a new line starts a new statement exactly when the
  // text ends with ';' and then only whitespace or comments.
  auto as_is = SplitSqlStatements(text);
  if (!as_is.ok()) return false;  // inside a quote or a /* comment
  auto extended = SplitSqlStatements(std::string(text) + "\nX");
  return extended.ok() && extended->size() == as_is->size() + 1;
}

// Cancels the running statement when SIGINT arrives: the handler writes a
// byte to a pipe, and this watcher thread, which may call into gRPC, reads it.
class Shell::InterruptWatcher {
 public:
  explicit InterruptWatcher(ClusterClient& client) : client_(client) {
    if (pipe(fds_) != 0) {
      fds_[0] = fds_[1] = -1;
      return;
    }
    fcntl(fds_[1], F_SETFL, O_NONBLOCK);
    g_interrupt_pipe.store(fds_[1]);
    struct sigaction action {};
    action.sa_handler = OnSigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: a read at the prompt returns EINTR
    sigaction(SIGINT, &action, &previous_);
    thread_ = std::thread([this] { Watch(); });
  }
  ~InterruptWatcher() {
    if (fds_[1] < 0) return;
    sigaction(SIGINT, &previous_, nullptr);
    g_interrupt_pipe.store(-1);
    char stop = 'q';
    while (write(fds_[1], &stop, 1) < 0 && errno == EINTR) {
    }
    thread_.join();
    close(fds_[0]);
    close(fds_[1]);
  }
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  void SetRunning(bool running) { running_.store(running); }

 private:
  void Watch() {
    while (true) {
      char byte;
      ssize_t n = read(fds_[0], &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || byte == 'q') return;
      if (running_.load()) client_.Cancel();
    }
  }

  ClusterClient& client_;
  int fds_[2] = {-1, -1};
  struct sigaction previous_ {};
  std::atomic<bool> running_{false};
  std::thread thread_;
};

Shell::Shell(ClusterClient& client, ShellOptions options)
    : client_(client), options_(std::move(options)) {
  settings_.mode = options_.mode;
}

Shell::~Shell() = default;

void Shell::Error(const std::string& message) {
  std::fflush(options_.out);  // results first, then the error
  std::fprintf(options_.err, "error: %s\n", message.c_str());
  std::fflush(options_.err);
}

int Shell::RunScript(std::string_view script) {
  if (options_.handle_interrupts) interrupts_ = std::make_unique<InterruptWatcher>(client_);
  int code = 0;
  size_t begin = 0;
  while (begin <= script.size() && code == 0) {
    size_t end = script.find('\n', begin);
    if (end == std::string_view::npos) end = script.size();
    LineResult result = FeedLine(std::string(script.substr(begin, end - begin)));
    if (result == LineResult::kFailed) code = 1;
    if (result == LineResult::kQuit) break;
    begin = end + 1;
  }
  if (code == 0 && FlushPending() == LineResult::kFailed) code = 1;
  interrupts_.reset();
  return code;
}

int Shell::RunStream(std::FILE* in) {
  if (options_.handle_interrupts) interrupts_ = std::make_unique<InterruptWatcher>(client_);
  int code = 0;
  char* raw = nullptr;
  size_t capacity = 0;
  while (true) {
    ssize_t n = getline(&raw, &capacity, in);
    if (n < 0) break;
    std::string line(raw, static_cast<size_t>(n));
    if (!line.empty() && line.back() == '\n') line.pop_back();
    LineResult result = FeedLine(line);
    if (result == LineResult::kFailed) code = 1;
    if (result != LineResult::kContinue) break;
  }
  std::free(raw);
  if (code == 0 && FlushPending() == LineResult::kFailed) code = 1;
  interrupts_.reset();
  return code;
}

namespace {

// libedit's prompt callback reads the shell's state through EL_CLIENTDATA.
struct PromptState {
  const std::string* pending;
};

char* PromptFor(EditLine* editor) {
  void* data = nullptr;
  el_get(editor, EL_CLIENTDATA, &data);
  const auto* state = static_cast<const PromptState*>(data);
  bool continuing = state != nullptr && !Trim(*state->pending).empty();
  return const_cast<char*>(continuing ? kContinuationPrompt : kPrompt);
}

// Creates the history file with mode 0600 (or narrows an existing one) before
// libedit writes it: statements may hold secrets.
void PrepareHistoryFile(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0) {
    fchmod(fd, 0600);
    close(fd);
  }
}

}  // namespace

int Shell::RunInteractive() {
  std::unique_ptr<EditLine, decltype(&el_end)> editor(el_init("shardlake", stdin, stdout, stderr),
                                                      &el_end);
  std::unique_ptr<History, decltype(&history_end)> history_list(history_init(), &history_end);
  if (editor == nullptr || history_list == nullptr) {
    Error("cannot start line editing on this terminal; pipe statements in or use -c / -f");
    return 1;
  }
  HistEvent event;
  history(history_list.get(), &event, H_SETSIZE, kHistorySize);
  history(history_list.get(), &event, H_SETUNIQUE, 1);
  if (!options_.history_path.empty()) {
    history(history_list.get(), &event, H_LOAD, options_.history_path.c_str());
  }
  PromptState prompt_state{&pending_};
  el_set(editor.get(), EL_EDITOR, "emacs");
  el_set(editor.get(), EL_HIST, history, history_list.get());
  el_set(editor.get(), EL_CLIENTDATA, &prompt_state);
  el_set(editor.get(), EL_PROMPT, &PromptFor);
  el_source(editor.get(), nullptr);  // the user's ~/.editrc, if any

  auto remember = [&](const std::string& entry) {
    if (Trim(entry).empty()) return;
    history(history_list.get(), &event, H_ENTER, entry.c_str());
    if (options_.history_path.empty()) return;
    PrepareHistoryFile(options_.history_path);
    history(history_list.get(), &event, H_SAVE, options_.history_path.c_str());
  };

  if (options_.handle_interrupts) interrupts_ = std::make_unique<InterruptWatcher>(client_);
  std::fprintf(options_.out,
               "End statements with ';'. .help lists the commands; .quit or Ctrl-D leaves.\n");
  std::string entry;  // the lines of the statement being typed, for the history
  while (true) {
    g_interrupted = 0;
    int count = 0;
    errno = 0;
    const char* raw = el_gets(editor.get(), &count);
    if (raw == nullptr) {
      if (g_interrupted != 0 || (count < 0 && errno == EINTR)) {
        // Ctrl-C at the prompt: drop what was typed and start over.
        std::fputc('\n', options_.out);
        pending_.clear();
        entry.clear();
        el_reset(editor.get());
        continue;
      }
      break;  // Ctrl-D or end of input
    }
    std::string line(raw, static_cast<size_t>(count));
    if (!line.empty() && line.back() == '\n') line.pop_back();
    entry += (entry.empty() ? "" : "\n") + line;
    LineResult result = FeedLine(line);
    if (Trim(pending_).empty()) {  // a dot-command, or statements that ran
      remember(entry);
      entry.clear();
    }
    if (result == LineResult::kQuit) break;
  }
  interrupts_.reset();
  return 0;
}

Shell::LineResult Shell::FeedLine(const std::string& line) {
  if (Trim(pending_).empty()) {
    std::string trimmed = Trim(line);
    if (!trimmed.empty() && trimmed[0] == '.') {
      pending_.clear();
      return RunDotCommand(trimmed);
    }
  }
  pending_ += line;
  pending_ += '\n';
  if (!SqlInputComplete(pending_)) return LineResult::kContinue;
  std::string text = std::move(pending_);
  pending_.clear();
  return RunStatements(text);
}

Shell::LineResult Shell::FlushPending() {
  std::string text = std::move(pending_);
  pending_.clear();
  if (Trim(text).empty()) return LineResult::kContinue;
  return RunStatements(text);
}

Shell::LineResult Shell::RunStatements(const std::string& text) {
  auto statements = SplitSqlStatements(text);
  if (!statements.ok()) {
    Error(fmt::format("{} in: {}", std::string(statements.status().message()),
                      StatementExcerpt(text)));
    return LineResult::kFailed;
  }
  for (const std::string& statement : *statements) {
    if (!RunStatement(Trim(statement))) return LineResult::kFailed;
  }
  return LineResult::kContinue;
}

namespace {

// Forwards rows to a printer and keeps a copy (for .verify).
class TeeSink : public ResultSink {
 public:
  explicit TeeSink(ResultSink& printer) : printer_(printer) {}
  absl::Status Begin(const std::vector<std::string>& column_names) override {
    copy_.Begin(column_names).IgnoreError();
    return printer_.Begin(column_names);
  }
  absl::Status Rows(const std::vector<std::vector<std::optional<std::string>>>& rows) override {
    copy_.Rows(rows).IgnoreError();
    return printer_.Rows(rows);
  }
  absl::Status End() override { return printer_.End(); }
  const std::vector<std::string>& columns() const { return copy_.columns(); }
  const CollectingSink::RowList& rows() const { return copy_.rows(); }

 private:
  ResultSink& printer_;
  CollectingSink copy_;
};

// Whether the statement's text has ORDER BY outside quotes and comments (the
// order of its rows then counts).
bool ContainsOrderBy(const std::string& sql) {
  auto tokens = TokenizeSql(sql, static_cast<size_t>(-1));
  if (!tokens.ok()) return false;
  auto is_word = [](const SqlToken& token, const char* word) {
    return token.kind == SqlToken::Kind::kWord && token.text == word;
  };
  for (size_t i = 0; i + 1 < tokens->size(); ++i) {
    if (is_word((*tokens)[i], "ORDER") && is_word((*tokens)[i + 1], "BY")) return true;
  }
  return false;
}

}  // namespace

bool Shell::RunStatement(const std::string& statement) {
  std::string sql = statement;
  if (settings_.explain && !StartsWithExplain(statement)) sql = "EXPLAIN " + statement;
  std::unique_ptr<ResultSink> printer = MakeResultPrinter(settings_.mode, options_.out);
  TeeSink tee(*printer);
  auto started = std::chrono::steady_clock::now();
  if (interrupts_ != nullptr) interrupts_->SetRunning(true);
  absl::StatusOr<ClientQueryOutcome> outcome = client_.Execute(sql, tee);
  if (interrupts_ != nullptr) interrupts_->SetRunning(false);
  double wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!outcome.ok()) {
    Error(fmt::format("{}\nstatement: {}", std::string(outcome.status().message()),
                      StatementExcerpt(sql)));
    return false;
  }
  if (settings_.timer) {
    std::string line = fmt::format("Time: server {:.1f} ms, wall {:.1f} ms; {} row{}; ",
                                   outcome->server_seconds * 1000, wall_seconds * 1000,
                                   outcome->rows, outcome->rows == 1 ? "" : "s");
    if (outcome->distributed) {
      line += fmt::format("distributed on {} worker{}, {} from workers", outcome->workers_used,
                          outcome->workers_used == 1 ? "" : "s",
                          FormatBytes(outcome->bytes_from_workers));
      if (outcome->tasks_retried > 0) {
        line += fmt::format(", {} task{} retried", outcome->tasks_retried,
                            outcome->tasks_retried == 1 ? "" : "s");
      }
    } else {
      line += "on the server";
      if (!outcome->fallback_reason.empty()) line += ": " + outcome->fallback_reason;
    }
    std::fflush(options_.out);
    std::fprintf(options_.err, "%s\n", line.c_str());
    std::fflush(options_.err);
  }
  if (settings_.verify && outcome->statement_kind == "SELECT") {
    if (!outcome->distributed) {
      std::fflush(options_.out);
      std::fprintf(options_.err, "not distributed (%s): nothing to verify\n",
                   outcome->fallback_reason.c_str());
      std::fflush(options_.err);
      return true;
    }
    return VerifyAgainstServerAlone(sql, tee.columns(), tee.rows());
  }
  return true;
}

bool Shell::VerifyAgainstServerAlone(
    const std::string& sql, const std::vector<std::string>& columns,
    const std::vector<std::vector<std::optional<std::string>>>& rows) {
  CollectingSink single_node;
  absl::Status status = client_.SetOption("distributed", "false");
  absl::StatusOr<ClientQueryOutcome> outcome =
      status.ok() ? client_.Execute(sql, single_node) : absl::StatusOr<ClientQueryOutcome>(status);
  absl::Status restored =
      client_.SetOption("distributed", settings_.distributed ? "true" : "false");
  if (!outcome.ok() || !restored.ok()) {
    Error(fmt::format("verify: cannot run the statement on the server alone: {}",
                      std::string((outcome.ok() ? restored : outcome.status()).message())));
    return false;
  }
  // Without column types every numeric column is compared to 1e-9 relative
  // (doubles summed in another order differ in the last bits); text exactly.
  CompareOptions compare;
  compare.ordered = ContainsOrderBy(sql);
  compare.approximate_columns.assign(columns.size(), true);
  absl::Status same =
      CompareResults(single_node.columns(), single_node.rows(), columns, rows, compare);
  std::fflush(options_.out);
  if (!same.ok()) {
    Error(
        fmt::format("VERIFY FAILED: the distributed answer differs from the server-alone "
                    "answer: {}",
                    std::string(same.message())));
    return false;
  }
  std::fprintf(options_.err,
               "verified: the distributed answer equals the server-alone answer (%zu rows)\n",
               rows.size());
  std::fflush(options_.err);
  return true;
}

Shell::LineResult Shell::RunDotCommand(const std::string& line) {
  std::vector<std::string> words = Words(line);
  const std::string& command = words[0];
  auto usage = [&](const char* text) {
    Error(fmt::format("usage: {}", text));
    return LineResult::kFailed;
  };
  if (command == ".quit" || command == ".exit") return LineResult::kQuit;
  if (command == ".help") {
    PrintHelp();
    return LineResult::kContinue;
  }
  if (command == ".show") {
    PrintSettings();
    return LineResult::kContinue;
  }
  if (command == ".status") return PrintStatus() ? LineResult::kContinue : LineResult::kFailed;
  if (command == ".explain" || command == ".timer" || command == ".verify") {
    std::optional<bool> value = words.size() == 2 ? ParseSwitch(words[1]) : std::nullopt;
    if (!value.has_value()) return usage((command + " on|off").c_str());
    (command == ".explain" ? settings_.explain
     : command == ".timer" ? settings_.timer
                           : settings_.verify) = *value;
    return LineResult::kContinue;
  }
  if (command == ".mode") {
    if (words.size() != 2) return usage(".mode table|csv|json|jsonl");
    absl::StatusOr<OutputFormat> mode = ParseOutputFormat(words[1]);
    if (!mode.ok()) {
      Error(std::string(mode.status().message()));
      return LineResult::kFailed;
    }
    settings_.mode = *mode;
    return LineResult::kContinue;
  }
  if (command == ".set") {
    // .set NAME = VALUE (the '=' is optional)
    if (words.size() == 4 && words[2] == "=") words.erase(words.begin() + 2);
    if (words.size() != 3)
      return usage(".set distributed|summarize = true|false, .set timeout = N");
    const std::string& name = words[1];
    const std::string& value = words[2];
    std::string canonical;
    if (name == "distributed" || name == "summarize") {
      std::optional<bool> flag = ParseSwitch(value);
      if (!flag.has_value()) {
        Error(fmt::format("{} takes true or false, not '{}'", name, value));
        return LineResult::kFailed;
      }
      canonical = *flag ? "true" : "false";
    } else if (name == "timeout") {
      char* end = nullptr;
      double seconds = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(seconds >= 0)) {
        Error(fmt::format("timeout takes a number of seconds >= 0 (0: none), not '{}'", value));
        return LineResult::kFailed;
      }
      canonical = value;
    } else {
      Error(fmt::format("unknown setting '{}': use distributed, summarize or timeout", name));
      return LineResult::kFailed;
    }
    absl::Status status = client_.SetOption(name, canonical);
    if (!status.ok()) {
      Error(fmt::format("cannot set {}: {}", name, std::string(status.message())));
      return LineResult::kFailed;
    }
    if (name == "distributed") settings_.distributed = canonical == "true";
    if (name == "summarize") settings_.summarize = canonical == "true";
    if (name == "timeout") settings_.timeout_seconds = std::strtod(canonical.c_str(), nullptr);
    return LineResult::kContinue;
  }
  Error(fmt::format("unknown command '{}' (.help lists the commands)", command));
  return LineResult::kFailed;
}

void Shell::PrintHelp() {
  std::fputs(
      ".set distributed = true|false  run on workers and the server, or on the server only\n"
      ".set summarize = true|false    false: show the workers' partial results unmerged\n"
      ".set timeout = N               cancel statements after N seconds (0: no limit)\n"
      ".explain on|off                prefix statements with EXPLAIN\n"
      ".timer on|off                  print times, distribution and bytes after statements\n"
      ".verify on|off                 re-run distributed queries on the server alone and compare\n"
      ".mode table|csv|json|jsonl     result format\n"
      ".show                          the current settings\n"
      ".status                        the server and its workers\n"
      ".help                          this list\n"
      ".quit                          leave (also Ctrl-D)\n"
      "Statements end with ';' and may span lines. Ctrl-C cancels a running statement.\n",
      options_.out);
  std::fflush(options_.out);
}

void Shell::PrintSettings() {
  std::string timeout = settings_.timeout_seconds > 0
                            ? fmt::format("{} s", settings_.timeout_seconds)
                            : std::string("none");
  std::fprintf(options_.out,
               "distributed = %s\nsummarize   = %s\ntimeout     = %s\nexplain     = %s\n"
               "timer       = %s\nverify      = %s\nmode        = %s\n",
               settings_.distributed ? "true" : "false", settings_.summarize ? "true" : "false",
               timeout.c_str(), OnOff(settings_.explain), OnOff(settings_.timer),
               OnOff(settings_.verify), OutputFormatName(settings_.mode).c_str());
  std::fflush(options_.out);
}

bool Shell::PrintStatus() {
  absl::StatusOr<ClusterStatus> status = client_.Status();
  if (!status.ok()) {
    Error(fmt::format("cannot read the server status: {}", std::string(status.status().message())));
    return false;
  }
  std::string workers;
  for (const std::string& name : status->worker_names) {
    workers += (workers.empty() ? ": " : ", ") + name;
  }
  std::fprintf(options_.out, "server %s; %d worker%s connected%s; %lld quer%s running\n",
               status->server_version.c_str(), status->workers, status->workers == 1 ? "" : "s",
               workers.c_str(), static_cast<long long>(status->queries_running),
               status->queries_running == 1 ? "y" : "ies");
  std::fflush(options_.out);
  return true;
}

}  // namespace shardlake
