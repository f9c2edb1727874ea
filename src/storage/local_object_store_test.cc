// Behaviour specific to the file:// backend, the memory:// backend and the
// scheme registry; the shared contract is in object_store_conformance.h.
#include "storage/local_object_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "common/ids.h"
#include "storage/memory_object_store.h"
#include "storage/object_store.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A fresh directory under the test temp dir, removed afterwards.
class LocalObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = (fs::path(::testing::TempDir()) / ("shardlake-local-test-" + NewUuid())).string();
    root_ = base_ + "/store";
    absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenObjectStore("file://" + root_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  void TearDown() override {
    store_.reset();
    std::error_code ignored;
    fs::remove_all(base_, ignored);
  }

  // Every file and directory under `dir`, relative, sorted; directories end in '/'.
  static std::vector<std::string> Tree(const std::string& dir) {
    std::vector<std::string> entries;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      std::string relative = fs::relative(it->path(), dir).string();
      entries.push_back(it->is_directory() ? relative + "/" : relative);
    }
    std::sort(entries.begin(), entries.end());
    return entries;
  }

  static void WriteFile(const std::string& path, const std::string& contents) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    ASSERT_TRUE(out.good()) << path;
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  std::string base_;
  std::string root_;
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(LocalObjectStoreTest, OpenCreatesTheRootAndDescribesIt) {
  EXPECT_TRUE(fs::is_directory(root_));
  EXPECT_EQ(store_->Describe(), "file://" + root_);
  EXPECT_THAT(Tree(root_), IsEmpty());  // The writability probe is gone.
}

TEST_F(LocalObjectStoreTest, PutLeavesNoTempFiles) {
  ASSERT_TRUE(store_->Put("a/b/c.parquet", "data").ok());
  ASSERT_TRUE(store_->Put("a/b/c.parquet", "data2").ok());
  ASSERT_TRUE(store_->Put("top", "x").ok());
  const std::string source = base_ + "/source";
  WriteFile(source, "copied");
  ASSERT_TRUE(store_->PutFile("a/copy", source, /*consume=*/false).ok());
  EXPECT_THAT(Tree(root_), ElementsAre("a/", "a/b/", "a/b/c.parquet", "a/copy", "top"));
  EXPECT_EQ(ReadFile(root_ + "/a/b/c.parquet"), "data2");
}

TEST_F(LocalObjectStoreTest, LocalPathIsRootSlashKey) {
  ASSERT_TRUE(store_->Put("x/y.parquet", "duck food").ok());
  std::optional<std::string> path = store_->LocalPath("x/y.parquet");
  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(*path, root_ + "/x/y.parquet");
  EXPECT_EQ(ReadFile(*path), "duck food");
  EXPECT_EQ(store_->LocalPath("not/yet/written"), root_ + "/not/yet/written");
}

TEST_F(LocalObjectStoreTest, FailedPutFileLeavesNothing) {
  for (bool consume : {false, true}) {
    absl::Status status = store_->PutFile("p/q/r", base_ + "/missing", consume);
    EXPECT_TRUE(absl::IsNotFound(status)) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(base_ + "/missing"));
  }
  EXPECT_THAT(Tree(root_), IsEmpty());
}

TEST_F(LocalObjectStoreTest, PutFileWithConsumeMovesTheSource) {
  const std::string source = base_ + "/move-me";
  WriteFile(source, "moved bytes");
  ASSERT_TRUE(store_->PutFile("m/moved", source, /*consume=*/true).ok());
  EXPECT_FALSE(fs::exists(source));
  EXPECT_EQ(ReadFile(root_ + "/m/moved"), "moved bytes");
  EXPECT_THAT(Tree(root_), ElementsAre("m/", "m/moved"));
}

TEST_F(LocalObjectStoreTest, PutFileWithConsumeAcrossFilesystemsCopies) {
  const std::string other_fs = "/dev/shm";
  struct stat shm_info, root_info;
  if (::stat(other_fs.c_str(), &shm_info) != 0 || ::stat(root_.c_str(), &root_info) != 0 ||
      shm_info.st_dev == root_info.st_dev || ::access(other_fs.c_str(), W_OK) != 0) {
    GTEST_SKIP() << "no writable second filesystem at " << other_fs;
  }
  const std::string source = other_fs + "/shardlake-test-" + NewUuid();
  WriteFile(source, "crossing filesystems");
  absl::Status status = store_->PutFile("x/crossed", source, /*consume=*/true);
  std::error_code ignored;
  bool source_left = fs::exists(source);
  fs::remove(source, ignored);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_FALSE(source_left);
  EXPECT_EQ(ReadFile(root_ + "/x/crossed"), "crossing filesystems");
  EXPECT_THAT(Tree(root_), ElementsAre("x/", "x/crossed"));
}

