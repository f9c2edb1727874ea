// The behaviour every ObjectStore backend must show, as a value-parameterized
// GoogleTest suite. A backend's test file includes this header (in exactly one
// source file of a test binary, since it defines the tests) and instantiates the
// suite with a factory for fresh, empty stores:
//
//   INSTANTIATE_TEST_SUITE_P(
//       S3, ObjectStoreConformanceTest,
//       ::testing::Values(ObjectStoreBackend{"s3", [] { return OpenObjectStore(...); }}),
//       ObjectStoreBackendName());
//
// A factory that allocates resources (a temp directory, a bucket prefix) can
// wrap its store in ObjectStoreWithCleanup to release them after each test.
#pragma once

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ids.h"
#include "storage/object_store.h"

namespace shardlake {

// Makes a fresh, empty store; called once per test.
using ObjectStoreMaker = std::function<absl::StatusOr<std::unique_ptr<ObjectStore>>()>;

struct ObjectStoreBackend {
  std::string name;  // Part of the test names: letters, digits and '_' only.
  ObjectStoreMaker make_store;
};

inline void PrintTo(const ObjectStoreBackend& backend, std::ostream* out) { *out << backend.name; }

// Names instantiated tests after ObjectStoreBackend::name.
struct ObjectStoreBackendName {
  std::string operator()(const ::testing::TestParamInfo<ObjectStoreBackend>& info) const {
    return info.param.name;
  }
};

// Forwards every call to `store` and runs `cleanup` once the store is gone.
class ObjectStoreWithCleanup final : public ObjectStore {
 public:
  ObjectStoreWithCleanup(std::unique_ptr<ObjectStore> store, std::function<void()> cleanup)
      : store_(std::move(store)), cleanup_(std::move(cleanup)) {}
  ~ObjectStoreWithCleanup() override {
    store_.reset();
    if (cleanup_) cleanup_();
  }

  std::string Describe() const override { return store_->Describe(); }
  absl::Status Put(std::string_view key, std::string_view data) override {
    return store_->Put(key, data);
  }
  absl::Status PutFile(std::string_view key, const std::string& local_path, bool consume) override {
    return store_->PutFile(key, local_path, consume);
  }
  absl::StatusOr<std::string> Get(std::string_view key) override { return store_->Get(key); }
  absl::StatusOr<std::string> GetRange(std::string_view key, int64_t offset,
                                       int64_t length) override {
    return store_->GetRange(key, offset, length);
  }
  absl::StatusOr<int64_t> GetRangeToFd(std::string_view key, int64_t offset, int64_t length, int fd,
                                       int64_t file_offset) override {
    return store_->GetRangeToFd(key, offset, length, fd, file_offset);
  }
  absl::StatusOr<ObjectInfo> Stat(std::string_view key) override { return store_->Stat(key); }
  absl::StatusOr<bool> Exists(std::string_view key) override { return store_->Exists(key); }
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override {
    return store_->List(prefix);
  }
  absl::Status Delete(const std::vector<std::string>& keys) override {
    return store_->Delete(keys);
  }
  std::optional<std::string> LocalPath(std::string_view key) const override {
    return store_->LocalPath(key);
  }

 private:
  std::unique_ptr<ObjectStore> store_;
  std::function<void()> cleanup_;
};

namespace object_store_conformance {

inline ::testing::AssertionResult IsOk(const absl::Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected OK, got " << status;
}

inline ::testing::AssertionResult HasCode(const absl::Status& status, absl::StatusCode code) {
  if (status.code() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << absl::StatusCodeToString(code) << ", got " << status;
}

// `size` bytes that differ from run to run of `seed`, including NULs.
inline std::string PseudoRandomBytes(size_t size, uint32_t seed) {
  std::mt19937 generator(seed);
  std::string data(size, '\0');
  for (char& byte : data) byte = static_cast<char>(generator() & 0xff);
  return data;
}

// Collects failures from several threads; the test thread reports them.
class FailureLog {
 public:
  void Check(const absl::Status& status) {
    if (!status.ok()) Add(status.ToString());
  }
  void Add(const std::string& failure) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (count_++ == 0) first_ = failure;
  }
  int count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }
  std::string first() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_;
  }

