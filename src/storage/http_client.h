// A small blocking HTTP/1.1 client over libcurl for the S3 backend: one
// request at a time per call, bodies streamed from memory or from a file
// region, responses into memory. Connections are kept
// alive and reused: finished curl handles go back to a pool.
//
// Thread-safety: a Client may be used from any number of threads at once; each
// Perform() call borrows its own curl handle.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace shardlake::http {

// A request body: `memory`, or `length` bytes of the open file `fd` from
// `offset` (read with pread; the caller keeps the fd open during Perform).
struct Body {
  std::string_view memory;
  int fd = -1;
  int64_t offset = 0;
  int64_t length = 0;

  int64_t size() const { return fd >= 0 ? length : static_cast<int64_t>(memory.size()); }
};

struct Request {
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string url;     // scheme://host[:port]/path?query, already percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;
  Body body;  // sent for PUT and POST (possibly empty); ignored otherwise
  // When >= 0, the body of a 206 (Partial Content) reply is written into this
  // open file from `partial_body_offset` on (pwrite; the file position is not
  // used) instead of into Response::body, so a large range never sits in
  // memory. Other replies' bodies (errors, a 200 with the whole object) still
  // go to Response::body. The caller keeps the fd open during Perform.
  int partial_body_fd = -1;
  int64_t partial_body_offset = 0;
};

struct Response {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  // Bytes of a 206 reply's body written to Request::partial_body_fd.
  int64_t partial_body_bytes_written = 0;

  // The first header named `name` (lower-case), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10000};
  // A transfer that moves fewer than `low_speed_bytes` bytes per second for
  // `low_speed_time` is abandoned (a stalled server), as is one that takes
  // longer than `request_timeout` (0: no limit on the whole transfer).
  int64_t low_speed_bytes = 1024;
  std::chrono::seconds low_speed_time{30};
  std::chrono::milliseconds request_timeout{0};
  // PEM file of the CAs that https servers' certificates must chain to
  // (empty: the system's CA store).
  std::string ca_file;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `request` and returns the response, whatever its HTTP status.
  // Errors (transport only): DeadlineExceeded for a timeout; Unavailable when
  // the server cannot be reached or the connection fails or closes early
  // (including a body shorter than its Content-Length); FailedPrecondition
  // when the server's TLS certificate is not trusted; the errno status when
  // reading the request body from its file, or writing the reply's body to
  // Request::partial_body_fd, fails;
  // InvalidArgument for a malformed URL. Messages name the method and URL.
  absl::StatusOr<Response> Perform(const Request& request);

 private:
  struct EasyHandle;
  std::unique_ptr<EasyHandle> Borrow();
  void Return(std::unique_ptr<EasyHandle> handle);

  ClientOptions options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<EasyHandle>> idle_;  // guarded by mutex_
};

}  // namespace shardlake::http
