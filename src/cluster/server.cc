#include "cluster/server.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <vector>

#include "catalog/index.h"
#include "cluster/cluster_manifest.h"
#include "cluster/grpc_status.h"
#include "cluster/query_inbox.h"
#include "cluster/result_batches.h"
#include "cluster/scheduler.h"
#include "cluster/session_registry.h"
#include "cluster/task_runner.h"
#include "cluster/tls_files.h"
#include "cluster/users_file.h"
#include "common/sql_text.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "compact/compactor.h"
#include "duck/arrow_wire.h"
#include "fmt/format.h"
#include "query/distributed_planner.h"
#include "query/engine.h"
#include "query/sql_lexer.h"
#include "shardlake.grpc.pb.h"
#include "spdlog/spdlog.h"

namespace shardlake {
namespace {

using WorkerStream = grpc::ServerReaderWriter<v1::ServerMessage, v1::WorkerMessage>;

constexpr char kAttemptTablePrefix[] = "__shardlake_attempt_";
// How often a running statement checks for cancellation, its deadline and a
// vanished client, and how often the heartbeat monitor looks at workers.
constexpr auto kControlPollInterval = std::chrono::milliseconds(50);

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

std::string Trimmed(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r\n;");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n;");
  return text.substr(begin, end - begin + 1);
}

// ---------------------------------------------------------------- workers

struct WorkerHandle {
  int64_t id = 0;
  std::string name;
  std::string peer;
  int max_tasks = 1;
  std::atomic<int64_t> last_seen_ns{0};

  // Sends on the worker's stream; false when the stream is gone.
  bool Send(const v1::ServerMessage& message) {
    std::lock_guard lock(stream_mutex);
    return stream != nullptr && stream->Write(message);
  }
  void Cancel() {
    std::lock_guard lock(stream_mutex);
    if (context != nullptr) context->TryCancel();
  }
  // True once the stream was cancelled or its handler returned.
  bool StreamGone() {
    std::lock_guard lock(stream_mutex);
    return context == nullptr || context->IsCancelled();
  }
  // Called by the stream's handler before it returns: the pointers die with it.
  void Detach() {
    std::lock_guard lock(stream_mutex);
    stream = nullptr;
    context = nullptr;
  }

  std::mutex stream_mutex;
  WorkerStream* stream = nullptr;          // guarded by stream_mutex
  grpc::ServerContext* context = nullptr;  // guarded by stream_mutex
};

class WorkerPool {
 public:
  std::shared_ptr<WorkerHandle> Add(std::string name, std::string peer, int max_tasks,
                                    grpc::ServerContext* context, WorkerStream* stream) {
    auto handle = std::make_shared<WorkerHandle>();
    handle->name = std::move(name);
    handle->peer = std::move(peer);
    handle->max_tasks = max_tasks;
    handle->context = context;
    handle->stream = stream;
    handle->last_seen_ns = SteadyNanos();
    std::lock_guard lock(mutex_);
    handle->id = next_id_++;
    workers_[handle->id] = WorkerSlot{handle, 0};
    return handle;
  }

  // Drops a worker (idempotent); every attempt it was running is reported
  // lost to its query.
  void Remove(int64_t worker_id, const std::string& why) {
    std::vector<std::pair<std::shared_ptr<QueryInbox>, int64_t>> lost;
    std::string name;
    {
      std::lock_guard lock(mutex_);
      auto it = workers_.find(worker_id);
      if (it == workers_.end()) return;
      name = it->second.handle->name;
      workers_.erase(it);
      for (auto route = routes_.begin(); route != routes_.end();) {
        if (route->second.worker_id != worker_id) {
          ++route;
          continue;
        }
        lost.emplace_back(route->second.inbox, route->first);
        route = routes_.erase(route);
      }
    }
    spdlog::warn("worker {} (id {}) dropped: {}; {} running task(s) will re-run elsewhere", name,
                 worker_id, why, lost.size());
    for (auto& [inbox, attempt] : lost) {
      TaskEvent event;
      event.kind = EventKind::kLost;
      event.attempt_id = attempt;
      event.message = fmt::format("worker {} was dropped: {}", name, why);
      inbox->Push(std::move(event));
    }
  }

  std::vector<std::shared_ptr<WorkerHandle>> Alive() {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<WorkerHandle>> alive;
    for (const auto& [id, slot] : workers_) alive.push_back(slot.handle);
    return alive;
  }

  size_t size() {
    std::lock_guard lock(mutex_);
    return workers_.size();
  }

  // Reserves one of the worker's task slots for `attempt_id` and sends the
  // task. False when the worker is gone or busy (nothing reserved then).
  bool Dispatch(const std::shared_ptr<WorkerHandle>& worker, int64_t attempt_id,
                const std::shared_ptr<QueryInbox>& inbox, const v1::Task& task) {
    {
      std::lock_guard lock(mutex_);
      auto it = workers_.find(worker->id);
      if (it == workers_.end() || it->second.in_flight >= worker->max_tasks) return false;
      ++it->second.in_flight;
      routes_[attempt_id] = Route{inbox, worker->id};
    }
    v1::ServerMessage message;
    *message.mutable_task() = task;
    message.mutable_task()->set_task_id(attempt_id);
    if (!worker->Send(message)) {
      worker->Cancel();
      Remove(worker->id, "its stream failed while sending a task");
    }
    return true;
  }

  // Stops routing an attempt (the query gave up on it) and frees its slot.
  void Forget(int64_t attempt_id) {
    std::lock_guard lock(mutex_);
    ForgetLocked(attempt_id);
  }

