// Test and benchmark harness: runs a real PostgreSQL server on 127.0.0.1 in a
// fresh temp dir (/tmp/shardlake_pg_XXXXXX): `initdb` (superuser `postgres`,
// password auth (scram-sha-256) over TCP, trust over the local socket), then
// `pg_ctl start` on a port the OS picked, with fsync and synchronous_commit
// off. Gives catalog URIs, runs SQL as the superuser and creates fresh
// databases; Stop() (also run by the destructor) stops the server
// (`pg_ctl stop -m fast`) and removes the temp dir. Every command is bounded in
// time (`timeout`).
//
// Needs the PostgreSQL server binaries (Debian package `postgresql`, which
// installs /usr/lib/postgresql/<version>/bin); the newest version there is
// used. initdb refuses to run as root: as root, the temp dir is handed to the
// `postgres` user and every server command runs as that user (`runuser -u
// postgres`). For tests and benchmarks only; header-only, no gtest.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/postgres/pg_conn.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "fmt/format.h"

namespace shardlake {

class PostgresTestServer {
 public:
  // The superuser's password (the user is `postgres`).
  static constexpr const char* kPassword = "s3cret-Pw";

  // A port nobody listens on right now, from the OS; 0 if none could be had.
  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  // The directory holding initdb and pg_ctl: the newest
  // /usr/lib/postgresql/<version>/bin that has them, or NotFound.
  static absl::StatusOr<std::string> FindBinDir() {
    const std::filesystem::path root = "/usr/lib/postgresql";
    std::string best;
    int best_version = -1;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
      const std::string name = entry.path().filename().string();
      char* end = nullptr;
      long version = std::strtol(name.c_str(), &end, 10);
      if (end == name.c_str() || *end != '\0') continue;
      std::filesystem::path bin = entry.path() / "bin";
      if (!std::filesystem::exists(bin / "initdb", ec) ||
          !std::filesystem::exists(bin / "pg_ctl", ec)) {
        continue;
      }
      if (version > best_version) {
        best_version = static_cast<int>(version);
        best = bin.string();
      }
    }
    if (best.empty()) {
      return absl::NotFoundError(
          "no PostgreSQL server binaries (/usr/lib/postgresql/<version>/bin/initdb); "
          "install the `postgresql` package");
    }
    return best;
  }

  PostgresTestServer() = default;
  ~PostgresTestServer() { Stop(); }
  PostgresTestServer(const PostgresTestServer&) = delete;
  PostgresTestServer& operator=(const PostgresTestServer&) = delete;

  // Creates the cluster and starts the server (waits until it accepts
  // connections, at most 60 s). On error the message includes the logs.
  absl::Status Start() {
    ASSIGN_OR_RETURN(bin_, FindBinDir());
    std::string pattern = (std::filesystem::temp_directory_path() / "shardlake_pg_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return absl::InternalError("mkdtemp failed");
    dir_ = pattern;
    const passwd* pw = nullptr;
    if (::getuid() == 0) {
      // initdb refuses to run as root: the server runs as `postgres`.
      pw = ::getpwnam("postgres");
      if (pw == nullptr)
        return absl::FailedPreconditionError("running as root: no `postgres` user");
      if (::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return absl::InternalError(fmt::format("chown {} failed", dir_));
      }
      as_user_ = "runuser -u postgres -- ";
    }
    ::chmod(dir_.c_str(), 0700);
    {
      std::ofstream pwfile(dir_ + "/pwfile");
      pwfile << kPassword << "\n";
    }
    if (pw != nullptr && ::chown((dir_ + "/pwfile").c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError("chown pwfile failed");
    }
    RETURN_IF_ERROR(Shell(fmt::format(
        "timeout 120 {}{}/initdb -D {}/data -U postgres --auth-local=trust "
        "--auth-host=scram-sha-256 --pwfile={}/pwfile -E UTF8 --locale=C -N > {}/initdb.log 2>&1",
        as_user_, bin_, dir_, dir_, dir_)));
    port_ = FreePort();
    if (port_ == 0) return absl::InternalError("cannot get a free loopback port");
    RETURN_IF_ERROR(Shell(fmt::format(
        "timeout 120 {}{}/pg_ctl -D {}/data -l {}/server.log -o \"-p {} -k {} -c "
        "listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c "
        "full_page_writes=off -c max_connections=300\" -w -t 60 start > {}/pg_ctl.log 2>&1",
        as_user_, bin_, dir_, dir_, port_, dir_, dir_)));
    started_ = true;
    return absl::OkStatus();
  }

  // Stops the server (if started) and removes the temp dir. Idempotent.
  void Stop() {
    if (started_) {
      (void)Shell(
          fmt::format("timeout 60 {}{}/pg_ctl -D {}/data -m fast -w -t 30 stop > /dev/null 2>&1",
                      as_user_, bin_, dir_));
      started_ = false;
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }

  // The catalog URI of `database`, as the superuser with `password`, plus
  // `query` ("?key=value...").
  std::string UriFor(const std::string& database, const std::string& password = kPassword,
                     const std::string& query = "") const {
    return fmt::format("postgresql://postgres:{}@127.0.0.1:{}/{}{}", password, port_, database,
                       query);
  }

  // Runs one statement as the superuser in `database`.
  absl::StatusOr<pg::Result> Sql(const std::string& sql, const std::string& database = "postgres") {
    ASSIGN_OR_RETURN(Uri uri, ParseUri(UriFor(database)));
    ASSIGN_OR_RETURN(pg::ConnectOptions options, pg::ConnectOptionsFromUri(uri));
    ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pg::Connection::Open(options, nullptr));
    return conn->Exec("test", sql);
  }

  // Creates a new, empty database "<prefix>_<pid>_<n>" and returns its name.
  absl::StatusOr<std::string> FreshDatabase(std::string_view prefix = "t") {
    std::string name = fmt::format("{}_{}_{}", prefix, ::getpid(), ++databases_);
    RETURN_IF_ERROR(Sql("CREATE DATABASE " + name).status());
    return name;
  }

  // The postmaster's pid (first line of data/postmaster.pid), or -1.
  pid_t postmaster_pid() const {
    if (!started_) return -1;
    std::ifstream in(dir_ + "/data/postmaster.pid");
    long pid = -1;
    if (!(in >> pid)) return -1;
    return static_cast<pid_t>(pid);
  }

  bool started() const { return started_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

 private:
  absl::Status Shell(const std::string& command) {
    int rc = std::system(command.c_str());
    if (rc != 0) {
      std::string log;
      for (const char* name : {"initdb.log", "pg_ctl.log", "server.log"}) {
        std::ifstream in(dir_ + "/" + name);
        std::string line;
        while (std::getline(in, line)) log += line + "\n";
      }
      return absl::InternalError(fmt::format("`{}` failed ({}):\n{}", command, rc, log));
    }
    return absl::OkStatus();
  }

  std::string bin_;
  std::string dir_;
  std::string as_user_;
  int port_ = 0;
  int databases_ = 0;
  bool started_ = false;
};

}  // namespace shardlake
