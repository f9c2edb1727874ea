#include "catalog/sqlite_index.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

#include "catalog/index_internal.h"
#include "catalog/merge_planning.h"
#include "catalog/sqlite_handle.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

using sqlite::BindText;
using sqlite::ColumnText;
using sqlite::StatusForCode;

constexpr int kBusyTimeoutMs = 10'000;

constexpr const char* kCreateSchema = R"sql(
CREATE TABLE IF NOT EXISTS files (
  database   TEXT NOT NULL,
  tbl        TEXT NOT NULL,
  path       TEXT NOT NULL,
  layer      TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  row_count  INTEGER NOT NULL,
  chunk_time INTEGER NOT NULL,
  min_json   TEXT NOT NULL,
  max_json   TEXT NOT NULL,
  min_time   INTEGER NOT NULL,
  max_time   INTEGER NOT NULL,
  writer_id  TEXT NOT NULL,
  PRIMARY KEY (database, tbl, path)
);
-- Time-range queries scan min_time in [after - longest span, before]; max_time
-- in the index filters without reading the rows.
CREATE INDEX IF NOT EXISTS files_by_time ON files (database, tbl, min_time, max_time);
-- Live entries per power-of-two bucket of (max_time - min_time): the largest
-- bucket bounds the longest span of a table (max_span = 2^bucket - 1).
CREATE TABLE IF NOT EXISTS spans (
  database TEXT NOT NULL,
  tbl      TEXT NOT NULL,
  bucket   INTEGER NOT NULL,
  max_span INTEGER NOT NULL,
  files    INTEGER NOT NULL,
  PRIMARY KEY (database, tbl, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS folders (
  database TEXT NOT NULL,
  tbl      TEXT NOT NULL,
  folder   TEXT NOT NULL,
  files    INTEGER NOT NULL,
  PRIMARY KEY (database, tbl, folder)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tables (
  database    TEXT NOT NULL,
  tbl         TEXT NOT NULL,
  schema_json TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (database, tbl)
) WITHOUT ROWID;
-- Version 2: merge-plan leases and the drop queue.
CREATE TABLE IF NOT EXISTS merge_leases (
  id         TEXT PRIMARY KEY,
  database   TEXT NOT NULL,
  tbl        TEXT NOT NULL,
  expires_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS merge_leases_by_table ON merge_leases (database, tbl, expires_ns);
CREATE TABLE IF NOT EXISTS leased_files (
  database TEXT NOT NULL,
  tbl      TEXT NOT NULL,
  path     TEXT NOT NULL,
  lease_id TEXT NOT NULL,
  PRIMARY KEY (database, tbl, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS leased_files_by_lease ON leased_files (lease_id);
CREATE TABLE IF NOT EXISTS drops (
  database TEXT NOT NULL,
  tbl      TEXT NOT NULL,
  path     TEXT NOT NULL,
  due_ns   INTEGER NOT NULL,
  PRIMARY KEY (database, tbl, path)
) WITHOUT ROWID;
)sql";

constexpr const char* kEntryColumns =
    "path, layer, size_bytes, row_count, chunk_time, min_json, max_json, min_time, max_time, "
    "writer_id";

// Query statement variants, by which filters are bound.
constexpr int kHasAfter = 1;
constexpr int kHasBefore = 2;
constexpr int kHasFolder = 4;

// The path index SQLite creates for PRIMARY KEY (database, tbl, path).
constexpr const char* kPathIndex = "sqlite_autoindex_files_1";

// The plan is fixed rather than left to the planner (which has no statistics):
// a folder bounds the scan to that folder's paths, so with a folder the path
// index is used even when a time range is set too; without one, a time range
// scans files_by_time.
std::string QuerySql(int variant) {
  bool by_time = (variant & (kHasAfter | kHasBefore)) != 0 && (variant & kHasFolder) == 0;
  std::string sql =
      fmt::format("SELECT {} FROM files INDEXED BY {} WHERE database = ?1 AND tbl = ?2",
                  kEntryColumns, by_time ? "files_by_time" : kPathIndex);
  if (variant & kHasAfter) {
    // An entry overlapping [after, ...] starts at most its span before `after`,
    // and no span exceeds the table's largest max_span (NULL only for a table
    // without entries, which then matches nothing). If the subtraction
    // overflows, SQLite computes it as REAL, still a correct lower bound.
    sql +=
        " AND min_time >= ?3 - (SELECT max(max_span) FROM spans"
        " WHERE database = ?1 AND tbl = ?2) AND max_time >= ?3";
  }
  if (variant & kHasBefore) sql += " AND min_time <= ?4";
  if (variant & kHasFolder) sql += " AND path >= ?5 AND path < ?6";
  // With the time index, rows come in min_time order and Query sorts them,
  // which is cheaper than SQLite's sorter; the path index yields path order.
  if (!by_time) sql += " ORDER BY path";
  return sql;
}

std::string_view FolderView(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

// Stats (IndexEntry::min / max) are stored as JSON text. Almost all are flat
// objects of numbers, short strings and booleans; the fast paths below encode
// and decode those several times faster than nlohmann's general code, which
// handles everything else (nested values, escapes, non-ASCII text).

// A string that JSON needs no escaping for, and that is plain ASCII.
bool IsPlainString(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x80 || c == '"' || c == '\\') return false;
  }
  return true;
}

// Appends `stats` to `out` if it is a flat object of plain values.
bool AppendFlatObject(const nlohmann::json& stats, std::string* out) {
  if (!stats.is_object()) return false;
  out->push_back('{');
  bool first = true;
  for (const auto& [key, value] : stats.get_ref<const nlohmann::json::object_t&>()) {
    if (!IsPlainString(key)) return false;
    if (!first) out->push_back(',');
    first = false;
    out->push_back('"');
    out->append(key);
    out->append("\":");
    switch (value.type()) {
      case nlohmann::json::value_t::string: {
        const std::string& text = value.get_ref<const std::string&>();
        if (!IsPlainString(text)) return false;
        out->push_back('"');
        out->append(text);
        out->push_back('"');
        break;
      }
      case nlohmann::json::value_t::number_integer: {
        fmt::format_int digits(value.get<int64_t>());
        out->append(digits.data(), digits.size());
        break;
      }
      case nlohmann::json::value_t::number_unsigned: {
        fmt::format_int digits(value.get<uint64_t>());
        out->append(digits.data(), digits.size());
        break;
      }
      case nlohmann::json::value_t::number_float: {
        double d = value.get<double>();
        if (!std::isfinite(d)) return false;
        char buffer[64];
        // The shortest text that reads back as exactly `d`.
        std::string_view text(buffer,
                              static_cast<size_t>(fmt::format_to(buffer, "{}", d) - buffer));
        out->append(text);
        if (text.find_first_of(".eE") == std::string_view::npos) out->append(".0");  // stay a float
        break;
      }
      case nlohmann::json::value_t::boolean:
        out->append(value.get<bool>() ? "true" : "false");
        break;
      case nlohmann::json::value_t::null:
        out->append("null");
        break;
      default:
        return false;
    }
  }
  out->push_back('}');
  return true;
}

std::string DumpStats(const nlohmann::json& stats) {
  std::string out;
  out.reserve(128);
  if (AppendFlatObject(stats, &out)) return out;
  // Replaces invalid UTF-8 instead of throwing.
  return stats.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Decodes stored stats; a discarded value when the text is not JSON.
nlohmann::json ParseStats(std::string_view text) { return ParseStatsJson(text); }

// Sorts entries by path, moving each entry once.
void SortByPath(std::vector<IndexEntry>* entries) {
  auto by_path = [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; };
  if (std::is_sorted(entries->begin(), entries->end(), by_path)) return;
  std::vector<size_t> order(entries->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return (*entries)[a].path < (*entries)[b].path; });
  std::vector<IndexEntry> sorted;
  sorted.reserve(entries->size());
  for (size_t i : order) sorted.push_back(std::move((*entries)[i]));
  *entries = std::move(sorted);
}

// The power-of-two bucket of an entry's span: bit_width(max_time - min_time),
// 0..64. Every span in bucket b is at most 2^b - 1 (BindBucketMaxSpan).
int SpanBucket(int64_t min_time, int64_t max_time) {
  return static_cast<int>(
      std::bit_width(static_cast<uint64_t>(max_time) - static_cast<uint64_t>(min_time)));
}

// Binds 2^bucket - 1 to parameter `index`: an INTEGER up to bucket 63, and
// for bucket 64 (spans of 2^63 ns or more) the REAL 2^64, so that
// `after - max_span` is still a lower bound (SQLite computes it as REAL).
void BindBucketMaxSpan(sqlite3_stmt* stmt, int index, int bucket) {
  if (bucket >= 64) {
    sqlite3_bind_double(stmt, index, 18446744073709551616.0);
  } else if (bucket == 63) {
    sqlite3_bind_int64(stmt, index, std::numeric_limits<int64_t>::max());
  } else {
    sqlite3_bind_int64(stmt, index, (int64_t{1} << bucket) - 1);
  }
}

// Accumulates count changes keyed by (database, table, K). The string views
// must outlive the object.
template <typename K>
class CountDeltas {
 public:
  using Key = std::tuple<std::string_view, std::string_view, K>;

  void Add(std::string_view database, std::string_view table, K k, int64_t delta) {
    Key key{database, table, k};
    // Consecutive entries of a batch usually share the key.
    if (last_ == nullptr || last_->first != key) last_ = &*deltas_.try_emplace(key, 0).first;
    last_->second += delta;
  }

  const std::map<Key, int64_t>& deltas() const { return deltas_; }

 private:
  std::map<Key, int64_t> deltas_;
  std::pair<const Key, int64_t>* last_ = nullptr;
};

// A write transaction (BEGIN IMMEDIATE) that rolls back on scope exit unless
// Commit succeeded.
class Transaction {
 public:
  Transaction(sqlite3* db, sqlite3_stmt* commit, sqlite3_stmt* rollback, std::string what)
      : db_(db), commit_(commit), rollback_(rollback), what_(std::move(what)) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (active_ && !sqlite3_get_autocommit(db_)) {
      sqlite::StmtUse use(rollback_);
      sqlite3_step(rollback_);
    }
  }

  // `describe` prefixes the error message.
  absl::Status Commit(std::string_view describe) {
    sqlite::StmtUse use(commit_);
    int rc = sqlite3_step(commit_);
    if (rc != SQLITE_DONE) {
      return StatusForCode(
          rc, fmt::format("{}: {}: commit failed: {}", describe, what_, sqlite3_errmsg(db_)));
    }
    active_ = false;
    return absl::OkStatus();
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* commit_;
  sqlite3_stmt* rollback_;
  std::string what_;
  bool active_ = true;
};

}  // namespace

struct SqliteIndex::Impl {
  std::string path;
  std::string describe;
  std::vector<MergeConfig> merge_configs;

  std::mutex mu;  // serializes all use of the connection and statements
  // Declared before the statements so that it is destroyed after them.
  sqlite::Db db;
  sqlite::Stmt begin;
  sqlite::Stmt commit;
  sqlite::Stmt rollback;
  sqlite::Stmt insert_file;
  sqlite::Stmt delete_file;
  sqlite::Stmt get_file;
  sqlite::Stmt add_folder;
  sqlite::Stmt prune_folder;
  sqlite::Stmt add_span;
  sqlite::Stmt prune_span;
  sqlite::Stmt list_databases;
  sqlite::Stmt list_tables;
  sqlite::Stmt list_folders;
  sqlite::Stmt insert_table;
  sqlite::Stmt get_table;
  sqlite::Stmt table_files;
  sqlite::Stmt delete_table_files;
  sqlite::Stmt delete_table_folders;
  sqlite::Stmt delete_table_spans;
  sqlite::Stmt delete_table;
  std::array<sqlite::Stmt, 8> query;  // by variant, prepared on first use

  // An error for result code `rc` of an operation described by `what`.
  absl::Status Error(int rc, std::string_view what) const {
    return StatusForCode(rc, fmt::format("{}: {}: {}", describe, what, sqlite3_errmsg(db.get())));
  }

  absl::Status Prepare(const std::string& sql, sqlite::Stmt* out) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db.get(), sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    out->reset(raw);
    if (rc != SQLITE_OK) {
      return StatusForCode(rc == SQLITE_ERROR ? SQLITE_NOTADB : rc,
                           fmt::format("{}: not a usable shardlake catalog: {}", describe,
                                       sqlite3_errmsg(db.get())));
    }
    return absl::OkStatus();
  }

  // Steps a statement that returns no rows.
  absl::Status StepDone(sqlite3_stmt* stmt, std::string_view what) {
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) return Error(rc, what);
    return absl::OkStatus();
  }

  // Applies a validated batch inside the caller's write transaction.
  // REQUIRES: mu held, a transaction open.
  absl::Status ApplyBatch(const std::vector<IndexEntry>& add, const std::vector<IndexEntry>& remove,
                          const std::vector<std::string>& min_json,
                          const std::vector<std::string>& max_json) {
    // Net changes of the live entry counts per folder and per span bucket.
    CountDeltas<std::string_view> folder_delta;
    CountDeltas<int> span_delta;
    sqlite3_stmt* del = delete_file.get();
    for (const IndexEntry& e : remove) {
      sqlite::StmtUse use(del);
      BindText(del, 1, e.database);
      BindText(del, 2, e.table);
      BindText(del, 3, e.path);
      int rc = sqlite3_step(del);  // DELETE ... RETURNING min_time, max_time
      if (rc == SQLITE_DONE) {
        return absl::NotFoundError(
            fmt::format("{}: cannot remove '{}' from {}.{}: not in the index", describe, e.path,
                        e.database, e.table));
      }
      if (rc != SQLITE_ROW) return Error(rc, fmt::format("Batch: removing '{}'", e.path));
      int bucket = SpanBucket(sqlite3_column_int64(del, 0), sqlite3_column_int64(del, 1));
      rc = sqlite3_step(del);
      if (rc != SQLITE_DONE) return Error(rc, fmt::format("Batch: removing '{}'", e.path));
      folder_delta.Add(e.database, e.table, FolderView(e.path), -1);
      span_delta.Add(e.database, e.table, bucket, -1);
    }
    sqlite3_stmt* ins = insert_file.get();
    for (size_t i = 0; i < add.size(); ++i) {
      const IndexEntry& e = add[i];
      sqlite::StmtUse use(ins);
      BindText(ins, 1, e.database);
      BindText(ins, 2, e.table);
      BindText(ins, 3, e.path);
      BindText(ins, 4, e.layer);
      sqlite3_bind_int64(ins, 5, e.size_bytes);
      sqlite3_bind_int64(ins, 6, e.row_count);
      sqlite3_bind_int64(ins, 7, e.chunk_time);
      BindText(ins, 8, min_json[i]);
      BindText(ins, 9, max_json[i]);
      sqlite3_bind_int64(ins, 10, e.min_time);
      sqlite3_bind_int64(ins, 11, e.max_time);
      BindText(ins, 12, e.writer_id);
      int rc = sqlite3_step(ins);
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        return absl::AlreadyExistsError(fmt::format("{}: cannot add '{}' to {}.{}: already indexed",
                                                    describe, e.path, e.database, e.table));
      }
      if (rc != SQLITE_DONE) return Error(rc, fmt::format("Batch: adding '{}'", e.path));
      folder_delta.Add(e.database, e.table, FolderView(e.path), 1);
      span_delta.Add(e.database, e.table, SpanBucket(e.min_time, e.max_time), 1);
    }
    for (const auto& [key, delta] : folder_delta.deltas()) {
      if (delta == 0) continue;
      const auto& [database, table, folder] = key;
      RETURN_IF_ERROR(ApplyCount(
          add_folder.get(), prune_folder.get(), database, table,
          [&](sqlite3_stmt* stmt) { BindText(stmt, 3, folder); }, delta,
          "Batch: updating folder counts"));
    }
    for (const auto& [key, delta] : span_delta.deltas()) {
      if (delta == 0) continue;
      const auto& [database, table, bucket] = key;
      RETURN_IF_ERROR(ApplyCount(
          add_span.get(), prune_span.get(), database, table,
          [&](sqlite3_stmt* stmt) {
            sqlite3_bind_int(stmt, 3, bucket);
            if (sqlite3_bind_parameter_count(stmt) >= 5) {
              BindBucketMaxSpan(stmt, 5, bucket);
            }
          },
          delta, "Batch: updating span counts"));
    }
    return absl::OkStatus();
  }

  // The stored schema JSON of a table. Errors: NotFound when the table has no
  // schema. REQUIRES: mu held.
  absl::StatusOr<std::string> SchemaJson(const std::string& database, const std::string& table,
                                         std::string_view what) {
    sqlite3_stmt* stmt = get_table.get();
    sqlite::StmtUse use(stmt);
    BindText(stmt, 1, database);
    BindText(stmt, 2, table);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) {
      return absl::NotFoundError(
          fmt::format("{}: table {}.{} does not exist", describe, database, table));
    }
    if (rc != SQLITE_ROW) return Error(rc, fmt::format("{} {}.{}", what, database, table));
    return ColumnText(stmt, 0);
  }

  // Runs a statement (prepared for this call; for infrequent operations) with
  // text parameters ?1, ?2, ... and returns its rows as text.
  absl::StatusOr<std::vector<std::vector<std::string>>> Rows(const std::string& sql,
                                                             const std::vector<std::string>& args) {
    sqlite::Stmt stmt;
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr);
    stmt.reset(raw);
    if (rc != SQLITE_OK) return Error(rc, sql);
    for (size_t i = 0; i < args.size(); ++i) BindText(raw, static_cast<int>(i + 1), args[i]);
    std::vector<std::vector<std::string>> rows;
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(raw); ++c) row.push_back(ColumnText(raw, c));
      rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return Error(rc, sql);
    return rows;
  }

  absl::Status Run(const std::string& sql, const std::vector<std::string>& args) {
    return Rows(sql, args).status();
  }

  // Starts a write transaction (waiting up to the busy timeout for other writers).
  absl::StatusOr<std::unique_ptr<Transaction>> Begin(std::string_view what) {
    sqlite::StmtUse use(begin.get());
    int rc = sqlite3_step(begin.get());
    if (rc != SQLITE_DONE) {
      return Error(rc, fmt::format("{}: cannot start a write transaction", what));
    }
    return std::make_unique<Transaction>(db.get(), commit.get(), rollback.get(), std::string(what));
  }

  // Adds `delta` to a count row (folders or spans) with `upsert`, binding
  // ?1 database, ?2 table, ?4 delta and the rest of the key via `bind_key`;
  // then deletes the row with `prune` if the count dropped to zero.
  template <typename BindKey>
  absl::Status ApplyCount(sqlite3_stmt* upsert, sqlite3_stmt* prune, std::string_view database,
                          std::string_view table, const BindKey& bind_key, int64_t delta,
                          std::string_view what) {
    {
      sqlite::StmtUse use(upsert);
      BindText(upsert, 1, database);
      BindText(upsert, 2, table);
      bind_key(upsert);
      sqlite3_bind_int64(upsert, 4, delta);
      RETURN_IF_ERROR(StepDone(upsert, what));
    }
    if (delta < 0) {
      sqlite::StmtUse use(prune);
      BindText(prune, 1, database);
      BindText(prune, 2, table);
      bind_key(prune);
      RETURN_IF_ERROR(StepDone(prune, what));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<sqlite3_stmt*> QueryStmt(int variant) {
    sqlite::Stmt& stmt = query[static_cast<size_t>(variant)];
    if (!stmt) RETURN_IF_ERROR(Prepare(QuerySql(variant), &stmt));
    return stmt.get();
  }

  // Reads an entry from columns kEntryColumns of the current row.
  absl::StatusOr<IndexEntry> ReadEntry(sqlite3_stmt* stmt, const std::string& database,
                                       const std::string& table) const {
    IndexEntry entry;
    entry.database = database;
    entry.table = table;
    entry.path = ColumnText(stmt, 0);
    entry.layer = ColumnText(stmt, 1);
    entry.size_bytes = sqlite3_column_int64(stmt, 2);
    entry.row_count = sqlite3_column_int64(stmt, 3);
    entry.chunk_time = sqlite3_column_int64(stmt, 4);
    for (int column : {5, 6}) {
      auto text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
      size_t size = static_cast<size_t>(sqlite3_column_bytes(stmt, column));
      nlohmann::json stats =
          ParseStats(text == nullptr ? std::string_view("{}") : std::string_view(text, size));
      if (stats.is_discarded()) {
        return absl::DataLossError(fmt::format("{}: entry '{}' of {}.{} has invalid {} JSON",
                                               describe, entry.path, database, table,
                                               column == 5 ? "min" : "max"));
      }
      (column == 5 ? entry.min : entry.max) = std::move(stats);
    }
    entry.min_time = sqlite3_column_int64(stmt, 7);
    entry.max_time = sqlite3_column_int64(stmt, 8);
    entry.writer_id = ColumnText(stmt, 9);
    return entry;
  }

  // Binds the filters of `options` to a query statement of `variant`.
  // `prefix_low` / `prefix_high` must outlive the statement's use.
  static void BindQuery(sqlite3_stmt* stmt, const std::string& database, const std::string& table,
                        const QueryOptions& options, const std::string& prefix_low,
                        const std::string& prefix_high) {
    BindText(stmt, 1, database);
    BindText(stmt, 2, table);
    if (options.after) sqlite3_bind_int64(stmt, 3, *options.after);
    if (options.before) sqlite3_bind_int64(stmt, 4, *options.before);
    if (!prefix_low.empty()) {
      BindText(stmt, 5, prefix_low);
      BindText(stmt, 6, prefix_high);
    }
  }
};

absl::StatusOr<std::unique_ptr<SqliteIndex>> SqliteIndex::Open(const std::string& path,
                                                               const std::string& describe,
                                                               const IndexOptions& options) {
  auto open_error = [&](absl::StatusCode code, std::string_view problem) {
    return absl::Status(code, fmt::format("cannot open SQLite catalog '{}': {}", path, problem));
  };
  if (path.empty()) return open_error(absl::StatusCode::kInvalidArgument, "empty path");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return open_error(absl::StatusCode::kFailedPrecondition, "it is a directory");
  }
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    return open_error(absl::StatusCode::kUnavailable,
                      fmt::format("directory '{}' does not exist", parent.string()));
  }

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->describe = describe;
  impl->merge_configs = options.merge_configs;
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  impl->db.reset(raw);  // owned even on failure
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return StatusForCode(rc, fmt::format("cannot open SQLite catalog '{}': {}", path, message));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  sqlite::TraceIfDebugging(raw);

  // The first statement that reads the file reports a non-SQLite file.
  auto setup = [&](const char* sql) -> absl::Status {
    int rc = sqlite3_exec(raw, sql, nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return absl::OkStatus();
    return StatusForCode(
        rc, fmt::format("cannot open SQLite catalog '{}': {}", path, sqlite3_errmsg(raw)));
  };
  RETURN_IF_ERROR(setup("PRAGMA journal_mode = WAL"));
  RETURN_IF_ERROR(setup("PRAGMA synchronous = NORMAL"));
  RETURN_IF_ERROR(setup("PRAGMA cache_size = -65536"));
  RETURN_IF_ERROR(setup("PRAGMA temp_store = MEMORY"));

  // Create or check the schema in one write transaction, so that processes
  // opening a new file at the same time do not race.
  RETURN_IF_ERROR(setup("BEGIN IMMEDIATE"));
  auto schema = [&]() -> absl::Status {
    RETURN_IF_ERROR(setup("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
    sqlite::Stmt version_stmt;
    RETURN_IF_ERROR(impl->Prepare("SELECT max(version) FROM schema_version", &version_stmt));
    int step = sqlite3_step(version_stmt.get());
    if (step != SQLITE_ROW) return impl->Error(step, "cannot read the schema version");
    bool fresh = sqlite3_column_type(version_stmt.get(), 0) == SQLITE_NULL;
    int64_t version = sqlite3_column_int64(version_stmt.get(), 0);
    version_stmt.reset();
    if (!fresh && version > kSchemaVersion) {
      return open_error(absl::StatusCode::kFailedPrecondition,
                        fmt::format("catalog schema version {} is newer than this build "
                                    "understands ({}); upgrade shardlake",
                                    version, kSchemaVersion));
    }
    // Every version so far only adds tables and indexes, so creating what is
    // missing migrates an older catalog.
    RETURN_IF_ERROR(setup(kCreateSchema));
    if (fresh) {
      RETURN_IF_ERROR(setup(
          fmt::format("INSERT INTO schema_version (version) VALUES ({})", kSchemaVersion).c_str()));
    } else if (version < kSchemaVersion) {
      RETURN_IF_ERROR(
          setup(fmt::format("UPDATE schema_version SET version = {}", kSchemaVersion).c_str()));
    }
    return absl::OkStatus();
  }();
  if (!schema.ok()) {
    if (!sqlite3_get_autocommit(raw)) sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
    return schema;
  }
  RETURN_IF_ERROR(setup("COMMIT"));

  const std::string columns = kEntryColumns;
  struct {
    sqlite::Stmt* stmt;
    std::string sql;
  } statements[] = {
      {&impl->begin, "BEGIN IMMEDIATE"},
      {&impl->commit, "COMMIT"},
      {&impl->rollback, "ROLLBACK"},
      {&impl->insert_file,
       "INSERT INTO files (database, tbl, path, layer, size_bytes, row_count, chunk_time, "
       "min_json, max_json, min_time, max_time, writer_id) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"},
      {&impl->delete_file,
       "DELETE FROM files WHERE database = ?1 AND tbl = ?2 AND path = ?3 "
       "RETURNING min_time, max_time"},
      {&impl->get_file,
       "SELECT " + columns + " FROM files WHERE database = ?1 AND tbl = ?2 AND path = ?3"},
      {&impl->add_folder,
       "INSERT INTO folders (database, tbl, folder, files) VALUES (?1, ?2, ?3, ?4) "
       "ON CONFLICT (database, tbl, folder) DO UPDATE SET files = files + excluded.files"},
      {&impl->prune_folder,
       "DELETE FROM folders WHERE database = ?1 AND tbl = ?2 AND folder = ?3 AND files <= 0"},
      {&impl->add_span,
       "INSERT INTO spans (database, tbl, bucket, files, max_span) VALUES (?1, ?2, ?3, ?4, ?5) "
       "ON CONFLICT (database, tbl, bucket) DO UPDATE SET files = files + excluded.files"},
      {&impl->prune_span,
       "DELETE FROM spans WHERE database = ?1 AND tbl = ?2 AND bucket = ?3 AND files <= 0"},
      {&impl->list_databases,
       "SELECT database FROM tables UNION SELECT database FROM folders ORDER BY 1"},
      {&impl->list_tables,
       "SELECT tbl FROM tables WHERE database = ?1 "
       "UNION SELECT tbl FROM folders WHERE database = ?1 ORDER BY 1"},
      {&impl->list_folders,
       "SELECT folder FROM folders WHERE database = ?1 AND tbl = ?2 ORDER BY folder"},
      {&impl->insert_table,
       "INSERT INTO tables (database, tbl, schema_json, created_at) VALUES (?1, ?2, ?3, ?4)"},
      {&impl->get_table, "SELECT schema_json FROM tables WHERE database = ?1 AND tbl = ?2"},
      {&impl->table_files,
       "SELECT " + columns + " FROM files WHERE database = ?1 AND tbl = ?2 ORDER BY path"},
      {&impl->delete_table_files, "DELETE FROM files WHERE database = ?1 AND tbl = ?2"},
      {&impl->delete_table_folders, "DELETE FROM folders WHERE database = ?1 AND tbl = ?2"},
      {&impl->delete_table_spans, "DELETE FROM spans WHERE database = ?1 AND tbl = ?2"},
      {&impl->delete_table, "DELETE FROM tables WHERE database = ?1 AND tbl = ?2"},
  };
  for (auto& [stmt, sql] : statements) RETURN_IF_ERROR(impl->Prepare(sql, stmt));
  return std::unique_ptr<SqliteIndex>(new SqliteIndex(std::move(impl)));
}

SqliteIndex::SqliteIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SqliteIndex::~SqliteIndex() = default;

std::string SqliteIndex::Describe() const { return impl_->describe; }

absl::Status SqliteIndex::Batch(const std::vector<IndexEntry>& add,
                                const std::vector<IndexEntry>& remove) {
  RETURN_IF_ERROR(ValidateBatch(add, remove));
  if (add.empty() && remove.empty()) return absl::OkStatus();
  // Serialize the stats before taking the lock.
  std::vector<std::string> min_json(add.size());
  std::vector<std::string> max_json(add.size());
  for (size_t i = 0; i < add.size(); ++i) {
    min_json[i] = DumpStats(add[i].min);
    max_json[i] = DumpStats(add[i].max);
  }
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, impl.Begin("Batch"));
  RETURN_IF_ERROR(impl.ApplyBatch(add, remove, min_json, max_json));
  return txn->Commit(impl.describe);
}

absl::StatusOr<IndexEntry> SqliteIndex::Get(const std::string& database, const std::string& table,
                                            const std::string& path) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  sqlite3_stmt* stmt = impl.get_file.get();
  sqlite::StmtUse use(stmt);
  BindText(stmt, 1, database);
  BindText(stmt, 2, table);
  BindText(stmt, 3, path);
  int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) return impl.ReadEntry(stmt, database, table);
  if (rc != SQLITE_DONE) return impl.Error(rc, fmt::format("Get '{}'", path));
  return absl::NotFoundError(
      fmt::format("{}: '{}' of {}.{} is not in the index", impl.describe, path, database, table));
}

