#include "catalog/redis/redis_index.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "catalog/index_internal.h"
#include "catalog/merge_planning.h"
#include "catalog/redis/redis_connection.h"
#include "catalog/redis/redis_scripts.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace shardlake {
namespace {

using nlohmann::json;
using redis::Reply;
using Args = std::vector<std::string>;

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kNanosPerDay = 86'400 * kNanosPerSecond;
constexpr int kLeaseAttempts = 32;

// The files-hash suffix of a path: its first segment, "_root" for a root file.
std::string HashSuffix(const std::string& path) {
  size_t slash = path.find('/');
  return slash == std::string::npos ? "_root" : path.substr(0, slash);
}

std::string FilesKey(const std::string& db, const std::string& table, const std::string& path) {
  return fmt::format("files:{}:{}:{}", db, table, HashSuffix(path));
}

std::string VersionKey(const std::string& db, const std::string& table) {
  return fmt::format("shardlake:version:{}:{}", db, table);
}

// "YYYY-MM-DD" of the UTC day holding `ns`.
std::string DayOf(int64_t ns) {
  int64_t days = ns / kNanosPerDay;
  if (ns % kNanosPerDay < 0) --days;
  std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

bool ParseInt64(std::string_view text, int64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Serializes without throwing (invalid UTF-8 in a string is an error).
absl::StatusOr<std::string> Dump(const json& value, std::string_view what) {
  try {
    return value.dump();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}: cannot encode as JSON: {}", what, e.what()));
  }
}

// A JSON string literal (escaped like nlohmann::json::dump).
absl::StatusOr<std::string> JsonString(const std::string& text, std::string_view what) {
  return Dump(json(text), what);
}

// The entry JSON exactly as GigAPI's Redis backend stores it: IndexEntryToJson's
// fields with the numeric times zeroed, plus the str_* decimal strings and
// "cmd". Written by hand (same keys and order as IndexEntryToJson) because a
// batch can hold 100,000 entries.
absl::StatusOr<std::string> EntryJson(const IndexEntry& e) {
  std::string what = fmt::format("entry '{}' of {}.{}", e.path, e.database, e.table);
  ASSIGN_OR_RETURN(std::string layer, JsonString(e.layer, what));
  ASSIGN_OR_RETURN(std::string database, JsonString(e.database, what));
  ASSIGN_OR_RETURN(std::string table, JsonString(e.table, what));
  ASSIGN_OR_RETURN(std::string path, JsonString(e.path, what));
  ASSIGN_OR_RETURN(std::string min, Dump(e.min, what));
  ASSIGN_OR_RETURN(std::string max, Dump(e.max, what));
  ASSIGN_OR_RETURN(std::string writer, JsonString(e.writer_id, what));
  return fmt::format(
      R"({{"layer":{},"database":{},"table":{},"path":{},"size_bytes":{},"row_count":{},)"
      R"("chunk_time":0,"min":{},"max":{},"min_time":0,"max_time":0,"writer_id":{},)"
      R"("str_min_time":"{}","str_max_time":"{}","str_chunk_time":"{}","cmd":"ADD"}})",
      layer, database, table, path, e.size_bytes, e.row_count, min, max, writer, e.min_time,
      e.max_time, e.chunk_time);
}

absl::Status CheckName(const std::string& db, const std::string& table, std::string_view what) {
  if (db.find(':') != std::string::npos || table.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("{}: database and table names must not contain ':' in the Redis catalog "
                    "(got '{}'.'{}')",
                    what, db, table));
  }
  return absl::OkStatus();
}

class RedisIndex final : public Index {
 public:
  RedisIndex(std::unique_ptr<redis::Pool> pool, IndexOptions options, bool strict,
             std::map<std::string, std::string> shas)
      : pool_(std::move(pool)),
        options_(std::move(options)),
        strict_(strict),
        shas_(std::move(shas)) {}

  std::string Describe() const override { return pool_->endpoint().describe; }

