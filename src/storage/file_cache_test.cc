#include "storage/file_cache.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "duck/duck.h"
#include "fmt/format.h"
#include "storage/local_object_store.h"
#include "storage/memory_object_store.h"
#include "storage/object_store.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Forwards to `target`, counts reads, and injects faults: a failing or
// truncating GetRange, and a hook run before each GetRange (e.g. to replace
// the object mid-download). Knobs are set before the store is used.
class FaultyObjectStore final : public ObjectStore {
 public:
  explicit FaultyObjectStore(ObjectStore& target) : target_(target) {}

  std::atomic<int> gets{0};
  std::atomic<int> range_gets{0};
  absl::Status range_get_error;                    // returned by every GetRange when not OK
  std::optional<int64_t> object_truncated_to;      // GetRange sees the object cut to this length
  std::function<void(int call)> before_range_get;  // call counts from 1

  std::string Describe() const override { return "faulty(" + target_.Describe() + ")"; }
  absl::Status Put(std::string_view key, std::string_view data) override {
    return target_.Put(key, data);
  }
  absl::Status PutFile(std::string_view key, const std::string& local_path, bool consume) override {
    return target_.PutFile(key, local_path, consume);
  }
  absl::StatusOr<std::string> Get(std::string_view key) override {
    gets.fetch_add(1);
    return target_.Get(key);
  }
  absl::StatusOr<std::string> GetRange(std::string_view key, int64_t offset,
                                       int64_t length) override {
    int call = range_gets.fetch_add(1) + 1;
    if (before_range_get) before_range_get(call);
    if (!range_get_error.ok()) return range_get_error;
    if (object_truncated_to) {
      if (offset >= *object_truncated_to) return std::string();
      length = std::min(length, *object_truncated_to - offset);
    }
    return target_.GetRange(key, offset, length);
  }
  absl::StatusOr<ObjectInfo> Stat(std::string_view key) override { return target_.Stat(key); }
  absl::StatusOr<bool> Exists(std::string_view key) override { return target_.Exists(key); }
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    return target_.List(prefix);
  }
  absl::Status Delete(const std::vector<std::string>& keys) override {
    return target_.Delete(keys);
  }
  std::optional<std::string> LocalPath(std::string_view key) const override { return std::nullopt; }

 private:
  ObjectStore& target_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Names in `dir`, sorted.
std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Names of cache entries in `dir` (neither the lock file nor temp files).
std::vector<std::string> EntryNames(const std::string& dir) {
  std::vector<std::string> names = Names(dir);
  std::erase_if(names, [](const std::string& name) { return name.starts_with("."); });
  return names;
}

// k<32 hex>-v<16 hex>-<1 to 64 of [A-Za-z0-9._-]>
bool IsSafeEntryName(const std::string& name) {
  auto all_of = [&](size_t from, size_t to, const std::string& allowed) {
    return from <= to && to <= name.size() &&
           std::all_of(name.begin() + from, name.begin() + to,
                       [&](char c) { return allowed.find(c) != std::string::npos; });
  };
  const std::string hex = "0123456789abcdef";
  const std::string safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
  return name.size() > 52 && name.size() <= 52 + 64 && name[0] == 'k' && all_of(1, 33, hex) &&
         name.compare(33, 2, "-v") == 0 && all_of(35, 51, hex) && name[51] == '-' &&
         all_of(52, name.size(), safe);
}

void SetAccessTime(const std::string& path, time_t seconds) {
  const struct timespec times[2] = {{seconds, 0}, {0, UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

std::string Bytes(size_t size, char seed) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(seed + i * 7 + i / 251);
  return data;
}

class FileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = (fs::path(::testing::TempDir()) / ("shardlake-file-cache-test-" + NewUuid())).string();
    cache_dir_ = base_ + "/cache";
    fs::create_directories(base_);
    auto memory = MemoryObjectStore::Open("file-cache-test-" + NewUuid());
    ASSERT_TRUE(memory.ok()) << memory.status();
    memory_ = std::move(*memory);
    store_ = std::make_unique<FaultyObjectStore>(*memory_);
  }

  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(base_, ignored);
  }

  std::unique_ptr<FileCache> OpenCache(int64_t max_bytes, int64_t chunk_bytes = 1 << 20) {
    FileCacheOptions options;
    options.max_bytes = max_bytes;
    options.download_chunk_bytes = chunk_bytes;
    auto cache = FileCache::Open(cache_dir_, options);
    EXPECT_TRUE(cache.ok()) << cache.status();
    return cache.ok() ? std::move(*cache) : nullptr;
  }

  void Put(const std::string& key, const std::string& data) {
    ASSERT_TRUE(store_->Put(key, data).ok()) << key;
  }

  ObjectInfo StatOf(const std::string& key) {
    auto info = store_->Stat(key);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : ObjectInfo{};
  }

  std::string base_;
  std::string cache_dir_;
  std::unique_ptr<MemoryObjectStore> memory_;
  std::unique_ptr<FaultyObjectStore> store_;
};

