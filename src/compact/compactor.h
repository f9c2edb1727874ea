// Compactor: executes merge plans. For each due plan of a table it leases the
// plan, merges the `.N` sources into one `.N+1` Parquet file sorted by the
// time column (DuckDB), stores it, and swaps the catalog in one atomic step
// (add the merged file, remove the sources, end the plan, queue the sources
// for deletion). Sources are deleted from the store only once their drop is
// due, a grace period later, so a query that listed them before the swap
// still reads them.
//
// Crash safety: a compactor that dies after leasing leaves a lease that
// expires (the plan is then handed out again); one that dies after storing the
// merged file but before the swap leaves an orphan file and no change in the
// catalog; one that dies after the swap leaves queued drops that any later run
// deletes.
//
// Thread-safety: one Compactor per thread; any number of compactors, in any
// processes, may work on one catalog (leases keep them apart).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog/index.h"
#include "duck/duck.h"
#include "storage/file_cache.h"
#include "storage/object_store.h"

namespace shardlake {

struct CompactionOptions {
  std::string writer_id = "compactor";
  // Merge every pending plan without waiting for its timeout (`--now`).
  bool ignore_timeouts = false;
  int64_t lease_ns = 30LL * 60 * 1'000'000'000;
  // Sources are deleted this long after the swap.
  int64_t drop_grace_ns = 60LL * 1'000'000'000;
  // Bounds one run: at most this many plans per table.
  int max_plans_per_table = 10'000;
};

struct CompactionStats {
  int64_t plans = 0;          // merges completed
  int64_t files_merged = 0;   // source files replaced
  int64_t rows = 0;           // rows written into merged files
  int64_t bytes_written = 0;  // size of the merged files
  int64_t files_deleted = 0;  // dropped sources deleted from the store
  double seconds = 0;
};

class Compactor {
 public:
  // `staging_dir` holds merged files in flight (same file system as a file://
  // store, so storing is a rename).
  // `file_cache` (may be null for stores with local files) holds copies of
  // remote sources while they are merged; it must outlive the compactor.
  Compactor(Index& index, ObjectStore& store, duck::Connection& connection, std::string staging_dir,
            FileCache* file_cache = nullptr);

  // Merges every due plan of every table once and deletes every due drop, as
  // of `now_ns`. Stops at the first error (a lease it held is given back).
  absl::StatusOr<CompactionStats> RunOnce(const CompactionOptions& options, int64_t now_ns);

  // The same for one table.
  absl::Status CompactTable(const TableSchema& schema, const CompactionOptions& options,
                            int64_t now_ns, CompactionStats* stats);

 private:
  // Writes, stores and registers the merged file of `plan`.
  absl::Status Merge(const TableSchema& schema, const MergePlan& plan,
                     const CompactionOptions& options, int64_t now_ns, CompactionStats* stats);
  absl::Status DeleteDueDrops(const TableSchema& schema, int64_t now_ns, CompactionStats* stats);

  Index& index_;
  ObjectStore& store_;
  duck::Connection& connection_;
  std::string staging_dir_;
  FileCache* file_cache_;  // may be null
};

}  // namespace shardlake
