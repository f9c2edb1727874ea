// Conversions between absl::Status and grpc::Status. The codes are the same
// numbers (absl's StatusCode mirrors google.rpc.Code), so a status crosses an
// RPC unchanged.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace shardlake {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace shardlake