TEST_F(FileCacheTest, HitAfterMissDoesNotDownloadAgain) {
  auto cache = OpenCache(1 << 20);
  ASSERT_NE(cache, nullptr);
  const std::string data = Bytes(1000, 'a');
  Put("m/cpu/date=2026-01-01/hour=05/x.1.parquet", data);

  std::string first_path;
  {
    auto file = cache->Fetch(*store_, "m/cpu/date=2026-01-01/hour=05/x.1.parquet");
    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_EQ(ReadFile(file->path()), data);
    EXPECT_EQ(file->info().size_bytes, 1000);
    EXPECT_EQ(fs::path(file->path()).parent_path(), fs::path(cache_dir_));
    EXPECT_TRUE(file->path().ends_with("-x.1.parquet")) << file->path();
    first_path = file->path();
  }
  EXPECT_EQ(store_->range_gets.load(), 1);

  auto again = cache->Fetch(*store_, "m/cpu/date=2026-01-01/hour=05/x.1.parquet");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->path(), first_path);
  EXPECT_EQ(ReadFile(again->path()), data);
  EXPECT_EQ(store_->range_gets.load(), 1);
  EXPECT_EQ(store_->gets.load(), 0);

  // A second cache on the same directory (as another process would open it)
  // finds the entry too.
  auto other = OpenCache(1 << 20);
  auto from_other = other->Fetch(*store_, StatOf("m/cpu/date=2026-01-01/hour=05/x.1.parquet"));
  ASSERT_TRUE(from_other.ok()) << from_other.status();
  EXPECT_EQ(from_other->path(), first_path);
  EXPECT_EQ(store_->range_gets.load(), 1);

  FileCacheStats stats = cache->stats();
  EXPECT_EQ(stats.misses, 1);
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.bytes_downloaded, 1000);
  EXPECT_EQ(stats.failed_downloads, 0);
  EXPECT_EQ(other->stats().hits, 1);
  EXPECT_EQ(other->stats().misses, 0);
}

TEST_F(FileCacheTest, DownloadsInChunksOfTheConfiguredSize) {
  auto cache = OpenCache(1 << 20, /*chunk_bytes=*/100);
  const std::string data = Bytes(950, 'c');
  Put("a/b", data);
  auto file = cache->Fetch(*store_, "a/b");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(ReadFile(file->path()), data);
  EXPECT_EQ(store_->range_gets.load(), 10);
}

TEST_F(FileCacheTest, EmptyObjectIsCached) {
  auto cache = OpenCache(1 << 20);
  Put("empty", "");
  auto file = cache->Fetch(*store_, "empty");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(ReadFile(file->path()), "");
  EXPECT_TRUE(fs::is_regular_file(file->path()));
  EXPECT_EQ(store_->range_gets.load(), 0);
}

TEST_F(FileCacheTest, ReplacedObjectIsDownloadedAgainAndTheStaleCopyDropped) {
  auto cache = OpenCache(1 << 20);
  Put("t/f.parquet", "version one");
  ObjectInfo old_info = StatOf("t/f.parquet");
  std::string old_path;
  {
    auto file = cache->Fetch(*store_, old_info);
    ASSERT_TRUE(file.ok()) << file.status();
    old_path = file->path();
  }
  Put("t/f.parquet", "version two!");
  ObjectInfo new_info = StatOf("t/f.parquet");
  ASSERT_NE(new_info.etag, old_info.etag);

  auto file = cache->Fetch(*store_, "t/f.parquet");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(ReadFile(file->path()), "version two!");
  EXPECT_NE(file->path(), old_path);
  EXPECT_FALSE(fs::exists(old_path));
  EXPECT_THAT(EntryNames(cache_dir_), ElementsAre(fs::path(file->path()).filename().string()));
  EXPECT_EQ(cache->stats().stale_removed, 1);
  EXPECT_EQ(store_->range_gets.load(), 2);

  // Asking for the old version by its ObjectInfo never serves stale bytes.
  auto stale = cache->Fetch(*store_, old_info);
  EXPECT_TRUE(absl::IsAborted(stale.status())) << stale.status();
  EXPECT_THAT(std::string(stale.status().message()), HasSubstr("changed while it was downloaded"));
  EXPECT_THAT(EntryNames(cache_dir_), ElementsAre(fs::path(file->path()).filename().string()));
}

