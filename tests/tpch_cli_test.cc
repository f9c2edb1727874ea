// End-to-end: `shardlake tpch gen` writes the tables, `shardlake load` puts
// them in a catalog, and each of the 22 queries in queries/tpch/ runs through
// `shardlake sql` as a user would run it. The binary comes from SHARDLAKE_BIN.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli_runner.h"
#include "common/ids.h"
#include "fmt/format.h"
#include "tpch/generator.h"

namespace shardlake {
namespace {

namespace fs = std::filesystem;

struct CommandRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `shardlake <args>` with the contents of `stdin_file` (when given) on
// stdin; stdout and stderr are returned together.
CommandRun Shardlake(const std::vector<std::string>& args, const std::string& stdin_file = "") {
  std::string input;
  if (!stdin_file.empty()) {
    std::ifstream in(stdin_file);
    std::stringstream text;
    text << in.rdbuf();
    input = text.str();
  }
  CommandResult result = RunShardlake(args, input);
  return CommandRun{result.exit_code, result.out + result.err};
}

TEST(TpchCliTest, GenerateLoadAndRunThe22Queries) {
  fs::path dir = fs::temp_directory_path() / ("shardlake-tpch-cli-" + NewUuid());
  fs::path out = dir / "parquet";
  CommandRun gen = Shardlake({"tpch", "gen", "--sf", "0.01", "--out", out.string(), "--threads",
                              "2", "--rows-per-file", "25000"});
  ASSERT_EQ(gen.exit_code, 0) << gen.output;
  EXPECT_NE(gen.output.find("lineitem"), std::string::npos) << gen.output;
  EXPECT_NE(gen.output.find("TPC-H SF 0.01 (seed 0)"), std::string::npos) << gen.output;
  EXPECT_TRUE(fs::exists(out / "lineitem" / "part-00001.parquet")) << "lineitem split in files";

  // Writing into the same directory again is refused, and names the problem.
  CommandRun again = Shardlake({"tpch", "gen", "--sf", "0.01", "--out", out.string()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.output.find("already holds files"), std::string::npos) << again.output;
  CommandRun bad_table = Shardlake({"tpch", "gen", "--sf", "0.01", "--out", (dir / "x").string(),
                                    "--tables", "nation,lineitems"});
  EXPECT_EQ(bad_table.exit_code, 1);
  EXPECT_NE(bad_table.output.find("unknown TPC-H table 'lineitems'"), std::string::npos)
      << bad_table.output;

  std::string data_dir = (dir / "data").string();
  for (tpch::Table table : tpch::kAllTables) {
    std::string name(tpch::TableName(table));
    CommandRun create =
        Shardlake({"--data-dir", data_dir, "sql",
                   fmt::format("CREATE TABLE main.{} ({})", name, tpch::ColumnDefinitions(table))});
    ASSERT_EQ(create.exit_code, 0) << create.output;
    std::vector<std::string> load = {"--data-dir", data_dir, "load", "main." + name};
    for (const auto& entry : fs::directory_iterator(out / name)) load.push_back(entry.path());
    CommandRun loaded = Shardlake(load);
    ASSERT_EQ(loaded.exit_code, 0) << loaded.output;
  }
  for (int number = 1; number <= 22; ++number) {
    fs::path query =
        fs::path(SHARDLAKE_SOURCE_DIR) / "queries/tpch" / fmt::format("q{:02}.sql", number);
    CommandRun run = Shardlake({"--data-dir", data_dir, "sql", "--format", "csv"}, query.string());
    EXPECT_EQ(run.exit_code, 0) << "Q" << number << ":\n" << run.output;
    EXPECT_FALSE(run.output.empty()) << "Q" << number << " printed nothing (not even a header)";
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shardlake
