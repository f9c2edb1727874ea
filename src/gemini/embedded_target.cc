// The embedded target: shardlake's Engine in process, over a sqlite catalog
// and a file store. The Engine runs one statement at a time, so calls are
// serialized by a mutex.
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "common/ids.h"
#include "common/sql_text.h"
#include "common/status_macros.h"
#include "fmt/format.h"
#include "gemini/lake_target.h"
#include "query/engine.h"
#include "storage/object_store.h"

namespace shardlake::gemini {
namespace {

namespace fs = std::filesystem;

class EmbeddedTarget : public LakeTarget {
 public:
  EmbeddedTarget(std::string describe, fs::path dir, bool remove_dir,
                 std::unique_ptr<Engine> engine)
      : describe_(std::move(describe)),
        dir_(std::move(dir)),
        remove_dir_(remove_dir),
        engine_(std::move(engine)) {}

  ~EmbeddedTarget() override {
    engine_.reset();
    if (remove_dir_) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  std::string Describe() const override { return describe_; }
  void Interrupt() override { engine_->Interrupt(); }

 protected:
  absl::Status Run(const std::string& sql, ResultSink& sink) override {
    return engine_->Execute(sql, sink).status();
  }

 private:
  std::string describe_;
  fs::path dir_;
  bool remove_dir_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> OpenEmbeddedTarget(const std::string& uri,
                                                           const std::string& dir_text,
                                                           const TargetOptions& options) {
  std::error_code ec;
  fs::path dir = !dir_text.empty() ? fs::path(dir_text) : fs::path(options.data_dir);
  bool remove_dir = false;
  if (dir.empty()) {
    dir = fs::temp_directory_path() / ("shardlake-gemini-" + NewUuid());
    remove_dir = true;
  }
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    return absl::FailedPreconditionError(
        fmt::format("embedded target {}: cannot use data directory {}: {}", uri, dir.string(),
                    ec ? ec.message() : "not a directory"));
  }
  dir = fs::absolute(dir, ec).lexically_normal();
  ASSIGN_OR_RETURN(auto index, OpenIndex("sqlite://" + (dir / "catalog.sqlite").string()));
  ASSIGN_OR_RETURN(auto store, OpenObjectStore("file://" + (dir / "lake").string()));
  EngineOptions engine_options;
  engine_options.staging_dir = (dir / "staging").string();
  engine_options.duckdb_options["temp_directory"] = (dir / "staging" / "duckdb-tmp").string();
  if (options.threads > 0) {
    engine_options.duckdb_options["threads"] = std::to_string(options.threads);
  }
  auto engine = Engine::Open(std::move(index), std::move(store), std::move(engine_options));
  if (!engine.ok()) {
    if (remove_dir) fs::remove_all(dir, ec);
    return absl::Status(
        engine.status().code(),
        fmt::format("embedded target {}: {}", uri, std::string(engine.status().message())));
  }
  std::string describe = remove_dir ? "embedded:" : "embedded:" + dir.string();
  return std::make_unique<EmbeddedTarget>(std::move(describe), dir, remove_dir, std::move(*engine));
}

}  // namespace shardlake::gemini
