#include "storage/s3_object_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "common/errno_status.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "common/uri.h"
#include "fmt/format.h"
#include "storage/digest.h"
#include "storage/md5_lanes.h"
#include "storage/s3_xml.h"

namespace shardlake {
namespace {

constexpr int kMaxDeleteBatch = 1000;  // S3's limit per multi-object delete
constexpr int kMaxParts = 10000;       // S3's limit per multipart upload

std::string GetEnv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string StripQuotes(std::string text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

bool IsHexMd5(std::string_view text) {
  return text.size() == 32 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

absl::StatusOr<int64_t> ParseBytes(const std::string& name, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(text.c_str(), &end, 10);
  int64_t scale = 1;
  if (end != nullptr && *end != '\0') {
    std::string suffix = end;
    if (suffix == "K" || suffix == "k" || suffix == "KiB") {
      scale = 1 << 10;
    } else if (suffix == "M" || suffix == "m" || suffix == "MiB") {
      scale = 1 << 20;
    } else if (suffix == "G" || suffix == "g" || suffix == "GiB") {
      scale = 1 << 30;
    } else {
      scale = 0;
    }
  }
  if (text.empty() || end == text.c_str() || errno != 0 || scale == 0 || value < 0) {
    return absl::InvalidArgumentError(
        fmt::format("s3 option {}='{}' is not a byte count (e.g. 16777216 or 16M)", name, text));
  }
  return static_cast<int64_t>(value) * scale;
}

absl::StatusOr<int> ParseCount(const std::string& name, const std::string& text) {
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < 1 || value > 1000000) {
    return absl::InvalidArgumentError(
        fmt::format("s3 option {}='{}' must be a whole number >= 1", name, text));
  }
  return static_cast<int>(value);
}

// A list prefix is valid when some valid key can start with it.
absl::Status ValidatePrefix(std::string_view prefix) {
  if (prefix.empty()) return absl::OkStatus();
  if (!ValidateObjectKey(std::string(prefix) + "x").ok()) {
    return absl::InvalidArgumentError(
        fmt::format("list prefix '{}' can match no valid object key", prefix));
  }
  return absl::OkStatus();
}

// Sleeps before retry number `retry` (1-based): a uniformly random time between
// a quarter of and all of min(max, base * 2^(retry-1)), so that many clients that
// failed together do not retry together.
void Backoff(int retry, std::chrono::milliseconds base, std::chrono::milliseconds max) {
  thread_local std::mt19937_64 generator(std::random_device{}());
  int64_t ceiling = base.count() << std::min(retry - 1, 20);
  ceiling = std::min<int64_t>(ceiling, max.count());
  std::uniform_int_distribution<int64_t> pick(ceiling / 4, std::max<int64_t>(ceiling, 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(pick(generator)));
}

// The MD5s of a multipart upload's parts, computed on a thread of their own
// while the parts are sent, so the hashing overlaps the transfers instead of
// delaying them. Parts are hashed in part order, s3::Md5Lanes::kMaxStreams at a
// time side by side (several times the speed of one MD5 after another), from
// the upload's source: the memory, or the file read with pread. The digest is
// of the source's bytes; the part's ETag (the MD5 of what the server stored)
// must equal it. Destruction stops the thread (at the next piece) and joins it.
class PartHasher {
 public:
  explicit PartHasher(std::vector<http::Body> parts)
      : parts_(std::move(parts)), md5s_(parts_.size()), thread_([this] { Run(); }) {}
  ~PartHasher() {
    stop_ = true;
    thread_.join();
  }
  PartHasher(const PartHasher&) = delete;
  PartHasher& operator=(const PartHasher&) = delete;

  // The raw MD5 of part `index`, once hashed. Errors: the errno status of a
  // failed read; DataLoss when the file ends before the part does.
  absl::StatusOr<std::string> Md5Of(size_t index) {
    std::unique_lock<std::mutex> lock(mutex_);
    hashed_changed_.wait(lock, [&] { return hashed_ > index || !error_.ok(); });
    if (hashed_ > index) return md5s_[index];
    return error_;
  }

 private:
  // Bytes of each part read and hashed per step: eight lanes' worth (512 KiB)
  // stays in a core's L2 cache between the read and the hash.
  static constexpr int64_t kPieceBytes = 64 << 10;

  void Run() {
    std::vector<std::vector<char>> buffers(s3::Md5Lanes::kMaxStreams,
                                           std::vector<char>(static_cast<size_t>(kPieceBytes)));
    for (size_t first = 0; first < parts_.size(); first += s3::Md5Lanes::kMaxStreams) {
      const size_t count = std::min<size_t>(s3::Md5Lanes::kMaxStreams, parts_.size() - first);
      s3::Md5Lanes lanes(static_cast<int>(count));
      std::vector<std::string_view> pieces(count);
      for (int64_t at = 0;; at += kPieceBytes) {
        if (stop_) return;
        bool more = false;
        for (size_t lane = 0; lane < count; ++lane) {
          const http::Body& part = parts_[first + lane];
          const int64_t take = std::clamp<int64_t>(part.size() - at, 0, kPieceBytes);
          more = more || take > 0;
          if (take == 0) {
            pieces[lane] = std::string_view();
            continue;
          }
          if (part.fd < 0) {
            pieces[lane] = part.memory.substr(static_cast<size_t>(at), static_cast<size_t>(take));
            continue;
          }
          absl::Status read = ReadFully(part.fd, part.offset + at, take, buffers[lane].data());
          if (!read.ok()) {
            std::lock_guard<std::mutex> lock(mutex_);
            error_ = read;
            hashed_changed_.notify_all();
            return;
          }
          pieces[lane] = std::string_view(buffers[lane].data(), static_cast<size_t>(take));
        }
        if (!more) break;
        lanes.Update(pieces);
      }
      std::vector<std::string> digests = lanes.Finish();
      std::lock_guard<std::mutex> lock(mutex_);
      for (size_t lane = 0; lane < count; ++lane) md5s_[first + lane] = std::move(digests[lane]);
      hashed_ = first + count;
      hashed_changed_.notify_all();
    }
  }

  static absl::Status ReadFully(int fd, int64_t offset, int64_t length, char* out) {
    int64_t done = 0;
    while (done < length) {
      ssize_t got = ::pread(fd, out + done, static_cast<size_t>(length - done), offset + done);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return ErrnoStatus(errno, "reading the file being uploaded, to hash it");
      if (got == 0) {
        return absl::DataLossError(fmt::format(
            "the file being uploaded ended at byte {} (expected at least {}): was it changed "
            "during the upload?",
            offset + done, offset + length));
      }
      done += got;
    }
    return absl::OkStatus();
  }

  const std::vector<http::Body> parts_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable hashed_changed_;
  std::vector<std::string> md5s_;  // guarded by mutex_, like hashed_ and error_
  size_t hashed_ = 0;              // parts [0, hashed_) have their md5s_
  absl::Status error_;
  std::thread thread_;  // last: starts once the members it uses exist
};

absl::Status RangePastEnd(std::string_view key, int64_t offset, int64_t size) {
  return absl::OutOfRangeError(fmt::format(
      "get range of '{}': offset {} is past the end of the object ({} bytes)", key, offset, size));
}

bool IsRetryableReply(const http::Response& response) {
  if (response.status >= 500 || response.status == 429) return true;
  if (response.status >= 400) {
    std::optional<std::string> code = s3::XmlText(response.body, "Code");
    return code.has_value() && (*code == "SlowDown" || *code == "RequestTimeout" ||
                                *code == "RequestTimeTooSkewed" || *code == "InternalError");
  }
  return false;
}

// Runs `part(0)` .. `part(parts - 1)`, each once, on up to `parallelism`
// threads (the caller's included). After the first failure no new part
// starts; returns that failure (or OK).
absl::Status RunPartsInParallel(int parts, int parallelism,
                                const std::function<absl::Status(int index)>& part) {
  std::atomic<int> next_part{0};
  std::atomic<bool> failed{false};
  std::mutex failure_mutex;
  absl::Status failure;
  auto run = [&] {
    while (!failed.load()) {
      int index = next_part.fetch_add(1);
      if (index >= parts) return;
      absl::Status status = part(index);
      if (!status.ok()) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (failure.ok()) failure = status;
        failed = true;
        return;
      }
    }
  };
  std::vector<std::thread> workers;
  for (int i = 1; i < std::min(parallelism, parts); ++i) workers.emplace_back(run);
  run();
  for (std::thread& worker : workers) worker.join();
  return failure;
}

}  // namespace

// One S3 request, before signing.
struct S3ObjectStore::Call {
  std::string method;
  std::string full_key;  // empty for requests on the bucket
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  http::Body body;
  std::string payload_sha256;  // hex; computed from body.memory when empty
  std::string what;            // "put 'a/b'", for messages
  // Where a 206 reply's body goes instead of memory (http::Request's fields).
  int partial_body_fd = -1;
  int64_t partial_body_offset = 0;
};

// What an upload sends: bytes in memory, or a whole open file.
struct S3ObjectStore::UploadSource {
  std::string_view memory;
  int fd = -1;
  int64_t size = 0;