absl::StatusOr<std::vector<IndexEntry>> SqliteIndex::Query(const std::string& database,
                                                           const std::string& table,
                                                           const QueryOptions& options) {
  std::string folder = catalog_internal::NormalizedFolder(options);
  // Paths inside `folder` are those in [folder + "/", folder + "0"): '0' follows '/'.
  std::string prefix_low = folder.empty() ? "" : folder + "/";
  std::string prefix_high = folder.empty() ? "" : folder + "0";
  int variant = (options.after ? kHasAfter : 0) | (options.before ? kHasBefore : 0) |
                (folder.empty() ? 0 : kHasFolder);
  std::vector<IndexEntry> out;
  if (options.after && options.before && *options.after > *options.before) return out;
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  ASSIGN_OR_RETURN(sqlite3_stmt * stmt, impl.QueryStmt(variant));
  sqlite::StmtUse use(stmt);
  Impl::BindQuery(stmt, database, table, options, prefix_low, prefix_high);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    if (options.iteration != 0) {
      std::string path = ColumnText(stmt, 0);
      if (IterationOfPath(path) != options.iteration) continue;
    }
    ASSIGN_OR_RETURN(IndexEntry entry, impl.ReadEntry(stmt, database, table));
    out.push_back(std::move(entry));
  }
  if (rc != SQLITE_DONE) return impl.Error(rc, fmt::format("Query {}.{}", database, table));
  SortByPath(&out);
  return out;
}