  // Delivers a worker's message about a task to the task's query. Messages
  // for attempts the worker does not hold (stale, cancelled) are dropped.
  //
  // A batch for a query whose inbox is full waits here, on the worker
  // stream's reader thread, so nothing more is read from that stream and
  // gRPC's flow control holds the worker back. The wait holds up the
  // worker's other tasks and its heartbeats too (one stream, read in order);
  // so that cannot wedge anything: the query's statement thread drains its
  // inbox without waiting on any worker; the wait ends (dropping the batch)
  // as soon as the query gives up on the attempt (done, failed, cancelled:
  // it forgets its routes) or the stream is gone; the worker counts as seen
  // while it waits, since it is the server holding it back; and CancelTask
  // travels the other direction of the stream, which is never held up.
  void Deliver(WorkerHandle& worker, v1::WorkerMessage& message) {
    const int64_t worker_id = worker.id;
    TaskEvent event;
    if (message.has_result()) {
      event.attempt_id = message.result().task_id();
      if (message.result().has_columns()) {
        event.kind = EventKind::kColumns;
        event.columns.assign(message.result().columns().columns().begin(),
                             message.result().columns().columns().end());
      } else {
        event.kind = EventKind::kBatch;
        event.batch = std::move(*message.mutable_result()->mutable_batch());
      }
    } else if (message.has_done()) {
      event.kind = EventKind::kDone;
      event.attempt_id = message.done().task_id();
    } else if (message.has_failed()) {
      event.kind = EventKind::kFailed;
      event.attempt_id = message.failed().task_id();
      event.message = message.failed().message();
      event.sql_error = message.failed().sql_error();
    } else {
      return;
    }
    std::shared_ptr<QueryInbox> inbox;
    {
      std::lock_guard lock(mutex_);
      auto it = routes_.find(event.attempt_id);
      if (it == routes_.end() || it->second.worker_id != worker_id) return;
      inbox = it->second.inbox;
      if (event.kind == EventKind::kDone || event.kind == EventKind::kFailed) {
        ForgetLocked(event.attempt_id);
      }
    }
    const int64_t attempt_id = event.attempt_id;
    inbox->Push(std::move(event), [&] {
      worker.last_seen_ns = SteadyNanos();
      return !worker.StreamGone() && Routed(attempt_id, worker_id);
    });
  }

  // Workers silent for longer than `limit_ns`: their streams are cancelled
  // and they are dropped.
  void DropSilent(int64_t limit_ns) {
    int64_t now = SteadyNanos();
    for (const auto& worker : Alive()) {
      if (now - worker->last_seen_ns.load() <= limit_ns) continue;
      worker->Cancel();
      Remove(worker->id, fmt::format("no heartbeat for {:.1f} s",
                                     static_cast<double>(now - worker->last_seen_ns.load()) / 1e9));
    }
  }

 private:
  struct WorkerSlot {
    std::shared_ptr<WorkerHandle> handle;
    int in_flight = 0;
  };
  struct Route {
    std::shared_ptr<QueryInbox> inbox;
    int64_t worker_id = 0;
  };
  bool Routed(int64_t attempt_id, int64_t worker_id) {
    std::lock_guard lock(mutex_);
    auto route = routes_.find(attempt_id);
    return route != routes_.end() && route->second.worker_id == worker_id;
  }
  void ForgetLocked(int64_t attempt_id) {
    auto route = routes_.find(attempt_id);
    if (route == routes_.end()) return;
    auto worker = workers_.find(route->second.worker_id);
    if (worker != workers_.end()) --worker->second.in_flight;
    routes_.erase(route);
  }

  std::mutex mutex_;
  int64_t next_id_ = 1;
  std::map<int64_t, WorkerSlot> workers_;
  std::unordered_map<int64_t, Route> routes_;
};

// ---------------------------------------------------------------- statements

// Stops one running statement: cancellation by the client, its timeout, or
// the client going away. Interrupters stop whatever the statement runs now.
class StatementControl {
 public:
  void Stop(absl::Status why) {
    std::vector<std::function<void()>> interrupters;
    {
      std::lock_guard lock(mutex_);
      if (!stop_status_.ok()) return;
      stop_status_ = std::move(why);
      interrupters = interrupters_;
    }
    for (auto& interrupt : interrupters) interrupt();
    if (auto inbox = inbox_.lock()) inbox->Wake();
  }
  bool stopped() {
    std::lock_guard lock(mutex_);
    return !stop_status_.ok();
  }
  absl::Status stop_status() {
    std::lock_guard lock(mutex_);
    return stop_status_;
  }
  void AddInterrupter(std::function<void()> interrupt) {
    std::unique_lock lock(mutex_);
    interrupters_.push_back(interrupt);
    if (!stop_status_.ok()) {
      lock.unlock();
      interrupt();
    }
  }
  void ClearInterrupters() {
    std::lock_guard lock(mutex_);
    interrupters_.clear();
  }
  void SetInbox(const std::shared_ptr<QueryInbox>& inbox) {
    std::lock_guard lock(mutex_);
    inbox_ = inbox;
  }
  // Ends the statement's current phase (e.g. "plan") and starts the next one.
  // Called by the statement's own thread only; the log line shows the phases.
  void EndPhase(const char* name) { phases_.EndPhase(name); }
  const std::string& phases() const { return phases_.text(); }

 private:
  PhaseTimer phases_;
  std::mutex mutex_;
  absl::Status stop_status_;  // OK while running
  std::vector<std::function<void()>> interrupters_;
  std::weak_ptr<QueryInbox> inbox_;
};

struct Session {
  std::string username;
  std::mutex run_mutex;  // one statement at a time
  // Session options, guarded by options_mutex.
  std::mutex options_mutex;
  bool distributed = true;
  bool summarize = true;
  double timeout_seconds = 0;
  // Used under run_mutex; opened by the first statement.
  std::unique_ptr<Engine> engine;
  // Plans distributed queries, runs the server's own tasks, and holds each
  // distributed query's coordinator catalog (PrivateCatalog).
  std::unique_ptr<duck::Database> scratch_database;
  std::unique_ptr<duck::Connection> scratch;
  std::unique_ptr<DistributedPlanner> planner;  // on `scratch`
  // The running statement, for Cancel; guarded by control_mutex.
  std::mutex control_mutex;
  std::shared_ptr<StatementControl> control;
};

// Sends a statement's result to the client as Arrow batches of VARCHAR
// columns (rendered by DuckDB as `shardlake sql` renders them), each within
// kMaxBatchBytes (result_batches.h); the header names the original types.
class ClientStreamSink : public ResultSink {
 public:
  using RowList = CollectingSink::RowList;
  ClientStreamSink(grpc::ServerWriter<v1::ExecuteReply>& writer, duck::Connection& scratch)
      : writer_(writer), scratch_(scratch) {}

  void SetColumnTypes(std::vector<std::string> types) { types_ = std::move(types); }
  bool WantsColumnTypes() const override { return true; }
  absl::Status ColumnTypes(const std::vector<std::string>& types) override {
    types_ = types;
    return absl::OkStatus();
  }
  // Rows written before the statement's own rows (EXPLAIN's fallback note).
  void SetPrefixRows(RowList rows) { prefix_rows_ = std::move(rows); }