  http::Body Slice(int64_t offset, int64_t length) const {
    http::Body body;
    if (fd >= 0) {
      body.fd = fd;
      body.offset = offset;
      body.length = length;
    } else {
      body.memory = memory.substr(static_cast<size_t>(offset), static_cast<size_t>(length));
    }
    return body;
  }
};

absl::StatusOr<S3Options> ParseS3Uri(std::string_view text,
                                     const std::optional<s3::Credentials>& credentials) {
  S3Settings settings;
  settings.credentials = credentials;
  // Refusals keep naming the AWS_* variables, as the usual source.
  settings.credentials_origin = S3CredentialsOrigin::kEnvironment;
  return ParseS3Uri(text, settings);
}

absl::StatusOr<S3Options> ParseS3Uri(std::string_view text, const S3Settings& settings) {
  ASSIGN_OR_RETURN(Uri uri, ParseUri(text));
  if (uri.scheme != "s3") {
    return absl::InvalidArgumentError(fmt::format("'{}' is not an s3:// URI", uri.Redacted()));
  }
  S3Options options;
  options.bucket = uri.host;
  if (options.bucket.empty() || !uri.userinfo.empty() || uri.port != 0) {
    return absl::InvalidArgumentError(
        fmt::format("'{}': expected s3://bucket/prefix (credentials go in AWS_ACCESS_KEY_ID / "
                    "AWS_SECRET_ACCESS_KEY, the server in ?endpoint=)",
                    uri.Redacted()));
  }
  std::string prefix = uri.path;
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(0, 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!prefix.empty()) {
    absl::Status valid = ValidateObjectKey(prefix);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(fmt::format("'{}': the prefix is not usable: {}",
                                                    uri.Redacted(), std::string(valid.message())));
    }
  }
  options.prefix = prefix;

