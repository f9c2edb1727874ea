#include "catalog/memory_index.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "catalog/index_internal.h"
#include "catalog/merge_planning.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "fmt/format.h"

namespace shardlake {

struct MemoryIndex::State {
  struct Table {
    std::optional<TableSchema> schema;
    std::map<std::string, IndexEntry> entries;  // by path
    std::map<std::string, int64_t> folders;     // folder -> live entry count
    std::map<std::string, std::string> leased;  // path -> lease id
    std::map<std::string, int64_t> drops;       // path -> due time
  };
  struct Lease {
    MergePlan plan;
  };
  using TableKey = std::pair<std::string, std::string>;  // (database, table)

  std::mutex mu;
  std::map<TableKey, Table> tables;     // guarded by mu
  std::map<std::string, Lease> leases;  // by id; guarded by mu
  // ChangeVersion per table; kept when the table itself is erased, so a
  // version never goes back. Guarded by mu.
  std::map<TableKey, int64_t> versions;

  // A new counter starts at the time in microseconds, as the remote
  // backends do, so a version never repeats.
  void Bump(const std::string& database, const std::string& table) {
    auto [it, created] = versions.try_emplace({database, table}, NowUnixNanos() / 1000);
    ++it->second;
  }

  // Drops `it` when it holds nothing. Requires mu.
  void EraseIfEmpty(std::map<TableKey, Table>::iterator it) {
    const Table& t = it->second;
    if (!t.schema && t.entries.empty() && t.leased.empty() && t.drops.empty()) tables.erase(it);
  }

  // Ends leases of `table` that expired at `now_ns`. Requires mu.
  void ExpireLeases(Table& table, int64_t now_ns) {
    for (auto it = table.leased.begin(); it != table.leased.end();) {
      auto lease = leases.find(it->second);
      if (lease == leases.end() || lease->second.plan.lease_expires_ns <= now_ns) {
        if (lease != leases.end()) leases.erase(lease);
        it = table.leased.erase(it);
      } else {
        ++it;
      }
    }
  }

  void EndLease(const MergePlan& plan) {
    auto table = tables.find({plan.database, plan.table});
    if (table != tables.end()) {
      for (const auto& path : plan.sources) {
        auto it = table->second.leased.find(path);
        if (it != table->second.leased.end() && it->second == plan.id)
          table->second.leased.erase(it);
      }
    }
    leases.erase(plan.id);
  }

  // Live entries of a table matching `options`, sorted by path. Requires mu.
  std::vector<IndexEntry> Matching(const std::string& database, const std::string& table,
                                   const QueryOptions& options) const;

  // Checks and applies a batch (the contract of Index::Batch). Requires mu.
  absl::Status ApplyBatch(const std::string& describe, const std::vector<IndexEntry>& add,
                          const std::vector<IndexEntry>& remove);
};

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<MemoryIndex::State>> states;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();  // never destroyed: usable at exit
  return *registry;
}

}  // namespace

std::unique_ptr<MemoryIndex> MemoryIndex::Open(const std::string& name,
                                               const IndexOptions& options) {
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  std::shared_ptr<State>& state = registry.states[name];
  if (!state) state = std::make_shared<State>();
  return std::unique_ptr<MemoryIndex>(new MemoryIndex(name, state, options.merge_configs));
}

void MemoryIndex::Forget(const std::string& name) {
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  registry.states.erase(name);
}

MemoryIndex::MemoryIndex(std::string name, std::shared_ptr<State> state,
                         std::vector<MergeConfig> merge_configs)
    : name_(std::move(name)), state_(std::move(state)), merge_configs_(std::move(merge_configs)) {}

MemoryIndex::~MemoryIndex() = default;

std::string MemoryIndex::Describe() const { return "memory://" + name_; }

absl::Status MemoryIndex::Batch(const std::vector<IndexEntry>& add,
                                const std::vector<IndexEntry>& remove) {
  RETURN_IF_ERROR(ValidateBatch(add, remove));
  std::lock_guard lock(state_->mu);
  return state_->ApplyBatch(Describe(), add, remove);
}

absl::Status MemoryIndex::State::ApplyBatch(const std::string& describe,
                                            const std::vector<IndexEntry>& add,
                                            const std::vector<IndexEntry>& remove) {
  // Check everything against the live state first; paths in the batch are
  // distinct, so the checks do not depend on each other.
  for (const IndexEntry& e : remove) {
    auto table = tables.find({e.database, e.table});
    if (table == tables.end() || !table->second.entries.contains(e.path)) {
      return absl::NotFoundError(fmt::format("{}: cannot remove '{}' from {}.{}: not in the index",
                                             describe, e.path, e.database, e.table));
    }
  }
  for (const IndexEntry& e : add) {
    auto table = tables.find({e.database, e.table});
    if (table != tables.end() && table->second.entries.contains(e.path)) {
      return absl::AlreadyExistsError(fmt::format("{}: cannot add '{}' to {}.{}: already indexed",
                                                  describe, e.path, e.database, e.table));
    }
  }
  for (const IndexEntry& e : remove) {
    auto table = tables.find({e.database, e.table});
    table->second.entries.erase(e.path);
    auto folder = table->second.folders.find(FolderOfPath(e.path));
    if (--folder->second == 0) table->second.folders.erase(folder);
    EraseIfEmpty(table);
  }
  for (const IndexEntry& e : add) {
    State::Table& table = tables[{e.database, e.table}];
    table.entries.emplace(e.path, e);
    ++table.folders[FolderOfPath(e.path)];
  }
  std::set<TableKey> touched;
  for (const auto* list : {&add, &remove}) {
    for (const IndexEntry& e : *list) touched.insert({e.database, e.table});
  }
  for (const auto& [database, table] : touched) Bump(database, table);
  return absl::OkStatus();
}