  absl::Status Begin(const std::vector<std::string>& column_names) override {
    names_ = column_names;
    v1::ExecuteReply reply;
    for (size_t i = 0; i < column_names.size(); ++i) {
      auto* column = reply.mutable_header()->add_columns();
      column->set_name(column_names[i]);
      column->set_type(i < types_.size() ? types_[i] : "VARCHAR");
    }
    RETURN_IF_ERROR(Write(reply));
    if (!prefix_rows_.empty()) RETURN_IF_ERROR(Rows(prefix_rows_));
    return absl::OkStatus();
  }

  bool TakesChunks() const override { return true; }

  absl::Status Chunk(duck::Connection& connection, duck::Result& result,
                     duck::DataChunk& chunk) override {
    return EncodeChunkInBatches(connection, result, chunk, BatchLimits{},
                                [&](std::string batch, int64_t) {
                                  v1::ExecuteReply reply;
                                  reply.set_batch(std::move(batch));
                                  return Write(reply);
                                });
  }

  // Small results (session statements, EXPLAIN): turned into a VARCHAR
  // relation in the scratch DuckDB, then sent as chunks.
  absl::Status Rows(const RowList& rows) override {
    if (rows.empty() || names_.empty()) return absl::OkStatus();
    std::string values;
    for (const auto& row : rows) {
      values += values.empty() ? "(" : ", (";
      for (size_t i = 0; i < names_.size(); ++i) {
        if (i > 0) values += ", ";
        const auto* value = i < row.size() && row[i] ? &*row[i] : nullptr;
        values += value == nullptr ? "CAST(NULL AS VARCHAR)" : QuoteLiteral(*value) + "::VARCHAR";
      }
      values += ")";
    }
    std::string aliases;
    for (const auto& name : names_) {
      if (!aliases.empty()) aliases += ", ";
      aliases += QuoteIdentifier(name);
    }
    ASSIGN_OR_RETURN(auto result,
                     scratch_.QueryStreaming(fmt::format(
                         "SELECT * FROM (VALUES {}) AS __shardlake_rows({})", values, aliases)));
    while (true) {
      ASSIGN_OR_RETURN(auto chunk, result->Fetch());
      if (chunk == nullptr) break;
      RETURN_IF_ERROR(Chunk(scratch_, *result, *chunk));
    }
    return absl::OkStatus();
  }

  absl::Status End() override { return absl::OkStatus(); }

  absl::Status Write(const v1::ExecuteReply& reply) {
    // A synchronous write returns once gRPC took the message within the
    // stream's flow-control window, so a slow client slows the statement
    // instead of growing a buffer: at most the window plus this message.
    if (!writer_.Write(reply)) {
      return absl::CancelledError("the client went away while results were being sent");
    }
    return absl::OkStatus();
  }

 private:
  grpc::ServerWriter<v1::ExecuteReply>& writer_;
  duck::Connection& scratch_;
  std::vector<std::string> names_;
  std::vector<std::string> types_;
  RowList prefix_rows_;
};

std::string DescribeScan(const TableScan& scan) {
  return fmt::format("{}: {} of {} files scanned, {} pruned by time range, {} by column statistics",
                     scan.table, scan.files_scanned, scan.files_total, scan.pruned_by_time,
                     scan.pruned_by_stats);
}

}  // namespace

// ---------------------------------------------------------------- state

struct ClusterServer::State {
  ServerOptions options;
  ClusterManifest manifest;
  UsersFile users;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  WorkerPool pool;
  std::unique_ptr<SessionRegistry<Session>> sessions;
  std::unique_ptr<LoginThrottle> throttle;
  std::atomic<int64_t> next_attempt_id{1};
  std::atomic<int64_t> queries_running{0};
  std::jthread monitor;
  std::jthread compactor;
  std::mutex shutdown_mutex;
  bool shut_down = false;  // guarded by shutdown_mutex
  std::condition_variable_any stop_wakeup;
  std::mutex stop_mutex;

  class ClientServiceImpl;
  class WorkerServiceImpl;
  std::unique_ptr<v1::ClientService::Service> client_service;
  std::unique_ptr<v1::WorkerService::Service> worker_service;

  // ---- engine and statements

  absl::Status OpenSessionEngine(Session& session) {
    if (session.engine != nullptr) return absl::OkStatus();
    ASSIGN_OR_RETURN(auto index, OpenIndex(manifest.catalog_uri));
    ASSIGN_OR_RETURN(auto store, OpenObjectStore(manifest.storage_uri));
    EngineOptions engine_options;
    engine_options.default_database = manifest.database;
    engine_options.staging_dir = manifest.data_dir + "/staging";
    engine_options.file_cache_dir = manifest.data_dir + "/file-cache";
    engine_options.duckdb_options = DuckDbOptions();
    engine_options.duckdb_options["temp_directory"] = manifest.data_dir + "/staging/duckdb-tmp";
    ASSIGN_OR_RETURN(session.engine,
                     Engine::Open(std::move(index), std::move(store), std::move(engine_options)));
    ASSIGN_OR_RETURN(session.scratch_database, duck::Database::Open("", DuckDbOptions()));
    ASSIGN_OR_RETURN(session.scratch, duck::Connection::Open(*session.scratch_database));
    session.planner = std::make_unique<DistributedPlanner>(*session.scratch);
    return absl::OkStatus();
  }

  std::map<std::string, std::string> DuckDbOptions() const {
    std::map<std::string, std::string> duckdb_options = {{"autoinstall_known_extensions", "false"}};
    if (options.threads > 0) duckdb_options["threads"] = std::to_string(options.threads);
    if (!options.memory_limit.empty()) duckdb_options["memory_limit"] = options.memory_limit;
    // Lake files never change under their names, so their footers stay valid.
    duckdb_options["parquet_metadata_cache"] = "true";
    return duckdb_options;
  }

