#include "common/ids.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <random>

namespace shardlake {

std::string NewUuid() {
  // Seeded per thread and again in a forked child, which would otherwise
  // repeat its parent's sequence (and so its file names).
  thread_local std::mt19937_64 rng;
  thread_local pid_t seeded_in = 0;
  if (pid_t pid = ::getpid(); pid != seeded_in) {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    rng.seed(seed);
    seeded_in = pid;
  }
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

}  // namespace shardlake