absl::StatusOr<IndexEntry> MemoryIndex::Get(const std::string& database, const std::string& table,
                                            const std::string& path) {
  std::lock_guard lock(state_->mu);
  auto it = state_->tables.find({database, table});
  if (it != state_->tables.end()) {
    auto entry = it->second.entries.find(path);
    if (entry != it->second.entries.end()) return entry->second;
  }
  return absl::NotFoundError(
      fmt::format("{}: '{}' of {}.{} is not in the index", Describe(), path, database, table));
}

std::vector<IndexEntry> MemoryIndex::State::Matching(const std::string& database,
                                                     const std::string& table,
                                                     const QueryOptions& options) const {
  std::string folder = catalog_internal::NormalizedFolder(options);
  std::vector<IndexEntry> out;
  if (options.after && options.before && *options.after > *options.before) return out;
  auto it = tables.find({database, table});
  if (it == tables.end()) return out;
  const auto& entries = it->second.entries;
  auto begin = folder.empty() ? entries.begin() : entries.lower_bound(folder + "/");
  for (auto e = begin; e != entries.end(); ++e) {
    if (!folder.empty() && e->first.compare(0, folder.size() + 1, folder + "/") != 0) break;
    if (catalog_internal::MatchesQuery(e->second, options, folder)) out.push_back(e->second);
  }
  return out;
}

absl::StatusOr<std::vector<IndexEntry>> MemoryIndex::Query(const std::string& database,
                                                           const std::string& table,
                                                           const QueryOptions& options) {
  std::lock_guard lock(state_->mu);
  return state_->Matching(database, table, options);
}