  absl::Status RunStatement(Session& session, const std::string& statement, ClientStreamSink& sink,
                            StatementControl& control, v1::ResultTrailer& trailer) {
    auto head = ParseStatementHead(statement);
    if (!head.ok()) return head.status();
    bool distributed_on, summarize;
    {
      std::lock_guard lock(session.options_mutex);
      distributed_on = session.distributed;
      summarize = session.summarize;
    }
    Engine& engine = *session.engine;
    control.AddInterrupter([&engine] { engine.Interrupt(); });
    std::string reason;
    bool is_query = head->kind == StatementKind::kQuery || head->kind == StatementKind::kExplain;
    bool explain = head->kind == StatementKind::kExplain;
    if (!is_query) {
      reason = "not a query";
    } else if (!distributed_on) {
      reason = "the session option distributed is off";
    } else if (pool.size() == 0) {
      reason = "no worker is connected";
    } else {
      std::string query = explain ? statement.substr(head->explained_begin) : statement;
      TableLayoutLookup lookup = [&](const std::string& name) -> std::optional<TableLayout> {
        auto schema = engine.ResolveTable(name);
        if (!schema.ok()) return std::nullopt;
        std::string key = schema->database + "." + schema->table;
        TableLayout layout;
        auto it = manifest.layouts.find(key);
        if (it != manifest.layouts.end()) layout = it->second;
        layout.name = key;
        // The planner resolves unqualified column names in subqueries with them.
        layout.columns.clear();
        layout.column_types.clear();
        for (const auto& column : schema->columns) {
          layout.columns.push_back(column.name);
          layout.column_types.push_back(column.type);
        }
        return layout;
      };
      auto plan = session.planner->Plan(query, lookup);
      control.EndPhase("plan");
      if (!plan.ok()) {
        reason = fmt::format("the planner could not read the query ({})",
                             std::string(plan.status().message()));
      } else if (!plan->distributed) {
        reason = plan->reason;
      } else {
        return RunDistributed(session, *plan, query, explain, summarize, sink, control, trailer);
      }
    }
    if (explain) {
      sink.SetPrefixRows({{"shardlake distributed", fmt::format("no: {}", reason)}});
    }
    ASSIGN_OR_RETURN(StatementOutcome outcome, engine.Execute(statement, sink));
    control.EndPhase("run on the server");
    trailer.set_statement_kind(outcome.statement_kind);
    trailer.set_rows(outcome.rows);
    trailer.set_message(outcome.message);
    trailer.set_distributed(false);
    if (is_query) trailer.set_fallback_reason(reason);
    return absl::OkStatus();
  }

  absl::Status RunDistributed(Session& session, const DistributedPlan& plan,
                              const std::string& query, bool explain, bool summarize,
                              ClientStreamSink& sink, StatementControl& control,
                              v1::ResultTrailer& trailer) {
    Engine& engine = *session.engine;
    ASSIGN_OR_RETURN(auto query_files, engine.ListQueryFiles(query));
    control.EndPhase("list files");
    std::map<std::string, QueryTableFiles> tables;
    for (auto& [name, files] : query_files) {
      tables[name] = QueryTableFiles{files.schema, files.files};
    }
    ASSIGN_OR_RETURN(auto units, BuildSliceUnits(plan, tables));
    auto workers = pool.Alive();
    if (workers.empty()) return absl::UnavailableError("every worker left while planning; retry");
    std::vector<std::string> names;
    int tasks_per_worker = options.default_worker_tasks;
    for (const auto& worker : workers) {
      names.push_back(worker->name);
      tasks_per_worker = std::min(tasks_per_worker, std::max(worker->max_tasks, 1));
    }
    std::vector<TaskSlice> slices = AssignSlices(units, names, tasks_per_worker);
    std::vector<v1::Task> tasks;
    for (const auto& slice : slices) {
      v1::Task task;
      task.set_worker_sql(plan.worker_sql);
      auto add_table = [&](const std::string& name, const std::vector<std::string>& keys) {
        auto it = tables.find(name);
        if (it == tables.end()) return;
        auto* table = task.add_tables();
        table->set_name(name);
        for (const auto& column : it->second.schema.columns) {
          auto* out = table->add_columns();
          out->set_name(column.name);
          out->set_type(column.type);
        }
        for (const auto& key : keys) table->add_file_keys(key);
      };
      for (const auto& name : plan.sliced_tables) {
        std::vector<std::string> keys;
        for (const auto& unit : slice.units) {
          auto it = unit.file_keys.find(name);
          if (it != unit.file_keys.end())
            keys.insert(keys.end(), it->second.begin(), it->second.end());
        }
        add_table(name, keys);
      }
      for (const auto& name : plan.whole_tables) {
        std::vector<std::string> keys;
        auto it = tables.find(name);
        if (it != tables.end()) {
          for (const auto& entry : it->second.files) keys.push_back(ObjectKeyOf(entry));
        }
        add_table(name, keys);
      }
      tasks.push_back(std::move(task));
    }
    if (explain) {
      return ExplainDistributed(plan, query_files, workers, slices, tasks, sink, trailer);
    }

    control.EndPhase("files and tasks");
    ASSIGN_OR_RETURN(auto coordinator, duck::Connection::Open(*session.scratch_database));
    ASSIGN_OR_RETURN(auto catalog, PrivateCatalog::Attach(*coordinator, "__shardlake_query_"));
    control.EndPhase("open coordinator");
    duck::Connection* coordinator_ptr = coordinator.get();
    control.AddInterrupter([coordinator_ptr] { coordinator_ptr->Interrupt(); });
    std::vector<std::shared_ptr<WorkerHandle>> preferred;
    for (const auto& slice : slices) preferred.push_back(workers[slice.worker]);
    ASSIGN_OR_RETURN(TaskTotals totals, RunTasks(engine, *session.scratch_database, *coordinator,
                                                 tasks, slices, preferred, control));
    control.EndPhase("tasks");
    std::string final_sql =
        summarize ? plan.coordinator_sql : fmt::format("SELECT * FROM {}", kPartialsTable);
    ASSIGN_OR_RETURN(auto columns, DescribeColumns(*coordinator, final_sql));
    std::vector<std::string> column_names, types;
    for (const auto& column : columns) {
      column_names.push_back(column.name());
      types.push_back(column.type());
    }
    sink.SetColumnTypes(types);
    auto result = coordinator->QueryStreaming(
        fmt::format("SELECT COLUMNS(*)::VARCHAR FROM ({}\n) AS __shardlake_result", final_sql));
    if (!result.ok()) return result.status();
    RETURN_IF_ERROR(sink.Begin(column_names));
    int64_t rows = 0;
    while (true) {
      ASSIGN_OR_RETURN(auto chunk, (*result)->Fetch());
      if (chunk == nullptr) break;
      RETURN_IF_ERROR(sink.Chunk(*coordinator, **result, *chunk));
      rows += static_cast<int64_t>(chunk->RowCount());
    }
    RETURN_IF_ERROR(sink.End());
    control.EndPhase("merge and send");
    control.ClearInterrupters();
    trailer.set_statement_kind("SELECT");
    trailer.set_rows(rows);
    trailer.set_distributed(true);
    trailer.set_workers_used(totals.workers_used);
    trailer.set_bytes_from_workers(totals.bytes_from_workers);
    trailer.set_tasks_retried(totals.tasks_retried);
    trailer.set_peak_buffered_bytes(totals.peak_buffered_bytes);
    trailer.set_largest_worker_batch_bytes(totals.largest_worker_batch_bytes);
    return absl::OkStatus();
  }

