// How merge plans are formed from a table's files; shared by the backends
// that plan in C++ (SQLite, memory, PostgreSQL). The contract is
// Index::LeaseMergePlan's (catalog/index.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "catalog/index.h"

namespace shardlake {

// A live file that no unexpired lease holds.
struct PlanCandidate {
  std::string path;
  int64_t size_bytes = 0;
  int64_t chunk_time = 0;
};

struct PlannedGroup {
  std::string folder;
  int iteration = 0;
  std::vector<std::string> sources;  // sorted
};

// Groups `candidates` per (folder, iteration N <= configs.size()), oldest first
// (chunk_time, then path; files larger than max_bytes(N) are skipped), into
// runs of at most max_bytes(N), and returns the
// most overdue group of two or more files that is due at `now_ns` (or any
// such group with `ignore_timeouts`), or nullopt.
std::optional<PlannedGroup> PickMergeGroup(std::vector<PlanCandidate> candidates,
                                           const std::vector<MergeConfig>& configs, int64_t now_ns,
                                           bool ignore_timeouts);

}  // namespace shardlake
