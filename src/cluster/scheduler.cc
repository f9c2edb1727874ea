#include "cluster/scheduler.h"

#include <algorithm>

#include "cluster/cluster_manifest.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

// FNV-1a then a 64-bit finalizer (splitmix64): stable across processes and
// builds, unlike std::hash.
uint64_t StableHash(const std::string& a, const std::string& b) {
  uint64_t hash = 1469598103934665603ULL;
  auto feed = [&](const std::string& text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
    hash ^= 0xff;  // separator, so ("ab","c") != ("a","bc")
    hash *= 1099511628211ULL;
  };
  feed(a);
  feed(b);
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ULL;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  return hash;
}

}  // namespace

std::string ObjectKeyOf(const IndexEntry& entry) {
  return entry.database + "/" + entry.table + "/" + entry.path;
}

absl::StatusOr<std::vector<SliceUnit>> BuildSliceUnits(
    const DistributedPlan& plan, const std::map<std::string, QueryTableFiles>& tables) {
  std::map<std::string, SliceUnit> units;
  for (const auto& name : plan.sliced_tables) {
    auto it = tables.find(name);
    if (it == tables.end()) {
      return absl::InvalidArgumentError(
          fmt::format("the plan slices table {}, which the query's file list lacks", name));
    }
    for (const auto& entry : it->second.files) {
      std::string key = ObjectKeyOf(entry);
      std::string unit_key = key;
      if (plan.slice_by_bucket) {
        int bucket = BucketOfPath(entry.path);
        if (bucket < 0) {
          return absl::InvalidArgumentError(
              fmt::format("file {} of bucketed table {} is not in a bucket=NN folder", key, name));
        }
        unit_key = fmt::format("bucket={}", bucket);
      }
      SliceUnit& unit = units[unit_key];
      unit.key = unit_key;
      unit.file_keys[name].push_back(std::move(key));
    }
  }
  std::vector<SliceUnit> ordered;
  ordered.reserve(units.size());
  for (auto& [key, unit] : units) ordered.push_back(std::move(unit));
  return ordered;
}

size_t RendezvousOwner(const std::string& unit_key, const std::vector<std::string>& worker_names) {
  size_t best = 0;
  uint64_t best_weight = 0;
  for (size_t i = 0; i < worker_names.size(); ++i) {
    uint64_t weight = StableHash(unit_key, worker_names[i]);
    if (i == 0 || weight > best_weight) {
      best = i;
      best_weight = weight;
    }
  }
  return best;
}

std::vector<TaskSlice> AssignSlices(const std::vector<SliceUnit>& units,
                                    const std::vector<std::string>& worker_names,
                                    int tasks_per_worker) {
  std::vector<std::vector<const SliceUnit*>> per_worker(worker_names.size());
  for (const auto& unit : units) {
    per_worker[RendezvousOwner(unit.key, worker_names)].push_back(&unit);
  }
  std::vector<TaskSlice> tasks;
  for (size_t worker = 0; worker < per_worker.size(); ++worker) {
    const auto& owned = per_worker[worker];
    size_t count = std::min(owned.size(), static_cast<size_t>(std::max(tasks_per_worker, 1)));
    std::vector<TaskSlice> worker_tasks(count);
    for (size_t i = 0; i < owned.size(); ++i) {
      worker_tasks[i % count].worker = worker;
      worker_tasks[i % count].units.push_back(*owned[i]);
    }
    for (auto& task : worker_tasks) tasks.push_back(std::move(task));
  }
  if (tasks.empty()) tasks.push_back(TaskSlice{});
  return tasks;
}

}  // namespace shardlake
