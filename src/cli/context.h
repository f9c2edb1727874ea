// Global command-line options and opening the engine they describe.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cli/output.h"
#include "query/engine.h"
#include "storage/s3_object_store.h"

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

  // s3:// stores (--s3-*): each beats its AWS_* variable, an option in the
  // URI beats both. Credentials are taken as a set: all from the flags when
  // --s3-access-key-id is given, else all from the environment.
  std::string s3_access_key_id;
  std::string s3_secret_access_key;
  std::string s3_secret_access_key_file;  // keeps the secret out of argv and ps
  std::string s3_session_token;
  std::string s3_region;
  std::string s3_endpoint;
  std::string s3_ca_file;
};

// The S3Settings the --s3-* flags describe (reads --s3-secret-access-key-file).
// Errors: InvalidArgument for a secret without a key id or the other way
// round, or both secret flags; the errno status when the file cannot be read.
// No message contains the secret or the token.
absl::StatusOr<S3Settings> S3SettingsFromFlags(const GlobalOptions& options);

// Creates the data directory if needed and opens catalog, store and engine.
// Errors are one line, naming what could not be opened and why.
absl::StatusOr<std::unique_ptr<Engine>> OpenEngine(const GlobalOptions& options);

}  // namespace shardlake::cli
