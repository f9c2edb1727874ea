// ClusterWorker: `shardlake worker`. Connects out to the server over TLS,
// registers as user "worker" with the worker password, heartbeats, and runs
// the tasks the server sends, each in a DuckDB of its own over the task's
// files (from the store the server names; copies of remote objects are kept
// in a local file cache), streaming the results back as Arrow batches.
//
// A lost connection is retried (a wrong password or a refused TLS handshake
// is not: Run returns the error). At most `max_tasks` tasks run at once.
//
// Thread-safety: Run() on one thread; Stop() from any thread (e.g. a signal
// handler's thread).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "duck/duck.h"

namespace shardlake {
namespace v1 {
class Registered;
}  // namespace v1

struct WorkerOptions {
  std::string server_address;  // "host:port"
  std::string tls_roots_path;  // the cluster's ca.crt
  std::string password;        // the worker password
  std::string name;            // empty: "<hostname>-<pid>"
  int max_tasks = 2;
  int threads = 0;  // DuckDB threads per task; 0 = DuckDB's default
  std::string memory_limit;
  std::string cache_dir;  // file cache for non-local stores; empty: a temp dir
  int64_t cache_bytes = 10LL << 30;
  double connect_timeout_seconds = 10;
  // Delay between reconnection attempts after a lost connection.
  double reconnect_delay_seconds = 1;
};

class ClusterWorker {
 public:
  explicit ClusterWorker(WorkerOptions options);
  ~ClusterWorker();
  ClusterWorker(const ClusterWorker&) = delete;
  ClusterWorker& operator=(const ClusterWorker&) = delete;

  // Serves until Stop(). Errors: Unauthenticated for a wrong password;
  // Unavailable when the first connection cannot be made within the connect
  // timeout (bad address, TLS failure); NotFound / InvalidArgument for the
  // TLS roots file.
  absl::Status Run();

  // Makes Run() return: cancels the stream and the running tasks.
  void Stop();

  struct Connection;

 private:
  // Runs tasks on a registered connection until its stream ends.
  absl::Status Serve(Connection& connection, const v1::Registered& registered,
                     duck::Database& database);

  WorkerOptions options_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  Connection* current_ = nullptr;  // guarded by mutex_
};

}  // namespace shardlake
