#include "gemini/gemini.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>

#include "common/sql_text.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "common/uri.h"
#include "fmt/format.h"
#include "gemini/history.h"
#include "gemini/target.h"

namespace shardlake::gemini {
namespace {

using Clock = std::chrono::steady_clock;
using KeyTuple = std::vector<std::string>;

constexpr double kFirstBackoffSeconds = 0.01;

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kWrite:
      return "write";
    case Mode::kRead:
      return "read";
    case Mode::kMixed:
      return "mixed";
  }
  return "?";
}

// A failure after which the statement may or may not have taken effect.
bool OutcomeUncertain(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

// Whether trying the same statement again may succeed.
bool Retryable(const absl::Status& status) {
  return OutcomeUncertain(status) || status.code() == absl::StatusCode::kInternal ||
         status.code() == absl::StatusCode::kResourceExhausted;
}

std::string NowText() { return FormatUnixNanos(NowUnixNanos()).substr(0, 23) + "Z"; }

// State shared by the workers of one run.
class RunState {
 public:
  RunState(const Config& config, const Schema& schema, Target* test, Target* oracle,
           const std::atomic<bool>* external_stop)
      : config_(config),
        schema_(schema),
        test_(test),
        oracle_(oracle),
        external_stop_(external_stop),
        excluded_(schema.tables.size()) {}

  absl::Status OpenLog() {
    if (config_.statement_log_file.empty()) return absl::OkStatus();
    log_.open(config_.statement_log_file, std::ios::out | std::ios::trunc);
    if (!log_) {
      return absl::FailedPreconditionError(fmt::format(
          "--statement-log-file {}: cannot open for writing", config_.statement_log_file));
    }
    return absl::OkStatus();
  }

  bool Stopping() const {
    return stop_.load() || (external_stop_ != nullptr && external_stop_->load());
  }
  bool Interrupted() const { return external_stop_ != nullptr && external_stop_->load(); }

  // Runs one worker through a phase until `deadline` or `max_statements`.
  // `sequence` numbers the worker's statements across phases (for the log).
  void RunPhase(int worker, StatementGenerator& generator, HistoryStore& history, Mode mode,
                Clock::time_point deadline, int64_t max_statements, int64_t& sequence);

  void StartProgress(Clock::time_point end);
  void StopProgress();

  nlohmann::json ResultJson() const;
  int64_t ErrorCount() const { return write_errors_.load() + read_errors_.load(); }

 private:
  void Log(int worker, int64_t n, const Statement& statement, const std::string& sql);
  void DoWrite(int worker, HistoryStore& history, const Statement& statement);
  void DoRead(int worker, const Statement& statement);
  absl::Status ExecuteWithRetries(Target& target, const std::string& sql, int* attempts);
  void Sleep(double seconds) const;
  double Backoff(int attempt) const;
  void Exclude(size_t table, const std::vector<WrittenRow>& rows);
  std::string Exclusion(size_t table) const;
  void AddError(nlohmann::json error);

  const Config& config_;
  const Schema& schema_;
  Target* test_;
  Target* oracle_;  // null: load only
  const std::atomic<bool>* external_stop_;
  std::atomic<bool> stop_{false};

  // Writes share it (both sides in turn); reads hold it alone.
  std::shared_mutex sides_mu_;

  mutable std::mutex excluded_mu_;
  std::vector<std::set<KeyTuple>> excluded_;  // per table

  std::mutex log_mu_;
  std::ofstream log_;

  mutable std::mutex errors_mu_;
  nlohmann::json errors_ = nlohmann::json::array();
  std::string stop_reason_;

  std::atomic<int64_t> write_ops_{0};
  std::atomic<int64_t> write_errors_{0};
  std::atomic<int64_t> read_ops_{0};
  std::atomic<int64_t> read_errors_{0};
  std::atomic<int64_t> validated_rows_{0};
  std::array<std::atomic<int64_t>, kStatementKindCount> per_kind_{};

  std::thread progress_;
  std::atomic<bool> progress_stop_{false};
};

double RunState::Backoff(int attempt) const {
  double delay = kFirstBackoffSeconds;
  for (int i = 0; i < attempt && delay < config_.max_mutation_retries_backoff_seconds; ++i) {
    delay *= 2;
  }
  return std::min(delay, config_.max_mutation_retries_backoff_seconds);
}

void RunState::Sleep(double seconds) const {
  // In slices, so that Ctrl-C does not wait for a long backoff.
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end && !Stopping()) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(20),
                                  std::chrono::duration_cast<Clock::duration>(end - Clock::now())));
  }
}

