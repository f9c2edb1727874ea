// file_cache_bench (issue #4 asks for the figures, no goal): the time to get one object (64 MiB)
// as a local file and read it through the FileCache, on a miss (download from the store in
// ranged gets, check, fsync, rename) and on a hit (pin the existing entry), side by side with
// reading the object without the cache, alternating in one run. Two stores:
//   - file://: the baseline is reading the store's own file; a miss costs a local copy plus
//     the fsync.
//   - s3://: a loopback Ceph RADOS Gateway that the program starts (src/storage/
//     ceph_test_server.h, as s3_bench does) and stops at the end; the baseline is one plain
//     GET of the whole object into memory, and a miss adds the download. Skipped, saying
//     why, when Ceph is not installed or with --no-s3.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "bench_util.h"
#include "fmt/format.h"
#include "storage/ceph_test_server.h"
#include "storage/file_cache.h"
#include "storage/local_object_store.h"
#include "storage/s3_object_store.h"

namespace {

using namespace shardlake;         // NOLINT: a benchmark program
using namespace shardlake::bench;  // NOLINT
namespace fs = std::filesystem;
constexpr std::string_view kName = "file_cache_bench";
constexpr std::string_view kKey = "m/cpu/date=2026-01-01/hour=05/object.1.parquet";
constexpr char kBucket[] = "file-cache-bench";

// Reads the whole file at `path` (as DuckDB would scan it) and returns its size.
int64_t ReadWholeFile(const std::string& path, std::vector<char>& buffer) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) Die(kName, fmt::format("cannot open {}", path));
  int64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) Die(kName, fmt::format("cannot read {}", path));
    if (n == 0) break;
    total += n;
  }
  ::close(fd);
  return total;
}

struct Timing {
  std::vector<double> fetch;           // seconds to get a pinned local path
  std::vector<double> fetch_and_read;  // plus reading the whole file
};

// The figures for one store.
struct StoreResult {
  std::string store;     // "file://", "s3:// (Ceph RGW)"
  std::string baseline;  // what "no cache" means for it
  std::vector<double> direct;
  Timing miss, hit;
  FileCacheStats totals;
};