  absl::Status Batch(const std::vector<IndexEntry>& add,
                     const std::vector<IndexEntry>& remove) override {
    RETURN_IF_ERROR(ValidateBatch(add, remove));
    if (add.empty() && remove.empty()) return absl::OkStatus();
    Args args = {strict_ ? "1" : "0", std::to_string(add.size()), std::to_string(remove.size())};
    args.reserve(3 + 8 * add.size() + 5 * remove.size());
    for (const IndexEntry& e : add) {
      RETURN_IF_ERROR(CheckName(e.database, e.table, "Batch"));
      RETURN_IF_ERROR(CheckIteration(e.path, e.database, e.table));
      ASSIGN_OR_RETURN(std::string value, EntryJson(e));
      args.insert(args.end(),
                  {e.database, e.table, HashSuffix(e.path), e.path, FolderOfPath(e.path),
                   std::move(value), std::to_string(e.min_time), std::to_string(e.max_time)});
    }
    for (const IndexEntry& e : remove) {
      RETURN_IF_ERROR(CheckName(e.database, e.table, "Batch"));
      args.insert(args.end(),
                  {e.database, e.table, HashSuffix(e.path), e.path, FolderOfPath(e.path)});
    }
    ASSIGN_OR_RETURN(Reply reply, Eval(redis::kBatchScript, std::move(args), false));
    return ScriptStatus(reply, "Batch");
  }

  absl::StatusOr<IndexEntry> Get(const std::string& database, const std::string& table,
                                 const std::string& path) override {
    std::string key = FilesKey(database, table, path);
    ASSIGN_OR_RETURN(Reply reply, pool_->Command({"HGET", key, path}, true));
    if (reply.is_nil()) {
      return absl::NotFoundError(
          fmt::format("{}: '{}' of {}.{} is not in the index", Describe(), path, database, table));
    }
    RETURN_IF_ERROR(ScriptStatus(reply, "Get"));
    return ParseEntry(key, path, reply.str, database, table);
  }

  absl::StatusOr<std::vector<IndexEntry>> Query(const std::string& database,
                                                const std::string& table,
                                                const QueryOptions& options) override {
    std::string folder = catalog_internal::NormalizedFolder(options);
    std::vector<IndexEntry> out;
    if (options.after && options.before && *options.after > *options.before) return out;
    ASSIGN_OR_RETURN(Reply reply,
                     Eval(redis::kQueryScript, QueryArgs(database, table, options, folder), true));
    RETURN_IF_ERROR(ScriptStatus(reply, "Query"));
    RETURN_IF_ERROR(ForEachEntry(reply, database, table, [&](IndexEntry entry) {
      if (catalog_internal::MatchesQuery(entry, options, folder)) out.push_back(std::move(entry));
    }));
    std::sort(out.begin(), out.end(),
              [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; });
    out.erase(
        std::unique(out.begin(), out.end(),
                    [](const IndexEntry& a, const IndexEntry& b) { return a.path == b.path; }),
        out.end());
    return out;
  }

  absl::StatusOr<int64_t> ChangeVersion(const std::string& database,
                                        const std::string& table) override {
    ASSIGN_OR_RETURN(Reply reply, pool_->Command({"GET", VersionKey(database, table)}, true));
    if (reply.is_nil()) return 0;
    RETURN_IF_ERROR(ScriptStatus(reply, "ChangeVersion"));
    int64_t version = 0;
    if (!ParseInt64(reply.str, &version)) return Malformed("ChangeVersion");
    return version;
  }

  absl::StatusOr<PathListing> QueryPaths(const std::string& database, const std::string& table,
                                         const QueryOptions& options) override {
    std::string folder = catalog_internal::NormalizedFolder(options);
    ASSIGN_OR_RETURN(Reply reply, Eval(redis::kQueryPathsScript,
                                       QueryArgs(database, table, options, folder), true));
    RETURN_IF_ERROR(ScriptStatus(reply, "QueryPaths"));
    PathListing listing;
    if (reply.elements.empty() || !ParseInt64(reply.elements[0].str, &listing.version)) {
      return Malformed("QueryPaths");
    }
    listing.paths.reserve(reply.elements.size() - 1);
    for (size_t i = 1; i < reply.elements.size(); ++i) {
      listing.paths.push_back(std::move(reply.elements[i].str));
    }
    std::sort(listing.paths.begin(), listing.paths.end());
    listing.paths.erase(std::unique(listing.paths.begin(), listing.paths.end()),
                        listing.paths.end());
    return listing;
  }

