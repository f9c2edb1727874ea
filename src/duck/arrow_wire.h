// Arrow wire format: turns an ArrowBatch (Arrow C data interface, as produced
// by Connection::ToArrow) into one self-contained byte string and back, so
// result batches can travel in protobuf `bytes` fields between processes.
//
// The encoding carries the schema (formats, names, flags, children) and every
// buffer of the array tree, trimmed to the bytes the array's length and offset
// need. Decoding validates every count and length against the input before it
// touches memory: malformed or truncated bytes give InvalidArgument, never a
// crash or an out-of-bounds read.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "duck/duck.h"

namespace shardlake::duck {

// Encodes `batch` (schema and array; the batch keeps ownership). Errors:
// Unimplemented for an Arrow format the encoder does not know (naming it).
absl::StatusOr<std::string> EncodeArrowBatch(ArrowBatch& batch);

// Decodes bytes made by EncodeArrowBatch into a batch that owns its buffers
// (released by the batch, or by whoever takes the array from it).
absl::StatusOr<ArrowBatch> DecodeArrowBatch(std::string_view bytes);

}  // namespace shardlake::duck