void RunState::Log(int worker, int64_t n, const Statement& statement, const std::string& sql) {
  if (config_.verbose) {
    std::fprintf(stderr, "gemini: w%d #%lld %s: %s\n", worker, static_cast<long long>(n),
                 StatementKindName(statement.kind), sql.c_str());
  }
  if (!log_.is_open()) return;
  std::lock_guard<std::mutex> lock(log_mu_);
  log_ << 'w' << worker << ' ' << n << ' ' << StatementKindName(statement.kind) << ' '
       << test_->Render(sql) << ";\n";
}

void RunState::AddError(nlohmann::json error) {
  std::lock_guard<std::mutex> lock(errors_mu_);
  if (errors_.size() < static_cast<size_t>(config_.max_errors_to_store)) {
    errors_.push_back(std::move(error));
  }
  int64_t total = write_errors_.load() + read_errors_.load();
  if (config_.fail_fast && stop_reason_.empty()) {
    stop_reason_ = "--fail-fast: stopped at the first error";
    stop_.store(true);
  } else if (total >= config_.max_errors_to_store && stop_reason_.empty()) {
    stop_reason_ = fmt::format("--max-errors-to-store: {} errors reached", total);
    stop_.store(true);
  }
}

absl::Status RunState::ExecuteWithRetries(Target& target, const std::string& sql, int* attempts) {
  absl::Status status;
  for (int attempt = 0; attempt <= config_.max_mutation_retries; ++attempt) {
    *attempts = attempt + 1;
    status = target.Execute(sql);
    if (status.ok() || !Retryable(status)) return status;
    Sleep(Backoff(attempt));
  }
  return status;
}

void RunState::Exclude(size_t table, const std::vector<WrittenRow>& rows) {
  const std::vector<size_t> keys = schema_.tables[table].Role(ColumnRole::kPartitionKey);
  std::lock_guard<std::mutex> lock(excluded_mu_);
  for (const WrittenRow& row : rows) {
    KeyTuple tuple;
    for (size_t c : keys) tuple.push_back(row.literals[c].value_or("NULL"));
    excluded_[table].insert(std::move(tuple));
  }
}

std::string RunState::Exclusion(size_t table) const {
  std::lock_guard<std::mutex> lock(excluded_mu_);
  if (excluded_[table].empty()) return "";
  const Table& t = schema_.tables[table];
  const std::vector<size_t> keys = t.Role(ColumnRole::kPartitionKey);
  std::string any;
  for (const KeyTuple& tuple : excluded_[table]) {
    std::string match;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!match.empty()) match += " AND ";
      match += fmt::format("{} = {}", QuoteIdentifier(t.columns[keys[i]].name), tuple[i]);
    }
    if (!any.empty()) any += " OR ";
    any += "(" + match + ")";
  }
  return "NOT (" + any + ")";
}

void RunState::DoWrite(int worker, HistoryStore& history, const Statement& statement) {
  const std::string sql = statement.Sql();
  std::shared_lock<std::shared_mutex> lock(sides_mu_);
  write_ops_.fetch_add(1);
  auto error = [&](const std::string& side, const absl::Status& status, int attempts,
                   bool excluded) {
    write_errors_.fetch_add(1);
    AddError({{"type", "write"},
              {"message", fmt::format("Mutation failed on the {} side after {} attempt(s): {}",
                                      side, attempts, std::string(status.message()))},
              {"side", side},
              {"statement", test_->Render(sql)},
              {"statement_kind", StatementKindName(statement.kind)},
              {"values", statement.values},
              {"worker", worker},
              {"attempts", attempts},
              {"keys_excluded_from_reads", excluded},
              {"time", NowText()}});
  };
  int attempts = 0;
  absl::Status test_status = ExecuteWithRetries(*test_, sql, &attempts);
  if (!test_status.ok() && !OutcomeUncertain(test_status)) {
    // Refused for sure: nothing changed on the test side, so the oracle is
    // left alone too.
    error("test", test_status, attempts, false);
    return;
  }
  if (oracle_ == nullptr) {
    if (!test_status.ok()) error("test", test_status, attempts, false);
    return;
  }
  int oracle_attempts = 0;
  absl::Status oracle_status = ExecuteWithRetries(*oracle_, sql, &oracle_attempts);
  if (!test_status.ok() || !oracle_status.ok()) {
    // One side may hold rows the other lacks: keep their keys out of reads.
    Exclude(statement.table, statement.rows);
    if (!test_status.ok()) error("test", test_status, attempts, true);
    if (!oracle_status.ok()) error("oracle", oracle_status, oracle_attempts, true);
    return;
  }
  for (const WrittenRow& row : statement.rows) {
    absl::Status recorded = history.Record(statement.table, row);
    if (!recorded.ok()) {
      error("gemini", recorded, 1, false);
      return;
    }
  }
}

