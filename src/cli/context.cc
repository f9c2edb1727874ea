#include "cli/context.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "catalog/index.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "storage/object_store.h"

namespace shardlake::cli {

absl::StatusOr<std::unique_ptr<Engine>> OpenEngine(const GlobalOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec || !fs::is_directory(options.data_dir)) {
    return absl::FailedPreconditionError(fmt::format("cannot use data directory {}: {}",
                                                     options.data_dir,
                                                     ec ? ec.message() : "not a directory"));
  }
  fs::path data_dir = fs::absolute(options.data_dir, ec).lexically_normal();
  std::string catalog = options.catalog.empty()
                            ? "sqlite://" + (data_dir / "catalog.sqlite").string()
                            : options.catalog;
  std::string storage =
      options.storage.empty() ? "file://" + (data_dir / "lake").string() : options.storage;
  ASSIGN_OR_RETURN(auto index, OpenIndex(catalog));
  ASSIGN_OR_RETURN(auto store, OpenObjectStore(storage));
  EngineOptions engine_options;
  engine_options.staging_dir = (data_dir / "staging").string();
  engine_options.file_cache_dir = (data_dir / "file-cache").string();
  engine_options.count_total_files = options.count_files;
  if (options.threads > 0)
    engine_options.duckdb_options["threads"] = std::to_string(options.threads);
  if (!options.memory_limit.empty()) {
    engine_options.duckdb_options["memory_limit"] = options.memory_limit;
  }
  if (isatty(STDERR_FILENO)) {
    engine_options.ingest.progress = [](double percent, double seconds, int64_t bytes) {
      std::string done = percent < 0 ? "" : fmt::format("{:5.1f}%, ", percent);
      std::fprintf(stderr, "\r  writing Parquet: %s%s written, %.1f s   ", done.c_str(),
                   HumanBytes(bytes).c_str(), seconds);
      std::fflush(stderr);
    };
  }
  engine_options.duckdb_options["temp_directory"] = (data_dir / "staging" / "duckdb-tmp").string();
  return Engine::Open(std::move(index), std::move(store), std::move(engine_options));
}

}  // namespace shardlake::cli
