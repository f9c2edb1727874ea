#include "ingest/ingester.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/column_types.h"
#include "common/ids.h"
#include "common/sql_text.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The partition column: the UTC hour a row falls in, as whole hours since
// 1970. DuckDB's // truncates toward zero, so times before 1970 take the
// floor-division branch. An integer key is far cheaper than formatted dates.
constexpr char kHourColumn[] = "__shardlake_hour";
constexpr int64_t kNanosPerHour = 3'600'000'000'000LL;
// String statistics longer than this are not kept (a long max cannot be
// shortened without losing its meaning as an upper bound).
constexpr size_t kMaxStringStatBytes = 64;

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool EndsWith(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A staging directory removed with everything in it when this goes away.
class ScopedDirectory {
 public:
  explicit ScopedDirectory(fs::path path) : path_(std::move(path)) {}
  ~ScopedDirectory() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  ScopedDirectory(const ScopedDirectory&) = delete;
  ScopedDirectory& operator=(const ScopedDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// DuckDB's load errors end with a long dump of reader options; users need the
// first paragraph (what failed, on which line, the original line).
std::string TrimLoadError(std::string_view message) {
  std::string text(message);
  for (const char* marker : {"\n\n", "\nPossible fixes", "\nTry setting"}) {
    size_t cut = text.find(marker);
    if (cut != std::string::npos) text.resize(cut);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

absl::Status WithSource(const absl::Status& status, const std::string& source) {
  return absl::Status(status.code(), fmt::format("load {}: {}", source,
                                                 TrimLoadError(std::string(status.message()))));
}

// Splits one CSV header line (RFC 4180 quoting).
std::vector<std::string> SplitCsvLine(const std::string& line, char delimiter) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == delimiter) {
      fields.push_back(field);
      field.clear();
    } else if (c != '\r') {
      field.push_back(c);
    }
  }
  fields.push_back(field);
  return fields;
}

std::string ColumnList(const TableSchema& schema) {
  std::string out;
  for (const auto& column : schema.columns) {
    if (!out.empty()) out += ", ";
    out += column.name;
  }
  return out;
}

// "{'a': 'INTEGER', ...}" for DuckDB's columns= parameter.
std::string ColumnsParameter(const std::vector<const ColumnDef*>& columns) {
  std::string out = "{";
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out += ", ";
    out += QuoteLiteral(columns[i]->name) + ": " + QuoteLiteral(columns[i]->type);
  }
  return out + "}";
}

// SELECT list casting `available` (lower-case names present in the source) to
// the schema; columns the source lacks become NULL.
std::string ProjectToSchema(const TableSchema& schema, const std::set<std::string>& available) {
  std::string out;
  for (const auto& column : schema.columns) {
    if (!out.empty()) out += ", ";
    if (available.count(Lower(column.name)) != 0) {
      out += fmt::format("CAST({} AS {}) AS {}", QuoteIdentifier(column.name), column.type,
                         QuoteIdentifier(column.name));
    } else {
      out += fmt::format("CAST(NULL AS {}) AS {}", column.type, QuoteIdentifier(column.name));
    }
  }
  return out;
}

// Polls DuckDB's progress for the running statement on another thread.
class ProgressReporter {
 public:
  ProgressReporter(duck::Connection& connection,
                   const std::function<void(double, double, int64_t)>& callback,
                   const Stopwatch& watch, fs::path staging) {
    if (!callback) return;
    thread_ = std::thread([this, &connection, callback, &watch, staging] {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!done_) {
        if (wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return done_; })) break;
        callback(connection.Progress(), watch.ElapsedSeconds(), BytesUnder(staging));
      }
    });
  }
  ~ProgressReporter() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

 private:
  static int64_t BytesUnder(const fs::path& dir) {
    int64_t total = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec)) total += static_cast<int64_t>(it->file_size(ec));
    }
    return total;
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  std::thread thread_;
};