  // Lowest first: the environment, then the settings, then the URI.
  std::string region = settings.region;
  if (region.empty()) region = GetEnv("AWS_REGION");
  if (region.empty()) region = GetEnv("AWS_DEFAULT_REGION");
  if (!region.empty()) options.region = region;
  options.endpoint = settings.endpoint;
  options.http.ca_file = settings.ca_file;
  if (options.http.ca_file.empty()) options.http.ca_file = GetEnv("SHARDLAKE_S3_CA_FILE");
  if (options.http.ca_file.empty()) options.http.ca_file = GetEnv("AWS_CA_BUNDLE");
  std::optional<S3Options::Addressing> addressing;
  for (const auto& [name, value] : uri.query) {
    if (name == "endpoint") {
      options.endpoint = value;
    } else if (name == "region") {
      options.region = value;
    } else if (name == "ca-file") {
      options.http.ca_file = value;
    } else if (name == "addressing") {
      if (value == "path") {
        addressing = S3Options::Addressing::kPath;
      } else if (value == "virtual") {
        addressing = S3Options::Addressing::kVirtual;
      } else {
        return absl::InvalidArgumentError(
            fmt::format("s3 option addressing='{}' must be 'path' or 'virtual'", value));
      }
    } else if (name == "multipart-threshold") {
      ASSIGN_OR_RETURN(options.multipart_threshold, ParseBytes(name, value));
    } else if (name == "part-size") {
      ASSIGN_OR_RETURN(options.part_size, ParseBytes(name, value));
    } else if (name == "parallelism") {
      ASSIGN_OR_RETURN(options.parallelism, ParseCount(name, value));
    } else if (name == "ranged-get") {
      ASSIGN_OR_RETURN(options.ranged_get, ParseBytes(name, value));
    } else if (name == "max-keys") {
      ASSIGN_OR_RETURN(options.max_keys, ParseCount(name, value));
    } else if (name == "max-attempts") {
      ASSIGN_OR_RETURN(options.max_attempts, ParseCount(name, value));
    } else if (name == "content-md5" || name == "part-content-md5" || name == "sign-payload") {
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            fmt::format("s3 option {}='{}' must be true or false", name, value));
      }
      bool& flag = name == "content-md5"        ? options.content_md5
                   : name == "part-content-md5" ? options.part_content_md5
                                                : options.sign_payload;
      flag = value == "true";
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "unknown s3 option '{}' in '{}' (known: endpoint, region, ca-file, "
          "addressing, multipart-threshold, part-size, parallelism, ranged-get, max-keys, "
          "max-attempts, content-md5, part-content-md5, sign-payload)",
          name, uri.Redacted()));
    }
  }
  options.addressing = addressing.value_or(
      options.endpoint.empty() ? S3Options::Addressing::kVirtual : S3Options::Addressing::kPath);
  if (settings.credentials.has_value()) {
    options.credentials = *settings.credentials;
    options.credentials_origin = settings.credentials_origin;
  } else {
    options.credentials.access_key_id = GetEnv("AWS_ACCESS_KEY_ID");
    options.credentials.secret_access_key = GetEnv("AWS_SECRET_ACCESS_KEY");
    options.credentials.session_token = GetEnv("AWS_SESSION_TOKEN");
  }
  if (options.credentials.access_key_id.empty() || options.credentials.secret_access_key.empty()) {
    return absl::FailedPreconditionError(fmt::format(
        "no S3 credentials for '{}': set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass "
        "--s3-access-key-id and --s3-secret-access-key-file (and AWS_SESSION_TOKEN / "
        "--s3-session-token for temporary credentials)",
        uri.Redacted()));
  }
  return options;
}

S3ObjectStore::S3ObjectStore(S3Options options)
    : options_(std::move(options)), client_(options_.http) {}

S3ObjectStore::~S3ObjectStore() = default;

absl::StatusOr<std::unique_ptr<S3ObjectStore>> S3ObjectStore::Open(S3Options options) {
  if (options.bucket.empty()) return absl::InvalidArgumentError("s3: the bucket name is empty");
  if (options.part_size < 1 || options.multipart_threshold < 1 || options.parallelism < 1 ||
      options.max_keys < 1 || options.max_attempts < 1) {
    return absl::InvalidArgumentError(fmt::format(
        "s3://{}: part size, multipart threshold, parallelism, max-keys and max-attempts must "
        "all be at least 1",
        options.bucket));
  }
  if (options.endpoint.empty()) {
    options.endpoint = fmt::format("https://s3.{}.amazonaws.com", options.region);
  }
  std::string scheme;
  std::string host;
  size_t separator = options.endpoint.find("://");
  if (separator != std::string::npos) {
    scheme = options.endpoint.substr(0, separator);
    host = options.endpoint.substr(separator + 3);
  }
  while (!host.empty() && host.back() == '/') host.pop_back();
  if ((scheme != "http" && scheme != "https") || host.empty() ||
      host.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "s3 endpoint '{}' must look like http://host:port or https://host", options.endpoint));
  }
  if (!options.http.ca_file.empty() && ::access(options.http.ca_file.c_str(), R_OK) != 0) {
    return ErrnoStatus(errno, fmt::format("s3://{}: cannot read the CA file '{}'", options.bucket,
                                          options.http.ca_file));
  }
  std::unique_ptr<S3ObjectStore> store(new S3ObjectStore(std::move(options)));
  store->scheme_ = scheme;
  store->endpoint_host_ = host;
  return store;
}

absl::StatusOr<std::unique_ptr<S3ObjectStore>> S3ObjectStore::OpenUri(
    std::string_view uri, const std::optional<s3::Credentials>& credentials) {
  ASSIGN_OR_RETURN(S3Options options, ParseS3Uri(uri, credentials));
  return Open(std::move(options));
}

absl::StatusOr<std::unique_ptr<S3ObjectStore>> S3ObjectStore::OpenUri(std::string_view uri,
                                                                      const S3Settings& settings) {
  ASSIGN_OR_RETURN(S3Options options, ParseS3Uri(uri, settings));
  return Open(std::move(options));
}

std::string S3ObjectStore::Describe() const {
  std::string text = "s3://" + options_.bucket;
  if (!options_.prefix.empty()) text += "/" + options_.prefix;
  return fmt::format("{}?endpoint={}&region={}&addressing={}", text, options_.endpoint,
                     options_.region,
                     options_.addressing == S3Options::Addressing::kPath ? "path" : "virtual");
}

std::string S3ObjectStore::FullKey(std::string_view key) const {
  if (options_.prefix.empty()) return std::string(key);
  return options_.prefix + "/" + std::string(key);
}