void RunState::DoRead(int worker, const Statement& statement) {
  read_ops_.fetch_add(1);
  CompareOptions compare_options;
  compare_options.ordered = statement.ordered;
  Comparison comparison;
  absl::Status failure;
  std::string failed_side;
  std::string sql;
  int attempts = 0;
  for (int attempt = 0; attempt <= config_.max_mutation_retries; ++attempt) {
    attempts = attempt + 1;
    if (attempt > 0) {
      Sleep(Backoff(attempt - 1));
      // The run is ending (Ctrl-C, --fail-fast, the error budget): a read not
      // yet confirmed is abandoned, neither validated nor counted as an error.
      if (Stopping()) return;
    }
    std::unique_lock<std::shared_mutex> lock(sides_mu_);
    sql = statement.Sql(Exclusion(statement.table));
    auto test_rows = test_->Query(sql);
    if (!test_rows.ok()) {
      failure = test_rows.status();
      failed_side = "test";
      continue;
    }
    if (oracle_ == nullptr) return;  // load only: nothing to compare with
    auto oracle_rows = oracle_->Query(sql);
    lock.unlock();
    if (!oracle_rows.ok()) {
      failure = oracle_rows.status();
      failed_side = "oracle";
      continue;
    }
    comparison = CompareRows(*test_rows, *oracle_rows, statement.column_names, statement.kinds,
                             compare_options);
    if (comparison.equal) {
      validated_rows_.fetch_add(comparison.oracle_rows);
      return;
    }
    failure = absl::OkStatus();
    failed_side.clear();
  }
  read_errors_.fetch_add(1);
  nlohmann::json error = {{"type", "read"},
                          {"statement", test_->Render(sql)},
                          {"statement_kind", StatementKindName(statement.kind)},
                          {"table", schema_.tables[statement.table].name},
                          {"values", statement.values},
                          {"ordered", statement.ordered},
                          {"worker", worker},
                          {"attempts", attempts},
                          {"time", NowText()}};
  if (!failed_side.empty()) {
    error["message"] = fmt::format("Query failed on the {} side after {} attempt(s): {}",
                                   failed_side, attempts, std::string(failure.message()));
    error["side"] = failed_side;
  } else {
    error["message"] =
        fmt::format("Validation failed ({}) after {} attempt(s): {}",
                    StatementKindName(statement.kind), attempts, comparison.Summary());
    error["results"] = comparison.ToJson();
  }
  AddError(std::move(error));
}

void RunState::RunPhase(int worker, StatementGenerator& generator, HistoryStore& history, Mode mode,
                        Clock::time_point deadline, int64_t max_statements, int64_t& sequence) {
  int64_t n = 0;
  while (!Stopping() && Clock::now() < deadline && (max_statements == 0 || n < max_statements)) {
    bool write = mode == Mode::kWrite || (mode == Mode::kMixed && generator.NextIsWrite());
    if (write) {
      Statement statement = generator.NextWrite();
      Log(worker, sequence++, statement, statement.Sql());
      per_kind_[static_cast<size_t>(statement.kind)].fetch_add(1);
      DoWrite(worker, history, statement);
    } else {
      auto statement = generator.NextRead();
      if (!statement.ok()) {
        read_errors_.fetch_add(1);
        AddError({{"type", "gemini"},
                  {"message", std::string(statement.status().message())},
                  {"worker", worker},
                  {"time", NowText()}});
        return;
      }
      Log(worker, sequence++, *statement, statement->Sql());
      per_kind_[static_cast<size_t>(statement->kind)].fetch_add(1);
      DoRead(worker, *statement);
    }
    ++n;
  }
}

