// Identifiers: random UUIDs (v4) for file names, plan ids and writer ids.
#pragma once

#include <string>

namespace shardlake {

// A random RFC 4122 version-4 UUID in canonical lower-case form. Thread-safe.
std::string NewUuid();

}  // namespace shardlake
