// compact_bench (issue #3 asks for figures, no goal): merge 1,000 small files of one hour into a
// single `.2` file with the Compactor (lease, DuckDB merge sorted by time, store, atomic swap),
// side by side with plain DuckDB reading the same files and writing one
// sorted Parquet file (the work without the catalog) in the same run.
#include <CLI/CLI.hpp>
#include <filesystem>

#include "bench_util.h"
#include "common/time_util.h"
#include "compact/compactor.h"
#include "fmt/format.h"
#include "query/engine.h"
#include "storage/object_store.h"

namespace {

using namespace shardlake;         // NOLINT: a benchmark program
using namespace shardlake::bench;  // NOLINT
namespace fs = std::filesystem;
constexpr std::string_view kName = "compact_bench";

}  // namespace

int main(int argc, char** argv) {
  int files = 1000;
  int rows_per_file = 200;
  CommonOptions common;
  CLI::App app{"compact_bench: merge many small files of one hour into one .2 file"};
  app.add_option("--files", files, "small files in the hour")->check(CLI::Range(2, 20'000));
  app.add_option("--rows-per-file", rows_per_file, "rows in each small file")
      ->check(CLI::Range(1, 100'000));
  AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);

  TempDir work(kName, common.keep);
  auto index = OpenIndex("sqlite://" + (work.path() / "catalog.sqlite").string());
  auto store = OpenObjectStore("file://" + (work.path() / "lake").string());
  if (!index.ok() || !store.ok()) Die(kName, "cannot open the catalog or the store");
  EngineOptions options;
  options.staging_dir = (work.path() / "staging").string();
  auto engine = Engine::Open(std::move(*index), std::move(*store), options);
  if (!engine.ok()) Die(kName, std::string(engine.status().message()));
  CollectingSink sink;
  auto run = [&](const std::string& sql) {
    auto outcome = (*engine)->Execute(sql, sink);
    if (!outcome.ok())
      Die(kName, fmt::format("{}: {}", sql, std::string(outcome.status().message())));
  };
  run("CREATE TABLE m.cpu (time TIMESTAMP_NS, host VARCHAR, usage DOUBLE)");
  std::fprintf(stderr, "%s: writing %d files of %d rows into one hour...\n", kName.data(), files,
               rows_per_file);
  for (int f = 0; f < files; ++f) {
    // Interleaved times, so the merge really has to sort.
    run(
        fmt::format("INSERT INTO m.cpu SELECT TIMESTAMP_NS '2026-01-01 05:00:00' + INTERVAL "
                    "((i * {} + {}) * 1000) MICROSECOND, 'host-' || (i % 50), i * 0.5 FROM "
                    "range({}) r(i)",
                    files, f, rows_per_file));
  }
  auto entries = (*engine)->index().Query("m", "cpu", QueryOptions{});
  if (!entries.ok() || static_cast<int>(entries->size()) != files) {
    Die(kName, "the small files were not all registered");
  }
  run("SELECT count(*), sum(usage) FROM m.cpu");
  auto before = sink.rows();
  int64_t total_rows = static_cast<int64_t>(files) * rows_per_file;

  // Baseline: DuckDB alone reads the same files and writes one sorted file.
  std::string list;
  for (const auto& entry : *entries) {
    auto local = (*engine)->store().LocalPath("m/cpu/" + entry.path);
    if (!list.empty()) list += ", ";
    list += "'" + *local + "'";
  }
  auto db = duck::Database::Open("");
  auto conn = duck::Connection::Open(**db);
  double baseline = SecondsOf([&] {
    absl::Status s = (*conn)->Execute(fmt::format(
        "COPY (SELECT * FROM read_parquet([{}], hive_partitioning = false) ORDER BY time) TO "
        "'{}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)",
        list, (work.path() / "baseline.parquet").string()));
    if (!s.ok()) Die(kName, std::string(s.message()));
  });

  Compactor compactor((*engine)->index(), (*engine)->store(), **conn,
                      (work.path() / "staging").string());
  CompactionOptions compaction;
  compaction.ignore_timeouts = true;
  CompactionStats stats;
  double merged = SecondsOf([&] {
    auto result = compactor.RunOnce(compaction, NowUnixNanos());
    if (!result.ok()) Die(kName, std::string(result.status().message()));
    stats = *result;
  });
  auto after = (*engine)->index().Query("m", "cpu", QueryOptions{});
  if (!after.ok() || after->size() != 1 || IterationOfPath((*after)[0].path) != 2) {
    Die(kName, "compaction did not leave exactly one .2 file");
  }
  run("SELECT count(*), sum(usage) FROM m.cpu");
  if (sink.rows() != before) Die(kName, "the merged table answers differently");

  Report report;
  report.Add(fmt::format("compact_bench: {} files x {} rows ({} rows) in one hour -> one .2 file",
                         Grouped(files), Grouped(rows_per_file), Grouped(total_rows)));
  report.Add(fmt::format("{:<28}{:>16}{:>16}{:>16}", "", "baseline DuckDB", "shardlake",
                         "shardlake/base"));
  report.Add(fmt::format("{:<28}{:>16.2f}{:>16.2f}{:>16.2f}", "time to one file (s)", baseline,
                         merged, merged / baseline));
  report.Add(fmt::format("{:<28}{:>16}{:>16}{:>16.2f}", "rows/s",
                         Grouped(static_cast<int64_t>(total_rows / baseline)),
                         Grouped(static_cast<int64_t>(total_rows / merged)), baseline / merged));
  report.Add(fmt::format("merged {} plan(s), {} files, {} rows; answers identical before and after",
                         stats.plans, stats.files_merged, Grouped(stats.rows)));
  report.Publish(kName, common.results_dir);
  return 0;
}
