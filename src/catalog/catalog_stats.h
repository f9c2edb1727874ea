// Per-backend catalog statistics: calls, errors and latencies per operation,
// plus free-form counters (statements sent, retries, reconnects, cache hits).
// Not PostgreSQL-specific: any backend (or a cache in front of one) can use it.
//
//   CatalogStats& stats = CatalogStats::For(index->Describe());
//   { CatalogStats::Call call(&stats, "Query"); ...; call.Fail(); }
//   stats.Count("cache_hits");
//
// With SHARDLAKE_LOG_STATS=1 every CatalogStats created in the process is
// written to stderr at exit as one JSON line each:
//   shardlake catalog stats {"backend":"postgresql://u:***@h:5432/db",
//     "ops":{"Query":{"calls":3,"errors":0,"total_ms":1.2,"mean_ms":0.4,
//     "p50_ms":0.3,"p99_ms":0.9,"max_ms":0.9}},"counters":{"statements":5}}
// (percentiles are approximate, from a power-of-two histogram).
// Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace shardlake {

class CatalogStats {
 public:
  // The process-wide stats of `backend` (a redacted URI or a backend name),
  // created on first use and never destroyed. The first call registers the
  // exit-time logging when SHARDLAKE_LOG_STATS=1.
  static CatalogStats& For(const std::string& backend);

  explicit CatalogStats(std::string backend) : backend_(std::move(backend)) {}

  void Record(std::string_view op, std::chrono::nanoseconds latency, bool ok);
  void Count(std::string_view counter, int64_t delta = 1);

  // The JSON form shown above (without the "shardlake catalog stats " prefix).
  std::string ToJson() const;
  // Calls recorded for `op` so far (for tests).
  int64_t Calls(std::string_view op) const;
  int64_t Counter(std::string_view counter) const;

  // Times one call; records it (as failed after Fail()) when destroyed.
  class Call {
   public:
    Call(CatalogStats* stats, const char* op)
        : stats_(stats), op_(op), start_(std::chrono::steady_clock::now()) {}
    Call(const Call&) = delete;
    Call& operator=(const Call&) = delete;
    ~Call() {
      if (stats_ != nullptr) stats_->Record(op_, std::chrono::steady_clock::now() - start_, ok_);
    }
    void Fail() { ok_ = false; }
    // Returns `status` after marking the call failed if it is not OK.
    template <typename S>
    S Done(S status) {
      if (!status.ok()) ok_ = false;
      return status;
    }

   private:
    CatalogStats* stats_;
    const char* op_;
    std::chrono::steady_clock::time_point start_;
    bool ok_ = true;
  };

 private:
  struct Op {
    int64_t calls = 0;
    int64_t errors = 0;
    int64_t total_ns = 0;
    int64_t max_ns = 0;
    std::array<int64_t, 64> histogram{};  // by bit_width(latency in us)
  };

  const std::string backend_;
  mutable std::mutex mu_;
  std::map<std::string, Op, std::less<>> ops_;            // guarded by mu_
  std::map<std::string, int64_t, std::less<>> counters_;  // guarded by mu_
};

}  // namespace shardlake
