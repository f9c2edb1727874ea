// `shardlake client`: the shell (client/shell.h) connected to a server.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "client/cluster_client.h"
#include "client/shell.h"
#include "fmt/format.h"

namespace shardlake::cli {
namespace {

constexpr const char* kDefaultServer = "127.0.0.1:31337";

std::string OptionValue(const CLI::App& command, const std::string& name,
                        const std::string& fallback = "") {
  const CLI::Option* option = command.get_option_no_throw(name);
  if (option == nullptr || option->count() == 0) return fallback;
  return option->as<std::string>();
}

// Reads a password from the terminal on stdin without echoing it.
absl::StatusOr<std::string> PromptPassword(const std::string& username) {
  std::fprintf(stderr, "Password for %s: ", username.c_str());
  std::fflush(stderr);
  termios saved{};
  bool restore = tcgetattr(STDIN_FILENO, &saved) == 0;
  if (restore) {
    termios silent = saved;
    silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent);
  }
  std::string password;
  bool read = static_cast<bool>(std::getline(std::cin, password));
  if (restore) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  std::fputc('\n', stderr);
  if (!read) return absl::InvalidArgumentError("no password was entered");
  return password;
}

// The password from --password, else SHARDLAKE_PASSWORD, else a prompt when
// stdin is a terminal.
absl::StatusOr<std::string> ResolvePassword(const CLI::App& command, const std::string& username) {
  const CLI::Option* flag = command.get_option_no_throw("--password");
  if (flag != nullptr && flag->count() > 0) return flag->as<std::string>();
  if (const char* env = std::getenv("SHARDLAKE_PASSWORD"); env != nullptr) return std::string(env);
  if (username.empty()) return std::string();
  if (isatty(STDIN_FILENO)) return PromptPassword(username);
  return absl::InvalidArgumentError(fmt::format(
      "no password for user '{}': pass --password, set SHARDLAKE_PASSWORD, or run on a terminal "
      "to be asked",
      username));
}

absl::StatusOr<std::unique_ptr<ClusterClient>> ConnectClient(const ClientOptions& options) {
#if SHARDLAKE_HAVE_CLUSTER_CLIENT
  return ClusterClient::Connect(options);
#else
  return absl::UnimplementedError(
      "this shardlake binary was built without the cluster client library (shardlake_client)");
#endif
}

}  // namespace

CLI::App* AddClientCommand(CLI::App& app) {
  CLI::App* command = app.add_subcommand(
      "client", "connect to a shardlake server: an interactive SQL shell, or run -c / -f");
  command->add_option("--server", "server address host:port (default 127.0.0.1:31337)");
  command->add_option("--tls-roots", "PEM file with the CA that signed the server certificate");
  command->add_option("--username", "user to log in as");
  command->add_option("--password",
                      "password (default: $SHARDLAKE_PASSWORD, else asked on the terminal)");
  command->add_option("-c,--command", "SQL to run (several statements allowed), then exit");
  command->add_option("-f,--file", "file of SQL and dot-commands to run, then exit")
      ->check(CLI::ExistingFile);
  command->add_option("--mode", "output: table (default), csv, json or jsonl")
      ->check(CLI::IsMember({"table", "csv", "json", "jsonl"}));
  return command;
}

int RunClient(const CLI::App& command) {
  ClientOptions options;
  options.address = OptionValue(command, "--server", kDefaultServer);
  options.tls_roots_path = OptionValue(command, "--tls-roots");
  options.username = OptionValue(command, "--username");
  auto password = ResolvePassword(command, options.username);
  if (!password.ok()) return ReportError(password.status());
  options.password = std::move(*password);
  auto mode = ParseOutputFormat(OptionValue(command, "--mode", "table"));
  if (!mode.ok()) return ReportError(mode.status());
  std::string sql = OptionValue(command, "--command");
  std::string file = OptionValue(command, "--file");
  if (!sql.empty() && !file.empty()) {
    return ReportError(absl::InvalidArgumentError("give either -c or -f, not both"));
  }

  auto client = ConnectClient(options);
  if (!client.ok()) {
    return ReportError(absl::Status(client.status().code(),
                                    fmt::format("cannot connect to {}: {}", options.address,
                                                std::string(client.status().message()))));
  }
  ShellOptions shell_options;
  shell_options.mode = *mode;
  shell_options.handle_interrupts = true;
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    shell_options.history_path = std::string(home) + "/.shardlake_history";
  }
  Shell shell(**client, shell_options);
  if (!sql.empty()) return shell.RunScript(sql);
  if (!file.empty()) {
    std::FILE* in = std::fopen(file.c_str(), "r");
    if (in == nullptr) {
      return ReportError(absl::NotFoundError(fmt::format("cannot open {}", file)));
    }
    int code = shell.RunStream(in);
    std::fclose(in);
    return code;
  }
  if (isatty(STDIN_FILENO)) {
    std::printf("shardlake client, connected to %s\n", options.address.c_str());
    return shell.RunInteractive();
  }
  return shell.RunStream(stdin);
}

}  // namespace shardlake::cli
