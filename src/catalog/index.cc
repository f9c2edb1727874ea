#include "catalog/index.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/cached_index.h"
#include "catalog/index_internal.h"
#include "catalog/instrumented_index.h"
#include "catalog/memory_index.h"
#include "catalog/postgres/postgres_index.h"
#include "catalog/redis/redis_index.h"
#include "catalog/sqlite_index.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "fmt/format.h"

namespace shardlake {
namespace catalog_internal {

namespace {

// What is wrong with `path` as an object key, or nullptr if nothing.
const char* PathProblem(std::string_view path) {
  if (path.empty()) return "is empty";
  if (path.front() == '/') return "must not start with '/'";
  if (path.back() == '/') return "must not end with '/'";
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view segment = path.substr(start, slash - start);
    if (segment.empty()) return "has an empty segment";
    if (segment == "." || segment == "..") return "has a '.' or '..' segment";
    start = slash + 1;
  }
  return nullptr;
}

// Checks one entry of a batch; formats a message only on failure.
absl::Status CheckBatchEntry(const IndexEntry& e, size_t i, bool added) {
  const char* problem = nullptr;
  std::string detail;
  if (e.database.empty() || e.table.empty()) {
    problem = "database and table must be non-empty";
  } else if (const char* path_problem = PathProblem(e.path)) {
    detail = fmt::format("path {}", path_problem);
  } else if (added && IterationOfPath(e.path) < 1) {
    detail = "path must end in .<N>.parquet (N >= 1, the merge iteration; new files are .1)";
  } else if (added && e.size_bytes < 0) {
    detail = fmt::format("size_bytes is negative ({})", e.size_bytes);
  } else if (added && e.row_count < 0) {
    detail = fmt::format("row_count is negative ({})", e.row_count);
  } else if (added && e.min_time > e.max_time) {
    detail = fmt::format("min_time {} is after max_time {}", e.min_time, e.max_time);
  } else {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(fmt::format("Batch: {} entry #{} ({}.{} '{}'): {}",
                                                added ? "added" : "removed", i, e.database, e.table,
                                                e.path, problem ? problem : detail));
}

}  // namespace

absl::Status ValidateEntryPath(std::string_view path, std::string_view what) {
  if (const char* problem = PathProblem(path)) {
    return absl::InvalidArgumentError(fmt::format("{}: path '{}' {}", what, path, problem));
  }
  return absl::OkStatus();
}

absl::Status ValidateTableSchema(const TableSchema& schema) {
  if (schema.database.empty() || schema.table.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("CreateTable: database and table names must be non-empty (got '{}'.'{}')",
                    schema.database, schema.table));
  }
  if (schema.columns.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("CreateTable: table {}.{} has no columns", schema.database, schema.table));
  }
  std::vector<std::string_view> names;
  names.reserve(schema.columns.size());
  for (const ColumnDef& column : schema.columns) {
    if (column.name.empty()) {
      return absl::InvalidArgumentError(fmt::format(
          "CreateTable: table {}.{} has a column without a name", schema.database, schema.table));
    }
    names.push_back(column.name);
  }
  std::sort(names.begin(), names.end());
  if (auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end()) {
    return absl::InvalidArgumentError(fmt::format("CreateTable: table {}.{} has column '{}' twice",
                                                  schema.database, schema.table, *dup));
  }
  if (!schema.time_column.empty() && schema.ColumnIndex(schema.time_column) < 0) {
    return absl::InvalidArgumentError(
        fmt::format("CreateTable: time column '{}' is not a column of {}.{}", schema.time_column,
                    schema.database, schema.table));
  }
  return absl::OkStatus();
}

absl::Status ValidateMergeCompletion(const std::string& describe, const MergePlan& plan,
                                     const IndexEntry& merged) {
  RETURN_IF_ERROR(ValidateBatch({merged}, {}));
  if (merged.database != plan.database || merged.table != plan.table ||
      merged.path != plan.target) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: merge plan {}: the merged file must be {}.{} '{}', got {}.{} '{}'", describe, plan.id,
        plan.database, plan.table, plan.target, merged.database, merged.table, merged.path));
  }
  if (plan.sources.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: merge plan {} has no sources", describe, plan.id));
  }
  return absl::OkStatus();
}

std::string NormalizedFolder(const QueryOptions& options) {
  std::string folder = options.folder;
  while (!folder.empty() && folder.back() == '/') folder.pop_back();
  return folder;
}

bool MatchesQuery(const IndexEntry& entry, const QueryOptions& options, const std::string& folder) {
  if (options.after && entry.max_time < *options.after) return false;
  if (options.before && entry.min_time > *options.before) return false;
  if (!folder.empty()) {
    if (entry.path.size() <= folder.size() + 1 || entry.path.compare(0, folder.size(), folder) ||
        entry.path[folder.size()] != '/') {
      return false;
    }
  }
  if (options.iteration != 0 && IterationOfPath(entry.path) != options.iteration) return false;
  return true;
}

}  // namespace catalog_internal