  absl::StatusOr<std::vector<IndexEntry>> GetMany(const std::string& database,
                                                  const std::string& table,
                                                  const std::vector<std::string>& paths) override {
    constexpr size_t kFieldsPerCommand = 1000;
    std::map<std::string, std::vector<const std::string*>> by_key;
    for (const std::string& path : paths) by_key[FilesKey(database, table, path)].push_back(&path);
    std::vector<IndexEntry> out;
    for (const auto& [key, fields] : by_key) {
      for (size_t begin = 0; begin < fields.size(); begin += kFieldsPerCommand) {
        size_t end = std::min(fields.size(), begin + kFieldsPerCommand);
        Args command = {"HMGET", key};
        for (size_t i = begin; i < end; ++i) command.push_back(*fields[i]);
        ASSIGN_OR_RETURN(Reply reply, pool_->Command(std::move(command), true));
        RETURN_IF_ERROR(ScriptStatus(reply, "GetMany"));
        if (reply.elements.size() != end - begin) return Malformed("GetMany");
        for (size_t i = begin; i < end; ++i) {
          const Reply& value = reply.elements[i - begin];
          if (value.is_nil()) continue;
          ASSIGN_OR_RETURN(IndexEntry entry,
                           ParseEntry(key, *fields[i], value.str, database, table));
          out.push_back(std::move(entry));
        }
      }
    }
    std::sort(out.begin(), out.end(),
              [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; });
    out.erase(
        std::unique(out.begin(), out.end(),
                    [](const IndexEntry& a, const IndexEntry& b) { return a.path == b.path; }),
        out.end());
    return out;
  }

  absl::StatusOr<std::vector<std::string>> ListDatabases() override {
    ASSIGN_OR_RETURN(auto tables, AllTables());
    std::vector<std::string> out;
    for (const auto& [db, table] : tables) {
      if (out.empty() || out.back() != db) out.push_back(db);
    }
    return out;
  }

  absl::StatusOr<std::vector<std::string>> ListTables(const std::string& database) override {
    ASSIGN_OR_RETURN(auto tables, AllTables());
    std::vector<std::string> out;
    for (const auto& [db, table] : tables) {
      if (db == database) out.push_back(table);
    }
    return out;
  }

