#include "cluster/users_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>

#include "cluster/secure_file.h"
#include "cluster/test_dir.h"

namespace shardlake {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr ScryptParams kFastParams{uint64_t{1} << 10, 8, 1};

void WriteText(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

UsersFile TwoUsers() {
  UsersFile users;
  EXPECT_TRUE(users.AddUser("scott", UserRole::kClient, "tiger", kFastParams).ok());
  EXPECT_TRUE(users.AddUser("worker", UserRole::kWorker, "united", kFastParams).ok());
  return users;
}

TEST(UsersFileTest, SavedFileHasMode0600AndRoundTrips) {
  TestDir dir;
  const std::string path = dir / "users.json";
  UsersFile users = TwoUsers();
  ASSERT_TRUE(users.Save(path).ok());
  EXPECT_EQ(PermissionBits(path), 0600);

  absl::StatusOr<UsersFile> loaded = UsersFile::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->users().size(), 2u);
  EXPECT_EQ(loaded->users()[0].username, "scott");
  EXPECT_EQ(loaded->users()[0].role, UserRole::kClient);
  EXPECT_EQ(loaded->users()[1].username, "worker");
  EXPECT_EQ(loaded->users()[1].role, UserRole::kWorker);
  EXPECT_EQ(loaded->users()[0].password_hash, users.users()[0].password_hash);
}

TEST(UsersFileTest, FileHoldsNoPlainPasswords) {
  TestDir dir;
  const std::string path = dir / "users.json";
  ASSERT_TRUE(TwoUsers().Save(path).ok());
  absl::StatusOr<std::string> text = ReadOwnerOnlyFile(path, "users file");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, Not(HasSubstr("tiger")));
  EXPECT_THAT(*text, Not(HasSubstr("united")));
  EXPECT_THAT(*text, HasSubstr("\"hash\": \"scrypt$1024$8$1$"));
}

TEST(UsersFileTest, ReplacingAWiderFileGivesMode0600) {
  TestDir dir;
  const std::string path = dir / "users.json";
  WriteText(path, "old", 0644);
  ASSERT_TRUE(TwoUsers().Save(path).ok());
  EXPECT_EQ(PermissionBits(path), 0600);
  EXPECT_TRUE(UsersFile::Load(path).ok());
}

TEST(UsersFileTest, LoadingAFileOthersCanReadIsRefused) {
  TestDir dir;
  const std::string path = dir / "users.json";
  ASSERT_TRUE(TwoUsers().Save(path).ok());
  for (mode_t mode : {0644, 0640, 0604, 0620, 0601}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    absl::StatusOr<UsersFile> loaded = UsersFile::Load(path);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_THAT(loaded.status().message(), HasSubstr("chmod 600"));
    EXPECT_THAT(loaded.status().message(), HasSubstr(path));
  }
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_TRUE(UsersFile::Load(path).ok());
}

TEST(UsersFileTest, MissingFileIsNotFound) {
  TestDir dir;
  EXPECT_EQ(UsersFile::Load(dir / "absent.json").status().code(), absl::StatusCode::kNotFound);
}

TEST(UsersFileTest, AuthenticateAcceptsRightPasswordAndReportsRole) {
  UsersFile users = TwoUsers();
  absl::StatusOr<AuthenticatedUser> client = users.Authenticate("scott", "tiger");
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(client->username, "scott");
  EXPECT_EQ(client->role, UserRole::kClient);
  absl::StatusOr<AuthenticatedUser> worker = users.Authenticate("worker", "united");
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ(worker->role, UserRole::kWorker);
}

