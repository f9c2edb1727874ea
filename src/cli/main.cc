// shardlake: a distributed analytical database for time-series and lake data.
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/catalog_admin.h"
#include "cli/commands.h"

#ifndef SHARDLAKE_VERSION
#define SHARDLAKE_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using shardlake::cli::GlobalOptions;
  GlobalOptions options;
  CLI::App app{"shardlake: SQL over Parquet files in a lake, with a catalog of what is where"};
  app.require_subcommand(1);
  app.add_option("--data-dir", options.data_dir,
                 "directory for the embedded catalog and store (default ./shardlake-data)");
  app.add_option("--catalog", options.catalog,
                 "catalog URI (default sqlite://<data-dir>/catalog.sqlite; also memory://name)");
  app.add_option("--storage", options.storage,
                 "object store URI (default file://<data-dir>/lake; also memory://name)");
  app.add_option("--threads", options.threads, "DuckDB worker threads (default: all cores)");
  app.add_option("--memory-limit", options.memory_limit, "DuckDB memory limit, e.g. 2GB");
  // s3:// stores; each flag beats its environment variable (docs/storage.md).
  app.add_option("--s3-access-key-id", options.s3_access_key_id,
                 "S3 access key id (default $AWS_ACCESS_KEY_ID)");
  app.add_option("--s3-secret-access-key-file", options.s3_secret_access_key_file,
                 "file holding the S3 secret access key (default $AWS_SECRET_ACCESS_KEY)");
  app.add_option("--s3-secret-access-key", options.s3_secret_access_key,
                 "S3 secret access key; visible in `ps`, prefer --s3-secret-access-key-file");
  app.add_option("--s3-session-token", options.s3_session_token,
                 "S3 session token of temporary credentials (default $AWS_SESSION_TOKEN)");
  app.add_option("--s3-region", options.s3_region,
                 "S3 signing region when the URI has no region= (default $AWS_REGION)");
  app.add_option("--s3-endpoint", options.s3_endpoint,
                 "S3 server URL when the URI has no endpoint=, e.g. http://127.0.0.1:7480");
  app.add_option("--s3-ca-file", options.s3_ca_file,
                 "CA certificates (PEM) for an https S3 endpoint (default "
                 "$SHARDLAKE_S3_CA_FILE, $AWS_CA_BUNDLE)");

  std::string sql;
  CLI::App* sql_cmd = app.add_subcommand(
      "sql", "run SQL; with no argument read statements from stdin or open a prompt");
  sql_cmd->add_option("sql", sql, "statements separated by ';'");
  sql_cmd->add_option("--format", options.format, "output format: table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));
  sql_cmd->add_flag("--stats", options.stats,
                    "after each query print files scanned / pruned and the time taken");

  std::string table;
  std::vector<std::string> files;
  CLI::App* load_cmd =
      app.add_subcommand("load", "load CSV / TSV, Parquet or NDJSON files into a table");
  load_cmd->add_option("table", table, "target table, database.table")->required();
  load_cmd->add_option("files", files, "input files (.csv .tsv .parquet .ndjson .jsonl .json)")
      ->required();

  app.add_subcommand("tables", "list tables with their files, rows and bytes");

  std::string files_table, after, before;
  CLI::App* files_cmd = app.add_subcommand("files", "list the files the catalog holds for a table");
  files_cmd->add_option("table", files_table, "database.table")->required();
  files_cmd->add_option("--after", after, "only files with rows at or after this time");
  files_cmd->add_option("--before", before, "only files with rows at or before this time");

  bool compact_now = false;
  double grace_seconds = 60;
  CLI::App* compact_cmd = app.add_subcommand(
      "compact", "merge small files that are due into larger ones (once), delete merged sources");
  compact_cmd->add_flag("--now", compact_now,
                        "merge every pending plan without waiting for its timeout");
  compact_cmd->add_option("--grace", grace_seconds,
                          "seconds merged sources stay readable before deletion (default 60)");

  std::string catalog_action;
  shardlake::cli::CatalogAdminFlags admin_flags;
  CLI::App* catalog_cmd = app.add_subcommand("catalog", shardlake::cli::kCatalogAdminHelp);
  catalog_cmd->add_option("action", catalog_action, "init | migrate | status | drop")
      ->check(CLI::IsMember({"init", "migrate", "status", "drop"}));
  catalog_cmd->add_flag("--yes", admin_flags.yes, shardlake::cli::kCatalogAdminYesHelp);
  catalog_cmd->require_subcommand(0, 1);
  std::string cache_action;
  std::vector<std::string> cache_tables;
  CLI::App* cache_cmd = catalog_cmd->add_subcommand("cache", shardlake::cli::kCatalogCacheHelp);
  cache_cmd->add_option("action", cache_action, "build | status")
      ->required()
      ->check(CLI::IsMember({"build", "status"}));
  cache_cmd
      ->add_option("--tables", cache_tables, "tables to read into the cache (db.table or table)")
      ->delimiter(',');

  shardlake::cli::TpchFlags tpch_flags;
  CLI::App* tpch_cmd = shardlake::cli::AddTpchCommand(app, tpch_flags);

  shardlake::cli::BootstrapFlags bootstrap_flags;
  CLI::App* bootstrap_cmd = shardlake::cli::AddBootstrapCommand(app, bootstrap_flags);

  shardlake::cli::ServerFlags server_flags;
  CLI::App* server_cmd = shardlake::cli::AddServerCommand(app, server_flags);
  shardlake::cli::WorkerFlags worker_flags;
  CLI::App* worker_cmd = shardlake::cli::AddWorkerCommand(app, worker_flags);

  CLI::App* client_cmd = shardlake::cli::AddClientCommand(app);
  shardlake::cli::GeminiFlags gemini_flags;
  CLI::App* gemini_cmd = shardlake::cli::AddGeminiCommand(app, gemini_flags);

  app.add_subcommand("version", "print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    // gemini's contract: 2 for bad flags (1 means "differences found").
    return code != 0 && gemini_cmd->parsed() ? 2 : code;
  }
  if (app.got_subcommand("version")) {
    std::printf("shardlake %s (DuckDB 1.4.4)\n", SHARDLAKE_VERSION);
    return 0;
  }
  if (app.got_subcommand("sql")) return shardlake::cli::RunSql(options, sql);
  if (app.got_subcommand("load")) return shardlake::cli::RunLoad(options, table, files);
  if (app.got_subcommand("tables")) return shardlake::cli::RunTables(options);
  if (cache_cmd->parsed()) {
    return shardlake::cli::RunCatalogCache(options, cache_action, cache_tables);
  }
  if (app.got_subcommand("catalog")) {
    if (catalog_action.empty()) {
      std::fprintf(stderr, "error: `shardlake catalog` needs an action: %s\n",
                   shardlake::cli::kCatalogAdminHelp);
      return 2;
    }
    return shardlake::cli::RunCatalogAdmin(options, catalog_action, admin_flags);
  }
  if (app.got_subcommand("compact")) {
    return shardlake::cli::RunCompact(options, compact_now, grace_seconds);
  }
  if (bootstrap_cmd->parsed()) return shardlake::cli::RunBootstrap(options, bootstrap_flags);
  if (tpch_cmd->parsed()) return shardlake::cli::RunTpch(options, tpch_flags);
  if (server_cmd->parsed()) return shardlake::cli::RunServer(options, server_flags);
  if (worker_cmd->parsed()) return shardlake::cli::RunWorker(options, worker_flags);
  if (client_cmd->parsed()) return shardlake::cli::RunClient(*client_cmd);
  if (gemini_cmd->parsed()) {
    return shardlake::cli::RunGemini(options, gemini_flags,
                                     app.get_option("--data-dir")->count() > 0);
  }
  if (app.got_subcommand("files")) {
    return shardlake::cli::RunFiles(options, files_table, after, before);
  }
  return 1;
}
