// Scheduling of a distributed plan's slices onto workers.
//
// A slice unit is the smallest piece of a query's data that is given to one
// task: a bucket number when the plan slices by bucket (the unit then holds
// that bucket's files of every sliced table), else one file of the single
// sliced table. Units go to workers by rendezvous (highest random weight)
// hashing of (unit, worker name): a unit lands on the same worker query after
// query, so that worker's file cache stays warm, and when a worker leaves only
// its units move. The units of one worker are split into at most
// `tasks_per_worker` tasks, so a worker never holds more than that many tasks
// of one query and a failed task re-runs only part of the worker's share.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog/index_entry.h"
#include "query/distributed_planner.h"

namespace shardlake {

// A lake table a query reads, with the files left after pruning.
struct QueryTableFiles {
  TableSchema schema;
  std::vector<IndexEntry> files;
};

// The store key of an entry: "<db>/<table>/<path>".
std::string ObjectKeyOf(const IndexEntry& entry);

struct SliceUnit {
  std::string key;  // "bucket=7" or the file key; what the rendezvous hash sees
  std::map<std::string, std::vector<std::string>> file_keys;  // "db.table" -> keys
};

// The units covering every file of every sliced table exactly once, ordered
// by key. Errors: InvalidArgument when a sliced table is missing from `tables`,
// or when the plan slices by bucket and a file is not in a bucket folder.
absl::StatusOr<std::vector<SliceUnit>> BuildSliceUnits(
    const DistributedPlan& plan, const std::map<std::string, QueryTableFiles>& tables);

// Index into `worker_names` of the worker that owns `unit_key`. REQUIRES:
// `worker_names` is not empty.
size_t RendezvousOwner(const std::string& unit_key, const std::vector<std::string>& worker_names);

struct TaskSlice {
  size_t worker = 0;  // index into the worker list it was assigned with
  std::vector<SliceUnit> units;
};

// Assigns every unit to its rendezvous owner and splits each worker's units
// into at most `tasks_per_worker` tasks (round robin, so tasks are even).
// With no units, returns one task without units (for a query over empty
// tables, which still needs its typed, empty partial result). REQUIRES:
// `worker_names` is not empty, tasks_per_worker >= 1.
std::vector<TaskSlice> AssignSlices(const std::vector<SliceUnit>& units,
                                    const std::vector<std::string>& worker_names,
                                    int tasks_per_worker);

}  // namespace shardlake
