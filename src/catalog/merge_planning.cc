#include "catalog/merge_planning.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>

namespace shardlake {

std::optional<PlannedGroup> PickMergeGroup(std::vector<PlanCandidate> candidates,
                                           const std::vector<MergeConfig>& configs, int64_t now_ns,
                                           bool ignore_timeouts) {
  constexpr int64_t kNanosPerSecond = 1'000'000'000;
  // (folder, iteration) -> files, oldest first.
  std::map<std::pair<std::string, int>, std::vector<const PlanCandidate*>> by_level;
  for (const auto& candidate : candidates) {
    int iteration = IterationOfPath(candidate.path);
    if (iteration < 1 || iteration > static_cast<int>(configs.size())) continue;
    by_level[{FolderOfPath(candidate.path), iteration}].push_back(&candidate);
  }
  std::optional<PlannedGroup> best;
  int64_t best_oldest = std::numeric_limits<int64_t>::max();
  for (auto& [level, files] : by_level) {
    std::sort(files.begin(), files.end(), [](const PlanCandidate* a, const PlanCandidate* b) {
      return std::tie(a->chunk_time, a->path) < std::tie(b->chunk_time, b->path);
    });
    const MergeConfig& config = configs[static_cast<size_t>(level.second - 1)];
    // Consecutive runs of at most max_bytes, oldest first; the first run of
    // two or more files is the level's candidate (a file too large to pair
    // with its neighbour stays alone and does not block the rest).
    std::vector<const PlanCandidate*> run;
    std::vector<const PlanCandidate*> current;
    int64_t bytes = 0;
    for (const PlanCandidate* file : files) {
      if (file->size_bytes > config.max_bytes) continue;  // never merged at this level
      if (!current.empty() && bytes + file->size_bytes > config.max_bytes) {
        if (current.size() >= 2) break;
        current.clear();
        bytes = 0;
      }
      current.push_back(file);
      bytes += file->size_bytes;
    }
    if (current.size() >= 2) run = std::move(current);
    if (run.size() < 2) continue;
    int64_t oldest = run.front()->chunk_time;
    bool due = ignore_timeouts || now_ns - oldest >= config.timeout_s * kNanosPerSecond;
    if (!due || oldest >= best_oldest) continue;
    best_oldest = oldest;
    PlannedGroup group{level.first, level.second, {}};
    for (const PlanCandidate* file : run) group.sources.push_back(file->path);
    std::sort(group.sources.begin(), group.sources.end());
    best = std::move(group);
  }
  return best;
}

}  // namespace shardlake