  absl::StatusOr<std::vector<std::string>> ListFolders(const std::string& database,
                                                       const std::string& table) override {
    ASSIGN_OR_RETURN(
        Reply reply,
        pool_->Command({"HGETALL", fmt::format("folders:{}:{}", database, table)}, true));
    RETURN_IF_ERROR(ScriptStatus(reply, "ListFolders"));
    std::vector<std::string> out;
    for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
      int64_t count = 0;
      if (ParseInt64(reply.elements[i + 1].str, &count) && count > 0) {
        out.push_back(reply.elements[i].str);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  absl::Status CreateTable(const TableSchema& schema) override {
    RETURN_IF_ERROR(catalog_internal::ValidateTableSchema(schema));
    RETURN_IF_ERROR(CheckName(schema.database, schema.table, "CreateTable"));
    ASSIGN_OR_RETURN(std::string value, Dump(TableSchemaToJson(schema), "CreateTable"));
    ASSIGN_OR_RETURN(std::string member,
                     Dump(json::array({schema.database, schema.table}), "CreateTable"));
    ASSIGN_OR_RETURN(Reply reply, Eval(redis::kCreateTableScript,
                                       {SchemaKey(schema.database, schema.table), value, member,
                                        schema.database, schema.table},
                                       false));
    return ScriptStatus(reply, fmt::format("CreateTable {}.{}", schema.database, schema.table));
  }

  absl::StatusOr<TableSchema> GetTable(const std::string& database,
                                       const std::string& table) override {
    std::string key = SchemaKey(database, table);
    ASSIGN_OR_RETURN(Reply reply, pool_->Command({"GET", key}, true));
    if (reply.is_nil()) {
      return absl::NotFoundError(
          fmt::format("{}: table {}.{} does not exist", Describe(), database, table));
    }
    RETURN_IF_ERROR(ScriptStatus(reply, "GetTable"));
    json parsed = json::parse(reply.str, nullptr, false);
    absl::StatusOr<TableSchema> schema = parsed.is_discarded()
                                             ? absl::InvalidArgumentError("not valid JSON")
                                             : TableSchemaFromJson(parsed);
    if (!schema.ok()) {
      return absl::DataLossError(fmt::format("{}: corrupt table schema in Redis key '{}': {}",
                                             Describe(), key,
                                             std::string(schema.status().message())));
    }
    return schema;
  }

  absl::StatusOr<std::vector<IndexEntry>> DropTable(const std::string& database,
                                                    const std::string& table) override {
    ASSIGN_OR_RETURN(std::string member, Dump(json::array({database, table}), "DropTable"));
    ASSIGN_OR_RETURN(Reply reply, Eval(redis::kDropTableScript, {database, table, member}, false));
    RETURN_IF_ERROR(ScriptStatus(reply, fmt::format("DropTable {}.{}", database, table)));
    if (reply.elements.size() != 2) return Malformed("DropTable");
    std::vector<IndexEntry> entries;
    for (const Reply& value : reply.elements[0].elements) {
      ASSIGN_OR_RETURN(IndexEntry entry, ParseEntry(fmt::format("files:{}:{}:*", database, table),
                                                    "(dropped)", value.str, database, table));
      entries.push_back(std::move(entry));
    }
    std::sort(entries.begin(), entries.end(),
              [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; });
    std::vector<IndexEntry> drops;
    for (const Reply& value : reply.elements[1].elements) {
      absl::StatusOr<DropItem> item = ParseDrop(value.str, database, table);
      if (!item.ok()) continue;  // an unreadable drop names no file to delete
      IndexEntry ref;
      ref.database = database;
      ref.table = table;
      ref.path = item->path;
      drops.push_back(std::move(ref));
    }
    std::sort(drops.begin(), drops.end(),
              [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; });
    entries.insert(entries.end(), drops.begin(), drops.end());
    return entries;
  }

  absl::StatusOr<std::optional<MergePlan>> LeaseMergePlan(const std::string& database,
                                                          const std::string& table,
                                                          const LeaseRequest& request) override {
    for (int attempt = 0; attempt < kLeaseAttempts; ++attempt) {
      ASSIGN_OR_RETURN(std::vector<IndexEntry> entries, Query(database, table, {}));
      ASSIGN_OR_RETURN(std::set<std::string> held, HeldPaths(database, table, request.now_ns));
      std::vector<PlanCandidate> candidates;
      std::map<std::string, const IndexEntry*> by_path;
      for (const IndexEntry& e : entries) {
        by_path[e.path] = &e;
        if (!held.contains(e.path)) candidates.push_back({e.path, e.size_bytes, e.chunk_time});
      }
      std::optional<PlannedGroup> group = PickMergeGroup(
          std::move(candidates), options_.merge_configs, request.now_ns, request.ignore_timeouts);
      if (!group) return std::optional<MergePlan>();

      MergePlan plan;
      plan.id = NewUuid();
      plan.database = database;
      plan.table = table;
      plan.layer = by_path[group->sources.front()]->layer;
      plan.writer_id = request.writer_id;
      plan.folder = group->folder;
      plan.iteration = group->iteration;
      plan.sources = group->sources;
      plan.target = MergeTargetPath(plan.folder, plan.iteration);
      plan.lease_expires_ns =
          request.lease_ns > std::numeric_limits<int64_t>::max() - request.now_ns
              ? std::numeric_limits<int64_t>::max()
              : request.now_ns + request.lease_ns;
      int64_t size = 0;
      for (const std::string& path : plan.sources) size += by_path[path]->size_bytes;
      std::string list = fmt::format("merge:{}:{}:{}:{}:{}:{}:processing", database, table,
                                     plan.iteration, plan.folder, plan.layer, plan.writer_id);
      json record = {{"id", plan.id},
                     {"time_s", plan.lease_expires_ns / kNanosPerSecond},
                     {"paths", plan.sources},
                     {"size", size},
                     {"writer_id", plan.writer_id},
                     {"layer", plan.layer},
                     {"database", database},
                     {"table", table},
                     {"iteration", plan.iteration},
                     {"folder", plan.folder},
                     {"target", plan.target},
                     {"expires_ns", std::to_string(plan.lease_expires_ns)},
                     {"list", list}};
      ASSIGN_OR_RETURN(std::string rec, Dump(record, "LeaseMergePlan"));
      Args args = {database,       table, std::to_string(request.now_ns),     plan.id,
                   std::move(rec), list,  std::to_string(plan.sources.size())};
      for (const std::string& path : plan.sources) {
        args.push_back(HashSuffix(path));
        args.push_back(path);
      }
      ASSIGN_OR_RETURN(Reply reply, Eval(redis::kLeaseScript, std::move(args), false));
      RETURN_IF_ERROR(ScriptStatus(reply, "LeaseMergePlan"));
      if (reply.str == "OK") return std::optional<MergePlan>(std::move(plan));
      // CONFLICT: another caller leased or removed a source meanwhile; replan.
    }
    return absl::AbortedError(
        fmt::format("{}: LeaseMergePlan on {}.{}: still conflicting with concurrent callers "
                    "after {} attempts",
                    Describe(), database, table, kLeaseAttempts));
  }

  absl::Status CompleteMerge(const MergePlan& plan, const IndexEntry& merged, int64_t now_ns,
                             int64_t drop_due_ns) override {
    RETURN_IF_ERROR(catalog_internal::ValidateMergeCompletion(Describe(), plan, merged));
    RETURN_IF_ERROR(CheckName(merged.database, merged.table, "CompleteMerge"));
    RETURN_IF_ERROR(CheckIteration(merged.path, merged.database, merged.table));
    ASSIGN_OR_RETURN(std::string value, EntryJson(merged));
    int64_t due_s = drop_due_ns / kNanosPerSecond;
    if (drop_due_ns % kNanosPerSecond > 0) ++due_s;  // GigAPI's seconds, rounded up
    Args args = {plan.database,
                 plan.table,
                 std::to_string(now_ns),
                 plan.id,
                 HashSuffix(merged.path),
                 merged.path,
                 FolderOfPath(merged.path),
                 std::move(value),
                 std::to_string(merged.min_time),
                 std::to_string(merged.max_time),
                 std::to_string(drop_due_ns),
                 std::to_string(due_s),
                 std::to_string(plan.sources.size())};
    for (const std::string& path : plan.sources) {
      args.insert(args.end(), {HashSuffix(path), path, FolderOfPath(path)});
    }
    ASSIGN_OR_RETURN(Reply reply, Eval(redis::kCompleteMergeScript, std::move(args), false));
    return ScriptStatus(reply, "CompleteMerge");
  }

  absl::Status AbandonMerge(const MergePlan& plan) override {
    ASSIGN_OR_RETURN(Reply reply,
                     Eval(redis::kAbandonScript, {plan.database, plan.table, plan.id}, true));
    return ScriptStatus(reply, "AbandonMerge");
  }

  absl::StatusOr<std::vector<DropItem>> DueDrops(const std::string& database,
                                                 const std::string& table, int64_t now_ns,
                                                 size_t limit) override {
    ASSIGN_OR_RETURN(Reply lists,
                     pool_->Command({"SMEMBERS", DropListsKey(database, table)}, true));
    RETURN_IF_ERROR(ScriptStatus(lists, "DueDrops"));
    std::vector<DropItem> out;
    if (lists.elements.empty()) return out;
    std::vector<Args> commands;
    for (const Reply& list : lists.elements) commands.push_back({"LRANGE", list.str, "0", "-1"});
    ASSIGN_OR_RETURN(std::vector<Reply> items, pool_->Run(commands, true));
    for (const Reply& list : items) {
      RETURN_IF_ERROR(ScriptStatus(list, "DueDrops"));
      for (const Reply& item : list.elements) {
        absl::StatusOr<DropItem> drop = ParseDrop(item.str, database, table);
        if (!drop.ok()) return drop.status();
        if (drop->due_ns <= now_ns) out.push_back(*std::move(drop));
      }
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const DropItem& a, const DropItem& b) { return a.due_ns < b.due_ns; });
    if (out.size() > limit) out.resize(limit);
    return out;
  }

  absl::Status ForgetDrops(const std::vector<DropItem>& items) override {
    std::map<std::pair<std::string, std::string>, std::vector<const DropItem*>> by_table;
    for (const DropItem& item : items) by_table[{item.database, item.table}].push_back(&item);
    for (const auto& [key, group] : by_table) {
      Args args = {key.first, key.second, std::to_string(group.size())};
      for (const DropItem* item : group) {
        args.push_back(item->path);
        args.push_back(std::to_string(item->due_ns));
      }
      ASSIGN_OR_RETURN(Reply reply, Eval(redis::kForgetDropsScript, std::move(args), true));
      RETURN_IF_ERROR(ScriptStatus(reply, "ForgetDrops"));
    }
    return absl::OkStatus();
  }

 private:
  // The ARGV of kQueryScript / kQueryPathsScript.
  static Args QueryArgs(const std::string& database, const std::string& table,
                        const QueryOptions& options, const std::string& folder) {
    return {database,
            table,
            folder.empty() ? "" : HashSuffix(folder + "/x"),
            options.after ? std::to_string(*options.after) : "",
            options.before ? std::to_string(*options.before) : "",
            options.after ? DayOf(*options.after) : "",
            options.before ? DayOf(*options.before) : ""};
  }

  static std::string SchemaKey(const std::string& db, const std::string& table) {
    return fmt::format("shardlake:schema:{}:{}", db, table);
  }
  static std::string DropListsKey(const std::string& db, const std::string& table) {
    return fmt::format("shardlake:droplists:{}:{}", db, table);
  }

  absl::Status CheckIteration(const std::string& path, const std::string& db,
                              const std::string& table) const {
    if (strict_ && IterationOfPath(path) <= 0) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: added path '{}' of {}.{} does not end in .<N>.parquet (GigAPI's merge iteration); "
          "nothing was written",
          Describe(), path, db, table));
    }
    return absl::OkStatus();
  }

