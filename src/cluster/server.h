// ClusterServer: `shardlake server`. Serves the client service (log in, run
// SQL with streamed results, cancel, session options, status) and the worker
// service (workers connect out, register, heartbeat and run tasks) on one TLS
// port, from a data dir made by `shardlake bootstrap` (cluster.json, users,
// TLS files, catalog, lake).
//
// A SELECT runs distributed when the session's "distributed" option is on, a
// worker is connected and the planner (query/distributed_planner.h) can split
// it exactly; its slices go to workers by rendezvous hashing (scheduler.h),
// the tasks' partial results are merged by the coordinator SQL on the server,
// and the answer streams to the client. Otherwise it runs on the server's own
// engine over all files. A task counts only when it completed: the rows of a
// failed or re-run attempt are discarded. A worker whose stream closes or that
// misses `missed_heartbeats` heartbeats is dropped and its tasks re-run on the
// others, or on the server when none is left. An SQL error on a worker fails
// the query with the worker's message.
//
// Thread-safety: Start, port, Shutdown and Wait may be called from any thread;
// Shutdown is idempotent and is also run by the destructor.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace shardlake {

struct ServerOptions {
  std::string data_dir;  // made by `shardlake bootstrap`
  // "host:port"; port 0 lets the OS choose (see ClusterServer::port()).
  std::string listen_address = "127.0.0.1:31337";
  int threads = 0;           // DuckDB threads per engine; 0 = DuckDB's default
  std::string memory_limit;  // DuckDB memory limit per engine; empty = default
  // Background compaction period; 0 turns it off.
  double compact_interval_seconds = 60;
  double heartbeat_interval_seconds = 1;
  int missed_heartbeats = 3;
  std::chrono::seconds session_ttl{8 * 3600};
  // Failed logins per user name or peer address before further tries wait
  // for `login_window` to pass.
  int login_max_failures = 5;
  std::chrono::seconds login_window{60};
  // Attempts of one task (re-runs after transport failures) before the query fails.
  int max_task_attempts = 4;
  // Tasks one worker runs at once when it registers without a limit.
  int default_worker_tasks = 2;
  // Worker result bytes the server buffers per distributed query before it
  // stops reading the sending worker's stream (gRPC flow control then holds
  // the worker back); see cluster/query_inbox.h.
  int64_t query_buffer_bytes = int64_t{64} << 20;
};

class ClusterServer {
 public:
  // Loads the bootstrap files and starts serving. Errors: FailedPrecondition
  // for a data dir without cluster.json or TLS files (the message says to run
  // `shardlake bootstrap`); Unavailable when the address cannot be bound;
  // errors opening the catalog or the store.
  static absl::StatusOr<std::unique_ptr<ClusterServer>> Start(const ServerOptions& options);
  ~ClusterServer();
  ClusterServer(const ClusterServer&) = delete;
  ClusterServer& operator=(const ClusterServer&) = delete;

  // The bound port.
  int port() const;
  // Stops accepting calls, cancels running queries and worker streams, stops
  // the compactor and waits for all of it.
  void Shutdown();
  // Blocks until Shutdown() has finished.
  void Wait();

  struct State;

 private:
  explicit ClusterServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// The version string the server reports in Status.
inline constexpr char kServerVersion[] = "shardlake 0.1.0 (DuckDB 1.4.4)";

}  // namespace shardlake
