// A minimal Redis client for the catalog: one code path for plain TCP and TLS.
//
// hiredis 0.14 has no TLS, so we only use its RESP pieces: redisFormatCommandArgv
// builds the request bytes and a redisReader parses replies; the bytes travel
// over a socket of ours, optionally wrapped in an OpenSSL TLS session. Every
// handle (fd, SSL, SSL_CTX, redisReader) is owned by an RAII member.
//
// Endpoint URIs: redis://[user[:pass]@]host:port/DB and rediss://... (TLS).
// The DB number is mandatory (as in GigAPI). Query parameters:
//   connect-timeout-ms  connect + TLS handshake + AUTH/SELECT (default 5000)
//   timeout-ms          one command round trip (default 30000)
//   pool-size           idle connections kept (default 8)
//   tls-ca=/path        CA file to verify the server certificate (rediss; without
//                       it the system's default CAs are used)
//   tls-insecure=1      skip certificate verification (explicit opt-in)
//   tls-cert, tls-key   client certificate and key (servers with tls-auth-clients)
//   tls-server-name     name to send as SNI and check in the certificate
//                       (default: the host)
//
// Errors: every message starts with the URI without its password. Network
// failures are Unavailable; a rejected password is PermissionDenied; a DB
// number the server does not have is InvalidArgument.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/uri.h"

namespace shardlake::redis {

// An owned copy of a hiredis reply.
struct Reply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<Reply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
};

struct Endpoint {
  std::string host;
  int port = 6379;
  bool tls = false;
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
  int db = 0;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  bool tls_insecure = false;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds command_timeout{30000};
  size_t pool_size = 8;
  std::string describe;  // the URI without its password
};

// Validates a redis:// or rediss:// URI. Errors: InvalidArgument.
absl::StatusOr<Endpoint> ParseEndpoint(const Uri& uri);

class TlsContext;

// One connection. Not thread-safe; the pool hands it to one caller at a time.
class Connection {
 public:
  // Connects, does the TLS handshake, AUTH and SELECT.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const Endpoint& endpoint,
                                                          const TlsContext* tls);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends every command, then reads one reply per command. Error replies are
  // returned as Reply::Type::kError, not as a Status; a Status error means the
  // connection failed (and is now broken).
  absl::StatusOr<std::vector<Reply>> Pipeline(
      const std::vector<const std::vector<std::string>*>& commands,
      std::chrono::milliseconds timeout);

  // True once an I/O error, a timeout or a protocol error happened.
  bool broken() const { return broken_; }
  // False when the peer has closed the connection (e.g. Redis restarted) or
  // sent something unsolicited; checked before an idle connection is reused.
  bool LooksAlive() const;

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  bool broken_ = false;
};

// OpenSSL client context (CA, verification mode, client certificate).
class TlsContext {
 public:
  static absl::StatusOr<std::unique_ptr<TlsContext>> Create(const Endpoint& endpoint);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

 private:
  friend class Connection;
  struct Impl;
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A thread-safe pool of connections to one endpoint.
class Pool {
 public:
  // Validates the endpoint and opens one connection to check that Redis is
  // reachable and accepts the credentials and DB number.
  static absl::StatusOr<std::unique_ptr<Pool>> Open(Endpoint endpoint);
  ~Pool();

  const Endpoint& endpoint() const { return endpoint_; }

  // Runs `commands` as one pipeline on a pooled connection (a fresh one when
  // none is idle). An idle connection whose peer went away is discarded
  // first, so the call after a Redis restart reconnects. `idempotent`
  // commands are retried once on a fresh connection after an I/O failure.
  absl::StatusOr<std::vector<Reply>> Run(const std::vector<std::vector<std::string>>& commands,
                                         bool idempotent);
  // One command.
  absl::StatusOr<Reply> Command(const std::vector<std::string>& command, bool idempotent);

 private:
  Pool(Endpoint endpoint, std::unique_ptr<TlsContext> tls);
  absl::StatusOr<std::vector<Reply>> RunPointers(
      const std::vector<const std::vector<std::string>*>& commands, bool idempotent);
  absl::StatusOr<std::unique_ptr<Connection>> Take();
  void Give(std::unique_ptr<Connection> connection);

  Endpoint endpoint_;
  std::unique_ptr<TlsContext> tls_;  // null for plain redis://
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

}  // namespace shardlake::redis
