#include "catalog/cached_index.h"

#include <algorithm>
#include <utility>

#include "catalog/index_internal.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

// Queries whose answers are remembered (the oldest key is dropped first).
constexpr size_t kMaxAnswers = 512;
// Attempts at a consistent listing before answering from the remote alone.
constexpr int kListingAttempts = 4;

std::vector<IndexEntry> Copy(const std::vector<std::shared_ptr<const IndexEntry>>& answer) {
  std::vector<IndexEntry> out;
  out.reserve(answer.size());
  for (const auto& entry : answer) out.push_back(*entry);
  return out;
}

}  // namespace

CachedIndex::CachedIndex(std::unique_ptr<Index> remote, std::unique_ptr<CatalogCache> cache,
                         std::vector<MergeConfig> merge_configs)
    : remote_(std::move(remote)),
      cache_(std::move(cache)),
      merge_configs_(std::move(merge_configs)),
      stats_(CatalogStats::For("cache:" + remote_->Describe())) {}

absl::StatusOr<std::unique_ptr<Index>> CachedIndex::Wrap(std::unique_ptr<Index> remote,
                                                         const IndexOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<CatalogCache> cache,
                   CatalogCache::Open(remote->Describe(), CatalogCacheOptionsFromEnv()));
  return std::unique_ptr<Index>(
      std::make_unique<CachedIndex>(std::move(remote), std::move(cache), options.merge_configs));
}

bool CachedIndex::IsFinal(const std::string& path, const std::vector<MergeConfig>& merge_configs) {
  return IterationOfPath(path) > static_cast<int>(merge_configs.size());
}

std::string CachedIndex::Describe() const { return remote_->Describe(); }

void CachedIndex::CacheFinal(const std::vector<IndexEntry>& entries) {
  if (!cache_->inserts_enabled()) return;
  std::vector<IndexEntry> final_entries;
  for (const IndexEntry& e : entries) {
    if (IsFinal(e.path, merge_configs_)) final_entries.push_back(e);
  }
  if (final_entries.empty()) return;
  if (cache_->Insert(final_entries).ok()) {
    stats_.Count("entries_inserted", static_cast<int64_t>(final_entries.size()));
  } else {
    stats_.Count("insert_errors");
  }
}

absl::StatusOr<std::optional<CachedIndex::RememberedAnswer>> CachedIndex::ListAndFetch(
    const std::string& database, const std::string& table, const QueryOptions& options) {
  using Result = std::optional<RememberedAnswer>;
  ASSIGN_OR_RETURN(PathListing listing, remote_->QueryPaths(database, table, options));
  ASSIGN_OR_RETURN(Answer cached, cache_->Lookup(database, table, listing.paths));
  std::vector<std::string> missing;
  for (size_t i = 0; i < listing.paths.size(); ++i) {
    if (cached[i] == nullptr) missing.push_back(listing.paths[i]);
  }
  stats_.Count("entry_hits", static_cast<int64_t>(listing.paths.size() - missing.size()));
  stats_.Count("entry_misses", static_cast<int64_t>(missing.size()));
  std::vector<IndexEntry> fetched;
  if (!missing.empty()) {
    ASSIGN_OR_RETURN(fetched, remote_->GetMany(database, table, missing));
    if (fetched.size() != missing.size()) {
      stats_.Count("listing_races");
      return Result();  // removed since the listing: start over
    }
    CacheFinal(fetched);
  }
  const std::string folder = catalog_internal::NormalizedFolder(options);
  auto answer = std::make_shared<Answer>();
  answer->reserve(listing.paths.size());
  auto fetched_it = fetched.begin();  // both sorted by path
  for (size_t i = 0; i < listing.paths.size(); ++i) {
    std::shared_ptr<const IndexEntry> entry = cached[i];
    if (entry == nullptr) entry = std::make_shared<const IndexEntry>(std::move(*fetched_it++));
    if (catalog_internal::MatchesQuery(*entry, options, folder)) answer->push_back(entry);
  }
  return Result(RememberedAnswer{listing.version, std::move(answer)});
}

absl::StatusOr<std::vector<IndexEntry>> CachedIndex::Query(const std::string& database,
                                                           const std::string& table,
                                                           const QueryOptions& options) {
  CatalogStats::Call call(&stats_, "Query");
  if (options.after && options.before && *options.after > *options.before) {
    return std::vector<IndexEntry>();
  }
  absl::StatusOr<int64_t> version = remote_->ChangeVersion(database, table);
  if (absl::IsUnimplemented(version.status()))
    return call.Done(remote_->Query(database, table, options));
  RETURN_IF_ERROR(call.Done(version.status()));
  QueryKey key{database,      table,          catalog_internal::NormalizedFolder(options),
               options.after, options.before, options.iteration};
  std::shared_ptr<const Answer> remembered;
  {
    std::lock_guard lock(mu_);
    auto it = answers_.find(key);
    if (it != answers_.end() && it->second.version == *version) remembered = it->second.answer;
  }
  if (remembered != nullptr) {  // copied outside the lock: readers do not wait on each other
    stats_.Count("answer_hits");
    return Copy(*remembered);
  }
  stats_.Count("answer_misses");
  for (int attempt = 0; attempt < kListingAttempts; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<RememberedAnswer> fresh,
                     call.Done(ListAndFetch(database, table, options)));
    if (!fresh) continue;
    std::vector<IndexEntry> out = Copy(*fresh->answer);
    std::lock_guard lock(mu_);
    if (answers_.size() >= kMaxAnswers && !answers_.contains(key)) answers_.erase(answers_.begin());
    answers_[key] = *std::move(fresh);
    return out;
  }
  // The table keeps changing under us: the remote's own Query is one snapshot.
  return call.Done(remote_->Query(database, table, options));
}