absl::StatusOr<std::string> SqliteIndex::TEST_ExplainQuery(const std::string& database,
                                                           const std::string& table,
                                                           const QueryOptions& options) {
  std::string folder = catalog_internal::NormalizedFolder(options);
  std::string prefix_low = folder.empty() ? "" : folder + "/";
  std::string prefix_high = folder.empty() ? "" : folder + "0";
  int variant = (options.after ? kHasAfter : 0) | (options.before ? kHasBefore : 0) |
                (folder.empty() ? 0 : kHasFolder);
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  sqlite::Stmt stmt;
  RETURN_IF_ERROR(impl.Prepare("EXPLAIN QUERY PLAN " + QuerySql(variant), &stmt));
  Impl::BindQuery(stmt.get(), database, table, options, prefix_low, prefix_high);
  std::string plan;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    plan += ColumnText(stmt.get(), 3);
    plan += "\n";
  }
  if (rc != SQLITE_DONE) return impl.Error(rc, "EXPLAIN QUERY PLAN");
  return plan;
}

absl::StatusOr<std::vector<std::string>> SqliteIndex::ListDatabases() {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  sqlite3_stmt* stmt = impl.list_databases.get();
  sqlite::StmtUse use(stmt);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) out.push_back(ColumnText(stmt, 0));
  if (rc != SQLITE_DONE) return impl.Error(rc, "ListDatabases");
  return out;
}

