#include "bench_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>

#include "CLI/CLI.hpp"
#include "common/ids.h"
#include "fmt/format.h"

namespace shardlake::bench {

namespace fs = std::filesystem;

void Die(std::string_view bench, const std::string& message) {
  std::fprintf(stderr, "%s: ERROR: %s\n", std::string(bench).c_str(), message.c_str());
  std::exit(1);
}

std::string Grouped(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

TempDir::TempDir(std::string_view bench, bool keep) : bench_(bench), keep_(keep) {
  std::string prefix = "shardlake-" + bench_;
  std::replace(prefix.begin(), prefix.end(), '_', '-');
  path_ = fs::temp_directory_path() / (prefix + "-" + NewUuid());
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  if (keep_) {
    std::fprintf(stderr, "%s: kept %s\n", bench_.c_str(), path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double SecondsOf(const std::function<void()>& body) {
  auto start = Clock::now();
  body();
  return SecondsSince(start);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Min(const std::vector<double>& values) {
  return *std::min_element(values.begin(), values.end());
}

void AddCommonOptions(CLI::App& app, std::string_view bench, CommonOptions* options) {
  app.add_option("--results-dir", options->results_dir,
                 fmt::format("where to write {}.txt", bench));
  app.add_flag("--keep", options->keep, "keep the temporary work directory");
}

void Report::Add(const std::string& line) { text_ += line + "\n"; }

void Report::Goal(const std::string& what, const std::string& measured, bool pass) {
  Add(fmt::format("GOAL {}: {} {}", what, measured, pass ? "PASS" : "MISS"));
}

void Report::Publish(std::string_view bench, const std::string& results_dir) const {
  std::printf("\n%s", text_.c_str());
  std::error_code ec;
  fs::create_directories(results_dir, ec);
  std::ofstream out(fs::path(results_dir) / fmt::format("{}.txt", bench));
  out << text_;
  if (!out) Die(bench, fmt::format("cannot write {}/{}.txt", results_dir, bench));
}

namespace {

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

ChildRun RunChild(std::string_view bench, const std::vector<std::string>& argv,
                  const std::filesystem::path& output_file, int timeout_seconds) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::string out_path = output_file.string();

  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) Die(bench, fmt::format("fork failed: {}", std::strerror(errno)));
  if (pid == 0) {
    // Only async-signal-safe calls until execv.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(args[0], args.data());
    _exit(127);
  }

  ChildRun run;
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mutex);
    if (!done_cv.wait_for(lock, std::chrono::seconds(timeout_seconds), [&] { return done; })) {
      run.timed_out = true;
      kill(pid, SIGKILL);
    }
  });
  int status = 0;
  struct rusage usage {};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) Die(bench, fmt::format("wait4 failed: {}", std::strerror(errno)));
  }
  auto end = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
  }
  done_cv.notify_all();
  watchdog.join();

  run.seconds = std::chrono::duration<double>(end - start).count();
  run.max_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux: KiB
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.output = ReadText(output_file);
  return run;
}

void CheckChild(std::string_view bench, const ChildRun& run, const std::string& what) {
  if (run.timed_out)
    Die(bench, fmt::format("{} timed out and was killed; output:\n{}", what, run.output));
  if (run.exit_code != 0) {
    Die(bench, fmt::format("{} failed (exit {}); output:\n{}", what, run.exit_code, run.output));
  }
}

}  // namespace shardlake::bench