  absl::Status Malformed(std::string_view what) const {
    return absl::InternalError(
        fmt::format("{}: {}: unexpected reply from Redis", Describe(), what));
  }

  // Maps an error reply ("CODE message" from our scripts, or a Redis error).
  absl::Status ScriptStatus(const Reply& reply, std::string_view what) const {
    if (!reply.is_error()) return absl::OkStatus();
    std::string_view text = reply.str;
    std::string_view code = text.substr(0, text.find(' '));
    std::string_view rest = code.size() < text.size() ? text.substr(code.size() + 1) : "";
    std::string message = fmt::format("{}: {}: {}", Describe(), what, rest);
    if (code == "INVALID_ARGUMENT") return absl::InvalidArgumentError(message);
    if (code == "ALREADY_EXISTS") return absl::AlreadyExistsError(message);
    if (code == "NOT_FOUND") return absl::NotFoundError(message);
    if (code == "FAILED_PRECONDITION") return absl::FailedPreconditionError(message);
    if (code == "DATA_LOSS") return absl::DataLossError(message);
    std::string raw = fmt::format("{}: {}: Redis error: {}", Describe(), what, text);
    if (code == "LOADING" || code == "BUSY" || code == "MASTERDOWN" || code == "TRYAGAIN" ||
        code == "OOM" || code == "READONLY") {
      return absl::UnavailableError(raw);
    }
    if (code == "NOAUTH" || code == "WRONGPASS" || code == "NOPERM") {
      return absl::PermissionDeniedError(raw);
    }
    return absl::InternalError(raw);
  }