 private:
  mutable std::mutex mutex_;
  int count_ = 0;
  std::string first_;
};

inline std::vector<std::string> KeysOf(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const ObjectInfo& object : objects) keys.push_back(object.key);
  return keys;
}

}  // namespace object_store_conformance

class ObjectStoreConformanceTest : public ::testing::TestWithParam<ObjectStoreBackend> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ObjectStore>> store = GetParam().make_store();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    scratch_dir_ = (std::filesystem::path(::testing::TempDir()) /
                    ("shardlake-conformance-scratch-" + NewUuid()))
                       .string();
    std::filesystem::create_directories(scratch_dir_);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(scratch_dir_, ignored);
  }

  ObjectStore& store() { return *store_; }

  // Writes a local file (outside the store) for PutFile; returns its path.
  std::string WriteScratchFile(const std::string& name, std::string_view contents) {
    std::string path = scratch_dir_ + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    EXPECT_TRUE(out.good()) << "cannot write " << path;
    return path;
  }

  // The object's contents, or a failure naming the status.
  std::string GetOrEmpty(std::string_view key) {
    absl::StatusOr<std::string> data = store().Get(key);
    EXPECT_TRUE(data.ok()) << "Get(" << key << "): " << data.status();
    return data.ok() ? *data : std::string();
  }

  // The contents of the local file `path` ("" if it cannot be read).
  static std::string ReadLocalFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::vector<std::string> ListKeys(std::string_view prefix) {
    absl::StatusOr<std::vector<ObjectInfo>> objects = store().List(prefix);
    EXPECT_TRUE(objects.ok()) << "List(" << prefix << "): " << objects.status();
    return objects.ok() ? object_store_conformance::KeysOf(*objects) : std::vector<std::string>();
  }

  std::string scratch_dir_;

 private:
  std::unique_ptr<ObjectStore> store_;
};

namespace object_store_conformance {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_P(ObjectStoreConformanceTest, DescribeIsNotEmpty) { EXPECT_FALSE(store().Describe().empty()); }

TEST_P(ObjectStoreConformanceTest, PutThenGetReturnsTheData) {
  ASSERT_TRUE(IsOk(store().Put("greeting.txt", "hello, lake")));
  EXPECT_EQ(GetOrEmpty("greeting.txt"), "hello, lake");
  absl::StatusOr<int64_t> size = store().Size("greeting.txt");
  ASSERT_TRUE(size.ok()) << size.status();
  EXPECT_EQ(*size, 11);
}

TEST_P(ObjectStoreConformanceTest, BinaryDataWithNulBytesRoundTrips) {
  std::string data;
  for (int i = 0; i < 256; ++i) data.push_back(static_cast<char>(i));
  data += std::string("\0\0mid\0dle\0", 10);
  ASSERT_TRUE(IsOk(store().Put("bin/all-bytes", data)));
  std::string read = GetOrEmpty("bin/all-bytes");
  EXPECT_EQ(read.size(), data.size());
  EXPECT_EQ(read, data);
  EXPECT_EQ(store().Size("bin/all-bytes").value_or(-1), static_cast<int64_t>(data.size()));
}

TEST_P(ObjectStoreConformanceTest, EmptyObjectExistsWithSizeZero) {
  ASSERT_TRUE(IsOk(store().Put("empty", "")));
  absl::StatusOr<std::string> data = store().Get("empty");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(*data, "");
  EXPECT_EQ(store().Size("empty").value_or(-1), 0);
  EXPECT_TRUE(store().Exists("empty").value_or(false));
  absl::StatusOr<std::vector<ObjectInfo>> objects = store().List("");
  ASSERT_TRUE(objects.ok()) << objects.status();
  ASSERT_EQ(objects->size(), 1u);
  EXPECT_EQ((*objects)[0].key, "empty");
  EXPECT_EQ((*objects)[0].size_bytes, 0);
  absl::StatusOr<std::string> range = store().GetRange("empty", 0, 10);
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, "");
}

