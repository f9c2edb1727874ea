// Index: the catalog of Parquet files and table schemas. Backends: SQLite (the
// embedded default), in-memory (unit tests); Redis and PostgreSQL come later and
// must pass the same conformance suite (index_conformance_test.cc).
//
// Contract for every backend:
// - Batch(add, remove) is atomic: either every entry is added and every path
//   removed, or (on any error) nothing changes. It is validated before anything
//   is written:
//     * each added entry has a non-empty database and table, a path that is a
//       valid object key (see ValidateObjectKey), size_bytes >= 0,
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
  // Removes a table's schema and all its live entries in one atomic step and
  // returns the removed entries (so the caller can delete their files).
  // Errors: NotFound when the table has no schema.
  virtual absl::StatusOr<std::vector<IndexEntry>> DropTable(const std::string& database,
                                                            const std::string& table) = 0;
};

// Opens an index from a URI:
//   sqlite:///abs/path.sqlite or sqlite:relative/path.sqlite  (created if missing)
//   memory://name   an in-process index; the same name in one process shares state
// Errors: InvalidArgument for an unknown scheme (the message lists known ones);
// Unavailable / PermissionDenied when the backend cannot be opened.
absl::StatusOr<std::unique_ptr<Index>> OpenIndex(std::string_view uri);

// Checks a batch against the validation rules of the contract that need no
// knowledge of live entries (shared by all backends).
absl::Status ValidateBatch(const std::vector<IndexEntry>& add,
                           const std::vector<IndexEntry>& remove);

}  // namespace shardlake