  // Runs a script by EVALSHA, loading it again after NOSCRIPT (Redis restarted
  // or SCRIPT FLUSH).
  absl::StatusOr<Reply> Eval(const redis::Script& script, Args args, bool idempotent) {
    Args command = {"EVALSHA", Sha(script), "0"};
    command.insert(command.end(), std::make_move_iterator(args.begin()),
                   std::make_move_iterator(args.end()));
    ASSIGN_OR_RETURN(Reply reply, pool_->Command(command, idempotent));
    if (reply.is_error() && reply.str.starts_with("NOSCRIPT")) {
      ASSIGN_OR_RETURN(Reply loaded,
                       pool_->Command({"SCRIPT", "LOAD", redis::ScriptSource(script)}, true));
      if (loaded.is_error()) {
        return absl::InternalError(
            fmt::format("{}: SCRIPT LOAD {}: {}", Describe(), script.name, loaded.str));
      }
      {
        std::lock_guard lock(mu_);
        shas_[script.name] = loaded.str;
      }
      command[1] = loaded.str;
      ASSIGN_OR_RETURN(reply, pool_->Command(command, idempotent));
    }
    return reply;
  }

  std::string Sha(const redis::Script& script) {
    std::lock_guard lock(mu_);
    return shas_[script.name];
  }

