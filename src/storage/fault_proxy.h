// Test helper: a TCP proxy on 127.0.0.1 that forwards connections to a
// server on another loopback port and injects faults into chosen HTTP
// requests. A fault is armed with the text that identifies its request (a
// piece of the request line, such as the object key or "partNumber=2&") and
// hits the next `times` requests that contain it:
//   - kCutRequest:  forwards `after_bytes` more bytes of the request (counted
//                   from the match), then closes both sides: a server that
//                   drops the connection half-way through an upload.
//   - kCutResponse: forwards `after_bytes` bytes of the reply, then closes
//                   both sides: a download cut short (a truncated object).
//   - kCorruptRequest: flips the bits of the request byte `after_bytes` past
//                   the match (in the body), once: bytes altered in flight.
//   - kReply:       does not forward the request; answers `status` (503
//                   SlowDown by default; 412 PreconditionFailed, ...) with
//                   "Connection: close" and closes.
// Requests are recognized in the client's byte stream, which works because an
// HTTP/1.1 client sends a request on a connection only after the previous
// reply is complete. Every loop is bounded: the proxy polls with a short
// timeout and stops (closing every connection) when destroyed.
// For tests only; header-only, no gtest.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"

namespace shardlake {

class FaultProxy {
 public:
  enum class Kind { kCutRequest, kCutResponse, kReply, kCorruptRequest };
  struct Fault {
    Kind kind;
    std::string match;
    int64_t after_bytes = 0;
    int times = 1;
    int status = 503;  // kReply only
  };

  // Listens on a free loopback port and forwards to 127.0.0.1:`target_port`.
  static absl::StatusOr<std::unique_ptr<FaultProxy>> Start(int target_port) {
    std::unique_ptr<FaultProxy> proxy(new FaultProxy(target_port));
    proxy->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (proxy->listen_fd_ < 0) return absl::InternalError("socket() failed");
    sockaddr_in addr = Loopback(0);
    socklen_t len = sizeof(addr);
    if (::bind(proxy->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(proxy->listen_fd_, 64) != 0 ||
        ::getsockname(proxy->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return absl::InternalError("cannot listen on a loopback port");
    }
    proxy->port_ = ntohs(addr.sin_port);
    proxy->acceptor_ = std::thread([raw = proxy.get()] { raw->AcceptLoop(); });
    return proxy;
  }

  ~FaultProxy() {
    stopping_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> connections;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      connections.swap(connections_);
    }
    for (std::thread& connection : connections) connection.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }

  int port() const { return port_; }
  std::string endpoint() const { return fmt::format("http://127.0.0.1:{}", port_); }

  void Arm(Fault fault) {
    std::lock_guard<std::mutex> lock(mutex_);
    faults_.push_back(std::move(fault));
  }
  void Disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    faults_.clear();
  }
  // Faults injected so far.
  int injected() const { return injected_.load(); }

 private:
  explicit FaultProxy(int target_port) : target_port_(target_port) {}

  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
  }

  static bool SendAll(int fd, const char* data, size_t size) {
    while (size > 0) {
      ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
      if (sent <= 0) return false;
      data += sent;
      size -= static_cast<size_t>(sent);
    }
    return true;
  }

  void AcceptLoop() {
    while (!stopping_) {
      pollfd waiting{listen_fd_, POLLIN, 0};
      if (::poll(&waiting, 1, 50) <= 0) continue;
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      connections_.emplace_back([this, client] { Serve(client); });
    }
  }