absl::StatusOr<std::vector<std::string>> SqliteIndex::ListTables(const std::string& database) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  sqlite3_stmt* stmt = impl.list_tables.get();
  sqlite::StmtUse use(stmt);
  BindText(stmt, 1, database);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) out.push_back(ColumnText(stmt, 0));
  if (rc != SQLITE_DONE) return impl.Error(rc, fmt::format("ListTables {}", database));
  return out;
}

absl::StatusOr<std::vector<std::string>> SqliteIndex::ListFolders(const std::string& database,
                                                                  const std::string& table) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  sqlite3_stmt* stmt = impl.list_folders.get();
  sqlite::StmtUse use(stmt);
  BindText(stmt, 1, database);
  BindText(stmt, 2, table);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) out.push_back(ColumnText(stmt, 0));
  if (rc != SQLITE_DONE) return impl.Error(rc, fmt::format("ListFolders {}.{}", database, table));
  return out;
}

absl::Status SqliteIndex::CreateTable(const TableSchema& schema) {
  RETURN_IF_ERROR(catalog_internal::ValidateTableSchema(schema));
  std::string schema_json = TableSchemaToJson(schema).dump();
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, impl.Begin("CreateTable"));
  sqlite3_stmt* stmt = impl.insert_table.get();
  {
    sqlite::StmtUse use(stmt);
    BindText(stmt, 1, schema.database);
    BindText(stmt, 2, schema.table);
    BindText(stmt, 3, schema_json);
    sqlite3_bind_int64(stmt, 4, schema.created_at);
    int rc = sqlite3_step(stmt);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return absl::AlreadyExistsError(fmt::format("{}: table {}.{} already exists", impl.describe,
                                                  schema.database, schema.table));
    }
    if (rc != SQLITE_DONE) {
      return impl.Error(rc, fmt::format("CreateTable {}.{}", schema.database, schema.table));
    }
  }
  return txn->Commit(impl.describe);
}

