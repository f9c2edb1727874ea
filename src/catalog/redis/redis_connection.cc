#include "catalog/redis/redis_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "fmt/format.h"

namespace shardlake::redis {
namespace {

using Clock = std::chrono::steady_clock;

// ---- RAII handles.

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct ReaderFree {
  void operator()(redisReader* reader) const { redisReaderFree(reader); }
};
struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
struct CommandFree {
  void operator()(char* command) const { redisFreeCommand(command); }
};
struct AddrInfoFree {
  void operator()(addrinfo* info) const { freeaddrinfo(info); }
};

// Blocks SIGPIPE in this thread while OpenSSL writes to the socket (its
// socket BIO uses write(), which raises SIGPIPE when Redis has gone away), and
// swallows a SIGPIPE raised meanwhile. Plain sockets use send(MSG_NOSIGNAL).
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    blocked_ = pthread_sigmask(SIG_BLOCK, &block, &old_) == 0;
  }
  ~ScopedSigpipeBlock() {
    if (!blocked_) return;
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        timespec zero{0, 0};
        while (sigtimedwait(&pipe, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t old_;
  bool was_pending_ = false;
  bool blocked_ = false;
};

// The last OpenSSL error as text (and clears the queue).
std::string SslErrorText() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown TLS error" : out;
}

absl::StatusOr<int64_t> ParseIntParam(const Uri& uri, const std::string& name, int64_t fallback,
                                      int64_t min, int64_t max) {
  auto it = uri.query.find(name);
  if (it == uri.query.end()) return fallback;
  int64_t value = 0;
  const std::string& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': parameter {}={} must be an integer in [{}, {}]", uri.Redacted(), name,
                    text, min, max));
  }
  return value;
}

Reply ConvertReply(const redisReply* reply) {
  Reply out;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) {
        out.elements.push_back(ConvertReply(reply->element[i]));
      }
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

bool IsIpAddress(const std::string& host) {
  in6_addr addr6;
  in_addr addr4;
  return inet_pton(AF_INET, host.c_str(), &addr4) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &addr6) == 1;
}

}  // namespace

absl::StatusOr<Endpoint> ParseEndpoint(const Uri& uri) {
  Endpoint e;
  e.describe = uri.Redacted();
  if (uri.scheme != "redis" && uri.scheme != "rediss") {
    return absl::InvalidArgumentError(
        fmt::format("'{}': not a redis:// or rediss:// URI", e.describe));
  }
  e.tls = uri.scheme == "rediss";
  if (uri.host.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "'{}': the Redis host is missing; use redis://[user[:pass]@]host:port/DB", e.describe));
  }
  e.host = uri.host;
  if (uri.port != 0) e.port = uri.port;
  std::string_view db = uri.path;
  if (!db.empty() && db.front() == '/') db.remove_prefix(1);
  int number = -1;
  auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), number);
  if (db.empty() || ec != std::errc() || end != db.data() + db.size() || number < 0) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': invalid Redis DB number '{}'; the URI must end in /DB, e.g. "
                    "redis://host:6379/0",
                    e.describe, db));
  }
  e.db = number;
  if (auto colon = uri.userinfo.find(':'); colon != std::string::npos) {
    e.user = uri.userinfo.substr(0, colon);
    e.password = uri.userinfo.substr(colon + 1);
  } else {
    e.user = uri.userinfo;
  }
  ASSIGN_OR_RETURN(int64_t connect_ms,
                   ParseIntParam(uri, "connect-timeout-ms", 5000, 1, 3'600'000));
  ASSIGN_OR_RETURN(int64_t command_ms, ParseIntParam(uri, "timeout-ms", 30000, 1, 86'400'000));
  ASSIGN_OR_RETURN(int64_t pool_size, ParseIntParam(uri, "pool-size", 8, 0, 1024));
  ASSIGN_OR_RETURN(int64_t insecure, ParseIntParam(uri, "tls-insecure", 0, 0, 1));
  e.connect_timeout = std::chrono::milliseconds(connect_ms);
  e.command_timeout = std::chrono::milliseconds(command_ms);
  e.pool_size = static_cast<size_t>(pool_size);
  e.tls_insecure = insecure == 1;
  auto param = [&](const char* name) {
    auto it = uri.query.find(name);
    return it == uri.query.end() ? std::string() : it->second;
  };
  e.tls_ca = param("tls-ca");
  e.tls_cert = param("tls-cert");
  e.tls_key = param("tls-key");
  e.tls_server_name = param("tls-server-name");
  if (e.tls_server_name.empty()) e.tls_server_name = e.host;
  if (!e.tls && (!e.tls_ca.empty() || !e.tls_cert.empty() || e.tls_insecure)) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': tls-* parameters need a rediss:// URI", e.describe));
  }
  if (e.tls_cert.empty() != e.tls_key.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': tls-cert and tls-key go together", e.describe));
  }
  static constexpr const char* kKnown[] = {
      "connect-timeout-ms", "timeout-ms", "pool-size",      "tls-insecure", "tls-ca",
      "tls-cert",           "tls-key",    "tls-server-name"};
  for (const auto& [key, value] : uri.query) {
    bool known = false;
    for (const char* k : kKnown) known = known || key == k;
    if (!known) {
      return absl::InvalidArgumentError(
          fmt::format("'{}': unknown parameter '{}' (known: connect-timeout-ms, timeout-ms, "
                      "pool-size, tls-ca, tls-insecure, tls-cert, tls-key, tls-server-name)",
                      e.describe, key));
    }
  }
  return e;
}

