#include "common/ids.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>

namespace shardlake {
namespace {

TEST(NewUuidTest, IsVersionFourAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string uuid = NewUuid();
    ASSERT_EQ(uuid.size(), 36u);
    EXPECT_EQ(uuid[14], '4') << uuid;
    EXPECT_TRUE(seen.insert(uuid).second) << uuid;
  }
}

TEST(NewUuidTest, ForkedChildDoesNotRepeatItsParent) {
  NewUuid();  // The parent's generator is seeded before the fork.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string uuid = NewUuid();
    ssize_t written = ::write(pipe_fds[1], uuid.data(), uuid.size());
    ::_exit(written == static_cast<ssize_t>(uuid.size()) ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string from_parent = NewUuid();
  char buffer[64];
  ssize_t n = ::read(pipe_fds[0], buffer, sizeof(buffer));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_EQ(n, 36);
  EXPECT_NE(std::string(buffer, 36), from_parent);
}

}  // namespace
}  // namespace shardlake
