// file_cache_bench (issue #4 asks for the figures, no goal): the time to get one object (64 MiB)
// as a local file and read it through the FileCache, on a miss (download from the store in
// ranged gets, check, fsync, rename) and on a hit (pin the existing entry), side by side with
// reading the store's own file directly (no cache), alternating in one run. The store is a
// file:// directory, so a miss here costs a local copy plus the fsync; against S3 the download
// adds the network transfer (measured separately with the S3 backend).
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "bench_util.h"
#include "fmt/format.h"
#include "storage/file_cache.h"
#include "storage/local_object_store.h"

namespace {

using namespace shardlake;         // NOLINT: a benchmark program
using namespace shardlake::bench;  // NOLINT
namespace fs = std::filesystem;
constexpr std::string_view kName = "file_cache_bench";
constexpr std::string_view kKey = "m/cpu/date=2026-01-01/hour=05/object.1.parquet";

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

}  // namespace

int main(int argc, char** argv) {
  int mib = 64;
  int runs = 5;
  int chunk_mib = 16;
  CommonOptions common;
  CLI::App app{"file_cache_bench: FileCache hit vs miss for one object from a file:// store"};
  app.add_option("--mib", mib, "object size in MiB")->check(CLI::Range(1, 4096));
  app.add_option("--runs", runs, "timed runs of each case, alternating")->check(CLI::Range(1, 100));
  app.add_option("--chunk-mib", chunk_mib, "download chunk (ranged get) size in MiB")
      ->check(CLI::Range(1, 1024));
  AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);

  TempDir work(kName, common.keep);
  auto store = LocalObjectStore::Open((work.path() / "lake").string());
  if (!store.ok()) Die(kName, std::string(store.status().message()));
  const int64_t size = static_cast<int64_t>(mib) << 20;
  {
    std::string data(static_cast<size_t>(size), '\0');
    std::mt19937_64 random(42);
    for (size_t i = 0; i + 8 <= data.size(); i += 8) {
      uint64_t word = random();
      std::memcpy(data.data() + i, &word, 8);
    }
    absl::Status put = (*store)->Put(kKey, data);
    if (!put.ok()) Die(kName, std::string(put.message()));
  }
  const std::string direct_path = *(*store)->LocalPath(kKey);
  const std::string cache_dir = (work.path() / "cache").string();
  FileCacheOptions options;
  options.max_bytes = 2 * size;
  options.download_chunk_bytes = static_cast<int64_t>(chunk_mib) << 20;
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
    auto file = cache.Fetch(**store, kKey);
    if (!file.ok()) Die(kName, std::string(file.status().message()));
    const double fetched = SecondsSince(start);
    if (ReadWholeFile(file->path(), buffer) != size) Die(kName, "the cached file has a wrong size");
    timing.fetch.push_back(fetched);
    timing.fetch_and_read.push_back(SecondsSince(start));
    if ((cache.stats().misses > misses_before) != expect_miss) {
      Die(kName, expect_miss ? "expected a miss, got a hit" : "expected a hit, got a miss");
    }
  };

  std::fprintf(stderr, "%s: %d MiB object, %d runs of each case...\n", kName.data(), mib, runs);
  std::vector<double> direct;
  Timing miss, hit;
  FileCacheStats totals;
  ReadWholeFile(direct_path, buffer);  // Warm the page cache for the direct read.
  for (int run = 0; run < runs; ++run) {
    direct.push_back(SecondsOf([&] {
      if (ReadWholeFile(direct_path, buffer) != size) Die(kName, "the object has a wrong size");
    }));
    std::unique_ptr<FileCache> cache = open_empty_cache();
    fetch_and_read(*cache, /*expect_miss=*/true, miss);
    fetch_and_read(*cache, /*expect_miss=*/false, hit);
    FileCacheStats stats = cache->stats();
    totals.hits += stats.hits;
    totals.misses += stats.misses;
    totals.bytes_downloaded += stats.bytes_downloaded;
  }
  if (totals.bytes_downloaded != size * runs) Die(kName, "unexpected download volume");

  const double mib_d = static_cast<double>(mib);
  auto row = [&](const std::string& what, const std::string& direct_cell, double m, double h) {
    return fmt::format("{:<30}{:>14}{:>14.4f}{:>14.4f}{:>12.1f}", what, direct_cell, m, h, m / h);
  };
  Report report;
  report.Add(fmt::format(
      "file_cache_bench: one {} MiB object from a file:// store, {} chunks of {} MiB, median of "
      "{} runs",
      mib, (mib + chunk_mib - 1) / chunk_mib, chunk_mib, runs));
  report.Add(fmt::format("{:<30}{:>14}{:>14}{:>14}{:>12}", "", "direct read", "cache miss",
                         "cache hit", "miss/hit"));
  report.Add(row("fetch (s)", "-", Median(miss.fetch), Median(hit.fetch)));
  report.Add(row("fetch + read whole file (s)", fmt::format("{:.4f}", Median(direct)),
                 Median(miss.fetch_and_read), Median(hit.fetch_and_read)));
  report.Add(fmt::format("{:<30}{:>14.0f}{:>14.0f}{:>14.0f}", "MiB/s (fetch + read)",
                         mib_d / Median(direct), mib_d / Median(miss.fetch_and_read),
                         mib_d / Median(hit.fetch_and_read)));
  report.Add(
      fmt::format("hit / direct read: {:.2f}; cache stats: {} misses, {} hits, {} MiB "
                  "downloaded",
                  Median(hit.fetch_and_read) / Median(direct), totals.misses, totals.hits,
                  totals.bytes_downloaded >> 20));
  report.Add(
      "direct read = the store's own file, no cache; a miss copies from a local file:// store "
      "and fsyncs, so against S3 add the download time");
  report.Publish(kName, common.results_dir);
  return 0;
}
