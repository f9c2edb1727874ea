#include "cluster/worker.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <stop_token>
#include <thread>
#include <vector>

#include "cluster/grpc_status.h"
#include "cluster/task_runner.h"
#include "cluster/tls_files.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "fmt/format.h"
#include "shardlake.grpc.pb.h"
#include "spdlog/spdlog.h"
#include "storage/file_cache.h"
#include "storage/object_store.h"

namespace shardlake {
namespace {

std::string DefaultWorkerName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "worker");
  return fmt::format("{}-{}", host, static_cast<long>(getpid()));
}

bool Retryable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kCancelled ||
         status.code() == absl::StatusCode::kDeadlineExceeded ||
         status.code() == absl::StatusCode::kInternal || status.ok();
}

}  // namespace

struct ClusterWorker::Connection {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WorkerMessage, v1::ServerMessage>> stream;

  bool Send(const v1::WorkerMessage& message) {
    std::lock_guard lock(write_mutex);
    return stream->Write(message);
  }

  std::mutex write_mutex;
  std::mutex tasks_mutex;
  std::map<int64_t, std::shared_ptr<TaskRunner>> runners;  // guarded by tasks_mutex
};

ClusterWorker::ClusterWorker(WorkerOptions options) : options_(std::move(options)) {
  if (options_.name.empty()) options_.name = DefaultWorkerName();
  if (options_.max_tasks < 1) options_.max_tasks = 1;
}

ClusterWorker::~ClusterWorker() { Stop(); }

void ClusterWorker::Stop() {
  stopping_ = true;
  std::lock_guard lock(mutex_);
  if (current_ != nullptr) current_->context.TryCancel();
}

absl::Status ClusterWorker::Run() {
  ASSIGN_OR_RETURN(std::string roots, LoadTrustedCaPem(options_.tls_roots_path));
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = roots;
  auto credentials = grpc::SslCredentials(ssl);
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
  arguments.SetMaxSendMessageSize(kMaxMessageBytes);
  // Reconnect quickly after a server restart.
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);

  std::map<std::string, std::string> duckdb_options = {{"autoinstall_known_extensions", "false"}};
  if (options_.threads > 0) duckdb_options["threads"] = std::to_string(options_.threads);
  if (!options_.memory_limit.empty()) duckdb_options["memory_limit"] = options_.memory_limit;
  // Lake files never change under their names, so their footers stay valid.
  duckdb_options["parquet_metadata_cache"] = "true";
  // One database for every task: opening one costs tens of milliseconds.
  ASSIGN_OR_RETURN(auto database, duck::Database::Open("", duckdb_options));

  bool registered_once = false;
  while (!stopping_) {
    auto channel = grpc::CreateCustomChannel(options_.server_address, credentials, arguments);
    auto deadline =
        std::chrono::system_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(options_.connect_timeout_seconds * 1000));
    absl::Status status;
    if (!channel->WaitForConnected(deadline)) {
      status = absl::UnavailableError(fmt::format(
          "cannot connect to the server at {} over TLS within {} s: check --server, that the "
          "server runs, and that --tls-roots is the cluster's ca.crt",
          options_.server_address, options_.connect_timeout_seconds));
    } else {
      auto stub = v1::WorkerService::NewStub(channel);
      Connection connection;
      {
        std::lock_guard lock(mutex_);
        current_ = &connection;
      }
      if (stopping_) connection.context.TryCancel();
      connection.stream = stub->Connect(&connection.context);
      v1::WorkerMessage hello;
      hello.mutable_registration()->set_name(options_.name);
      hello.mutable_registration()->set_threads(options_.threads);
      hello.mutable_registration()->set_max_tasks(options_.max_tasks);
      hello.mutable_registration()->set_password(options_.password);
      connection.Send(hello);
      v1::ServerMessage message;
      if (connection.stream->Read(&message) && message.has_registered()) {
        registered_once = true;
        status = Serve(connection, message.registered(), *database);
      }
      {
        std::lock_guard lock(connection.write_mutex);
        connection.stream->WritesDone();
      }
      absl::Status finished = FromGrpcStatus(connection.stream->Finish());
      {
        std::lock_guard lock(mutex_);
        current_ = nullptr;
      }
      if (status.ok()) status = finished;
    }
    if (stopping_) return absl::OkStatus();
    if (!registered_once || !Retryable(status)) return status;
    spdlog::warn("worker {}: connection to {} lost ({}); reconnecting", options_.name,
                 options_.server_address, status.ToString());
    std::this_thread::sleep_for(std::chrono::duration<double>(options_.reconnect_delay_seconds));
  }
  return absl::OkStatus();
}