absl::StatusOr<http::Response> S3ObjectStore::Send(const Call& call) {
  std::string host;
  std::string canonical_uri;
  if (options_.addressing == S3Options::Addressing::kPath) {
    host = endpoint_host_;
    canonical_uri =
        "/" + s3::UriEncode(options_.bucket, true) + "/" + s3::UriEncode(call.full_key, false);
  } else {
    host = options_.bucket + "." + endpoint_host_;
    canonical_uri = "/" + s3::UriEncode(call.full_key, false);
  }
  std::string url = scheme_ + "://" + host + canonical_uri;
  std::string query = s3::CanonicalQueryString(call.query);
  if (!query.empty()) url += "?" + query;
  std::string payload_sha256 = call.payload_sha256;
  if (payload_sha256.empty()) payload_sha256 = s3::Sha256Hex(call.body.memory);

  absl::Status last_error;
  int attempts = 0;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    attempts = attempt;
    if (attempt > 1) {
      retries_.fetch_add(1);
      Backoff(attempt - 1, options_.retry_base_delay, options_.retry_max_delay);
    }
    s3::SigningInput signing{call.method, canonical_uri, call.query, call.headers, payload_sha256};
    signing.headers.emplace_back("host", host);
    std::string authorization = s3::Sign(&signing, options_.credentials, options_.region,
                                         s3::AmzDate(std::chrono::system_clock::now()));
    http::Request request{call.method, url, std::move(signing.headers), call.body};
    request.partial_body_fd = call.partial_body_fd;
    request.partial_body_offset = call.partial_body_offset;
    request.headers.emplace_back("authorization", std::move(authorization));
    absl::StatusOr<http::Response> response = client_.Perform(request);
    if (!response.ok()) {
      bool retryable =
          absl::IsUnavailable(response.status()) || absl::IsDeadlineExceeded(response.status());
      last_error = response.status();
      if (!retryable) break;
      continue;
    }
    if (IsRetryableReply(*response)) {
      last_error = ReplyError(*response, call.what);
      continue;
    }
    return response;
  }
  std::string message = fmt::format("{} in {} failed after {} attempt(s): {}", call.what,
                                    Describe(), attempts, std::string(last_error.message()));
  if (absl::IsFailedPrecondition(last_error) && scheme_ == "https") {
    message += options_.http.ca_file.empty()
                   ? "; if the server's certificate comes from your own CA, pass the CA's PEM "
                     "file with ?ca-file=, --s3-ca-file or SHARDLAKE_S3_CA_FILE"
                   : fmt::format("; is the server's certificate issued by a CA in '{}'?",
                                 options_.http.ca_file);
  }
  return absl::Status(last_error.code(), message);
}

absl::Status S3ObjectStore::ReplyError(const http::Response& response,
                                       const std::string& what) const {
  std::string code = s3::XmlText(response.body, "Code").value_or("");
  std::string detail = s3::XmlText(response.body, "Message").value_or("");
  std::string server_says = code.empty() ? fmt::format("HTTP {}", response.status)
                                         : fmt::format("HTTP {} {}{}", response.status, code,
                                                       detail.empty() ? "" : ": " + detail);
  if (code == "NoSuchBucket") {
    return absl::NotFoundError(fmt::format(
        "{}: bucket '{}' does not exist at {} ({}); create it first or fix the bucket name", what,
        options_.bucket, options_.endpoint, server_says));
  }
  if (code == "NoSuchKey" || (code.empty() && response.status == 404)) {
    return absl::NotFoundError(
        fmt::format("{}: no such object in {} ({})", what, Describe(), server_says));
  }
  if (code == "AccessDenied" || code == "SignatureDoesNotMatch" || code == "InvalidAccessKeyId" ||
      code == "InvalidToken" || code == "ExpiredToken" || response.status == 403) {
    const bool from_flags = options_.credentials_origin == S3CredentialsOrigin::kFlags;
    return absl::PermissionDeniedError(fmt::format(
        "{}: {} refused the request ({}); check the credentials ({} is '{}'; {} must belong to "
        "it), the region '{}' and the bucket's permissions",
        what, Describe(), server_says, from_flags ? "--s3-access-key-id" : "AWS_ACCESS_KEY_ID",
        options_.credentials.access_key_id,
        from_flags ? "the secret (--s3-secret-access-key[-file]) and --s3-session-token"
                   : "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN",
        options_.region));
  }
  if (code == "InvalidRange" || response.status == 416) {
    return absl::OutOfRangeError(fmt::format("{}: {}", what, server_says));
  }
  if (code == "BadDigest" || code == "InvalidDigest" || code == "XAmzContentSHA256Mismatch") {
    return absl::DataLossError(
        fmt::format("{}: the server received other bytes than were sent ({}); nothing was stored",
                    what, server_says));
  }
  std::string message = fmt::format("{} in {}: {}", what, Describe(), server_says);
  if (response.status >= 500 || response.status == 429) return absl::UnavailableError(message);
  if (response.status == 412 || response.status == 409) {
    return absl::FailedPreconditionError(message);
  }
  return absl::InvalidArgumentError(message);
}

absl::Status S3ObjectStore::Put(std::string_view key, std::string_view data) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  UploadSource source;
  source.memory = data;
  source.size = static_cast<int64_t>(data.size());
  return Upload(key, source);
}

absl::Status S3ObjectStore::PutFile(std::string_view key, const std::string& local_path,
                                    bool consume) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  UniqueFd fd(::open(local_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return ErrnoStatus(errno, fmt::format("put '{}': cannot open '{}'", key, local_path));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    return ErrnoStatus(errno, fmt::format("put '{}': cannot stat '{}'", key, local_path));
  }
  UploadSource source;
  source.fd = fd.get();
  source.size = static_cast<int64_t>(info.st_size);
  RETURN_IF_ERROR(Upload(key, source));
  if (consume && ::unlink(local_path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno,
                       fmt::format("put '{}': stored, but cannot remove '{}'", key, local_path));
  }
  return absl::OkStatus();
}

absl::Status S3ObjectStore::Upload(std::string_view key, const UploadSource& source) {
  const std::string full_key = FullKey(key);
  const std::string what = fmt::format("put '{}'", key);
  if (source.size >= options_.multipart_threshold && source.size > options_.part_size) {
    return UploadMultipart(full_key, what, source);
  }
  return UploadSingle(full_key, what, source);
}