absl::StatusOr<TableSchema> SqliteIndex::GetTable(const std::string& database,
                                                  const std::string& table) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  ASSIGN_OR_RETURN(std::string text, impl.SchemaJson(database, table, "GetTable"));
  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto schema = TableSchemaFromJson(json);
  if (!schema.ok()) {
    return absl::DataLossError(fmt::format("{}: stored schema of {}.{} is invalid: {}",
                                           impl.describe, database, table,
                                           std::string(schema.status().message())));
  }
  return schema;
}

absl::StatusOr<std::vector<IndexEntry>> SqliteIndex::DropTable(const std::string& database,
                                                               const std::string& table) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, impl.Begin("DropTable"));
  RETURN_IF_ERROR(impl.SchemaJson(database, table, "DropTable").status());
  std::vector<IndexEntry> removed;
  {
    sqlite3_stmt* stmt = impl.table_files.get();
    sqlite::StmtUse use(stmt);
    BindText(stmt, 1, database);
    BindText(stmt, 2, table);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      ASSIGN_OR_RETURN(IndexEntry entry, impl.ReadEntry(stmt, database, table));
      removed.push_back(std::move(entry));
    }
    if (rc != SQLITE_DONE) return impl.Error(rc, fmt::format("DropTable {}.{}", database, table));
  }
  {
    // Files queued for deletion go to the caller too.
    ASSIGN_OR_RETURN(
        auto drops,
        impl.Rows("SELECT path FROM drops WHERE database = ?1 AND tbl = ?2", {database, table}));
    for (auto& row : drops) {
      IndexEntry dropped;
      dropped.database = database;
      dropped.table = table;
      dropped.path = std::move(row[0]);
      removed.push_back(std::move(dropped));
    }
    for (const char* sql : {"DELETE FROM drops WHERE database = ?1 AND tbl = ?2",
                            "DELETE FROM leased_files WHERE database = ?1 AND tbl = ?2",
                            "DELETE FROM merge_leases WHERE database = ?1 AND tbl = ?2"}) {
      RETURN_IF_ERROR(impl.Run(sql, {database, table}));
    }
  }
  for (sqlite::Stmt* delete_stmt : {&impl.delete_table_files, &impl.delete_table_folders,
                                    &impl.delete_table_spans, &impl.delete_table}) {
    sqlite3_stmt* stmt = delete_stmt->get();
    sqlite::StmtUse use(stmt);
    BindText(stmt, 1, database);
    BindText(stmt, 2, table);
    RETURN_IF_ERROR(impl.StepDone(stmt, fmt::format("DropTable {}.{}", database, table)));
  }
  RETURN_IF_ERROR(txn->Commit(impl.describe));
  return removed;
}

