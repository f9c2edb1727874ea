#include "cluster/session_registry.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace shardlake {
namespace {

TEST(SessionRegistryTest, TokensAreRandom256BitHex) {
  std::set<std::string> tokens;
  for (int i = 0; i < 100; ++i) {
    auto token = NewSessionToken();
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(token->size(), 64u);
    EXPECT_EQ(token->find_first_not_of("0123456789abcdef"), std::string::npos);
    tokens.insert(*token);
  }
  EXPECT_EQ(tokens.size(), 100u);
}

TEST(SessionRegistryTest, UnknownAndExpiredTokensAreUnauthenticated) {
  SessionRegistry<int> registry(std::chrono::seconds(1));
  auto token = registry.Add(std::make_shared<int>(7));
  ASSERT_TRUE(token.ok());
  auto found = registry.Find(*token);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(**found, 7);
  EXPECT_EQ(registry.Find("nope").status().code(), absl::StatusCode::kUnauthenticated);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(registry.Find(*token).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(LoginThrottleTest, BlocksAUserAndAPeerAfterTooManyFailures) {
  LoginThrottle throttle(3, std::chrono::seconds(60));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(throttle.Check("scott", "peer-a").ok());
    throttle.RecordFailure("scott", "peer-a");
  }
  EXPECT_EQ(throttle.Check("scott", "peer-b").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(throttle.Check("alice", "peer-a").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(throttle.Check("alice", "peer-b").ok());
}

TEST(LoginThrottleTest, FailuresExpireAfterTheWindow) {
  LoginThrottle throttle(1, std::chrono::seconds(1));
  throttle.RecordFailure("scott", "peer");
  EXPECT_FALSE(throttle.Check("scott", "peer").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(throttle.Check("scott", "peer").ok());
}

}  // namespace
}  // namespace shardlake
