// SqliteIndex: the embedded catalog backend (`sqlite:///abs/path.sqlite`).
//
// One SQLite file in WAL mode holds the tables
//   files           one row per live entry; PRIMARY KEY (database, tbl, path)
//                   and an index on (database, tbl, min_time, max_time);
//   spans           live entries per power-of-two bucket of max_time - min_time,
//                   so a time-range Query scans only min_time in
//                   [after - longest span, before] of files_by_time;
//   folders         live entries per folder (ListFolders / ListTables);
//   tables          schemas (schema_json = TableSchemaToJson);
//   schema_version  the layout version, for later migrations.
// min/max stats are stored as JSON text (min_json / max_json).
//
// Semantics are those of catalog/index.h. A Batch is one BEGIN IMMEDIATE
// transaction with cached prepared statements, rolled back on any error. A
// Query with a folder scans that folder's paths (the primary-key index); one
// with only a time range scans the time index.
//
// Thread-safety: every method may be called concurrently; calls on one object
// are serialized on its single connection. Several objects or processes may
// open the same file: writers wait up to 10 s for each other (busy timeout;
// then Unavailable), readers never block writers and always see whole
// batches. Commits use synchronous=NORMAL: durable across process crashes; a
// power loss may lose the latest batches but never corrupts the file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/index.h"

namespace shardlake {

class SqliteIndex : public Index {
 public:
  // Opens (creating if missing) the catalog file `path`; `describe` is what
  // Describe() returns (the URI). Errors, each naming the file: Unavailable when
  // its directory does not exist or it cannot be opened or is locked;
  // PermissionDenied when access is denied; FailedPrecondition when the path is
  // a directory, not an SQLite database, or a catalog of a newer schema
  // version; DataLoss when the file is corrupt.
  static absl::StatusOr<std::unique_ptr<SqliteIndex>> Open(const std::string& path,
                                                           const std::string& describe,
                                                           const IndexOptions& options = {});

  ~SqliteIndex() override;

  std::string Describe() const override;
  absl::Status Batch(const std::vector<IndexEntry>& add,
                     const std::vector<IndexEntry>& remove) override;
  absl::StatusOr<IndexEntry> Get(const std::string& database, const std::string& table,
                                 const std::string& path) override;
  absl::StatusOr<std::vector<IndexEntry>> Query(const std::string& database,
                                                const std::string& table,
                                                const QueryOptions& options) override;
  absl::StatusOr<std::vector<std::string>> ListDatabases() override;
  absl::StatusOr<std::vector<std::string>> ListTables(const std::string& database) override;
  absl::StatusOr<std::vector<std::string>> ListFolders(const std::string& database,
                                                       const std::string& table) override;
  absl::Status CreateTable(const TableSchema& schema) override;
  absl::StatusOr<TableSchema> GetTable(const std::string& database,
                                       const std::string& table) override;
  absl::StatusOr<std::vector<IndexEntry>> DropTable(const std::string& database,
                                                    const std::string& table) override;

  absl::StatusOr<std::optional<MergePlan>> LeaseMergePlan(const std::string& database,
                                                          const std::string& table,
                                                          const LeaseRequest& request) override;
  absl::Status CompleteMerge(const MergePlan& plan, const IndexEntry& merged, int64_t now_ns,
                             int64_t drop_due_ns) override;
  absl::Status AbandonMerge(const MergePlan& plan) override;
  absl::StatusOr<std::vector<DropItem>> DueDrops(const std::string& database,
                                                 const std::string& table, int64_t now_ns,
                                                 size_t limit) override;
  absl::Status ForgetDrops(const std::vector<DropItem>& items) override;

  // For tests: the EXPLAIN QUERY PLAN lines (one per line) of the statement
  // Query(database, table, options) runs.
  absl::StatusOr<std::string> TEST_ExplainQuery(const std::string& database,
                                                const std::string& table,
                                                const QueryOptions& options);

  // The schema version this code creates and understands.
  static constexpr int kSchemaVersion = 2;

 private:
  struct Impl;
  explicit SqliteIndex(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace shardlake