  absl::Status ExplainDistributed(const DistributedPlan& plan,
                                  const std::map<std::string, Engine::QueryFiles>& query_files,
                                  const std::vector<std::shared_ptr<WorkerHandle>>& workers,
                                  const std::vector<TaskSlice>& slices,
                                  const std::vector<v1::Task>& tasks, ClientStreamSink& sink,
                                  v1::ResultTrailer& trailer) {
    CollectingSink::RowList rows;
    auto add = [&](std::string key, std::string value) {
      rows.push_back({std::move(key), std::move(value)});
    };
    add("shardlake distributed", "yes");
    add("worker sql", plan.worker_sql);
    add("coordinator sql", plan.coordinator_sql);
    auto join = [](const std::vector<std::string>& names) {
      std::string text;
      for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
      return text.empty() ? std::string("(none)") : text;
    };
    add("sliced tables", join(plan.sliced_tables) +
                             (plan.slice_by_bucket ? " (sliced by bucket)" : " (sliced by file)"));
    add("whole tables", join(plan.whole_tables));
    for (const auto& [name, files] : query_files) add("pruning", DescribeScan(files.scan));
    std::map<size_t, std::pair<int, int64_t>> per_worker;  // tasks, sliced files
    for (size_t i = 0; i < slices.size(); ++i) {
      auto& entry = per_worker[slices[i].worker];
      ++entry.first;
      for (const auto& table : tasks[i].tables()) {
        if (std::find(plan.sliced_tables.begin(), plan.sliced_tables.end(), table.name()) !=
            plan.sliced_tables.end()) {
          entry.second += table.file_keys_size();
        }
      }
    }
    for (const auto& [worker, counts] : per_worker) {
      add("files per worker", fmt::format("{}: {} sliced file(s) in {} task(s)",
                                          workers[worker]->name, counts.second, counts.first));
    }
    for (const auto& note : plan.notes) add("planner note", note);
    RETURN_IF_ERROR(sink.Begin({"explain_key", "explain_value"}));
    RETURN_IF_ERROR(sink.Rows(rows));
    RETURN_IF_ERROR(sink.End());
    trailer.set_statement_kind("EXPLAIN");
    trailer.set_rows(static_cast<int64_t>(rows.size()));
    trailer.set_distributed(true);
    return absl::OkStatus();
  }

  struct TaskTotals {
    int workers_used = 0;
    int64_t bytes_from_workers = 0;
    int tasks_retried = 0;
    int64_t peak_buffered_bytes = 0;  // see QueryInbox::peak_bytes
    int64_t largest_worker_batch_bytes = 0;
  };