TEST_F(FileCacheTest, PinnedStaleCopyStaysReadableUntilReleased) {
  auto cache = OpenCache(1 << 20);
  Put("t/f", "old bytes");
  auto old_file = cache->Fetch(*store_, "t/f");
  ASSERT_TRUE(old_file.ok()) << old_file.status();
  Put("t/f", "new bytes");
  auto new_file = cache->Fetch(*store_, "t/f");
  ASSERT_TRUE(new_file.ok()) << new_file.status();
  EXPECT_EQ(ReadFile(old_file->path()), "old bytes");  // Its query may still open it.
  EXPECT_EQ(ReadFile(new_file->path()), "new bytes");
  EXPECT_EQ(cache->stats().stale_removed, 0);
}

TEST_F(FileCacheTest, ObjectReplacedDuringTheDownloadIsNotCached) {
  auto cache = OpenCache(1 << 20, /*chunk_bytes=*/10);
  Put("k", Bytes(35, 'x'));
  ObjectInfo before = StatOf("k");
  store_->before_range_get = [&](int call) {
    if (call == 2) {
      ASSERT_TRUE(memory_->Put("k", Bytes(35, 'y')).ok());
    }
  };
  auto file = cache->Fetch(*store_, before);
  EXPECT_TRUE(absl::IsAborted(file.status())) << file.status();
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("'k'"));
  EXPECT_THAT(Names(cache_dir_), ElementsAre(".lock"));

  // By key, the fetch stats again and gets the new version.
  store_->before_range_get = nullptr;
  auto by_key = cache->Fetch(*store_, "k");
  ASSERT_TRUE(by_key.ok()) << by_key.status();
  EXPECT_EQ(ReadFile(by_key->path()), Bytes(35, 'y'));
  EXPECT_EQ(cache->stats().failed_downloads, 1);
}

TEST_F(FileCacheTest, FetchByKeyGivesUpAfterASecondReplacement) {
  auto cache = OpenCache(1 << 20);
  Put("k", "v0");
  int version = 0;
  store_->before_range_get = [&](int) {
    ASSERT_TRUE(memory_->Put("k", fmt::format("v{}", ++version)).ok());
  };
  auto file = cache->Fetch(*store_, "k");
  EXPECT_TRUE(absl::IsAborted(file.status())) << file.status();
  EXPECT_EQ(store_->range_gets.load(), 2);
  EXPECT_THAT(Names(cache_dir_), ElementsAre(".lock"));
}

TEST_F(FileCacheTest, TruncatedDownloadIsAnErrorAndLeavesNothing) {
  auto cache = OpenCache(1 << 20, /*chunk_bytes=*/30);
  Put("d/trunc.parquet", Bytes(100, 't'));
  store_->object_truncated_to = 50;
  auto file = cache->Fetch(*store_, "d/trunc.parquet");
  EXPECT_TRUE(absl::IsDataLoss(file.status())) << file.status();
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("50 of the 100 bytes"));
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("'d/trunc.parquet'"));
  EXPECT_THAT(Names(cache_dir_), ElementsAre(".lock"));
  EXPECT_EQ(cache->stats().failed_downloads, 1);

  // Once the store serves the whole object, it is cached.
  store_->object_truncated_to.reset();
  auto retried = cache->Fetch(*store_, "d/trunc.parquet");
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(ReadFile(retried->path()), Bytes(100, 't'));
}

