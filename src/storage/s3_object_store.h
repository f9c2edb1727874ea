// S3ObjectStore: the `s3://bucket/prefix` backend, for any S3-compatible
// server (AWS S3, Ceph RADOS Gateway, MinIO). Object key "a/b" is stored as
// "<prefix>/a/b" in the bucket. Every request is signed with AWS Signature V4.
//
// URI: s3://bucket[/prefix][?option=value&...] with options
//   endpoint=http://127.0.0.1:9000   server URL (default: https://s3.<region>.amazonaws.com)
//   region=us-east-1                 signing region (default: S3Settings::region,
//                                    $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1)
//   ca-file=/path/ca.pem             CA certificates (PEM) that https endpoints are checked
//                                    against (default: S3Settings::ca_file,
//                                    $SHARDLAKE_S3_CA_FILE, $AWS_CA_BUNDLE, else the system's)
//   addressing=path|virtual          /bucket/key or bucket.host/key (default: path with an
//                                    endpoint, virtual for AWS)
//   multipart-threshold=BYTES        objects this large or larger go up in parts (16 MiB)
//   part-size=BYTES                  size of each part but the last (8 MiB; S3 needs >= 5 MiB)
//   parallelism=N                    parts (or ranges) transferred at once (4)
//   ranged-get=BYTES                 download objects in ranges of this size, `parallelism`
//                                    at once (0: one request per object, the default)
//   max-keys=N                       keys per ListObjectsV2 page (1000)
//   max-attempts=N                   tries per request, retries included (5)
//   content-md5=true|false           verify every upload by its MD5 (true; see Integrity)
//   part-content-md5=true|false      send Content-MD5 with each multipart part (false:
//                                    parts are hashed while they are sent)
//   sign-payload=true|false          sign the SHA-256 of uploaded object data (false:
//                                    UNSIGNED-PAYLOAD, as AWS SDKs do; bodies of other
//                                    requests are always signed)
// BYTES accept a K, M or G suffix (powers of 1024). What the URI does not say
// comes from S3Settings (the CLI's --s3-* flags), else the environment.
// Credentials come as a set, from S3Settings::credentials or else
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN; the secret and
// the token never appear in Describe() or in any message.
//
// Semantics (the ObjectStore contract):
// - Put is atomic: one PUT below the multipart threshold, else a multipart
//   upload that becomes visible only when completed. A failed multipart upload
//   is aborted, so no parts are left behind.
// - Integrity: with content-md5 (the default) a single-request upload carries
//   its Content-MD5, so the server rejects altered bytes (BadDigest) before
//   anything is stored. The parts of a multipart upload are hashed on a
//   thread of their own while they are sent (up to eight parts at a time side
//   by side, s3::Md5Lanes, so the hashing overlaps the transfers and costs
//   about a third of one MD5 after another), and each part's ETag, the MD5 of
//   what the server stored, must equal its part's MD5; with part-content-md5
//   each part carries Content-MD5 instead (a hashing pass before each part).
//   A part that does not match fails the upload, which is aborted, so nothing altered ever becomes
//   visible. The completed object's ETag is checked against the MD5 of the
//   part MD5s. With sign-payload the body's SHA-256 is signed too
//   (x-amz-content-sha256), which the server checks as well. A mismatch is
//   DataLoss.
//   Downloads must match their Content-Length / Content-Range, else the
//   attempt fails (and is retried): short data is never returned as success.
// - Retries: transport failures (connection refused, reset or closed early,
//   timeouts), HTTP 5xx, 429 and SlowDown are retried up to max-attempts
//   times with exponential backoff and jitter; 4xx replies never are.
// - Errors: NoSuchKey / 404 -> NotFound; NoSuchBucket -> NotFound naming the
//   bucket; AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, 403 ->
//   PermissionDenied with a hint about credentials; InvalidRange ->
//   OutOfRange; BadDigest / XAmzContentSHA256Mismatch -> DataLoss; other 4xx
//   -> InvalidArgument; 5xx and transport failures after the last attempt ->
//   Unavailable or DeadlineExceeded. Messages name the operation, the key and
//   the store.
//
// Thread-safety: all methods may be called concurrently from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/digest.h"
#include "storage/http_client.h"
#include "storage/object_store.h"
#include "storage/s3_sigv4.h"