// ---- TLS context.

struct TlsContext::Impl {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx;
};

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Create(const Endpoint& endpoint) {
  auto impl = std::make_unique<Impl>();
  impl->ctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!impl->ctx) {
    return absl::InternalError(
        fmt::format("'{}': cannot create a TLS context: {}", endpoint.describe, SslErrorText()));
  }
  SSL_CTX_set_min_proto_version(impl->ctx.get(), TLS1_2_VERSION);
  if (endpoint.tls_insecure) {
    SSL_CTX_set_verify(impl->ctx.get(), SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(impl->ctx.get(), SSL_VERIFY_PEER, nullptr);
    int ok = endpoint.tls_ca.empty()
                 ? SSL_CTX_set_default_verify_paths(impl->ctx.get())
                 : SSL_CTX_load_verify_locations(impl->ctx.get(), endpoint.tls_ca.c_str(), nullptr);
    if (ok != 1) {
      return absl::InvalidArgumentError(fmt::format("'{}': cannot load the TLS CA '{}': {}",
                                                    endpoint.describe, endpoint.tls_ca,
                                                    SslErrorText()));
    }
  }
  if (!endpoint.tls_cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(impl->ctx.get(), endpoint.tls_cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(impl->ctx.get(), endpoint.tls_key.c_str(), SSL_FILETYPE_PEM) !=
            1) {
      return absl::InvalidArgumentError(
          fmt::format("'{}': cannot load the TLS client certificate '{}' / key '{}': {}",
                      endpoint.describe, endpoint.tls_cert, endpoint.tls_key, SslErrorText()));
    }
  }
  return std::unique_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

// ---- Connection.

struct Connection::Impl {
  const Endpoint* endpoint = nullptr;  // owned by the pool, which outlives connections
  UniqueFd fd;
  std::unique_ptr<SSL, SslFree> ssl;  // null for plain TCP
  std::unique_ptr<redisReader, ReaderFree> reader;

  std::string Where() const {
    return fmt::format("'{}' ({}:{})", endpoint->describe, endpoint->host, endpoint->port);
  }

  absl::Status Unavailable(std::string_view what) const {
    return absl::UnavailableError(fmt::format("{}: {}", Where(), what));
  }

  // Waits until the connection's fd is readable (`events` = POLLIN) or
  // writable (POLLOUT).
  absl::Status Wait(short events, Clock::time_point deadline) const {
    return WaitFd(fd.get(), events, deadline);
  }

  absl::Status WaitFd(int socket, short events, Clock::time_point deadline) const {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Unavailable("timed out waiting for Redis");
      pollfd p{socket, events, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1'000'000)));
      if (n > 0) return absl::OkStatus();
      if (n < 0 && errno != EINTR)
        return Unavailable(fmt::format("poll: {}", std::strerror(errno)));
    }
  }

  absl::Status ConnectSocket(Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* raw = nullptr;
    std::string port = std::to_string(endpoint->port);
    int rc = getaddrinfo(endpoint->host.c_str(), port.c_str(), &hints, &raw);
    if (rc != 0) {
      return Unavailable(fmt::format("cannot resolve host: {}", gai_strerror(rc)));
    }
    std::unique_ptr<addrinfo, AddrInfoFree> info(raw);
    std::string last_error = "no address";
    for (addrinfo* a = info.get(); a != nullptr; a = a->ai_next) {
      UniqueFd s(
          ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
      if (s.get() < 0) {
        last_error = std::strerror(errno);
        continue;
      }
      if (::connect(s.get(), a->ai_addr, a->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
          last_error = std::strerror(errno);
          continue;
        }
        if (!WaitFd(s.get(), POLLOUT, deadline).ok()) {
          last_error = "connect timed out";
          continue;
        }
        int error = 0;
        socklen_t len = sizeof(error);
        if (getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
          last_error = std::strerror(error != 0 ? error : errno);
          continue;
        }
      }
      int one = 1;
      setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      setsockopt(s.get(), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
      fd = std::move(s);
      return absl::OkStatus();
    }
    return Unavailable(fmt::format("cannot connect: {} (is Redis running?)", last_error));
  }

  absl::Status Handshake(const TlsContext& tls, Clock::time_point deadline) {
    ssl.reset(SSL_new(tls.impl_->ctx.get()));
    if (!ssl) return Unavailable(fmt::format("TLS: {}", SslErrorText()));
    const std::string& name = endpoint->tls_server_name;
    if (!IsIpAddress(name)) {
      SSL_set_tlsext_host_name(ssl.get(), name.c_str());
      SSL_set1_host(ssl.get(), name.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str());
    }
    SSL_set_fd(ssl.get(), fd.get());
    for (;;) {
      ERR_clear_error();
      ScopedSigpipeBlock no_sigpipe;
      int rc = SSL_connect(ssl.get());
      if (rc == 1) return absl::OkStatus();
      int error = SSL_get_error(ssl.get(), rc);
      if (error == SSL_ERROR_WANT_READ) {
        RETURN_IF_ERROR(Wait(POLLIN, deadline));
      } else if (error == SSL_ERROR_WANT_WRITE) {
        RETURN_IF_ERROR(Wait(POLLOUT, deadline));
      } else {
        std::string detail = SslErrorText();
        long verify = SSL_get_verify_result(ssl.get());
        if (verify != X509_V_OK) {
          detail = fmt::format("certificate verification failed: {} ({})",
                               X509_verify_cert_error_string(verify), detail);
        }
        return Unavailable(fmt::format("TLS handshake failed: {}", detail));
      }
    }
  }

  absl::Status WriteAll(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
      if (ssl) {
        ERR_clear_error();
        ScopedSigpipeBlock no_sigpipe;
        int n = SSL_write(ssl.get(), data.data(),
                          static_cast<int>(std::min<size_t>(data.size(), 1 << 30)));
        if (n > 0) {
          data.remove_prefix(static_cast<size_t>(n));
          continue;
        }
        int error = SSL_get_error(ssl.get(), n);
        if (error == SSL_ERROR_WANT_WRITE) {
          RETURN_IF_ERROR(Wait(POLLOUT, deadline));
        } else if (error == SSL_ERROR_WANT_READ) {
          RETURN_IF_ERROR(Wait(POLLIN, deadline));
        } else {
          return Unavailable(fmt::format("TLS write failed: {}", SslErrorText()));
        }
      } else {
        ssize_t n = ::send(fd.get(), data.data(), data.size(), MSG_NOSIGNAL);
        if (n > 0) {
          data.remove_prefix(static_cast<size_t>(n));
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          RETURN_IF_ERROR(Wait(POLLOUT, deadline));
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          return Unavailable(fmt::format("write failed: {}", std::strerror(errno)));
        }
      }
    }
    return absl::OkStatus();
  }

  // Reads some bytes into the reply reader.
  absl::Status ReadSome(Clock::time_point deadline) {
    char buffer[64 * 1024];
    for (;;) {
      if (ssl) {
        ERR_clear_error();
        ScopedSigpipeBlock no_sigpipe;  // SSL_read may write (renegotiation, alerts)
        int n = SSL_read(ssl.get(), buffer, sizeof(buffer));
        if (n > 0) return Feed(buffer, static_cast<size_t>(n));
        int error = SSL_get_error(ssl.get(), n);
        if (error == SSL_ERROR_WANT_READ) {
          RETURN_IF_ERROR(Wait(POLLIN, deadline));
        } else if (error == SSL_ERROR_WANT_WRITE) {
          RETURN_IF_ERROR(Wait(POLLOUT, deadline));
        } else if (error == SSL_ERROR_ZERO_RETURN) {
          return Unavailable("Redis closed the connection");
        } else {
          return Unavailable(fmt::format("TLS read failed: {}", SslErrorText()));
        }
      } else {
        ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
        if (n > 0) return Feed(buffer, static_cast<size_t>(n));
        if (n == 0) return Unavailable("Redis closed the connection");
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          RETURN_IF_ERROR(Wait(POLLIN, deadline));
        } else if (errno != EINTR) {
          return Unavailable(fmt::format("read failed: {}", std::strerror(errno)));
        }
      }
    }
  }

  absl::Status Feed(const char* data, size_t size) {
    if (redisReaderFeed(reader.get(), data, size) != REDIS_OK) {
      return Unavailable(fmt::format("protocol error: {}", reader->errstr));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Reply> ReadReply(Clock::time_point deadline) {
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
        return Unavailable(fmt::format("protocol error: {}", reader->errstr));
      }
      if (raw != nullptr) {
        std::unique_ptr<redisReply, ReplyFree> reply(static_cast<redisReply*>(raw));
        return ConvertReply(reply.get());
      }
      RETURN_IF_ERROR(ReadSome(deadline));
    }
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() {
  if (impl_ && impl_->ssl && !broken_) {
    ScopedSigpipeBlock no_sigpipe;
    SSL_shutdown(impl_->ssl.get());  // best effort close_notify
  }
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(const Endpoint& endpoint,
                                                             const TlsContext* tls) {
  auto deadline = Clock::now() + endpoint.connect_timeout;
  auto impl = std::make_unique<Impl>();
  impl->endpoint = &endpoint;
  impl->reader.reset(redisReaderCreate());
  if (!impl->reader) return absl::ResourceExhaustedError("cannot create a Redis reply reader");
  RETURN_IF_ERROR(impl->ConnectSocket(deadline));
  if (tls != nullptr) RETURN_IF_ERROR(impl->Handshake(*tls, deadline));
  std::unique_ptr<Connection> connection(new Connection(std::move(impl)));

  std::vector<std::vector<std::string>> setup;
  if (!endpoint.password.empty()) {
    if (endpoint.user.empty()) {
      setup.push_back({"AUTH", endpoint.password});
    } else {
      setup.push_back({"AUTH", endpoint.user, endpoint.password});
    }
  }
  setup.push_back({"SELECT", std::to_string(endpoint.db)});
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  std::vector<const std::vector<std::string>*> setup_commands;
  for (const auto& command : setup) setup_commands.push_back(&command);
  ASSIGN_OR_RETURN(
      std::vector<Reply> replies,
      connection->Pipeline(setup_commands, std::max(left, std::chrono::milliseconds(1))));
  for (size_t i = 0; i < replies.size(); ++i) {
    const Reply& reply = replies[i];
    if (!reply.is_error()) continue;
    bool is_auth = setup[i][0] == "AUTH";
    const std::string& message = reply.str;
    if (is_auth || message.starts_with("NOAUTH") || message.starts_with("WRONGPASS") ||
        message.find("invalid password") != std::string::npos) {
      return absl::PermissionDeniedError(
          fmt::format("'{}': Redis rejected the credentials: {}", endpoint.describe, message));
    }
    if (message.find("DB index is out of range") != std::string::npos) {
      return absl::InvalidArgumentError(
          fmt::format("'{}': Redis has no database {} (SELECT: {}); check the DB number and the "
                      "server's `databases` setting",
                      endpoint.describe, endpoint.db, message));
    }
    return absl::UnavailableError(
        fmt::format("'{}': {} failed: {}", endpoint.describe, setup[i][0], message));
  }
  return connection;
}

absl::StatusOr<std::vector<Reply>> Connection::Pipeline(
    const std::vector<const std::vector<std::string>*>& commands,
    std::chrono::milliseconds timeout) {
  if (broken_) return impl_->Unavailable("connection is broken");
  auto deadline = Clock::now() + timeout;
  std::string out;
  for (const std::vector<std::string>* command_ptr : commands) {
    const std::vector<std::string>& command = *command_ptr;
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    argv.reserve(command.size());
    lengths.reserve(command.size());
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    char* raw = nullptr;
    int len =
        redisFormatCommandArgv(&raw, static_cast<int>(argv.size()), argv.data(), lengths.data());
    std::unique_ptr<char, CommandFree> formatted(raw);
    if (len < 0 || !formatted) {
      return absl::ResourceExhaustedError("cannot format a Redis command");
    }
    out.append(formatted.get(), static_cast<size_t>(len));
  }
  absl::Status written = impl_->WriteAll(out, deadline);
  if (!written.ok()) {
    broken_ = true;
    return written;
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    absl::StatusOr<Reply> reply = impl_->ReadReply(deadline);
    if (!reply.ok()) {
      broken_ = true;
      return reply.status();
    }
    replies.push_back(*std::move(reply));
  }
  return replies;
}

bool Connection::LooksAlive() const {
  if (broken_) return false;
  if (impl_->ssl && SSL_pending(impl_->ssl.get()) > 0) return false;
  pollfd p{impl_->fd.get(), POLLIN, 0};
  int n = ::poll(&p, 1, 0);
  // Readable with nothing asked means EOF, an error or unsolicited data.
  return n == 0;
}

// ---- Pool.

Pool::Pool(Endpoint endpoint, std::unique_ptr<TlsContext> tls)
    : endpoint_(std::move(endpoint)), tls_(std::move(tls)) {}
Pool::~Pool() = default;

absl::StatusOr<std::unique_ptr<Pool>> Pool::Open(Endpoint endpoint) {
  std::unique_ptr<TlsContext> tls;
  if (endpoint.tls) {
    ASSIGN_OR_RETURN(tls, TlsContext::Create(endpoint));
  }
  std::unique_ptr<Pool> pool(new Pool(std::move(endpoint), std::move(tls)));
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> first, pool->Take());
  pool->Give(std::move(first));
  return pool;
}

absl::StatusOr<std::unique_ptr<Connection>> Pool::Take() {
  {
    std::lock_guard lock(mu_);
    while (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      if (connection->LooksAlive()) return connection;
      // A dead connection (e.g. Redis restarted): drop it and try the next.
    }
  }
  return Connection::Open(endpoint_, tls_.get());
}

void Pool::Give(std::unique_ptr<Connection> connection) {
  if (connection->broken()) return;
  std::lock_guard lock(mu_);
  if (idle_.size() < endpoint_.pool_size) idle_.push_back(std::move(connection));
}

absl::StatusOr<std::vector<Reply>> Pool::Run(const std::vector<std::vector<std::string>>& commands,
                                             bool idempotent) {
  std::vector<const std::vector<std::string>*> pointers;
  pointers.reserve(commands.size());
  for (const auto& command : commands) pointers.push_back(&command);
  return RunPointers(pointers, idempotent);
}

absl::StatusOr<Reply> Pool::Command(const std::vector<std::string>& command, bool idempotent) {
  ASSIGN_OR_RETURN(std::vector<Reply> replies, RunPointers({&command}, idempotent));
  return std::move(replies.front());
}

absl::StatusOr<std::vector<Reply>> Pool::RunPointers(
    const std::vector<const std::vector<std::string>*>& commands, bool idempotent) {
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, Take());
    absl::StatusOr<std::vector<Reply>> replies =
        connection->Pipeline(commands, endpoint_.command_timeout);
    Give(std::move(connection));
    if (replies.ok() || !idempotent || attempt > 0) return replies;
  }
}

}  // namespace shardlake::redis
