// LakeTarget: the common part of the targets that speak shardlake's SQL (the
// in-process engine and a shardlake server): schema statements, and one
// statement at a time behind a mutex. A subclass only runs a statement.
//
// Thread-safety: as Target; Run() is called with the mutex held, so it never
// runs twice at once. Interrupt() is not serialized.
#pragma once

#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "common/sql_text.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "gemini/target.h"
#include "query/engine.h"

namespace shardlake::gemini {

class LakeTarget : public Target {
 public:
  // Lake tables are append-only.
  bool SupportsDelete() const override { return false; }

  absl::Status CreateSchema(const Schema& schema, bool drop_first) override {
    if (drop_first) RETURN_IF_ERROR(DropSchema(schema));
    for (const Table& table : schema.tables) {
      RETURN_IF_ERROR(Execute(CreateTableSql(schema, table)));
    }
    return absl::OkStatus();
  }

  absl::Status DropSchema(const Schema& schema) override {
    for (const Table& table : schema.tables) {
      RETURN_IF_ERROR(
          Execute(fmt::format("DROP TABLE IF EXISTS {}.{}", QuoteIdentifier(schema.database),
                              QuoteIdentifier(table.name))));
    }
    return absl::OkStatus();
  }

  absl::Status Execute(const std::string& sql) override {
    std::lock_guard<std::mutex> lock(mu_);
    CollectingSink sink;
    return Run(Render(sql), sink);
  }

  absl::StatusOr<TextRows> Query(const std::string& sql) override {
    std::lock_guard<std::mutex> lock(mu_);
    CollectingSink sink;
    RETURN_IF_ERROR(Run(Render(sql), sink));
    return sink.rows();
  }

 protected:
  // Runs one statement, its rows (if any) to `sink`.
  virtual absl::Status Run(const std::string& sql, ResultSink& sink) = 0;

 private:
  std::mutex mu_;
};

}  // namespace shardlake::gemini
