#include "storage/http_client.h"

#include <curl/curl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "common/errno_status.h"
#include "fmt/format.h"

namespace shardlake::http {
namespace {

// curl_global_init is not thread-safe: run it once, before any handle exists.
void InitCurlOnce() {
  static const bool initialized = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)initialized;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// The largest Content-Length reserved in advance (a bigger body still arrives,
// growing as it comes).
constexpr long long kMaxReserve = 4LL << 30;

// Bodies at least this large ask for transparent huge pages.
constexpr long long kHugePageBodyBytes = 8LL << 20;
constexpr uintptr_t kHugePageBytes = uintptr_t{2} << 20;
constexpr uintptr_t kPageBytes = 4096;

// Reserves room for a body of `length` bytes in `body` (empty). A large
// buffer is fresh memory from mmap, and filling it 4 KiB page by page costs a
// page fault per page (a quarter of a million per GiB, more CPU than the
// transfer itself). So a large body asks for 2 MiB pages (transparent huge
// pages on request: the Debian default, "madvise"), and its capacity is
// rounded so that the allocation (with malloc's small header) spans a whole
// number of huge pages, which a kernel that aligns such mappings places on a
// huge page boundary: then every page of it can be a huge page. Advice only:
// without it the body is the same, just filled more slowly.
void ReserveBody(std::string* body, long long length) {
  if (length < kHugePageBodyBytes) {
    body->reserve(static_cast<size_t>(length));
    return;
  }
  constexpr uintptr_t kAllocatorOverhead = 64;  // malloc's header, the string's '\0', slack
  const uintptr_t whole_pages =
      (static_cast<uintptr_t>(length) + kAllocatorOverhead + kHugePageBytes - 1) &
      ~(kHugePageBytes - 1);
  body->reserve(whole_pages - kAllocatorOverhead);
  // The pages the buffer lies on, all inside its allocation.
  const auto begin = reinterpret_cast<uintptr_t>(body->data());
  const uintptr_t first = begin & ~(kPageBytes - 1);
  const uintptr_t last = (begin + body->capacity() + 1 + kPageBytes - 1) & ~(kPageBytes - 1);
  (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

// curl's upload buffer (its maximum is 2 MiB).
constexpr long kUploadBufferBytes = 1L << 20;

// State shared with the curl callbacks of one transfer.
struct Transfer {
  const Request* request = nullptr;
  Response* response = nullptr;
  int64_t body_position = 0;    // next request body byte to send
  absl::Status callback_error;  // why a callback aborted the transfer
};

size_t ReadBody(char* buffer, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const Body& body = transfer->request->body;
  int64_t remaining = body.size() - transfer->body_position;
  size_t want = static_cast<size_t>(std::min<int64_t>(remaining, size * count));
  if (want == 0) return 0;
  if (body.fd < 0) {
    std::memcpy(buffer, body.memory.data() + transfer->body_position, want);
    transfer->body_position += static_cast<int64_t>(want);
    return want;
  }
  while (true) {
    ssize_t got = ::pread(body.fd, buffer, want, body.offset + transfer->body_position);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      transfer->callback_error = ErrnoStatus(errno, "reading the request body from its file");
      return CURL_READFUNC_ABORT;
    }
    if (got == 0) {
      transfer->callback_error =
          absl::DataLossError("the file being uploaded ended early (was it truncated meanwhile?)");
      return CURL_READFUNC_ABORT;
    }
    transfer->body_position += got;
    return static_cast<size_t>(got);
  }
}

int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* transfer = static_cast<Transfer*>(user);
  const Body& body = transfer->request->body;
  if (origin != SEEK_SET || offset < 0 || offset > body.size()) return CURL_SEEKFUNC_CANTSEEK;
  transfer->body_position = offset;
  return CURL_SEEKFUNC_OK;
}

// Whether the reply's body goes to the request's file rather than memory.
bool BodyGoesToFile(const Transfer& transfer) {
  return transfer.request->partial_body_fd >= 0 && transfer.response->status == 206;
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t total = size * count;
  if (!BodyGoesToFile(*transfer)) {
    transfer->response->body.append(data, total);
    return total;
  }
  Response* response = transfer->response;
  absl::Status written =
      WriteAllAt(transfer->request->partial_body_fd, std::string_view(data, total),
                 transfer->request->partial_body_offset + response->partial_body_bytes_written,
                 "writing the reply's body to its file");
  if (!written.ok()) {
    transfer->callback_error = std::move(written);
    return 0;  // aborts the transfer
  }
  response->partial_body_bytes_written += static_cast<int64_t>(total);
  return total;
}

size_t ReadHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t total = size * count;
  std::string_view line(data, total);
  Response* response = transfer->response;
  if (line.starts_with("HTTP/")) {
    // A new status line (after "100 Continue", say): start over.
    response->headers.clear();
    size_t space = line.find(' ');
    if (space != std::string_view::npos) {
      response->status = std::strtol(std::string(line.substr(space + 1, 3)).c_str(), nullptr, 10);
    }
    return total;
  }
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name = ToLower(Trim(line.substr(0, colon)));
    std::string value(Trim(line.substr(colon + 1)));
    // Room for the whole body up front: no regrowing of large downloads.
    if (name == "content-length" && response->status >= 200 && response->status < 300 &&
        !BodyGoesToFile(*transfer)) {
      long long length = std::strtoll(value.c_str(), nullptr, 10);
      if (length > 0 && length <= kMaxReserve) ReserveBody(&response->body, length);
    }
    response->headers.emplace_back(std::move(name), std::move(value));
  }
  return total;
}

