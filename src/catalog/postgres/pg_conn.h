// A thin RAII layer over libpq's C API for the PostgreSQL catalog backend:
// owned PGconn / PGresult handles, connection parameters from a URI, errors
// mapped to absl::Status, a small thread-safe connection pool and a runner
// that retries transactions. Internal to src/catalog/postgres.
//
// Every error message starts with the catalog URI WITHOUT its password
// (Uri::Redacted). With SHARDLAKE_DEBUG_QUERIES=1 (read when a connection is
// opened) every statement sent is logged to stderr, one line each; statements
// never contain the password (it is passed to libpq as a separate parameter).
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/catalog_stats.h"
#include "common/uri.h"

namespace shardlake::pg {

struct PGconnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PGresultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ConnHandle = std::unique_ptr<PGconn, PGconnDeleter>;
using ResultHandle = std::unique_ptr<PGresult, PGresultDeleter>;

// A successful query result (text format). Row and column indexes must be in
// range.
class Result {
 public:
  explicit Result(ResultHandle result) : result_(std::move(result)) {}

  int rows() const { return PQntuples(result_.get()); }
  int columns() const { return PQnfields(result_.get()); }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string_view Text(int row, int column) const {
    return std::string_view(PQgetvalue(result_.get(), row, column),
                            static_cast<size_t>(PQgetlength(result_.get(), row, column)));
  }
  std::string String(int row, int column) const { return std::string(Text(row, column)); }
  // The column as int64; 0 for NULL or text that is not an integer.
  int64_t Int(int row, int column) const;
  // Rows affected by INSERT / UPDATE / DELETE.
  int64_t Affected() const;

 private:
  ResultHandle result_;
};

// Text-format statement parameters ($1, $2, ...).
class Params {
 public:
  Params& Add(std::string value) {
    values_.push_back(std::move(value));
    nulls_.push_back(false);
    return *this;
  }
  Params& Add(int64_t value) { return Add(std::to_string(value)); }
  Params& AddNull() {
    values_.emplace_back();
    nulls_.push_back(true);
    return *this;
  }
  size_t size() const { return values_.size(); }
  const std::string& Value(size_t i) const { return values_[i]; }
  // Pointers valid while this object lives and is not modified.
  std::vector<const char*> Pointers() const;

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
};

// Builds PostgreSQL array literals ('{"a","b"}', '{1,2}') for unnest().
class ArrayBuilder {
 public:
  void AddText(std::string_view text);
  void AddInt(int64_t value);
  std::string Finish() &&;
  size_t size() const { return count_; }

 private:
  std::string out_ = "{";
  size_t count_ = 0;
};

// How to connect, derived from a postgresql:// URI.
struct ConnectOptions {
  // libpq keyword / value pairs: host, port, user, password, dbname, every
  // ?key=value of the URI (sslmode, sslrootcert, options, ...) except
  // shardlake's own `pool_size`; connect_timeout defaults to 5 seconds and
  // application_name to "shardlake".
  std::vector<std::pair<std::string, std::string>> params;
  std::string describe;  // the URI without password
  int pool_size = 8;     // ?pool_size=N, 1..64
};

// Errors: InvalidArgument for a bad pool_size.
absl::StatusOr<ConnectOptions> ConnectOptionsFromUri(const Uri& uri);

// The absl code for a SQLSTATE (class 08 / 57P0x -> Unavailable, 40001 and
// 40P01 -> Aborted, 42P01 -> FailedPrecondition, 28xxx / 42501 ->
// PermissionDenied, 23505 -> AlreadyExists, class 22 -> InvalidArgument ...).
absl::StatusCode CodeForSqlState(std::string_view sqlstate);

// One open connection. Not thread-safe (the pool hands it to one user).
class Connection {
 public:
  // Errors: Unavailable (server down, timeout), PermissionDenied (bad
  // password, unknown role, pg_hba rejection), FailedPrecondition (database
  // does not exist), InvalidArgument (bad libpq option).
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const ConnectOptions& options,
                                                          CatalogStats* stats);

  // Runs `sql` with `params` (text format). `what` names the operation in
  // error messages ("<describe>: <what>: <server message>").
  absl::StatusOr<Result> Exec(std::string_view what, const std::string& sql,
                              const Params& params = {});

  // Whether the connection has broken (it must then be discarded).
  bool broken() const { return PQstatus(conn_.get()) != CONNECTION_OK; }
  bool idle() const { return PQtransactionStatus(conn_.get()) == PQTRANS_IDLE; }
  const std::string& describe() const { return describe_; }

 private:
  Connection(ConnHandle conn, std::string describe, bool debug, CatalogStats* stats)
      : conn_(std::move(conn)), describe_(std::move(describe)), debug_(debug), stats_(stats) {}

  ConnHandle conn_;
  std::string describe_;
  bool debug_;
  CatalogStats* stats_;  // not owned; may be null
};

// A bounded pool of connections, shared by threads. Connections are opened
// lazily; a broken one, or one left inside a transaction, is discarded when
// returned, so the next caller reconnects.
class Pool {
 public:
  Pool(ConnectOptions options, CatalogStats* stats);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A connection on loan; returned to the pool when destroyed.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn, bool fresh)
        : pool_(pool), conn_(std::move(conn)), fresh_(fresh) {}
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }
    // Whether the connection was opened for this lease (not reused).
    bool fresh() const { return fresh_; }
    // Closes the connection instead of returning it; the lease is then empty.
    void Discard();

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
    bool fresh_;
  };

  // Waits (bounded) for a free slot. Errors: those of Connection::Open;
  // Unavailable when no connection frees up in time.
  absl::StatusOr<Lease> Acquire();

  const std::string& describe() const { return options_.describe; }
  CatalogStats* stats() const { return stats_; }

 private:
  void Release(std::unique_ptr<Connection> conn);

  const ConnectOptions options_;
  CatalogStats* const stats_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  int open_ = 0;                                   // guarded by mu_: idle + on loan
};

// Runs `body` on a pooled connection. With `transaction`, inside BEGIN ...
// COMMIT (rolled back when `body` fails). Serialization failures and
// deadlocks (Aborted) are retried with backoff up to kMaxAttempts times, then
// returned as Aborted; a connection found broken before COMMIT was sent is
// replaced and the call retried once. `body` may run several times, so it
// must reset whatever it outputs.
inline constexpr int kMaxAttempts = 6;
absl::Status Run(Pool& pool, std::string_view what, bool transaction,
                 const std::function<absl::Status(Connection&)>& body);

}  // namespace shardlake::pg
