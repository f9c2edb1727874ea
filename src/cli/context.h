// Global command-line options and opening the engine they describe.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cli/output.h"
#include "query/engine.h"

namespace shardlake::cli {

struct GlobalOptions {
  std::string data_dir = "./shardlake-data";
  std::string catalog;  // default: sqlite://<data_dir>/catalog.sqlite
  std::string storage;  // default: file://<data_dir>/lake
  std::string format = "table";
  bool stats = false;        // print files scanned / pruned and timings after queries
  bool count_files = false;  // count every file of scanned tables (for "N of M files")
  int threads = 0;           // DuckDB threads; 0 = DuckDB's default
  std::string memory_limit;  // DuckDB memory limit, e.g. "2GB"; empty = default
};

// Creates the data directory if needed and opens catalog, store and engine.
// Errors are one line, naming what could not be opened and why.
absl::StatusOr<std::unique_ptr<Engine>> OpenEngine(const GlobalOptions& options);

}  // namespace shardlake::cli
