// The Lua scripts of the Redis catalog backend (see redis_index.h for the key
// layout). Each script validates everything before its first write, because
// Redis keeps the writes a script made before it failed. Every script that
// changes a table also increments its "shardlake:version:{db}:{table}" key
// (Index::ChangeVersion) in the same run. Errors are returned as
// error replies "<CODE> <message>" with CODE one of INVALID_ARGUMENT,
// ALREADY_EXISTS, NOT_FOUND, FAILED_PRECONDITION, DATA_LOSS.
//
// Nanosecond values travel as canonical decimal strings (no leading zeros, no
// "-0") and are only compared, never computed with, in Lua (Lua numbers are
// doubles): see the `cmp` helper.
#pragma once

#include <string>

namespace shardlake::redis {

struct Script {
  const char* name;
  const char* body;  // without the shared helpers
};

// The full Lua source of `script` (shared helpers + body).
std::string ScriptSource(const Script& script);

// ARGV: strict ("1": added paths must end in .N.parquet), n_add, n_remove, then
// per added entry: db, table, hash suffix, path, folder, entry JSON, min_time,
// max_time; per removed entry: db, table, hash suffix, path, folder.
// Returns the number of entries written.
extern const Script kBatchScript;

// ARGV: db, table, only hash suffix ("" for all), after ("" unbounded),
// before, first day "YYYY-MM-DD" ("" unbounded), last day. Returns a flat
// array [key1, [field, value, ...], key2, [...], ...] read atomically.
extern const Script kQueryScript;

// The same ARGV as kQueryScript. Returns [version, path, path, ...]: the
// table's change version and the fields of the same hashes, read atomically.
extern const Script kQueryPathsScript;

// ARGV: schema key, schema JSON, tables-set member, db, table.
// Errors: ALREADY_EXISTS.
extern const Script kCreateTableScript;

// ARGV: db, table. Returns [[entry JSON...], [drop item JSON...]].
// Errors: NOT_FOUND when the table has no schema.
extern const Script kDropTableScript;

// ARGV: db, table, now_ns, lease id, lease record JSON, processing list key,
// n, then n pairs (hash suffix, path). Returns "OK" or "CONFLICT" (a source
// is gone or held by an unexpired lease; nothing written).
extern const Script kLeaseScript;

// ARGV: db, table, now_ns, lease id, merged hash suffix, merged path, merged
// folder, merged JSON, merged min_time, merged max_time, drop due_ns, drop
// due seconds, n, then n triples (hash suffix, path, folder) of the sources.
extern const Script kCompleteMergeScript;

// ARGV: db, table, lease id. Ends the lease if it exists.
extern const Script kAbandonScript;

// ARGV: db, table, n, then n pairs (path, due_ns). Removes matching drops.
extern const Script kForgetDropsScript;

inline constexpr const Script* kAllScripts[] = {
    &kBatchScript,         &kQueryScript,     &kQueryPathsScript,
    &kCreateTableScript,   &kDropTableScript, &kLeaseScript,
    &kCompleteMergeScript, &kAbandonScript,   &kForgetDropsScript};

}  // namespace shardlake::redis
