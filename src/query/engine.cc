#include "query/engine.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>
#include <string_view>

#include "common/column_types.h"
#include "common/sql_text.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "fmt/format.h"
#include "query/pruning.h"
#include "query/sql_lexer.h"

namespace shardlake {
namespace {

// TEST-ONLY fault switch, for proving that `shardlake gemini` catches a real
// bug: with SHARDLAKE_TEST_FAULT=drop_one_file in the environment (read once),
// a query reads a table of several files without its first file, both when it
// runs here and when the cluster server hands the files to workers (the bug
// of answers that cover only part of the data).
bool TestFaultDropsOneFile() {
  static const bool drop_one_file = [] {
    const char* fault = std::getenv("SHARDLAKE_TEST_FAULT");
    return fault != nullptr && std::string_view(fault) == "drop_one_file";
  }();
  return drop_one_file;
}

constexpr char kInsertStagingTable[] = "__shardlake_insert_rows";
constexpr char kReferenceViewPrefix[] = "__shardlake_ref_";
constexpr size_t kSinkBatchRows = 1024;

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string QualifiedName(const TableSchema& schema) {
  return schema.database + "." + schema.table;
}

}  // namespace

absl::Status CollectingSink::Begin(const std::vector<std::string>& column_names) {
  columns_ = column_names;
  rows_.clear();
  return absl::OkStatus();
}

absl::Status CollectingSink::Rows(const RowList& rows) {
  rows_.insert(rows_.end(), rows.begin(), rows.end());
  return absl::OkStatus();
}

absl::Status CollectingSink::End() { return absl::OkStatus(); }

absl::Status ValidateName(const std::string& name, const char* what) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError(fmt::format("{} name must have 1 to 128 characters", what));
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
      return absl::InvalidArgumentError(fmt::format(
          "{} name '{}' may only contain letters, digits, '_' and '-' (it becomes part of "
          "object paths)",
          what, name));
    }
  }
  return absl::OkStatus();
}

