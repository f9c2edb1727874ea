// Index: the catalog of Parquet files and table schemas. Backends: SQLite (the
// embedded default), in-memory (unit tests); Redis and PostgreSQL come later and
// must pass the same conformance suite (index_conformance_test.cc).
//
// Contract for every backend:
// - Batch(add, remove) is atomic: either every entry is added and every path
//   removed, or (on any error) nothing changes. It is validated before anything
//   is written:
//     * each added entry has a non-empty database and table, a path that is a
//       valid object key (see ValidateObjectKey) ending in ".N.parquet" (N >= 1,
//       the merge iteration, as GigAPI requires), size_bytes >= 0,
//       row_count >= 0 and min_time <= max_time;            else InvalidArgument
//     * no path appears twice in the batch (in add, remove or both);
//                                                           else InvalidArgument
//     * an added path is not already live;                  else AlreadyExists
//     * a removed path is live;                             else NotFound
//   Removed entries are identified by (database, table, path); their other
//   fields are ignored.
// - Readers never see part of a batch.
// - Query returns each live entry at most once, sorted by path.
// - Errors talking to a remote backend are Unavailable (retry may help).
//
// Thread-safety: every method may be called concurrently from any thread, and
// several processes may share one catalog.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/index_entry.h"

namespace shardlake {

struct QueryOptions {
  // Only entries whose path is inside this folder ("date=2026-01-01" or
  // "date=2026-01-01/hour=05"); empty for all.
  std::string folder;
  // Only entries whose [min_time, max_time] overlaps [after, before]
  // (both ends inclusive, Unix ns); unset means unbounded on that side.
  std::optional<int64_t> after;
  std::optional<int64_t> before;
  // Only entries of merge iteration N (path ends ".N.parquet"); 0 for any.
  int iteration = 0;
};

// One merge level, GigAPI's [timeout_s, max_bytes, iteration] tuple. Entry N
// (1-based) of a configuration list applies to files of iteration N (paths
// ending ".N.parquet"); files of an iteration past the list are final.
struct MergeConfig {
  // A group of files becomes due this long after its oldest file was written
  // (the files' chunk_time).
  int64_t timeout_s = 10;
  // The sources of one plan add up to at most this many bytes.
  int64_t max_bytes = 100LL << 20;
  // GigAPI's third element (the iteration its scheduler passes); kept for
  // configuration compatibility, always N here.
  int iteration = 1;
  bool operator==(const MergeConfig&) const = default;
};

// GigAPI's server defaults with T = `timeout_s`: {T, 100 MiB, 1},
// {10T, 400 MiB, 2}, {100T, 4000 MiB, 3}, {420T, 4000 MiB, 4}.
std::vector<MergeConfig> DefaultMergeConfigs(int64_t timeout_s = 10);

// A leased merge plan: merge `sources` (files of iteration N of one folder)
// into one file at `target` (iteration N+1, same folder).
struct MergePlan {
  std::string id;  // unique per lease
  std::string database;
  std::string table;
  std::string layer = "default";
  std::string writer_id;  // who holds the lease
  std::string folder;
  int iteration = 0;
  std::vector<std::string> sources;  // paths, sorted
  std::string target;                // "<folder>/<uuid>.<N+1>.parquet"
  int64_t lease_expires_ns = 0;
};

struct LeaseRequest {
  std::string writer_id;
  int64_t now_ns = 0;                            // the current time (tests pass their own)
  int64_t lease_ns = 30LL * 60 * 1'000'000'000;  // how long the lease lasts
  // Treat every group as due, whatever its timeout (`shardlake compact --now`).
  bool ignore_timeouts = false;
};

// A file removed by a completed merge, to delete from the store once due.
struct DropItem {
  std::string database;
  std::string table;
  std::string path;
  int64_t due_ns = 0;
  bool operator==(const DropItem&) const = default;
};

// What Index::QueryPaths returns.
struct PathListing {
  int64_t version = 0;             // the table's ChangeVersion when the paths were read
  std::vector<std::string> paths;  // sorted, distinct
};

class Index {
 public:
  virtual ~Index() = default;

  // The URI this index was opened with (secrets redacted), for messages.
  virtual std::string Describe() const = 0;

  // See the contract above.
  virtual absl::Status Batch(const std::vector<IndexEntry>& add,
                             const std::vector<IndexEntry>& remove) = 0;

  // The live entry for `path`. Errors: NotFound.
  virtual absl::StatusOr<IndexEntry> Get(const std::string& database, const std::string& table,
                                         const std::string& path) = 0;

  // Live entries of one table matching `options`, sorted by path.
  virtual absl::StatusOr<std::vector<IndexEntry>> Query(const std::string& database,
                                                        const std::string& table,
                                                        const QueryOptions& options) = 0;

  // Sorted, distinct names of databases / tables that have a schema or at
  // least one live entry.
  virtual absl::StatusOr<std::vector<std::string>> ListDatabases() = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListTables(const std::string& database) = 0;
  // Sorted, distinct folders (FolderOfPath) of a table's live entries.
  virtual absl::StatusOr<std::vector<std::string>> ListFolders(const std::string& database,
                                                               const std::string& table) = 0;