absl::StatusOr<s3::FileDigests> S3ObjectStore::BodyDigests(const http::Body& body,
                                                           bool want_md5) const {
  if (!options_.sign_payload && !want_md5) return s3::FileDigests{};
  if (body.fd >= 0) {
    return s3::DigestFileRange(body.fd, body.offset, body.length, options_.sign_payload, want_md5);
  }
  s3::FileDigests digests;
  if (options_.sign_payload) digests.sha256_hex = s3::Sha256Hex(body.memory);
  if (want_md5) digests.md5 = s3::Md5(body.memory);
  return digests;
}

absl::Status S3ObjectStore::UploadSingle(const std::string& full_key, const std::string& what,
                                         const UploadSource& source) {
  Call call{"PUT", full_key, {}, {}, source.Slice(0, source.size), "", what};
  ASSIGN_OR_RETURN(s3::FileDigests digests, BodyDigests(call.body, options_.content_md5));
  call.payload_sha256 =
      options_.sign_payload ? std::move(digests.sha256_hex) : std::string(s3::kUnsignedPayload);
  const std::string md5 = std::move(digests.md5);
  if (options_.content_md5) call.headers.emplace_back("content-md5", s3::Base64Encode(md5));
  call.headers.emplace_back("content-type", "application/octet-stream");
  ASSIGN_OR_RETURN(http::Response response, Send(call));
  if (response.status != 200) return ReplyError(response, what);
  std::string etag = StripQuotes(response.Header("etag").value_or(""));
  if (options_.content_md5 && IsHexMd5(etag) && etag != s3::HexEncode(md5)) {
    return absl::DataLossError(
        fmt::format("{}: the server stored other bytes (ETag {} but the data's MD5 is {})", what,
                    etag, s3::HexEncode(md5)));
  }
  return absl::OkStatus();
}

absl::Status S3ObjectStore::UploadMultipart(const std::string& full_key, const std::string& what,
                                            const UploadSource& source) {
  int64_t part_size = options_.part_size;
  // Grow the parts when the object would need more than S3 allows.
  if ((source.size + part_size - 1) / part_size > kMaxParts) {
    part_size = (source.size + kMaxParts - 1) / kMaxParts;
  }
  const int parts = static_cast<int>((source.size + part_size - 1) / part_size);

  Call create{"POST", full_key, {{"uploads", ""}}, {}, {}, "", what + " (start multipart)"};
  create.headers.emplace_back("content-type", "application/octet-stream");
  ASSIGN_OR_RETURN(http::Response created, Send(create));
  if (created.status != 200) return ReplyError(created, create.what);
  std::optional<std::string> upload_id = s3::XmlText(created.body, "UploadId");
  if (!upload_id.has_value() || upload_id->empty()) {
    return absl::InternalError(
        fmt::format("{}: the server's reply to CreateMultipartUpload has no UploadId", what));
  }

  std::vector<std::string> etags(static_cast<size_t>(parts));
  std::vector<std::string> md5s(static_cast<size_t>(parts));
  auto part_body = [&](int index) {
    int64_t offset = static_cast<int64_t>(index) * part_size;
    return source.Slice(offset, std::min(part_size, source.size - offset));
  };
  // Without Content-MD5 on each part, the parts are hashed while they are
  // sent and checked against their ETags.
  const bool md5_first = options_.content_md5 && options_.part_content_md5;
  const bool md5_alongside = options_.content_md5 && !options_.part_content_md5;
  std::optional<PartHasher> hasher;
  if (md5_alongside) {
    std::vector<http::Body> bodies;
    for (int i = 0; i < parts; ++i) bodies.push_back(part_body(i));
    hasher.emplace(std::move(bodies));
  }
  auto upload_part = [&](int index) -> absl::Status {
    std::string part_what = fmt::format("{} (part {} of {})", what, index + 1, parts);
    Call call{"PUT",
              full_key,
              {{"partNumber", std::to_string(index + 1)}, {"uploadId", *upload_id}},
              {},
              part_body(index),
              "",
              part_what};
    std::string& md5 = md5s[static_cast<size_t>(index)];
    ASSIGN_OR_RETURN(s3::FileDigests digests, BodyDigests(call.body, md5_first));
    call.payload_sha256 =
        options_.sign_payload ? std::move(digests.sha256_hex) : std::string(s3::kUnsignedPayload);
    if (md5_first) {
      md5 = std::move(digests.md5);
      call.headers.emplace_back("content-md5", s3::Base64Encode(md5));
    }
    ASSIGN_OR_RETURN(http::Response response, Send(call));
    if (response.status != 200) return ReplyError(response, part_what);
    std::string etag = StripQuotes(response.Header("etag").value_or(""));
    if (etag.empty())
      return absl::InternalError(fmt::format("{}: the reply has no ETag", part_what));
    etags[static_cast<size_t>(index)] = etag;
    if (md5_alongside) {
      absl::StatusOr<std::string> hashed = hasher->Md5Of(static_cast<size_t>(index));
      if (!hashed.ok()) {
        return absl::Status(
            hashed.status().code(),
            fmt::format("{}: {}", part_what, std::string(hashed.status().message())));
      }
      md5 = *std::move(hashed);
      // The ETag is the only check of a part sent without Content-MD5.
      if (!IsHexMd5(etag)) {
        return absl::FailedPreconditionError(fmt::format(
            "{}: cannot verify the part: its ETag '{}' is not an MD5; add "
            "part-content-md5=true to the store URI (or content-md5=false to skip the check)",
            part_what, etag));
      }
    }
    if (options_.content_md5 && IsHexMd5(etag) && etag != s3::HexEncode(md5)) {
      return absl::DataLossError(
          fmt::format("{}: the server stored other bytes (ETag {}, data MD5 {})", part_what, etag,
                      s3::HexEncode(md5)));
    }
    return absl::OkStatus();
  };
  absl::Status failure = RunPartsInParallel(parts, options_.parallelism, upload_part);
  hasher.reset();  // no hashing left to wait for, whatever happened

  if (failure.ok()) {
    std::string body = "<CompleteMultipartUpload>";
    for (int i = 0; i < parts; ++i) {
      body += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>\"{}\"</ETag></Part>", i + 1,
                          s3::XmlEscape(etags[static_cast<size_t>(i)]));
    }
    body += "</CompleteMultipartUpload>";
    Call complete{"POST", full_key, {{"uploadId", *upload_id}},    {},
                  {},     "",       what + " (complete multipart)"};
    complete.body.memory = body;
    complete.headers.emplace_back("content-type", "application/xml");
    absl::StatusOr<http::Response> response = Send(complete);
    if (!response.ok()) {
      failure = response.status();
    } else if (response->status != 200 || s3::XmlText(response->body, "Code").has_value()) {
      // CompleteMultipartUpload can fail with "200 OK" and an <Error> body.
      http::Response reply = *response;
      if (reply.status == 200) reply.status = 500;
      failure = ReplyError(reply, complete.what);
    } else if (options_.content_md5) {
      // The ETag of a multipart object is the MD5 of the part MD5s, "-", the count.
      std::string joined;
      for (const std::string& md5 : md5s) joined += md5;
      std::string expected = fmt::format("{}-{}", s3::HexEncode(s3::Md5(joined)), parts);
      std::string etag = StripQuotes(s3::XmlText(response->body, "ETag").value_or(expected));
      if (etag.find('-') != std::string::npos && etag != expected) {
        return absl::DataLossError(
            fmt::format("{}: the completed object's ETag {} does not match its parts' ({})", what,
                        etag, expected));
      }
    }
  }
  if (!failure.ok()) {
    absl::Status aborted = AbortMultipart(full_key, *upload_id);
    if (!aborted.ok()) {
      return absl::Status(
          failure.code(),
          fmt::format("{}; and aborting the upload failed too, so its parts may "
                      "remain until the bucket's lifecycle removes them: {}",
                      std::string(failure.message()), std::string(aborted.message())));
    }
    return failure;
  }
  return absl::OkStatus();
}