  // Runs every task to completion and leaves the union of their rows in
  // kPartialsTable on `coordinator`. An attempt's rows go to a table of their
  // own and join the partials only when the attempt completes.
  absl::StatusOr<TaskTotals> RunTasks(Engine& engine, duck::Database& task_database,
                                      duck::Connection& coordinator,
                                      const std::vector<v1::Task>& tasks,
                                      const std::vector<TaskSlice>& slices,
                                      std::vector<std::shared_ptr<WorkerHandle>> preferred,
                                      StatementControl& control) {
    struct Attempt {
      size_t task = 0;
      std::shared_ptr<WorkerHandle> worker;  // null: run by the server
      std::string table;
      std::unique_ptr<duck::Appender> appender;
    };
    auto inbox = std::make_shared<QueryInbox>(options.query_buffer_bytes);
    control.SetInbox(inbox);
    std::deque<size_t> pending;
    for (size_t i = 0; i < tasks.size(); ++i) pending.push_back(i);
    std::vector<int> attempts(tasks.size(), 0);
    std::map<int64_t, Attempt> running;
    std::set<int64_t> workers_used;
    TaskTotals totals;
    size_t done = 0;
    bool partials_created = false;

    auto stop_running = [&] {
      for (auto& [id, attempt] : running) {
        pool.Forget(id);
        if (attempt.worker == nullptr) continue;
        v1::ServerMessage cancel;
        cancel.mutable_cancel()->set_task_id(id);
        attempt.worker->Send(cancel);
      }
      running.clear();
    };
    auto drop_attempt_table = [&](Attempt& attempt) {
      attempt.appender.reset();
      if (!attempt.table.empty()) {
        (void)coordinator.Execute(
            fmt::format("DROP TABLE IF EXISTS {}", QuoteIdentifier(attempt.table)));
      }
    };
    auto handle = [&](TaskEvent& event) -> absl::Status {
      auto it = running.find(event.attempt_id);
      if (it == running.end()) return absl::OkStatus();  // an attempt given up on
      Attempt& attempt = it->second;
      std::string where =
          attempt.worker ? fmt::format("worker {}", attempt.worker->name) : "the server";
      switch (event.kind) {
        case EventKind::kColumns: {
          std::string columns;
          for (const auto& column : event.columns) {
            if (!columns.empty()) columns += ", ";
            columns += QuoteIdentifier(column.name()) + " " + column.type();
          }
          attempt.table = fmt::format("{}{}", kAttemptTablePrefix, event.attempt_id);
          RETURN_IF_ERROR(coordinator.Execute(
              fmt::format("CREATE TABLE {} ({})", QuoteIdentifier(attempt.table), columns)));
          ASSIGN_OR_RETURN(attempt.appender, coordinator.OpenAppender("main", attempt.table));
          return absl::OkStatus();
        }
        case EventKind::kBatch: {
          if (attempt.appender == nullptr) {
            return absl::InternalError(fmt::format(
                "{} sent a result batch before its columns (task {})", where, event.attempt_id));
          }
          if (attempt.worker) totals.bytes_from_workers += static_cast<int64_t>(event.batch.size());
          ASSIGN_OR_RETURN(duck::ArrowBatch batch, duck::DecodeArrowBatch(event.batch));
          ASSIGN_OR_RETURN(auto chunk, coordinator.FromArrow(batch));
          return attempt.appender->AppendChunk(*chunk);
        }
        case EventKind::kDone: {
          if (attempt.appender == nullptr) {
            return absl::InternalError(fmt::format(
                "{} finished task {} without sending its columns", where, event.attempt_id));
          }
          RETURN_IF_ERROR(attempt.appender->Close());
          attempt.appender.reset();
          std::string table = QuoteIdentifier(attempt.table);
          RETURN_IF_ERROR(coordinator.Execute(
              partials_created
                  ? fmt::format("INSERT INTO {} SELECT * FROM {}", kPartialsTable, table)
                  : fmt::format("CREATE TABLE {} AS SELECT * FROM {}", kPartialsTable, table)));
          partials_created = true;
          RETURN_IF_ERROR(coordinator.Execute(fmt::format("DROP TABLE {}", table)));
          if (attempt.worker) workers_used.insert(attempt.worker->id);
          ++done;
          running.erase(it);
          return absl::OkStatus();
        }
        case EventKind::kFailed:
          if (event.sql_error) {
            return absl::InvalidArgumentError(
                fmt::format("the query failed on {}: {}", where, event.message));
          }
          [[fallthrough]];
        case EventKind::kLost: {
          size_t task = attempt.task;
          drop_attempt_table(attempt);
          running.erase(it);
          if (++attempts[task] >= options.max_task_attempts) {
            return absl::UnavailableError(
                fmt::format("task {} of the query failed {} times; last on {}: {}", task,
                            attempts[task], where, event.message));
          }
          spdlog::info("re-running task {} after a failure on {}: {}", task, where, event.message);
          ++totals.tasks_retried;
          preferred[task] = nullptr;
          pending.push_back(task);
          return absl::OkStatus();
        }
      }
      return absl::OkStatus();
    };

    auto run_on_server = [&](size_t task) -> absl::Status {
      int64_t id = next_attempt_id++;
      running[id] = Attempt{task, nullptr, "", nullptr};
      ASSIGN_OR_RETURN(FileCache * cache, engine.file_cache());
      TaskRunner runner(engine.store(), cache, task_database);
      control.AddInterrupter([&runner] { runner.Interrupt(); });
      absl::Status delivered;
      TaskOutput output;
      output.columns = [&](const std::vector<v1::Column>& columns) {
        TaskEvent event{EventKind::kColumns, id, columns, "", "", false};
        return handle(event);
      };
      output.batch = [&](std::string batch, int64_t) {
        TaskEvent event{EventKind::kBatch, id, {}, std::move(batch), "", false};
        return handle(event);
      };
      TaskError error;
      auto rows = runner.Run(tasks[task], output, &error);
      control.ClearInterrupters();
      if (control.stopped()) return control.stop_status();
      TaskEvent event;
      event.attempt_id = id;
      if (rows.ok()) {
        event.kind = EventKind::kDone;
      } else {
        event.kind = EventKind::kFailed;
        event.message = std::string(error.status.message());
        event.sql_error = error.sql_error;
      }
      return handle(event);
    };

    auto fail = [&](absl::Status status) {
      stop_running();
      return status;
    };
    while (done < tasks.size()) {
      if (control.stopped()) return fail(control.stop_status());
      // Dispatch what can go now.
      auto alive = pool.Alive();
      if (alive.empty() && !pending.empty() && running.empty()) {
        size_t task = pending.front();
        pending.pop_front();
        spdlog::info("no worker left: the server runs task {} itself", task);
        absl::Status status = run_on_server(task);
        if (!status.ok()) return fail(status);
        continue;
      }
      std::deque<size_t> still_pending;
      for (size_t task : pending) {
        std::shared_ptr<WorkerHandle> target = preferred[task];
        bool target_alive =
            target != nullptr && std::any_of(alive.begin(), alive.end(),
                                             [&](const auto& worker) { return worker == target; });
        if (!target_alive && !alive.empty()) {
          std::vector<std::string> alive_names;
          for (const auto& worker : alive) alive_names.push_back(worker->name);
          std::string key =
              slices[task].units.empty() ? fmt::format("task={}", task) : slices[task].units[0].key;
          target = alive[RendezvousOwner(key, alive_names)];
          preferred[task] = target;
        }
        int64_t id = next_attempt_id++;
        if (target != nullptr && pool.Dispatch(target, id, inbox, tasks[task])) {
          running[id] = Attempt{task, target, "", nullptr};
        } else {
          still_pending.push_back(task);
        }
      }
      pending.swap(still_pending);
      auto event = inbox->Pop(kControlPollInterval);
      if (!event) continue;
      absl::Status status = handle(*event);
      if (!status.ok()) return fail(status);
    }
    control.SetInbox(nullptr);
    totals.workers_used = static_cast<int>(workers_used.size());
    totals.peak_buffered_bytes = inbox->peak_bytes();
    totals.largest_worker_batch_bytes = inbox->largest_batch_bytes();
    return totals;
  }

  // ---- shutdown

  void Shutdown() {
    {
      std::lock_guard lock(shutdown_mutex);
      if (shut_down) return;
      shut_down = true;
    }
    monitor.request_stop();
    compactor.request_stop();
    stop_wakeup.notify_all();
    if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    if (monitor.joinable()) monitor.join();
    if (compactor.joinable()) compactor.join();
  }

  void RunMonitor(std::stop_token stop) {
    auto limit_ns =
        static_cast<int64_t>(options.heartbeat_interval_seconds * options.missed_heartbeats * 1e9);
    std::unique_lock lock(stop_mutex);
    while (!stop.stop_requested()) {
      stop_wakeup.wait_for(lock, stop, kControlPollInterval * 4, [] { return false; });
      if (stop.stop_requested()) break;
      lock.unlock();
      pool.DropSilent(limit_ns);
      lock.lock();
    }
  }

  void RunCompactor(std::stop_token stop) {
    auto index = OpenIndex(manifest.catalog_uri);
    auto store = OpenObjectStore(manifest.storage_uri);
    auto database = duck::Database::Open("", DuckDbOptions());
    if (!index.ok() || !store.ok() || !database.ok()) {
      spdlog::error("compaction is off: cannot open the catalog, store or DuckDB ({})",
                    !index.ok()
                        ? index.status().ToString()
                        : (!store.ok() ? store.status().ToString() : database.status().ToString()));
      return;
    }
    auto connection = duck::Connection::Open(**database);
    if (!connection.ok()) {
      spdlog::error("compaction is off: {}", connection.status().ToString());
      return;
    }
    Compactor compactor(**index, **store, **connection, manifest.data_dir + "/staging");
    auto interval = std::chrono::duration<double>(options.compact_interval_seconds);
    std::unique_lock lock(stop_mutex);
    while (!stop.stop_requested()) {
      stop_wakeup.wait_for(lock, stop, interval, [] { return false; });
      if (stop.stop_requested()) break;
      lock.unlock();
      auto stats = compactor.RunOnce(CompactionOptions{}, NowUnixNanos());
      if (!stats.ok()) {
        spdlog::warn("background compaction failed: {}", stats.status().ToString());
      } else if (stats->plans > 0 || stats->files_deleted > 0) {
        spdlog::info("compaction: {} file(s) merged in {} plan(s), {} deleted, {:.2f} s",
                     stats->files_merged, stats->plans, stats->files_deleted, stats->seconds);
      }
      lock.lock();
    }
  }
};

