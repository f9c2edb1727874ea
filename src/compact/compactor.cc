#include "compact/compactor.h"

#include <filesystem>

#include "common/ids.h"
#include "common/sql_text.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "fmt/format.h"
#include "ingest/ingester.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;

constexpr size_t kDropsPerRound = 1000;

std::string ObjectKey(const TableSchema& schema, const std::string& path) {
  return schema.database + "/" + schema.table + "/" + path;
}

}  // namespace

Compactor::Compactor(Index& index, ObjectStore& store, duck::Connection& connection,
                     std::string staging_dir, FileCache* file_cache)
    : index_(index),
      store_(store),
      connection_(connection),
      staging_dir_(std::move(staging_dir)),
      file_cache_(file_cache) {}

absl::StatusOr<CompactionStats> Compactor::RunOnce(const CompactionOptions& options,
                                                   int64_t now_ns) {
  Stopwatch watch;
  CompactionStats stats;
  ASSIGN_OR_RETURN(auto databases, index_.ListDatabases());
  for (const auto& database : databases) {
    ASSIGN_OR_RETURN(auto tables, index_.ListTables(database));
    for (const auto& table : tables) {
      auto schema = index_.GetTable(database, table);
      if (absl::IsNotFound(schema.status())) continue;  // files without a schema: not ours
      if (!schema.ok()) return schema.status();
      RETURN_IF_ERROR(CompactTable(*schema, options, now_ns, &stats));
    }
  }
  stats.seconds = watch.ElapsedSeconds();
  return stats;
}

absl::Status Compactor::CompactTable(const TableSchema& schema, const CompactionOptions& options,
                                     int64_t now_ns, CompactionStats* stats) {
  LeaseRequest request;
  request.writer_id = options.writer_id;
  request.now_ns = now_ns;
  request.lease_ns = options.lease_ns;
  request.ignore_timeouts = options.ignore_timeouts;
  for (int i = 0; i < options.max_plans_per_table; ++i) {
    ASSIGN_OR_RETURN(auto plan, index_.LeaseMergePlan(schema.database, schema.table, request));
    if (!plan) break;
    absl::Status merged = Merge(schema, *plan, options, now_ns, stats);
    if (!merged.ok()) {
      (void)index_.AbandonMerge(*plan);  // best effort: the lease expires anyway
      return merged;
    }
  }
  return DeleteDueDrops(schema, now_ns, stats);
}

absl::Status Compactor::Merge(const TableSchema& schema, const MergePlan& plan,
                              const CompactionOptions& options, int64_t now_ns,
                              CompactionStats* stats) {
  std::string sources;
  std::vector<CachedFile> pins;  // copies of remote sources, held until merged
  for (const auto& path : plan.sources) {
    ASSIGN_OR_RETURN(std::string local,
                     ReadablePath(store_, file_cache_, ObjectKey(schema, path), &pins));
    if (!sources.empty()) sources += ", ";
    sources += QuoteLiteral(local);
  }
  std::error_code ec;
  fs::create_directories(staging_dir_, ec);
  fs::path staged = fs::path(staging_dir_) / ("merge-" + NewUuid() + ".parquet");
  struct RemoveStaged {
    fs::path path;
    ~RemoveStaged() {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  } remove_staged{staged};
  std::string order =
      schema.time_column.empty() ? "" : " ORDER BY " + QuoteIdentifier(schema.time_column);
  RETURN_IF_ERROR(connection_.Execute(
      fmt::format("COPY (SELECT * FROM read_parquet([{}], hive_partitioning = false){}) TO {} "
                  "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)",
                  sources, order, QuoteLiteral(staged.string()))));
  ASSIGN_OR_RETURN(auto statistics, ComputeFileStatistics(connection_, schema, {staged.string()}));
  IndexEntry merged;
  if (!statistics.empty()) merged = statistics.begin()->second;
  merged.layer = plan.layer;
  merged.database = schema.database;
  merged.table = schema.table;
  merged.path = plan.target;
  merged.size_bytes = static_cast<int64_t>(fs::file_size(staged, ec));
  merged.chunk_time = now_ns;
  merged.writer_id = options.writer_id;
  std::string key = ObjectKey(schema, plan.target);
  RETURN_IF_ERROR(store_.PutFile(key, staged.string(), /*consume=*/true));
  absl::Status swapped = index_.CompleteMerge(plan, merged, now_ns, now_ns + options.drop_grace_ns);
  if (!swapped.ok()) {
    (void)store_.Delete({key});  // never registered: only an orphan otherwise
    return swapped;
  }
  stats->plans += 1;
  stats->files_merged += static_cast<int64_t>(plan.sources.size());
  stats->rows += merged.row_count;
  stats->bytes_written += merged.size_bytes;
  return absl::OkStatus();
}

absl::Status Compactor::DeleteDueDrops(const TableSchema& schema, int64_t now_ns,
                                       CompactionStats* stats) {
  while (true) {
    ASSIGN_OR_RETURN(auto drops,
                     index_.DueDrops(schema.database, schema.table, now_ns, kDropsPerRound));
    if (drops.empty()) return absl::OkStatus();
    std::vector<std::string> keys;
    for (const auto& drop : drops) keys.push_back(ObjectKey(schema, drop.path));
    RETURN_IF_ERROR(store_.Delete(keys));
    RETURN_IF_ERROR(index_.ForgetDrops(drops));
    stats->files_deleted += static_cast<int64_t>(drops.size());
    if (drops.size() < kDropsPerRound) return absl::OkStatus();
  }
}

}  // namespace shardlake
