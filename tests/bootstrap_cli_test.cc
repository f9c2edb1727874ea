// End-to-end: `shardlake bootstrap` as a user runs it (the binary comes from
// SHARDLAKE_BIN), then the result is checked with the users-file API, the
// file system, `shardlake sql` over the catalog, and DuckDB over the buckets'
// Parquet files.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cli_runner.h"
#include "cluster/users_file.h"
#include "common/ids.h"
#include "duck/duck.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "tpch/generator.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;

constexpr char kClientPassword[] = "tiger-secret-1";
constexpr char kWorkerPassword[] = "united-secret-2";

struct CommandRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `shardlake <args>`; stdout and stderr are returned together.
CommandRun Shardlake(const std::vector<std::string>& args) {
  CommandResult result = RunShardlake(args);
  return CommandRun{result.exit_code, result.out + result.err};
}

std::vector<std::string> BootstrapArgs(const fs::path& data_dir, const std::string& shards,
                                       const std::string& seed = "0") {
  return {"--threads",
          "2",
          "bootstrap",
          "--client-username",
          "scott",
          "--client-password",
          kClientPassword,
          "--worker-password",
          kWorkerPassword,
          "--tpch-scale-factor",
          "0.01",
          "--shard-count",
          shards,
          "--seed",
          seed,
          "--tls-hostname",
          "db.example.test",
          "--data-dir",
          data_dir.string()};
}