struct WrittenFile {
  fs::path local;
  std::string folder;  // "date=YYYY-MM-DD/hour=HH" or ""
};

}  // namespace

absl::StatusOr<std::map<std::string, IndexEntry>> ComputeFileStatistics(
    duck::Connection& connection, const TableSchema& schema,
    const std::vector<std::string>& local_paths) {
  std::string list;
  for (const auto& path : local_paths) {
    if (!list.empty()) list += ", ";
    list += QuoteLiteral(path);
  }
  // Per column: min and max in the statistics domain, as text.
  std::string select = "SELECT filename, count(*)";
  std::vector<std::pair<const ColumnDef*, StatDomain>> stat_columns;
  for (const auto& column : schema.columns) {
    StatDomain domain = DomainOfType(column.type);
    std::string c = QuoteIdentifier(column.name);
    switch (domain) {
      case StatDomain::kTemporalNs:
        select += fmt::format(", epoch_ns(min({0}))::VARCHAR, epoch_ns(max({0}))::VARCHAR", c);
        break;
      case StatDomain::kNumeric:
        if (IsExactIntegerType(column.type)) {
          select += fmt::format(", min({0})::BIGINT::VARCHAR, max({0})::BIGINT::VARCHAR", c);
        } else {
          select += fmt::format(", min({0})::DOUBLE::VARCHAR, max({0})::DOUBLE::VARCHAR", c);
        }
        break;
      case StatDomain::kString:
        select += fmt::format(
            ", left(min({0}), {1}), CASE WHEN strlen(max({0})) <= {1} THEN max({0}) END", c,
            kMaxStringStatBytes);
        break;
      case StatDomain::kNone:
        continue;
    }
    stat_columns.emplace_back(&column, domain);
  }
  if (!schema.time_column.empty()) {
    select += fmt::format(", count(*) - count({})", QuoteIdentifier(schema.time_column));
  }
  select += fmt::format(
      " FROM read_parquet([{}], filename = true, hive_partitioning = false) GROUP BY filename",
      list);

  ASSIGN_OR_RETURN(auto result, connection.Query(select));
  ASSIGN_OR_RETURN(auto rows, result->FetchAllAsStrings());
  std::map<std::string, IndexEntry> by_file;
  for (const auto& row : rows) {
    IndexEntry entry;
    entry.row_count = std::stoll(*row[1]);
    size_t col = 2;
    for (const auto& [column, domain] : stat_columns) {
      const auto& min_text = row[col++];
      const auto& max_text = row[col++];
      auto store = [&](const std::optional<std::string>& text, json& into) {
        if (!text.has_value()) return;
        if (domain == StatDomain::kTemporalNs ||
            (domain == StatDomain::kNumeric && IsExactIntegerType(column->type))) {
          into[column->name] = static_cast<int64_t>(std::stoll(*text));
        } else if (domain == StatDomain::kNumeric) {
          double value = std::strtod(text->c_str(), nullptr);
          if (std::isfinite(value)) into[column->name] = value;
        } else {
          into[column->name] = *text;
        }
      };
      // A NaN maximum means the column holds NaN: leave max unset (no bound).
      store(min_text, entry.min.mutable_json());
      store(max_text, entry.max.mutable_json());
      if (domain == StatDomain::kNumeric && !entry.max.contains(column->name)) {
        entry.min.mutable_json().erase(column->name);
      }
      if (column->name == schema.time_column && min_text && max_text) {
        entry.min_time = std::stoll(*min_text);
        entry.max_time = std::stoll(*max_text);
      }
    }
    if (!schema.time_column.empty()) {
      int64_t nulls = std::stoll(*row[col]);
      if (nulls > 0) {
        return absl::InvalidArgumentError(fmt::format(
            "{} row(s) have a NULL time column '{}'; every row of a time-partitioned table "
            "needs a time",
            nulls, schema.time_column));
      }
    }
    by_file[*row[0]] = std::move(entry);
  }
  return by_file;
}

