// A fresh directory under the GoogleTest temp dir for one test, removed
// (with everything in it) when the test ends. Test-only.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "common/ids.h"

namespace shardlake {

class TestDir {
 public:
  TestDir()
      : path_((std::filesystem::path(::testing::TempDir()) / ("shardlake-auth-" + NewUuid()))
                  .string()) {
    std::filesystem::create_directories(path_);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;
  ~TestDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const {
    return (std::filesystem::path(path_) / name).string();
  }

 private:
  std::string path_;
};

// The permission bits of `path` (e.g. 0600), or -1 if it cannot be stat'ed.
inline int PermissionBits(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return -1;
  return static_cast<int>(info.st_mode & 07777);
}

}  // namespace shardlake
