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

// The same lake with the credentials, endpoint and region given by the global
// --s3-* flags instead of AWS_* variables: the flags win over the environment,
// and neither the secret nor its file's content ever appears in the output.
TEST(S3LakeTest, CredentialsEndpointAndRegionByFlags) {
  if (std::string missing = CephTestServer::MissingBinaries(); !missing.empty()) {
    GTEST_SKIP() << "Ceph is not installed (missing " << missing
                 << "); scripts/install-deps.sh installs it";
  }
  CephTestServer ceph;
  absl::Status started = ceph.Start();
  ASSERT_TRUE(started.ok()) << started;
  const std::string bucket_name = "flags-" + NewUuid().substr(0, 8);
  auto bucket =
      S3ObjectStore::OpenUri(ceph.UriFor(bucket_name, "lake"), CephTestServer::credentials());
  ASSERT_TRUE(bucket.ok()) << bucket.status();
  ASSERT_TRUE((*bucket)->CreateBucket().ok());
  // The environment holds a wrong pair and an unreachable endpoint region:
  // only the flags can make this work.
  const std::string env_secret = "env-secret-is-wrong-" + NewUuid();
  setenv("AWS_ACCESS_KEY_ID", CephTestServer::kAccessKey, 1);
  setenv("AWS_SECRET_ACCESS_KEY", env_secret.c_str(), 1);
  unsetenv("AWS_SESSION_TOKEN");
  setenv("AWS_REGION", "eu-nowhere-1", 1);

  fs::path dir = fs::temp_directory_path() / ("shardlake-s3-flags-" + NewUuid());
  fs::create_directories(dir);
  const fs::path secret_file = dir / "s3-secret";
  std::ofstream(secret_file) << CephTestServer::kSecretKey << "\n";
  // No endpoint or region in the URI: they come from --s3-endpoint / --s3-region.
  const std::string uri = "s3://" + bucket_name + "/lake";
  auto shardlake = [&](const std::vector<std::string>& credential_flags,
                       std::vector<std::string> args) {
    std::vector<std::string> all{
        "--data-dir",    (dir / "data").string(), "--storage",   uri,
        "--s3-endpoint", ceph.endpoint(),         "--s3-region", "us-east-1"};
    all.insert(all.end(), credential_flags.begin(), credential_flags.end());
    all.insert(all.end(), args.begin(), args.end());
    return RunShardlake(all);
  };
  const std::vector<std::string> by_file{"--s3-access-key-id", CephTestServer::kAccessKey,
                                         "--s3-secret-access-key-file", secret_file.string()};
  std::ofstream(dir / "a.csv") << "time,host,v\n2026-01-01 00:10:00,a,1\n2026-01-01 03:00:00,b,2\n";
  CommandResult created =
      shardlake(by_file, {"sql", "CREATE TABLE m.cpu (time TIMESTAMP, host VARCHAR, v BIGINT)"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  CommandResult loaded = shardlake(by_file, {"load", "m.cpu", (dir / "a.csv").string()});
  ASSERT_EQ(loaded.exit_code, 0) << loaded.err;
  // The secret on the command line works as well.
  CommandResult summed = shardlake({"--s3-access-key-id", CephTestServer::kAccessKey,
                                    "--s3-secret-access-key", CephTestServer::kSecretKey},
                                   {"sql", "--format", "csv", "SELECT sum(v) FROM m.cpu"});
  EXPECT_EQ(summed.exit_code, 0) << summed.err;
  EXPECT_NE(summed.out.find('3'), std::string::npos) << summed.out;
  auto objects = (*bucket)->List("m/cpu/");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_EQ(objects->size(), 2u);

  // Without the flags the environment's wrong secret is used: refused, and the
  // hint names the variables, never the secret.
  CommandResult from_env = shardlake({}, {"load", "m.cpu", (dir / "a.csv").string()});
  EXPECT_NE(from_env.exit_code, 0);
  EXPECT_NE(from_env.err.find("SignatureDoesNotMatch"), std::string::npos) << from_env.err;
  EXPECT_NE(from_env.err.find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << from_env.err;
  EXPECT_EQ(from_env.err.find(env_secret), std::string::npos);

  // A wrong secret in the file: refused, naming the flags, not the secret.
  const std::string flag_secret = "flag-secret-is-wrong-" + NewUuid();
  std::ofstream(dir / "wrong-secret") << flag_secret;
  CommandResult denied = shardlake({"--s3-access-key-id", CephTestServer::kAccessKey,
                                    "--s3-secret-access-key-file", (dir / "wrong-secret").string()},
                                   {"load", "m.cpu", (dir / "a.csv").string()});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.err.find("SignatureDoesNotMatch"), std::string::npos) << denied.err;
  EXPECT_NE(denied.err.find("--s3-secret-access-key"), std::string::npos) << denied.err;
  EXPECT_EQ(denied.err.find(flag_secret), std::string::npos) << denied.err;
  EXPECT_EQ(denied.err.find(env_secret), std::string::npos);

  // Half a pair, or a secret file that is missing: a clear error before any request.
  CommandResult half =
      shardlake({"--s3-access-key-id", CephTestServer::kAccessKey}, {"sql", "SELECT 1"});
  EXPECT_NE(half.exit_code, 0);
  EXPECT_NE(half.err.find("--s3-secret-access-key-file"), std::string::npos) << half.err;
  CommandResult no_file = shardlake({"--s3-access-key-id", CephTestServer::kAccessKey,
                                     "--s3-secret-access-key-file", (dir / "absent").string()},
                                    {"sql", "SELECT 1"});
  EXPECT_NE(no_file.exit_code, 0);
  EXPECT_NE(no_file.err.find((dir / "absent").string()), std::string::npos) << no_file.err;

  // Nothing the refused loads did is registered.
  CommandResult counted =
      shardlake(by_file, {"sql", "--format", "csv", "SELECT count(*) FROM m.cpu"});
  EXPECT_EQ(counted.exit_code, 0) << counted.err;
  EXPECT_NE(counted.out.find('2'), std::string::npos) << counted.out;
  EXPECT_EQ((*bucket)->List("m/cpu/")->size(), 2u);
  unsetenv("AWS_REGION");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shardlake