TEST_F(FileCacheTest, FailingStoreIsAnErrorAndLeavesNothing) {
  auto cache = OpenCache(1 << 20, /*chunk_bytes=*/10);
  Put("f/k", Bytes(40, 'f'));
  store_->before_range_get = [&](int call) {
    if (call == 3) store_->range_get_error = absl::UnavailableError("injected connection reset");
  };
  auto file = cache->Fetch(*store_, "f/k");
  EXPECT_TRUE(absl::IsUnavailable(file.status())) << file.status();
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("'f/k'"));
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("injected connection reset"));
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("at byte 20 of 40"));
  EXPECT_THAT(Names(cache_dir_), ElementsAre(".lock"));

  auto missing = cache->Fetch(*store_, "no/such/key");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_THAT(Names(cache_dir_), ElementsAre(".lock"));
}

TEST_F(FileCacheTest, LruEvictsTheLeastRecentlyUsedAndNeverAPinnedEntry) {
  auto cache = OpenCache(300);
  std::map<std::string, std::string> path_of;
  for (const char* key : {"a", "b", "c"}) {
    Put(key, Bytes(100, key[0]));
    auto file = cache->Fetch(*store_, key);
    ASSERT_TRUE(file.ok()) << file.status();
    path_of[key] = file->path();
  }
  SetAccessTime(path_of["a"], 1000);
  SetAccessTime(path_of["b"], 2000);
  SetAccessTime(path_of["c"], 3000);
  ASSERT_TRUE(cache->Fetch(*store_, "a").ok());  // a hit: a is now the most recent

  Put("d", Bytes(100, 'd'));
  auto d = cache->Fetch(*store_, "d");
  ASSERT_TRUE(d.ok()) << d.status();
  path_of["d"] = d->path();
  EXPECT_FALSE(fs::exists(path_of["b"]));
  EXPECT_TRUE(fs::exists(path_of["a"]));
  EXPECT_TRUE(fs::exists(path_of["c"]));
  EXPECT_EQ(cache->stats().evictions, 1);

  // c is the oldest but pinned: a goes instead.
  auto c = cache->Fetch(*store_, "c");
  ASSERT_TRUE(c.ok());
  SetAccessTime(path_of["c"], 1000);
  SetAccessTime(path_of["a"], 2000);
  SetAccessTime(path_of["d"], 3000);
  d = absl::StatusOr<CachedFile>(absl::UnknownError("released"));
  Put("e", Bytes(100, 'e'));
  auto e = cache->Fetch(*store_, "e");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(fs::exists(path_of["c"]));
  EXPECT_FALSE(fs::exists(path_of["a"]));
  EXPECT_EQ(ReadFile(c->path()), Bytes(100, 'c'));
  EXPECT_EQ(cache->stats().evictions, 2);

  // With every entry pinned, a new one is added over the limit; Trim evicts
  // the excess once pins are released.
  auto pinned_d = cache->Fetch(*store_, "d");
  ASSERT_TRUE(pinned_d.ok());
  Put("f", Bytes(100, 'f'));
  auto f = cache->Fetch(*store_, "f");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(EntryNames(cache_dir_).size(), 4u);
  ASSERT_TRUE(cache->Trim().ok());
  EXPECT_EQ(EntryNames(cache_dir_).size(), 4u);
  c = absl::StatusOr<CachedFile>(absl::UnknownError("released"));
  ASSERT_TRUE(cache->Trim().ok());
  EXPECT_EQ(EntryNames(cache_dir_).size(), 3u);
  EXPECT_FALSE(fs::exists(path_of["c"]));
}

TEST_F(FileCacheTest, APinHeldByOneCacheStopsEvictionByAnother) {
  auto reader = OpenCache(1 << 20);
  Put("p", Bytes(200, 'p'));
  auto pinned = reader->Fetch(*store_, "p");
  ASSERT_TRUE(pinned.ok());

  // Another cache on the directory (another process) with a smaller limit.
  auto trimmer = OpenCache(100);
  ASSERT_NE(trimmer, nullptr);
  ASSERT_TRUE(trimmer->Trim().ok());
  EXPECT_TRUE(fs::exists(pinned->path()));

  std::string path = pinned->path();
  pinned = absl::StatusOr<CachedFile>(absl::UnknownError("released"));
  ASSERT_TRUE(trimmer->Trim().ok());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(trimmer->stats().evictions, 1);
}

TEST_F(FileCacheTest, CachedFileMayOutliveTheCache) {
  auto cache = OpenCache(1 << 20);
  Put("o", "outlives");
  auto file = cache->Fetch(*store_, "o");
  ASSERT_TRUE(file.ok());
  cache.reset();
  EXPECT_EQ(ReadFile(file->path()), "outlives");
  auto other = OpenCache(1);
  EXPECT_TRUE(fs::exists(file->path()));  // Open trimmed, but the pin held.
}

