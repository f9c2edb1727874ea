// The s3:// backend against a real S3 server: a one-node Ceph RADOS Gateway on
// loopback, started once for this test binary (CephTestServer). Runs the
// shared ObjectStore conformance suite, then multipart, pagination, addressing
// and each fault: wrong secret, missing bucket, connections dropped during an
// upload or a download, truncated downloads, 5xx retries, no retries on 4xx,
// and an interrupted multipart upload leaving no parts behind. Faults come
// from a proxy between the client and the gateway (FaultProxy).
//
// Skipped (with the reason) only when the Ceph programs are not installed; if
// they are and the cluster does not start, every test fails.
#include "storage/s3_object_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "cluster/tls_files.h"
#include "common/ids.h"
#include "storage/ceph_test_server.h"
#include "storage/fault_proxy.h"
#include "storage/object_store.h"
#include "storage/object_store_conformance.h"

namespace shardlake {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kBucket[] = "shardlake-test";

// Starts Ceph RGW once for the binary and creates kBucket.
class CephEnvironment : public ::testing::Environment {
 public:
  static CephTestServer* server() { return server_.get(); }
  static const std::string& missing() { return missing_; }
  static const std::string& failure() { return failure_; }

  void SetUp() override {
    missing_ = CephTestServer::MissingBinaries();
    if (!missing_.empty()) {
      GTEST_SKIP() << "Ceph is not installed (missing: " << missing_
                   << "); install ceph-mon ceph-osd radosgw ceph-common";
    }
    auto started = std::chrono::steady_clock::now();
    // A private CA and a certificate for 127.0.0.1, so that the gateway
    // serves https too.
    tls_dir_ =
        (std::filesystem::temp_directory_path() / ("shardlake-s3-tls-" + NewUuid())).string();
    absl::Status tls = GenerateTlsFiles(tls_dir_, TlsGenerationOptions{});
    if (!tls.ok()) {
      failure_ = "generating TLS files failed: " + tls.ToString();
      FAIL() << failure_;
    }
    CephTestServer::Options options;
    options.tls_certificate = tls_dir_ + "/" + std::string(kTlsServerCertFile);
    options.tls_private_key = tls_dir_ + "/" + std::string(kTlsServerKeyFile);
    auto server = std::make_unique<CephTestServer>(options);
    absl::Status status = server->Start();
    if (!status.ok()) {
      failure_ = status.ToString();
      FAIL() << failure_;
    }
    absl::StatusOr<std::unique_ptr<S3ObjectStore>> store =
        S3ObjectStore::OpenUri(server->UriFor(kBucket, ""), CephTestServer::credentials());
    absl::Status created = store.ok() ? (*store)->CreateBucket() : store.status();
    if (!created.ok()) {
      failure_ = "creating the test bucket failed: " + created.ToString();
      FAIL() << failure_;
    }
    std::cerr << "Ceph RGW ready at " << server->endpoint() << " in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count()
              << " ms\n";
    server_ = std::move(server);
  }

  void TearDown() override {
    server_.reset();
    std::error_code ignored;
    if (!tls_dir_.empty()) std::filesystem::remove_all(tls_dir_, ignored);
  }

  // The CA that signed the gateway's https certificate (PEM).
  static std::string ca_file() { return tls_dir_ + "/" + std::string(kTlsCaCertFile); }
  static const std::string& tls_dir() { return tls_dir_; }