absl::Status TransportError(CURLcode code, const Request& request, const char* detail) {
  std::string message =
      fmt::format("{} {}: {} (curl error {})", request.method, request.url,
                  detail[0] != '\0' ? detail : curl_easy_strerror(code), static_cast<int>(code));
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(message);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::InvalidArgumentError(message);
    // An untrusted certificate stays untrusted: not worth a retry.
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return absl::FailedPreconditionError(message);
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace

std::optional<std::string> Response::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

struct Client::EasyHandle {
  CURL* curl = nullptr;
  EasyHandle() : curl(curl_easy_init()) {}
  ~EasyHandle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
  EasyHandle(const EasyHandle&) = delete;
  EasyHandle& operator=(const EasyHandle&) = delete;
};

Client::Client(ClientOptions options) : options_(options) { InitCurlOnce(); }

Client::~Client() = default;

std::unique_ptr<Client::EasyHandle> Client::Borrow() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<EasyHandle> handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  return std::make_unique<EasyHandle>();
}

void Client::Return(std::unique_ptr<EasyHandle> handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(handle));
}

absl::StatusOr<Response> Client::Perform(const Request& request) {
  std::unique_ptr<EasyHandle> handle = Borrow();
  if (handle->curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  CURL* curl = handle->curl;
  // Resets the options but keeps the handle's live connections for reuse.
  curl_easy_reset(curl);

  Response response;
  Transfer transfer;
  transfer.request = &request;
  transfer.response = &response;

  HeaderList headers;
  auto append = [&headers](const std::string& line) {
    curl_slist* extended = curl_slist_append(headers.get(), line.c_str());
    if (extended != nullptr) {
      (void)headers.release();
      headers.reset(extended);
    }
  };
  for (const auto& [name, value] : request.headers) append(name + ": " + value);
  // No "Expect: 100-continue" (a round trip per upload, and up to a second's
  // wait when a busy server is slow to answer it), no default "Accept: */*".
  append("Expect:");
  append("Accept:");

  char error_text[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "shardlake");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options_.low_speed_bytes));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(options_.low_speed_time.count()));
  if (options_.request_timeout.count() > 0) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  }
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, ReadHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);

  if (request.method == "PUT" || request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    // Fewer, larger reads and sends than curl's 64 KiB default.
    curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekBody);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
    if (request.method == "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode code = curl_easy_perform(curl);
  // Drop the pointers into this frame before the handle is reused.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (code != CURLE_OK) {
    absl::Status status = transfer.callback_error.ok() ? TransportError(code, request, error_text)
                                                       : transfer.callback_error;
    // A failed connection is not returned to the pool.
    return status;
  }
  long status_code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status_code);
  response.status = status_code;
  Return(std::move(handle));
  return response;
}

}  // namespace shardlake::http
