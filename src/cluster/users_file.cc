#include "cluster/users_file.h"

#include <utility>

#include "cluster/secure_file.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace shardlake {
namespace {

constexpr std::string_view kFormatName = "shardlake-users";
constexpr int kFormatVersion = 1;

bool IsUsernameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

absl::StatusOr<UserRole> ParseRole(std::string_view name) {
  if (name == "client") return UserRole::kClient;
  if (name == "worker") return UserRole::kWorker;
  return absl::InvalidArgumentError(fmt::format("role '{}' is not 'client' or 'worker'", name));
}

// The string member `key` of `object`, or InvalidArgument naming `where`.
absl::StatusOr<std::string> StringMember(const nlohmann::json& object, const char* key,
                                         const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return absl::InvalidArgumentError(fmt::format("{}: \"{}\" must be a string", where, key));
  }
  return it->get<std::string>();
}

absl::StatusOr<UserRecord> ParseRecord(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object()) {
    return absl::InvalidArgumentError(fmt::format("{} is not a JSON object", where));
  }
  for (const auto& [key, value] : entry.items()) {
    if (key != "username" && key != "role" && key != "hash") {
      return absl::InvalidArgumentError(fmt::format(
          "{} has an unknown field \"{}\" (expected username, role, hash)", where, key));
    }
  }
  UserRecord record;
  ASSIGN_OR_RETURN(record.username, StringMember(entry, "username", where));
  ASSIGN_OR_RETURN(std::string role, StringMember(entry, "role", where));
  ASSIGN_OR_RETURN(record.password_hash, StringMember(entry, "hash", where));
  const std::string user_where = fmt::format("{} (user '{}')", where, record.username);
  if (absl::Status status = ValidateUsername(record.username); !status.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", where, std::string(status.message())));
  }
  absl::StatusOr<UserRole> parsed_role = ParseRole(role);
  if (!parsed_role.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", user_where, std::string(parsed_role.status().message())));
  }
  record.role = *parsed_role;
  if (absl::StatusOr<ScryptParams> params = ParsePasswordHashParams(record.password_hash);
      !params.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: {}", user_where, std::string(params.status().message())));
  }
  return record;
}

}  // namespace

std::string_view UserRoleName(UserRole role) {
  switch (role) {
    case UserRole::kClient:
      return "client";
    case UserRole::kWorker:
      return "worker";
  }
  return "unknown";
}

absl::Status ValidateUsername(std::string_view username) {
  if (username.empty()) return absl::InvalidArgumentError("user name is empty");
  if (username.size() > kMaxUsernameLength) {
    return absl::InvalidArgumentError(fmt::format("user name '{}...' is longer than {} characters",
                                                  username.substr(0, 16), kMaxUsernameLength));
  }
  for (char c : username) {
    if (!IsUsernameChar(c)) {
      return absl::InvalidArgumentError(fmt::format(
          "user name '{}' has a character outside A-Z, a-z, 0-9, '.', '_' and '-'", username));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNewPassword(std::string_view password, std::string_view what) {
  if (password.empty()) return absl::InvalidArgumentError(fmt::format("{} is empty", what));
  if (password.size() < kMinPasswordLength) {
    return absl::InvalidArgumentError(
        fmt::format("{} is too short: it has {} characters, at least {} are required", what,
                    password.size(), kMinPasswordLength));
  }
  if (password.size() > kMaxPasswordLength) {
    return absl::InvalidArgumentError(
        fmt::format("{} is longer than {} bytes", what, kMaxPasswordLength));
  }
  if (password.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("{} contains a NUL character", what));
  }
  return absl::OkStatus();
}

absl::StatusOr<UsersFile> UsersFile::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string contents, ReadOwnerOnlyFile(path, "users file"));
  return Parse(contents, fmt::format("users file '{}'", path));
}