void RunState::StartProgress(Clock::time_point end) {
  if (!config_.progress) return;
  progress_ = std::thread([this, end] {
    auto start = Clock::now();
    while (!progress_stop_.load()) {
      for (int i = 0; i < 10 && !progress_stop_.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      double left = std::max(0.0, std::chrono::duration<double>(end - Clock::now()).count());
      int64_t ops = write_ops_.load() + read_ops_.load();
      std::fprintf(stderr,
                   "\r  gemini: %.0f ops/s, %lld writes, %lld reads, %lld rows validated, %lld "
                   "errors, %.0f s left   ",
                   elapsed > 0 ? static_cast<double>(ops) / elapsed : 0.0,
                   static_cast<long long>(write_ops_.load()),
                   static_cast<long long>(read_ops_.load()),
                   static_cast<long long>(validated_rows_.load()),
                   static_cast<long long>(ErrorCount()), left);
      std::fflush(stderr);
    }
    std::fprintf(stderr, "\n");
  });
}

void RunState::StopProgress() {
  progress_stop_.store(true);
  if (progress_.joinable()) progress_.join();
}

nlohmann::json RunState::ResultJson() const {
  nlohmann::json statements = nlohmann::json::object();
  for (int k = 0; k < kStatementKindCount; ++k) {
    statements[StatementKindName(static_cast<StatementKind>(k))] = per_kind_[k].load();
  }
  size_t excluded = 0;
  {
    std::lock_guard<std::mutex> lock(excluded_mu_);
    for (const auto& keys : excluded_) excluded += keys.size();
  }
  std::lock_guard<std::mutex> lock(errors_mu_);
  return {{"result",
           {{"write_ops", write_ops_.load()},
            {"write_errors", write_errors_.load()},
            {"read_ops", read_ops_.load()},
            {"read_errors", read_errors_.load()},
            {"validated_rows", validated_rows_.load()},
            {"errors", errors_}}},
          {"statements", statements},
          {"excluded_partition_keys", excluded},
          {"stop_reason", stop_reason_}};
}

}  // namespace

absl::Status ValidateConfig(const Config& config) {
  auto bad = [](const std::string& flag, const std::string& value, const std::string& allowed) {
    return absl::InvalidArgumentError(
        fmt::format("{} {}: {}", flag, value.empty() ? "\"\"" : value, allowed));
  };
  if (config.test_cluster.empty()) {
    return bad("--test-cluster", "", "required: the system under test, e.g. embedded:");
  }
  if (!(config.duration_seconds > 0)) {
    return bad("--duration", fmt::format("{}", config.duration_seconds), "must be above 0");
  }
  if (config.warmup_seconds < 0) {
    return bad("--warmup", fmt::format("{}", config.warmup_seconds), "must be 0 or more");
  }
  if (config.concurrency < 1 || config.concurrency > 256) {
    return bad("--concurrency", std::to_string(config.concurrency), "must be in 1..256");
  }
  if (config.partition_count < config.concurrency || config.partition_count > 100'000'000) {
    return bad("--partition-count", std::to_string(config.partition_count),
               "must be at least --concurrency (every worker needs keys) and at most 100000000");
  }
  const SchemaLimits& limits = config.schema_limits;
  if (limits.max_tables < 1 || limits.max_tables > 100) {
    return bad("--max-tables", std::to_string(limits.max_tables), "must be in 1..100");
  }
  if (limits.max_partition_keys < 1 || limits.max_partition_keys > 16) {
    return bad("--max-partition-keys", std::to_string(limits.max_partition_keys),
               "must be in 1..16");
  }
  if (limits.max_clustering_keys < 0 || limits.max_clustering_keys > 16) {
    return bad("--max-clustering-keys", std::to_string(limits.max_clustering_keys),
               "must be in 0..16");
  }
  if (limits.max_columns < 1 || limits.max_columns > 256) {
    return bad("--max-columns", std::to_string(limits.max_columns), "must be in 1..256");
  }
  if (config.max_mutation_retries < 0 || config.max_mutation_retries > 100) {
    return bad("--max-mutation-retries", std::to_string(config.max_mutation_retries),
               "must be in 0..100");
  }
  if (config.max_mutation_retries_backoff_seconds < 0) {
    return bad("--max-mutation-retries-backoff",
               fmt::format("{}", config.max_mutation_retries_backoff_seconds), "must be 0 or more");
  }
  if (config.max_errors_to_store < 1) {
    return bad("--max-errors-to-store", std::to_string(config.max_errors_to_store),
               "must be at least 1");
  }
  if (config.max_statements_per_worker < 0) {
    return bad("--max-statements", std::to_string(config.max_statements_per_worker),
               "must be 0 (no limit) or more");
  }
  return absl::OkStatus();
}