  absl::StatusOr<IndexEntry> ParseEntry(const std::string& key, const std::string& field,
                                        const std::string& value, const std::string& database,
                                        const std::string& table) const {
    absl::StatusOr<IndexEntry> entry = IndexEntryFromJsonText(value);
    if (!entry.ok()) {
      return absl::DataLossError(
          fmt::format("{}: corrupt index entry in Redis hash '{}' field '{}': {}", Describe(), key,
                      field, std::string(entry.status().message())));
    }
    if (entry->database.empty()) entry->database = database;
    if (entry->table.empty()) entry->table = table;
    return entry;
  }

  // Calls `fn` with every entry of a query-script reply.
  template <typename Fn>
  absl::Status ForEachEntry(const Reply& reply, const std::string& database,
                            const std::string& table, Fn fn) const {
    if (reply.type != Reply::Type::kArray) return Malformed("Query");
    for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
      const std::string& key = reply.elements[i].str;
      const Reply& kv = reply.elements[i + 1];
      for (size_t j = 0; j + 1 < kv.elements.size(); j += 2) {
        ASSIGN_OR_RETURN(IndexEntry entry, ParseEntry(key, kv.elements[j].str,
                                                      kv.elements[j + 1].str, database, table));
        fn(std::move(entry));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<DropItem> ParseDrop(const std::string& text, const std::string& database,
                                     const std::string& table) const {
    json parsed = json::parse(text, nullptr, false);
    DropItem item;
    item.database = database;
    item.table = table;
    bool ok = parsed.is_object() && parsed.contains("path") && parsed["path"].is_string();
    if (ok) {
      item.path = parsed["path"].get<std::string>();
      auto due = parsed.find("due_ns");
      auto time_s = parsed.find("time_s");
      if (due != parsed.end() && due->is_string()) {
        ok = ParseInt64(due->get_ref<const std::string&>(), &item.due_ns);
      } else if (time_s != parsed.end() && time_s->is_number()) {
        double seconds = time_s->get<double>();
        ok = seconds > -9.2e9 && seconds < 9.2e9;
        item.due_ns = ok ? static_cast<int64_t>(seconds) * kNanosPerSecond : 0;
      } else {
        ok = false;
      }
    }
    if (!ok) {
      return absl::DataLossError(fmt::format("{}: corrupt drop item of {}.{} in Redis: {}",
                                             Describe(), database, table, text));
    }
    return item;
  }

  // Paths held by a lease unexpired at `now_ns`.
  absl::StatusOr<std::set<std::string>> HeldPaths(const std::string& database,
                                                  const std::string& table, int64_t now_ns) {
    std::string key = fmt::format("shardlake:leases:{}:{}", database, table);
    ASSIGN_OR_RETURN(Reply reply, pool_->Command({"HVALS", key}, true));
    RETURN_IF_ERROR(ScriptStatus(reply, "LeaseMergePlan"));
    std::set<std::string> held;
    for (const Reply& value : reply.elements) {
      json record = json::parse(value.str, nullptr, false);
      int64_t expires = 0;
      if (!record.is_object() || !record.contains("expires_ns") ||
          !record["expires_ns"].is_string() ||
          !ParseInt64(record["expires_ns"].get_ref<const std::string&>(), &expires) ||
          !record.contains("paths") || !record["paths"].is_array()) {
        return absl::DataLossError(fmt::format("{}: corrupt lease record in Redis hash '{}': {}",
                                               Describe(), key, value.str));
      }
      if (expires <= now_ns) continue;
      for (const json& path : record["paths"]) {
        if (path.is_string()) held.insert(path.get<std::string>());
      }
    }
    return held;
  }

  // (database, table) of every table with live entries (GigAPI's folders
  // keys, found by SCAN) or a schema.
  absl::StatusOr<std::set<std::pair<std::string, std::string>>> AllTables() {
    std::set<std::pair<std::string, std::string>> out;
    std::string cursor = "0";
    do {
      ASSIGN_OR_RETURN(
          Reply reply,
          pool_->Command({"SCAN", cursor, "MATCH", "folders:*", "COUNT", "1000"}, true));
      RETURN_IF_ERROR(ScriptStatus(reply, "ListDatabases"));
      if (reply.elements.size() != 2) return Malformed("SCAN");
      cursor = reply.elements[0].str;
      for (const Reply& key : reply.elements[1].elements) {
        std::string_view rest =
            std::string_view(key.str).substr(std::string_view("folders:").size());
        size_t colon = rest.find(':');
        if (colon == std::string_view::npos) continue;
        out.emplace(std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1)));
      }
    } while (cursor != "0");
    ASSIGN_OR_RETURN(Reply members, pool_->Command({"SMEMBERS", "shardlake:tables"}, true));
    RETURN_IF_ERROR(ScriptStatus(members, "ListDatabases"));
    for (const Reply& member : members.elements) {
      json parsed = json::parse(member.str, nullptr, false);
      if (parsed.is_array() && parsed.size() == 2 && parsed[0].is_string() &&
          parsed[1].is_string()) {
        out.emplace(parsed[0].get<std::string>(), parsed[1].get<std::string>());
      }
    }
    return out;
  }

