// LocalCluster: runs a `shardlake server` and any number of `shardlake worker`
// processes on 127.0.0.1 over a bootstrapped data dir, for end-to-end tests,
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
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"

namespace shardlake {

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
    for (auto& [name, pid] : workers_) Stop(pid);
    if (server_pid_ > 0) Stop(server_pid_);
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
    server_pid_ = Spawn(args, options_.log_dir + "/server.log");
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(port_file);
      int port = 0;
      if (in >> port && port > 0) {
        port_ = port;
        return absl::OkStatus();
      }
      int status = 0;
      if (waitpid(server_pid_, &status, WNOHANG) == server_pid_) {
        server_pid_ = -1;
        return absl::InternalError(
            fmt::format("shardlake server exited at start; log:\n{}", ServerLog()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return absl::DeadlineExceededError(
        fmt::format("shardlake server did not write its port in time; log:\n{}", ServerLog()));
  }

  // Starts one worker process named `name`; returns its pid.
  pid_t StartWorker(const std::string& name) {
    std::vector<std::string> args = GlobalArgs(options_.worker_threads);
    args.insert(args.end(), {"worker", "--server", address(), "--tls-roots", ca_file(),
                             "--password", options_.worker_password, "--name", name, "--cache-dir",
                             options_.log_dir + "/cache-" + name});
    pid_t pid = Spawn(args, options_.log_dir + "/" + name + ".log");
    workers_[name] = pid;
    return pid;
  }

  // Stops a worker: SIGTERM (clean) or any other signal (SIGKILL: a crash).
  void SignalWorker(const std::string& name, int signal) {
    auto it = workers_.find(name);
    if (it == workers_.end()) return;
    ::kill(it->second, signal);
    if (signal == SIGKILL || signal == SIGTERM) {
      Stop(it->second);
      workers_.erase(it);
    }
  }

  std::string address() const { return fmt::format("127.0.0.1:{}", port_); }
  std::string ca_file() const { return options_.data_dir + "/tls/ca.crt"; }
  std::string ServerLog() const { return ReadFile(options_.log_dir + "/server.log"); }
  std::string WorkerLog(const std::string& name) const {
    return ReadFile(options_.log_dir + "/" + name + ".log");
  }

 private:
  std::vector<std::string> GlobalArgs(int threads) const {
    std::vector<std::string> args = {options_.binary, "--data-dir", options_.data_dir};
    if (threads > 0) args.insert(args.end(), {"--threads", std::to_string(threads)});
    return args;
  }

  static pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    return pid;
  }

  // SIGTERM, up to 10 s for a clean exit, then SIGKILL.
  static void Stop(pid_t pid) {
    if (pid <= 0) return;
    ::kill(pid, SIGCONT);  // a stopped process cannot handle SIGTERM
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      pid_t done = waitpid(pid, &status, WNOHANG);
      if (done == pid || done < 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  Options options_;
  pid_t server_pid_ = -1;
  int port_ = 0;
  std::map<std::string, pid_t> workers_;
};

}  // namespace shardlake
