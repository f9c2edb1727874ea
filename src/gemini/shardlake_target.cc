// The shardlake:// target: a shardlake server reached through the cluster
// client (src/client/cluster_client.h). Built only when the client library
// (target shardlake_client) is part of the build; otherwise opening such a
// target says so.
#include "common/status_macros.h"
#include "common/uri.h"
#include "fmt/format.h"
#include "gemini/lake_target.h"

#ifdef SHARDLAKE_GEMINI_WITH_CLUSTER_CLIENT
#include <mutex>

#include "client/cluster_client.h"
#include "common/sql_text.h"
#endif

namespace shardlake::gemini {

#ifdef SHARDLAKE_GEMINI_WITH_CLUSTER_CLIENT
namespace {

// One client connection, serialized by a mutex (the client runs one call at
// a time; Cancel() may come from any thread).
class ShardlakeTarget : public LakeTarget {
 public:
  ShardlakeTarget(std::string describe, std::unique_ptr<ClusterClient> client)
      : describe_(std::move(describe)), client_(std::move(client)) {}

  std::string Describe() const override { return describe_; }
  void Interrupt() override { client_->Cancel(); }

 protected:
  absl::Status Run(const std::string& sql, ResultSink& sink) override {
    return client_->Execute(sql, sink).status();
  }

 private:
  std::string describe_;
  std::unique_ptr<ClusterClient> client_;
};

}  // namespace
#endif

absl::StatusOr<std::unique_ptr<Target>> OpenShardlakeTarget(const std::string& uri) {
  ASSIGN_OR_RETURN(Uri parsed, ParseUri(uri));
  if (parsed.host.empty() || parsed.port == 0) {
    return absl::InvalidArgumentError(fmt::format(
        "target {}: needs host and port: shardlake://user:pw@host:port?tls-roots=ca.pem",
        parsed.Redacted()));
  }
#ifdef SHARDLAKE_GEMINI_WITH_CLUSTER_CLIENT
  ClientOptions options;
  options.address = fmt::format("{}:{}", parsed.host, parsed.port);
  if (auto it = parsed.query.find("tls-roots"); it != parsed.query.end()) {
    options.tls_roots_path = it->second;
  }
  size_t colon = parsed.userinfo.find(':');
  options.username = parsed.userinfo.substr(0, colon);
  if (colon != std::string::npos) options.password = parsed.userinfo.substr(colon + 1);
  auto client = ClusterClient::Connect(options);
  if (!client.ok()) {
    return absl::Status(
        client.status().code(),
        fmt::format("target {}: {}", parsed.Redacted(), std::string(client.status().message())));
  }
  return std::make_unique<ShardlakeTarget>(parsed.Redacted(), std::move(*client));
#else
  return absl::UnimplementedError(fmt::format(
      "target {}: this shardlake was built without the cluster client (src/client); use "
      "embedded: or sql:// for the in-process engine",
      parsed.Redacted()));
#endif
}

}  // namespace shardlake::gemini