absl::StatusOr<std::optional<MergePlan>> SqliteIndex::LeaseMergePlan(const std::string& database,
                                                                     const std::string& table,
                                                                     const LeaseRequest& request) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, impl.Begin("LeaseMergePlan"));
  std::string now = std::to_string(request.now_ns);
  // Expired leases release their files.
  RETURN_IF_ERROR(
      impl.Run("DELETE FROM leased_files WHERE lease_id IN (SELECT id FROM merge_leases WHERE "
               "database = ?1 AND tbl = ?2 AND expires_ns <= CAST(?3 AS INTEGER))",
               {database, table, now}));
  RETURN_IF_ERROR(impl.Run(
      "DELETE FROM merge_leases WHERE database = ?1 AND tbl = ?2 AND expires_ns <= CAST(?3 AS "
      "INTEGER)",
      {database, table, now}));
  ASSIGN_OR_RETURN(auto rows,
                   impl.Rows("SELECT path, size_bytes, chunk_time, layer FROM files f WHERE "
                             "database = ?1 AND tbl = ?2 AND NOT EXISTS (SELECT 1 FROM "
                             "leased_files l WHERE l.database = ?1 AND l.tbl = ?2 AND l.path = "
                             "f.path)",
                             {database, table}));
  std::vector<PlanCandidate> candidates;
  std::map<std::string, std::string> layers;
  for (auto& row : rows) {
    candidates.push_back({row[0], std::stoll(row[1]), std::stoll(row[2])});
    layers[row[0]] = row[3];
  }
  auto group = PickMergeGroup(std::move(candidates), impl.merge_configs, request.now_ns,
                              request.ignore_timeouts);
  if (!group) {
    RETURN_IF_ERROR(txn->Commit(impl.describe));  // keep the expiry cleanup
    return std::optional<MergePlan>();
  }
  MergePlan plan;
  plan.id = NewUuid();
  plan.database = database;
  plan.table = table;
  plan.layer = layers[group->sources.front()];
  plan.writer_id = request.writer_id;
  plan.folder = group->folder;
  plan.iteration = group->iteration;
  plan.sources = std::move(group->sources);
  plan.target = MergeTargetPath(plan.folder, plan.iteration);
  plan.lease_expires_ns = request.now_ns + request.lease_ns;
  RETURN_IF_ERROR(impl.Run(
      "INSERT INTO merge_leases (id, database, tbl, expires_ns) VALUES (?1, ?2, ?3, CAST(?4 AS "
      "INTEGER))",
      {plan.id, database, table, std::to_string(plan.lease_expires_ns)}));
  for (const auto& path : plan.sources) {
    RETURN_IF_ERROR(
        impl.Run("INSERT INTO leased_files (database, tbl, path, lease_id) VALUES (?1, ?2, ?3, ?4)",
                 {database, table, path, plan.id}));
  }
  RETURN_IF_ERROR(txn->Commit(impl.describe));
  return std::optional<MergePlan>(std::move(plan));
}

