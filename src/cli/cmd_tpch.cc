// `shardlake tpch gen`: TPC-H tables as plain Parquet files (no catalog).
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "cli/output.h"
#include "fmt/format.h"
#include "tpch/parquet_export.h"

namespace shardlake::cli {
namespace {

std::string Grouped(int64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// One status line, redrawn in place: rows, MB/s of Parquet written, ETA.
void DrawProgress(const tpch::ExportProgress& progress) {
  double fraction =
      progress.rows_total > 0 ? static_cast<double>(progress.rows_done) / progress.rows_total : 0;
  double mb_per_s = progress.seconds > 0 ? progress.bytes_written / 1e6 / progress.seconds : 0;
  std::string eta = "?";
  if (fraction > 0.01 && fraction < 1) {
    eta = fmt::format("{:.0f} s", progress.seconds * (1 - fraction) / fraction);
  } else if (fraction >= 1) {
    eta = "0 s";
  }
  std::fprintf(stderr, "\r\033[Ktpch gen: %s / ~%s rows (%.0f%%), %.1f MB/s, %.0f s, ETA %s",
               Grouped(progress.rows_done).c_str(), Grouped(progress.rows_total).c_str(),
               100 * std::min(1.0, fraction), mb_per_s, progress.seconds, eta.c_str());
  std::fflush(stderr);
}

}  // namespace

CLI::App* AddTpchCommand(CLI::App& app, TpchFlags& flags) {
  CLI::App* tpch = app.add_subcommand("tpch", "TPC-H sample data");
  tpch->require_subcommand(1);
  CLI::App* gen = tpch->add_subcommand(
      "gen", "write the TPC-H tables as plain Parquet files: DIR/<table>/part-NNNNN.parquet");
  gen->add_option("--sf", flags.scale_factor, "scale factor, e.g. 1 (~1 GB of CSV) or 0.01")
      ->required();
  gen->add_option("--out", flags.out_dir, "output directory")->required();
  gen->add_option("--seed", flags.seed, "random seed (default 0); same seed, same data");
  gen->add_option("--threads", flags.threads, "files written at once (default: all cores)");
  gen->add_option("--tables", flags.tables, "tables to write, comma separated (default: all)")
      ->delimiter(',');
  gen->add_option("--rows-per-file", flags.rows_per_file,
                  "split tables into files of about this many rows (default 2,000,000)");
  return tpch;
}

int RunTpch(const GlobalOptions& options, const TpchFlags& flags) {
  tpch::ExportOptions export_options;
  export_options.scale_factor = flags.scale_factor;
  export_options.seed = flags.seed;
  export_options.threads = flags.threads > 0 ? flags.threads : options.threads;
  export_options.out_dir = flags.out_dir;
  export_options.rows_per_file = flags.rows_per_file;
  for (const std::string& name : flags.tables) {
    auto table = tpch::ParseTable(name);
    if (!table.ok()) return ReportError(table.status());
    export_options.tables.push_back(*table);
  }
  bool terminal = isatty(STDERR_FILENO);
  if (terminal) export_options.progress = DrawProgress;
  auto stats = tpch::ExportParquet(export_options);
  if (terminal) std::fprintf(stderr, "\r\033[K");
  if (!stats.ok()) return ReportError(stats.status());
  for (const auto& table : stats->tables) {
    std::printf("%-9s %12s rows  %3lld file(s)  %10s\n",
                std::string(tpch::TableName(table.table)).c_str(), Grouped(table.rows).c_str(),
                static_cast<long long>(table.files), HumanBytes(table.bytes).c_str());
  }
  std::printf("TPC-H SF %g (seed %llu): %s rows, %s in %s, %.1f s (%.0f rows/s)\n",
              flags.scale_factor, static_cast<unsigned long long>(flags.seed),
              Grouped(stats->rows).c_str(), HumanBytes(stats->bytes).c_str(), flags.out_dir.c_str(),
              stats->seconds, stats->seconds > 0 ? stats->rows / stats->seconds : 0.0);
  return 0;
}

}  // namespace shardlake::cli
