// The duckdb: target: a plain in-memory DuckDB database, the reference for
// what the embedded engine should answer. One connection, serialized by a
// mutex; every column is rendered by DuckDB as VARCHAR, as the engine does.
#include <mutex>

#include "common/sql_text.h"
#include "common/status_macros.h"
#include "duck/duck.h"
#include "fmt/format.h"
#include "gemini/target.h"

namespace shardlake::gemini {
namespace {

class DuckDbTarget : public Target {
 public:
  DuckDbTarget(std::unique_ptr<duck::Database> database,
               std::unique_ptr<duck::Connection> connection)
      : database_(std::move(database)), connection_(std::move(connection)) {}

  std::string Describe() const override { return "duckdb:"; }
  bool SupportsDelete() const override { return true; }

  absl::Status Execute(const std::string& sql) override {
    std::lock_guard<std::mutex> lock(mu_);
    return connection_->Execute(Render(sql));
  }

  absl::StatusOr<TextRows> Query(const std::string& sql) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(auto result, connection_->Query(fmt::format(
                                      "SELECT COLUMNS(*)::VARCHAR FROM ({}\n) AS __gemini_result",
                                      Render(sql))));
    return result->FetchAllAsStrings();
  }

  void Interrupt() override { connection_->Interrupt(); }

 private:
  std::mutex mu_;
  std::unique_ptr<duck::Database> database_;
  std::unique_ptr<duck::Connection> connection_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> OpenDuckDbTarget(const std::string& uri,
                                                         const TargetOptions& options) {
  std::map<std::string, std::string> duck_options;
  if (options.threads > 0) duck_options["threads"] = std::to_string(options.threads);
  ASSIGN_OR_RETURN(auto database, duck::Database::Open(":memory:", duck_options));
  ASSIGN_OR_RETURN(auto connection, duck::Connection::Open(*database));
  return std::make_unique<DuckDbTarget>(std::move(database), std::move(connection));
}

}  // namespace shardlake::gemini