absl::StatusOr<UsersFile> UsersFile::Parse(std::string_view json, std::string_view source) {
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(json);
  } catch (const nlohmann::json::parse_error& error) {
    // The parser's message quotes no more than the offending token's start.
    return absl::InvalidArgumentError(
        fmt::format("{} is not valid JSON (at byte {})", source, error.byte));
  }
  auto format = document.is_object() ? document.find("format") : document.end();
  if (!document.is_object() || format == document.end() || !format->is_string() ||
      format->get<std::string>() != kFormatName) {
    return absl::InvalidArgumentError(fmt::format(
        "{} is not a shardlake users file (no \"format\": \"{}\")", source, kFormatName));
  }
  auto version = document.find("version");
  if (version == document.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kFormatVersion) {
    return absl::InvalidArgumentError(fmt::format(
        "{} has an unsupported \"version\" (this build reads version {})", source, kFormatVersion));
  }
  auto users = document.find("users");
  if (users == document.end() || !users->is_array()) {
    return absl::InvalidArgumentError(fmt::format("{}: \"users\" must be an array", source));
  }
  UsersFile file;
  for (size_t i = 0; i < users->size(); ++i) {
    const std::string where = fmt::format("{}, users[{}]", source, i);
    ASSIGN_OR_RETURN(UserRecord record, ParseRecord((*users)[i], where));
    if (absl::Status status = file.Append(std::move(record)); !status.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("{}: {}", where, std::string(status.message())));
    }
  }
  return file;
}

std::string UsersFile::Serialize() const {
  nlohmann::json users = nlohmann::json::array();
  for (const UserRecord& user : users_) {
    users.push_back({{"username", user.username},
                     {"role", std::string(UserRoleName(user.role))},
                     {"hash", user.password_hash}});
  }
  nlohmann::json document = {
      {"format", std::string(kFormatName)}, {"version", kFormatVersion}, {"users", users}};
  return document.dump(2) + "\n";
}

absl::Status UsersFile::Save(const std::string& path) const {
  return WriteFileAtomically(path, Serialize(), kOwnerOnlyFileMode);
}

absl::Status UsersFile::AddUser(std::string_view username, UserRole role, std::string_view password,
                                const ScryptParams& params) {
  RETURN_IF_ERROR(ValidateUsername(username));
  if (Find(username) != nullptr) {
    return absl::AlreadyExistsError(fmt::format("user '{}' already exists", username));
  }
  RETURN_IF_ERROR(ValidateNewPassword(
      password, fmt::format("the password of {} user '{}'", UserRoleName(role), username)));
  ASSIGN_OR_RETURN(std::string hash, HashPassword(password, params));
  return Append(UserRecord{std::string(username), role, std::move(hash)});
}

absl::Status UsersFile::Append(UserRecord record) {
  RETURN_IF_ERROR(ValidateUsername(record.username));
  if (Find(record.username) != nullptr) {
    return absl::AlreadyExistsError(
        fmt::format("user '{}' is listed more than once", record.username));
  }
  users_.push_back(std::move(record));
  return absl::OkStatus();
}

const UserRecord* UsersFile::Find(std::string_view username) const {
  for (const UserRecord& user : users_) {
    if (user.username == username) return &user;
  }
  return nullptr;
}

absl::StatusOr<AuthenticatedUser> UsersFile::Authenticate(std::string_view username,
                                                          std::string_view password) const {
  const UserRecord* user = Find(username);
  std::string decoy;
  if (user == nullptr) {
    ScryptParams params;
    if (!users_.empty()) {
      ASSIGN_OR_RETURN(params, ParsePasswordHashParams(users_.front().password_hash));
    }
    ASSIGN_OR_RETURN(decoy, MakeDecoyPasswordHash(params));
  }
  ASSIGN_OR_RETURN(bool matches,
                   VerifyPassword(password, user != nullptr ? user->password_hash : decoy));
  if (user == nullptr || !matches) {
    return absl::UnauthenticatedError("invalid username or password");
  }
  return AuthenticatedUser{user->username, user->role};
}

}  // namespace shardlake
