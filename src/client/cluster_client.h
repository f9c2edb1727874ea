// ClusterClient: a connection from a client program (the shell, gemini,
// tests) to a shardlake server over gRPC with TLS.
//
// Connect() opens the channel, checks the server's certificate against the
// given roots and logs in with a username and password; the session token the
// server returns is sent with every later call. Results arrive as columnar
// (Arrow) batches and are handed to the sink as text rows, rendered by DuckDB
// exactly as `shardlake sql` renders them.
//
// Errors: Unauthenticated for a wrong username/password or an expired token;
// Unavailable when the server cannot be reached or the TLS handshake fails;
// InvalidArgument for SQL the server rejects; Cancelled after Cancel();
// DeadlineExceeded after the query timeout; Internal for a malformed reply.
// Messages never contain the password or the token.
//
// Thread-safety: one thread runs calls at a time, except Cancel(), which any
// thread may call (e.g. a SIGINT handler's thread) while Execute() runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "query/engine.h"

namespace shardlake {

struct ClientOptions {
  std::string address;         // "host:port"
  std::string tls_roots_path;  // PEM file with the CA that signed the server certificate
  std::string username;
  std::string password;
  double connect_timeout_seconds = 10;
};

// What the server reports about one statement, beside its rows.
struct ClientQueryOutcome {
  std::string statement_kind;  // "SELECT", "EXPLAIN", ...
  // The DuckDB type of each result column (e.g. "DECIMAL(15,2)"), as the
  // query produces it, whether it ran distributed or on the server; "VARCHAR"
  // for the text columns of session statements and EXPLAIN. The rows reach
  // the sink as text either way.
  std::vector<std::string> column_types;
  int64_t rows = 0;
  double server_seconds = 0;
  bool distributed = false;        // ran as worker + coordinator queries
  std::string fallback_reason;     // why not, when !distributed
  int workers_used = 0;            // workers that ran at least one task
  int64_t bytes_from_workers = 0;  // partial-result bytes the server received
  int tasks_retried = 0;           // tasks re-run after a worker failed
  // Transport figures: the largest reply message of the stream (serialized
  // size), the most worker batch bytes the server buffered at once and the
  // largest batch a worker sent (both 0 unless distributed).
  int64_t largest_reply_bytes = 0;
  int64_t peak_buffered_bytes = 0;
  int64_t largest_worker_batch_bytes = 0;
};

struct ClusterStatus {
  int workers = 0;  // connected, authenticated workers
  std::vector<std::string> worker_names;
  int64_t queries_running = 0;
  std::string server_version;
};

class ClusterClient {
 public:
  static absl::StatusOr<std::unique_ptr<ClusterClient>> Connect(const ClientOptions& options);
  virtual ~ClusterClient() = default;

  // Runs one statement and streams its rows to `sink`.
  virtual absl::StatusOr<ClientQueryOutcome> Execute(const std::string& sql, ResultSink& sink) = 0;

  // Session settings kept by the server: "distributed" (true|false),
  // "summarize" (true|false: false returns the workers' partial rows),
  // "timeout" (seconds, 0 = none). InvalidArgument for an unknown name or value.
  virtual absl::Status SetOption(const std::string& name, const std::string& value) = 0;

  // Cancels the running Execute() on the server and on every worker.
  virtual void Cancel() = 0;

  virtual absl::StatusOr<ClusterStatus> Status() = 0;
};

}  // namespace shardlake
