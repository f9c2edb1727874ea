// `shardlake worker`: connects to the server and runs its tasks until SIGINT
// or SIGTERM.
#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "cli/stop_signals.h"
#include "cluster/worker.h"

namespace shardlake::cli {

CLI::App* AddWorkerCommand(CLI::App& app, WorkerFlags& flags) {
  CLI::App* command =
      app.add_subcommand("worker", "run a cluster worker that connects to a shardlake server");
  command->add_option("--server", flags.server, "server host:port (default 127.0.0.1:31337)");
  command->add_option("--tls-roots", flags.tls_roots, "the cluster's CA certificate (ca.crt)")
      ->required();
  command->add_option("--password", flags.password, "the worker password from the bootstrap")
      ->required();
  command->add_option("--name", flags.name, "worker name (default <host>-<pid>)");
  command
      ->add_option("--max-tasks", flags.max_tasks,
                   "tasks run at once (default 1: a task uses all --threads)")
      ->check(CLI::Range(1, 1024));
  command->add_option("--cache-dir", flags.cache_dir,
                      "local cache of objects from remote stores (default: a temp dir)");
  return command;
}

int RunWorker(const GlobalOptions& options, const WorkerFlags& flags) {
  StopSignals stop_signals;
  WorkerOptions worker_options;
  worker_options.server_address = flags.server;
  worker_options.tls_roots_path = flags.tls_roots;
  worker_options.password = flags.password;
  worker_options.name = flags.name;
  worker_options.max_tasks = flags.max_tasks;
  worker_options.threads = options.threads;
  worker_options.memory_limit = options.memory_limit;
  worker_options.cache_dir = flags.cache_dir;
  ClusterWorker worker(worker_options);
  stop_signals.OnSignal("shardlake worker", [&worker] { worker.Stop(); });
  absl::Status status = worker.Run();
  stop_signals.Finish();
  if (!status.ok()) return ReportError(status);
  return 0;
}

}  // namespace shardlake::cli
