// An owned POSIX file descriptor, closed when the holder goes out of scope.
// Move-only; a negative descriptor (a failed open) holds nothing.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace shardlake {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Gives up ownership: the caller closes the returned descriptor.
  int release() { return std::exchange(fd_, -1); }

  // Closes now (if open), ignoring errors.
  void reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

  // Closes now; returns 0, or the errno of a failed close (which for a
  // written file can report a lost write). Holds nothing afterwards.
  int Close() {
    if (fd_ < 0) return 0;
    return ::close(std::exchange(fd_, -1)) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

}  // namespace shardlake
