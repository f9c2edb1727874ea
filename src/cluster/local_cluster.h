// ChildProcess and LocalCluster: LocalCluster runs a `shardlake server` and any number of
// `shardlake worker` processes on 127.0.0.1 over a bootstrapped data dir, for end-to-end tests,
// benchmarks and the demo's checks. The server listens on a port the OS
// picks (written to a port file); every wait is bounded in time; the
// destructor stops every process (SIGTERM, then SIGKILL after a bounded wait)
// and children die with the parent (PR_SET_PDEATHSIG). For tests only.
//
// Thread-safety: one thread at a time.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"

namespace shardlake {

// One child process (argv[0] is the executable, not searched in PATH) with its
// stdout and stderr appended to `log`. It dies with the parent
// (PR_SET_PDEATHSIG); the destructor stops it (Stop) if it still runs.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::string log) : log_(std::move(log)) {
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~ChildProcess() { Stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  void Signal(int signal) {
    if (exit_code_ < 0) ::kill(pid_, signal);
  }

  // The exit code (128 + signal when killed by one), or -1 when the process
  // still runs at the end of `limit`.
  int Wait(std::chrono::steady_clock::duration limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (exit_code_ < 0) {
      int status = 0;
      pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else if (done < 0 || std::chrono::steady_clock::now() >= deadline) {
        break;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    return exit_code_;
  }

  // SIGTERM (after SIGCONT: a stopped process cannot handle it), up to
  // `grace` for a clean exit, then SIGKILL. Returns the exit code.
  int Stop(std::chrono::steady_clock::duration grace = std::chrono::seconds(10)) {
    if (pid_ <= 0 || exit_code_ >= 0) return exit_code_;
    Signal(SIGCONT);
    Signal(SIGTERM);
    if (Wait(grace) >= 0) return exit_code_;
    Signal(SIGKILL);
    return Wait(std::chrono::seconds(10));
  }

  std::string Log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

class LocalCluster {
 public:
  struct Options {
    std::string binary;    // the shardlake executable
    std::string data_dir;  // made by `shardlake bootstrap`
    std::string worker_password;
    std::string log_dir;     // server.log, worker-N.log; default: <data_dir>/../cluster-logs
    int server_threads = 0;  // 0: DuckDB's default
    int worker_threads = 1;
    std::vector<std::string> server_args;  // extra arguments after `server`
  };

  explicit LocalCluster(Options options) : options_(std::move(options)) {
    if (options_.log_dir.empty()) {
      options_.log_dir =
          (std::filesystem::path(options_.data_dir).parent_path() / "cluster-logs").string();
    }
    std::filesystem::create_directories(options_.log_dir);
  }
  ~LocalCluster() {
    workers_.clear();
    server_.reset();
  }
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // Starts the server and waits (up to `timeout`) until it wrote its port.
  absl::Status StartServer(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::string port_file = options_.log_dir + "/server.port";
    std::filesystem::remove(port_file);
    std::vector<std::string> args = GlobalArgs(options_.server_threads);
    args.insert(args.end(), {"server", "--listen", "127.0.0.1:0", "--port-file", port_file});
    args.insert(args.end(), options_.server_args.begin(), options_.server_args.end());
    server_ = std::make_unique<ChildProcess>(args, options_.log_dir + "/server.log");
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(port_file);
      int port = 0;
      if (in >> port && port > 0) {
        port_ = port;
        return absl::OkStatus();
      }
      if (server_->Wait(std::chrono::milliseconds(50)) >= 0) {
        return absl::InternalError(
            fmt::format("shardlake server exited at start; log:\n{}", ServerLog()));
      }
    }
    return absl::DeadlineExceededError(
        fmt::format("shardlake server did not write its port in time; log:\n{}", ServerLog()));
  }

  // Starts one worker process named `name` (with the cluster's worker
  // password unless `password` is given).
  ChildProcess& StartWorker(const std::string& name, const std::string& password = "") {
    std::vector<std::string> args = GlobalArgs(options_.worker_threads);
    args.insert(args.end(), {"worker", "--server", address(), "--tls-roots", ca_file(),
                             "--password", password.empty() ? options_.worker_password : password,
                             "--name", name, "--cache-dir", options_.log_dir + "/cache-" + name});
    auto& worker = workers_[name];
    worker.reset();  // a worker of the same name is stopped first
    worker = std::make_unique<ChildProcess>(args, options_.log_dir + "/" + name + ".log");
    return *worker;
  }

  // Stops and forgets a worker.
  void StopWorker(const std::string& name) { workers_.erase(name); }

  // SIGTERM to the server; its exit code after up to `grace` (then SIGKILL).
  int StopServer(std::chrono::steady_clock::duration grace = std::chrono::seconds(20)) {
    return server_ != nullptr ? server_->Stop(grace) : -1;
  }

  std::string address() const { return fmt::format("127.0.0.1:{}", port_); }
  std::string ca_file() const { return options_.data_dir + "/tls/ca.crt"; }
  std::string ServerLog() const { return server_ != nullptr ? server_->Log() : ""; }

 private:
  std::vector<std::string> GlobalArgs(int threads) const {
    std::vector<std::string> args = {options_.binary, "--data-dir", options_.data_dir};
    if (threads > 0) args.insert(args.end(), {"--threads", std::to_string(threads)});
    return args;
  }

  Options options_;
  std::unique_ptr<ChildProcess> server_;
  int port_ = 0;
  std::map<std::string, std::unique_ptr<ChildProcess>> workers_;
};

}  // namespace shardlake