std::string ChooseTimeColumn(const std::vector<ColumnDef>& columns) {
  for (const char* preferred : {"time", "timestamp", "ts", "__timestamp"}) {
    for (const auto& column : columns) {
      if (Lower(column.name) == preferred && IsTimestampType(column.type)) return column.name;
    }
  }
  for (const auto& column : columns) {
    if (IsTimestampType(column.type)) return column.name;
  }
  return "";
}

Ingester::Ingester(Index& index, ObjectStore& store, duck::Connection& connection,
                   std::string staging_dir, IngestOptions options)
    : index_(index),
      store_(store),
      connection_(connection),
      staging_dir_(std::move(staging_dir)),
      options_(std::move(options)) {}

absl::StatusOr<IngestStats> Ingester::IngestSelect(const TableSchema& schema,
                                                   const std::string& select_sql,
                                                   const std::string& source) {
  Stopwatch watch;
  std::error_code ec;
  fs::create_directories(staging_dir_, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        fmt::format("cannot create staging directory {}: {}", staging_dir_, ec.message()));
  }
  ScopedDirectory staging(fs::path(staging_dir_) / ("ingest-" + NewUuid()));

  // Cast every column to the schema type so files always match the table.
  std::string projection;
  for (const auto& column : schema.columns) {
    if (!projection.empty()) projection += ", ";
    projection += fmt::format("CAST({0} AS {1}) AS {0}", QuoteIdentifier(column.name), column.type);
  }
  std::string rows_sql =
      fmt::format("SELECT {} FROM ({}\n) AS __shardlake_source", projection, select_sql);
  std::string copy;
  std::string common_options = fmt::format(
      "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {}, FILENAME_PATTERN 'part_{{uuid}}'",
      options_.row_group_size);
  if (!schema.time_column.empty()) {
    std::string t = QuoteIdentifier(schema.time_column);
    copy = fmt::format(
        "COPY (SELECT *, CASE WHEN epoch_ns({0}) >= 0 THEN epoch_ns({0}) // {1} "
        "ELSE (epoch_ns({0}) + 1) // {1} - 1 END AS {2} FROM ({3})) TO {4} ({5}, PARTITION_BY "
        "({2}))",
        t, kNanosPerHour, kHourColumn, rows_sql, QuoteLiteral(staging.path().string()),
        common_options);
  } else {
    // DuckDB cannot combine FILE_SIZE_BYTES with PARTITION_BY; flat tables
    // get size-bounded files, time-partitioned ones one file per hour.
    copy = fmt::format("COPY ({}) TO {} ({}, FILE_SIZE_BYTES {})", rows_sql,
                       QuoteLiteral(staging.path().string()), common_options,
                       options_.target_file_bytes);
  }
  absl::Status copied;
  {
    ProgressReporter reporter(connection_, options_.progress, watch, staging.path());
    copied = connection_.Execute(copy);
  }
  if (!copied.ok()) return WithSource(copied, source);

  // Collect what DuckDB wrote.
  std::vector<WrittenFile> files;
  for (auto it = fs::recursive_directory_iterator(staging.path(), ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file() || it->path().extension() != ".parquet") continue;
    WrittenFile file{it->path(), ""};
    if (!schema.time_column.empty()) {
      std::string hour_dir = it->path().parent_path().filename().string();
      std::string hour_prefix = std::string(kHourColumn) + "=";
      if (hour_dir.rfind(hour_prefix, 0) != 0) {
        return absl::InternalError(
            fmt::format("unexpected staging layout at {}", it->path().string()));
      }
      std::string hour_text = hour_dir.substr(hour_prefix.size());
      int64_t hour_index = 0;
      auto [end, parse_error] =
          std::from_chars(hour_text.data(), hour_text.data() + hour_text.size(), hour_index);
      if (parse_error != std::errc() || end != hour_text.data() + hour_text.size()) {
        return absl::InvalidArgumentError(fmt::format(
            "load {}: some rows have a NULL time column '{}'; every row of a time-partitioned "
            "table needs a time",
            source, schema.time_column));
      }
      int64_t hour_start = hour_index * kNanosPerHour;
      file.folder =
          fmt::format("date={}/hour={}", DateOfUnixNanos(hour_start), HourOfUnixNanos(hour_start));
    }
    files.push_back(std::move(file));
  }
  if (ec) return absl::InternalError(fmt::format("cannot list staging files: {}", ec.message()));
  IngestStats stats;
  if (files.empty()) {
    stats.seconds = watch.ElapsedSeconds();
    return stats;
  }

  std::vector<std::string> local_paths;
  for (const auto& file : files) local_paths.push_back(file.local.string());
  auto statistics = ComputeFileStatistics(connection_, schema, local_paths);
  if (!statistics.ok()) return WithSource(statistics.status(), source);

  // Move the files into the store, then register them in one batch.
  std::vector<IndexEntry> entries;
  std::vector<std::string> stored_keys;
  auto undo = [&](const absl::Status& cause) {
    (void)store_.Delete(stored_keys);  // best effort: leftovers are only orphans
    return cause;
  };
  int64_t chunk_time = NowUnixNanos();
  for (const auto& file : files) {
    auto it = statistics->find(file.local.string());
    if (it == statistics->end()) {
      return undo(absl::InternalError(
          fmt::format("no statistics for staged file {}", file.local.string())));
    }
    IndexEntry entry = it->second;
    entry.database = schema.database;
    entry.table = schema.table;
    std::string name = NewUuid() + ".1.parquet";
    entry.path = file.folder.empty() ? name : file.folder + "/" + name;
    if (!options_.folder.empty()) entry.path = options_.folder + "/" + entry.path;
    entry.size_bytes = static_cast<int64_t>(fs::file_size(file.local, ec));
    if (ec) return undo(absl::InternalError(fmt::format("cannot stat {}", file.local.string())));
    entry.chunk_time = chunk_time;
    entry.writer_id = options_.writer_id;
    std::string key = schema.database + "/" + schema.table + "/" + entry.path;
    if (absl::Status s = store_.PutFile(key, file.local.string(), /*consume=*/true); !s.ok()) {
      return undo(s);
    }
    stored_keys.push_back(key);
    stats.rows += entry.row_count;
    stats.bytes += entry.size_bytes;
    entries.push_back(std::move(entry));
  }
  // Test hook: die like a killed process at the worst moment, with the files
  // in the store and the catalog batch not yet sent.
  if (std::getenv("SHARDLAKE_TEST_CRASH_BEFORE_BATCH") != nullptr) std::raise(SIGKILL);
  if (absl::Status s = index_.Batch(entries, {}); !s.ok()) return undo(s);
  stats.files = static_cast<int64_t>(entries.size());
  stats.seconds = watch.ElapsedSeconds();
  return stats;
}

