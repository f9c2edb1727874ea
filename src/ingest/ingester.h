// Ingester: the one write path. Rows (from a file, or from any query such as
// the VALUES of an INSERT) -> Parquet files written by DuckDB (zstd) in a
// private staging directory -> object store -> one catalog batch.
//
// Layout (see docs/tables.md): a table with a time column gets one file per
// UTC hour it has rows in, at "<db>/<table>/date=YYYY-MM-DD/hour=HH/<uuid>.1.parquet";
// a table without one gets "<db>/<table>/<uuid>.1.parquet" files.
//
// Guarantees:
// - All or nothing: if anything fails (a bad CSV line, a NULL time value, a
//   full disk, a catalog error), no entry is registered and the files already
//   copied to the store are deleted (best effort; leftovers are orphans, never
//   index entries without files).
// - A file is durable in the store before the catalog names it, so a crash at
//   any point leaves at most orphan files.
// - Memory is bounded by DuckDB's streaming COPY, whatever the input size.
//
// Thread-safety: one Ingester per thread (it uses one DuckDB connection).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog/index.h"
#include "duck/duck.h"
#include "storage/object_store.h"

namespace shardlake {

struct IngestStats {
  int64_t rows = 0;
  int64_t files = 0;
  int64_t bytes = 0;
  double seconds = 0;
};

struct IngestOptions {
  // Files stop growing at about this size; larger partitions get several files.
  int64_t target_file_bytes = 256LL << 20;
  int64_t row_group_size = 122'880;
  std::string writer_id;  // recorded in each IndexEntry
  // A folder under the table root that every file of a write goes in, before
  // any date=/hour= folders, e.g. "bucket=03" (shardlake bootstrap's buckets,
  // docs/bootstrap.md); one or more "/"-separated object key segments, or ""
  // for none. Compaction merges within a folder, so files stay in it.
  std::string folder;
  // Called about every 200 ms while DuckDB writes the files, from another
  // thread, with the percent done (-1 when DuckDB cannot tell), the seconds
  // elapsed and the Parquet bytes written so far.
  std::function<void(double percent, double seconds, int64_t bytes_written)> progress;
};

class Ingester {
 public:
  // `staging_dir` is a local directory for files in flight; it should be on the
  // same file system as a file:// store so that moving a file is a rename.
  Ingester(Index& index, ObjectStore& store, duck::Connection& connection, std::string staging_dir,
           IngestOptions options = {});

  // Writes the rows produced by `select_sql`, which must yield the table's
  // columns in order (names may differ; types are cast to the schema's).
  // `source` names the input in error messages.
  absl::StatusOr<IngestStats> IngestSelect(const TableSchema& schema, const std::string& select_sql,
                                           const std::string& source);

  // Loads a CSV (.csv, .tsv, optionally .gz), Parquet (.parquet) or
  // newline-delimited JSON (.ndjson, .jsonl, .json) file. CSV/JSON columns are
  // matched to the table by header / key name (CSV without a header: by
  // position). Errors: NotFound for a missing file, InvalidArgument naming the
  // file and line for malformed input or a column the table does not have.
  absl::StatusOr<IngestStats> LoadFile(const TableSchema& schema, const std::string& path);

 private:
  absl::StatusOr<std::string> CsvSelect(const TableSchema& schema, const std::string& path);
  absl::StatusOr<std::string> ParquetSelect(const TableSchema& schema, const std::string& path);
  std::string JsonSelect(const TableSchema& schema, const std::string& path);

  Index& index_;
  ObjectStore& store_;
  duck::Connection& connection_;
  std::string staging_dir_;
  IngestOptions options_;
};

// Statistics of Parquet files holding rows of `schema`, computed from the
// files (row_count, per-column min/max, min_time/max_time), keyed by the local
// paths as given; other IndexEntry fields are left empty. Errors:
// InvalidArgument when a time-partitioned table's file has NULL times.
absl::StatusOr<std::map<std::string, IndexEntry>> ComputeFileStatistics(
    duck::Connection& connection, const TableSchema& schema,
    const std::vector<std::string>& local_paths);

// The time column chosen for a new table (see docs/tables.md): the first
// column named "time", "timestamp", "ts" or "__timestamp" (case-insensitive)
// with a TIMESTAMP kind, else the first column with a TIMESTAMP kind, else "".
std::string ChooseTimeColumn(const std::vector<ColumnDef>& columns);

}  // namespace shardlake
