// Writes TPC-H tables as plain Parquet files (no catalog), for
// `shardlake tpch gen` and for comparing the data outside shardlake.
//
// Layout: <out_dir>/<table>/part-NNNNN.parquet (zstd), NNNNN from 00000.
// A table of R expected rows is split into ceil(R / rows_per_file) files of
// consecutive unit ranges (Generator::Part), so the files, like their
// contents, depend only on (scale factor, seed, rows_per_file), never on the
// thread count. Read a table back with read_parquet('<out_dir>/<table>/*.parquet').
//
// Each file is one task: DuckDB runs COPY (SELECT * FROM <generator>) TO file
// with a single-threaded source, so memory per task is about one Parquet row
// group; `threads` tasks run at once. Files are written under a ".tmp" name
// and renamed when complete, so a crash leaves no file that looks finished.
//
// Thread-safety: ExportParquet may be called from any thread; it starts its
// own worker threads and joins them before returning.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tpch/generator.h"

namespace shardlake::tpch {

struct ExportProgress {
  int64_t rows_done = 0;
  int64_t rows_total = 0;  // expected (lineitem's count is known only at the end)
  int64_t bytes_written = 0;
  double seconds = 0;
};

struct ExportOptions {
  double scale_factor = 1;
  uint64_t seed = 0;
  int threads = 0;            // worker threads; 0: the hardware concurrency
  std::vector<Table> tables;  // empty: all eight
  std::string out_dir;
  int64_t rows_per_file = 2'000'000;
  // Called about 4 times a second from a monitoring thread while files are
  // written, and once more at the end. Must be thread-safe w.r.t. the caller.
  std::function<void(const ExportProgress&)> progress;
};

struct TableExportStats {
  Table table = Table::kNation;
  int64_t rows = 0;
  int64_t files = 0;
  int64_t bytes = 0;
  double busy_seconds = 0;  // summed over the table's files (they may overlap in time)
};

struct ExportStats {
  std::vector<TableExportStats> tables;  // in the order of ExportOptions::tables
  int64_t rows = 0;
  int64_t bytes = 0;
  double seconds = 0;  // wall time
};

// Generates the tables into `out_dir` (created if missing).
// Errors: InvalidArgument for a bad scale factor, thread count or
// rows_per_file; FailedPrecondition when <out_dir>/<table> already holds
// files (remove it or choose another directory); Unavailable/Internal for
// I/O or DuckDB failures, naming the file. On error, finished files of the
// run stay; unfinished ones are removed.
absl::StatusOr<ExportStats> ExportParquet(const ExportOptions& options);

}  // namespace shardlake::tpch