// A target URI without its password, for what gemini prints.
std::string RedactedUri(const std::string& uri) {
  if (uri.empty()) return uri;
  auto parsed = ParseUri(uri);
  if (parsed.ok()) return parsed->Redacted();
  return uri.find('@') == std::string::npos ? uri : "(a URI that does not parse)";
}

std::string DescribeSetup(const Config& config, const Schema& schema) {
  return fmt::format(
      "gemini: seed {} schema seed {} mode {} duration {}s warmup {}s concurrency {}\n"
      "gemini: test {} oracle {}\n"
      "gemini: schema {}\n",
      config.seed, config.schema_seed, ModeName(config.mode), config.duration_seconds,
      config.warmup_seconds, config.concurrency, RedactedUri(config.test_cluster),
      config.oracle_cluster.empty() ? "(none: load only)" : RedactedUri(config.oracle_cluster),
      schema.ToJson().dump());
}

absl::StatusOr<RunOutcome> Run(const Config& config, const std::atomic<bool>* stop) {
  RETURN_IF_ERROR(ValidateConfig(config));
  const Schema schema = GenerateSchema(config.schema_seed, config.schema_limits);
  TargetOptions target_options;
  target_options.threads = config.threads;
  target_options.data_dir = config.data_dir;
  ASSIGN_OR_RETURN(std::unique_ptr<Target> test, OpenTarget(config.test_cluster, target_options));
  std::unique_ptr<Target> oracle;
  if (!config.oracle_cluster.empty()) {
    TargetOptions oracle_options = target_options;
    oracle_options.data_dir.clear();  // never share the test side's directory
    ASSIGN_OR_RETURN(oracle, OpenTarget(config.oracle_cluster, oracle_options));
  }
  // Read mode reads what an earlier run left: nothing is dropped then.
  const bool drop = config.drop_schema && config.mode != Mode::kRead;
  for (Target* target : {test.get(), oracle.get()}) {
    if (target == nullptr) continue;
    absl::Status created = target->CreateSchema(schema, drop);
    if (!created.ok()) {
      return absl::Status(created.code(),
                          fmt::format("creating the schema on {}: {}", target->Describe(),
                                      std::string(created.message())));
    }
  }

  RunState state(config, schema, test.get(), oracle.get(), stop);
  RETURN_IF_ERROR(state.OpenLog());

  // Every worker: its own Rng, history and slice of each table's key pool.
  struct Worker {
    int64_t sequence = 0;
    std::unique_ptr<HistoryStore> history;
    std::unique_ptr<StatementGenerator> generator;
  };
  std::vector<Worker> workers(static_cast<size_t>(config.concurrency));
  std::vector<std::vector<KeyTuple>> pools;
  for (size_t t = 0; t < schema.tables.size(); ++t) {
    pools.push_back(BuildKeyPool(config.schema_seed, schema.tables[t], t,
                                 static_cast<size_t>(config.partition_count),
                                 config.schema_limits.dataset_size));
  }
  for (size_t w = 0; w < workers.size(); ++w) {
    ASSIGN_OR_RETURN(workers[w].history, HistoryStore::Open(schema.tables.size()));
    std::vector<std::vector<KeyTuple>> slices;
    for (const auto& pool : pools) {
      // A small key domain may give fewer tuples than workers: then workers
      // share tuples (reads still see both sides in one state).
      size_t n = pool.size();
      size_t begin = n * w / workers.size();
      size_t end = std::max(begin + 1, n * (w + 1) / workers.size());
      if (begin >= n) begin = n - 1;
      slices.emplace_back(pool.begin() + static_cast<ptrdiff_t>(begin),
                          pool.begin() + static_cast<ptrdiff_t>(std::min(end, n)));
    }
    workers[w].generator = std::make_unique<StatementGenerator>(
        schema, std::move(slices), Rng::Derive(config.seed, fmt::format("worker-{}", w)),
        config.schema_limits.dataset_size, config.partition_key_distribution,
        config.schema_limits.dataset_size == DatasetSize::kSmall ? 20 : 200, config.ratios,
        workers[w].history.get());
  }

  auto start = Clock::now();
  auto run_phase = [&](Mode mode, double seconds, int64_t max_statements) {
    auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(seconds));
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers.size(); ++w) {
      threads.emplace_back([&, w] {
        state.RunPhase(static_cast<int>(w), *workers[w].generator, *workers[w].history, mode,
                       deadline, max_statements, workers[w].sequence);
      });
    }
    for (std::thread& thread : threads) thread.join();
  };
  state.StartProgress(
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(config.warmup_seconds + config.duration_seconds)));
  if (config.warmup_seconds > 0 && config.mode != Mode::kRead) {
    run_phase(Mode::kWrite, config.warmup_seconds, 0);
  }
  run_phase(config.mode, config.duration_seconds, config.max_statements_per_worker);
  state.StopProgress();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  RunOutcome outcome;
  outcome.result = state.ResultJson();
  outcome.errors = state.ErrorCount();
  nlohmann::json& r = outcome.result;
  r["gemini_version"] = "shardlake-gemini 1";
  r["seed"] = config.seed;
  r["schema_seed"] = config.schema_seed;
  r["schema"] = schema.ToJson();
  r["statement_ratios"] = config.ratios.ToJson();
  r["mode"] = ModeName(config.mode);
  r["concurrency"] = config.concurrency;
  r["duration_seconds"] = config.duration_seconds;
  r["warmup_seconds"] = config.warmup_seconds;
  r["elapsed_seconds"] = elapsed;
  r["test_cluster"] = test->Describe();
  r["oracle_cluster"] = oracle ? oracle->Describe() : "";
  r["interrupted"] = state.Interrupted();
  r["unsupported_statements"] = {{"update", "not generated: shardlake tables are append-only"},
                                 {"delete", "not generated: shardlake tables are append-only"}};
  return outcome;
}

}  // namespace shardlake::gemini

