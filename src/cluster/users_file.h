// The users file: who may connect to the cluster, with which role, and a
// salted slow hash of each password (cluster/password_hash.h). Never a plain
// password, never one shared secret: workers log in as a user of role
// "worker" (by convention named kWorkerUsername) with their own hash.
//
// On disk it is JSON, written atomically with mode 0600 from creation and
// refused on load when group or others have any access to it:
//
//   {"format": "shardlake-users", "version": 1,
//    "users": [{"username": "scott", "role": "client", "hash": "scrypt$32768$8$1$...$..."},
//              {"username": "worker", "role": "worker", "hash": "scrypt$..."}]}
//
// Thread-safety: const methods (Find, Authenticate, Serialize, Save) may run
// concurrently; AddUser needs exclusive access.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cluster/password_hash.h"

namespace shardlake {

enum class UserRole { kClient, kWorker };

// "client" or "worker".
std::string_view UserRoleName(UserRole role);

// The user name the bootstrap gives the worker password.
inline constexpr std::string_view kWorkerUsername = "worker";

// Passwords shorter than this are refused when set.
inline constexpr size_t kMinPasswordLength = 4;
inline constexpr size_t kMaxPasswordLength = 1024;
inline constexpr size_t kMaxUsernameLength = 64;

// OK for 1 to kMaxUsernameLength characters from [A-Za-z0-9._-]; otherwise
// InvalidArgument saying which rule failed.
absl::Status ValidateUsername(std::string_view username);

// OK for a password of kMinPasswordLength to kMaxPasswordLength bytes without
// NUL; otherwise InvalidArgument with the rule (never the password).
// `what` names it in the message, e.g. "client password".
absl::Status ValidateNewPassword(std::string_view password, std::string_view what);

struct UserRecord {
  std::string username;
  UserRole role = UserRole::kClient;
  std::string password_hash;  // password_hash.h's encoded form
};

// Who Authenticate() let in (no hash).
struct AuthenticatedUser {
  std::string username;
  UserRole role = UserRole::kClient;
};

class UsersFile {
 public:
  // No users.
  UsersFile() = default;

  // Reads and parses `path`. Errors: NotFound if missing; FailedPrecondition
  // if group or others have any permission on it (the message gives the chmod
  // that fixes it) or it is not a regular file; InvalidArgument, naming the
  // file and the entry, for malformed JSON, an unknown format or version, a bad
  // user name or role, a duplicate user or a malformed hash.
  static absl::StatusOr<UsersFile> Load(const std::string& path);

  // Parses file contents; `source` names them in messages. Errors as Load's
  // InvalidArgument.
  static absl::StatusOr<UsersFile> Parse(std::string_view json, std::string_view source);

  // The file contents (JSON, users in insertion order).
  std::string Serialize() const;

  // Writes Serialize() to `path` atomically with mode 0600 (secure_file.h).
  absl::Status Save(const std::string& path) const;

  // Adds a user with a fresh hash of `password`. Errors: InvalidArgument for
  // a bad user name or password (ValidateUsername, ValidateNewPassword);
  // AlreadyExists if the user exists; others from HashPassword.
  absl::Status AddUser(std::string_view username, UserRole role, std::string_view password,
                       const ScryptParams& params = ScryptParams{});

  // The user named `username`, or nullptr. The pointer is valid until the next
  // AddUser or the end of this object.
  const UserRecord* Find(std::string_view username) const;

  const std::vector<UserRecord>& users() const { return users_; }

  // Checks `password` for `username`. Unknown users cost one hash too (against
  // a decoy hash with the parameters of the file's first user), and both
  // failures give the same error, so neither timing nor message tells whether
  // a user exists. Errors: Unauthenticated("invalid username or password");
  // Internal if OpenSSL fails. Check the returned role before granting access.
  absl::StatusOr<AuthenticatedUser> Authenticate(std::string_view username,
                                                 std::string_view password) const;

 private:
  // Appends `record` after checking its name is valid and not yet taken.
  absl::Status Append(UserRecord record);

  std::vector<UserRecord> users_;
};

}  // namespace shardlake
