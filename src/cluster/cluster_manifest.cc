#include "cluster/cluster_manifest.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cluster/bootstrap_files.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace shardlake {
namespace {

constexpr int kManifestVersion = 1;
constexpr std::string_view kBucketPrefix = "bucket=";

}  // namespace

int BucketOfPath(const std::string& path) {
  if (path.compare(0, kBucketPrefix.size(), kBucketPrefix) != 0) return -1;
  size_t end = path.find('/', kBucketPrefix.size());
  if (end == std::string::npos || end == kBucketPrefix.size()) return -1;
  int bucket = 0;
  for (size_t i = kBucketPrefix.size(); i < end; ++i) {
    if (path[i] < '0' || path[i] > '9' || bucket > 1'000'000) return -1;
    bucket = bucket * 10 + (path[i] - '0');
  }
  return bucket;
}

absl::StatusOr<ClusterManifest> LoadClusterManifest(const std::string& data_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root = fs::absolute(data_dir, ec).lexically_normal();
  fs::path path = root / std::string(kClusterManifestName);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(fmt::format(
        "{} not found: {} is not a bootstrapped data dir; run `shardlake bootstrap "
        "--client-username=... --client-password=... --worker-password=...` first, or pass "
        "--data-dir with the directory it created",
        path.string(), root.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  auto bad = [&](std::string_view what) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: {}; re-create the data dir with `shardlake bootstrap`", path.string(), what));
  };
  if (json.is_discarded() || !json.is_object()) return bad("not a JSON object");
  if (json.value("format", "") != "shardlake-cluster")
    return bad("\"format\" is not shardlake-cluster");
  if (json.value("version", 0) != kManifestVersion) {
    return bad(
        fmt::format("unknown \"version\" (this shardlake reads version {})", kManifestVersion));
  }
  try {
    ClusterManifest manifest;
    manifest.data_dir = root.string();
    manifest.users_file = (root / json.at("users_file").get<std::string>()).string();
    manifest.tls_directory =
        (root / json.at("tls").at("server_certificate").get<std::string>()).parent_path().string();
    const auto& catalog = json.at("catalog");
    if (catalog.at("kind") != "sqlite") return bad("catalog.kind is not sqlite");
    manifest.catalog_uri = "sqlite://" + (root / catalog.at("path").get<std::string>()).string();
    const auto& storage = json.at("storage");
    if (storage.at("kind") != "file") return bad("storage.kind is not file");
    manifest.storage_uri = "file://" + (root / storage.at("path").get<std::string>()).string();
    manifest.database = json.value("database", "main");
    manifest.shard_count = json.value("shard_count", 0);
    const nlohmann::json& table_list = json.at("tables");
    for (const auto& [name, entry] : table_list.items()) {
      TableLayout layout;
      layout.name = manifest.database + "." + name;
      std::string placement = entry.value("placement", "");
      if (placement == "sharded") {
        layout.placement = Placement::kSharded;
        layout.shard_key = entry.at("shard_key").get<std::string>();
        layout.colocation_group = entry.value("colocation_group", "");
        layout.bucket_count = manifest.shard_count;
      } else if (placement == "replicated") {
        layout.placement = Placement::kReplicated;
      } else {
        layout.placement = Placement::kPartitioned;
      }
      manifest.layouts[layout.name] = layout;
    }
    return manifest;
  } catch (const nlohmann::json::exception& e) {
    return bad(fmt::format("missing or malformed field ({})", e.what()));
  }
}

}  // namespace shardlake
