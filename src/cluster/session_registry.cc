#include "cluster/session_registry.h"

#include <openssl/rand.h>

#include <array>

#include "fmt/format.h"

namespace shardlake {
namespace {

constexpr size_t kTokenBytes = 32;
// Bounds the throttle's memory under a flood of distinct names or peers.
constexpr size_t kMaxTrackedKeys = 100'000;

}  // namespace

absl::StatusOr<std::string> NewSessionToken() {
  std::array<unsigned char, kTokenBytes> bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return absl::InternalError("cannot create a session token: OpenSSL has no randomness");
  }
  std::string token;
  token.reserve(2 * kTokenBytes);
  for (unsigned char byte : bytes) token += fmt::format("{:02x}", byte);
  return token;
}

bool LoginThrottle::BlockedLocked(const std::map<std::string, Failures>& table,
                                  const std::string& key, SteadyClock::time_point now) const {
  auto it = table.find(key);
  return it != table.end() && it->second.count >= max_failures_ && now - it->second.last < window_;
}

void LoginThrottle::ExpireLocked(std::map<std::string, Failures>& table,
                                 SteadyClock::time_point now) {
  for (auto it = table.begin(); it != table.end();) {
    it = now - it->second.last >= window_ ? table.erase(it) : std::next(it);
  }
}

absl::Status LoginThrottle::Check(const std::string& user, const std::string& peer) {
  std::lock_guard lock(mutex_);
  auto now = SteadyClock::now();
  if (BlockedLocked(by_user_, user, now) || BlockedLocked(by_peer_, peer, now)) {
    return absl::ResourceExhaustedError(
        fmt::format("too many failed logins; try again in {} seconds", window_.count()));
  }
  return absl::OkStatus();
}

void LoginThrottle::RecordFailure(const std::string& user, const std::string& peer) {
  std::lock_guard lock(mutex_);
  auto now = SteadyClock::now();
  if (by_user_.size() > kMaxTrackedKeys) ExpireLocked(by_user_, now);
  if (by_peer_.size() > kMaxTrackedKeys) ExpireLocked(by_peer_, now);
  for (auto* entry : {&by_user_[user], &by_peer_[peer]}) {
    if (now - entry->last >= window_) entry->count = 0;
    ++entry->count;
    entry->last = now;
  }
}

void LoginThrottle::RecordSuccess(const std::string& user) {
  std::lock_guard lock(mutex_);
  by_user_.erase(user);
}

}  // namespace shardlake