TEST_F(FileCacheTest, TwoThreadsFetchingOneKeyDownloadOnce) {
  auto cache = OpenCache(1 << 20);
  Put("shared/key.parquet", Bytes(5000, 's'));
  // A slow download, so that the other threads usually arrive during it (the
  // assertions hold whenever they arrive).
  store_->before_range_get = [](int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  };
  constexpr int kThreads = 8;
  std::vector<std::string> contents(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto file = cache->Fetch(*store_, "shared/key.parquet");
      contents[i] = file.ok() ? ReadFile(file->path()) : std::string(file.status().message());
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& content : contents) EXPECT_EQ(content, Bytes(5000, 's'));
  EXPECT_EQ(store_->range_gets.load(), 1);
  EXPECT_EQ(cache->stats().misses, 1);
  EXPECT_EQ(cache->stats().hits, kThreads - 1);
}

TEST_F(FileCacheTest, FollowersOfAFailedDownloadGetItsError) {
  auto cache = OpenCache(1 << 20);
  Put("bad", Bytes(10, 'b'));
  store_->before_range_get = [](int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  };
  store_->range_get_error = absl::UnavailableError("injected outage");
  std::vector<absl::Status> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = cache->Fetch(*store_, "bad").status(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& status : results) {
    EXPECT_TRUE(absl::IsUnavailable(status)) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("injected outage"));
  }
  EXPECT_THAT(Names(cache_dir_), ElementsAre(".lock"));
}

TEST_F(FileCacheTest, OpenRemovesCrashLeftoversOnly) {
  fs::create_directories(cache_dir_);
  auto write = [&](const std::string& name) {
    std::ofstream(cache_dir_ + "/" + name) << "partial download";
    return cache_dir_ + "/" + name;
  };
  const time_t two_hours_ago = ::time(nullptr) - 7200;
  std::string crashed = write(".download-crashed.tmp");
  std::string fresh = write(".download-fresh.tmp");
  std::string live = write(".download-live.tmp");
  write("notes.txt");
  for (const std::string& path : {crashed, live}) {
    const struct timespec times[2] = {{two_hours_ago, 0}, {two_hours_ago, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }
  // A download in progress in another process holds its temp file locked.
  int live_fd = ::open(live.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(live_fd, 0);
  ASSERT_EQ(::flock(live_fd, LOCK_SH), 0);

  auto cache = OpenCache(1 << 20);
  ASSERT_NE(cache, nullptr);
  EXPECT_THAT(Names(cache_dir_),
              ElementsAre(".download-fresh.tmp", ".download-live.tmp", ".lock", "notes.txt"));
  ::close(live_fd);
}

TEST_F(FileCacheTest, ObjectLargerThanTheLimitIsAnError) {
  auto cache = OpenCache(100);
  Put("big", Bytes(101, 'B'));
  auto file = cache->Fetch(*store_, "big");
  EXPECT_TRUE(absl::IsResourceExhausted(file.status())) << file.status();
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("raise the cache size limit"));
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("101 bytes"));
  EXPECT_EQ(store_->range_gets.load(), 0);
  EXPECT_THAT(Names(cache_dir_), ElementsAre(".lock"));

  Put("exact", Bytes(100, 'E'));
  auto exact = cache->Fetch(*store_, "exact");
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(ReadFile(exact->path()), Bytes(100, 'E'));
}

TEST_F(FileCacheTest, OddKeysMapToSafeFileNames) {
  auto cache = OpenCache(1 << 20);
  const std::vector<std::string> keys = {
      "a/b c/na me$(rm -rf ~)\\*?.parquet",
      "..x/...y/-z",
      "\xc3\xbc/\xe6\x97\xa5\xe6\x9c\xac.parquet",
      "deep/" + std::string(300, 'n') + ".parquet",
      "x/.hidden",
      "new\nline/tab\there",
  };
  std::vector<std::string> names;
  for (const std::string& key : keys) {
    ASSERT_TRUE(ValidateObjectKey(key).ok()) << key;
    Put(key, "data of " + key);
    auto file = cache->Fetch(*store_, key);
    ASSERT_TRUE(file.ok()) << file.status();
    const std::string name = fs::path(file->path()).filename().string();
    EXPECT_TRUE(IsSafeEntryName(name)) << name;
    EXPECT_EQ(fs::path(file->path()).parent_path(), fs::path(cache_dir_));
    EXPECT_EQ(ReadFile(file->path()), "data of " + key);
    names.push_back(name);
  }
  EXPECT_TRUE(names[3].ends_with("nnnn.parquet")) << names[3];
  EXPECT_EQ(names[4].substr(names[4].size() - 8), "-.hidden");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end());

  // Store, etag and size are part of the name; the key part is shared by the
  // versions of one key in one store.
  const ObjectInfo info{"k", 10, "e1"};
  const std::string name = FileCache::EntryFileName("memory://a", info);
  EXPECT_EQ(name, FileCache::EntryFileName("memory://a", {"k", 10, "e1"}));
  EXPECT_NE(name, FileCache::EntryFileName("memory://a", {"k", 10, "e2"}));
  EXPECT_NE(name, FileCache::EntryFileName("memory://a", {"k", 11, "e1"}));
  EXPECT_NE(name, FileCache::EntryFileName("memory://b", info));
  EXPECT_EQ(name.substr(0, 33),
            FileCache::EntryFileName("memory://a", {"k", 11, "e2"}).substr(0, 33));
  EXPECT_NE(name.substr(0, 33), FileCache::EntryFileName("memory://b", info).substr(0, 33));
}