absl::StatusOr<std::string> Ingester::CsvSelect(const TableSchema& schema,
                                                const std::string& path) {
  char delimiter = EndsWith(Lower(path), ".tsv") ? '\t' : ',';
  std::ifstream in(path);
  std::string first_line;
  std::getline(in, first_line);
  if (!in && !in.eof()) return absl::UnavailableError(fmt::format("cannot read {}", path));
  std::vector<std::string> header = SplitCsvLine(first_line, delimiter);

  // A header is a first line whose fields are all column names of the table.
  std::map<std::string, const ColumnDef*> by_name;
  for (const auto& column : schema.columns) by_name[Lower(column.name)] = &column;
  bool has_header = std::all_of(header.begin(), header.end(), [&](const std::string& field) {
    return by_name.count(Lower(field)) != 0;
  });
  std::vector<const ColumnDef*> file_columns;
  std::set<std::string> available;
  if (has_header) {
    for (const auto& field : header) {
      if (!available.insert(Lower(field)).second) {
        return absl::InvalidArgumentError(
            fmt::format("load {}: column '{}' appears twice in the header", path, field));
      }
      file_columns.push_back(by_name[Lower(field)]);
    }
  } else {
    // Without a header, fields map to columns by position.
    if (header.size() != schema.columns.size()) {
      std::string unknown;
      for (const auto& field : header) {
        if (by_name.count(Lower(field)) == 0) {
          unknown = field;
          break;
        }
      }
      return absl::InvalidArgumentError(fmt::format(
          "load {}: line 1 has {} fields, table {}.{} has {} columns ({}); a header must name "
          "only columns of the table (first unknown: '{}')",
          path, header.size(), schema.database, schema.table, schema.columns.size(),
          ColumnList(schema), unknown));
    }
    for (const auto& column : schema.columns) {
      file_columns.push_back(&column);
      available.insert(Lower(column.name));
    }
  }
  std::string delim = delimiter == '\t' ? "\\t" : ",";
  return fmt::format(
      "SELECT {} FROM read_csv({}, header = {}, delim = E'{}', quote = '\"', escape = '\"', "
      "auto_detect = false, strict_mode = true, columns = {})",
      ProjectToSchema(schema, available), QuoteLiteral(path), has_header ? "true" : "false", delim,
      ColumnsParameter(file_columns));
}

