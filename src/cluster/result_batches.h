// Result batches with a bounded size: one DuckDB chunk (up to 2048 rows)
// becomes one or more Arrow batches (duck/arrow_wire.h) of at most
// `max_batch_bytes` each, so a chunk of wide VARCHAR or BLOB rows never makes
// a message the size of the whole chunk. Workers send their task results and
// the server sends its results to clients through it.
//
// A chunk that encodes within the bound goes as one batch (the common case
// costs one encoding). A larger one is cut into row ranges sized from its
// encoded size, and a range still too large is cut again, down to single rows.
// A single row larger than `max_batch_bytes` goes alone in a batch of its
// own, up to `max_row_bytes`; a row past that fails the statement with
// ResourceExhausted naming its size and the limit.
//
// Thread-safety: a function of its arguments; the connection, result and
// chunk are used by the calling thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "duck/duck.h"

namespace shardlake {

// The bound on one result message (ExecuteReply, WorkerMessage) carrying a
// batch, and on the batch itself: the message's framing (tags, lengths, task
// id) takes a few bytes of the 1 KiB left.
inline constexpr int64_t kMaxResultMessageBytes = int64_t{4} << 20;
inline constexpr int64_t kMaxBatchBytes = kMaxResultMessageBytes - 1024;
// The bound on a batch holding one row that alone exceeds kMaxBatchBytes: it
// stays under kMaxMessageBytes (task_runner.h, 64 MiB) with room for framing.
inline constexpr int64_t kMaxRowBatchBytes = int64_t{60} << 20;

struct BatchLimits {
  int64_t max_batch_bytes = kMaxBatchBytes;
  int64_t max_row_bytes = kMaxRowBatchBytes;
};

// Receives one encoded batch and its row count; an error stops the encoding
// and is returned as is.
using BatchConsumer = std::function<absl::Status(std::string batch, int64_t rows)>;

// Encodes `chunk` (a chunk of `result`) as batches within `limits`, in row
// order, handing each to `consume`. Errors: ResourceExhausted for a row larger
// than limits.max_row_bytes; the encoder's errors (arrow_wire.h); whatever
// `consume` returns.
absl::Status EncodeChunkInBatches(duck::Connection& connection, duck::Result& result,
                                  duck::DataChunk& chunk, const BatchLimits& limits,
                                  const BatchConsumer& consume);

}  // namespace shardlake