TEST_F(FileCacheTest, StoresSharingACacheDoNotShareEntries) {
  // Two memory stores number their versions alike, so key, etag and size
  // coincide while the bytes differ.
  auto first = MemoryObjectStore::Open("file-cache-first-" + NewUuid());
  auto second = MemoryObjectStore::Open("file-cache-second-" + NewUuid());
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE((*first)->Put("same/key", "first").ok());
  ASSERT_TRUE((*second)->Put("same/key", "other").ok());
  ASSERT_EQ((*first)->Stat("same/key")->etag, (*second)->Stat("same/key")->etag);
  auto cache = OpenCache(1 << 20);
  auto from_first = cache->Fetch(**first, "same/key");
  auto from_second = cache->Fetch(**second, "same/key");
  ASSERT_TRUE(from_first.ok() && from_second.ok());
  EXPECT_EQ(ReadFile(from_first->path()), "first");
  EXPECT_EQ(ReadFile(from_second->path()), "other");
  EXPECT_EQ(cache->stats().stale_removed, 0);
}

TEST_F(FileCacheTest, RejectsInvalidRequestsAndOptions) {
  auto cache = OpenCache(1 << 20);
  EXPECT_TRUE(absl::IsInvalidArgument(cache->Fetch(*store_, ObjectInfo{"../x", 1, "e"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(cache->Fetch(*store_, ObjectInfo{"k", 1, ""}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(cache->Fetch(*store_, ObjectInfo{"k", -1, "e"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(FileCache::Open(cache_dir_, {.max_bytes = 0}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      FileCache::Open(cache_dir_, {.max_bytes = 10, .download_chunk_bytes = 0}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(FileCache::Open("", {.max_bytes = 10}).status()));
  std::ofstream(base_ + "/plain-file") << "x";
  auto not_a_dir = FileCache::Open(base_ + "/plain-file/cache", {.max_bytes = 10});
  EXPECT_FALSE(not_a_dir.ok());
  EXPECT_THAT(std::string(not_a_dir.status().message()), HasSubstr("plain-file"));
}

TEST_F(FileCacheTest, DamagedEntryIsReplaced) {
  auto cache = OpenCache(1 << 20);
  Put("dmg", Bytes(64, 'd'));
  std::string path;
  {
    auto file = cache->Fetch(*store_, "dmg");
    ASSERT_TRUE(file.ok());
    path = file->path();
  }
  fs::resize_file(path, 10);
  auto file = cache->Fetch(*store_, "dmg");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(ReadFile(file->path()), Bytes(64, 'd'));
  EXPECT_EQ(store_->range_gets.load(), 2);
}

TEST_F(FileCacheTest, FetchesFromAFileStore) {
  auto local = LocalObjectStore::Open(base_ + "/lake");
  ASSERT_TRUE(local.ok()) << local.status();
  ASSERT_TRUE((*local)->Put("m/t/x.1.parquet", "parquet bytes").ok());
  auto cache = OpenCache(1 << 20);
  auto file = cache->Fetch(**local, "m/t/x.1.parquet");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(ReadFile(file->path()), "parquet bytes");
  EXPECT_NE(file->path(), *(*local)->LocalPath("m/t/x.1.parquet"));
}

TEST_F(FileCacheTest, DuckDbReadsAPinnedParquetFileAfterAnotherProcessTrims) {
  auto db = duck::Database::Open("", {{"threads", "1"}});
  ASSERT_TRUE(db.ok()) << db.status();
  auto connection = duck::Connection::Open(**db);
  ASSERT_TRUE(connection.ok()) << connection.status();
  const std::string written = base_ + "/written.parquet";
  absl::Status copied =
      (*connection)
          ->Execute(fmt::format(
              "COPY (SELECT range AS i FROM range(1000)) TO '{}' (FORMAT parquet)", written));
  ASSERT_TRUE(copied.ok()) << copied;
  ASSERT_TRUE(store_->PutFile("m/t/date=2026-01-01/hour=05/x.1.parquet", written, true).ok());

  auto cache = OpenCache(1 << 20);
  auto file = cache->Fetch(*store_, "m/t/date=2026-01-01/hour=05/x.1.parquet");
  ASSERT_TRUE(file.ok()) << file.status();
  // Another process with a tiny limit trims; the pinned entry stays for the
  // query that opens its path afterwards.
  auto other = OpenCache(1);
  ASSERT_NE(other, nullptr);
  auto sum = duck::QueryScalar(
      **connection, fmt::format("SELECT sum(i)::VARCHAR FROM read_parquet('{}')", file->path()));
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->value_or("NULL"), "499500");
}

// Several processes, each with two threads, fetch and read objects through
// one small cache directory for a bounded time, while one of them keeps
// replacing objects. Every object's bytes describe themselves ("<key>|<version>|"
// then a pattern of that key and version up to its size), so a reader can tell
// a complete, consistent copy from anything else.
std::string SelfDescribing(const std::string& key, int version, size_t size) {
  std::string data = fmt::format("{}|{}|", key, version);
  std::hash<std::string> hash;
  size_t seed = hash(data);
  while (data.size() < size) data.push_back(static_cast<char>('a' + (seed + data.size()) % 26));
  data.resize(std::max(size, data.size()));
  return data;
}

// Empty if `data` is a complete copy of some version of `key`, else why not.
std::string CheckSelfDescribing(const std::string& key, const std::string& data) {
  size_t first = data.find('|');
  size_t second = first == std::string::npos ? first : data.find('|', first + 1);
  if (second == std::string::npos) return "no header";
  if (data.substr(0, first) != key) return fmt::format("holds key '{}'", data.substr(0, first));
  int version = std::stoi(data.substr(first + 1, second - first - 1));
  if (data != SelfDescribing(key, version, data.size())) return "corrupt body";
  return "";
}

// Below the ~200 KiB of all keys' objects, so that children evict.
constexpr int64_t kChildCacheBytes = 160 * 1024;

size_t SizeOfVersion(int key_index, int version) {
  return 2000 + static_cast<size_t>((key_index * 7919 + version * 104729) % 30000);
}

// The body of one child process: returns its exit code.
int HammerCache(const std::string& lake, const std::string& cache_dir, int child, bool replace,
                std::chrono::steady_clock::time_point deadline, int keys) {
  auto store = LocalObjectStore::Open(lake);
  FileCacheOptions options;
  options.max_bytes = kChildCacheBytes;
  options.download_chunk_bytes = 4096;
  auto cache = FileCache::Open(cache_dir, options);
  if (!store.ok() || !cache.ok()) return 2;
  std::atomic<int> failures{0};
  auto work = [&](int thread) {
    std::mt19937 random(static_cast<uint32_t>(child * 100 + thread));
    int version = 1000 * (child + 1);
    while (std::chrono::steady_clock::now() < deadline) {
      int index = static_cast<int>(random() % keys);
      std::string key = fmt::format("k/{}.parquet", index);
      if (replace && thread == 0 && random() % 4 == 0) {
        ++version;
        if (!(*store)->Put(key, SelfDescribing(key, version, SizeOfVersion(index, version))).ok()) {
          ++failures;
        }
        continue;
      }
      auto file = (*cache)->Fetch(**store, key);
      if (!file.ok()) {
        if (absl::IsAborted(file.status())) continue;  // Replaced twice during the fetch.
        std::fprintf(stderr, "child %d: fetch %s: %s\n", child, key.c_str(),
                     std::string(file.status().message()).c_str());
        ++failures;
        continue;
      }
      std::string data = ReadFile(file->path());
      std::string problem = CheckSelfDescribing(key, data);
      if (problem.empty() && static_cast<int64_t>(data.size()) != file->info().size_bytes) {
        problem = "size differs from the ObjectInfo";
      }
      if (!problem.empty()) {
        std::fprintf(stderr, "child %d: %s: %s\n", child, file->path().c_str(), problem.c_str());
        ++failures;
      }
    }
  };
  std::thread second(work, 1);
  work(0);
  second.join();
  // The parent checks that the run exercised misses, hits and evictions.
  FileCacheStats stats = (*cache)->stats();
  std::ofstream(fmt::format("{}/../child-{}.stats", cache_dir, child))
      << stats.hits << ' ' << stats.misses << ' ' << stats.evictions << ' ' << stats.stale_removed;
  return failures.load() == 0 ? 0 : 1;
}

TEST_F(FileCacheTest, ProcessesSharingADirectorySeeOnlyCompleteFiles) {
  const std::string lake = base_ + "/lake";
  constexpr int kKeys = 12;
  constexpr int kChildren = 3;
  auto store = LocalObjectStore::Open(lake);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int i = 0; i < kKeys; ++i) {
    std::string key = fmt::format("k/{}.parquet", i);
    ASSERT_TRUE((*store)->Put(key, SelfDescribing(key, 0, SizeOfVersion(i, 0))).ok());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  std::vector<pid_t> children;
  for (int child = 0; child < kChildren; ++child) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::_exit(HammerCache(lake, cache_dir_, child, /*replace=*/child == 0, deadline, kKeys));
    }
    children.push_back(pid);
  }
  // Bounded wait: children stop at the deadline; kill any that hang.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (pid_t pid : children) {
    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (done == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "child " << pid << " did not finish in time";
      continue;
    }
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "child " << pid << " status " << status;
  }

  FileCacheStats sum;
  for (int child = 0; child < kChildren; ++child) {
    FileCacheStats stats;
    std::ifstream(fmt::format("{}/child-{}.stats", base_, child)) >> stats.hits >> stats.misses >>
        stats.evictions >> stats.stale_removed;
    sum.hits += stats.hits;
    sum.misses += stats.misses;
    sum.evictions += stats.evictions;
    sum.stale_removed += stats.stale_removed;
  }
  EXPECT_GT(sum.hits, 0);
  EXPECT_GT(sum.misses, 0);
  EXPECT_GT(sum.evictions, 0);
  EXPECT_GT(sum.stale_removed, 0);
  std::fprintf(stderr, "children: %lld hits, %lld misses, %lld evictions, %lld stale removed\n",
               static_cast<long long>(sum.hits), static_cast<long long>(sum.misses),
               static_cast<long long>(sum.evictions), static_cast<long long>(sum.stale_removed));

  // Every file left under an entry name is a complete copy of its key.
  std::vector<std::string> names = Names(cache_dir_);
  EXPECT_FALSE(EntryNames(cache_dir_).empty());
  int64_t total = 0;
  for (const std::string& name : names) {
    if (name == ".lock") continue;
    EXPECT_FALSE(name.starts_with(".download-")) << "leftover temp file " << name;
    std::string data = ReadFile(cache_dir_ + "/" + name);
    total += static_cast<int64_t>(data.size());
    std::string key = data.substr(0, data.find('|'));
    EXPECT_EQ(CheckSelfDescribing(key, data), "") << name;
    EXPECT_EQ(name.substr(0, 33),
              FileCache::EntryFileName((*store)->Describe(), {key, 0, "-"}).substr(0, 33))
        << name << " does not belong to " << key;
  }
  // Concurrent downloads may overshoot the limit briefly; a trim ends it.
  auto cache = FileCache::Open(cache_dir_, {.max_bytes = kChildCacheBytes});
  ASSERT_TRUE(cache.ok());
  total = 0;
  for (const std::string& name : EntryNames(cache_dir_)) {
    total += static_cast<int64_t>(fs::file_size(cache_dir_ + "/" + name));
  }
  EXPECT_LE(total, kChildCacheBytes);
}

}  // namespace
}  // namespace shardlake
