#include "common/uri.h"

#include <gtest/gtest.h>

namespace shardlake {
namespace {

TEST(UriTest, ParsesFullUri) {
  auto uri = ParseUri("redis://user:s%40cret@localhost:6379/2?tls=1&x=a%20b");
  ASSERT_TRUE(uri.ok()) << uri.status();
  EXPECT_EQ(uri->scheme, "redis");
  EXPECT_EQ(uri->userinfo, "user:s@cret");
  EXPECT_EQ(uri->host, "localhost");
  EXPECT_EQ(uri->port, 6379);
  EXPECT_EQ(uri->path, "/2");
  EXPECT_EQ(uri->query.at("tls"), "1");
  EXPECT_EQ(uri->query.at("x"), "a b");
  EXPECT_EQ(uri->Redacted(), "redis://user:***@localhost:6379/2");
}

TEST(UriTest, FileUris) {
  auto abs = ParseUri("file:///var/lake");
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->scheme, "file");
  EXPECT_EQ(abs->host, "");
  EXPECT_EQ(abs->path, "/var/lake");
  auto rel = ParseUri("sqlite:data/catalog.sqlite");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->path, "data/catalog.sqlite");
}

TEST(UriTest, RejectsBadInput) {
  EXPECT_FALSE(ParseUri("/plain/path").ok());
  EXPECT_FALSE(ParseUri("://x").ok());
  EXPECT_FALSE(ParseUri("redis://host:99999/0").ok());
  EXPECT_FALSE(ParseUri("redis://host:abc/0").ok());
  EXPECT_FALSE(ParseUri("file:///a%zz").ok());
  EXPECT_FALSE(ParseUri("sq lite://x").ok());
}

TEST(UriTest, Ipv6Host) {
  auto uri = ParseUri("redis://[::1]:7000/0");
  ASSERT_TRUE(uri.ok()) << uri.status();
  EXPECT_EQ(uri->host, "::1");
  EXPECT_EQ(uri->port, 7000);
}

}  // namespace
}  // namespace shardlake