absl::Status S3ObjectStore::AbortMultipart(const std::string& full_key,
                                           const std::string& upload_id) {
  Call call{"DELETE",
            full_key,
            {{"uploadId", upload_id}},
            {},
            {},
            "",
            fmt::format("abort multipart upload of '{}'", full_key)};
  ASSIGN_OR_RETURN(http::Response response, Send(call));
  if (response.status == 204 || response.status == 200) return absl::OkStatus();
  if (s3::XmlText(response.body, "Code").value_or("") == "NoSuchUpload") return absl::OkStatus();
  return ReplyError(response, call.what);
}

absl::StatusOr<std::string> S3ObjectStore::Get(std::string_view key) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string what = fmt::format("get '{}'", key);
  // An object replaced between the ranged requests of one download is
  // fetched again from the start, a bounded number of times.
  constexpr int kMaxRestarts = 3;
  for (int restart = 0;; ++restart) {
    absl::StatusOr<std::string> data = GetOnce(key, what);
    if (!absl::IsAborted(data.status()) || restart == kMaxRestarts) return data;
  }
}

absl::StatusOr<std::string> S3ObjectStore::GetOnce(std::string_view key, const std::string& what) {
  const std::string full_key = FullKey(key);
  const int64_t part = options_.ranged_get;
  // The first range (or the whole of a small object); its Content-Range gives
  // the size and the ETag pins the version the other ranges must match.
  Call first{"GET", full_key, {}, {}, {}, "", what};
  if (part > 0) first.headers.emplace_back("range", fmt::format("bytes=0-{}", part - 1));
  ASSIGN_OR_RETURN(http::Response response, Send(first));
  if (response.status == 416) {
    // An empty object has no byte 0: ask for all of it.
    Call whole{"GET", full_key, {}, {}, {}, "", what};
    ASSIGN_OR_RETURN(response, Send(whole));
  }
  if (response.status == 200) {
    std::optional<std::string> length = response.Header("content-length");
    if (length.has_value() && std::to_string(response.body.size()) != *length) {
      return absl::DataLossError(
          fmt::format("{}: received {} bytes of {}", what, response.body.size(), *length));
    }
    return std::move(response.body);
  }
  if (response.status != 206) return ReplyError(response, what);
  long long first_byte = -1;
  long long last_byte = -1;
  long long total = -1;
  std::string content_range = response.Header("content-range").value_or("");
  if (std::sscanf(content_range.c_str(), "bytes %lld-%lld/%lld", &first_byte, &last_byte, &total) !=
          3 ||
      first_byte != 0 ||
      last_byte - first_byte + 1 != static_cast<long long>(response.body.size()) ||
      total < static_cast<long long>(response.body.size())) {
    return absl::DataLossError(fmt::format("{}: the reply holds {} bytes for range '{}'", what,
                                           response.body.size(), content_range));
  }
  if (total == static_cast<long long>(response.body.size())) return std::move(response.body);
  const std::string etag = response.Header("etag").value_or("");

  // The rest in part_size ranges, `parallelism` at a time, into one buffer.
  std::string data(static_cast<size_t>(total), '\0');
  std::memcpy(data.data(), response.body.data(), response.body.size());
  const int64_t start = static_cast<int64_t>(response.body.size());
  const int parts = static_cast<int>((total - start + part - 1) / part);
  auto fetch_part = [&](int index) -> absl::Status {
    int64_t offset = start + static_cast<int64_t>(index) * part;
    int64_t length = std::min<int64_t>(part, total - offset);
    Call call{"GET",
              full_key,
              {},
              {},
              {},
              "",
              fmt::format("{} (bytes {}..{} of {})", what, offset, offset + length, total)};
    call.headers.emplace_back("range", fmt::format("bytes={}-{}", offset, offset + length - 1));
    if (!etag.empty()) call.headers.emplace_back("if-match", etag);
    absl::StatusOr<http::Response> reply = Send(call);
    absl::Status status;
    if (!reply.ok()) {
      status = reply.status();
    } else if (reply->status == 412) {
      status =
          absl::AbortedError(fmt::format("{}: the object was replaced during the download", what));
    } else if (reply->status != 206) {
      status = ReplyError(*reply, call.what);
    } else if (static_cast<int64_t>(reply->body.size()) != length ||
               !reply->Header("content-range")
                    .value_or("")
                    .starts_with(fmt::format("bytes {}-", offset))) {
      status = absl::DataLossError(fmt::format("{}: the reply holds {} bytes for range '{}'",
                                               call.what, reply->body.size(),
                                               reply->Header("content-range").value_or("")));
    } else {
      std::memcpy(data.data() + offset, reply->body.data(), reply->body.size());
    }
    return status;
  };
  absl::Status failure = RunPartsInParallel(parts, options_.parallelism, fetch_part);
  if (!failure.ok()) return failure;
  return data;
}