  // Registers a table schema. Errors: AlreadyExists; InvalidArgument for an
  // empty name or no columns.
  virtual absl::Status CreateTable(const TableSchema& schema) = 0;
  // Errors: NotFound.
  virtual absl::StatusOr<TableSchema> GetTable(const std::string& database,
                                               const std::string& table) = 0;
  // Removes a table's schema, all its live entries, its leases and its drop
  // queue in one atomic step, and returns the removed live entries followed by
  // the queued drops as entries with only database, table and path set (so
  // the caller can delete every file). Errors: NotFound when the table has no
  // schema.
  virtual absl::StatusOr<std::vector<IndexEntry>> DropTable(const std::string& database,
                                                            const std::string& table) = 0;

  // ---- Merge plans (compaction). The merge configuration is the backend's,
  // given at open (IndexOptions::merge_configs).
  //
  // Leases the next due plan of a table, or returns nullopt when none is due.
  // Live files of iteration N <= merge_configs.size() in one folder that no
  // unexpired lease holds are grouped oldest first (by chunk_time, then path)
  // into groups of at most max_bytes(N); a group is due when
  // now_ns >= its oldest chunk_time + timeout_s(N) (or ignore_timeouts). A
  // group of a single file is never a plan, so it is never handed out again
  // and again. While the lease lasts no other caller gets these files; once it
  // expires (a crashed compactor) they are planned again. Two callers racing
  // never lease the same file.
  virtual absl::StatusOr<std::optional<MergePlan>> LeaseMergePlan(const std::string& database,
                                                                  const std::string& table,
                                                                  const LeaseRequest& request) = 0;

  // Completes a plan in one atomic step: adds `merged` (whose path must be
  // plan.target), removes every source, ends the lease and queues each source
  // for deletion at `drop_due_ns`. Errors (nothing changes): FailedPrecondition
  // when the lease has expired at `now_ns` or is unknown, or a source is no
  // longer live; InvalidArgument when merged.path != plan.target or merged is
  // invalid.
  virtual absl::Status CompleteMerge(const MergePlan& plan, const IndexEntry& merged,
                                     int64_t now_ns, int64_t drop_due_ns) = 0;

  // Ends a lease without merging; its files can be planned again at once.
  // Unknown or expired leases are not an error.
  virtual absl::Status AbandonMerge(const MergePlan& plan) = 0;

  // Up to `limit` queued drops of a table with due_ns <= now_ns, oldest first.
  virtual absl::StatusOr<std::vector<DropItem>> DueDrops(const std::string& database,
                                                         const std::string& table, int64_t now_ns,
                                                         size_t limit) = 0;

  // Removes drops from the queue (after their files were deleted). Items
  // already gone are not an error.
  virtual absl::Status ForgetDrops(const std::vector<DropItem>& items) = 0;

  // ---- Change tracking, used by the catalog cache (cached_index.h) to
  // revalidate what it remembers with one cheap call. Backends without it
  // return Unimplemented from ChangeVersion and QueryPaths, and are then
  // used uncached.

  // A per-table counter that increases, in the same atomic step, with every
  // change to the table: Batch adding or removing its entries, CompleteMerge,
  // CreateTable and DropTable. It never goes back or repeats, not even across
  // a drop and re-creation of the table or a loss of the catalog's data (a
  // counter that has to be created starts at the time in microseconds), so an
  // unchanged value means nothing changed. 0 for a table never changed.
  virtual absl::StatusOr<int64_t> ChangeVersion(const std::string& database,
                                                const std::string& table);

  // In one atomic read: the table's ChangeVersion and the paths of every live
  // entry that Query(options) would return, possibly with other live paths of
  // the table (callers filter on the entries).
  virtual absl::StatusOr<PathListing> QueryPaths(const std::string& database,
                                                 const std::string& table,
                                                 const QueryOptions& options);

  // The live entries among `paths`, sorted by path; paths that are not live
  // are left out. The default calls Get for each path.
  virtual absl::StatusOr<std::vector<IndexEntry>> GetMany(const std::string& database,
                                                          const std::string& table,
                                                          const std::vector<std::string>& paths);
};

struct IndexOptions {
  std::vector<MergeConfig> merge_configs = DefaultMergeConfigs();
  // Put a remote backend (redis, postgresql) behind the catalog cache
  // (cached_index.h); SHARDLAKE_CATALOG_CACHE_DISABLED=1 also turns it off.
  bool cache = true;
};

// Opens an index from a URI:
//   sqlite:///abs/path.sqlite or sqlite:relative/path.sqlite  (created if missing)
//   memory://name   an in-process index; the same name in one process shares state
//   redis://..., rediss://..., postgresql://...  (see docs/catalog.md)
// A remote catalog (redis, postgresql) is opened behind the catalog cache
// (cached_index.h) unless SHARDLAKE_CATALOG_CACHE_DISABLED=1.
// Errors: InvalidArgument for an unknown scheme (the message lists known ones);
// Unavailable / PermissionDenied when the backend cannot be opened.
absl::StatusOr<std::unique_ptr<Index>> OpenIndex(std::string_view uri,
                                                 const IndexOptions& options = {});

// The target path of a merge of `sources` of iteration N in `folder`: a new
// "<folder>/<uuid>.<N+1>.parquet".
std::string MergeTargetPath(const std::string& folder, int iteration);

// Checks a batch against the validation rules of the contract that need no
// knowledge of live entries (shared by all backends).
absl::Status ValidateBatch(const std::vector<IndexEntry>& add,
                           const std::vector<IndexEntry>& remove);

}  // namespace shardlake
