// Test and benchmark harness: a one-node Ceph cluster with a RADOS Gateway,
// the S3 server the s3:// backend is tested against. Start() makes a temp dir
// (/tmp/shardlake_ceph_XXXXXX) and runs, all on 127.0.0.1:
//   - ceph-mon on a free port (msgr v1 only; auth none; pools of size 1),
//   - one ceph-osd with the `memstore` object store (data in RAM, capped by
//     Options::memstore_bytes; no disk device),
//   - radosgw with the beast frontend on a free port (`rgw dns name =
//     localhost`, so http://<bucket>.localhost:<port> works for virtual-host
//     addressing), and with Options::tls_certificate / tls_private_key also
//     serving https on a second free port (beast's ssl_endpoint),
// then creates an S3 user with known keys (kAccessKey / kSecretKey). Every step
// is bounded in time (each start attempt by Options::start_timeout; a failed
// attempt is retried from scratch, up to 3 attempts). Stop() (also
// run by the destructor) kills the daemons and removes the temp dir; the
// daemons also die with the process that started them (PR_SET_PDEATHSIG).
//
// Needs the Debian packages ceph-mon, ceph-osd, radosgw and ceph-common
// (MissingBinaries() says which programs are absent). For tests and benchmarks
// only; header-only, no gtest.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "storage/s3_sigv4.h"

namespace shardlake {

class CephTestServer {
 public:
  static constexpr const char* kAccessKey = "SHARDLAKETESTACCESSKEY";
  static constexpr const char* kSecretKey = "shardlake-test-secret-0123456789abcdef";

  struct Options {
    int64_t memstore_bytes = int64_t{1} << 30;
    std::chrono::seconds start_timeout{90};
    // Deleted objects' data is freed by RGW's garbage collector, by default
    // hours later; eager_gc runs it every 2 s, so that a benchmark that keeps
    // writing and deleting does not fill the memstore. (It slows deletes
    // down, so tests leave it off.)
    bool eager_gc = false;
    // PEM files of a server certificate for 127.0.0.1 and its key: when both
    // are set, the gateway serves https on https_endpoint() as well.
    std::string tls_certificate;
    std::string tls_private_key;
  };

  // The programs the cluster needs that are not on PATH ("" when none is
  // missing), e.g. "ceph-mon radosgw".
  static std::string MissingBinaries() {
    std::string missing;
    for (const char* program :
         {"ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph"}) {
      std::string command = fmt::format("command -v {} >/dev/null 2>&1", program);
      if (std::system(command.c_str()) != 0)
        missing += (missing.empty() ? "" : " ") + std::string(program);
    }
    return missing;
  }

  CephTestServer() = default;
  explicit CephTestServer(Options options) : options_(options) {}
  ~CephTestServer() { Stop(); }
  CephTestServer(const CephTestServer&) = delete;
  CephTestServer& operator=(const CephTestServer&) = delete;

  // Creates and starts the cluster and the gateway, and the S3 user. On error
  // everything started is stopped, and the message includes the daemons' logs.
  // Further attempts (new dir, new ports) cover a port taken by another
  // process between choosing it and binding it, and a daemon that died at
  // start on a loaded machine (seen once in a while under `ctest -j2`, cause
  // not found: a monitor that got fsid 0).
  absl::Status Start() {
    absl::Status status;
    std::string logs;
    for (int attempt = 0; attempt < 3; ++attempt) {
      status = StartSteps();
      if (status.ok()) return status;
      logs = Logs();
      Stop();
    }
    return absl::Status(status.code(), fmt::format("starting Ceph RGW failed: {}\n{}",
                                                   std::string(status.message()), logs));
  }

  // Kills the daemons (the data is in memory: nothing to flush) and removes the
  // temp dir. Idempotent.
  void Stop() {
    for (auto it = pids_.rbegin(); it != pids_.rend(); ++it) {
      ::kill(*it, SIGKILL);
      ::waitpid(*it, nullptr, 0);
    }
    pids_.clear();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
      dir_.clear();
    }
  }

  // "http://127.0.0.1:<port>".
  std::string endpoint() const { return fmt::format("http://127.0.0.1:{}", rgw_port_); }
  // "https://127.0.0.1:<port>" (with the TLS options; "" without).
  std::string https_endpoint() const {
    return tls_port_ == 0 ? "" : fmt::format("https://127.0.0.1:{}", tls_port_);
  }
  int rgw_port() const { return rgw_port_; }
  // The running daemons (monitor, OSD, gateway), e.g. to read their CPU time.
  const std::vector<pid_t>& pids() const { return pids_; }
  const std::string& dir() const { return dir_; }