 private:
  static inline std::string tls_dir_;
  static inline std::unique_ptr<CephTestServer> server_;
  static inline std::string missing_;
  static inline std::string failure_;
};

::testing::Environment* const kCephEnvironment =
    ::testing::AddGlobalTestEnvironment(new CephEnvironment);

// A store on kBucket under a fresh prefix, with `extra` URI options.
absl::StatusOr<std::unique_ptr<S3ObjectStore>> FreshStore(const std::string& extra = "",
                                                          const std::string& endpoint = "") {
  CephTestServer* server = CephEnvironment::server();
  if (server == nullptr) {
    return absl::FailedPreconditionError("Ceph RGW is not running: " + CephEnvironment::failure());
  }
  std::string uri = server->UriFor(kBucket, "t-" + NewUuid(), extra);
  if (!endpoint.empty()) {
    uri = fmt::format("s3://{}/t-{}?endpoint={}&region=us-east-1{}", kBucket, NewUuid(), endpoint,
                      extra);
  }
  return S3ObjectStore::OpenUri(uri, CephTestServer::credentials());
}

// The conformance suite gets a store whose objects are deleted afterwards;
// with `https`, one that talks to the gateway's https port.
absl::StatusOr<std::unique_ptr<ObjectStore>> ConformanceStore(std::string extra,
                                                              bool https = false) {
  std::string endpoint;
  if (https) {
    if (CephEnvironment::server() == nullptr) {
      return absl::FailedPreconditionError("Ceph RGW is not running: " +
                                           CephEnvironment::failure());
    }
    endpoint = CephEnvironment::server()->https_endpoint();
    extra += "&ca-file=" + CephEnvironment::ca_file();
  }
  absl::StatusOr<std::unique_ptr<S3ObjectStore>> store = FreshStore(extra, endpoint);
  if (!store.ok()) return store.status();
  S3ObjectStore* raw = store->get();
  // Clean up through a second handle: the wrapped store is gone by then.
  std::string uri = raw->Describe();
  if (https) uri += "&ca-file=" + CephEnvironment::ca_file();
  return std::unique_ptr<ObjectStore>(
      std::make_unique<ObjectStoreWithCleanup>(std::move(*store), [uri] {
        auto cleaner = S3ObjectStore::OpenUri(uri, CephTestServer::credentials());
        if (!cleaner.ok()) return;
        auto listed = (*cleaner)->List("");
        if (!listed.ok()) return;
        (*cleaner)->Delete(object_store_conformance::KeysOf(*listed)).IgnoreError();
      }));
}

INSTANTIATE_TEST_SUITE_P(
    CephRgw, ObjectStoreConformanceTest,
    ::testing::Values(
        ObjectStoreBackend{"s3", [] { return ConformanceStore(""); }},
        // Small parts: the 8 MiB object goes up in two parts and
        // comes down in three ranges.
        ObjectStoreBackend{
            "s3_multipart",
            [] { return ConformanceStore("&multipart-threshold=5M&part-size=5M&ranged-get=3M"); }},
        // Over TLS, the gateway's certificate checked against the test CA.
        ObjectStoreBackend{"s3_https", [] { return ConformanceStore("", /*https=*/true); }}),
    ObjectStoreBackendName());

class S3ObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CephEnvironment::missing().empty()) {
      GTEST_SKIP() << "Ceph is not installed (missing: " << CephEnvironment::missing() << ")";
    }
    ASSERT_NE(CephEnvironment::server(), nullptr)
        << "Ceph RGW did not start: " << CephEnvironment::failure();
  }

  std::unique_ptr<S3ObjectStore> Open(const std::string& extra = "",
                                      const std::string& endpoint = "") {
    absl::StatusOr<std::unique_ptr<S3ObjectStore>> store = FreshStore(extra, endpoint);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // A proxy in front of the gateway, and a store that goes through it with
  // quick retries.
  std::unique_ptr<S3ObjectStore> OpenThroughProxy(const std::string& extra = "") {
    absl::StatusOr<std::unique_ptr<FaultProxy>> proxy =
        FaultProxy::Start(CephEnvironment::server()->rgw_port());
    EXPECT_TRUE(proxy.ok()) << proxy.status();
    if (!proxy.ok()) return nullptr;
    proxy_ = std::move(*proxy);
    return Open("&max-attempts=3" + extra, proxy_->endpoint());
  }

  // Through the proxy, flips one byte in flight of a single PUT of
  // "<name>-single" and of part 2 (of 3) of a multipart upload of
  // "<name>-multi" (the store's parts must be 5 MiB). Each must fail with
  // DataLoss, the single PUT's naming the server's `refusal`, without a retry;
  // nothing may be stored and no multipart upload left. Returns the multipart
  // object's data.
  std::string ExpectAlteredUploadsRefused(S3ObjectStore* store, const std::string& name,
                                          const std::string& refusal, uint32_t seed) {
    const std::string single = name + "-single";
    const std::string small = object_store_conformance::PseudoRandomBytes(1 << 20, seed);
    proxy_->Arm({FaultProxy::Kind::kCorruptRequest, "/" + single, 300000, 1});
    absl::Status put = store->Put(single, small);
    EXPECT_TRUE(absl::IsDataLoss(put)) << put;
    EXPECT_THAT(std::string(put.message()), HasSubstr(refusal));
    EXPECT_EQ(proxy_->injected(), 1);
    EXPECT_EQ(store->retries(), 0);
    EXPECT_FALSE(store->Exists(single).value_or(true));

    const std::string multi = name + "-multi";
    const std::string big = object_store_conformance::PseudoRandomBytes(11 << 20, seed + 1);
    proxy_->Arm({FaultProxy::Kind::kCorruptRequest, "partNumber=2&", 1 << 20, 1});
    absl::Status multipart = store->Put(multi, big);
    EXPECT_TRUE(absl::IsDataLoss(multipart)) << multipart;
    EXPECT_THAT(std::string(multipart.message()), HasSubstr("part 2 of 3"));
    EXPECT_FALSE(store->Exists(multi).value_or(true));
    EXPECT_TRUE(store->ListMultipartUploads().value_or(std::vector<std::string>{"?"}).empty());
    return big;
  }

  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(S3ObjectStoreTest, UriOptionsAndCredentialsAreParsed) {
  absl::StatusOr<S3Options> options = ParseS3Uri(
      "s3://bkt/a/b/?endpoint=http://127.0.0.1:9000&region=eu-west-1&addressing=virtual"
      "&multipart-threshold=8M&part-size=6M&parallelism=3&ranged-get=2M&max-keys=7&max-attempts=2"
      "&content-md5=false",
      s3::Credentials{"AK", "SK", "TOKEN"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->bucket, "bkt");
  EXPECT_EQ(options->prefix, "a/b");
  EXPECT_EQ(options->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(options->region, "eu-west-1");
  EXPECT_EQ(options->addressing, S3Options::Addressing::kVirtual);
  EXPECT_EQ(options->multipart_threshold, 8 << 20);
  EXPECT_EQ(options->part_size, 6 << 20);
  EXPECT_EQ(options->parallelism, 3);
  EXPECT_EQ(options->ranged_get, 2 << 20);
  EXPECT_EQ(options->max_keys, 7);
  EXPECT_EQ(options->max_attempts, 2);
  EXPECT_FALSE(options->content_md5);
  EXPECT_EQ(options->credentials.session_token, "TOKEN");

  // Without an endpoint: AWS, virtual-host addressing.
  absl::StatusOr<S3Options> aws = ParseS3Uri("s3://bkt", s3::Credentials{"AK", "SK", ""});
  ASSERT_TRUE(aws.ok()) << aws.status();
  EXPECT_EQ(aws->addressing, S3Options::Addressing::kVirtual);
  absl::StatusOr<std::unique_ptr<S3ObjectStore>> opened = S3ObjectStore::Open(*aws);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_THAT((*opened)->Describe(), HasSubstr("endpoint=https://s3."));
  EXPECT_THAT((*opened)->Describe(), Not(HasSubstr("SK")));

  EXPECT_TRUE(absl::IsInvalidArgument(
      ParseS3Uri("s3://bkt/p?colour=red", s3::Credentials{"AK", "SK", ""}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ParseS3Uri("s3://bkt/p?part-size=lots", s3::Credentials{"AK", "SK", ""}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ParseS3Uri("s3://bkt/p?addressing=sideways", s3::Credentials{"AK", "SK", ""}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ParseS3Uri("s3:///nobucket", s3::Credentials{"AK", "SK", ""}).status()));

  // Credentials from the environment.
  ::setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
  absl::StatusOr<S3Options> from_env = ParseS3Uri("s3://bkt/p");
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->credentials.access_key_id, "ENVKEY");
  EXPECT_EQ(from_env->credentials.secret_access_key, "ENVSECRET");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  absl::Status no_secret = ParseS3Uri("s3://bkt/p").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(no_secret)) << no_secret;
  EXPECT_THAT(std::string(no_secret.message()), HasSubstr("AWS_SECRET_ACCESS_KEY"));
  ::unsetenv("AWS_ACCESS_KEY_ID");
}

TEST_F(S3ObjectStoreTest, OpensThroughTheSchemeRegistry) {
  ::setenv("AWS_ACCESS_KEY_ID", CephTestServer::kAccessKey, 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", CephTestServer::kSecretKey, 1);
  absl::StatusOr<std::unique_ptr<ObjectStore>> store =
      OpenObjectStore(CephEnvironment::server()->UriFor(kBucket, "t-" + NewUuid()));
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Put("k", "v").ok());
  EXPECT_EQ((*store)->Get("k").value_or("?"), "v");
  EXPECT_FALSE((*store)->LocalPath("k").has_value());
  EXPECT_THAT((*store)->Describe(), Not(HasSubstr(CephTestServer::kSecretKey)));
  ASSERT_TRUE((*store)->Delete({"k"}).ok());
}

TEST_F(S3ObjectStoreTest, MultipartUploadInParallelRoundTrips) {
  std::unique_ptr<S3ObjectStore> store =
      Open("&multipart-threshold=5M&part-size=5M&parallelism=3&ranged-get=4M");
  ASSERT_NE(store, nullptr);
  // 11 parts, the last one short: the parts are hashed eight at a time side
  // by side, so this covers a full group of eight and a partial group.
  const size_t size = 53 * (1 << 20) + 7;
  const std::string data = object_store_conformance::PseudoRandomBytes(size, 41);
  ASSERT_TRUE(store->Put("big/memory", data).ok());
  absl::StatusOr<ObjectInfo> info = store->Stat("big/memory");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->size_bytes, static_cast<int64_t>(size));
  EXPECT_THAT(info->etag, ::testing::EndsWith("-11")) << "not an 11-part multipart object";
  absl::StatusOr<std::string> read = store->Get("big/memory");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(*read == data) << "multipart object differs after the round trip";

  // From a file, too (streamed part by part).
  const std::string path = ::testing::TempDir() + "/s3-multipart-" + NewUuid();
  {
    std::ofstream out(path, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  ASSERT_TRUE(store->PutFile("big/file", path, /*consume=*/true).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  absl::StatusOr<std::string> from_file = store->Get("big/file");
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_TRUE(*from_file == data);
  EXPECT_TRUE(store->ListMultipartUploads().value_or(std::vector<std::string>{"?"}).empty());
  ASSERT_TRUE(store->Delete({"big/memory", "big/file"}).ok());
}

TEST_F(S3ObjectStoreTest, ListPaginatesWithContinuationTokens) {
  std::unique_ptr<S3ObjectStore> store = Open("&max-keys=3");
  ASSERT_NE(store, nullptr);
  std::vector<std::string> keys;
  for (int i = 0; i < 11; ++i) keys.push_back(fmt::format("page/k{:02}", 10 - i));
  for (const std::string& key : keys) ASSERT_TRUE(store->Put(key, key).ok());
  absl::StatusOr<std::vector<ObjectInfo>> listed = store->List("page/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> expected = keys;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(object_store_conformance::KeysOf(*listed), expected);
  for (const ObjectInfo& info : *listed) {
    EXPECT_EQ(info.size_bytes, static_cast<int64_t>(info.key.size()));
    EXPECT_EQ(info.etag, store->Stat(info.key).value_or(ObjectInfo{}).etag);
  }
  ASSERT_TRUE(store->Delete(keys).ok());
  EXPECT_TRUE(store->List("").value_or(std::vector<ObjectInfo>(1)).empty());
}

TEST_F(S3ObjectStoreTest, DeletesMoreKeysThanOneBatchHolds) {
  std::unique_ptr<S3ObjectStore> store = Open("&parallelism=8");
  ASSERT_NE(store, nullptr);
  // 1001 keys (two batch requests), most of which do not exist.
  std::vector<std::string> keys;
  for (int i = 0; i < 1001; ++i) keys.push_back(fmt::format("del/{:04}", i));
  ASSERT_TRUE(store->Put("del/0000", "x").ok());
  ASSERT_TRUE(store->Put("del/1000", "y").ok());
  ASSERT_TRUE(store->Delete(keys).ok());
  EXPECT_TRUE(store->List("").value_or(std::vector<ObjectInfo>(1)).empty());
}

TEST_F(S3ObjectStoreTest, VirtualHostAddressingWorks) {
  // RGW is configured with `rgw dns name = localhost`; curl resolves
  // <bucket>.localhost to the loopback address itself.
  std::unique_ptr<S3ObjectStore> store =
      Open("&addressing=virtual",
           fmt::format("http://localhost:{}", CephEnvironment::server()->rgw_port()));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put("v/x", "virtual").ok());
  EXPECT_EQ(store->Get("v/x").value_or("?"), "virtual");
  EXPECT_EQ(object_store_conformance::KeysOf(store->List("").value_or(std::vector<ObjectInfo>{})),
            std::vector<std::string>{"v/x"});
  ASSERT_TRUE(store->Delete({"v/x"}).ok());
}

TEST_F(S3ObjectStoreTest, HttpsChecksTheServerCertificateAgainstTheGivenCa) {
  const std::string https = CephEnvironment::server()->https_endpoint();
  ASSERT_FALSE(https.empty());
  unsetenv("SHARDLAKE_S3_CA_FILE");
  unsetenv("AWS_CA_BUNDLE");
  // The test CA is not in the system store: refused at once, with a hint.
  std::unique_ptr<S3ObjectStore> untrusted = Open("", https);
  ASSERT_NE(untrusted, nullptr);
  absl::Status refused = untrusted->Put("tls/x", "x");
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("ca-file"));
  EXPECT_EQ(untrusted->retries(), 0) << "an untrusted certificate is not retried";

  // ?ca-file=: a multipart upload and a ranged download over TLS.
  std::unique_ptr<S3ObjectStore> store = Open(
      "&multipart-threshold=5M&part-size=5M&ranged-get=4M&ca-file=" + CephEnvironment::ca_file(),
      https);
  ASSERT_NE(store, nullptr);
  const std::string data = object_store_conformance::PseudoRandomBytes(11 << 20, 21);
  absl::Status put = store->Put("tls/big", data);
  ASSERT_TRUE(put.ok()) << put;
  EXPECT_TRUE(store->Get("tls/big").value_or("") == data);
  EXPECT_EQ(store->Stat("tls/big").value_or(ObjectInfo{}).size_bytes, 11 << 20);
  ASSERT_TRUE(store->Delete({"tls/big"}).ok());

  // The same CA from SHARDLAKE_S3_CA_FILE (and AWS_CA_BUNDLE).
  for (const char* variable : {"SHARDLAKE_S3_CA_FILE", "AWS_CA_BUNDLE"}) {
    setenv(variable, CephEnvironment::ca_file().c_str(), 1);
    std::unique_ptr<S3ObjectStore> from_env = Open("", https);
    ASSERT_NE(from_env, nullptr);
    absl::Status env_put = from_env->Put("tls/env", variable);
    EXPECT_TRUE(env_put.ok()) << variable << ": " << env_put;
    EXPECT_EQ(from_env->Get("tls/env").value_or(""), variable);
    unsetenv(variable);
  }

  // Another CA: the server's certificate does not chain to it.
  const std::string other_dir = CephEnvironment::tls_dir() + "-other";
  ASSERT_TRUE(GenerateTlsFiles(other_dir, TlsGenerationOptions{}).ok());
  std::unique_ptr<S3ObjectStore> wrong_ca =
      Open("&ca-file=" + other_dir + "/" + std::string(kTlsCaCertFile), https);
  ASSERT_NE(wrong_ca, nullptr);
  absl::Status wrong = wrong_ca->Get("tls/env").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(wrong)) << wrong;
  std::filesystem::remove_all(other_dir);

  // A CA file that does not exist: the store does not open, naming the file.
  absl::StatusOr<std::unique_ptr<S3ObjectStore>> missing = S3ObjectStore::OpenUri(
      CephEnvironment::server()->UriFor(kBucket, "p", "&ca-file=/nonexistent/ca.pem"),
      CephTestServer::credentials());
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/ca.pem"));
}

TEST_F(S3ObjectStoreTest, WrongSecretIsPermissionDeniedWithoutTheSecret) {
  const std::string wrong_secret = "this-secret-is-wrong-" + NewUuid();
  absl::StatusOr<std::unique_ptr<S3ObjectStore>> store =
      S3ObjectStore::OpenUri(CephEnvironment::server()->UriFor(kBucket, "t-" + NewUuid()),
                             s3::Credentials{CephTestServer::kAccessKey, wrong_secret, ""});
  ASSERT_TRUE(store.ok()) << store.status();
  absl::Status put = (*store)->Put("k", "v");
  EXPECT_TRUE(absl::IsPermissionDenied(put)) << put;
  EXPECT_THAT(std::string(put.message()), HasSubstr("SignatureDoesNotMatch"));
  EXPECT_THAT(std::string(put.message()), HasSubstr("AWS_SECRET_ACCESS_KEY"));
  EXPECT_THAT(std::string(put.message()), Not(HasSubstr(wrong_secret)));
  absl::Status get = (*store)->Get("k").status();
  EXPECT_TRUE(absl::IsPermissionDenied(get)) << get;
  absl::Status list = (*store)->List("").status();
  EXPECT_TRUE(absl::IsPermissionDenied(list)) << list;
  EXPECT_THAT(std::string(list.message()), Not(HasSubstr(wrong_secret)));
  // A 403 is final: never retried.
  EXPECT_EQ((*store)->retries(), 0);

  absl::StatusOr<std::unique_ptr<S3ObjectStore>> unknown_key = S3ObjectStore::OpenUri(
      CephEnvironment::server()->UriFor(kBucket, "p"), s3::Credentials{"NOSUCHKEY", "x", ""});
  ASSERT_TRUE(unknown_key.ok());
  absl::Status denied = (*unknown_key)->Put("k", "v");
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_THAT(std::string(denied.message()), HasSubstr("InvalidAccessKeyId"));
}

TEST_F(S3ObjectStoreTest, MissingBucketIsNotFoundNamingTheBucket) {
  absl::StatusOr<std::unique_ptr<S3ObjectStore>> store = S3ObjectStore::OpenUri(
      CephEnvironment::server()->UriFor("no-such-bucket-here", "p"), CephTestServer::credentials());
  ASSERT_TRUE(store.ok()) << store.status();
  // Stat and Exists send HEAD, whose 404 has no body: they must still name
  // the bucket rather than report a missing object (or Exists = false).
  for (absl::Status status :
       {(*store)->Put("k", "v"), (*store)->Get("k").status(), (*store)->List("").status(),
        (*store)->Delete({"k"}), (*store)->Stat("k").status(), (*store)->Exists("k").status(),
        (*store)->Size("k").status(), (*store)->GetRange("k", 0, 0).status()}) {
    EXPECT_TRUE(absl::IsNotFound(status)) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("bucket 'no-such-bucket-here'"));
    EXPECT_THAT(std::string(status.message()), HasSubstr("does not exist"));
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("no such object")));
  }
  EXPECT_EQ((*store)->retries(), 0);
  // In an existing bucket a missing object is still just missing.
  std::unique_ptr<S3ObjectStore> existing = Open();
  ASSERT_NE(existing, nullptr);
  EXPECT_EQ(existing->Exists("absent").value_or(true), false);
  absl::Status absent = existing->Stat("absent").status();
  EXPECT_TRUE(absl::IsNotFound(absent)) << absent;
  EXPECT_THAT(std::string(absent.message()), HasSubstr("no such object"));
}

TEST_F(S3ObjectStoreTest, MissingKeyIsNotFoundAndNotRetried) {
  std::unique_ptr<S3ObjectStore> store = Open();
  ASSERT_NE(store, nullptr);
  absl::Status get = store->Get("absent/key").status();
  EXPECT_TRUE(absl::IsNotFound(get)) << get;
  EXPECT_THAT(std::string(get.message()), HasSubstr("absent/key"));
  EXPECT_TRUE(absl::IsNotFound(store->Stat("absent/key").status()));
  EXPECT_EQ(store->retries(), 0);
}

TEST_F(S3ObjectStoreTest, ServiceUnavailableIsRetriedThenSucceeds) {
  std::unique_ptr<S3ObjectStore> store = OpenThroughProxy();
  ASSERT_NE(store, nullptr);
  proxy_->Arm({FaultProxy::Kind::kReply, "/retry-put", 0, 1});
  ASSERT_TRUE(store->Put("retry-put", "after one 503").ok());
  EXPECT_EQ(proxy_->injected(), 1);
  EXPECT_EQ(store->retries(), 1);
  proxy_->Arm({FaultProxy::Kind::kReply, "/retry-put", 0, 2});
  EXPECT_EQ(store->Get("retry-put").value_or("?"), "after one 503");
  EXPECT_EQ(store->retries(), 3);
  // More 503s than attempts: Unavailable, naming the attempts.
  proxy_->Arm({FaultProxy::Kind::kReply, "/retry-put", 0, 10});
  absl::Status exhausted = store->Get("retry-put").status();
  EXPECT_TRUE(absl::IsUnavailable(exhausted)) << exhausted;
  EXPECT_THAT(std::string(exhausted.message()), HasSubstr("3 attempt"));
  EXPECT_THAT(std::string(exhausted.message()), HasSubstr("SlowDown"));
  proxy_->Disarm();
  ASSERT_TRUE(store->Delete({"retry-put"}).ok());
}

TEST_F(S3ObjectStoreTest, RangedDownloadStartsOverWhenTheObjectChanges) {
  // Ranges of 1 MiB, one at a time; the proxy answers the first ranged request
  // pinned with If-Match as S3 does when the object was replaced meanwhile.
  std::unique_ptr<S3ObjectStore> store = OpenThroughProxy("&ranged-get=1M&parallelism=1");
  ASSERT_NE(store, nullptr);
  const std::string data = object_store_conformance::PseudoRandomBytes((3 << 20) + 5, 10);
  ASSERT_TRUE(store->Put("ranged", data).ok());
  proxy_->Arm({FaultProxy::Kind::kReply, "if-match:", 0, 1, 412});
  absl::StatusOr<std::string> read = store->Get("ranged");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(*read == data);
  EXPECT_EQ(proxy_->injected(), 1);
  EXPECT_EQ(store->retries(), 0) << "a 412 is not retried; the download starts over";
  // Changing under every attempt: Aborted, never mixed bytes.
  proxy_->Arm({FaultProxy::Kind::kReply, "if-match:", 0, 100, 412});
  absl::Status changing = store->Get("ranged").status();
  EXPECT_TRUE(absl::IsAborted(changing)) << changing;
  EXPECT_THAT(std::string(changing.message()), HasSubstr("replaced during the download"));
  proxy_->Disarm();
  ASSERT_TRUE(store->Delete({"ranged"}).ok());
}

TEST_F(S3ObjectStoreTest, BytesAlteredInFlightAreRefusedAndNothingIsStored) {
  std::unique_ptr<S3ObjectStore> store =
      OpenThroughProxy("&multipart-threshold=5M&part-size=5M&parallelism=2");
  ASSERT_NE(store, nullptr);
  // The single PUT: the server's MD5 differs from Content-MD5. The part: its
  // ETag differs from the MD5 hashed alongside, and the upload is aborted.
  ExpectAlteredUploadsRefused(store.get(), "corrupt", "BadDigest", 11);
}

// With sign-payload (and no MD5 at all) the gateway checks the signed
// SHA-256 of the body: RGW answers XAmzContentSHA256Mismatch and stores
// nothing, in a single PUT and in a part.
TEST_F(S3ObjectStoreTest, SignedPayloadRefusesBytesAlteredInFlight) {
  std::unique_ptr<S3ObjectStore> store = OpenThroughProxy(
      "&sign-payload=true&content-md5=false&multipart-threshold=5M&part-size=5M&parallelism=2");
  ASSERT_NE(store, nullptr);
  const std::string big =
      ExpectAlteredUploadsRefused(store.get(), "signed", "XAmzContentSHA256Mismatch", 13);
  // Unaltered, the same uploads go through.
  proxy_->Disarm();
  ASSERT_TRUE(store->Put("signed-multi", big).ok());
  EXPECT_TRUE(store->Get("signed-multi").value_or("") == big);
  ASSERT_TRUE(store->Delete({"signed-multi"}).ok());
}

TEST_F(S3ObjectStoreTest, ConnectionDroppedDuringUploadFailsCleanlyOrRetries) {
  std::unique_ptr<S3ObjectStore> store = OpenThroughProxy();
  ASSERT_NE(store, nullptr);
  const std::string data = object_store_conformance::PseudoRandomBytes(2 << 20, 7);
  // Every attempt cut after 1 MiB: an error, and no object.
  proxy_->Arm({FaultProxy::Kind::kCutRequest, "/cut-upload", 1 << 20, 100});
  absl::Status put = store->Put("cut-upload", data);
  EXPECT_TRUE(absl::IsUnavailable(put)) << put;
  EXPECT_THAT(std::string(put.message()), HasSubstr("cut-upload"));
  EXPECT_EQ(store->retries(), 2);
  proxy_->Disarm();
  EXPECT_FALSE(store->Exists("cut-upload").value_or(true));
  // Cut once: a second try stores the whole object. (It may be curl's own:
  // a reused keep-alive connection that dies before any reply is retried on a
  // fresh one, rewinding the body, before the store sees an error.)
  proxy_->Arm({FaultProxy::Kind::kCutRequest, "/cut-upload", 1 << 20, 1});
  ASSERT_TRUE(store->Put("cut-upload", data).ok());
  EXPECT_EQ(proxy_->injected(), 4);
  EXPECT_TRUE(store->Get("cut-upload").value_or("") == data);
  ASSERT_TRUE(store->Delete({"cut-upload"}).ok());
}

TEST_F(S3ObjectStoreTest, TruncatedDownloadIsAnErrorNeverShortData) {
  std::unique_ptr<S3ObjectStore> store = OpenThroughProxy();
  ASSERT_NE(store, nullptr);
  const std::string data = object_store_conformance::PseudoRandomBytes(3 << 20, 8);
  ASSERT_TRUE(store->Put("cut-download", data).ok());
  // Every reply cut after 100 KiB (headers included).
  proxy_->Arm({FaultProxy::Kind::kCutResponse, "GET /", 100 << 10, 100});
  absl::StatusOr<std::string> cut = store->Get("cut-download");
  EXPECT_FALSE(cut.ok()) << "got " << cut.value_or("").size() << " bytes of " << data.size();
  EXPECT_TRUE(absl::IsUnavailable(cut.status())) << cut.status();
  absl::StatusOr<std::string> cut_range = store->GetRange("cut-download", 1000, 2 << 20);
  EXPECT_FALSE(cut_range.ok());
  proxy_->Disarm();
  // Cut once: the retry returns all of it.
  proxy_->Arm({FaultProxy::Kind::kCutResponse, "GET /", 100 << 10, 1});
  int64_t retries_before = store->retries();
  absl::StatusOr<std::string> whole = store->Get("cut-download");
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(*whole == data);
  EXPECT_EQ(store->retries(), retries_before + 1);
  proxy_->Disarm();
  ASSERT_TRUE(store->Delete({"cut-download"}).ok());
}

TEST_F(S3ObjectStoreTest, FailedMultipartUploadLeavesNoParts) {
  std::unique_ptr<S3ObjectStore> store =
      OpenThroughProxy("&multipart-threshold=5M&part-size=5M&parallelism=2");
  ASSERT_NE(store, nullptr);
  const std::string data = object_store_conformance::PseudoRandomBytes(12 << 20, 9);
  // Part 2 always loses its connection half-way.
  proxy_->Arm({FaultProxy::Kind::kCutRequest, "partNumber=2&", 2 << 20, 100});
  absl::Status put = store->Put("multi/failing", data);
  EXPECT_TRUE(absl::IsUnavailable(put)) << put;
  EXPECT_THAT(std::string(put.message()), HasSubstr("part 2 of 3"));
  proxy_->Disarm();
  absl::StatusOr<std::vector<std::string>> uploads = store->ListMultipartUploads();
  ASSERT_TRUE(uploads.ok()) << uploads.status();
  EXPECT_TRUE(uploads->empty()) << "left behind: " << uploads->front();
  EXPECT_FALSE(store->Exists("multi/failing").value_or(true));
  // The same upload succeeds once the network behaves.
  ASSERT_TRUE(store->Put("multi/failing", data).ok());
  EXPECT_TRUE(store->Get("multi/failing").value_or("") == data);
  ASSERT_TRUE(store->Delete({"multi/failing"}).ok());
}

TEST_F(S3ObjectStoreTest, UnreachableServerIsUnavailableAfterRetries) {
  // A port nobody listens on: connection refused on every attempt.
  absl::StatusOr<std::unique_ptr<FaultProxy>> closed = FaultProxy::Start(1);
  ASSERT_TRUE(closed.ok());
  std::string endpoint = (*closed)->endpoint();
  closed->reset();
  std::unique_ptr<S3ObjectStore> store = Open("&max-attempts=2", endpoint);
  ASSERT_NE(store, nullptr);
  absl::Status status = store->Put("k", "v");
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("2 attempt"));
  EXPECT_EQ(store->retries(), 1);
}

}  // namespace
}  // namespace shardlake