S3ObjectStore::Call S3ObjectStore::RangeCall(std::string_view key, int64_t offset,
                                             int64_t length) const {
  Call call{"GET",
            FullKey(key),
            {},
            {},
            {},
            "",
            fmt::format("get bytes {}..{} of '{}'", offset, offset + length, key)};
  call.headers.emplace_back("range", fmt::format("bytes={}-{}", offset, offset + length - 1));
  return call;
}

absl::Status S3ObjectStore::CheckPartialReply(const http::Response& response, int64_t offset,
                                              int64_t length, int64_t received,
                                              const std::string& what) {
  // "bytes first-last/total": exactly first..last must have arrived.
  std::string content_range = response.Header("content-range").value_or("");
  long long first = -1;
  long long last = -1;
  if (std::sscanf(content_range.c_str(), "bytes %lld-%lld", &first, &last) != 2 ||
      first != offset || last - first + 1 != received || received > length) {
    return absl::DataLossError(
        fmt::format("{}: the reply holds {} bytes for range '{}'", what, received, content_range));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> S3ObjectStore::RangeFromReply(http::Response response,
                                                          std::string_view key, int64_t offset,
                                                          int64_t length, const std::string& what) {
  if (response.status == 416) {
    // Past the end, or exactly at it (which is an empty slice, not an error).
    ASSIGN_OR_RETURN(ObjectInfo info, Stat(key));
    if (offset == info.size_bytes) return std::string();
    return RangePastEnd(key, offset, info.size_bytes);
  }
  if (response.status == 200) {
    // The server sent the whole object (it may ignore ranges on small ones).
    std::optional<std::string> total = response.Header("content-length");
    if (total.has_value() && std::to_string(response.body.size()) != *total) {
      return absl::DataLossError(
          fmt::format("{}: received {} bytes of {}", what, response.body.size(), *total));
    }
    int64_t size = static_cast<int64_t>(response.body.size());
    if (offset > size) return RangePastEnd(key, offset, size);
    return response.body.substr(static_cast<size_t>(offset), static_cast<size_t>(length));
  }
  if (response.status != 206) return ReplyError(response, what);
  RETURN_IF_ERROR(CheckPartialReply(response, offset, length,
                                    static_cast<int64_t>(response.body.size()), what));
  return std::move(response.body);
}

absl::StatusOr<std::string> S3ObjectStore::GetRange(std::string_view key, int64_t offset,
                                                    int64_t length) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  if (offset < 0 || length < 0) {
    return absl::InvalidArgumentError(fmt::format(
        "get range of '{}': offset {} and length {} must not be negative", key, offset, length));
  }
  if (length == 0) {
    ASSIGN_OR_RETURN(ObjectInfo info, Stat(key));
    if (offset > info.size_bytes) return RangePastEnd(key, offset, info.size_bytes);
    return std::string();
  }
  const Call call = RangeCall(key, offset, length);
  ASSIGN_OR_RETURN(http::Response response, Send(call));
  return RangeFromReply(std::move(response), key, offset, length, call.what);
}

absl::StatusOr<int64_t> S3ObjectStore::GetRangeToFd(std::string_view key, int64_t offset,
                                                    int64_t length, int fd, int64_t file_offset) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  // Invalid and empty ranges: GetRange's answers.
  if (offset < 0 || length <= 0)
    return ObjectStore::GetRangeToFd(key, offset, length, fd, file_offset);
  Call call = RangeCall(key, offset, length);
  call.partial_body_fd = fd;
  call.partial_body_offset = file_offset;
  ASSIGN_OR_RETURN(http::Response response, Send(call));
  if (response.status == 206) {
    const int64_t written = response.partial_body_bytes_written;
    RETURN_IF_ERROR(CheckPartialReply(response, offset, length, written, call.what));
    return written;
  }
  // Any other reply (a range at or past the end, an error, a whole object
  // from a server that ignores ranges) came into memory: read it as GetRange
  // does, without asking again.
  ASSIGN_OR_RETURN(std::string data,
                   RangeFromReply(std::move(response), key, offset, length, call.what));
  RETURN_IF_ERROR(WriteAllAt(fd, data, file_offset, call.what));
  return static_cast<int64_t>(data.size());
}

absl::StatusOr<std::optional<ObjectInfo>> S3ObjectStore::Head(std::string_view key,
                                                              const std::string& what) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  Call call{"HEAD", FullKey(key), {}, {}, {}, "", what};
  ASSIGN_OR_RETURN(http::Response response, Send(call));
  if (response.status == 404) {
    // A HEAD reply has no body to tell NoSuchKey from NoSuchBucket: ask the bucket.
    RETURN_IF_ERROR(CheckBucketExists(what));
    return std::nullopt;
  }
  if (response.status != 200) return ReplyError(response, what);
  ObjectInfo info;
  info.key = std::string(key);
  std::string length = response.Header("content-length").value_or("");
  char* end = nullptr;
  info.size_bytes = std::strtoll(length.c_str(), &end, 10);
  if (length.empty() || *end != '\0') {
    return absl::InternalError(
        fmt::format("{}: the reply has no usable Content-Length ('{}')", what, length));
  }
  info.etag = StripQuotes(response.Header("etag").value_or(""));
  return info;
}

absl::Status S3ObjectStore::CheckBucketExists(const std::string& what) {
  Call call{"HEAD", "", {}, {}, {}, "", what};
  ASSIGN_OR_RETURN(http::Response response, Send(call));
  if (response.status == 200) return absl::OkStatus();
  if (response.status == 404) {
    http::Response missing = response;
    missing.body = "<Error><Code>NoSuchBucket</Code></Error>";
    return ReplyError(missing, what);
  }
  return ReplyError(response, what);
}

