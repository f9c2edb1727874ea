// Engine: runs SQL against the lake in-process. Lake tables are resolved from
// the catalog, pruned (see pruning.h) and exposed to DuckDB as views over the
// surviving Parquet files; writes go through the Ingester.
//
// Statements (see docs/sql.md): SELECT / WITH / VALUES / FROM queries,
// EXPLAIN, DESCRIBE / SHOW / SUMMARIZE, CREATE TABLE, INSERT INTO, DROP TABLE,
// and SET / RESET / PRAGMA for the session. UPDATE, DELETE, ALTER and the like
// are rejected with a message saying so: lake tables are append-only.
//
// Thread-safety: an Engine is used by one thread at a time; Interrupt() may be
// called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog/index.h"
#include "duck/duck.h"
#include "ingest/ingester.h"
#include "storage/file_cache.h"
#include "storage/object_store.h"

namespace shardlake {

// Receives a statement's result rows, in order, as text (NULL -> nullopt).
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  virtual absl::Status Begin(const std::vector<std::string>& column_names) = 0;
  virtual absl::Status Rows(const std::vector<std::vector<std::optional<std::string>>>& rows) = 0;
  virtual absl::Status End() = 0;

  // A sink that would rather take the result as DuckDB chunks (the cluster
  // server, which forwards them as Arrow batches) returns true; query results
  // then arrive through Chunk(), with every column already rendered as
  // VARCHAR, instead of Rows(). Small results of session statements and
  // EXPLAIN still arrive through Rows().
  virtual bool TakesChunks() const { return false; }
  virtual absl::Status Chunk(duck::Connection& connection, duck::Result& result,
                             duck::DataChunk& chunk) {
    return absl::UnimplementedError("this result sink does not take chunks");
  }

  // A sink that reports the result's original column types (the cluster
  // server, in its result header) returns true; a query's result then calls
  // ColumnTypes() before Begin() with the DuckDB type names DESCRIBE gives
  // (e.g. "DECIMAL(15,2)"). Not called when DuckDB cannot describe the
  // statement (session statements): their columns count as VARCHAR.
  virtual bool WantsColumnTypes() const { return false; }
  virtual absl::Status ColumnTypes(const std::vector<std::string>& types) {
    return absl::OkStatus();
  }
};

// A sink that keeps every row in memory (tests, benchmarks, small results).
class CollectingSink : public ResultSink {
 public:
  using RowList = std::vector<std::vector<std::optional<std::string>>>;
  absl::Status Begin(const std::vector<std::string>& column_names) override;
  absl::Status Rows(const RowList& rows) override;
  absl::Status End() override;

  const std::vector<std::string>& columns() const { return columns_; }
  const RowList& rows() const { return rows_; }

 private:
  std::vector<std::string> columns_;
  RowList rows_;
};

// How many files of one table a query read.
struct TableScan {
  std::string table;            // "db.table"
  int64_t files_total = -1;     // live files of the table; -1 when not counted
  int64_t files_scanned = 0;    // files the query read
  int64_t pruned_by_time = -1;  // skipped by the catalog's time-range lookup; -1 if not counted
  int64_t pruned_by_stats = 0;  // skipped by per-column min/max
};

struct StatementOutcome {
  std::string statement_kind;  // "SELECT", "INSERT", "CREATE TABLE", ...
  bool produced_rows = false;  // rows went to the sink
  int64_t rows = 0;            // rows returned, inserted or loaded
  std::string message;         // a one-line summary for non-queries
  std::vector<TableScan> scans;
  double seconds = 0;
};

struct EngineOptions {
  std::string default_database = "main";
  // Local directory for files in flight (loads, inserts).
  std::string staging_dir;
  // DuckDB options for the engine's database, e.g. {"threads","2"}.
  std::map<std::string, std::string> duckdb_options;
  IngestOptions ingest;
  // Count every live file of a scanned table for TableScan::files_total (one
  // more catalog query per table). EXPLAIN always counts.
  bool count_total_files = false;
  // Where objects of a store without local files (s3://, memory://) are
  // copied for DuckDB to read (the worker file cache), and its size limit.
  // Empty: such stores cannot be queried.
  std::string file_cache_dir;
  int64_t file_cache_bytes = 10LL << 30;
};

