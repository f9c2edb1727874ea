#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "fmt/format.h"

namespace shardlake::cli {

int RunLoad(const GlobalOptions& options, const std::string& table,
            const std::vector<std::string>& files) {
  auto engine = OpenEngine(options);
  if (!engine.ok()) return ReportError(engine.status());
  for (const auto& file : files) {
    auto stats = (*engine)->LoadFile(table, file);
    if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\r%60s\r", "");  // clear the progress line
    if (!stats.ok()) return ReportError(stats.status());
    double rate = stats->seconds > 0 ? stats->rows / stats->seconds : 0;
    std::printf("loaded %s: %lld rows into %lld file(s), %s, %.2f s (%.0f rows/s)\n", file.c_str(),
                static_cast<long long>(stats->rows), static_cast<long long>(stats->files),
                HumanBytes(stats->bytes).c_str(), stats->seconds, rate);
  }
  return 0;
}

}  // namespace shardlake::cli