  std::unique_ptr<redis::Pool> pool_;
  const IndexOptions options_;
  const bool strict_;
  std::mutex mu_;
  std::map<std::string, std::string> shas_;  // script name -> SHA1; guarded by mu_
};

}  // namespace

absl::StatusOr<std::unique_ptr<Index>> OpenRedisIndex(const Uri& uri_in,
                                                      const IndexOptions& options) {
  Uri uri = uri_in;
  // The batch script checks the .<N>.parquet suffix too, as GigAPI's does.
  const bool strict = true;
  ASSIGN_OR_RETURN(redis::Endpoint endpoint, redis::ParseEndpoint(uri));
  ASSIGN_OR_RETURN(std::unique_ptr<redis::Pool> pool, redis::Pool::Open(std::move(endpoint)));
  std::vector<Args> load;
  for (const redis::Script* script : redis::kAllScripts) {
    load.push_back({"SCRIPT", "LOAD", redis::ScriptSource(*script)});
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, pool->Run(load, true));
  std::map<std::string, std::string> shas;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].is_error() || replies[i].str.empty()) {
      return absl::InternalError(fmt::format("'{}': SCRIPT LOAD {} failed: {}",
                                             pool->endpoint().describe, redis::kAllScripts[i]->name,
                                             replies[i].str));
    }
    shas[redis::kAllScripts[i]->name] = replies[i].str;
  }
  return std::unique_ptr<Index>(
      std::make_unique<RedisIndex>(std::move(pool), options, strict, std::move(shas)));
}

}  // namespace shardlake