absl::StatusOr<ObjectInfo> S3ObjectStore::Stat(std::string_view key) {
  const std::string what = fmt::format("stat '{}'", key);
  ASSIGN_OR_RETURN(std::optional<ObjectInfo> info, Head(key, what));
  if (!info.has_value()) {
    return absl::NotFoundError(
        fmt::format("{}: no such object in {} (HTTP 404)", what, Describe()));
  }
  return *std::move(info);
}

absl::StatusOr<bool> S3ObjectStore::Exists(std::string_view key) {
  ASSIGN_OR_RETURN(std::optional<ObjectInfo> info, Head(key, fmt::format("exists '{}'", key)));
  return info.has_value();
}

absl::StatusOr<std::vector<ObjectInfo>> S3ObjectStore::List(std::string_view prefix) {
  RETURN_IF_ERROR(ValidatePrefix(prefix));
  const std::string root = options_.prefix.empty() ? "" : options_.prefix + "/";
  const std::string what = fmt::format("list '{}'", prefix);
  std::vector<ObjectInfo> objects;
  std::string token;
  while (true) {
    Call call{"GET",
              "",
              {{"list-type", "2"},
               {"prefix", root + std::string(prefix)},
               {"max-keys", std::to_string(options_.max_keys)}},
              {},
              {},
              "",
              what};
    if (!token.empty()) call.query.emplace_back("continuation-token", token);
    ASSIGN_OR_RETURN(http::Response response, Send(call));
    if (response.status != 200) return ReplyError(response, what);
    for (std::string_view contents : s3::XmlElements(response.body, "Contents")) {
      std::string full_key = s3::XmlText(contents, "Key").value_or("");
      if (!full_key.starts_with(root)) continue;
      std::string key = full_key.substr(root.size());
      // Objects other tools wrote ("folder/" markers, say) are not ours.
      if (!ValidateObjectKey(key).ok()) continue;
      ObjectInfo info;
      info.key = std::move(key);
      info.size_bytes =
          std::strtoll(s3::XmlText(contents, "Size").value_or("0").c_str(), nullptr, 10);
      info.etag = StripQuotes(s3::XmlText(contents, "ETag").value_or(""));
      objects.push_back(std::move(info));
    }
    if (s3::XmlText(response.body, "IsTruncated").value_or("false") != "true") break;
    std::string next = s3::XmlText(response.body, "NextContinuationToken").value_or("");
    if (next.empty() || next == token) {
      return absl::InternalError(fmt::format(
          "{}: the server said the listing continues but gave no new continuation token", what));
    }
    token = std::move(next);
  }
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return objects;
}

absl::Status S3ObjectStore::Delete(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) RETURN_IF_ERROR(ValidateObjectKey(key));
  for (size_t start = 0; start < keys.size(); start += kMaxDeleteBatch) {
    size_t end = std::min(keys.size(), start + kMaxDeleteBatch);
    std::string body = "<Delete><Quiet>true</Quiet>";
    for (size_t i = start; i < end; ++i) {
      body += "<Object><Key>" + s3::XmlEscape(FullKey(keys[i])) + "</Key></Object>";
    }
    body += "</Delete>";
    Call call{"POST",
              "",
              {{"delete", ""}},
              {},
              {},
              "",
              fmt::format("delete '{}' and {} more", keys[start], end - start - 1)};
    call.body.memory = body;
    call.headers.emplace_back("content-md5", s3::Base64Encode(s3::Md5(body)));
    call.headers.emplace_back("content-type", "application/xml");
    ASSIGN_OR_RETURN(http::Response response, Send(call));
    if (response.status != 200) return ReplyError(response, call.what);
    for (std::string_view error : s3::XmlElements(response.body, "Error")) {
      std::string code = s3::XmlText(error, "Code").value_or("");
      if (code == "NoSuchKey") continue;
      std::string full_key = s3::XmlText(error, "Key").value_or("?");
      std::string key = full_key;
      if (!options_.prefix.empty() && key.starts_with(options_.prefix + "/")) {
        key = key.substr(options_.prefix.size() + 1);
      }
      http::Response reply;
      reply.status = code == "AccessDenied" ? 403 : 500;
      reply.body = std::string(error);
      return ReplyError(reply, fmt::format("delete '{}'", key));
    }
  }
  return absl::OkStatus();
}

std::optional<std::string> S3ObjectStore::LocalPath(std::string_view key) const {
  return std::nullopt;
}

absl::Status S3ObjectStore::CreateBucket() {
  Call call{"PUT", "", {}, {}, {}, "", fmt::format("create bucket '{}'", options_.bucket)};
  std::string body;
  if (options_.region != "us-east-1") {
    body = fmt::format(
        "<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint>"
        "</CreateBucketConfiguration>",
        s3::XmlEscape(options_.region));
    call.body.memory = body;
  }
  ASSIGN_OR_RETURN(http::Response response, Send(call));
  if (response.status == 200) return absl::OkStatus();
  if (s3::XmlText(response.body, "Code").value_or("") == "BucketAlreadyOwnedByYou") {
    return absl::OkStatus();
  }
  return ReplyError(response, call.what);
}

absl::StatusOr<std::vector<std::string>> S3ObjectStore::ListMultipartUploads() {
  const std::string root = options_.prefix.empty() ? "" : options_.prefix + "/";
  Call call{"GET", "", {{"uploads", ""}, {"prefix", root}}, {}, {}, "", "list multipart uploads"};
  ASSIGN_OR_RETURN(http::Response response, Send(call));
  if (response.status != 200) return ReplyError(response, call.what);
  std::vector<std::string> keys;
  for (std::string_view upload : s3::XmlElements(response.body, "Upload")) {
    std::string key = s3::XmlText(upload, "Key").value_or("");
    keys.push_back(key.starts_with(root) ? key.substr(root.size()) : key);
  }
  return keys;
}

}  // namespace shardlake
