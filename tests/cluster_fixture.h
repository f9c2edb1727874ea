// What the end-to-end cluster tests share: a small TPC-H lake bootstrapped by
// the shardlake binary (SHARDLAKE_BIN), LocalCluster options over it, waiting
// for workers, and running one statement into an Answer.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/cluster_client.h"
#include "cluster/local_cluster.h"
#include "common/ids.h"
#include "query/engine.h"
#include "tests/cli_runner.h"

namespace shardlake {

// One statement's columns, rows and trailer, as the client library returns them.
struct Answer {
  std::vector<std::string> columns;
  CollectingSink::RowList rows;
  ClientQueryOutcome outcome;
};

inline absl::StatusOr<Answer> RunSql(ClusterClient& client, const std::string& sql) {
  CollectingSink sink;
  auto outcome = client.Execute(sql, sink);
  if (!outcome.ok()) return outcome.status();
  return Answer{sink.columns(), sink.rows(), *outcome};
}

// Bootstraps TPC-H SF 0.01 in 4 buckets into `data_dir`, with client user
// scott and the given passwords. Fails the calling test on error.
inline void BootstrapSmallLake(const std::filesystem::path& data_dir,
                               const std::string& client_password,
                               const std::string& worker_password) {
  CommandResult boot = RunShardlake({"--threads", "2", "--data-dir", data_dir.string(), "bootstrap",
                                     "--client-username", "scott", "--client-password",
                                     client_password, "--worker-password", worker_password,
                                     "--tpch-scale-factor", "0.01", "--shard-count", "4"});
  ASSERT_EQ(boot.exit_code, 0) << boot.out << boot.err;
}

// A one-thread server over `data_dir` with background compaction off unless
// `server_args` say otherwise; logs in a fresh folder of the data dir.
inline LocalCluster::Options SmallClusterOptions(const std::filesystem::path& data_dir,
                                                 const std::string& worker_password,
                                                 std::vector<std::string> server_args = {
                                                     "--compact-interval", "0"}) {
  LocalCluster::Options options;
  options.binary = std::getenv("SHARDLAKE_BIN");
  options.data_dir = data_dir.string();
  options.worker_password = worker_password;
  options.log_dir = (data_dir / ("logs-" + NewUuid())).string();
  options.server_threads = 1;
  options.server_args = std::move(server_args);
  return options;
}

// Waits (at most 30 s) until the server reports `count` workers.
inline void WaitForWorkers(ClusterClient& client, int count) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto status = client.Status();
    ASSERT_TRUE(status.ok()) << status.status();
    if (status->workers == count) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "the server did not reach " << count << " worker(s)";
}

}  // namespace shardlake