  static s3::Credentials credentials() { return s3::Credentials{kAccessKey, kSecretKey, ""}; }

  // "s3://<bucket>/<prefix>?endpoint=<endpoint>&region=us-east-1<extra>";
  // `extra` is appended as is ("&max-keys=2").
  std::string UriFor(const std::string& bucket, const std::string& prefix,
                     const std::string& extra = "") const {
    return fmt::format("s3://{}/{}?endpoint={}&region=us-east-1{}", bucket, prefix, endpoint(),
                       extra);
  }

 private:
  static absl::StatusOr<int> FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
              ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    ::close(fd);
    if (!ok) return absl::InternalError("cannot bind a loopback port");
    return static_cast<int>(ntohs(addr.sin_port));
  }

  // Seconds left before the start deadline (at least 1).
  int SecondsLeft() const {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline_ -
                                                                 std::chrono::steady_clock::now());
    return std::max<int>(1, static_cast<int>(left.count()));
  }

  // Runs `command` in the temp dir under `timeout`, output to <dir>/<log>.
  absl::Status Shell(const std::string& command, const std::string& log) const {
    std::string full = fmt::format("cd '{}' && timeout -k 2 {} {} >>'{}/{}' 2>&1", dir_,
                                   std::min(SecondsLeft(), 60), command, dir_, log);
    int rc = std::system(full.c_str());
    if (rc != 0) {
      return absl::InternalError(
          fmt::format("`{}` failed (status {}); see {}/{}", command, rc, dir_, log));
    }
    return absl::OkStatus();
  }

  // Starts a daemon in the foreground (-f) as a child of this process.
  absl::Status Spawn(std::vector<std::string> args, const std::string& log) {
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string log_path = dir_ + "/" + log;
    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) return absl::InternalError(fmt::format("cannot create {}", log_path));
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(log_fd);
      return absl::InternalError("fork failed");
    }
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(log_fd, STDOUT_FILENO);
      ::dup2(log_fd, STDERR_FILENO);
      if (::chdir(dir_.c_str()) != 0) ::_exit(126);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(log_fd);
    pids_.push_back(pid);
    return absl::OkStatus();
  }

  // OK once every spawned daemon is still running.
  absl::Status CheckAlive() {
    for (pid_t pid : pids_) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pids_.erase(std::find(pids_.begin(), pids_.end(), pid));
        return absl::InternalError(
            fmt::format("a Ceph daemon (pid {}) exited (status {})", pid, status));
      }
    }
    return absl::OkStatus();
  }

  // True when the gateway answers an HTTP request on its port.
  bool GatewayAnswers() const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(rgw_port_));
    bool answered = false;
    timeval timeout{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      const char request[] = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
      char reply[16] = {0};
      answered = ::send(fd, request, sizeof(request) - 1, MSG_NOSIGNAL) > 0 &&
                 ::recv(fd, reply, sizeof(reply) - 1, 0) > 0 &&
                 std::string_view(reply).starts_with("HTTP/1.1 ");
    }
    ::close(fd);
    return answered;
  }

  // True when something accepts TCP connections on loopback `port`.
  static bool Accepts(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool accepted = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return accepted;
  }

  absl::Status StartSteps() {
    deadline_ = std::chrono::steady_clock::now() + options_.start_timeout;
    std::string pattern =
        (std::filesystem::temp_directory_path() / "shardlake_ceph_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return absl::InternalError("mkdtemp failed");
    dir_ = pattern;
    for (const char* sub : {"run", "mon", "osd/ceph-0", "rgw"}) {
      std::filesystem::create_directories(dir_ + "/" + sub);
    }
    ASSIGN_OR_RETURN(int mon_port, FreePort());
    ASSIGN_OR_RETURN(rgw_port_, FreePort());
    std::string frontend = fmt::format("beast endpoint=127.0.0.1:{}", rgw_port_);
    tls_port_ = 0;
    if (!options_.tls_certificate.empty() && !options_.tls_private_key.empty()) {
      ASSIGN_OR_RETURN(tls_port_, FreePort());
      if (tls_port_ == rgw_port_) {
        ASSIGN_OR_RETURN(tls_port_, FreePort());
      }
      frontend += fmt::format(" ssl_endpoint=127.0.0.1:{} ssl_certificate={} ssl_private_key={}",
                              tls_port_, options_.tls_certificate, options_.tls_private_key);
    }
    const std::string fsid = NewUuid();
    {
      std::ofstream conf(dir_ + "/ceph.conf");
      conf << fmt::format(
          "[global]\n"
          "fsid = {fsid}\n"
          "mon host = v1:127.0.0.1:{mon_port}\n"
          "mon initial members = a\n"
          "public addr = 127.0.0.1\n"
          "ms bind msgr2 = false\n"
          "auth cluster required = none\n"
          "auth service required = none\n"
          "auth client required = none\n"
          "keyring = /dev/null\n"
          "run dir = {dir}/run\n"
          "admin socket = {dir}/run/$name.asok\n"
          "log file = {dir}/$name.log\n"
          "pid file = {dir}/run/$name.pid\n"
          "mon data = {dir}/mon/$cluster-$id\n"
          "osd data = {dir}/osd/$cluster-$id\n"
          "osd objectstore = memstore\n"
          "memstore device bytes = {memstore_bytes}\n"
          "osd pool default size = 1\n"
          "osd pool default min size = 1\n"
          "mon allow pool size one = true\n"
          "osd crush chooseleaf type = 0\n"
          "osd pool default pg num = 8\n"
          "osd pool default pgp num = 8\n"
          "osd pool default pg autoscale mode = off\n"
          "mon max pg per osd = 1000\n"
          "mon warn on pool no redundancy = false\n"
          "mon data avail warn = 1\n"
          "mon data avail crit = 0\n"
          "[client.rgw.test]\n"
          "rgw frontends = {frontend}\n"
          "rgw data = {dir}/rgw\n"
          "rgw dns name = localhost\n"
          "rgw thread pool size = 64\n"
          "{gc}",
          fmt::arg("fsid", fsid), fmt::arg("mon_port", mon_port), fmt::arg("dir", dir_),
          fmt::arg("memstore_bytes", options_.memstore_bytes), fmt::arg("frontend", frontend),
          fmt::arg("gc", options_.eager_gc ? "rgw gc obj min wait = 1\n"
                                             "rgw gc processor period = 2\n"
                                           : ""));
    }
    RETURN_IF_ERROR(Shell(fmt::format("monmaptool --create --addv a '[v1:127.0.0.1:{}]' --fsid {} "
                                      "monmap",
                                      mon_port, fsid),
                          "setup.log"));
    RETURN_IF_ERROR(Shell("ceph-mon -c ceph.conf --mkfs -i a --monmap monmap", "setup.log"));
    RETURN_IF_ERROR(Spawn({"ceph-mon", "-c", dir_ + "/ceph.conf", "-i", "a", "-f"}, "mon.out"));
    const std::string osd_uuid = NewUuid();
    RETURN_IF_ERROR(Shell(fmt::format("ceph -c ceph.conf --connect-timeout {} osd new {}",
                                      std::min(SecondsLeft(), 30), osd_uuid),
                          "setup.log"));
    RETURN_IF_ERROR(Shell(fmt::format("ceph-osd -c ceph.conf -i 0 --mkfs --osd-uuid {}", osd_uuid),
                          "setup.log"));
    RETURN_IF_ERROR(Spawn({"ceph-osd", "-c", dir_ + "/ceph.conf", "-i", "0", "-f"}, "osd.out"));
    RETURN_IF_ERROR(
        Spawn({"radosgw", "-c", dir_ + "/ceph.conf", "-n", "client.rgw.test", "-f"}, "rgw.out"));
    while (!GatewayAnswers() || (tls_port_ != 0 && !Accepts(tls_port_))) {
      RETURN_IF_ERROR(CheckAlive());
      if (std::chrono::steady_clock::now() > deadline_) {
        return absl::DeadlineExceededError(
            fmt::format("radosgw did not answer on port {} within {} s", rgw_port_,
                        options_.start_timeout.count()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    RETURN_IF_ERROR(Shell(fmt::format("radosgw-admin -c ceph.conf user create --uid=shardlake "
                                      "--display-name=shardlake --access-key={} --secret-key={}",
                                      kAccessKey, kSecretKey),
                          "user.log"));
    return CheckAlive();
  }

  // The tail of each log, for error messages.
  std::string Logs() const {
    if (dir_.empty()) return "";
    std::string out;
    for (const char* name : {"setup.log", "mon.out", "mon.a.log", "osd.out", "osd.0.log", "rgw.out",
                             "client.rgw.test.log", "user.log"}) {
      std::ifstream in(dir_ + "/" + name);
      if (!in) continue;
      std::stringstream text;
      text << in.rdbuf();
      std::string content = text.str();
      if (content.size() > 2000) content = "..." + content.substr(content.size() - 2000);
      out += fmt::format("--- {}:\n{}\n", name, content);
    }
    return out;
  }

  Options options_;
  std::string dir_;
  int rgw_port_ = 0;
  int tls_port_ = 0;
  std::vector<pid_t> pids_;
  std::chrono::steady_clock::time_point deadline_;
};

}  // namespace shardlake