class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Open(std::unique_ptr<Index> index,
                                                      std::unique_ptr<ObjectStore> store,
                                                      EngineOptions options);

  // Runs every statement of `sql` in order, stopping at the first error.
  // Outcomes of the statements that ran are appended to `outcomes`.
  absl::Status ExecuteScript(const std::string& sql, ResultSink& sink,
                             std::vector<StatementOutcome>* outcomes);

  // Runs one statement (no trailing semicolon needed).
  absl::StatusOr<StatementOutcome> Execute(const std::string& statement, ResultSink& sink);

  // Loads a file into an existing table (see Ingester::LoadFile).
  absl::StatusOr<IngestStats> LoadFile(const std::string& table_name, const std::string& path);

  // The lake tables `query` (one SELECT) reads, keyed by "db.table", each with
  // its schema and the files left after the same pruning a local run does
  // (time range from the catalog, then column statistics). Touches no view.
  // Errors: InvalidArgument for SQL DuckDB cannot parse; catalog errors.
  struct QueryFiles {
    TableSchema schema;
    std::vector<IndexEntry> files;
    TableScan scan;
  };
  absl::StatusOr<std::map<std::string, QueryFiles>> ListQueryFiles(const std::string& query);

  // Resolves "db.table" or "table" (default database). Errors: NotFound naming
  // the table and listing the tables that exist.
  absl::StatusOr<TableSchema> ResolveTable(const std::string& name);

  void Interrupt() { connection_->Interrupt(); }

  Index& index() { return *index_; }
  ObjectStore& store() { return *store_; }
  // The file cache for stores without local files, opened on first use; null
  // when EngineOptions::file_cache_dir is empty.
  absl::StatusOr<FileCache*> file_cache();

 private:
  Engine(std::unique_ptr<Index> index, std::unique_ptr<ObjectStore> store,
         std::unique_ptr<duck::Database> database, std::unique_ptr<duck::Connection> connection,
         EngineOptions options);

  absl::StatusOr<StatementOutcome> RunQuery(const std::string& statement, ResultSink& sink,
                                            bool explain, size_t explained_begin);
  absl::StatusOr<StatementOutcome> RunCreateTable(const std::string& statement,
                                                  const struct StatementHead& head);
  absl::StatusOr<StatementOutcome> RunInsert(const std::string& statement,
                                             const struct StatementHead& head);
  absl::StatusOr<StatementOutcome> RunDropTable(const struct StatementHead& head);
  absl::StatusOr<StatementOutcome> RunPassThrough(const std::string& statement, ResultSink& sink,
                                                  bool expose_tables);

  // Creates or replaces the view for a table over `entries`.
  absl::Status ExposeTable(const TableSchema& schema, const std::vector<IndexEntry>& entries);
  absl::Status ExposeTableAs(const TableSchema& schema, const std::vector<IndexEntry>& entries,
                             const std::string& view_schema, const std::string& view_name);
  // Analyses a query, prunes the files of every lake table it reads and
  // exposes each as a view; returns what was scanned. With `rewritten`, a
  // query that references lake tables more than once also gets one view per
  // reference, and `rewritten` receives the query using them (left empty when
  // that is not possible).
  absl::StatusOr<std::vector<TableScan>> ExposePrunedTables(const std::string& query,
                                                            std::string* rewritten = nullptr,
                                                            bool count_totals = false);
  // Prunes the files of every lake table `query` reads (see ListQueryFiles);
  // `analysis` receives the query analysis when not null.
  absl::StatusOr<std::map<std::string, QueryFiles>> PruneQueryTables(
      const std::string& query, bool count_totals, struct QueryAnalysis* analysis);
  // Exposes every lake table `statement` references, unpruned.
  absl::Status ExposeReferencedTables(const std::string& statement);
  // Streams a query's rows to the sink as text.
  // `began` (optional) tells whether `sink` saw Begin() before a failure.
  absl::StatusOr<int64_t> StreamRows(const std::string& query, ResultSink& sink,
                                     bool* began = nullptr);
  // Appends the list of existing tables to a "table does not exist" error.
  absl::Status ExplainUnknownTable(const absl::Status& status);
  std::string TableListing();

  std::unique_ptr<Index> index_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<duck::Database> database_;
  std::unique_ptr<duck::Connection> connection_;
  std::unique_ptr<duck::Connection> parser_connection_;
  EngineOptions options_;
  std::unique_ptr<Ingester> ingester_;
  std::map<std::string, TableSchema> schema_cache_;  // per statement
  // Copies of remote objects (opened on first need) and the pins of the
  // current statement's copies.
  std::unique_ptr<FileCache> file_cache_;
  std::vector<CachedFile> pinned_files_;
};

// Checks a database or table name for use in paths and keys.
absl::Status ValidateName(const std::string& name, const char* what);

}  // namespace shardlake