  // The armed fault whose match occurs in `window` and ends after its first
  // `old_bytes` (which were seen before), consumed; sets `*at` to the end of
  // the match in `window`.
  std::optional<Fault> TakeFault(std::string_view window, size_t old_bytes, size_t* at) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Fault& fault : faults_) {
      if (fault.times <= 0 || fault.match.empty()) continue;
      size_t from = old_bytes >= fault.match.size() ? old_bytes - fault.match.size() + 1 : 0;
      size_t found = window.find(fault.match, from);
      if (found == std::string_view::npos) continue;
      --fault.times;
      injected_.fetch_add(1);
      *at = found + fault.match.size();
      return fault;
    }
    return std::nullopt;
  }

  void Serve(int client) {
    int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in target = Loopback(target_port_);
    if (upstream < 0 ||
        ::connect(upstream, reinterpret_cast<sockaddr*>(&target), sizeof(target)) != 0) {
      if (upstream >= 0) ::close(upstream);
      ::close(client);
      return;
    }
    std::optional<Fault> active;
    int64_t budget = 0;  // bytes still forwarded before a cut
    std::string tail;    // the end of the client's last chunk, for matches across chunks
    std::vector<char> buffer(256 * 1024);
    bool open = true;
    while (open && !stopping_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
      if (::poll(fds, 2, 50) <= 0) continue;
      if (fds[0].revents != 0) {
        ssize_t got = ::recv(client, buffer.data(), buffer.size(), 0);
        if (got <= 0) break;
        std::string_view chunk(buffer.data(), static_cast<size_t>(got));
        size_t forward = chunk.size();
        if (!active.has_value()) {
          std::string window = tail + std::string(chunk);
          size_t at = 0;
          active = TakeFault(window, tail.size(), &at);
          if (active.has_value()) {
            size_t at_in_chunk = at > tail.size() ? at - tail.size() : 0;
            budget = active->after_bytes;
            if (active->kind == Kind::kReply) {
              Reply(client, active->status);
              break;
            }
            if (active->kind == Kind::kCutRequest) {
              forward = std::min<size_t>(chunk.size(), at_in_chunk + static_cast<size_t>(budget));
              budget -= static_cast<int64_t>(forward - at_in_chunk);
              open = budget > 0;
            }
            if (active->kind == Kind::kCorruptRequest) {
              size_t position = at_in_chunk + static_cast<size_t>(budget);
              if (position < chunk.size()) {
                buffer[position] = static_cast<char>(~buffer[position]);
                active.reset();
              } else {
                budget -= static_cast<int64_t>(chunk.size() - at_in_chunk);
              }
            }
          }
          tail = window.substr(window.size() - std::min<size_t>(window.size(), 512));
        } else if (active->kind == Kind::kCutRequest) {
          forward = std::min<size_t>(chunk.size(), static_cast<size_t>(budget));
          budget -= static_cast<int64_t>(forward);
          open = budget > 0;
        } else if (active->kind == Kind::kCorruptRequest) {
          if (static_cast<size_t>(budget) < chunk.size()) {
            buffer[static_cast<size_t>(budget)] =
                static_cast<char>(~buffer[static_cast<size_t>(budget)]);
            active.reset();
          } else {
            budget -= static_cast<int64_t>(chunk.size());
          }
        }
        if (!SendAll(upstream, chunk.data(), forward)) break;
      }
      if (open && fds[1].revents != 0) {
        ssize_t got = ::recv(upstream, buffer.data(), buffer.size(), 0);
        if (got <= 0) break;
        size_t forward = static_cast<size_t>(got);
        if (active.has_value() && active->kind == Kind::kCutResponse) {
          forward = std::min<size_t>(forward, static_cast<size_t>(budget));
          budget -= static_cast<int64_t>(forward);
          open = budget > 0;
        }
        if (!SendAll(client, buffer.data(), forward)) break;
      }
    }
    ::close(upstream);
    ::shutdown(client, SHUT_RDWR);
    ::close(client);
  }

  void Reply(int client, int status) {
    const std::string code = status == 503   ? "SlowDown"
                             : status == 412 ? "PreconditionFailed"
                             : status == 500 ? "InternalError"
                                             : "InjectedFault";
    const std::string body = fmt::format(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code>"
        "<Message>injected by the test proxy</Message></Error>",
        code);
    std::string reply = fmt::format(
        "HTTP/1.1 {} Injected\r\nContent-Type: application/xml\r\n"
        "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        status, body.size(), body);
    SendAll(client, reply.data(), reply.size());
    // Let the client finish sending (bounded) so that it reads the reply
    // rather than a reset.
    ::shutdown(client, SHUT_WR);
    char sink[65536];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < deadline && !stopping_) {
      pollfd waiting{client, POLLIN, 0};
      if (::poll(&waiting, 1, 50) <= 0) continue;
      if (::recv(client, sink, sizeof(sink), 0) <= 0) break;
    }
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> injected_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<Fault> faults_;             // guarded by mutex_
  std::vector<std::thread> connections_;  // guarded by mutex_
};

}  // namespace shardlake