TEST_F(LocalObjectStoreTest, DeletePrunesEmptyFolders) {
  ASSERT_TRUE(store_->Put("a/b/c/x", "1").ok());
  ASSERT_TRUE(store_->Put("a/y", "2").ok());
  ASSERT_TRUE(store_->Delete({"a/b/c/x"}).ok());
  EXPECT_THAT(Tree(root_), ElementsAre("a/", "a/y"));
  ASSERT_TRUE(store_->Delete({"a/y"}).ok());
  EXPECT_THAT(Tree(root_), IsEmpty());
  EXPECT_TRUE(fs::is_directory(root_));  // The root itself stays.
}

TEST_F(LocalObjectStoreTest, DeleteLeavesFoldersWithOtherContent) {
  ASSERT_TRUE(store_->Put("a/b/x", "1").ok());
  // A crashed writer's temp file keeps its folder alive (it is not ours to remove).
  WriteFile(root_ + "/a/.y.tmp.dead", "partial");
  ASSERT_TRUE(store_->Delete({"a/b/x"}).ok());
  EXPECT_THAT(Tree(root_), ElementsAre("a/", "a/.y.tmp.dead"));
}

TEST_F(LocalObjectStoreTest, ListIgnoresTempFilesOfCrashedWriters) {
  ASSERT_TRUE(store_->Put("t/real.parquet", "1").ok());
  WriteFile(root_ + "/t/.real.parquet.tmp.0b9e6a2c-crashed", "partial");
  WriteFile(root_ + "/.top.tmp.1234", "partial");
  WriteFile(root_ + "/t/.hidden-but-real", "2");
  fs::create_directories(root_ + "/t/empty-folder");
  absl::StatusOr<std::vector<ObjectInfo>> listed = store_->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> keys;
  for (const ObjectInfo& object : *listed) keys.push_back(object.key);
  EXPECT_THAT(keys, ElementsAre("t/.hidden-but-real", "t/real.parquet"));
  EXPECT_THAT(keys, Not(::testing::Contains(HasSubstr(".tmp."))));
}

TEST_F(LocalObjectStoreTest, TempFileNamesAreNotValidKeys) {
  EXPECT_TRUE(LocalObjectStore::IsTempFileName(".x.parquet.tmp.1234"));
  EXPECT_FALSE(LocalObjectStore::IsTempFileName("x.tmp.1234"));
  EXPECT_FALSE(LocalObjectStore::IsTempFileName(".hidden"));
  absl::Status status = store_->Put("a/.b.tmp.c", "x");
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Get(".b.tmp.c/d").status()));
}

TEST_F(LocalObjectStoreTest, ObjectWhereAFolderIsNeededFailsClearly) {
  ASSERT_TRUE(store_->Put("a/b", "1").ok());
  absl::Status status = store_->Put("a", "2");  // "a" is a folder.
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("'a'"));
  status = store_->Put("a/b/c", "3");  // "a/b" is an object.
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("'a/b/c'"));
  EXPECT_THAT(Tree(root_), ElementsAre("a/", "a/b"));
}

TEST_F(LocalObjectStoreTest, RootBelowARegularFileIsAClearOneLineError) {
  const std::string file = base_ + "/plain-file";
  WriteFile(file, "not a directory");
  for (const std::string& root : {file + "/sub", file}) {
    SCOPED_TRACE(root);
    absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenObjectStore("file://" + root);
    ASSERT_FALSE(store.ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(store.status()) ||
                absl::IsPermissionDenied(store.status()))
        << store.status();
    std::string message(store.status().message());
    EXPECT_THAT(message, HasSubstr(root));
    EXPECT_THAT(message, Not(HasSubstr("\n")));
  }
}

TEST_F(LocalObjectStoreTest, RelativeFileUriResolvesAgainstTheCurrentDirectory) {
  const fs::path previous = fs::current_path();
  ASSERT_EQ(::chdir(base_.c_str()), 0);
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenObjectStore("file:rel/dir");
  ASSERT_EQ(::chdir(previous.c_str()), 0);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Describe(), "file:rel/dir");
  ASSERT_TRUE((*store)->Put("k", "relative").ok());
  EXPECT_EQ(ReadFile(base_ + "/rel/dir/k"), "relative");
  // Paths are absolute, so later changes of directory do not matter.
  EXPECT_EQ((*store)->LocalPath("k"), base_ + "/rel/dir/k");
  EXPECT_EQ((*store)->Get("k").value_or(""), "relative");
}

