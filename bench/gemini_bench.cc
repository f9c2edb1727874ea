// gemini_bench (issue #7 asks for figures, no goal): statements per second
// the differential tester sustains and rows it validates per minute, in
// mixed mode, for three pairs run one after another in this process:
//   duckdb: vs duckdb:     the tester's own ceiling (both sides plain DuckDB)
//   embedded: vs duckdb:   the in-process shardlake engine under test
//   embedded: load only    write throughput without an oracle
//   shardlake:// vs duckdb: a server and 2 worker processes on loopback
//                           (bootstrapped at TPC-H SF 0.01), through the
//                           client protocol over TLS
// A run with any error fails the benchmark (the figures would be meaningless).
#include <CLI/CLI.hpp>

#include "bench_util.h"
#include "cluster/local_cluster.h"
#include "fmt/format.h"
#include "gemini/gemini.h"

namespace {

using namespace shardlake;         // NOLINT: a benchmark program
using namespace shardlake::bench;  // NOLINT
constexpr std::string_view kName = "gemini_bench";

struct Figures {
  double statements_per_second = 0;
  double writes_per_second = 0;
  double reads_per_second = 0;
  double rows_validated_per_minute = 0;
};

Figures Measure(const std::string& test, const std::string& oracle, gemini::Mode mode,
                double seconds, int concurrency) {
  gemini::Config config;
  config.test_cluster = test;
  config.oracle_cluster = oracle;
  config.mode = mode;
  config.duration_seconds = seconds;
  config.concurrency = concurrency;
  config.seed = 4242;
  config.schema_seed = 4242;
  config.threads = 1;
  config.partition_count = 1000;
  // The cluster URI carries a password: show only what follows the '@'.
  std::string shown = test.substr(test.find('@') == std::string::npos ? 0 : test.find('@') + 1);
  std::fprintf(stderr, "%s: %s vs %s, %.0f s...\n", kName.data(), shown.c_str(),
               oracle.empty() ? "(load only)" : oracle.c_str(), seconds);
  auto outcome = gemini::Run(config, nullptr);
  if (!outcome.ok()) Die(kName, std::string(outcome.status().message()));
  if (outcome->errors != 0) {
    Die(kName, fmt::format("{} vs {}: {} errors: {}", shown, oracle, outcome->errors,
                           outcome->result["result"]["errors"].dump(2).substr(0, 2000)));
  }
  const auto& r = outcome->result["result"];
  double elapsed = outcome->result["elapsed_seconds"].get<double>();
  Figures figures;
  double writes = r["write_ops"].get<double>();
  double reads = r["read_ops"].get<double>();
  figures.statements_per_second = (writes + reads) / elapsed;
  figures.writes_per_second = writes / elapsed;
  figures.reads_per_second = reads / elapsed;
  figures.rows_validated_per_minute = r["validated_rows"].get<double>() * 60 / elapsed;
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 30;
  int concurrency = 2;
  CommonOptions common;
  CLI::App app{"gemini_bench: statements/s and rows validated/min of shardlake gemini"};
  app.add_option("--seconds", seconds, "length of each run")->check(CLI::Range(1.0, 3600.0));
  app.add_option("--concurrency", concurrency, "gemini workers")->check(CLI::Range(1, 64));
  AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);

  Figures duck = Measure("duckdb:", "duckdb:", gemini::Mode::kMixed, seconds, concurrency);
  Figures embedded = Measure("embedded:", "duckdb:", gemini::Mode::kMixed, seconds, concurrency);
  Figures load = Measure("embedded:", "", gemini::Mode::kWrite, seconds, concurrency);

  const char* binary = std::getenv("SHARDLAKE_BIN");
  if (binary == nullptr) Die(kName, "SHARDLAKE_BIN is not set (bench/run.sh sets it)");
  TempDir work(kName, common.keep);
  std::string data = (work.path() / "data").string();
  auto made = RunChild(kName,
                       {binary, "--data-dir", data, "bootstrap", "--client-username=bench",
                        "--client-password=bench-pw", "--worker-password=worker-pw",
                        "--tpch-scale-factor=0.01", "--shard-count=2"},
                       work.path() / "bootstrap.log", 600);
  CheckChild(kName, made, "bootstrap");
  LocalCluster::Options cluster_options;
  cluster_options.binary = binary;
  cluster_options.data_dir = data;
  cluster_options.worker_password = "worker-pw";
  cluster_options.log_dir = (work.path() / "logs").string();
  cluster_options.server_args = {"--compact-interval", "0"};
  LocalCluster cluster(cluster_options);
  if (auto started = cluster.StartServer(); !started.ok()) Die(kName, started.ToString());
  cluster.StartWorker("worker-1");
  cluster.StartWorker("worker-2");
  std::string uri = fmt::format("shardlake://bench:bench-pw@{}?tls-roots={}", cluster.address(),
                                cluster.ca_file());
  Figures on_cluster = Measure(uri, "duckdb:", gemini::Mode::kMixed, seconds, concurrency);

  Report report;
  report.Add(fmt::format("gemini_bench: mixed mode, {} workers, {:.0f} s per run, seed 4242",
                         concurrency, seconds));
  report.Add(fmt::format("{:<26}{:>14}{:>12}{:>12}{:>20}", "test vs oracle", "statements/s",
                         "writes/s", "reads/s", "rows validated/min"));
  auto line = [&](const std::string& name, const Figures& f) {
    report.Add(fmt::format("{:<26}{:>14.1f}{:>12.1f}{:>12.1f}{:>20}", name, f.statements_per_second,
                           f.writes_per_second, f.reads_per_second,
                           Grouped(static_cast<int64_t>(f.rows_validated_per_minute))));
  };
  line("duckdb: vs duckdb:", duck);
  line("embedded: vs duckdb:", embedded);
  line("embedded: (load only)", load);
  line("shardlake:// vs duckdb:", on_cluster);
  report.Add("no errors in any run");
  report.Publish(kName, common.results_dir);
  return 0;
}
