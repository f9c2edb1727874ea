// The cluster manifest, `<data-dir>/cluster.json`, written by `shardlake
// bootstrap` (docs/bootstrap.md): where the users file, TLS files, catalog and
// store of a data dir are, and how each TPC-H table is placed.
//
// Thread-safety: a loaded manifest is an immutable value.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "query/distributed_planner.h"

namespace shardlake {

struct ClusterManifest {
  std::string data_dir;  // absolute
  std::string users_file;
  std::string tls_directory;  // holds ca.crt, server.crt, server.key
  std::string catalog_uri;
  std::string storage_uri;
  std::string database;
  int shard_count = 0;
  // Keyed by "db.table".
  std::map<std::string, TableLayout> layouts;
};

// Reads `<data_dir>/cluster.json`. Errors: FailedPrecondition when the file is
// missing (the message says to run `shardlake bootstrap`); InvalidArgument,
// naming the file and field, for malformed JSON, another format or an unknown
// version.
absl::StatusOr<ClusterManifest> LoadClusterManifest(const std::string& data_dir);

// The bucket number of an object path inside a table ("bucket=07/x.parquet"
// -> 7), or -1 when the path is not in a bucket folder.
int BucketOfPath(const std::string& path);

}  // namespace shardlake