// Runs `runs` rounds of: the no-cache baseline, a fetch into an empty cache (a miss) and a
// second fetch (a hit), each followed by reading the whole file.
StoreResult Measure(ObjectStore& store, const std::string& cache_dir, int64_t size, int runs,
                    const FileCacheOptions& options, const std::function<void()>& direct_read) {
  StoreResult result;
  std::vector<char> buffer(1 << 20);
  auto open_empty_cache = [&] {
    std::error_code ec;
    fs::remove_all(cache_dir, ec);
    auto cache = FileCache::Open(cache_dir, options);
    if (!cache.ok()) Die(kName, std::string(cache.status().message()));
    return std::move(*cache);
  };
  // One fetch and full read through `cache`; `expect_miss` says which case it must be.
  auto fetch_and_read = [&](FileCache& cache, bool expect_miss, Timing& timing) {
    const int64_t misses_before = cache.stats().misses;
    const auto start = Clock::now();
    auto file = cache.Fetch(store, kKey);
    if (!file.ok()) Die(kName, std::string(file.status().message()));
    const double fetched = SecondsSince(start);
    if (ReadWholeFile(file->path(), buffer) != size) Die(kName, "the cached file has a wrong size");
    timing.fetch.push_back(fetched);
    timing.fetch_and_read.push_back(SecondsSince(start));
    if ((cache.stats().misses > misses_before) != expect_miss) {
      Die(kName, expect_miss ? "expected a miss, got a hit" : "expected a hit, got a miss");
    }
  };
  direct_read();  // Warm-up (page cache, connections), not timed.
  for (int run = 0; run < runs; ++run) {
    result.direct.push_back(SecondsOf(direct_read));
    std::unique_ptr<FileCache> cache = open_empty_cache();
    fetch_and_read(*cache, /*expect_miss=*/true, result.miss);
    fetch_and_read(*cache, /*expect_miss=*/false, result.hit);
    FileCacheStats stats = cache->stats();
    result.totals.hits += stats.hits;
    result.totals.misses += stats.misses;
    result.totals.bytes_downloaded += stats.bytes_downloaded;
  }
  if (result.totals.bytes_downloaded != size * runs) Die(kName, "unexpected download volume");
  std::error_code ec;
  fs::remove_all(cache_dir, ec);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  int mib = 64;
  int runs = 5;
  int chunk_mib = 16;
  bool no_s3 = false;
  CommonOptions common;
  CLI::App app{"file_cache_bench: FileCache hit vs miss for one object, file:// and s3:// stores"};
  app.add_option("--mib", mib, "object size in MiB")->check(CLI::Range(1, 4096));
  app.add_option("--runs", runs, "timed runs of each case, alternating")->check(CLI::Range(1, 100));
  app.add_option("--chunk-mib", chunk_mib, "download chunk (ranged get) size in MiB")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--no-s3", no_s3, "measure the file:// store only (no Ceph RGW)");
  AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);

  TempDir work(kName, common.keep);
  const int64_t size = static_cast<int64_t>(mib) << 20;
  std::string data(static_cast<size_t>(size), '\0');
  {
    std::mt19937_64 random(42);
    for (size_t i = 0; i + 8 <= data.size(); i += 8) {
      uint64_t word = random();
      std::memcpy(data.data() + i, &word, 8);
    }
  }
  FileCacheOptions options;
  options.max_bytes = 2 * size;
  options.download_chunk_bytes = static_cast<int64_t>(chunk_mib) << 20;
  std::vector<char> buffer(1 << 20);
  std::vector<StoreResult> results;

  std::fprintf(stderr, "%s: %d MiB object, %d runs of each case, file:// store...\n", kName.data(),
               mib, runs);
  {
    auto store = LocalObjectStore::Open((work.path() / "lake").string());
    if (!store.ok()) Die(kName, std::string(store.status().message()));
    absl::Status put = (*store)->Put(kKey, data);
    if (!put.ok()) Die(kName, std::string(put.message()));
    const std::string direct_path = *(*store)->LocalPath(kKey);
    StoreResult result =
        Measure(**store, (work.path() / "cache").string(), size, runs, options, [&] {
          if (ReadWholeFile(direct_path, buffer) != size) Die(kName, "the object has a wrong size");
        });
    result.store = "file://";
    result.baseline = "read the store's own file";
    results.push_back(std::move(result));
  }

  std::string s3_skipped;
  if (no_s3) {
    s3_skipped = "--no-s3";
  } else if (std::string missing = CephTestServer::MissingBinaries(); !missing.empty()) {
    s3_skipped = "Ceph is not installed (missing: " + missing + ")";
  }
  std::string s3_description;
  if (s3_skipped.empty()) {
    CephTestServer::Options ceph_options;
    ceph_options.memstore_bytes = 4 * size + (int64_t{512} << 20);
    CephTestServer ceph(ceph_options);
    std::fprintf(stderr, "%s: starting Ceph RGW for the s3:// store...\n", kName.data());
    if (absl::Status started = ceph.Start(); !started.ok()) Die(kName, started.ToString());
    auto store =
        S3ObjectStore::OpenUri(ceph.UriFor(kBucket, "lake"), CephTestServer::credentials());
    if (!store.ok()) Die(kName, store.status().ToString());
    if (absl::Status created = (*store)->CreateBucket(); !created.ok()) {
      Die(kName, created.ToString());
    }
    if (absl::Status put = (*store)->Put(kKey, data); !put.ok()) Die(kName, put.ToString());
    s3_description = (*store)->Describe();
    std::fprintf(stderr, "%s: s3:// store...\n", kName.data());
    StoreResult result =
        Measure(**store, (work.path() / "s3-cache").string(), size, runs, options, [&] {
          absl::StatusOr<std::string> got = (*store)->Get(kKey);
          if (!got.ok()) Die(kName, got.status().ToString());
          if (static_cast<int64_t>(got->size()) != size) Die(kName, "short download");
        });
    result.store = "s3:// (Ceph RGW)";
    result.baseline = "one GET into memory";
    results.push_back(std::move(result));
  }
  data.clear();

  const double mib_d = static_cast<double>(mib);
  Report report;
  report.Add(fmt::format(
      "file_cache_bench: one {} MiB object, downloads in {} ranged gets of {} MiB, median of {} "
      "runs",
      mib, (mib + chunk_mib - 1) / chunk_mib, chunk_mib, runs));
  report.Add(fmt::format("{:<18}{:<28}{:>12}{:>12}{:>12}{:>10}{:>12}", "store", "seconds",
                         "no cache", "cache miss", "cache hit", "miss/hit", "hit MiB/s"));
  for (const StoreResult& r : results) {
    const double miss_read = Median(r.miss.fetch_and_read);
    const double hit_read = Median(r.hit.fetch_and_read);
    report.Add(fmt::format("{:<18}{:<28}{:>12}{:>12.4f}{:>12.4f}{:>10.1f}", r.store,
                           "fetch (local path)", "-", Median(r.miss.fetch), Median(r.hit.fetch),
                           Median(r.miss.fetch) / Median(r.hit.fetch)));
    report.Add(fmt::format("{:<18}{:<28}{:>12.4f}{:>12.4f}{:>12.4f}{:>10.1f}{:>12.0f}", "",
                           "fetch + read whole file", Median(r.direct), miss_read, hit_read,
                           miss_read / hit_read, mib_d / hit_read));
    report.Add(fmt::format("{:<18}no cache = {}; cache: {} misses, {} hits, {} MiB downloaded", "",
                           r.baseline, r.totals.misses, r.totals.hits,
                           r.totals.bytes_downloaded >> 20));
  }
  if (!s3_description.empty()) report.Add("s3 store: " + s3_description);
  if (!s3_skipped.empty()) report.Add("s3:// case skipped: " + s3_skipped);
  report.Publish(kName, common.results_dir);
  return 0;
}
