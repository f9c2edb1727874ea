// auth_bench: the cost of a password check and of generating the TLS files.
//
// Hashes one password with each scrypt cost N in --costs (r=8, p=1), then
// verifies it --runs times, and reports the median milliseconds per verify
// (what one login costs the server) and the throughput a password guesser
// gets per core. Also times UsersFile::Authenticate for a known user with a
// wrong password and for an unknown user (which must cost the same), and
// GenerateTlsFiles. Wall and CPU time are both reported; CPU time is what a
// guesser pays and does not grow when other processes load the machine.
// Goal: the default cost (N=2^15) verifies in 20 to 500 ms of CPU on this
// machine: slow enough to make guessing expensive, fast enough for a login.
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench_util.h"
#include "cluster/password_hash.h"
#include "cluster/tls_files.h"
#include "cluster/users_file.h"
#include "fmt/format.h"

namespace {

using shardlake::bench::Die;
using shardlake::bench::Median;
constexpr const char* kName = "auth_bench";

// CPU seconds this thread has used (unaffected by other processes on a busy
// machine, unlike wall time).
double ThreadCpuSeconds() {
  timespec now = {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

struct Cost {
  double wall_ms = 0;  // median
  double cpu_ms = 0;   // median
};

// Median wall and CPU milliseconds of `runs` calls of `body`.
Cost MedianCost(int runs, const std::function<void()>& body) {
  std::vector<double> wall;
  std::vector<double> cpu;
  for (int i = 0; i < runs; ++i) {
    double cpu_start = ThreadCpuSeconds();
    wall.push_back(shardlake::bench::SecondsOf(body));
    cpu.push_back(ThreadCpuSeconds() - cpu_start);
  }
  return Cost{Median(wall) * 1e3, Median(cpu) * 1e3};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> log2_costs = {14, 15, 16};
  int runs = 7;
  shardlake::bench::CommonOptions common;
  CLI::App app{"auth_bench: cost of scrypt password checks and TLS file generation"};
  app.add_option("--costs", log2_costs, "log2 of the scrypt costs N to measure")
      ->check(CLI::Range(10, 20));
  app.add_option("--runs", runs, "timed runs of each measurement (median is reported)")
      ->check(CLI::Range(1, 1000));
  shardlake::bench::AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);

  shardlake::bench::Report report;
  const shardlake::ScryptParams defaults;
  double default_ms = -1;
  for (int log2_n : log2_costs) {
    shardlake::ScryptParams params;
    params.n = uint64_t{1} << log2_n;
    auto encoded = shardlake::HashPassword("correct horse", params);
    if (!encoded.ok()) Die(kName, encoded.status().ToString());
    Cost cost = MedianCost(runs, [&] {
      auto verified = shardlake::VerifyPassword("correct horse", *encoded);
      if (!verified.ok() || !*verified) Die(kName, "verify failed");
    });
    report.Add(
        fmt::format("scrypt N=2^{} r={} p={} ({} MiB): {:.1f} ms per verify ({:.1f} ms "
                    "CPU), {:.1f} guesses/s per core",
                    log2_n, params.r, params.p, 128 * params.n * params.r >> 20, cost.wall_ms,
                    cost.cpu_ms, 1e3 / cost.cpu_ms));
    if (params.n == defaults.n) default_ms = cost.cpu_ms;
  }

  shardlake::UsersFile users;
  if (auto status = users.AddUser("scott", shardlake::UserRole::kClient, "tiger"); !status.ok()) {
    Die(kName, status.ToString());
  }
  Cost wrong = MedianCost(runs, [&] { (void)users.Authenticate("scott", "lion"); });
  Cost unknown = MedianCost(runs, [&] { (void)users.Authenticate("nobody", "lion"); });
  report.Add(
      fmt::format("Authenticate (default cost): wrong password {:.1f} ms ({:.1f} ms CPU), "
                  "unknown user {:.1f} ms ({:.1f} ms CPU)",
                  wrong.wall_ms, wrong.cpu_ms, unknown.wall_ms, unknown.cpu_ms));

  shardlake::bench::TempDir work(kName, common.keep);
  int generation = 0;
  Cost tls = MedianCost(std::min(runs, 5), [&] {
    auto status = shardlake::GenerateTlsFiles((work.path() / std::to_string(generation++)).string(),
                                              shardlake::TlsGenerationOptions{"db1.example.com"});
    if (!status.ok()) Die(kName, status.ToString());
  });
  report.Add(
      fmt::format("GenerateTlsFiles (2 P-256 keys, 2 certificates, 4 fsync'd files): "
                  "{:.1f} ms ({:.1f} ms CPU)",
                  tls.wall_ms, tls.cpu_ms));

  if (default_ms < 0) {
    report.Add("(the default cost N=2^15 was not among --costs; no goal checked)");
  } else {
    report.Goal("default password verify between 20 and 500 ms CPU",
                fmt::format("{:.1f} ms", default_ms), default_ms >= 20 && default_ms <= 500);
  }
  report.Publish(kName, common.results_dir);
  return 0;
}