TEST_P(ObjectStoreConformanceTest, OverwriteReplacesTheWholeObject) {
  ASSERT_TRUE(IsOk(store().Put("k", "a much longer first value")));
  ASSERT_TRUE(IsOk(store().Put("k", "short")));
  EXPECT_EQ(GetOrEmpty("k"), "short");
  EXPECT_EQ(store().Size("k").value_or(-1), 5);
  EXPECT_THAT(ListKeys(""), ElementsAre("k"));
}

TEST_P(ObjectStoreConformanceTest, StatGivesSizeAndATagThatChangesOnReplace) {
  ASSERT_TRUE(IsOk(store().Put("tagged/k", "first value")));
  absl::StatusOr<ObjectInfo> first = store().Stat("tagged/k");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->key, "tagged/k");
  EXPECT_EQ(first->size_bytes, 11);
  EXPECT_FALSE(first->etag.empty());
  // Stat is stable while the object is unchanged, and List reports the same.
  EXPECT_EQ(store().Stat("tagged/k").value_or(ObjectInfo{}), *first);
  absl::StatusOr<std::vector<ObjectInfo>> listed = store().List("tagged/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0], *first);
  // Replaced with other bytes of the same size: a cache keyed on (etag, size)
  // must see the change.
  ASSERT_TRUE(IsOk(store().Put("tagged/k", "other value")));
  absl::StatusOr<ObjectInfo> second = store().Stat("tagged/k");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->size_bytes, 11);
  EXPECT_NE(second->etag, first->etag);
  EXPECT_TRUE(HasCode(store().Stat("tagged/missing").status(), absl::StatusCode::kNotFound));
}

TEST_P(ObjectStoreConformanceTest, MissingKeyIsNotFound) {
  ASSERT_TRUE(IsOk(store().Put("present/x", "1")));
  for (std::string key : {"missing", "present/missing", "present/x/below", "present"}) {
    SCOPED_TRACE(key);
    EXPECT_TRUE(HasCode(store().Get(key).status(), absl::StatusCode::kNotFound));
    EXPECT_TRUE(HasCode(store().Size(key).status(), absl::StatusCode::kNotFound));
    EXPECT_TRUE(HasCode(store().GetRange(key, 0, 1).status(), absl::StatusCode::kNotFound));
    absl::StatusOr<bool> exists = store().Exists(key);
    ASSERT_TRUE(exists.ok()) << exists.status();
    EXPECT_FALSE(*exists);
  }
}

