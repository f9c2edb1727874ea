#include "catalog/catalog_stats.h"

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace shardlake {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<CatalogStats>, std::less<>> stats;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();  // never destroyed: usable at exit
  return *registry;
}

void LogAllStats() {
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  for (const auto& [name, stats] : registry.stats) {
    std::fprintf(stderr, "shardlake catalog stats %s\n", stats->ToJson().c_str());
  }
}

bool LogStatsEnabled() {
  const char* value = std::getenv("SHARDLAKE_LOG_STATS");
  return value != nullptr && std::strcmp(value, "1") == 0;
}

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

}  // namespace

CatalogStats& CatalogStats::For(const std::string& backend) {
  static const bool registered = [] {
    if (LogStatsEnabled()) std::atexit(LogAllStats);
    return true;
  }();
  (void)registered;
  Registry& registry = GetRegistry();
  std::lock_guard lock(registry.mu);
  auto& slot = registry.stats[backend];
  if (!slot) slot = std::make_unique<CatalogStats>(backend);
  return *slot;
}

void CatalogStats::Record(std::string_view op, std::chrono::nanoseconds latency, bool ok) {
  int64_t ns = latency.count();
  int bucket = std::bit_width(static_cast<uint64_t>(ns < 0 ? 0 : ns / 1000));
  std::lock_guard lock(mu_);
  auto it = ops_.find(op);
  if (it == ops_.end()) it = ops_.emplace(std::string(op), Op{}).first;
  Op& entry = it->second;
  ++entry.calls;
  if (!ok) ++entry.errors;
  entry.total_ns += ns;
  if (ns > entry.max_ns) entry.max_ns = ns;
  ++entry.histogram[static_cast<size_t>(bucket < 63 ? bucket : 63)];
}

void CatalogStats::Count(std::string_view counter, int64_t delta) {
  std::lock_guard lock(mu_);
  auto it = counters_.find(counter);
  if (it == counters_.end()) it = counters_.emplace(std::string(counter), 0).first;
  it->second += delta;
}

int64_t CatalogStats::Calls(std::string_view op) const {
  std::lock_guard lock(mu_);
  auto it = ops_.find(op);
  return it == ops_.end() ? 0 : it->second.calls;
}

int64_t CatalogStats::Counter(std::string_view counter) const {
  std::lock_guard lock(mu_);
  auto it = counters_.find(counter);
  return it == counters_.end() ? 0 : it->second;
}

std::string CatalogStats::ToJson() const {
  // The upper edge (ms) of histogram bucket b: latencies below 2^b us.
  auto bucket_ms = [](size_t b) { return static_cast<double>(uint64_t{1} << b) / 1000.0; };
  nlohmann::ordered_json out;
  out["backend"] = backend_;
  nlohmann::ordered_json ops = nlohmann::ordered_json::object();
  std::lock_guard lock(mu_);
  for (const auto& [name, op] : ops_) {
    auto percentile = [&](double p) {
      int64_t want = static_cast<int64_t>(static_cast<double>(op.calls) * p + 0.999999);
      int64_t seen = 0;
      for (size_t b = 0; b < op.histogram.size(); ++b) {
        seen += op.histogram[b];
        if (seen >= want) return std::min(bucket_ms(b), Ms(op.max_ns));
      }
      return Ms(op.max_ns);
    };
    nlohmann::ordered_json entry;
    entry["calls"] = op.calls;
    entry["errors"] = op.errors;
    entry["total_ms"] = Ms(op.total_ns);
    entry["mean_ms"] = op.calls == 0 ? 0.0 : Ms(op.total_ns) / static_cast<double>(op.calls);
    entry["p50_ms"] = percentile(0.5);
    entry["p99_ms"] = percentile(0.99);
    entry["max_ms"] = Ms(op.max_ns);
    ops[name] = std::move(entry);
  }
  out["ops"] = std::move(ops);
  nlohmann::ordered_json counters = nlohmann::ordered_json::object();
  for (const auto& [name, value] : counters_) counters[name] = value;
  out["counters"] = std::move(counters);
  return out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace shardlake