namespace shardlake::gemini {

absl::StatusOr<double> ParseDurationSeconds(const std::string& text) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(fmt::format(
        "duration `{}`: use a number of seconds or units like 90s, 1m30s, 500ms, 2h", text));
  };
  if (text.empty()) return invalid();
  double total = 0;
  size_t at = 0;
  bool any_unit = false;
  while (at < text.size()) {
    size_t end = at;
    while (end < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.')) {
      ++end;
    }
    if (end == at) return invalid();
    char* parsed_end = nullptr;
    std::string number = text.substr(at, end - at);
    double value = std::strtod(number.c_str(), &parsed_end);
    if (parsed_end != number.c_str() + number.size()) return invalid();
    size_t unit_end = end;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) {
      ++unit_end;
    }
    std::string unit = text.substr(end, unit_end - end);
    double scale = 0;
    if (unit.empty()) {
      if (any_unit || unit_end != text.size()) return invalid();
      scale = 1;
    } else if (unit == "ms") {
      scale = 1e-3;
    } else if (unit == "us") {
      scale = 1e-6;
    } else if (unit == "s") {
      scale = 1;
    } else if (unit == "m") {
      scale = 60;
    } else if (unit == "h") {
      scale = 3600;
    } else {
      return invalid();
    }
    any_unit = any_unit || !unit.empty();
    total += value * scale;
    at = unit_end;
  }
  return total;
}

absl::StatusOr<uint64_t> ParseSeed(const std::string& text) {
  if (text == "random") {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 20) {
    return absl::InvalidArgumentError(
        fmt::format("seed `{}`: use a number (0..18446744073709551615) or `random`", text));
  }
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE) {
    return absl::InvalidArgumentError(fmt::format("seed `{}`: above 18446744073709551615", text));
  }
  return static_cast<uint64_t>(value);
}

}  // namespace shardlake::gemini