// Path, type, size, mode and mtime (ns) of everything under `root`, sorted.
std::string Listing(const fs::path& root) {
  std::vector<std::string> lines;
  for (const auto& item : fs::recursive_directory_iterator(root)) {
    struct stat st {};
    if (lstat(item.path().c_str(), &st) != 0) continue;
    lines.push_back(fmt::format("{} {} {:o} {}.{}", fs::relative(item.path(), root).string(),
                                item.is_directory() ? 0 : static_cast<long long>(st.st_size),
                                st.st_mode, st.st_mtim.tv_sec, st.st_mtim.tv_nsec));
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

unsigned PermissionBits(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// The single integer a query returns.
int64_t QueryInt(duck::Connection& connection, const std::string& sql) {
  auto result = connection.Query(sql);
  EXPECT_TRUE(result.ok()) << sql << ": " << result.status();
  if (!result.ok()) return -1;
  auto rows = (*result)->FetchAllAsStrings();
  EXPECT_TRUE(rows.ok() && rows->size() == 1 && (*rows)[0][0].has_value()) << sql;
  if (!rows.ok() || rows->size() != 1 || !(*rows)[0][0].has_value()) return -1;
  return std::stoll(*(*rows)[0][0]);
}

class BootstrapCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("shardlake-bootstrap-cli-" + NewUuid());
    fs::create_directories(dir_);
    data_dir_ = dir_ / "data";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
  fs::path data_dir_;
};

TEST_F(BootstrapCliTest, InvalidFlagsFailClearlyAndCreateNothing) {
  std::vector<std::string> args = BootstrapArgs(data_dir_, "3");
  args[4] = "";  // --client-username ""
  CommandRun empty_user = Shardlake(args);
  EXPECT_EQ(empty_user.exit_code, 1) << empty_user.output;
  EXPECT_NE(empty_user.output.find("user"), std::string::npos) << empty_user.output;

  CommandRun zero_shards = Shardlake(BootstrapArgs(data_dir_, "0"));
  EXPECT_EQ(zero_shards.exit_code, 1) << zero_shards.output;
  EXPECT_NE(zero_shards.output.find("--shard-count 0 is out of range"), std::string::npos)
      << zero_shards.output;

  args = BootstrapArgs(data_dir_, "3");
  args[10] = "0";  // --tpch-scale-factor 0
  CommandRun zero_sf = Shardlake(args);
  EXPECT_EQ(zero_sf.exit_code, 1) << zero_sf.output;
  EXPECT_NE(zero_sf.output.find("--tpch-scale-factor"), std::string::npos) << zero_sf.output;

  args = BootstrapArgs(data_dir_, "3");
  args[8] = "abc";  // a worker password that is too short
  CommandRun short_password = Shardlake(args);
  EXPECT_EQ(short_password.exit_code, 1) << short_password.output;
  EXPECT_NE(short_password.output.find("--worker-password is too short"), std::string::npos)
      << short_password.output;
  EXPECT_EQ(short_password.output.find("abc"), std::string::npos) << "password echoed";

  EXPECT_TRUE(fs::is_empty(dir_)) << "a failed bootstrap left files:\n" << Listing(dir_);
}

TEST_F(BootstrapCliTest, InterruptLeavesNothingBehind) {
  const char* bin = std::getenv("SHARDLAKE_BIN");
  ASSERT_NE(bin, nullptr) << "SHARDLAKE_BIN is not set";
  std::vector<std::string> args = BootstrapArgs(data_dir_, "3");
  args[1] = "1";     // --threads 1
  args[10] = "0.3";  // long enough to be interrupted mid-load (several seconds)
  std::string command = Quote(bin);
  for (const auto& arg : args) command += " " + Quote(arg);
  // Start it, wait (at most 20 s) until its staging directory exists, Ctrl-C it.
  std::string script = fmt::format(
      "{} </dev/null >/dev/null 2>&1 & pid=$!; i=0; "
      "while [ -z \"$(ls -A {})\" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; "
      "sleep 0.5; kill -INT $pid; wait $pid; exit $?",
      command, Quote(dir_.string()));
  int status = std::system(script.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << "interrupted bootstraps exit like Ctrl-C";
  EXPECT_TRUE(fs::is_empty(dir_)) << "an interrupted bootstrap left files:\n" << Listing(dir_);
}

TEST_F(BootstrapCliTest, BootstrapsAShardedTpchLakeAndRefusesToOverwrite) {
  CommandRun run = Shardlake(BootstrapArgs(data_dir_, "3"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output.find(kClientPassword), std::string::npos) << "password printed";
  EXPECT_EQ(run.output.find(kWorkerPassword), std::string::npos) << "password printed";
  EXPECT_NE(run.output.find("in 3 buckets"), std::string::npos) << run.output;

  // Nothing but the data dir next to it: no staging directory left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1)
      << Listing(dir_);
  EXPECT_FALSE(fs::exists(data_dir_ / "bootstrap-tmp"));

  // Users file: owner-only, right passwords verify, wrong ones do not.
  EXPECT_EQ(PermissionBits(data_dir_ / "users.json"), 0600u);
  EXPECT_EQ(ReadFile(data_dir_ / "users.json").find(kClientPassword), std::string::npos);
  auto users = UsersFile::Load((data_dir_ / "users.json").string());
  ASSERT_TRUE(users.ok()) << users.status();
  auto client = users->Authenticate("scott", kClientPassword);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ(client->role, UserRole::kClient);
  EXPECT_FALSE(users->Authenticate("scott", "tiger-secret-X").ok());
  EXPECT_FALSE(users->Authenticate("scott", kWorkerPassword).ok());
  auto worker = users->Authenticate(std::string(kWorkerUsername), kWorkerPassword);
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ(worker->role, UserRole::kWorker);

  // TLS files, private keys owner-only.
  for (const char* name : {"ca.crt", "server.crt"}) {
    EXPECT_TRUE(fs::is_regular_file(data_dir_ / "tls" / name)) << name;
  }
  EXPECT_EQ(PermissionBits(data_dir_ / "tls" / "server.key"), 0600u);
  EXPECT_EQ(PermissionBits(data_dir_ / "tls" / "ca.key"), 0600u);
  EXPECT_NE(ReadFile(data_dir_ / "tls" / "server.crt").find("BEGIN CERTIFICATE"),
            std::string::npos);

  // The manifest names everything relative to the data dir.
  nlohmann::json manifest = nlohmann::json::parse(ReadFile(data_dir_ / "cluster.json"));
  EXPECT_EQ(manifest["version"], 1);
  EXPECT_EQ(manifest["shard_count"], 3);
  EXPECT_EQ(manifest["catalog"]["path"], "catalog.sqlite");
  EXPECT_EQ(manifest["storage"]["path"], "lake");
  EXPECT_EQ(manifest["tls"]["ca_certificate"], "tls/ca.crt");
  EXPECT_EQ(manifest["users_file"], "users.json");
  EXPECT_EQ(manifest["database"], "main");
  EXPECT_EQ(manifest["bucket_folders"],
            nlohmann::json::array({"bucket=00", "bucket=01", "bucket=02"}));
  EXPECT_EQ(manifest["tables"]["orders"]["placement"], "sharded");
  EXPECT_EQ(manifest["tables"]["lineitem"]["shard_key"], "l_orderkey");
  EXPECT_EQ(manifest["tables"]["customer"]["placement"], "replicated");
  EXPECT_EQ(manifest["tables"]["nation"]["placement"], "replicated");
  // The catalog does not remember where it was built.
  std::string catalog_bytes = ReadFile(data_dir_ / "catalog.sqlite");
  EXPECT_FALSE(catalog_bytes.empty());
  EXPECT_EQ(catalog_bytes.find(".staging."), std::string::npos);
  EXPECT_EQ(catalog_bytes.find(dir_.string()), std::string::npos);

  // Row counts through `shardlake sql`: the specification's at SF 0.01; each
  // table once (replicated tables are stored once; sharded ones sum over buckets).
  auto generator = tpch::Generator::Create(0.01, 0);
  ASSERT_TRUE(generator.ok()) << generator.status();
  auto database = duck::Database::Open("");
  ASSERT_TRUE(database.ok());
  auto connection = duck::Connection::Open(**database);
  ASSERT_TRUE(connection.ok());
  ASSERT_TRUE(tpch::RegisterTpchFunction(**connection, *generator).ok());
  std::map<std::string, int64_t> expected = {
      {"nation", 25},     {"region", 5},      {"part", 2000},    {"supplier", 100},
      {"partsupp", 8000}, {"customer", 1500}, {"orders", 15000}, {"lineitem", 0}};
  expected["lineitem"] =
      QueryInt(**connection, "SELECT count(*) FROM tpch_rows('lineitem', 0.01, 0, 0, -1)");
  EXPECT_GT(expected["lineitem"], 55000);
  EXPECT_LT(expected["lineitem"], 65000);
  std::string union_sql;
  for (const auto& [table, rows] : expected) {
    if (!union_sql.empty()) union_sql += " UNION ALL ";
    union_sql += fmt::format("SELECT '{0}' AS t, count(*) AS n FROM {0}", table);
  }
  CommandRun counts = Shardlake(
      {"--data-dir", data_dir_.string(), "sql", "--format", "csv", union_sql + " ORDER BY t"});
  ASSERT_EQ(counts.exit_code, 0) << counts.output;
  for (const auto& [table, rows] : expected) {
    EXPECT_NE(counts.output.find(fmt::format("{},{}\n", table, rows)), std::string::npos)
        << table << " should have " << rows << " rows:\n"
        << counts.output;
  }
  // Also through explicit --catalog / --storage, as a server would open them.
  CommandRun explicit_uris =
      Shardlake({"--catalog", "sqlite://" + (data_dir_ / "catalog.sqlite").string(), "--storage",
                 "file://" + (data_dir_ / "lake").string(), "--data-dir",
                 (dir_ / "scratch").string(), "sql", "--format", "csv",
                 "SELECT count(*) FROM lineitem JOIN orders ON l_orderkey = "
                 "o_orderkey JOIN customer ON o_custkey = c_custkey"});
  ASSERT_EQ(explicit_uris.exit_code, 0) << explicit_uris.output;
  EXPECT_NE(explicit_uris.output.find(fmt::format("\n{}\n", expected["lineitem"])),
            std::string::npos)
      << explicit_uris.output;
  fs::remove_all(dir_ / "scratch");
  // The TPC-H queries run as written (unqualified names are in database main).
  std::string q03 = ReadFile(fs::path(SHARDLAKE_SOURCE_DIR) / "queries" / "tpch" / "q03.sql");
  ASSERT_FALSE(q03.empty());
  CommandRun query = Shardlake({"--data-dir", data_dir_.string(), "sql", "--format", "csv", q03});
  ASSERT_EQ(query.exit_code, 0) << query.output;
  EXPECT_NE(query.output.find("l_orderkey,revenue,o_orderdate,o_shippriority\n"), std::string::npos)
      << query.output;
  EXPECT_GT(std::count(query.output.begin(), query.output.end(), '\n'), 2) << query.output;

  // Buckets: orders and lineitem are in bucket=NN folders, each bucket's line
  // items are exactly those of its orders; replicated tables have no folder.
  fs::path lake = data_dir_ / "lake" / "main";
  EXPECT_TRUE(fs::is_directory(lake / "nation"));
  for (const auto& item : fs::directory_iterator(lake / "customer")) {
    EXPECT_TRUE(item.is_regular_file()) << "replicated tables are not bucketed: " << item.path();
  }
  int64_t orders_total = 0;
  int64_t lineitem_total = 0;
  int64_t previous_max_key = 0;
  for (int bucket = 0; bucket < 3; ++bucket) {
    std::string folder = fmt::format("bucket={:02d}", bucket);
    std::string orders =
        fmt::format("read_parquet('{}/*.parquet')", (lake / "orders" / folder).string());
    std::string lineitem =
        fmt::format("read_parquet('{}/*.parquet')", (lake / "lineitem" / folder).string());
    std::string all_lineitem =
        fmt::format("read_parquet('{}/*/*.parquet')", (lake / "lineitem").string());
    int64_t order_rows = QueryInt(**connection, "SELECT count(*) FROM " + orders);
    int64_t line_rows = QueryInt(**connection, "SELECT count(*) FROM " + lineitem);
    EXPECT_GT(order_rows, 4000) << folder;
    // Every line item of the bucket's orders, anywhere in the table, is in the bucket.
    EXPECT_EQ(QueryInt(**connection,
                       fmt::format("SELECT count(*) FROM {} WHERE l_orderkey IN (SELECT o_orderkey "
                                   "FROM {})",
                                   all_lineitem, orders)),
              line_rows)
        << folder;
    // And the bucket-local join loses no line item and no order.
    EXPECT_EQ(QueryInt(**connection,
                       fmt::format("SELECT count(*) FROM {} JOIN {} ON l_orderkey = o_orderkey",
                                   lineitem, orders)),
              line_rows)
        << folder;
    EXPECT_EQ(
        QueryInt(**connection, fmt::format("SELECT count(DISTINCT l_orderkey) FROM {}", lineitem)),
        order_rows)
        << folder;
    // Buckets are consecutive order-key ranges.
    EXPECT_GT(QueryInt(**connection, "SELECT min(o_orderkey) FROM " + orders), previous_max_key);
    previous_max_key = QueryInt(**connection, "SELECT max(o_orderkey) FROM " + orders);
    orders_total += order_rows;
    lineitem_total += line_rows;
  }
  EXPECT_EQ(orders_total, 15000);
  EXPECT_EQ(lineitem_total, expected["lineitem"]);

  // Re-running without --force fails and changes nothing.
  std::string before = Listing(dir_);
  CommandRun again = Shardlake(BootstrapArgs(data_dir_, "3"));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
  EXPECT_EQ(Listing(dir_), before);

  // With --force it replaces the directory as a whole.
  std::string old_users = ReadFile(data_dir_ / "users.json");
  std::vector<std::string> force_args = BootstrapArgs(data_dir_, "2", "7");
  force_args.push_back("--force");
  CommandRun forced = Shardlake(force_args);
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_NE(ReadFile(data_dir_ / "users.json"), old_users) << "new salts, new users file";
  manifest = nlohmann::json::parse(ReadFile(data_dir_ / "cluster.json"));
  EXPECT_EQ(manifest["shard_count"], 2);
  EXPECT_EQ(manifest["tpch"]["seed"], 7);
  EXPECT_FALSE(fs::exists(lake / "orders" / "bucket=02")) << "old buckets gone";
  EXPECT_TRUE(fs::is_directory(lake / "orders" / "bucket=01"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1)
      << Listing(dir_);
  CommandRun forced_counts = Shardlake(
      {"--data-dir", data_dir_.string(), "sql", "--format", "csv", "SELECT count(*) FROM orders"});
  ASSERT_EQ(forced_counts.exit_code, 0) << forced_counts.output;
  EXPECT_NE(forced_counts.output.find("\n15000\n"), std::string::npos) << forced_counts.output;
}

}  // namespace
}  // namespace shardlake