absl::StatusOr<std::string> Ingester::ParquetSelect(const TableSchema& schema,
                                                    const std::string& path) {
  ASSIGN_OR_RETURN(auto result,
                   connection_.Query(fmt::format("SELECT name FROM parquet_schema({}) WHERE "
                                                 "num_children IS NULL OR num_children = 0",
                                                 QuoteLiteral(path))));
  ASSIGN_OR_RETURN(auto rows, result->FetchAllAsStrings());
  std::set<std::string> available;
  for (const auto& row : rows) {
    if (!row[0].has_value()) continue;
    std::string name = Lower(*row[0]);
    if (schema.ColumnIndex(*row[0]) < 0) {
      bool known = false;
      for (const auto& column : schema.columns) known = known || Lower(column.name) == name;
      if (!known) {
        return absl::InvalidArgumentError(
            fmt::format("load {}: column '{}' is not in table {}.{} (columns: {})", path, *row[0],
                        schema.database, schema.table, ColumnList(schema)));
      }
    }
    available.insert(name);
  }
  return fmt::format("SELECT {} FROM read_parquet({}, hive_partitioning = false)",
                     ProjectToSchema(schema, available), QuoteLiteral(path));
}

std::string Ingester::JsonSelect(const TableSchema& schema, const std::string& path) {
  std::vector<const ColumnDef*> columns;
  std::set<std::string> available;
  for (const auto& column : schema.columns) {
    columns.push_back(&column);
    available.insert(Lower(column.name));
  }
  return fmt::format("SELECT {} FROM read_json({}, format = 'newline_delimited', columns = {})",
                     ProjectToSchema(schema, available), QuoteLiteral(path),
                     ColumnsParameter(columns));
}

absl::StatusOr<IngestStats> Ingester::LoadFile(const TableSchema& schema, const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return absl::NotFoundError(fmt::format("load {}: no such file", path));
  }
  std::string lower = Lower(path);
  absl::StatusOr<std::string> select;
  if (EndsWith(lower, ".csv") || EndsWith(lower, ".tsv")) {
    select = CsvSelect(schema, path);
  } else if (EndsWith(lower, ".parquet")) {
    select = ParquetSelect(schema, path);
    if (!select.ok()) return WithSource(select.status(), path);
  } else if (EndsWith(lower, ".ndjson") || EndsWith(lower, ".jsonl") || EndsWith(lower, ".json")) {
    select = JsonSelect(schema, path);
  } else {
    return absl::InvalidArgumentError(fmt::format(
        "load {}: unknown file type; expected .csv, .tsv, .parquet, .ndjson, .jsonl or .json",
        path));
  }
  if (!select.ok()) return select.status();
  return IngestSelect(schema, *select, path);
}

}  // namespace shardlake
