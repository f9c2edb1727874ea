// `shardlake server`: serves the cluster from a bootstrapped data dir until
// SIGINT or SIGTERM.
#include <cstdio>
#include <fstream>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "cli/stop_signals.h"
#include "cluster/server.h"
#include "fmt/format.h"

namespace shardlake::cli {

CLI::App* AddServerCommand(CLI::App& app, ServerFlags& flags) {
  CLI::App* command = app.add_subcommand(
      "server", "run the cluster server (TLS, users and lake from `shardlake bootstrap`)");
  command->add_option("--listen", flags.listen,
                      "host:port to serve on (default 127.0.0.1:31337; port 0 = OS-chosen)");
  command->add_option("--port-file", flags.port_file,
                      "write the bound port to this file once serving");
  command->add_option("--compact-interval", flags.compact_interval_seconds,
                      "seconds between background compactions (default 60, 0 = off)");
  command
      ->add_option("--query-buffer-mb", flags.query_buffer_mb,
                   "worker result MiB buffered per distributed query before the workers are "
                   "held back (default 64)")
      ->check(CLI::Range(0.001, 1e6));
  return command;
}

int RunServer(const GlobalOptions& options, const ServerFlags& flags) {
  StopSignals stop_signals;  // before the server starts any thread
  ServerOptions server_options;
  server_options.data_dir = options.data_dir;
  server_options.listen_address = flags.listen;
  server_options.threads = options.threads;
  server_options.memory_limit = options.memory_limit;
  server_options.compact_interval_seconds = flags.compact_interval_seconds;
  server_options.query_buffer_bytes = static_cast<int64_t>(flags.query_buffer_mb * (1 << 20));
  auto server = ClusterServer::Start(server_options);
  if (!server.ok()) return ReportError(server.status());
  if (!flags.port_file.empty()) {
    std::string temp = flags.port_file + ".tmp";
    std::ofstream(temp) << (*server)->port() << "\n";
    if (std::rename(temp.c_str(), flags.port_file.c_str()) != 0) {
      return ReportError(
          absl::UnavailableError(fmt::format("cannot write the port file {}", flags.port_file)));
    }
  }
  stop_signals.OnSignal("shardlake server", [&server] { (*server)->Shutdown(); });
  (*server)->Wait();
  stop_signals.Finish();
  return 0;
}

}  // namespace shardlake::cli
