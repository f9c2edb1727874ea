// Runs the shardlake binary (path from SHARDLAKE_BIN, set by CMake) in the
// end-to-end tests and collects its exit code and output.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/ids.h"

namespace shardlake {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadAll(int fd) {
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) text.append(buffer, static_cast<size_t>(n));
  return text;
}

// Runs the binary with `args`, feeding `input` on stdin.
inline CommandResult RunShardlake(const std::vector<std::string>& args,
                                  const std::string& input = "") {
  const char* bin = std::getenv("SHARDLAKE_BIN");
  EXPECT_NE(bin, nullptr) << "SHARDLAKE_BIN is not set";
  if (bin == nullptr) return {};
  std::filesystem::path err_file =
      std::filesystem::temp_directory_path() / ("shardlake-err-" + NewUuid());
  std::filesystem::path out_file =
      std::filesystem::temp_directory_path() / ("shardlake-out-" + NewUuid());
  std::filesystem::path in_file =
      std::filesystem::temp_directory_path() / ("shardlake-in-" + NewUuid());
  std::ofstream(in_file) << input;
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(in_file.c_str(), O_RDONLY);
    int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> argv{const_cast<char*>(bin)};
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execv(bin, argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  int out = open(out_file.c_str(), O_RDONLY);
  int err = open(err_file.c_str(), O_RDONLY);
  result.out = ReadAll(out);
  result.err = ReadAll(err);
  close(out);
  close(err);
  std::filesystem::remove(out_file);
  std::filesystem::remove(err_file);
  std::filesystem::remove(in_file);
  return result;
}

}  // namespace shardlake