absl::StatusOr<TableSchema> CachedIndex::GetTable(const std::string& database,
                                                  const std::string& table) {
  absl::StatusOr<int64_t> version = remote_->ChangeVersion(database, table);
  if (absl::IsUnimplemented(version.status())) return remote_->GetTable(database, table);
  RETURN_IF_ERROR(version.status());
  {
    std::lock_guard lock(mu_);
    auto it = schemas_.find({database, table});
    if (it != schemas_.end() && it->second.version == *version) {
      stats_.Count("schema_hits");
      return it->second.schema;
    }
  }
  stats_.Count("schema_misses");
  // Remembered under the version read before the fetch: if the table changed
  // in between, the next call sees a newer version and fetches again.
  ASSIGN_OR_RETURN(TableSchema schema, remote_->GetTable(database, table));
  std::lock_guard lock(mu_);
  schemas_[{database, table}] = RememberedSchema{*version, schema};
  return schema;
}

absl::StatusOr<int64_t> CachedIndex::Build(
    const std::vector<std::pair<std::string, std::string>>& tables) {
  if (!cache_->inserts_enabled()) {
    return absl::FailedPreconditionError(
        fmt::format("{}: inserts are disabled (SHARDLAKE_CATALOG_CACHE_INSERTS_DISABLED); nothing "
                    "to build",
                    cache_->Describe()));
  }
  int64_t added = 0;
  for (const auto& [database, table] : tables) {
    RETURN_IF_ERROR(remote_->GetTable(database, table).status());  // the table must exist
    ASSIGN_OR_RETURN(std::vector<IndexEntry> entries, remote_->Query(database, table, {}));
    std::vector<IndexEntry> final_entries;
    for (IndexEntry& e : entries) {
      if (IsFinal(e.path, merge_configs_)) final_entries.push_back(std::move(e));
    }
    RETURN_IF_ERROR(cache_->Insert(final_entries));
    added += static_cast<int64_t>(final_entries.size());
  }
  return added;
}

absl::Status CachedIndex::Batch(const std::vector<IndexEntry>& add,
                                const std::vector<IndexEntry>& remove) {
  RETURN_IF_ERROR(remote_->Batch(add, remove));
  CacheFinal(add);
  return absl::OkStatus();
}

absl::Status CachedIndex::CompleteMerge(const MergePlan& plan, const IndexEntry& merged,
                                        int64_t now_ns, int64_t drop_due_ns) {
  RETURN_IF_ERROR(remote_->CompleteMerge(plan, merged, now_ns, drop_due_ns));
  CacheFinal({merged});
  return absl::OkStatus();
}

absl::StatusOr<IndexEntry> CachedIndex::Get(const std::string& database, const std::string& table,
                                            const std::string& path) {
  return remote_->Get(database, table, path);
}
absl::StatusOr<std::vector<std::string>> CachedIndex::ListDatabases() {
  return remote_->ListDatabases();
}
absl::StatusOr<std::vector<std::string>> CachedIndex::ListTables(const std::string& database) {
  return remote_->ListTables(database);
}
absl::StatusOr<std::vector<std::string>> CachedIndex::ListFolders(const std::string& database,
                                                                  const std::string& table) {
  return remote_->ListFolders(database, table);
}
absl::Status CachedIndex::CreateTable(const TableSchema& schema) {
  return remote_->CreateTable(schema);
}
absl::StatusOr<std::vector<IndexEntry>> CachedIndex::DropTable(const std::string& database,
                                                               const std::string& table) {
  return remote_->DropTable(database, table);
}
absl::StatusOr<std::optional<MergePlan>> CachedIndex::LeaseMergePlan(const std::string& database,
                                                                     const std::string& table,
                                                                     const LeaseRequest& request) {
  return remote_->LeaseMergePlan(database, table, request);
}
absl::Status CachedIndex::AbandonMerge(const MergePlan& plan) {
  return remote_->AbandonMerge(plan);
}
absl::StatusOr<std::vector<DropItem>> CachedIndex::DueDrops(const std::string& database,
                                                            const std::string& table,
                                                            int64_t now_ns, size_t limit) {
  return remote_->DueDrops(database, table, now_ns, limit);
}
absl::Status CachedIndex::ForgetDrops(const std::vector<DropItem>& items) {
  return remote_->ForgetDrops(items);
}
absl::StatusOr<int64_t> CachedIndex::ChangeVersion(const std::string& database,
                                                   const std::string& table) {
  return remote_->ChangeVersion(database, table);
}
absl::StatusOr<PathListing> CachedIndex::QueryPaths(const std::string& database,
                                                    const std::string& table,
                                                    const QueryOptions& options) {
  return remote_->QueryPaths(database, table, options);
}
absl::StatusOr<std::vector<IndexEntry>> CachedIndex::GetMany(
    const std::string& database, const std::string& table, const std::vector<std::string>& paths) {
  return remote_->GetMany(database, table, paths);
}

}  // namespace shardlake
