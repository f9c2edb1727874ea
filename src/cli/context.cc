#include "cli/context.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "catalog/index.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "storage/object_store.h"

namespace shardlake::cli {

absl::StatusOr<S3Settings> S3SettingsFromFlags(const GlobalOptions& options) {
  S3Settings settings;
  settings.endpoint = options.s3_endpoint;
  settings.region = options.s3_region;
  settings.ca_file = options.s3_ca_file;
  std::string secret = options.s3_secret_access_key;
  if (!options.s3_secret_access_key_file.empty()) {
    if (!secret.empty()) {
      return absl::InvalidArgumentError(
          "pass the S3 secret either with --s3-secret-access-key or with "
          "--s3-secret-access-key-file, not both");
    }
    std::ifstream in(options.s3_secret_access_key_file);
    if (!in) {
      return absl::FailedPreconditionError(
          fmt::format("cannot read --s3-secret-access-key-file '{}': {}",
                      options.s3_secret_access_key_file, std::strerror(errno)));
    }
    std::stringstream text;
    text << in.rdbuf();
    secret = text.str();
    // A file written by `echo` ends with a newline that is not part of the key.
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) {
      return absl::InvalidArgumentError(fmt::format("--s3-secret-access-key-file '{}' is empty",
                                                    options.s3_secret_access_key_file));
    }
  }
  const bool any_credential_flag =
      !options.s3_access_key_id.empty() || !secret.empty() || !options.s3_session_token.empty();
  if (any_credential_flag) {
    if (options.s3_access_key_id.empty() || secret.empty()) {
      return absl::InvalidArgumentError(
          "S3 credentials by flag need both --s3-access-key-id and --s3-secret-access-key-file "
          "(or --s3-secret-access-key); without them AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
          "/ AWS_SESSION_TOKEN are used");
    }
    settings.credentials =
        s3::Credentials{options.s3_access_key_id, std::move(secret), options.s3_session_token};
    settings.credentials_origin = S3CredentialsOrigin::kFlags;
  }
  return settings;
}

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
  std::unique_ptr<ObjectStore> store;
  if (storage.starts_with("s3://")) {
    ASSIGN_OR_RETURN(S3Settings s3_settings, S3SettingsFromFlags(options));
    ASSIGN_OR_RETURN(store, S3ObjectStore::OpenUri(storage, s3_settings));
  } else {
    ASSIGN_OR_RETURN(store, OpenObjectStore(storage));
  }
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