namespace shardlake {

// Where the credentials came from, so that a refusal names what to fix.
enum class S3CredentialsOrigin { kEnvironment, kFlags };

// Settings from outside the URI (the CLI's global --s3-* flags). Each beats
// its environment variable; an option in the URI beats both.
struct S3Settings {
  // The whole set, or nullopt for AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
  // AWS_SESSION_TOKEN.
  std::optional<s3::Credentials> credentials;
  S3CredentialsOrigin credentials_origin = S3CredentialsOrigin::kFlags;
  std::string endpoint;  // when the URI has no endpoint=
  std::string region;    // when the URI has no region=; beats $AWS_REGION
  std::string ca_file;   // when the URI has no ca-file=; beats $SHARDLAKE_S3_CA_FILE
};

struct S3Options {
  enum class Addressing { kPath, kVirtual };

  std::string bucket;
  std::string prefix;    // no leading or trailing '/'; may be empty
  std::string endpoint;  // "http://host:port"; empty for AWS
  std::string region = "us-east-1";
  Addressing addressing = Addressing::kPath;
  s3::Credentials credentials;
  S3CredentialsOrigin credentials_origin = S3CredentialsOrigin::kEnvironment;

  int64_t multipart_threshold = 16 << 20;
  int64_t part_size = 8 << 20;
  int parallelism = 4;
  int64_t ranged_get = 0;
  int max_keys = 1000;
  int max_attempts = 5;
  bool content_md5 = true;
  bool part_content_md5 = false;
  bool sign_payload = false;
  std::chrono::milliseconds retry_base_delay{100};
  std::chrono::milliseconds retry_max_delay{5000};
  http::ClientOptions http;
};

// Parses an s3:// URI (see the header comment) into options. Credentials are
// `credentials` when given, else read from the environment.
// Errors: InvalidArgument for another scheme, a missing or malformed bucket,
// an unknown or malformed option; FailedPrecondition when no credentials are
// given and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not both set.
absl::StatusOr<S3Options> ParseS3Uri(std::string_view uri,
                                     const std::optional<s3::Credentials>& credentials = {});
// The same with settings from outside the URI (see S3Settings).
absl::StatusOr<S3Options> ParseS3Uri(std::string_view uri, const S3Settings& settings);

class S3ObjectStore final : public ObjectStore {
 public:
  // Opens the store. Does not contact the server: a missing bucket or wrong
  // credentials show up in the first operation. Errors: InvalidArgument for
  // options out of range (an empty bucket, part size < 1, ...).
  static absl::StatusOr<std::unique_ptr<S3ObjectStore>> Open(S3Options options);

  // ParseS3Uri + Open.
  static absl::StatusOr<std::unique_ptr<S3ObjectStore>> OpenUri(
      std::string_view uri, const std::optional<s3::Credentials>& credentials = {});
  static absl::StatusOr<std::unique_ptr<S3ObjectStore>> OpenUri(std::string_view uri,
                                                                const S3Settings& settings);

  ~S3ObjectStore() override;

