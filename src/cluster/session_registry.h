// Client sessions and login throttling for the cluster server.
//
// A session token is 256 random bits from OpenSSL's RAND_bytes, as 64 hex
// characters; it expires `ttl` after its last use. Tokens are compared only
// through a hash map lookup keyed by the token and never logged.
//
// LoginThrottle bounds password guessing: after `max_failures` failed logins
// within `window` for one user name, or for one peer address, further logins
// for that user or from that peer are refused with ResourceExhausted (without
// checking the password) until the window has passed since the last failure.
//
// Thread-safety: both classes are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace shardlake {

using SteadyClock = std::chrono::steady_clock;

// A fresh 256-bit random token, hex. Errors: Internal if OpenSSL has no
// randomness.
absl::StatusOr<std::string> NewSessionToken();

// Per-session state the server keeps; `T` is the server's own session type.
template <typename T>
class SessionRegistry {
 public:
  explicit SessionRegistry(std::chrono::seconds ttl) : ttl_(ttl) {}

  // Registers `session` under a new token and returns the token.
  absl::StatusOr<std::string> Add(std::shared_ptr<T> session) {
    auto token = NewSessionToken();
    if (!token.ok()) return token.status();
    std::lock_guard lock(mutex_);
    ExpireLocked(SteadyClock::now());
    sessions_[*token] = Entry{std::move(session), SteadyClock::now() + ttl_};
    return token;
  }

  // The session of `token`, its expiry renewed. Errors: Unauthenticated for an
  // unknown or expired token (the message says to log in again).
  absl::StatusOr<std::shared_ptr<T>> Find(const std::string& token) {
    std::lock_guard lock(mutex_);
    auto now = SteadyClock::now();
    auto it = sessions_.find(token);
    if (it == sessions_.end() || it->second.expires < now) {
      if (it != sessions_.end()) sessions_.erase(it);
      return absl::UnauthenticatedError(
          "invalid or expired session token; log in again (Login) to get a new one");
    }
    it->second.expires = now + ttl_;
    return it->second.session;
  }

  size_t size() {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }

 private:
  struct Entry {
    std::shared_ptr<T> session;
    SteadyClock::time_point expires;
  };
  void ExpireLocked(SteadyClock::time_point now) {
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      it = it->second.expires < now ? sessions_.erase(it) : std::next(it);
    }
  }

  const std::chrono::seconds ttl_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> sessions_;
};

class LoginThrottle {
 public:
  LoginThrottle(int max_failures, std::chrono::seconds window)
      : max_failures_(max_failures), window_(window) {}

  // OK when a login for `user` from `peer` may be tried now; otherwise
  // ResourceExhausted saying when to retry.
  absl::Status Check(const std::string& user, const std::string& peer);
  void RecordFailure(const std::string& user, const std::string& peer);
  // Clears the user's failures (the peer's stay: they may guess other users).
  void RecordSuccess(const std::string& user);

 private:
  struct Failures {
    int count = 0;
    SteadyClock::time_point last;
  };
  bool BlockedLocked(const std::map<std::string, Failures>& table, const std::string& key,
                     SteadyClock::time_point now) const;
  void ExpireLocked(std::map<std::string, Failures>& table, SteadyClock::time_point now);

  const int max_failures_;
  const std::chrono::seconds window_;
  std::mutex mutex_;
  std::map<std::string, Failures> by_user_;
  std::map<std::string, Failures> by_peer_;
};

}  // namespace shardlake