TEST_F(LocalObjectStoreTest, FileUriVariants) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> localhost =
      OpenObjectStore("file://localhost" + base_ + "/via-localhost");
  ASSERT_TRUE(localhost.ok()) << localhost.status();
  EXPECT_TRUE(fs::is_directory(base_ + "/via-localhost"));

  absl::StatusOr<std::unique_ptr<ObjectStore>> with_host = OpenObjectStore("file://data/x");
  EXPECT_TRUE(absl::IsInvalidArgument(with_host.status())) << with_host.status();
  EXPECT_THAT(std::string(with_host.status().message()), HasSubstr("file:///"));
  EXPECT_TRUE(absl::IsInvalidArgument(OpenObjectStore("file://").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(OpenObjectStore("file:///tmp/x?opt=1").status()));
}

TEST(ObjectStoreRegistryTest, UnknownSchemeListsTheKnownOnes) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenObjectStore("nosuch://x");
  ASSERT_TRUE(absl::IsInvalidArgument(store.status())) << store.status();
  std::string message(store.status().message());
  EXPECT_THAT(message, HasSubstr("nosuch"));
  EXPECT_THAT(message, HasSubstr("file"));
  EXPECT_THAT(message, HasSubstr("memory"));
}

TEST(ObjectStoreRegistryTest, PlainPathIsNotAUri) {
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenObjectStore("/plain/path");
  ASSERT_TRUE(absl::IsInvalidArgument(store.status())) << store.status();
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("file"));
}

TEST(ObjectStoreRegistryTest, RegisteredSchemesAreOpenedCaseInsensitively) {
  std::string seen_uri;
  RegisterObjectStoreScheme("Test-Scheme", [&seen_uri](std::string_view uri) {
    seen_uri = std::string(uri);
    return OpenObjectStore("memory://registry-test-" + NewUuid());
  });
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenObjectStore("TEST-scheme://bucket/p");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(seen_uri, "TEST-scheme://bucket/p");
  EXPECT_THAT(std::string(OpenObjectStore("nosuch://x").status().message()),
              HasSubstr("test-scheme"));
}

TEST(ValidateObjectKeyTest, MessagesNameTheProblem) {
  EXPECT_TRUE(ValidateObjectKey("metrics/cpu/date=2026-01-01/hour=05/u.1.parquet").ok());
  EXPECT_THAT(std::string(ValidateObjectKey("").message()), HasSubstr("empty"));
  EXPECT_THAT(std::string(ValidateObjectKey("/a").message()), HasSubstr("'/a'"));
  EXPECT_THAT(std::string(ValidateObjectKey("a//b").message()), HasSubstr("empty segment"));
  EXPECT_THAT(std::string(ValidateObjectKey("a/../b").message()), HasSubstr("'..'"));
  EXPECT_THAT(std::string(ValidateObjectKey("a/").message()), HasSubstr("end with '/'"));
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateObjectKey(std::string_view("a\0b", 3))));
}

TEST(MemoryObjectStoreTest, SameNameSharesObjectsOtherNamesDoNot) {
  const std::string name = "shared-" + NewUuid();
  absl::StatusOr<std::unique_ptr<ObjectStore>> first = OpenObjectStore("memory://" + name);
  absl::StatusOr<std::unique_ptr<ObjectStore>> second = OpenObjectStore("memory://" + name);
  absl::StatusOr<std::unique_ptr<ObjectStore>> other = OpenObjectStore("memory://other-" + name);
  ASSERT_TRUE(first.ok() && second.ok() && other.ok());
  ASSERT_TRUE((*first)->Put("k", "v").ok());
  EXPECT_EQ((*second)->Get("k").value_or(""), "v");
  EXPECT_FALSE((*other)->Exists("k").value_or(true));
  first->reset();
  EXPECT_EQ((*second)->Get("k").value_or(""), "v");  // Outlives its openers.
  EXPECT_EQ((*second)->Describe(), "memory://" + name);
  EXPECT_FALSE((*second)->LocalPath("k").has_value());
  EXPECT_TRUE(absl::IsInvalidArgument(OpenObjectStore("memory://").status()));
}

}  // namespace
}  // namespace shardlake
