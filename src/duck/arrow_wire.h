// Arrow wire format: turns an ArrowBatch (Arrow C data interface, as produced
// by Connection::ToArrow) into one self-contained byte string and back, so
// result batches can travel in protobuf `bytes` fields between processes.
//
// The encoding carries the schema (formats, names, metadata, flags, children,
// dictionaries) and every buffer of the array tree, trimmed to the bytes the
// array's length and offset need (a child is cut to what its parent reads).
// Layout (little-endian; docs/arrow_wire.md has the details):
//   "SLAW" u8:version  schema-tree  array-tree
// Buffers start at multiples of 16 bytes from the start of the encoding, so a
// decoded batch's buffers are 16-byte aligned.
//
// Supported formats: n b c C s S i I l L e f g, decimals d:P,S[,32|64|128|256],
// u U z Z, w:N, tdD tdm, tts ttm ttu ttn, tss: tsm: tsu: tsn: (any time zone),
// tDs tDm tDu tDn, tiM tiD tin, +s +l +L +w:N +m, and dictionary-encoded arrays
// with integer indices. String views, list views, unions and run-end encoding
// are Unimplemented (DuckDB emits them only when its Arrow options ask for them).
//
// Decoding validates every count, length, offset, dictionary index, UTF-8
// string and decimal precision against the input before anything reads it:
// malformed or truncated bytes give InvalidArgument, never a crash or an
// out-of-bounds read.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "duck/duck.h"

namespace shardlake::duck {

// Encodes `batch` (schema and array; the batch keeps ownership and is not
// modified). Errors: Unimplemented for an Arrow format the encoder does not
// know (naming it); InvalidArgument for a released batch or one whose buffers
// or children do not match its schema.
absl::StatusOr<std::string> EncodeArrowBatch(ArrowBatch& batch);

// Decodes bytes made by EncodeArrowBatch into a batch that owns its buffers
// (one aligned copy of `bytes`, shared by every node of the tree and freed
// when the last node is released, whoever took it from the batch). Errors:
// InvalidArgument naming what is wrong and the byte offset where it was found.
absl::StatusOr<ArrowBatch> DecodeArrowBatch(std::string_view bytes);

}  // namespace shardlake::duck