// ---------------------------------------------------------------- services

class ClusterServer::State::ClientServiceImpl final : public v1::ClientService::Service {
 public:
  explicit ClientServiceImpl(State& state) : state_(state) {}

  grpc::Status Login(grpc::ServerContext* context, const v1::LoginRequest* request,
                     v1::LoginReply* reply) override {
    std::string peer = context->peer();
    const std::string& user = request->username();
    if (absl::Status allowed = state_.throttle->Check(user, peer); !allowed.ok()) {
      spdlog::warn("login of user '{}' from {} refused: too many failed logins", user, peer);
      return ToGrpcStatus(allowed);
    }
    auto who = state_.users.Authenticate(user, request->password());
    if (who.ok() && who->role != UserRole::kClient) {
      who = absl::UnauthenticatedError("invalid username or password");
    }
    if (!who.ok()) {
      state_.throttle->RecordFailure(user, peer);
      spdlog::warn("failed login of user '{}' from {}", user, peer);
      return ToGrpcStatus(absl::UnauthenticatedError(
          "login failed: invalid username or password (check --username / --password)"));
    }
    state_.throttle->RecordSuccess(user);
    auto session = std::make_shared<Session>();
    session->username = who->username;
    auto token = state_.sessions->Add(session);
    if (!token.ok()) return ToGrpcStatus(token.status());
    spdlog::info("user '{}' logged in from {}", who->username, peer);
    reply->set_session_token(*token);
    reply->set_expires_in_seconds(static_cast<double>(state_.options.session_ttl.count()));
    return grpc::Status::OK;
  }

  grpc::Status Execute(grpc::ServerContext* context, const v1::ExecuteRequest* request,
                       grpc::ServerWriter<v1::ExecuteReply>* writer) override {
    auto session = state_.sessions->Find(request->session_token());
    if (!session.ok()) return ToGrpcStatus(session.status());
    std::string sql = Trimmed(request->sql());
    if (sql.empty()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          "Execute needs one SQL statement; the request's sql is empty"));
    }
    std::unique_lock run(((*session)->run_mutex), std::try_to_lock);
    if (!run.owns_lock()) {
      return ToGrpcStatus(absl::FailedPreconditionError(
          "another statement is running in this session; wait for it or Cancel it"));
    }
    Session& s = **session;
    if (absl::Status opened = state_.OpenSessionEngine(s); !opened.ok()) {
      return ToGrpcStatus(opened);
    }
    auto statements = SplitSqlStatements(sql);
    if (!statements.ok()) return ToGrpcStatus(statements.status());
    if (statements->size() != 1) {
      return ToGrpcStatus(absl::InvalidArgumentError(fmt::format(
          "Execute runs one statement at a time; the request holds {}", statements->size())));
    }
    double timeout_seconds;
    {
      std::lock_guard lock(s.options_mutex);
      timeout_seconds = s.timeout_seconds;
    }
    auto control = std::make_shared<StatementControl>();
    {
      std::lock_guard lock(s.control_mutex);
      s.control = control;
    }
    ++state_.queries_running;
    Stopwatch watch;
    // Watches the deadline and the client while the statement runs.
    std::jthread watchdog([&, control, timeout_seconds](std::stop_token stop) {
      auto deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                               std::chrono::duration<double>(timeout_seconds));
      std::mutex mutex;
      std::condition_variable_any wakeup;
      std::unique_lock lock(mutex);
      while (!stop.stop_requested()) {
        wakeup.wait_for(lock, stop, kControlPollInterval, [] { return false; });
        if (timeout_seconds > 0 && SteadyClock::now() >= deadline) {
          control->Stop(absl::DeadlineExceededError(fmt::format(
              "the statement ran longer than the session's timeout of {} s (SetOption timeout)",
              timeout_seconds)));
          return;
        }
        if (context->IsCancelled()) {
          control->Stop(absl::CancelledError("the client cancelled the call"));
          return;
        }
      }
    });
    ClientStreamSink sink(*writer, *s.scratch);
    v1::ResultTrailer trailer;
    absl::Status status = state_.RunStatement(s, (*statements)[0], sink, *control, trailer);
    watchdog.request_stop();
    watchdog.join();
    {
      std::lock_guard lock(s.control_mutex);
      s.control.reset();
    }
    --state_.queries_running;
    if (control->stopped()) status = control->stop_status();
    if (!status.ok()) return ToGrpcStatus(status);
    trailer.set_seconds(watch.ElapsedSeconds());
    spdlog::info("statement of user '{}' done in {:.1f} ms ({}; {})", s.username,
                 watch.ElapsedMillis(), control->phases(),
                 trailer.distributed() ? "distributed" : "on the server");
    v1::ExecuteReply reply;
    *reply.mutable_trailer() = std::move(trailer);
    writer->Write(reply);
    return grpc::Status::OK;
  }

  grpc::Status Cancel(grpc::ServerContext* context, const v1::CancelRequest* request,
                      v1::CancelReply* reply) override {
    auto session = state_.sessions->Find(request->session_token());
    if (!session.ok()) return ToGrpcStatus(session.status());
    std::shared_ptr<StatementControl> control;
    {
      std::lock_guard lock((*session)->control_mutex);
      control = (*session)->control;
    }
    reply->set_was_running(control != nullptr);
    if (control) control->Stop(absl::CancelledError("the statement was cancelled"));
    return grpc::Status::OK;
  }

  grpc::Status SetOption(grpc::ServerContext* context, const v1::SetOptionRequest* request,
                         v1::SetOptionReply* reply) override {
    auto session = state_.sessions->Find(request->session_token());
    if (!session.ok()) return ToGrpcStatus(session.status());
    Session& s = **session;
    const std::string& name = request->name();
    const std::string& value = request->value();
    auto parse_bool = [&](bool* out) -> absl::Status {
      if (value == "true" || value == "on" || value == "1") {
        *out = true;
      } else if (value == "false" || value == "off" || value == "0") {
        *out = false;
      } else {
        return absl::InvalidArgumentError(
            fmt::format("option {} takes true or false, not '{}'", name, value));
      }
      return absl::OkStatus();
    };
    std::lock_guard lock(s.options_mutex);
    absl::Status status;
    if (name == "distributed") {
      status = parse_bool(&s.distributed);
    } else if (name == "summarize") {
      status = parse_bool(&s.summarize);
    } else if (name == "timeout") {
      char* end = nullptr;
      double seconds = std::strtod(value.c_str(), &end);
      if (value.empty() || end == nullptr || *end != '\0' || !(seconds >= 0) || seconds > 1e9) {
        status = absl::InvalidArgumentError(fmt::format(
            "option timeout takes a number of seconds >= 0 (0 = none), not '{}'", value));
      } else {
        s.timeout_seconds = seconds;
      }
    } else {
      status = absl::InvalidArgumentError(fmt::format(
          "unknown option '{}'; the options are distributed, summarize and timeout", name));
    }
    return ToGrpcStatus(status);
  }

  grpc::Status Status(grpc::ServerContext* context, const v1::StatusRequest* request,
                      v1::StatusReply* reply) override {
    auto session = state_.sessions->Find(request->session_token());
    if (!session.ok()) return ToGrpcStatus(session.status());
    auto workers = state_.pool.Alive();
    reply->set_workers(static_cast<int32_t>(workers.size()));
    for (const auto& worker : workers) reply->add_worker_names(worker->name);
    reply->set_queries_running(state_.queries_running.load());
    reply->set_server_version(kServerVersion);
    return grpc::Status::OK;
  }

 private:
  State& state_;
};