TEST_P(ObjectStoreConformanceTest, GetRangeReturnsTheRequestedSlice) {
  ASSERT_TRUE(IsOk(store().Put("r", "0123456789")));
  EXPECT_EQ(store().GetRange("r", 3, 4).value_or("?"), "3456");
  EXPECT_EQ(store().GetRange("r", 0, 10).value_or("?"), "0123456789");
  EXPECT_EQ(store().GetRange("r", 0, 0).value_or("?"), "");
  // Past the end: shorter.
  EXPECT_EQ(store().GetRange("r", 7, 100).value_or("?"), "789");
  // At the end: empty.
  EXPECT_EQ(store().GetRange("r", 10, 5).value_or("?"), "");
  // Beyond the end: OutOfRange.
  EXPECT_TRUE(HasCode(store().GetRange("r", 11, 1).status(), absl::StatusCode::kOutOfRange));
  EXPECT_TRUE(HasCode(store().GetRange("r", 1000, 0).status(), absl::StatusCode::kOutOfRange));
  EXPECT_TRUE(HasCode(store().GetRange("r", -1, 2).status(), absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(HasCode(store().GetRange("r", 0, -2).status(), absl::StatusCode::kInvalidArgument));
}

TEST_P(ObjectStoreConformanceTest, ExistsFollowsPutAndDelete) {
  EXPECT_FALSE(store().Exists("e/x").value_or(true));
  ASSERT_TRUE(IsOk(store().Put("e/x", "1")));
  EXPECT_TRUE(store().Exists("e/x").value_or(false));
  ASSERT_TRUE(IsOk(store().Delete({"e/x"})));
  EXPECT_FALSE(store().Exists("e/x").value_or(true));
}

TEST_P(ObjectStoreConformanceTest, ListUsesPlainStringPrefixes) {
  const std::vector<std::pair<std::string, std::string>> objects = {
      {"a/b/c", "1"}, {"a/b/d/e", "22"}, {"a/bc", "333"},
      {"a/bz", ""},   {"ab", "4444"},    {"b/x", "55555"}};
  for (const auto& [key, data] : objects) ASSERT_TRUE(IsOk(store().Put(key, data)));

  EXPECT_THAT(ListKeys(""), ElementsAre("a/b/c", "a/b/d/e", "a/bc", "a/bz", "ab", "b/x"));
  EXPECT_THAT(ListKeys("a"), ElementsAre("a/b/c", "a/b/d/e", "a/bc", "a/bz", "ab"));
  EXPECT_THAT(ListKeys("a/"), ElementsAre("a/b/c", "a/b/d/e", "a/bc", "a/bz"));
  EXPECT_THAT(ListKeys("a/b"), ElementsAre("a/b/c", "a/b/d/e", "a/bc", "a/bz"));
  EXPECT_THAT(ListKeys("a/b/"), ElementsAre("a/b/c", "a/b/d/e"));
  EXPECT_THAT(ListKeys("a/b/d"), ElementsAre("a/b/d/e"));
  EXPECT_THAT(ListKeys("a/b/d/e"), ElementsAre("a/b/d/e"));
  EXPECT_THAT(ListKeys("a/b/c"), ElementsAre("a/b/c"));
  EXPECT_THAT(ListKeys("a/bc/"), IsEmpty());
  EXPECT_THAT(ListKeys("nothing"), IsEmpty());
  EXPECT_THAT(ListKeys("nothing/deeper/"), IsEmpty());

  absl::StatusOr<std::vector<ObjectInfo>> listed = store().List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    EXPECT_EQ((*listed)[i].key, objects[i].first);
    EXPECT_EQ((*listed)[i].size_bytes, static_cast<int64_t>(objects[i].second.size()));
  }
}

TEST_P(ObjectStoreConformanceTest, ListIsSortedByKeyAcrossFolders) {
  // '-' < '.' < '/' < '0': a folder-by-folder walk would put "a/x" first.
  for (std::string key : {"a0", "a/x", "a.x", "a-x", "a/a/deep", "Z"}) {
    ASSERT_TRUE(IsOk(store().Put(key, key)));
  }
  EXPECT_THAT(ListKeys(""), ElementsAre("Z", "a-x", "a.x", "a/a/deep", "a/x", "a0"));
  EXPECT_THAT(ListKeys("a"), ElementsAre("a-x", "a.x", "a/a/deep", "a/x", "a0"));
}

TEST_P(ObjectStoreConformanceTest, ListOfEmptyStoreIsEmpty) {
  EXPECT_THAT(ListKeys(""), IsEmpty());
  EXPECT_THAT(ListKeys("x/"), IsEmpty());
}

TEST_P(ObjectStoreConformanceTest, ListRejectsPrefixesNoKeyCanHave) {
  for (std::string prefix : {"/abs", "a//", "a/../", "./", "a/./b"}) {
    SCOPED_TRACE(prefix);
    EXPECT_TRUE(HasCode(store().List(prefix).status(), absl::StatusCode::kInvalidArgument));
  }
}

TEST_P(ObjectStoreConformanceTest, DeleteIsIdempotentAndBatched) {
  ASSERT_TRUE(IsOk(store().Put("d/1", "1")));
  ASSERT_TRUE(IsOk(store().Put("d/2", "2")));
  ASSERT_TRUE(IsOk(store().Put("d/3", "3")));
  ASSERT_TRUE(IsOk(store().Put("keep/4", "4")));
  EXPECT_TRUE(IsOk(store().Delete({})));
  EXPECT_TRUE(IsOk(store().Delete({"never/existed"})));
  EXPECT_TRUE(IsOk(store().Delete({"d/1", "d/missing", "d/3"})));
  EXPECT_THAT(ListKeys(""), ElementsAre("d/2", "keep/4"));
  EXPECT_TRUE(IsOk(store().Delete({"d/1", "d/2", "d/3"})));
  EXPECT_TRUE(IsOk(store().Delete({"d/2"})));
  EXPECT_THAT(ListKeys(""), ElementsAre("keep/4"));
  EXPECT_EQ(GetOrEmpty("keep/4"), "4");
  // The emptied folder can be written again.
  ASSERT_TRUE(IsOk(store().Put("d/5", "5")));
  EXPECT_THAT(ListKeys("d/"), ElementsAre("d/5"));
}

TEST_P(ObjectStoreConformanceTest, InvalidKeysAreRejectedByEveryMethod) {
  ASSERT_TRUE(IsOk(store().Put("a/b", "valid")));
  const std::string source = WriteScratchFile("source", "data");
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  for (std::string key : {"", "/abs", "a//b", "a/../b", "./a", "a/", "..", ".", "a/.", "/"}) {
    SCOPED_TRACE("key '" + key + "'");
    EXPECT_TRUE(HasCode(ValidateObjectKey(key), kInvalid));
    EXPECT_TRUE(HasCode(store().Put(key, "x"), kInvalid));
    EXPECT_TRUE(HasCode(store().PutFile(key, source, /*consume=*/false), kInvalid));
    EXPECT_TRUE(HasCode(store().Get(key).status(), kInvalid));
    EXPECT_TRUE(HasCode(store().GetRange(key, 0, 1).status(), kInvalid));
    EXPECT_TRUE(HasCode(store().Size(key).status(), kInvalid));
    EXPECT_TRUE(HasCode(store().Exists(key).status(), kInvalid));
    EXPECT_TRUE(HasCode(store().Delete({key}), kInvalid));
    EXPECT_TRUE(HasCode(store().Delete({"a/b", key}), kInvalid));
    EXPECT_FALSE(store().LocalPath(key).has_value());
  }
  // Nothing was written or deleted, and the source file was not consumed.
  EXPECT_THAT(ListKeys(""), ElementsAre("a/b"));
  EXPECT_TRUE(std::filesystem::exists(source));
}

TEST_P(ObjectStoreConformanceTest, UnusualButValidKeysWork) {
  const std::vector<std::string> keys = {"metrics/cpu/date=2026-01-01/hour=05/x.1.parquet",
                                         "with space/and+plus%20", "unicode/\xc3\xa9t\xc3\xa9",
                                         "dots/.../a..b/.hidden", "x"};
  for (const std::string& key : keys) {
    SCOPED_TRACE(key);
    ASSERT_TRUE(IsOk(ValidateObjectKey(key)));
    ASSERT_TRUE(IsOk(store().Put(key, "v:" + key)));
    EXPECT_EQ(GetOrEmpty(key), "v:" + key);
  }
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(ListKeys(""), sorted);
}

TEST_P(ObjectStoreConformanceTest, PutFileWithoutConsumeCopiesAndKeepsTheSource) {
  const std::string data = object_store_conformance::PseudoRandomBytes(100000, 1);
  const std::string source = WriteScratchFile("copy-me", data);
  ASSERT_TRUE(IsOk(store().PutFile("files/copied", source, /*consume=*/false)));
  EXPECT_EQ(GetOrEmpty("files/copied"), data);
  EXPECT_TRUE(std::filesystem::exists(source));
  // Overwrites, too.
  const std::string second = WriteScratchFile("second", "replacement");
  ASSERT_TRUE(IsOk(store().PutFile("files/copied", second, /*consume=*/false)));
  EXPECT_EQ(GetOrEmpty("files/copied"), "replacement");
}

TEST_P(ObjectStoreConformanceTest, PutFileWithConsumeStoresTheData) {
  const std::string data = object_store_conformance::PseudoRandomBytes(70000, 2);
  const std::string source = WriteScratchFile("move-me", data);
  ASSERT_TRUE(IsOk(store().PutFile("files/deep/moved", source, /*consume=*/true)));
  EXPECT_EQ(GetOrEmpty("files/deep/moved"), data);
  EXPECT_EQ(store().Size("files/deep/moved").value_or(-1), static_cast<int64_t>(data.size()));
  EXPECT_THAT(ListKeys(""), ElementsAre("files/deep/moved"));
}

TEST_P(ObjectStoreConformanceTest, PutFileOfMissingFileIsNotFoundAndStoresNothing) {
  const std::string missing = scratch_dir_ + "/does-not-exist";
  for (bool consume : {false, true}) {
    SCOPED_TRACE(consume ? "consume" : "copy");
    EXPECT_TRUE(
        HasCode(store().PutFile("files/ghost", missing, consume), absl::StatusCode::kNotFound));
    EXPECT_FALSE(store().Exists("files/ghost").value_or(true));
  }
  EXPECT_THAT(ListKeys(""), IsEmpty());
}

TEST_P(ObjectStoreConformanceTest, ConcurrentPutsToDifferentKeysAllLand) {
  constexpr int kThreads = 8;
  constexpr int kKeysPerThread = 25;
  FailureLog failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kKeysPerThread; ++i) {
        std::string key = "c/t" + std::to_string(t) + "/k" + std::to_string(i);
        failures.Check(store().Put(key, key));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.count(), 0) << "first failure: " << failures.first();
  absl::StatusOr<std::vector<ObjectInfo>> listed = store().List("c/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), static_cast<size_t>(kThreads * kKeysPerThread));
  for (const ObjectInfo& object : *listed) EXPECT_EQ(GetOrEmpty(object.key), object.key);
}

TEST_P(ObjectStoreConformanceTest, ConcurrentPutsToOneKeyNeverMix) {
  constexpr int kWriters = 6;
  constexpr int kRounds = 8;
  constexpr size_t kValueSize = 256 * 1024;
  // Writer t writes kValueSize copies of the byte 'A' + t.
  auto is_whole_value = [](const std::string& value) {
    if (value.size() != kValueSize) return false;
    char first = value[0];
    if (first < 'A' || first >= 'A' + kWriters) return false;
    return value.find_first_not_of(first) == std::string::npos;
  };
  FailureLog failures;
  std::atomic<bool> writers_done{false};
  std::thread reader([&] {
    while (!writers_done.load()) {
      absl::StatusOr<std::string> value = store().Get("contended");
      if (value.ok() && !is_whole_value(*value)) {
        failures.Add("read a mixed or partial value of " + std::to_string(value->size()) +
                     " bytes");
      } else if (!value.ok() && !absl::IsNotFound(value.status())) {
        failures.Check(value.status());
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      const std::string value(kValueSize, static_cast<char>('A' + t));
      for (int round = 0; round < kRounds; ++round) {
        failures.Check(store().Put("contended", value));
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  writers_done = true;
  reader.join();
  EXPECT_EQ(failures.count(), 0) << "first failure: " << failures.first();
  EXPECT_TRUE(is_whole_value(GetOrEmpty("contended")));
  EXPECT_THAT(ListKeys(""), ElementsAre("contended"));
}

TEST_P(ObjectStoreConformanceTest, ConcurrentPutsAndDeletesInOneFolder) {
  // Deleting the last object of a folder may remove the folder while another
  // thread is writing into it; the write must still succeed.
  constexpr int kThreads = 6;
  constexpr int kIterations = 40;
  FailureLog failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kIterations; ++i) {
        std::string key = "churn/deep/t" + std::to_string(t) + "_" + std::to_string(i);
        failures.Check(store().Put(key, "x"));
        absl::StatusOr<std::string> read = store().Get(key);
        failures.Check(read.status());
        if (read.ok() && *read != "x") failures.Add("Get(" + key + ") returned '" + *read + "'");
        failures.Check(store().Delete({key}));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.count(), 0) << "first failure: " << failures.first();
  EXPECT_THAT(ListKeys(""), IsEmpty());
}

TEST_P(ObjectStoreConformanceTest, LargeObjectRoundTrips) {
  constexpr size_t kSize = 8 * 1024 * 1024 + 13;
  const std::string data = object_store_conformance::PseudoRandomBytes(kSize, 3);
  ASSERT_TRUE(IsOk(store().Put("big/object", data)));
  EXPECT_EQ(store().Size("big/object").value_or(-1), static_cast<int64_t>(kSize));
  absl::StatusOr<std::string> read = store().Get("big/object");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(*read == data) << "8 MiB object differs after the round trip";
  absl::StatusOr<std::string> tail = store().GetRange("big/object", kSize - 100, 1000);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_TRUE(*tail == data.substr(kSize - 100));
  absl::StatusOr<std::string> middle = store().GetRange("big/object", 5000000, 65536);
  ASSERT_TRUE(middle.ok()) << middle.status();
  EXPECT_TRUE(*middle == data.substr(5000000, 65536));
}

// GetRangeToFd writes what GetRange returns at the file offset asked for,
// leaving the rest of the file alone, with GetRange's errors.
TEST_P(ObjectStoreConformanceTest, GetRangeToFdWritesTheSliceIntoAFile) {
  ASSERT_TRUE(IsOk(store().Put("r", "0123456789")));
  const std::string path = scratch_dir_ + "/range";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << "cannot create " << path;
  ASSERT_EQ(::pwrite(fd, "abcdefgh", 8, 0), 8);
  EXPECT_EQ(store().GetRangeToFd("r", 3, 4, fd, 2).value_or(-1), 4);
  EXPECT_EQ(store().GetRangeToFd("r", 7, 100, fd, 8).value_or(-1), 3);  // to the end
  EXPECT_EQ(store().GetRangeToFd("r", 10, 5, fd, 0).value_or(-1), 0);   // at the end
  EXPECT_EQ(store().GetRangeToFd("r", 0, 0, fd, 0).value_or(-1), 0);
  EXPECT_EQ(ReadLocalFile(path), "ab3456gh789");
  EXPECT_TRUE(
      HasCode(store().GetRangeToFd("r", 11, 1, fd, 0).status(), absl::StatusCode::kOutOfRange));
  EXPECT_TRUE(HasCode(store().GetRangeToFd("r", -1, 2, fd, 0).status(),
                      absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(
      HasCode(store().GetRangeToFd("missing", 0, 1, fd, 0).status(), absl::StatusCode::kNotFound));
  EXPECT_TRUE(HasCode(store().GetRangeToFd("/bad", 0, 1, fd, 0).status(),
                      absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(ReadLocalFile(path), "ab3456gh789") << "a failed call wrote to the file";
  ::close(fd);
  // A file it cannot write to: an error, not a silent short copy.
  const int read_only = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(read_only, 0);
  EXPECT_FALSE(store().GetRangeToFd("r", 0, 10, read_only, 0).ok());
  ::close(read_only);
}

TEST_P(ObjectStoreConformanceTest, GetRangeToFdCopiesALargeObjectInChunks) {
  constexpr int64_t kSize = 8 * 1024 * 1024 + 13;
  constexpr int64_t kChunk = 3 * 1024 * 1024;
  const std::string data = PseudoRandomBytes(static_cast<size_t>(kSize), 4);
  ASSERT_TRUE(IsOk(store().Put("big/object", data)));
  const std::string path = scratch_dir_ + "/big";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << "cannot create " << path;
  for (int64_t offset = 0; offset < kSize; offset += kChunk) {
    absl::StatusOr<int64_t> written =
        store().GetRangeToFd("big/object", offset, kChunk, fd, offset);
    ASSERT_TRUE(written.ok()) << written.status();
    EXPECT_EQ(*written, std::min(kChunk, kSize - offset));
  }
  ::close(fd);
  EXPECT_TRUE(ReadLocalFile(path) == data) << "the 8 MiB object differs in the file";
}

}  // namespace object_store_conformance
}  // namespace shardlake