absl::Status SqliteIndex::CompleteMerge(const MergePlan& plan, const IndexEntry& merged,
                                        int64_t now_ns, int64_t drop_due_ns) {
  RETURN_IF_ERROR(catalog_internal::ValidateMergeCompletion(impl_->describe, plan, merged));
  std::vector<std::string> min_json{DumpStats(merged.min)};
  std::vector<std::string> max_json{DumpStats(merged.max)};
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, impl.Begin("CompleteMerge"));
  ASSIGN_OR_RETURN(auto lease,
                   impl.Rows("SELECT expires_ns FROM merge_leases WHERE id = ?1", {plan.id}));
  auto expired = [&]() {
    return absl::FailedPreconditionError(fmt::format(
        "{}: merge plan {} of {}.{}: the lease has expired or is unknown; nothing changed",
        impl.describe, plan.id, plan.database, plan.table));
  };
  if (lease.empty() || std::stoll(lease[0][0]) <= now_ns) return expired();
  ASSIGN_OR_RETURN(auto leased, impl.Rows("SELECT path FROM leased_files WHERE lease_id = ?1 "
                                          "ORDER BY path",
                                          {plan.id}));
  std::vector<IndexEntry> remove;
  for (auto& row : leased) {
    IndexEntry source;
    source.database = plan.database;
    source.table = plan.table;
    source.path = std::move(row[0]);
    remove.push_back(std::move(source));
  }
  if (remove.size() != plan.sources.size()) return expired();
  absl::Status applied = impl.ApplyBatch({merged}, remove, min_json, max_json);
  if (absl::IsNotFound(applied)) {
    return absl::FailedPreconditionError(
        fmt::format("merge plan {}: {}", plan.id, std::string(applied.message())));
  }
  RETURN_IF_ERROR(applied);
  RETURN_IF_ERROR(impl.Run("DELETE FROM leased_files WHERE lease_id = ?1", {plan.id}));
  RETURN_IF_ERROR(impl.Run("DELETE FROM merge_leases WHERE id = ?1", {plan.id}));
  for (const auto& source : remove) {
    RETURN_IF_ERROR(impl.Run(
        "INSERT OR REPLACE INTO drops (database, tbl, path, due_ns) VALUES (?1, ?2, ?3, CAST(?4 "
        "AS INTEGER))",
        {plan.database, plan.table, source.path, std::to_string(drop_due_ns)}));
  }
  return txn->Commit(impl.describe);
}

