// Test harness: runs a real `redis-server` (plain or TLS) on 127.0.0.1 in a
// temp dir, on a port the OS picked, and stops it (SIGTERM, then SIGKILL after
// a bounded wait). Every wait is bounded in time. For tests only.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/redis/redis_connection.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "fmt/format.h"

namespace shardlake::redis {

// A port nobody listens on right now (bind to port 0, read it, close).
inline absl::StatusOr<int> FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError("cannot bind a loopback port");
  return static_cast<int>(ntohs(addr.sin_port));
}

class RedisTestServer {
 public:
  struct Options {
    bool tls = false;
    std::string password = "";  // --requirepass when non-empty
    int databases = 16;
  };

  static absl::StatusOr<std::unique_ptr<RedisTestServer>> Start(Options options) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "shardlake_redis_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(fmt::format("mkdtemp({}) failed", pattern));
    }
    std::unique_ptr<RedisTestServer> server(new RedisTestServer(std::move(options), pattern));
    if (server->options_.tls) RETURN_IF_ERROR(server->MakeCertificates());
    ASSIGN_OR_RETURN(server->port_, FreeLoopbackPort());
    RETURN_IF_ERROR(server->Launch());
    return server;
  }

  ~RedisTestServer() {
    Stop().IgnoreError();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string ca_file() const { return dir_ + "/ca.crt"; }

  // The catalog URI of database `db` (with the password and, for TLS, the CA).
  std::string Uri(int db, const std::string& password = "") const {
    std::string auth = password.empty() ? "" : ":" + password + "@";
    if (options_.tls) {
      return fmt::format("rediss://{}127.0.0.1:{}/{}?tls-ca={}", auth, port_, db, ca_file());
    }
    return fmt::format("redis://{}127.0.0.1:{}/{}", auth, port_, db);
  }

  // Stops the server: SIGTERM, up to 10 s, then SIGKILL.
  absl::Status Stop() {
    if (pid_ <= 0) return absl::OkStatus();
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::OkStatus();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return absl::DeadlineExceededError("redis-server did not stop on SIGTERM; killed");
  }

  // Stops and starts the server again on the same port (data is not kept).
  absl::Status Restart() {
    RETURN_IF_ERROR(Stop());
    return Launch();
  }

  // Runs one command on database `db` over a connection of its own.
  absl::StatusOr<Reply> Command(int db, std::vector<std::string> command) const {
    ASSIGN_OR_RETURN(shardlake::Uri uri, ParseUri(Uri(db, options_.password)));
    ASSIGN_OR_RETURN(Endpoint endpoint, ParseEndpoint(uri));
    ASSIGN_OR_RETURN(std::unique_ptr<Pool> pool, Pool::Open(std::move(endpoint)));
    return pool->Command(std::move(command), false);
  }

 private:
  RedisTestServer(Options options, std::string dir)
      : options_(std::move(options)), dir_(std::move(dir)) {}

  absl::Status Shell(const std::string& command) const {
    std::string full =
        fmt::format("cd '{}' && ( {} ) >>'{}/openssl.log' 2>&1", dir_, command, dir_);
    if (std::system(full.c_str()) != 0) {
      return absl::InternalError(fmt::format("failed: {} (see {}/openssl.log)", command, dir_));
    }
    return absl::OkStatus();
  }

  // A CA and a server certificate for 127.0.0.1 / localhost.
  absl::Status MakeCertificates() const {
    RETURN_IF_ERROR(
        Shell("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
              "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
              "-keyout ca.key -out ca.crt -days 2 -subj /CN=shardlake-test-ca && "
              "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
              "-keyout server.key -out server.csr -subj /CN=localhost && "
              "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
              "-out server.crt -days 2 -extfile san.ext"));
    return absl::OkStatus();
  }

  absl::Status Launch() {
    std::vector<std::string> args = {"redis-server",
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_,
                                     "--logfile",
                                     dir_ + "/redis.log",
                                     "--databases",
                                     std::to_string(options_.databases)};
    if (options_.tls) {
      args.insert(args.end(),
                  {"--port", "0", "--tls-port", std::to_string(port_), "--tls-cert-file",
                   dir_ + "/server.crt", "--tls-key-file", dir_ + "/server.key",
                   "--tls-ca-cert-file", ca_file(), "--tls-auth-clients", "no"});
    } else {
      args.insert(args.end(), {"--port", std::to_string(port_)});
    }
    if (!options_.password.empty()) args.insert(args.end(), {"--requirepass", options_.password});
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      ::execvp("redis-server", argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    // Wait (bounded) until it answers.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    absl::Status last = absl::UnavailableError("not started");
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::InternalError(fmt::format(
            "redis-server exited at start (status {}); see {}/redis.log", status, dir_));
      }
      absl::StatusOr<Reply> pong = Command(0, {"PING"});
      if (pong.ok()) return absl::OkStatus();
      last = pong.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Stop().IgnoreError();
    return absl::DeadlineExceededError(
        fmt::format("redis-server did not answer within 15 s: {}", std::string(last.message())));
  }

  Options options_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace shardlake::redis
