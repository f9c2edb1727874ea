#include <cstdio>

#include "cli/commands.h"
#include "common/time_util.h"
#include "compact/compactor.h"
#include "duck/duck.h"
#include "fmt/format.h"

namespace shardlake::cli {

int RunCompact(const GlobalOptions& options, bool now, double grace_seconds) {
  auto engine = OpenEngine(options);
  if (!engine.ok()) return ReportError(engine.status());
  auto db = duck::Database::Open("", {{"autoinstall_known_extensions", "false"}});
  if (!db.ok()) return ReportError(db.status());
  auto connection = duck::Connection::Open(**db);
  if (!connection.ok()) return ReportError(connection.status());
  auto file_cache = (*engine)->file_cache();
  if (!file_cache.ok()) return ReportError(file_cache.status());
  Compactor compactor((*engine)->index(), (*engine)->store(), **connection,
                      options.data_dir + "/staging", *file_cache);
  CompactionOptions compaction;
  compaction.ignore_timeouts = now;
  compaction.drop_grace_ns = static_cast<int64_t>(grace_seconds * 1e9);
  auto stats = compactor.RunOnce(compaction, NowUnixNanos());
  if (!stats.ok()) return ReportError(stats.status());
  std::printf(
      "compacted: %lld plan(s), %lld file(s) merged into %lld, %lld rows, %s written; %lld "
      "source file(s) deleted; %.2f s\n",
      static_cast<long long>(stats->plans), static_cast<long long>(stats->files_merged),
      static_cast<long long>(stats->plans), static_cast<long long>(stats->rows),
      HumanBytes(stats->bytes_written).c_str(), static_cast<long long>(stats->files_deleted),
      stats->seconds);
  return 0;
}

}  // namespace shardlake::cli