class ClusterServer::State::WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  explicit WorkerServiceImpl(State& state) : state_(state) {}

  grpc::Status Connect(grpc::ServerContext* context, WorkerStream* stream) override {
    std::string peer = context->peer();
    v1::WorkerMessage message;
    if (!stream->Read(&message)) return grpc::Status::CANCELLED;
    if (!message.has_registration()) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          "a worker's first message must be Register (name, capacity, password)"));
    }
    const v1::Register& registration = message.registration();
    std::string user(kWorkerUsername);
    if (absl::Status allowed = state_.throttle->Check(user, peer); !allowed.ok()) {
      spdlog::warn("worker registration from {} refused: too many failed attempts", peer);
      return ToGrpcStatus(allowed);
    }
    auto who = state_.users.Authenticate(user, registration.password());
    if (!who.ok() || who->role != UserRole::kWorker) {
      state_.throttle->RecordFailure(user, peer);
      spdlog::warn("worker '{}' from {} refused: wrong worker password", registration.name(), peer);
      return ToGrpcStatus(absl::UnauthenticatedError(
          "worker registration refused: wrong worker password (use the --worker-password given "
          "to `shardlake bootstrap`)"));
    }
    state_.throttle->RecordSuccess(user);
    std::string name = registration.name().empty() ? peer : registration.name();
    int max_tasks = registration.max_tasks() > 0 ? registration.max_tasks()
                                                 : state_.options.default_worker_tasks;
    auto worker = state_.pool.Add(name, peer, max_tasks, context, stream);
    v1::ServerMessage registered;
    registered.mutable_registered()->set_worker_id(worker->id);
    registered.mutable_registered()->set_storage_uri(state_.manifest.storage_uri);
    (*registered.mutable_registered()->mutable_settings())["heartbeat_seconds"] =
        fmt::format("{}", state_.options.heartbeat_interval_seconds);
    if (!worker->Send(registered)) {
      worker->Detach();
      state_.pool.Remove(worker->id, "its stream closed during registration");
      return grpc::Status::CANCELLED;
    }
    spdlog::info("worker {} (id {}) registered from {}: {} task(s) at once, {} thread(s)", name,
                 worker->id, peer, max_tasks, registration.threads());
    while (stream->Read(&message)) {
      worker->last_seen_ns = SteadyNanos();
      if (message.has_heartbeat()) continue;
      state_.pool.Deliver(*worker, message);
    }
    worker->Detach();
    state_.pool.Remove(worker->id, "its stream closed");
    return grpc::Status::OK;
  }

 private:
  State& state_;
};

// ---------------------------------------------------------------- ClusterServer

absl::StatusOr<std::unique_ptr<ClusterServer>> ClusterServer::Start(const ServerOptions& options) {
  auto state = std::make_unique<State>();
  state->options = options;
  ASSIGN_OR_RETURN(state->manifest, LoadClusterManifest(options.data_dir));
  auto tls = LoadServerTlsFiles(state->manifest.tls_directory);
  if (!tls.ok()) {
    return absl::FailedPreconditionError(fmt::format(
        "cannot start the server without its TLS files: {}; run `shardlake bootstrap` to create "
        "them",
        std::string(tls.status().message())));
  }
  auto users = UsersFile::Load(state->manifest.users_file);
  if (!users.ok()) {
    return absl::FailedPreconditionError(fmt::format(
        "cannot start the server without its users file: {}; run `shardlake bootstrap` to "
        "create it",
        std::string(users.status().message())));
  }
  state->users = std::move(*users);
  state->sessions = std::make_unique<SessionRegistry<Session>>(options.session_ttl);
  state->throttle =
      std::make_unique<LoginThrottle>(options.login_max_failures, options.login_window);
  state->client_service = std::make_unique<State::ClientServiceImpl>(*state);
  state->worker_service = std::make_unique<State::WorkerServiceImpl>(*state);

  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_root_certs = tls->ca_cert_pem;
  ssl.pem_key_cert_pairs.push_back({tls->server_key_pem, tls->server_cert_pem});
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, grpc::SslServerCredentials(ssl), &state->port);
  builder.RegisterService(state->client_service.get());
  builder.RegisterService(state->worker_service.get());
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  state->server = builder.BuildAndStart();
  if (state->server == nullptr || state->port == 0) {
    return absl::UnavailableError(fmt::format(
        "cannot listen on {}: the address is in use or not local (pick another with --listen)",
        options.listen_address));
  }
  State* raw = state.get();
  state->monitor = std::jthread([raw](std::stop_token stop) { raw->RunMonitor(stop); });
  if (options.compact_interval_seconds > 0) {
    state->compactor = std::jthread([raw](std::stop_token stop) { raw->RunCompactor(stop); });
  }
  spdlog::info("shardlake server listening on {} (TLS; port {}), data dir {}",
               options.listen_address, state->port, state->manifest.data_dir);
  return std::unique_ptr<ClusterServer>(new ClusterServer(std::move(state)));
}

ClusterServer::ClusterServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

ClusterServer::~ClusterServer() { Shutdown(); }

int ClusterServer::port() const { return state_->port; }

void ClusterServer::Shutdown() { state_->Shutdown(); }

void ClusterServer::Wait() {
  if (state_->server) state_->server->Wait();
}

}  // namespace shardlake
