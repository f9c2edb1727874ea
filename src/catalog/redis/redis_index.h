// The Redis catalog backend, compatible with GigAPI's key layout (see
// docs/catalog.md and ../shared/research/gigapi.md).
//
// Keys (GigAPI's layout; {seg} is the first segment of a path):
//   files:{db}:{table}:{seg}   HASH  path -> entry JSON: GigAPI's IndexEntry
//       fields plus "str_min_time", "str_max_time", "str_chunk_time" (decimal
//       strings, exact ns) with the numeric min_time / max_time / chunk_time
//       zeroed, and "cmd":"ADD" - exactly what GigAPI's patch_index.lua stores.
//       GigAPI's paths start with date=YYYY-MM-DD, so this is one hash per day.
//       Files at a table root (no folder; flat tables, which GigAPI never
//       writes) live in files:{db}:{table}:_root.
//   folders:{db}:{table}       HASH  folder ("date=.../hour=..", "" for the
//       root) -> number of live files; field removed at 0 (GigAPI's).
//   merge:{db}:{table}:{N}:{folder}:{layer}:{writer_id}:processing
//                              LIST  a leased plan as GigAPI's bucket item
//       {id, time_s (lease deadline, s), paths, size} plus our fields
//       (expires_ns, target, folder, iteration, writer_id, layer, list...).
//   drop:{db}:{table}:{layer}:{writer_id}:idle
//                              LIST  GigAPI's drop item {id, writer_id, layer,
//       path, database, table, time_s} plus "due_ns" (exact ns, a string).
// Keys of ours (not in GigAPI):
//   shardlake:schema:{db}:{table}      STRING table schema JSON
//   shardlake:tables                   SET    ["db","table"] JSON of each schema
//   shardlake:span:{db}:{table}        HASH   {seg} -> "min max" (decimal ns), a
//       superset of the time span of the entries shardlake wrote to that files
//       hash (widened on add, deleted with the hash); lets time-range queries
//       skip hashes whose path date says nothing about their entries' times.
//   shardlake:leases:{db}:{table}      HASH   lease id -> lease record (the
//       same JSON as the processing-list item)
//   shardlake:leased:{db}:{table}      HASH   path -> lease id holding it
//   shardlake:droplists:{db}:{table}   SET    drop:... lists holding our drops
// Database and table names must not contain ':' (the keys could not be told
// apart); such names are InvalidArgument.
//
// Atomicity: every Batch, CreateTable, DropTable, lease, CompleteMerge,
// AbandonMerge and ForgetDrops is one Lua script (SCRIPT LOAD at open,
// EVALSHA, reloaded on NOSCRIPT) that validates everything before its first
// write. Query is one read-only script too, so readers never see half a batch.
//
// Merge plans: planned at lease time from the live files (the shared
// PickMergeGroup, identical to the SQLite backend), then leased by a script
// that re-checks that every source is still live and held by no unexpired
// lease (else the planner re-reads and retries), so concurrent callers never
// lease the same file; an expired lease is released when its files are
// planned again. GigAPI instead fills ":idle" bucket lists on every ADD and
// pops them: those buckets are due by Redis arrival time rather than the files'
// chunk_time, keep one-file buckets (handed out again and again), and go stale
// when files are removed outside a merge; so we neither write nor read them.
// A leased plan is still pushed to GigAPI's ":processing" list (removed by id
// like GigAPI's EndMerge), and merge drops go to GigAPI's drop lists. Do not
// run GigAPI's compactor on tables shardlake compacts.
//
// Deliberate differences from GigAPI's bugs (research notes 1.7 / 1.4): a
// time-range query uses [day(after), day(before)] inclusive (the last partial
// day is read); each path lives in one hash and results are de-duplicated and
// sorted; ending a merge is one script with the index swap; expired leases are
// re-planned; `folders` counts only change for real adds/removes.
//
// URI: redis://[user[:pass]@]host:port/DB or rediss://... (TLS), parameters in
// redis_connection.h.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "catalog/index.h"
#include "common/uri.h"

namespace shardlake {

// Opens `redis://[user[:pass]@]host:port/DB` or `rediss://...` (TLS).
// Errors: InvalidArgument for a malformed URI (no DB number...) or a DB number
// the server does not have, Unavailable when Redis cannot be reached,
// PermissionDenied for a wrong password; every message names the URI without
// its password.
absl::StatusOr<std::unique_ptr<Index>> OpenRedisIndex(const Uri& uri, const IndexOptions& options);

}  // namespace shardlake