absl::Status SqliteIndex::AbandonMerge(const MergePlan& plan) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, impl.Begin("AbandonMerge"));
  RETURN_IF_ERROR(impl.Run("DELETE FROM leased_files WHERE lease_id = ?1", {plan.id}));
  RETURN_IF_ERROR(impl.Run("DELETE FROM merge_leases WHERE id = ?1", {plan.id}));
  return txn->Commit(impl.describe);
}

absl::StatusOr<std::vector<DropItem>> SqliteIndex::DueDrops(const std::string& database,
                                                            const std::string& table,
                                                            int64_t now_ns, size_t limit) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  ASSIGN_OR_RETURN(auto rows,
                   impl.Rows("SELECT path, due_ns FROM drops WHERE database = ?1 AND "
                             "tbl = ?2 AND due_ns <= CAST(?3 AS INTEGER) ORDER BY "
                             "due_ns, path LIMIT CAST(?4 AS INTEGER)",
                             {database, table, std::to_string(now_ns), std::to_string(limit)}));
  std::vector<DropItem> due;
  for (auto& row : rows) due.push_back({database, table, row[0], std::stoll(row[1])});
  return due;
}

absl::Status SqliteIndex::ForgetDrops(const std::vector<DropItem>& items) {
  if (items.empty()) return absl::OkStatus();
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mu);
  ASSIGN_OR_RETURN(std::unique_ptr<Transaction> txn, impl.Begin("ForgetDrops"));
  for (const auto& item : items) {
    RETURN_IF_ERROR(impl.Run("DELETE FROM drops WHERE database = ?1 AND tbl = ?2 AND path = ?3",
                             {item.database, item.table, item.path}));
  }
  return txn->Commit(impl.describe);
}

}  // namespace shardlake