TEST(UsersFileTest, WrongPasswordAndUnknownUserFailAlike) {
  UsersFile users = TwoUsers();
  absl::StatusOr<AuthenticatedUser> wrong = users.Authenticate("scott", "lion");
  absl::StatusOr<AuthenticatedUser> unknown = users.Authenticate("nobody", "tiger");
  absl::StatusOr<AuthenticatedUser> cross = users.Authenticate("scott", "united");
  for (const auto* result : {&wrong, &unknown, &cross}) {
    EXPECT_EQ(result->status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(result->status().message(), "invalid username or password");
  }
  EXPECT_EQ(UsersFile().Authenticate("scott", "tiger").status().code(),
            absl::StatusCode::kUnauthenticated);
}

// Unknown users cost a full hash: rejecting an unknown user must take about
// as long as rejecting a wrong password (default parameters, tens of ms),
// where a shortcut would take microseconds. Only a lower bound, against the
// fastest of three wrong-password checks, so a loaded machine (which only
// makes things slower) cannot make it fail.
TEST(UsersFileTest, UnknownUserCostsAHashLikeAWrongPassword) {
  UsersFile users;
  ASSERT_TRUE(users.AddUser("scott", UserRole::kClient, "tiger", ScryptParams{}).ok());
  auto seconds_to_reject = [&](const char* user) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(users.Authenticate(user, "lion").ok());
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double known = seconds_to_reject("scott");
  for (int i = 0; i < 2; ++i) known = std::min(known, seconds_to_reject("scott"));
  double unknown = seconds_to_reject("nobody");
  EXPECT_GT(unknown, known / 4) << "unknown user " << unknown << " s, wrong password " << known
                                << " s";
}

TEST(UsersFileTest, AddUserValidatesNamesPasswordsAndDuplicates) {
  UsersFile users;
  EXPECT_EQ(users.AddUser("", UserRole::kClient, "tiger", kFastParams).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(users.AddUser("scott tiger", UserRole::kClient, "tiger", kFastParams).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(users.AddUser("sc$ott", UserRole::kClient, "tiger", kFastParams).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(users.AddUser(std::string(65, 'a'), UserRole::kClient, "tiger", kFastParams).code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status short_password = users.AddUser("scott", UserRole::kClient, "abc", kFastParams);
  EXPECT_EQ(short_password.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_password.message(), HasSubstr("at least 4"));
  EXPECT_THAT(short_password.message(), Not(HasSubstr("abc")));
  EXPECT_EQ(users.AddUser("scott", UserRole::kClient, "", kFastParams).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(users.AddUser("Scott.B-1_x", UserRole::kClient, "tiger", kFastParams).ok());
  EXPECT_EQ(users.AddUser("Scott.B-1_x", UserRole::kWorker, "lion", kFastParams).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(users.users().size(), 1u);
}

TEST(UsersFileTest, MalformedFilesAreRefusedWithTheEntry) {
  UsersFile good = TwoUsers();
  const std::string hash = good.users()[0].password_hash;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {"[]", "not a shardlake users file"},
      {R"({"format": "other", "version": 1, "users": []})", "not a shardlake users file"},
      {R"({"format": 7, "version": 1, "users": []})", "not a shardlake users file"},
      {R"({"format": "shardlake-users", "version": 2, "users": []})", "version"},
      {R"({"format": "shardlake-users", "version": 1})", "\"users\" must be an array"},
      {R"({"format": "shardlake-users", "version": 1, "users": [1]})", "users[0]"},
      {R"({"format": "shardlake-users", "version": 1, "users": [{"username": "a b", "role": "client", "hash": ")" +
           hash + R"("}]})",
       "users[0]"},
      {R"({"format": "shardlake-users", "version": 1, "users": [{"username": "a", "role": "admin", "hash": ")" +
           hash + R"("}]})",
       "role 'admin'"},
      {R"({"format": "shardlake-users", "version": 1, "users": [{"username": "a", "role": "client", "hash": "tiger"}]})",
       "malformed password hash"},
      {R"({"format": "shardlake-users", "version": 1, "users": [{"username": "a", "role": "client", "hash": ")" +
           hash + R"(", "password": "x"}]})",
       "unknown field \"password\""},
      {R"({"format": "shardlake-users", "version": 1, "users": [{"username": "a", "role": "client", "hash": ")" +
           hash + R"("}, {"username": "a", "role": "worker", "hash": ")" + hash + R"("}]})",
       "users[1]: user 'a' is listed more than once"},
  };
  for (const auto& [text, reason] : cases) {
    absl::StatusOr<UsersFile> parsed = UsersFile::Parse(text, "users file 'x'");
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(reason)) << text;
    EXPECT_THAT(parsed.status().message(), HasSubstr("users file 'x'")) << text;
  }
}

}  // namespace
}  // namespace shardlake