  // "s3://bucket/prefix?endpoint=...&region=..." (never credentials).
  std::string Describe() const override;
  absl::Status Put(std::string_view key, std::string_view data) override;
  // Streams the file (never loads it whole); with `consume` the file is
  // removed after a successful upload.
  absl::Status PutFile(std::string_view key, const std::string& local_path, bool consume) override;
  // With ranged-get, objects larger than it come down in ranges of that size,
  // `parallelism` at a time, each pinned to the first reply's ETag
  // (If-Match); an object replaced meanwhile is fetched again from the start
  // (up to 3 times, then Aborted), so the bytes returned are always one
  // version's.
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::StatusOr<std::string> GetRange(std::string_view key, int64_t offset,
                                       int64_t length) override;
  // Streams a 206 reply's body into `fd` as it arrives (no copy in memory).
  // Any other reply (a range at or past the end, an error, a server that
  // ignores ranges) is read from memory as GetRange reads it, without a
  // second request.
  absl::StatusOr<int64_t> GetRangeToFd(std::string_view key, int64_t offset, int64_t length, int fd,
                                       int64_t file_offset) override;
  // Stat and Exists send a HEAD; its 404 carries no body, so the bucket is
  // checked too (a second HEAD) to tell a missing object (NotFound "no such
  // object"; Exists: false) from a missing bucket (NotFound naming the bucket,
  // from Exists as well).
  absl::StatusOr<ObjectInfo> Stat(std::string_view key) override;
  absl::StatusOr<bool> Exists(std::string_view key) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  // One multi-object DELETE (POST ?delete, with Content-MD5) per 1000 keys.
  absl::Status Delete(const std::vector<std::string>& keys) override;
  // Always nullopt: objects are remote.
  std::optional<std::string> LocalPath(std::string_view key) const override;

  // Creates the bucket; OK if it already exists and is ours.
  absl::Status CreateBucket();

  // Keys (relative to the prefix) of multipart uploads in progress under the
  // prefix: what an interrupted upload would leave behind.
  absl::StatusOr<std::vector<std::string>> ListMultipartUploads();

  const S3Options& options() const { return options_; }

  // Requests sent again after a retryable failure, since the store opened.
  int64_t retries() const { return retries_.load(); }

 private:
  struct Call;
  struct UploadSource;

  explicit S3ObjectStore(S3Options options);

  // Sends `call`, retrying as described above: the first reply that is not
  // retryable, whatever its status, or the last attempt's error.
  absl::StatusOr<http::Response> Send(const Call& call);
  // The status for a non-2xx reply to `what` (e.g. "get 'a/b'").
  absl::Status ReplyError(const http::Response& response, const std::string& what) const;

  std::string FullKey(std::string_view key) const;
  absl::Status Upload(std::string_view key, const UploadSource& source);
  // The digests of an upload body that the options ask for, before it is
  // sent: the SHA-256 with sign-payload, the MD5 when `want_md5`.
  absl::StatusOr<s3::FileDigests> BodyDigests(const http::Body& body, bool want_md5) const;
  absl::Status UploadSingle(const std::string& full_key, const std::string& what,
                            const UploadSource& source);
  absl::Status UploadMultipart(const std::string& full_key, const std::string& what,
                               const UploadSource& source);
  absl::Status AbortMultipart(const std::string& full_key, const std::string& upload_id);
  // The object's size and ETag; nullopt when the bucket exists but the object
  // does not.
  absl::StatusOr<std::optional<ObjectInfo>> Head(std::string_view key, const std::string& what);
  // OK when the bucket exists; NotFound naming it when it does not.
  absl::Status CheckBucketExists(const std::string& what);
  // A GET of bytes offset..offset + length - 1 of `key` (length > 0).
  Call RangeCall(std::string_view key, int64_t offset, int64_t length) const;
  // OK when a 206 reply's Content-Range is exactly `offset` onwards for the
  // `received` bytes, and no more than `length`; DataLoss otherwise.
  static absl::Status CheckPartialReply(const http::Response& response, int64_t offset,
                                        int64_t length, int64_t received, const std::string& what);
  // GetRange's result from the reply to RangeCall: the bytes of a 206 or of
  // a whole object (200), an empty slice or OutOfRange for 416 (after a
  // Stat), else the reply's error.
  absl::StatusOr<std::string> RangeFromReply(http::Response response, std::string_view key,
                                             int64_t offset, int64_t length,
                                             const std::string& what);
  // One try at a whole-object download; Aborted when the object was replaced
  // between its ranged requests.
  absl::StatusOr<std::string> GetOnce(std::string_view key, const std::string& what);

  S3Options options_;
  std::string scheme_;         // "http" or "https"
  std::string endpoint_host_;  // "host[:port]" of the endpoint
  http::Client client_;
  std::atomic<int64_t> retries_{0};
};

}  // namespace shardlake
