#include "cluster/result_batches.h"

#include <algorithm>

#include "cluster/task_runner.h"
#include "common/status_macros.h"
#include "duck/arrow_wire.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

static_assert(kMaxRowBatchBytes + (1 << 20) <= kMaxMessageBytes,
              "a one-row batch must fit a message with room for its framing");

double Mebibytes(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

absl::StatusOr<std::string> Encode(duck::Connection& connection, duck::Result& result,
                                   duck::DataChunk& chunk) {
  ASSIGN_OR_RETURN(duck::ArrowBatch batch, connection.ToArrow(result, chunk));
  return duck::EncodeArrowBatch(batch);
}

absl::Status SendInPieces(duck::Connection& connection, duck::Result& result,
                          duck::DataChunk& chunk, size_t first, size_t count, int64_t encoded_bytes,
                          const BatchLimits& limits, const BatchConsumer& consume);

// Sends `encoded`, the encoding of rows [first, first + count) of `chunk`:
// as it is when it fits (or is one row within max_row_bytes), else in pieces.
absl::Status Send(duck::Connection& connection, duck::Result& result, duck::DataChunk& chunk,
                  size_t first, size_t count, std::string encoded, const BatchLimits& limits,
                  const BatchConsumer& consume) {
  auto size = static_cast<int64_t>(encoded.size());
  if (size <= limits.max_batch_bytes || (count == 1 && size <= limits.max_row_bytes)) {
    return consume(std::move(encoded), static_cast<int64_t>(count));
  }
  if (count == 1) {
    return absl::ResourceExhaustedError(fmt::format(
        "a result row encodes to {:.1f} MiB, more than the {:.0f} MiB one message can carry; "
        "select fewer or shorter values per row (e.g. substr() of long strings)",
        Mebibytes(size), Mebibytes(limits.max_row_bytes)));
  }
  encoded = std::string();  // only its size is needed from here on
  return SendInPieces(connection, result, chunk, first, count, size, limits, consume);
}

// Sends rows [first, first + count) of `chunk`, whose encoding takes
// `encoded_bytes` (more than the bound), as row ranges that fit.
absl::Status SendInPieces(duck::Connection& connection, duck::Result& result,
                          duck::DataChunk& chunk, size_t first, size_t count, int64_t encoded_bytes,
                          const BatchLimits& limits, const BatchConsumer& consume) {
  // Ranges sized for 3/4 of the bound, so rows of uneven width rarely need a
  // second cut; at least two, so every cut makes progress.
  int64_t target = std::max<int64_t>(limits.max_batch_bytes * 3 / 4, 1);
  size_t pieces = std::max<size_t>(static_cast<size_t>((encoded_bytes + target - 1) / target), 2);
  size_t rows_per_piece = std::max<size_t>((count + pieces - 1) / pieces, 1);
  for (size_t begin = first; begin < first + count; begin += rows_per_piece) {
    size_t rows = std::min(rows_per_piece, first + count - begin);
    ASSIGN_OR_RETURN(auto piece, chunk.CopyRows(begin, rows));
    ASSIGN_OR_RETURN(std::string encoded, Encode(connection, result, *piece));
    piece.reset();
    RETURN_IF_ERROR(
        Send(connection, result, chunk, begin, rows, std::move(encoded), limits, consume));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EncodeChunkInBatches(duck::Connection& connection, duck::Result& result,
                                  duck::DataChunk& chunk, const BatchLimits& limits,
                                  const BatchConsumer& consume) {
  ASSIGN_OR_RETURN(std::string whole, Encode(connection, result, chunk));
  return Send(connection, result, chunk, 0, chunk.RowCount(), std::move(whole), limits, consume);
}

}  // namespace shardlake