absl::Status ValidateBatch(const std::vector<IndexEntry>& add,
                           const std::vector<IndexEntry>& remove) {
  // Duplicates are found by sorting (hash, position) pairs, which is much
  // cheaper than sorting the strings, and comparing the entries of equal hashes.
  std::vector<std::pair<size_t, size_t>> hashes;
  hashes.reserve(add.size() + remove.size());
  auto entry_at = [&](size_t position) -> const IndexEntry& {
    return position < add.size() ? add[position] : remove[position - add.size()];
  };
  std::hash<std::string_view> hash;
  for (size_t position = 0; position < add.size() + remove.size(); ++position) {
    bool added = position < add.size();
    const IndexEntry& e = entry_at(position);
    RETURN_IF_ERROR(
        catalog_internal::CheckBatchEntry(e, added ? position : position - add.size(), added));
    size_t h = hash(e.path);
    h ^= hash(e.table) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= hash(e.database) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    hashes.emplace_back(h, position);
  }
  std::sort(hashes.begin(), hashes.end());
  for (size_t i = 1; i < hashes.size(); ++i) {
    if (hashes[i].first != hashes[i - 1].first) continue;
    // Compare against every earlier entry with the same hash.
    for (size_t j = i; j-- > 0 && hashes[j].first == hashes[i].first;) {
      const IndexEntry& a = entry_at(hashes[i].second);
      const IndexEntry& b = entry_at(hashes[j].second);
      if (a.path == b.path && a.table == b.table && a.database == b.database) {
        return absl::InvalidArgumentError(
            fmt::format("Batch: path '{}' of {}.{} appears more than once in the batch", a.path,
                        a.database, a.table));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Index::ChangeVersion(const std::string& database,
                                             const std::string& table) {
  return absl::UnimplementedError(
      fmt::format("{} keeps no change versions ({}.{})", Describe(), database, table));
}

absl::StatusOr<PathListing> Index::QueryPaths(const std::string& database, const std::string& table,
                                              const QueryOptions&) {
  return absl::UnimplementedError(
      fmt::format("{} keeps no change versions ({}.{})", Describe(), database, table));
}

absl::StatusOr<std::vector<IndexEntry>> Index::GetMany(const std::string& database,
                                                       const std::string& table,
                                                       const std::vector<std::string>& paths) {
  std::vector<IndexEntry> out;
  for (const std::string& path : paths) {
    absl::StatusOr<IndexEntry> entry = Get(database, table, path);
    if (entry.ok()) {
      out.push_back(std::move(*entry));
    } else if (!absl::IsNotFound(entry.status())) {
      return entry.status();
    }
  }
  std::sort(out.begin(), out.end(),
            [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const IndexEntry& a, const IndexEntry& b) { return a.path == b.path; }),
            out.end());
  return out;
}

std::vector<MergeConfig> DefaultMergeConfigs(int64_t timeout_s) {
  constexpr int64_t kMiB = 1 << 20;
  return {{timeout_s, 100 * kMiB, 1},
          {10 * timeout_s, 400 * kMiB, 2},
          {100 * timeout_s, 4000 * kMiB, 3},
          {420 * timeout_s, 4000 * kMiB, 4}};
}

std::string MergeTargetPath(const std::string& folder, int iteration) {
  std::string name = fmt::format("{}.{}.parquet", NewUuid(), iteration + 1);
  return folder.empty() ? name : folder + "/" + name;
}

namespace {

absl::StatusOr<std::unique_ptr<Index>> OpenBackend(std::string_view uri_text,
                                                   const IndexOptions& options) {
  ASSIGN_OR_RETURN(Uri uri, ParseUri(uri_text));
  if (uri.scheme == "redis" || uri.scheme == "rediss") return OpenRedisIndex(uri, options);
  if (uri.scheme == "postgresql" || uri.scheme == "postgres") {
    return OpenPostgresIndex(uri, options);
  }
  if (uri.scheme == "sqlite") {
    bool has_authority = uri_text.find("://") != std::string_view::npos;
    if (!uri.host.empty() || uri.port != 0 || !uri.userinfo.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("'{}': a sqlite URI has no host; use sqlite:///abs/path.sqlite or "
                      "sqlite:relative/path.sqlite",
                      uri_text));
    }
    if (uri.path.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("'{}': the SQLite file path is empty", uri_text));
    }
    std::string describe = has_authority ? "sqlite://" + uri.path : "sqlite:" + uri.path;
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteIndex> index,
                     SqliteIndex::Open(uri.path, describe, options));
    return std::unique_ptr<Index>(std::move(index));
  }
  if (uri.scheme == "memory") {
    std::string name = uri.host + uri.path;
    if (name.empty()) {
      return absl::InvalidArgumentError(
          fmt::format("'{}': a memory index needs a name (memory://name)", uri_text));
    }
    return std::unique_ptr<Index>(MemoryIndex::Open(name, options));
  }
  return absl::InvalidArgumentError(
      fmt::format("'{}': unknown catalog scheme '{}'; known schemes: sqlite:///abs/path, "
                  "sqlite:relative/path, memory://name, redis://[user[:pass]@]host:port/DB, "
                  "rediss://..., postgresql://user:pass@host:port/db",
                  uri.Redacted(), uri.scheme));
}

bool LogStatsEnabled() {
  const char* value = std::getenv("SHARDLAKE_LOG_STATS");
  return value != nullptr && *value != '\0' && std::string_view(value) != "0";
}

}  // namespace

absl::StatusOr<std::unique_ptr<Index>> OpenIndex(std::string_view uri_text,
                                                 const IndexOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<Index> index, OpenBackend(uri_text, options));
  // PostgreSQL records its own statistics (statements, retries, reconnects).
  bool self_recording = uri_text.rfind("postgres", 0) == 0;
  if (LogStatsEnabled() && !self_recording) {
    index = std::make_unique<InstrumentedIndex>(std::move(index));
  }
  bool remote = uri_text.rfind("redis", 0) == 0 || uri_text.rfind("postgres", 0) == 0;
  if (remote && options.cache && !CatalogCacheDisabledByEnv()) {
    return CachedIndex::Wrap(std::move(index), options);
  }
  return index;
}

}  // namespace shardlake
