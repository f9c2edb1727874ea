// `shardlake load`, `sql` and `compact` with --storage s3://... against a real
// Ceph RADOS Gateway on loopback (storage/ceph_test_server.h): the lake's
// Parquet files live in the bucket, queries read them through the worker file
// cache, and a failed load registers nothing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "common/ids.h"
#include "storage/ceph_test_server.h"
#include "storage/s3_object_store.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;

TEST(S3LakeTest, LoadQueryAndCompactThroughAnS3Bucket) {
  if (std::string missing = CephTestServer::MissingBinaries(); !missing.empty()) {
    GTEST_SKIP() << "Ceph is not installed (missing " << missing
                 << "); scripts/install-deps.sh installs it";
  }
  CephTestServer ceph;
  absl::Status started = ceph.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::string uri = ceph.UriFor("lake-" + NewUuid().substr(0, 8), "warehouse");
  auto bucket = S3ObjectStore::OpenUri(uri, CephTestServer::credentials());
  ASSERT_TRUE(bucket.ok()) << bucket.status();
  ASSERT_TRUE((*bucket)->CreateBucket().ok());
  setenv("AWS_ACCESS_KEY_ID", CephTestServer::kAccessKey, 1);
  setenv("AWS_SECRET_ACCESS_KEY", CephTestServer::kSecretKey, 1);

  fs::path dir = fs::temp_directory_path() / ("shardlake-s3-lake-" + NewUuid());
  fs::create_directories(dir);
  auto shardlake = [&](std::vector<std::string> args) {
    std::vector<std::string> all{"--data-dir", (dir / "data").string(), "--storage", uri};
    all.insert(all.end(), args.begin(), args.end());
    return RunShardlake(all);
  };
  auto expect_ok = [](const CommandResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.out;
  };
  expect_ok(shardlake({"sql", "CREATE TABLE m.cpu (time TIMESTAMP, host VARCHAR, v BIGINT)"}));
  std::ofstream(dir / "a.csv") << "time,host,v\n2026-01-01 00:10:00,a,1\n2026-01-01 00:20:00,b,2\n"
                                  "2026-01-01 03:00:00,a,4\n";
  expect_ok(shardlake({"load", "m.cpu", (dir / "a.csv").string()}));
  expect_ok(shardlake({"sql", "INSERT INTO m.cpu VALUES ('2026-01-01 00:30:00', 'c', 8)"}));
  EXPECT_NE(expect_ok(shardlake({"sql", "--format", "csv", "SELECT sum(v) FROM m.cpu"})).find("15"),
            std::string::npos);

  // The files are objects in the bucket, under the prefix.
  auto objects = (*bucket)->List("m/cpu/");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_EQ(objects->size(), 3u);  // hour 00 twice (load, insert), hour 03 once

  // A load that fails half-way registers nothing and leaves no object.
  std::ofstream(dir / "bad.csv") << "time,host,v\n2026-01-01 05:00:00,a,1\nnot a time,b,x\n";
  EXPECT_NE(shardlake({"load", "m.cpu", (dir / "bad.csv").string()}).exit_code, 0);
  EXPECT_NE(
      expect_ok(shardlake({"sql", "--format", "csv", "SELECT count(*) FROM m.cpu"})).find("4"),
      std::string::npos);
  EXPECT_EQ((*bucket)->List("m/cpu/")->size(), 3u);

  // Compaction reads the sources through the file cache and writes the
  // merged file to the bucket; the answer is unchanged.
  expect_ok(shardlake({"compact", "--now", "--grace", "0"}));
  expect_ok(shardlake({"compact", "--now", "--grace", "0"}));  // deletes the due sources
  EXPECT_NE(expect_ok(shardlake({"sql", "--format", "csv", "SELECT sum(v) FROM m.cpu"})).find("15"),
            std::string::npos);
  EXPECT_EQ((*bucket)->List("m/cpu/")->size(), 2u);  // one .2 file for hour 00, hour 03 as is

  // A wrong secret: a clear error, nothing registered.
  setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret", 1);
  CommandResult denied = shardlake({"load", "m.cpu", (dir / "a.csv").string()});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.err.find("SignatureDoesNotMatch"), std::string::npos) << denied.err;
  EXPECT_EQ(denied.err.find("wrong-secret"), std::string::npos);
  setenv("AWS_SECRET_ACCESS_KEY", CephTestServer::kSecretKey, 1);
  EXPECT_NE(
      expect_ok(shardlake({"sql", "--format", "csv", "SELECT count(*) FROM m.cpu"})).find("4"),
      std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shardlake