Engine::Engine(std::unique_ptr<Index> index, std::unique_ptr<ObjectStore> store,
               std::unique_ptr<duck::Database> database,
               std::unique_ptr<duck::Connection> connection, EngineOptions options)
    : index_(std::move(index)),
      store_(std::move(store)),
      database_(std::move(database)),
      connection_(std::move(connection)),
      options_(std::move(options)) {
  // Opening a second connection on a live database only fails when out of memory.
  auto parser = duck::Connection::Open(*database_);
  if (parser.ok()) parser_connection_ = std::move(*parser);
  ingester_ = std::make_unique<Ingester>(*index_, *store_, *connection_, options_.staging_dir,
                                         options_.ingest);
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(std::unique_ptr<Index> index,
                                                     std::unique_ptr<ObjectStore> store,
                                                     EngineOptions options) {
  std::map<std::string, std::string> duck_options = options.duckdb_options;
  // Extensions come built in; never try to download one at run time.
  duck_options.emplace("autoinstall_known_extensions", "false");
  ASSIGN_OR_RETURN(auto database, duck::Database::Open("", duck_options));
  ASSIGN_OR_RETURN(auto connection, duck::Connection::Open(*database));
  // Hour folders and time literals are UTC, whatever the machine's zone.
  RETURN_IF_ERROR(connection->Execute("SET TimeZone = 'UTC'"));
  return std::unique_ptr<Engine>(new Engine(std::move(index), std::move(store), std::move(database),
                                            std::move(connection), std::move(options)));
}

absl::StatusOr<FileCache*> Engine::file_cache() {
  if (file_cache_ == nullptr && !options_.file_cache_dir.empty()) {
    FileCacheOptions cache_options;
    cache_options.max_bytes = options_.file_cache_bytes;
    ASSIGN_OR_RETURN(file_cache_, FileCache::Open(options_.file_cache_dir, cache_options));
  }
  return file_cache_.get();
}

std::string Engine::TableListing() {
  std::vector<std::string> names;
  auto databases = index_->ListDatabases();
  if (databases.ok()) {
    for (const auto& db : *databases) {
      auto tables = index_->ListTables(db);
      if (!tables.ok()) continue;
      for (const auto& t : *tables) names.push_back(db + "." + t);
    }
  }
  if (names.empty()) return "the catalog has no tables yet";
  std::string out = "tables: ";
  for (size_t i = 0; i < names.size(); ++i) out += (i > 0 ? ", " : "") + names[i];
  return out;
}

absl::StatusOr<TableSchema> Engine::ResolveTable(const std::string& name) {
  std::string database = options_.default_database;
  std::string table = name;
  if (auto dot = name.find('.'); dot != std::string::npos) {
    database = name.substr(0, dot);
    table = name.substr(dot + 1);
  }
  auto schema = index_->GetTable(database, table);
  if (schema.ok()) return schema;
  if (schema.status().code() != absl::StatusCode::kNotFound) return schema.status();
  return absl::NotFoundError(
      fmt::format("table {}.{} does not exist ({})", database, table, TableListing()));
}

absl::Status Engine::ExplainUnknownTable(const absl::Status& status) {
  std::string message(status.message());
  if (status.code() == absl::StatusCode::kNotFound &&
      message.find("Table with name") != std::string::npos) {
    return absl::NotFoundError(fmt::format("{}\n({})", message, TableListing()));
  }
  return status;
}

absl::Status Engine::ExposeTable(const TableSchema& schema,
                                 const std::vector<IndexEntry>& entries) {
  return ExposeTableAs(schema, entries, schema.database, schema.table);
}

absl::Status Engine::ExposeTableAs(const TableSchema& schema,
                                   const std::vector<IndexEntry>& entries,
                                   const std::string& view_schema, const std::string& view_name) {
  std::string columns;
  for (const auto& column : schema.columns) {
    if (!columns.empty()) columns += ", ";
    columns += QuoteIdentifier(column.name);
  }
  std::string body;
  if (entries.empty()) {
    // No file can match: an empty relation with the table's exact columns.
    std::string typed_nulls;
    for (const auto& column : schema.columns) {
      if (!typed_nulls.empty()) typed_nulls += ", ";
      typed_nulls +=
          fmt::format("CAST(NULL AS {}) AS {}", column.type, QuoteIdentifier(column.name));
    }
    body = fmt::format("SELECT {} WHERE false", typed_nulls);
  } else {
    std::string files;
    for (const auto& entry : entries) {
      std::string key = schema.database + "/" + schema.table + "/" + entry.path;
      FileCache* cache = nullptr;
      if (!store_->LocalPath(key)) {
        ASSIGN_OR_RETURN(cache, file_cache());
      }
      ASSIGN_OR_RETURN(std::string local, ReadablePath(*store_, cache, key, &pinned_files_));
      if (!files.empty()) files += ", ";
      files += QuoteLiteral(local);
    }
    body =
        fmt::format("SELECT {} FROM read_parquet([{}], hive_partitioning = false)", columns, files);
  }
  return connection_->Execute(
      fmt::format("CREATE SCHEMA IF NOT EXISTS {0}; CREATE OR REPLACE VIEW {0}.{1} AS {2}",
                  QuoteIdentifier(view_schema), QuoteIdentifier(view_name), body));
}

absl::Status Engine::ExposeReferencedTables(const std::string& statement) {
  // Table-name extraction and plain parsing run on a connection of their own,
  // outside the session's statements.
  auto names = parser_connection_->ReferencedTables(statement);
  if (!names.ok()) return absl::OkStatus();  // DuckDB will report the parse error
  for (const auto& name : *names) {
    std::string database = options_.default_database;
    std::string table = name;
    if (auto dot = name.rfind('.'); dot != std::string::npos) {
      database = name.substr(0, dot);
      table = name.substr(dot + 1);
      if (auto inner = database.rfind('.'); inner != std::string::npos) {
        database = database.substr(inner + 1);
      }
    }
    auto schema = index_->GetTable(database, table);
    if (!schema.ok()) continue;  // not a lake table; DuckDB resolves it or fails
    ASSIGN_OR_RETURN(auto entries, index_->Query(database, table, QueryOptions{}));
    RETURN_IF_ERROR(ExposeTable(*schema, entries));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Engine::StreamRows(const std::string& query, ResultSink& sink,
                                           bool* began) {
  if (began != nullptr) *began = false;
  if (sink.WantsColumnTypes()) {
    // Described before rendering: the types are the query's own.
    auto described = connection_->Query(
        fmt::format("DESCRIBE SELECT * FROM ({}\n) AS __shardlake_result", query));
    if (described.ok()) {
      ASSIGN_OR_RETURN(auto rows, (*described)->FetchAllAsStrings());
      std::vector<std::string> types;
      for (const auto& row : rows) types.push_back(row.size() > 1 && row[1] ? *row[1] : "VARCHAR");
      RETURN_IF_ERROR(sink.ColumnTypes(types));
    }
  }
  // Every column is rendered by DuckDB itself, so every type prints as DuckDB
  // prints it (decimals, timestamps, lists, ...).
  auto result = connection_->QueryStreaming(
      fmt::format("SELECT COLUMNS(*)::VARCHAR FROM ({}\n) AS __shardlake_result", query));
  if (!result.ok()) return ExplainUnknownTable(result.status());
  std::vector<std::string> names;
  for (size_t i = 0; i < (*result)->ColumnCount(); ++i) names.push_back((*result)->ColumnName(i));
  if (began != nullptr) *began = true;
  RETURN_IF_ERROR(sink.Begin(names));
  int64_t rows = 0;
  std::vector<std::vector<std::optional<std::string>>> batch;
  while (true) {
    ASSIGN_OR_RETURN(auto chunk, (*result)->Fetch());
    if (chunk == nullptr) break;
    if (sink.TakesChunks()) {
      RETURN_IF_ERROR(sink.Chunk(*connection_, **result, *chunk));
      rows += static_cast<int64_t>(chunk->RowCount());
      continue;
    }
    for (size_t row = 0; row < chunk->RowCount(); ++row) {
      std::vector<std::optional<std::string>> values(chunk->ColumnCount());
      for (size_t col = 0; col < chunk->ColumnCount(); ++col) {
        if (chunk->IsNull(col, row)) continue;
        ASSIGN_OR_RETURN(values[col], chunk->GetString(col, row));
      }
      batch.push_back(std::move(values));
    }
    rows += static_cast<int64_t>(chunk->RowCount());
    if (batch.size() >= kSinkBatchRows) {
      RETURN_IF_ERROR(sink.Rows(batch));
      batch.clear();
    }
  }
  if (!batch.empty()) RETURN_IF_ERROR(sink.Rows(batch));
  RETURN_IF_ERROR(sink.End());
  return rows;
}

absl::StatusOr<std::map<std::string, Engine::QueryFiles>> Engine::PruneQueryTables(
    const std::string& query, bool count_totals, QueryAnalysis* analysis_out) {
  schema_cache_.clear();
  SchemaLookup lookup = [this](const std::string& database,
                               const std::string& table) -> const TableSchema* {
    std::string key = database + "." + table;
    auto it = schema_cache_.find(key);
    if (it == schema_cache_.end()) {
      auto schema = index_->GetTable(database, table);
      if (!schema.ok()) return nullptr;
      it = schema_cache_.emplace(key, std::move(*schema)).first;
    }
    return &it->second;
  };
  auto analysis = AnalyzeQuery(*connection_, query, options_.default_database, lookup);
  if (!analysis.ok()) {
    if (analysis.status().message().find("Only SELECT statements") != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "this statement form is not supported (a WITH clause may only introduce a SELECT)");
    }
    return analysis.status();
  }
  std::map<std::string, QueryFiles> tables;
  for (const auto& [key, needs] : analysis->tables) {
    const TableSchema* schema = lookup(needs.database, needs.table);
    if (schema == nullptr) continue;
    QueryOptions by_time;
    by_time.after = needs.After(*schema);
    by_time.before = needs.Before(*schema);
    TableScan scan;
    scan.table = key;
    ASSIGN_OR_RETURN(auto candidates, index_->Query(needs.database, needs.table, by_time));
    if (!by_time.after && !by_time.before) {
      scan.files_total = static_cast<int64_t>(candidates.size());
      scan.pruned_by_time = 0;
    } else if (count_totals) {
      ASSIGN_OR_RETURN(auto all, index_->Query(needs.database, needs.table, QueryOptions{}));
      scan.files_total = static_cast<int64_t>(all.size());
      scan.pruned_by_time = scan.files_total - static_cast<int64_t>(candidates.size());
    }
    std::vector<IndexEntry> kept;
    for (auto& entry : candidates) {
      if (EntryMayMatch(entry, *schema, needs)) kept.push_back(std::move(entry));
    }
    scan.pruned_by_stats = static_cast<int64_t>(candidates.size() - kept.size());
    scan.files_scanned = static_cast<int64_t>(kept.size());
    if (TestFaultDropsOneFile() && kept.size() > 1) kept.erase(kept.begin());
    tables[key] = QueryFiles{*schema, std::move(kept), scan};
  }
  if (analysis_out != nullptr) *analysis_out = std::move(*analysis);
  return tables;
}

absl::StatusOr<std::map<std::string, Engine::QueryFiles>> Engine::ListQueryFiles(
    const std::string& query) {
  return PruneQueryTables(query, /*count_totals=*/true, nullptr);
}

absl::StatusOr<std::vector<TableScan>> Engine::ExposePrunedTables(const std::string& query,
                                                                  std::string* rewritten,
                                                                  bool count_totals) {
  QueryAnalysis analysis_value;
  QueryAnalysis* analysis = &analysis_value;
  ASSIGN_OR_RETURN(auto tables, PruneQueryTables(query, count_totals, analysis));
  SchemaLookup lookup = [this](const std::string& database,
                               const std::string& table) -> const TableSchema* {
    auto it = schema_cache_.find(database + "." + table);
    return it == schema_cache_.end() ? nullptr : &it->second;
  };
  std::vector<TableScan> scans;
  std::map<std::string, std::vector<IndexEntry>> kept_by_table;
  for (auto& [key, table] : tables) {
    RETURN_IF_ERROR(ExposeTable(table.schema, table.files));
    scans.push_back(table.scan);
    kept_by_table[key] = std::move(table.files);
  }
  if (rewritten == nullptr || analysis->references.size() < 2) return scans;

  // Give every reference its own view, so `t a JOIN t b` with different time
  // windows reads only what each side needs.
  std::vector<std::string> view_names(analysis->references.size());
  std::map<std::string, std::set<std::string>> scanned_paths;
  for (size_t i = 0; i < analysis->references.size(); ++i) {
    const auto& reference = analysis->references[i];
    if (reference.table_key.empty()) continue;
    const TableNeeds& needs = analysis->tables.at(reference.table_key);
    const TableSchema* schema = lookup(needs.database, needs.table);
    if (schema == nullptr) continue;
    TableNeeds single{needs.database, needs.table, {reference.constraints}};
    std::vector<IndexEntry> kept;
    for (const auto& entry : kept_by_table[reference.table_key]) {
      if (EntryMayMatch(entry, *schema, single)) {
        kept.push_back(entry);
        scanned_paths[reference.table_key].insert(entry.path);
      }
    }
    view_names[i] = fmt::format("{}{}", kReferenceViewPrefix, i);
    RETURN_IF_ERROR(ExposeTableAs(*schema, kept, "main", view_names[i]));
  }
  auto sql = RewriteReferences(*connection_, *analysis, view_names);
  if (!sql.ok()) return scans;  // one view per table still answers correctly
  *rewritten = std::move(*sql);
  for (auto& scan : scans) {
    int64_t scanned = static_cast<int64_t>(scanned_paths[scan.table].size());
    scan.pruned_by_stats += scan.files_scanned - scanned;
    scan.files_scanned = scanned;
  }
  return scans;
}

absl::StatusOr<StatementOutcome> Engine::RunQuery(const std::string& statement, ResultSink& sink,
                                                  bool explain, size_t explained_begin) {
  Stopwatch watch;
  std::string query = explain ? statement.substr(explained_begin) : statement;
  StatementOutcome outcome;
  outcome.statement_kind = explain ? "EXPLAIN" : "SELECT";
  std::string rewritten;
  ASSIGN_OR_RETURN(outcome.scans,
                   ExposePrunedTables(query, &rewritten, explain || options_.count_total_files));
  std::string run = rewritten.empty() ? query : rewritten;

  if (explain) {
    RETURN_IF_ERROR(sink.Begin({"explain_key", "explain_value"}));
    std::vector<std::vector<std::optional<std::string>>> rows;
    for (const auto& scan : outcome.scans) {
      rows.push_back({"shardlake files",
                      fmt::format("{}: {} of {} files scanned, {} pruned by time range, {} by "
                                  "column statistics",
                                  scan.table, scan.files_scanned, scan.files_total,
                                  scan.pruned_by_time, scan.pruned_by_stats)});
    }
    auto plan = connection_->Query(statement.substr(0, explained_begin) + run);
    if (!plan.ok() && run != query)
      plan = connection_->Query(statement.substr(0, explained_begin) + query);
    if (!plan.ok()) return ExplainUnknownTable(plan.status());
    ASSIGN_OR_RETURN(auto plan_rows, (*plan)->FetchAllAsStrings());
    for (auto& row : plan_rows) rows.push_back(std::move(row));
    RETURN_IF_ERROR(sink.Rows(rows));
    RETURN_IF_ERROR(sink.End());
    outcome.produced_rows = true;
    outcome.rows = static_cast<int64_t>(rows.size());
    outcome.seconds = watch.ElapsedSeconds();
    return outcome;
  }
  // Binding costs milliseconds per statement, so the query as written is not
  // bound ahead of the run (the run binds the per-reference rewrite, plus one
  // DESCRIBE for sinks that want column types). Only a failure before any
  // output binds the query as written, so that errors point into the user's
  // text, and retries it when it was the rewrite that failed.
  bool began = false;
  auto rows = StreamRows(run, sink, &began);
  if (!rows.ok() && !began) {
    if (auto prepared = connection_->Prepare(query); !prepared.ok()) {
      return ExplainUnknownTable(prepared.status());
    }
    if (run != query) rows = StreamRows(query, sink);
  }
  if (!rows.ok()) return rows.status();
  outcome.rows = *rows;
  outcome.produced_rows = true;
  outcome.seconds = watch.ElapsedSeconds();
  return outcome;
}

absl::StatusOr<StatementOutcome> Engine::RunCreateTable(const std::string& statement,
                                                        const StatementHead& head) {
  if (head.create_as_select) {
    return absl::UnimplementedError(
        "CREATE TABLE ... AS SELECT is not supported yet: CREATE TABLE with columns, then "
        "INSERT INTO ... SELECT");
  }
  std::string database =
      head.target.database.empty() ? options_.default_database : head.target.database;
  RETURN_IF_ERROR(ValidateName(database, "database"));
  RETURN_IF_ERROR(ValidateName(head.target.table, "table"));

  // Let DuckDB parse and type the definition in a scratch database.
  ASSIGN_OR_RETURN(auto scratch, duck::Database::Open(""));
  ASSIGN_OR_RETURN(auto conn, duck::Connection::Open(*scratch));
  RETURN_IF_ERROR(conn->Execute(
      fmt::format("CREATE SCHEMA IF NOT EXISTS {}",
                  QuoteIdentifier(head.target.database.empty() ? "main" : head.target.database))));
  RETURN_IF_ERROR(conn->Execute(statement));
  ASSIGN_OR_RETURN(auto constraints,
                   conn->Query("SELECT count(*)::VARCHAR FROM duckdb_constraints()"));
  ASSIGN_OR_RETURN(auto constraint_rows, constraints->FetchAllAsStrings());
  if (!constraint_rows.empty() && constraint_rows[0][0] != "0") {
    return absl::InvalidArgumentError(
        "constraints (PRIMARY KEY, UNIQUE, NOT NULL, CHECK, FOREIGN KEY) are not supported on "
        "lake tables: they cannot be enforced on Parquet files written by many writers");
  }
  ASSIGN_OR_RETURN(auto columns,
                   conn->Query("SELECT column_name, data_type FROM duckdb_columns() WHERE NOT "
                               "internal ORDER BY column_index"));
  ASSIGN_OR_RETURN(auto rows, columns->FetchAllAsStrings());
  TableSchema schema;
  schema.database = database;
  schema.table = head.target.table;
  for (const auto& row : rows) schema.columns.push_back({*row[0], *row[1]});
  if (schema.columns.empty()) return absl::InvalidArgumentError("a table needs columns");
  std::set<std::string> seen;
  for (const auto& column : schema.columns) {
    if (Lower(column.name).rfind("__shardlake", 0) == 0) {
      return absl::InvalidArgumentError(
          fmt::format("column name '{}' is reserved (prefix __shardlake)", column.name));
    }
  }
  schema.time_column = ChooseTimeColumn(schema.columns);
  schema.created_at = NowUnixNanos();

  StatementOutcome outcome;
  outcome.statement_kind = "CREATE TABLE";
  auto existing = index_->GetTable(database, schema.table);
  if (existing.ok()) {
    if (head.if_not_exists) {
      outcome.message =
          fmt::format("table {} already exists; nothing changed", QualifiedName(schema));
      return outcome;
    }
    if (!head.or_replace) {
      return absl::AlreadyExistsError(fmt::format(
          "table {} already exists (use CREATE OR REPLACE TABLE to replace it and its data, or "
          "IF NOT EXISTS)",
          QualifiedName(schema)));
    }
    StatementHead drop;
    drop.target = {database, schema.table};
    RETURN_IF_ERROR(RunDropTable(drop).status());
  }
  RETURN_IF_ERROR(index_->CreateTable(schema));
  outcome.message =
      fmt::format("created table {} ({} columns{})", QualifiedName(schema), schema.columns.size(),
                  schema.time_column.empty()
                      ? ", no time column: flat layout"
                      : fmt::format(", time column {}: date=/hour= layout", schema.time_column));
  return outcome;
}

absl::StatusOr<StatementOutcome> Engine::RunInsert(const std::string& statement,
                                                   const StatementHead& head) {
  std::string name = head.target.database.empty() ? head.target.table
                                                  : head.target.database + "." + head.target.table;
  ASSIGN_OR_RETURN(TableSchema schema, ResolveTable(name));
  // Run DuckDB's INSERT unchanged, except that it targets a staging table with
  // the table's columns; the rows then take the ingest path like any load.
  // DuckDB 1.4 has no cast from TIMESTAMPTZ (e.g. now()) to TIMESTAMP_NS, but
  // both reach it exactly through text, so such columns are staged as VARCHAR
  // and cast on the ingest path.
  std::string columns;
  for (const auto& column : schema.columns) {
    if (!columns.empty()) columns += ", ";
    bool via_text = Lower(column.type) == "timestamp_ns";
    columns += QuoteIdentifier(column.name) + " " + (via_text ? "VARCHAR" : column.type);
  }
  RETURN_IF_ERROR(connection_->Execute(
      fmt::format("CREATE OR REPLACE TEMP TABLE {} ({})", kInsertStagingTable, columns)));
  struct DropStaging {
    duck::Connection& connection;
    ~DropStaging() {
      (void)connection.Execute(fmt::format("DROP TABLE IF EXISTS temp.{}", kInsertStagingTable));
    }
  } drop_staging{*connection_};
  std::string source = statement.substr(head.source_begin);
  auto source_head = ParseStatementHead(source);
  if (source_head.ok() && source_head->keyword != "DEFAULT") {
    RETURN_IF_ERROR(ExposePrunedTables(source).status());
  }
  std::string rewritten = statement.substr(0, head.target_begin) + "temp." + kInsertStagingTable +
                          statement.substr(head.target_end);
  auto inserted = connection_->Query(rewritten);
  if (!inserted.ok()) return ExplainUnknownTable(inserted.status());
  ASSIGN_OR_RETURN(
      auto stats, ingester_->IngestSelect(
                      schema, fmt::format("SELECT * FROM temp.{}", kInsertStagingTable), "INSERT"));
  StatementOutcome outcome;
  outcome.statement_kind = "INSERT";
  outcome.rows = stats.rows;
  outcome.message = fmt::format("inserted {} row(s) into {} ({} file(s))", stats.rows,
                                QualifiedName(schema), stats.files);
  return outcome;
}

absl::StatusOr<StatementOutcome> Engine::RunDropTable(const StatementHead& head) {
  std::string database =
      head.target.database.empty() ? options_.default_database : head.target.database;
  StatementOutcome outcome;
  outcome.statement_kind = "DROP TABLE";
  auto removed = index_->DropTable(database, head.target.table);
  if (!removed.ok()) {
    if (removed.status().code() == absl::StatusCode::kNotFound && head.if_exists) {
      outcome.message = "table does not exist; nothing changed";
      return outcome;
    }
    if (removed.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(fmt::format("table {}.{} does not exist ({})", database,
                                             head.target.table, TableListing()));
    }
    return removed.status();
  }
  // The catalog no longer names the files; delete them (leftovers are orphans).
  std::vector<std::string> keys;
  for (const auto& entry : *removed) {
    keys.push_back(database + "/" + head.target.table + "/" + entry.path);
  }
  absl::Status deleted = store_->Delete(keys);
  (void)connection_->Execute(fmt::format("DROP VIEW IF EXISTS {}.{}", QuoteIdentifier(database),
                                         QuoteIdentifier(head.target.table)));
  outcome.message = fmt::format(
      "dropped table {}.{} ({} file(s){})", database, head.target.table, keys.size(),
      deleted.ok() ? "" : "; some files remain as orphans: " + std::string(deleted.message()));
  return outcome;
}

absl::StatusOr<StatementOutcome> Engine::RunPassThrough(const std::string& statement,
                                                        ResultSink& sink, bool expose_tables) {
  Stopwatch watch;
  if (expose_tables) RETURN_IF_ERROR(ExposeReferencedTables(statement));
  auto result = connection_->Query(statement);
  if (!result.ok()) return ExplainUnknownTable(result.status());
  StatementOutcome outcome;
  outcome.statement_kind = "STATEMENT";
  if ((*result)->ColumnCount() > 0) {
    std::vector<std::string> names;
    for (size_t i = 0; i < (*result)->ColumnCount(); ++i) {
      names.push_back((*result)->ColumnName(i));
    }
    // Re-render through DuckDB's casts only for queries; session statements
    // return plain values that GetString handles or that we print as-is.
    bool renderable = true;
    for (size_t i = 0; i < (*result)->ColumnCount(); ++i) {
      if ((*result)->ColumnKind(i) == duck::TypeKind::kOther) renderable = false;
    }
    if (!renderable) {
      ASSIGN_OR_RETURN(outcome.rows, StreamRows(statement, sink));
    } else {
      RETURN_IF_ERROR(sink.Begin(names));
      ASSIGN_OR_RETURN(auto rows, (*result)->FetchAllAsStrings());
      RETURN_IF_ERROR(sink.Rows(rows));
      RETURN_IF_ERROR(sink.End());
      outcome.rows = static_cast<int64_t>(rows.size());
    }
    outcome.produced_rows = true;
  }
  outcome.seconds = watch.ElapsedSeconds();
  return outcome;
}

absl::StatusOr<StatementOutcome> Engine::Execute(const std::string& statement, ResultSink& sink) {
  Stopwatch watch;
  // The previous statement has finished reading its cached copies.
  pinned_files_.clear();
  ASSIGN_OR_RETURN(StatementHead head, ParseStatementHead(statement));
  absl::StatusOr<StatementOutcome> outcome;
  switch (head.kind) {
    case StatementKind::kQuery:
      outcome = RunQuery(statement, sink, /*explain=*/false, 0);
      break;
    case StatementKind::kExplain:
      outcome = RunQuery(statement, sink, /*explain=*/true, head.explained_begin);
      break;
    case StatementKind::kCreateTable:
      outcome = RunCreateTable(statement, head);
      break;
    case StatementKind::kInsert:
      outcome = RunInsert(statement, head);
      break;
    case StatementKind::kDropTable:
      outcome = RunDropTable(head);
      break;
    case StatementKind::kDescribe:
      outcome = RunPassThrough(statement, sink, /*expose_tables=*/true);
      if (outcome.ok()) outcome->statement_kind = head.keyword;
      break;
    case StatementKind::kSession:
      outcome = RunPassThrough(statement, sink, /*expose_tables=*/false);
      if (outcome.ok()) outcome->statement_kind = head.keyword;
      break;
    case StatementKind::kCopyTo: {
      auto scans = ExposePrunedTables(head.copy_query);
      if (!scans.ok()) return scans.status();
      auto result = connection_->Query(statement);
      if (!result.ok()) return ExplainUnknownTable(result.status());
      auto count = (*result)->FetchAllAsStrings();
      if (!count.ok()) return count.status();
      StatementOutcome copied;
      copied.statement_kind = "COPY";
      copied.scans = *scans;
      copied.rows = count->empty() || !(*count)[0][0] ? 0 : std::stoll(*(*count)[0][0]);
      copied.message = fmt::format("exported {} row(s)", copied.rows);
      outcome = std::move(copied);
      break;
    }
    case StatementKind::kUnsupported:
      RETURN_IF_ERROR(parser_connection_->Parse(statement));
      if (head.keyword == "UPDATE" || head.keyword == "DELETE" || head.keyword == "TRUNCATE" ||
          head.keyword == "MERGE") {
        return absl::UnimplementedError(fmt::format(
            "{} is not supported: lake tables are append-only (DROP TABLE removes a table)",
            head.keyword));
      }
      return absl::UnimplementedError(fmt::format(
          "{} is not supported; shardlake runs SELECT, EXPLAIN, DESCRIBE, SHOW, SUMMARIZE, "
          "CREATE TABLE, INSERT INTO, DROP TABLE, SET and PRAGMA",
          head.keyword));
  }
  if (outcome.ok()) outcome->seconds = watch.ElapsedSeconds();
  return outcome;
}

absl::Status Engine::ExecuteScript(const std::string& sql, ResultSink& sink,
                                   std::vector<StatementOutcome>* outcomes) {
  ASSIGN_OR_RETURN(auto statements, SplitSqlStatements(sql));
  for (const auto& statement : statements) {
    ASSIGN_OR_RETURN(auto outcome, Execute(statement, sink));
    if (outcomes != nullptr) outcomes->push_back(std::move(outcome));
  }
  return absl::OkStatus();
}

absl::StatusOr<IngestStats> Engine::LoadFile(const std::string& table_name,
                                             const std::string& path) {
  ASSIGN_OR_RETURN(TableSchema schema, ResolveTable(table_name));
  return ingester_->LoadFile(schema, path);
}

}  // namespace shardlake