absl::StatusOr<std::vector<std::string>> MemoryIndex::ListDatabases() {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (const auto& [key, table] : state_->tables) {
    if (out.empty() || out.back() != key.first) out.push_back(key.first);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> MemoryIndex::ListTables(const std::string& database) {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  for (auto it = state_->tables.lower_bound({database, ""});
       it != state_->tables.end() && it->first.first == database; ++it) {
    out.push_back(it->first.second);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> MemoryIndex::ListFolders(const std::string& database,
                                                                  const std::string& table) {
  std::lock_guard lock(state_->mu);
  std::vector<std::string> out;
  auto it = state_->tables.find({database, table});
  if (it == state_->tables.end()) return out;
  for (const auto& [folder, count] : it->second.folders) out.push_back(folder);
  return out;
}

absl::Status MemoryIndex::CreateTable(const TableSchema& schema) {
  RETURN_IF_ERROR(catalog_internal::ValidateTableSchema(schema));
  std::lock_guard lock(state_->mu);
  State::Table& table = state_->tables[{schema.database, schema.table}];
  if (table.schema) {
    return absl::AlreadyExistsError(
        fmt::format("{}: table {}.{} already exists", Describe(), schema.database, schema.table));
  }
  table.schema = schema;
  state_->Bump(schema.database, schema.table);
  return absl::OkStatus();
}

absl::StatusOr<TableSchema> MemoryIndex::GetTable(const std::string& database,
                                                  const std::string& table) {
  std::lock_guard lock(state_->mu);
  auto it = state_->tables.find({database, table});
  if (it == state_->tables.end() || !it->second.schema) {
    return absl::NotFoundError(
        fmt::format("{}: table {}.{} does not exist", Describe(), database, table));
  }
  return *it->second.schema;
}

absl::StatusOr<std::vector<IndexEntry>> MemoryIndex::DropTable(const std::string& database,
                                                               const std::string& table) {
  std::lock_guard lock(state_->mu);
  auto it = state_->tables.find({database, table});
  if (it == state_->tables.end() || !it->second.schema) {
    return absl::NotFoundError(
        fmt::format("{}: table {}.{} does not exist", Describe(), database, table));
  }
  std::vector<IndexEntry> removed;
  removed.reserve(it->second.entries.size() + it->second.drops.size());
  for (auto& [path, entry] : it->second.entries) removed.push_back(std::move(entry));
  for (const auto& [path, due] : it->second.drops) {
    IndexEntry dropped;
    dropped.database = database;
    dropped.table = table;
    dropped.path = path;
    removed.push_back(std::move(dropped));
  }
  for (const auto& [path, lease_id] : it->second.leased) state_->leases.erase(lease_id);
  state_->tables.erase(it);
  state_->Bump(database, table);
  return removed;
}

absl::StatusOr<int64_t> MemoryIndex::ChangeVersion(const std::string& database,
                                                   const std::string& table) {
  std::lock_guard lock(state_->mu);
  auto it = state_->versions.find({database, table});
  return it == state_->versions.end() ? 0 : it->second;
}

absl::StatusOr<PathListing> MemoryIndex::QueryPaths(const std::string& database,
                                                    const std::string& table,
                                                    const QueryOptions& options) {
  std::lock_guard lock(state_->mu);
  PathListing listing;
  auto version = state_->versions.find({database, table});
  if (version != state_->versions.end()) listing.version = version->second;
  for (IndexEntry& e : state_->Matching(database, table, options)) {
    listing.paths.push_back(std::move(e.path));
  }
  return listing;
}

absl::StatusOr<std::optional<MergePlan>> MemoryIndex::LeaseMergePlan(const std::string& database,
                                                                     const std::string& table,
                                                                     const LeaseRequest& request) {
  std::lock_guard lock(state_->mu);
  auto it = state_->tables.find({database, table});
  if (it == state_->tables.end()) return std::optional<MergePlan>();
  State::Table& t = it->second;
  state_->ExpireLeases(t, request.now_ns);
  std::vector<PlanCandidate> candidates;
  for (const auto& [path, entry] : t.entries) {
    if (!t.leased.contains(path)) candidates.push_back({path, entry.size_bytes, entry.chunk_time});
  }
  auto group = PickMergeGroup(std::move(candidates), merge_configs_, request.now_ns,
                              request.ignore_timeouts);
  if (!group) return std::optional<MergePlan>();
  MergePlan plan;
  plan.id = NewUuid();
  plan.database = database;
  plan.table = table;
  plan.layer = t.entries.at(group->sources.front()).layer;
  plan.writer_id = request.writer_id;
  plan.folder = group->folder;
  plan.iteration = group->iteration;
  plan.sources = std::move(group->sources);
  plan.target = MergeTargetPath(plan.folder, plan.iteration);
  plan.lease_expires_ns = request.now_ns + request.lease_ns;
  for (const auto& path : plan.sources) t.leased[path] = plan.id;
  state_->leases[plan.id] = State::Lease{plan};
  return std::optional<MergePlan>(plan);
}

absl::Status MemoryIndex::CompleteMerge(const MergePlan& plan, const IndexEntry& merged,
                                        int64_t now_ns, int64_t drop_due_ns) {
  RETURN_IF_ERROR(catalog_internal::ValidateMergeCompletion(Describe(), plan, merged));
  std::lock_guard lock(state_->mu);
  auto lease = state_->leases.find(plan.id);
  if (lease == state_->leases.end() || lease->second.plan.lease_expires_ns <= now_ns) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: merge plan {} of {}.{}: the lease has expired or is unknown; nothing changed",
        Describe(), plan.id, plan.database, plan.table));
  }
  std::vector<IndexEntry> remove;
  for (const auto& path : lease->second.plan.sources) {
    IndexEntry source;
    source.database = plan.database;
    source.table = plan.table;
    source.path = path;
    remove.push_back(std::move(source));
  }
  absl::Status applied = state_->ApplyBatch(Describe(), {merged}, remove);
  if (absl::IsNotFound(applied)) {
    return absl::FailedPreconditionError(
        fmt::format("merge plan {}: {}", plan.id, std::string(applied.message())));
  }
  RETURN_IF_ERROR(applied);
  MergePlan ended = lease->second.plan;
  state_->EndLease(ended);
  State::Table& t = state_->tables[{plan.database, plan.table}];
  for (const auto& path : ended.sources) t.drops[path] = drop_due_ns;
  return absl::OkStatus();
}

absl::Status MemoryIndex::AbandonMerge(const MergePlan& plan) {
  std::lock_guard lock(state_->mu);
  if (state_->leases.contains(plan.id)) state_->EndLease(state_->leases.at(plan.id).plan);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DropItem>> MemoryIndex::DueDrops(const std::string& database,
                                                            const std::string& table,
                                                            int64_t now_ns, size_t limit) {
  std::lock_guard lock(state_->mu);
  std::vector<DropItem> due;
  auto it = state_->tables.find({database, table});
  if (it == state_->tables.end()) return due;
  for (const auto& [path, due_ns] : it->second.drops) {
    if (due_ns <= now_ns) due.push_back({database, table, path, due_ns});
  }
  std::sort(due.begin(), due.end(), [](const DropItem& a, const DropItem& b) {
    return std::tie(a.due_ns, a.path) < std::tie(b.due_ns, b.path);
  });
  if (due.size() > limit) due.resize(limit);
  return due;
}

absl::Status MemoryIndex::ForgetDrops(const std::vector<DropItem>& items) {
  std::lock_guard lock(state_->mu);
  for (const auto& item : items) {
    auto it = state_->tables.find({item.database, item.table});
    if (it == state_->tables.end()) continue;
    it->second.drops.erase(item.path);
    state_->EraseIfEmpty(it);
  }
  return absl::OkStatus();
}

}  // namespace shardlake