absl::Status ClusterWorker::Serve(Connection& connection, const v1::Registered& registered,
                                  duck::Database& database) {
  spdlog::info("worker {} registered with {} as id {}", options_.name, options_.server_address,
               registered.worker_id());
  ASSIGN_OR_RETURN(auto store, OpenObjectStore(registered.storage_uri()));
  std::unique_ptr<FileCache> cache;
  if (!store->LocalPath("probe")) {
    std::string directory =
        options_.cache_dir.empty()
            ? (std::filesystem::temp_directory_path() / ("shardlake-worker-cache-" + options_.name))
                  .string()
            : options_.cache_dir;
    FileCacheOptions cache_options;
    cache_options.max_bytes = options_.cache_bytes;
    ASSIGN_OR_RETURN(cache, FileCache::Open(directory, cache_options));
  }
  double heartbeat_seconds = 1;
  if (auto it = registered.settings().find("heartbeat_seconds");
      it != registered.settings().end()) {
    heartbeat_seconds = std::max(0.05, std::atof(it->second.c_str()));
  }
  std::jthread heartbeat([&](std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wakeup;
    std::unique_lock lock(mutex);
    while (!stop.stop_requested()) {
      v1::WorkerMessage beat;
      {
        std::lock_guard tasks(connection.tasks_mutex);
        beat.mutable_heartbeat()->set_running_tasks(
            static_cast<int32_t>(connection.runners.size()));
      }
      if (!connection.Send(beat)) return;
      wakeup.wait_for(lock, stop, std::chrono::duration<double>(heartbeat_seconds),
                      [] { return false; });
    }
  });

  struct TaskThread {
    std::shared_ptr<std::atomic<bool>> finished;
    std::jthread thread;
  };
  std::vector<TaskThread> task_threads;
  v1::ServerMessage message;
  while (connection.stream->Read(&message)) {
    if (message.has_cancel()) {
      std::lock_guard lock(connection.tasks_mutex);
      auto it = connection.runners.find(message.cancel().task_id());
      if (it != connection.runners.end()) it->second->Interrupt();
      continue;
    }
    if (!message.has_task()) continue;
    auto runner = std::make_shared<TaskRunner>(*store, cache.get(), database);
    int64_t task_id = message.task().task_id();
    {
      std::lock_guard lock(connection.tasks_mutex);
      connection.runners[task_id] = runner;
    }
    std::erase_if(task_threads, [](const TaskThread& t) { return t.finished->load(); });
    auto finished = std::make_shared<std::atomic<bool>>(false);
    std::jthread thread(
        [&connection, runner, task = message.task(), task_id, finished, name = options_.name] {
          Stopwatch watch;
          TaskOutput output;
          output.columns = [&](const std::vector<v1::Column>& columns) -> absl::Status {
            v1::WorkerMessage reply;
            reply.mutable_result()->set_task_id(task_id);
            for (const auto& column : columns) {
              *reply.mutable_result()->mutable_columns()->add_columns() = column;
            }
            if (!connection.Send(reply)) return absl::UnavailableError("the server stream closed");
            return absl::OkStatus();
          };
          output.batch = [&](std::string batch, int64_t) -> absl::Status {
            v1::WorkerMessage reply;
            reply.mutable_result()->set_task_id(task_id);
            reply.mutable_result()->set_batch(std::move(batch));
            if (!connection.Send(reply)) return absl::UnavailableError("the server stream closed");
            return absl::OkStatus();
          };
          TaskError error;
          auto rows = runner->Run(task, output, &error);
          v1::WorkerMessage outcome;
          if (rows.ok()) {
            outcome.mutable_done()->set_task_id(task_id);
            outcome.mutable_done()->set_rows(*rows);
            outcome.mutable_done()->set_seconds(watch.ElapsedSeconds());
            spdlog::info("worker {}: task {} done in {:.1f} ms ({})", name, task_id,
                         watch.ElapsedMillis(), runner->phases());
          } else {
            outcome.mutable_failed()->set_task_id(task_id);
            outcome.mutable_failed()->set_message(std::string(error.status.message()));
            outcome.mutable_failed()->set_sql_error(error.sql_error);
            if (error.status.code() == absl::StatusCode::kCancelled) {
              spdlog::info("worker {}: task {} cancelled after {:.2f} s", name, task_id,
                           watch.ElapsedSeconds());
            } else if (!error.sql_error) {
              spdlog::warn("worker {}: task {} failed: {}", name, task_id, error.status.ToString());
            }
          }
          connection.Send(outcome);
          {
            std::lock_guard lock(connection.tasks_mutex);
            connection.runners.erase(task_id);
          }
          *finished = true;
        });
    task_threads.push_back(TaskThread{finished, std::move(thread)});
  }
  {
    std::lock_guard lock(connection.tasks_mutex);
    for (auto& [id, runner] : connection.runners) runner->Interrupt();
  }
  task_threads.clear();  // joins
  heartbeat.request_stop();
  return absl::OkStatus();
}

}  // namespace shardlake
