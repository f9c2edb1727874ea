#include "duck/arrow_wire.h"

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake::duck {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the Arrow wire format is little-endian, as are Arrow buffers on this platform");

// 128-bit integers hold Arrow's decimal128 values.
__extension__ typedef __int128 Int128;

constexpr char kMagic[4] = {'S', 'L', 'A', 'W'};
constexpr uint8_t kVersion = 1;
constexpr size_t kBufferAlignment = 16;
// Nesting deeper than this is refused (decoding recurses once per level).
constexpr int kMaxDepth = 64;
// Bounds that keep every size computation far from overflow: an array has at
// most 2^40 slots and a fixed width at most 2^20 bytes.
constexpr int64_t kMaxSlots = int64_t{1} << 40;
constexpr int64_t kMaxFixedWidth = int64_t{1} << 20;
constexpr int64_t kKnownSchemaFlags = 1 | 2 | 4;  // dictionary ordered, nullable, map keys sorted

// How an Arrow format lays out its buffers and children.
struct Layout {
  enum class Kind {
    kNull,           // no buffers
    kBoolean,        // validity, bits
    kFixedWidth,     // validity, byte_width bytes per slot
    kBinary,         // validity, int32 offsets, bytes
    kLargeBinary,    // validity, int64 offsets, bytes
    kStruct,         // validity; children
    kList,           // validity, int32 offsets; one child
    kLargeList,      // validity, int64 offsets; one child
    kFixedSizeList,  // validity; one child of list_size slots per slot
    kMap,            // as kList, the child a struct of (key, value)
  };
  Kind kind = Kind::kNull;
  int64_t byte_width = 0;     // kFixedWidth
  int64_t list_size = 0;      // kFixedSizeList
  bool utf8 = false;          // kBinary / kLargeBinary holding strings
  bool is_integer = false;    // usable as dictionary indices
  bool is_signed = false;     // for is_integer
  int decimal_precision = 0;  // > 0 for 128-bit decimals, whose values are checked
};

int64_t BufferCount(const Layout& layout) {
  switch (layout.kind) {
    case Layout::Kind::kNull:
      return 0;
    case Layout::Kind::kStruct:
    case Layout::Kind::kFixedSizeList:
      return 1;
    case Layout::Kind::kBinary:
    case Layout::Kind::kLargeBinary:
      return 3;
    default:
      return 2;
  }
}

// Children the layout requires; -1 for any number (structs).
int64_t RequiredChildren(const Layout& layout) {
  switch (layout.kind) {
    case Layout::Kind::kStruct:
      return -1;
    case Layout::Kind::kList:
    case Layout::Kind::kLargeList:
    case Layout::Kind::kFixedSizeList:
    case Layout::Kind::kMap:
      return 1;
    default:
      return 0;
  }
}

// Parses a positive decimal number that makes up all of `text`; -1 if it is not one.
int64_t ParsePositive(std::string_view text, int64_t max) {
  if (text.empty() || text.size() > 10) return -1;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value >= 1 && value <= max ? value : -1;
}

absl::Status UnsupportedFormat(std::string_view format) {
  return absl::UnimplementedError(fmt::format(
      "Arrow format '{}' is not supported by the shardlake wire format (supported: primitives, "
      "decimals, strings, binaries, dates, times, timestamps, durations, intervals, structs, "
      "lists, maps, dictionaries)",
      format));
}

Layout Fixed(int64_t width) {
  Layout layout;
  layout.kind = Layout::Kind::kFixedWidth;
  layout.byte_width = width;
  return layout;
}

Layout Integer(int64_t width, bool is_signed) {
  Layout layout = Fixed(width);
  layout.is_integer = true;
  layout.is_signed = is_signed;
  return layout;
}

absl::StatusOr<Layout> DecimalLayout(std::string_view format) {
  // d:P,S or d:P,S,BITS
  std::string_view rest = format.substr(2);
  size_t comma = rest.find(',');
  if (comma == std::string_view::npos) return UnsupportedFormat(format);
  std::string_view scale_and_bits = rest.substr(comma + 1);
  size_t second_comma = scale_and_bits.find(',');
  int64_t bits = 128;
  if (second_comma != std::string_view::npos) {
    bits = ParsePositive(scale_and_bits.substr(second_comma + 1), 256);
    scale_and_bits = scale_and_bits.substr(0, second_comma);
  }
  int64_t precision = ParsePositive(rest.substr(0, comma), 76);
  std::string_view scale = scale_and_bits;
  if (!scale.empty() && scale[0] == '-') scale = scale.substr(1);
  bool scale_ok = scale == "0" || ParsePositive(scale, 76) > 0;
  if (precision < 0 || !scale_ok || (bits != 32 && bits != 64 && bits != 128 && bits != 256)) {
    return UnsupportedFormat(format);
  }
  Layout layout = Fixed(bits / 8);
  if (bits == 128 && precision <= 38) layout.decimal_precision = static_cast<int>(precision);
  return layout;
}

absl::StatusOr<Layout> LayoutOf(std::string_view format) {
  if (format.size() == 1) {
    switch (format[0]) {
      case 'n':
        return Layout{};
      case 'b': {
        Layout layout;
        layout.kind = Layout::Kind::kBoolean;
        return layout;
      }
      case 'c':
        return Integer(1, true);
      case 'C':
        return Integer(1, false);
      case 's':
        return Integer(2, true);
      case 'S':
        return Integer(2, false);
      case 'i':
        return Integer(4, true);
      case 'I':
        return Integer(4, false);
      case 'l':
        return Integer(8, true);
      case 'L':
        return Integer(8, false);
      case 'e':
        return Fixed(2);
      case 'f':
        return Fixed(4);
      case 'g':
        return Fixed(8);
      case 'u':
      case 'z':
      case 'U':
      case 'Z': {
        Layout layout;
        layout.kind = (format[0] == 'u' || format[0] == 'z') ? Layout::Kind::kBinary
                                                             : Layout::Kind::kLargeBinary;
        layout.utf8 = format[0] == 'u' || format[0] == 'U';
        return layout;
      }
      default:
        return UnsupportedFormat(format);
    }
  }
  if (format.starts_with("d:")) return DecimalLayout(format);
  if (format.starts_with("w:")) {
    int64_t width = ParsePositive(format.substr(2), kMaxFixedWidth);
    if (width < 0) return UnsupportedFormat(format);
    return Fixed(width);
  }
  if (format == "tdD" || format == "tts" || format == "ttm" || format == "tiM") return Fixed(4);
  if (format == "tdm" || format == "ttu" || format == "ttn" || format == "tiD") return Fixed(8);
  if (format == "tin") return Fixed(16);
  if (format.size() == 3 && format.starts_with("tD") &&
      std::string_view("smun").find(format[2]) != std::string_view::npos) {
    return Fixed(8);
  }
  if (format.size() >= 4 && format.starts_with("ts") &&
      std::string_view("smun").find(format[2]) != std::string_view::npos && format[3] == ':') {
    return Fixed(8);
  }
  Layout nested;
  if (format == "+s") {
    nested.kind = Layout::Kind::kStruct;
    return nested;
  }
  if (format == "+l" || format == "+L" || format == "+m") {
    nested.kind = format == "+l"   ? Layout::Kind::kList
                  : format == "+L" ? Layout::Kind::kLargeList
                                   : Layout::Kind::kMap;
    return nested;
  }
  if (format.starts_with("+w:")) {
    nested.kind = Layout::Kind::kFixedSizeList;
    nested.list_size = ParsePositive(format.substr(3), kMaxFixedWidth);
    if (nested.list_size < 0) return UnsupportedFormat(format);
    return nested;
  }
  return UnsupportedFormat(format);
}

bool HasValidity(const Layout& layout) { return layout.kind != Layout::Kind::kNull; }

bool BitIsSet(const uint8_t* bits, int64_t index) { return (bits[index >> 3] >> (index & 7)) & 1; }

// Unset bits in [begin, end) of `bits`.
int64_t CountUnset(const uint8_t* bits, int64_t begin, int64_t end) {
  int64_t unset = 0;
  int64_t i = begin;
  for (; i < end && (i & 7) != 0; ++i) unset += BitIsSet(bits, i) ? 0 : 1;
  for (; i + 64 <= end; i += 64) {
    uint64_t word;
    std::memcpy(&word, bits + (i >> 3), sizeof(word));
    unset += 64 - std::popcount(word);
  }
  for (; i < end; ++i) unset += BitIsSet(bits, i) ? 0 : 1;
  return unset;
}

int64_t BitmapBytes(int64_t slots) { return (slots + 7) / 8; }

// Byte length of Arrow schema metadata: int32 count, then per pair int32
// length + bytes for the key and for the value. The producer is trusted here.
size_t MetadataLength(const char* metadata) {
  if (metadata == nullptr) return 0;
  int32_t count;
  std::memcpy(&count, metadata, sizeof(count));
  size_t length = sizeof(count);
  for (int32_t i = 0; i < 2 * count; ++i) {
    int32_t part;
    std::memcpy(&part, metadata + length, sizeof(part));
    length += sizeof(part) + static_cast<size_t>(part);
  }
  return length;
}

// ---------------------------------------------------------------- encoding

// Appends the encoding to a string, or, without one, only counts its bytes
// (a first pass sizes the string so the second writes without reallocating).
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  size_t size() const { return size_; }
  void U8(uint8_t value) { Raw(&value, sizeof(value)); }
  void U32(uint32_t value) { Raw(&value, sizeof(value)); }
  void I64(int64_t value) { Raw(&value, sizeof(value)); }
  void Text(std::string_view text) {
    U32(static_cast<uint32_t>(text.size()));
    Raw(text.data(), text.size());
  }
  // An aligned buffer of `size` bytes from `data` (zeros when `data` is null).
  void Buffer(const void* data, int64_t size) {
    Zeros((kBufferAlignment - size_ % kBufferAlignment) % kBufferAlignment);
    if (data == nullptr) {
      Zeros(static_cast<size_t>(size));
    } else {
      Raw(data, static_cast<size_t>(size));
    }
  }

 private:
  void Raw(const void* data, size_t size) {
    if (out_ != nullptr) out_->append(static_cast<const char*>(data), size);
    size_ += size;
  }
  void Zeros(size_t size) {
    if (out_ != nullptr) out_->append(size, '\0');
    size_ += size;
  }
  std::string* out_;
  size_t size_ = 0;
};

absl::Status EncodeSchema(const ArrowSchema& schema, int depth, Writer& out) {
  if (depth > kMaxDepth) {
    return absl::InvalidArgumentError(
        fmt::format("Arrow schema nests deeper than {} levels", kMaxDepth));
  }
  if (schema.release == nullptr || schema.format == nullptr) {
    return absl::InvalidArgumentError("cannot encode a released Arrow schema");
  }
  ASSIGN_OR_RETURN(Layout layout, LayoutOf(schema.format));
  int64_t required = RequiredChildren(layout);
  if ((required >= 0 && schema.n_children != required) || schema.n_children < 0 ||
      (schema.n_children > 0 && schema.children == nullptr)) {
    return absl::InvalidArgumentError(
        fmt::format("Arrow schema '{}' of format '{}' has {} children",
                    schema.name ? schema.name : "", schema.format, schema.n_children));
  }
  if (schema.dictionary != nullptr && !layout.is_integer) {
    return absl::InvalidArgumentError(
        fmt::format("Arrow dictionary with non-integer indices of format '{}'", schema.format));
  }
  out.Text(schema.format);
  out.U8(schema.name != nullptr ? 1 : 0);
  if (schema.name != nullptr) out.Text(schema.name);
  out.Text(std::string_view(schema.metadata != nullptr ? schema.metadata : "",
                            MetadataLength(schema.metadata)));
  out.I64(schema.flags);
  out.U32(static_cast<uint32_t>(schema.n_children));
  out.U8(schema.dictionary != nullptr ? 1 : 0);
  for (int64_t i = 0; i < schema.n_children; ++i) {
    if (schema.children[i] == nullptr) {
      return absl::InvalidArgumentError("Arrow schema has a null child");
    }
    RETURN_IF_ERROR(EncodeSchema(*schema.children[i], depth + 1, out));
  }
  if (schema.dictionary != nullptr)
    RETURN_IF_ERROR(EncodeSchema(*schema.dictionary, depth + 1, out));
  return absl::OkStatus();
}

template <typename Offset>
absl::StatusOr<int64_t> OffsetAt(const ArrowArray& array, int64_t slot) {
  if (array.buffers[1] == nullptr) {
    if (array.offset + array.length == 0) return 0;
    return absl::InvalidArgumentError("Arrow array has no offsets buffer");
  }
  int64_t value = static_cast<const Offset*>(array.buffers[1])[slot];
  if (value < 0) return absl::InvalidArgumentError("Arrow array has a negative offset");
  return value;
}

// Writes `array` cut to its first `slots` slots (after its offset).
absl::Status EncodeArray(const ArrowArray& array, const ArrowSchema& schema, int64_t slots,
                         int depth, Writer& out) {
  if (array.release == nullptr) {
    return absl::InvalidArgumentError("cannot encode a released Arrow array");
  }
  ASSIGN_OR_RETURN(Layout layout, LayoutOf(schema.format));
  const char* name = schema.name != nullptr ? schema.name : "";
  if (array.n_buffers != BufferCount(layout) || array.n_children != schema.n_children ||
      (array.n_buffers > 0 && array.buffers == nullptr) ||
      (array.n_children > 0 && array.children == nullptr) ||
      (array.dictionary != nullptr) != (schema.dictionary != nullptr)) {
    return absl::InvalidArgumentError(fmt::format(
        "Arrow array '{}' of format '{}' has {} buffers and {} children, which its format does "
        "not allow",
        name, schema.format, array.n_buffers, array.n_children));
  }
  if (slots < 0 || slots > array.length || array.offset < 0 || array.offset > kMaxSlots - slots) {
    return absl::InvalidArgumentError(
        fmt::format("Arrow array '{}' has length {} and offset {}; {} slots needed", name,
                    array.length, array.offset, slots));
  }
  const int64_t begin = array.offset;
  const int64_t end = begin + slots;
  out.I64(slots);
  const uint8_t* validity =
      HasValidity(layout) ? static_cast<const uint8_t*>(array.buffers[0]) : nullptr;
  int64_t null_count = layout.kind == Layout::Kind::kNull ? slots
                       : validity == nullptr              ? 0
                                                          : CountUnset(validity, begin, end);
  out.I64(null_count);
  out.I64(begin);
  if (HasValidity(layout)) {
    out.U8(validity != nullptr ? 1 : 0);
    if (validity != nullptr) out.Buffer(validity, BitmapBytes(end));
  }
  auto require_buffer = [&](int index, int64_t bytes) -> absl::Status {
    if (bytes > 0 && array.buffers[index] == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("Arrow array '{}' lacks buffer {}", name, index));
    }
    out.Buffer(array.buffers[index], bytes);
    return absl::OkStatus();
  };
  int64_t child_slots = 0;
  switch (layout.kind) {
    case Layout::Kind::kNull:
    case Layout::Kind::kStruct:
      child_slots = end;
      break;
    case Layout::Kind::kBoolean:
      RETURN_IF_ERROR(require_buffer(1, BitmapBytes(end)));
      break;
    case Layout::Kind::kFixedWidth:
      RETURN_IF_ERROR(require_buffer(1, end * layout.byte_width));
      break;
    case Layout::Kind::kFixedSizeList:
      child_slots = end * layout.list_size;
      break;
    case Layout::Kind::kBinary:
    case Layout::Kind::kList:
    case Layout::Kind::kMap: {
      ASSIGN_OR_RETURN(int64_t last, OffsetAt<int32_t>(array, end));
      out.Buffer(array.buffers[1], (end + 1) * 4);
      if (layout.kind == Layout::Kind::kBinary) {
        RETURN_IF_ERROR(require_buffer(2, last));
      } else {
        child_slots = last;
      }
      break;
    }
    case Layout::Kind::kLargeBinary:
    case Layout::Kind::kLargeList: {
      ASSIGN_OR_RETURN(int64_t last, OffsetAt<int64_t>(array, end));
      out.Buffer(array.buffers[1], (end + 1) * 8);
      if (layout.kind == Layout::Kind::kLargeBinary) {
        RETURN_IF_ERROR(require_buffer(2, last));
      } else {
        child_slots = last;
      }
      break;
    }
  }
  for (int64_t i = 0; i < array.n_children; ++i) {
    if (array.children[i] == nullptr) {
      return absl::InvalidArgumentError(fmt::format("Arrow array '{}' has a null child", name));
    }
    RETURN_IF_ERROR(
        EncodeArray(*array.children[i], *schema.children[i], child_slots, depth + 1, out));
  }
  if (array.dictionary != nullptr) {
    RETURN_IF_ERROR(EncodeArray(*array.dictionary, *schema.dictionary, array.dictionary->length,
                                depth + 1, out));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- decoding

// The decoded bytes, aligned, shared by every node of a decoded tree.
class Storage {
 public:
  explicit Storage(std::string_view bytes) {
    size_t capacity = (bytes.size() / 64 + 1) * 64;
    data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, capacity)));
    if (data_ != nullptr && !bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
  }
  uint8_t* data() { return data_.get(); }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
};

// private_data of a decoded ArrowSchema.
struct SchemaNode {
  std::string format;
  std::string name;
  std::string metadata;
  std::vector<std::unique_ptr<ArrowSchema>> children;
  std::vector<ArrowSchema*> child_pointers;
  std::unique_ptr<ArrowSchema> dictionary;
};

// private_data of a decoded ArrowArray.
struct ArrayNode {
  std::shared_ptr<Storage> storage;
  std::vector<const void*> buffers;
  std::vector<std::unique_ptr<ArrowArray>> children;
  std::vector<ArrowArray*> child_pointers;
  std::unique_ptr<ArrowArray> dictionary;
};

// Release callbacks, as the C data interface specifies: release the children
// and the dictionary that were not moved out, free the private data, and mark
// the struct released.
void ReleaseSchema(ArrowSchema* schema) {
  std::unique_ptr<SchemaNode> node(static_cast<SchemaNode*>(schema->private_data));
  for (ArrowSchema* child : node->child_pointers) {
    if (child->release != nullptr) child->release(child);
  }
  if (node->dictionary != nullptr && node->dictionary->release != nullptr) {
    node->dictionary->release(node->dictionary.get());
  }
  schema->release = nullptr;
  schema->private_data = nullptr;
}

void ReleaseArray(ArrowArray* array) {
  std::unique_ptr<ArrayNode> node(static_cast<ArrayNode*>(array->private_data));
  for (ArrowArray* child : node->child_pointers) {
    if (child->release != nullptr) child->release(child);
  }
  if (node->dictionary != nullptr && node->dictionary->release != nullptr) {
    node->dictionary->release(node->dictionary.get());
  }
  array->release = nullptr;
  array->private_data = nullptr;
}

template <typename T>
std::unique_ptr<T> ZeroedStruct() {
  auto value = std::make_unique<T>();
  std::memset(value.get(), 0, sizeof(T));
  return value;
}

bool IsValidUtf8(const uint8_t* text, int64_t size) {
  int64_t i = 0;
  while (i < size) {
    uint8_t c = text[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra;
    uint32_t code;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (extra >= size - i) return false;
    for (int k = 1; k <= extra; ++k) {
      uint8_t next = text[i + k];
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    constexpr uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

class Decoder {
 public:
  Decoder(std::shared_ptr<Storage> storage, size_t size)
      : storage_(std::move(storage)), data_(storage_->data()), size_(size) {}

  absl::Status ReadHeader() {
    const uint8_t* magic = nullptr;
    RETURN_IF_ERROR(Take(sizeof(kMagic), &magic, "the header"));
    if (std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
      return Malformed("it does not start with the Arrow wire magic \"SLAW\"");
    }
    ASSIGN_OR_RETURN(uint8_t version, U8("the version"));
    if (version != kVersion) {
      return Malformed(
          fmt::format("wire version {} is not {} (update the older side)", version, kVersion));
    }
    return absl::OkStatus();
  }

  absl::Status DecodeSchema(ArrowSchema& target, int depth) {
    if (depth > kMaxDepth) return Malformed(fmt::format("it nests deeper than {}", kMaxDepth));
    auto owned = std::make_unique<SchemaNode>();
    SchemaNode& node = *owned;
    target.private_data = owned.release();
    target.release = ReleaseSchema;
    ASSIGN_OR_RETURN(node.format, Text("a format"));
    absl::StatusOr<Layout> parsed = LayoutOf(node.format);
    if (!parsed.ok()) return Malformed(fmt::format("unsupported format '{}'", node.format));
    const Layout layout = *parsed;
    target.format = node.format.c_str();
    ASSIGN_OR_RETURN(uint8_t has_name, Flag("a name flag"));
    if (has_name != 0) {
      ASSIGN_OR_RETURN(node.name, Text("a name"));
      target.name = node.name.c_str();
    }
    ASSIGN_OR_RETURN(node.metadata, Text("metadata"));
    if (!node.metadata.empty()) {
      RETURN_IF_ERROR(CheckMetadata(node.metadata));
      target.metadata = node.metadata.c_str();
    }
    ASSIGN_OR_RETURN(target.flags, I64("schema flags"));
    if ((target.flags & ~kKnownSchemaFlags) != 0) return Malformed("unknown schema flags");
    ASSIGN_OR_RETURN(uint32_t n_children, U32("a child count"));
    int64_t required = RequiredChildren(layout);
    // Every child takes at least 19 bytes, so the count is bounded by the input.
    if ((required >= 0 && n_children != required) || n_children > Remaining() / 19) {
      return Malformed(fmt::format("format '{}' with {} children", node.format, n_children));
    }
    ASSIGN_OR_RETURN(uint8_t has_dictionary, Flag("a dictionary flag"));
    if (has_dictionary != 0 && !layout.is_integer) {
      return Malformed(fmt::format("a dictionary with indices of format '{}'", node.format));
    }
    node.children.reserve(n_children);
    for (uint32_t i = 0; i < n_children; ++i) {
      node.children.push_back(ZeroedStruct<ArrowSchema>());
      node.child_pointers.push_back(node.children.back().get());
    }
    target.n_children = n_children;
    target.children = node.child_pointers.data();
    for (uint32_t i = 0; i < n_children; ++i) {
      RETURN_IF_ERROR(DecodeSchema(*node.children[i], depth + 1));
    }
    if (layout.kind == Layout::Kind::kMap) {
      const ArrowSchema& entries = *node.children[0];
      if (std::string_view(entries.format) != "+s" || entries.n_children != 2) {
        return Malformed("a map whose entries are not a struct of key and value");
      }
    }
    if (has_dictionary != 0) {
      node.dictionary = ZeroedStruct<ArrowSchema>();
      target.dictionary = node.dictionary.get();
      RETURN_IF_ERROR(DecodeSchema(*node.dictionary, depth + 1));
    }
    return absl::OkStatus();
  }

  absl::Status DecodeArray(ArrowArray& target, const ArrowSchema& schema) {
    auto owned = std::make_unique<ArrayNode>();
    ArrayNode& node = *owned;
    node.storage = storage_;
    target.private_data = owned.release();
    target.release = ReleaseArray;
    ASSIGN_OR_RETURN(Layout layout, LayoutOf(schema.format));
    const size_t at = pos_;
    ASSIGN_OR_RETURN(target.length, I64("a length"));
    ASSIGN_OR_RETURN(target.null_count, I64("a null count"));
    ASSIGN_OR_RETURN(target.offset, I64("an offset"));
    const int64_t length = target.length;
    const int64_t begin = target.offset;
    if (length < 0 || length > kMaxSlots || begin < 0 || begin > kMaxSlots - length) {
      return MalformedAt(at, fmt::format("length {} with offset {}", length, begin));
    }
    const int64_t end = begin + length;
    node.buffers.assign(static_cast<size_t>(BufferCount(layout)), nullptr);
    target.n_buffers = BufferCount(layout);
    target.buffers = node.buffers.data();
    const uint8_t* validity = nullptr;
    if (HasValidity(layout)) {
      ASSIGN_OR_RETURN(uint8_t has_validity, Flag("a validity flag"));
      if (has_validity != 0) {
        ASSIGN_OR_RETURN(validity, Buffer(BitmapBytes(end), "a validity bitmap"));
        node.buffers[0] = validity;
      }
    }
    int64_t nulls = layout.kind == Layout::Kind::kNull ? length
                    : validity == nullptr              ? 0
                                                       : CountUnset(validity, begin, end);
    if (target.null_count != nulls) {
      return MalformedAt(
          at, fmt::format("null count {} where the bitmap has {} nulls", target.null_count, nulls));
    }
    int64_t child_slots = 0;
    uint8_t* values = nullptr;
    switch (layout.kind) {
      case Layout::Kind::kNull:
      case Layout::Kind::kStruct:
        child_slots = end;
        break;
      case Layout::Kind::kBoolean: {
        ASSIGN_OR_RETURN(node.buffers[1], Buffer(BitmapBytes(end), "boolean values"));
        break;
      }
      case Layout::Kind::kFixedWidth: {
        ASSIGN_OR_RETURN(values, Buffer(end * layout.byte_width, "fixed-width values"));
        node.buffers[1] = values;
        if (layout.decimal_precision > 0) {
          RETURN_IF_ERROR(CheckDecimals(values, validity, begin, end, layout.decimal_precision));
        }
        break;
      }
      case Layout::Kind::kFixedSizeList:
        child_slots = end * layout.list_size;
        break;
      case Layout::Kind::kBinary:
      case Layout::Kind::kList:
      case Layout::Kind::kMap:
        RETURN_IF_ERROR(DecodeOffsets<int32_t>(node, layout, begin, end, validity, &child_slots));
        break;
      case Layout::Kind::kLargeBinary:
      case Layout::Kind::kLargeList:
        RETURN_IF_ERROR(DecodeOffsets<int64_t>(node, layout, begin, end, validity, &child_slots));
        break;
    }
    node.children.reserve(static_cast<size_t>(schema.n_children));
    for (int64_t i = 0; i < schema.n_children; ++i) {
      node.children.push_back(ZeroedStruct<ArrowArray>());
      node.child_pointers.push_back(node.children.back().get());
    }
    target.n_children = schema.n_children;
    target.children = node.child_pointers.data();
    for (int64_t i = 0; i < schema.n_children; ++i) {
      const size_t child_at = pos_;
      RETURN_IF_ERROR(DecodeArray(*node.children[i], *schema.children[i]));
      if (node.children[i]->length < child_slots) {
        return MalformedAt(child_at, fmt::format("a child of {} slots where {} are needed",
                                                 node.children[i]->length, child_slots));
      }
    }
    if (schema.dictionary != nullptr) {
      node.dictionary = ZeroedStruct<ArrowArray>();
      target.dictionary = node.dictionary.get();
      RETURN_IF_ERROR(DecodeArray(*node.dictionary, *schema.dictionary));
      RETURN_IF_ERROR(CheckIndices(values, layout, validity, begin, end, node.dictionary->length));
    }
    return absl::OkStatus();
  }

  absl::Status CheckFullyRead() {
    if (pos_ != size_) return Malformed(fmt::format("{} trailing bytes", size_ - pos_));
    return absl::OkStatus();
  }

 private:
  size_t Remaining() const { return size_ - pos_; }

  absl::Status Malformed(std::string_view what) const { return MalformedAt(pos_, what); }
  absl::Status MalformedAt(size_t at, std::string_view what) const {
    return absl::InvalidArgumentError(fmt::format(
        "malformed Arrow wire batch ({} bytes): {} at byte {}; the sender and receiver may run "
        "different shardlake versions, or the bytes were damaged",
        size_, what, at));
  }

  absl::Status Take(size_t n, const uint8_t** out, std::string_view what) {
    if (n > Remaining()) {
      return Malformed(fmt::format("truncated while reading {} ({} bytes needed, {} left)", what, n,
                                   Remaining()));
    }
    *out = data_ + pos_;
    pos_ += n;
    return absl::OkStatus();
  }
  template <typename T>
  absl::StatusOr<T> Scalar(std::string_view what) {
    const uint8_t* p = nullptr;
    RETURN_IF_ERROR(Take(sizeof(T), &p, what));
    T value;
    std::memcpy(&value, p, sizeof(T));
    return value;
  }
  absl::StatusOr<uint8_t> U8(std::string_view what) { return Scalar<uint8_t>(what); }
  absl::StatusOr<uint32_t> U32(std::string_view what) { return Scalar<uint32_t>(what); }
  absl::StatusOr<int64_t> I64(std::string_view what) { return Scalar<int64_t>(what); }
  absl::StatusOr<uint8_t> Flag(std::string_view what) {
    ASSIGN_OR_RETURN(uint8_t flag, U8(what));
    if (flag > 1) return Malformed(fmt::format("{} that is neither 0 nor 1", what));
    return flag;
  }
  absl::StatusOr<std::string> Text(std::string_view what) {
    ASSIGN_OR_RETURN(uint32_t size, U32(what));
    const uint8_t* p = nullptr;
    RETURN_IF_ERROR(Take(size, &p, what));
    std::string text(reinterpret_cast<const char*>(p), size);
    if (text.find('\0') != std::string::npos) {
      return Malformed(fmt::format("a NUL byte inside {}", what));
    }
    return text;
  }
  // A buffer of `size` bytes after the padding to kBufferAlignment.
  absl::StatusOr<uint8_t*> Buffer(int64_t size, std::string_view what) {
    size_t padding = (kBufferAlignment - pos_ % kBufferAlignment) % kBufferAlignment;
    const uint8_t* ignored = nullptr;
    RETURN_IF_ERROR(Take(padding, &ignored, what));
    if (size < 0 || static_cast<uint64_t>(size) > Remaining()) {
      return Malformed(fmt::format("truncated while reading {} ({} bytes needed, {} left)", what,
                                   size, Remaining()));
    }
    uint8_t* buffer = data_ + pos_;
    pos_ += static_cast<size_t>(size);
    return buffer;
  }

  absl::Status CheckMetadata(std::string_view metadata) {
    auto read_int = [&](size_t& at, int32_t* value) {
      if (metadata.size() - at < sizeof(int32_t)) return false;
      std::memcpy(value, metadata.data() + at, sizeof(int32_t));
      at += sizeof(int32_t);
      return *value >= 0;
    };
    size_t at = 0;
    int32_t count;
    if (!read_int(at, &count)) return Malformed("schema metadata without a pair count");
    for (int64_t i = 0; i < 2 * static_cast<int64_t>(count); ++i) {
      int32_t part;
      if (!read_int(at, &part) || metadata.size() - at < static_cast<size_t>(part)) {
        return Malformed("schema metadata whose pairs overrun it");
      }
      at += static_cast<size_t>(part);
    }
    if (at != metadata.size()) return Malformed("schema metadata with bytes after its pairs");
    return absl::OkStatus();
  }

  template <typename Offset>
  absl::Status DecodeOffsets(ArrayNode& node, const Layout& layout, int64_t begin, int64_t end,
                             const uint8_t* validity, int64_t* child_slots) {
    ASSIGN_OR_RETURN(uint8_t * raw,
                     Buffer((end + 1) * static_cast<int64_t>(sizeof(Offset)), "offsets"));
    node.buffers[1] = raw;
    // Every offset up to `end` must be ascending from a non-negative start;
    // readers may look at any of them.
    Offset previous = 0;
    for (int64_t i = 0; i <= end; ++i) {
      Offset offset;
      std::memcpy(&offset, raw + i * sizeof(Offset), sizeof(Offset));
      if (offset < previous) return Malformed(fmt::format("offset {} decreases", i));
      previous = offset;
    }
    const int64_t last = static_cast<int64_t>(previous);
    if (layout.kind != Layout::Kind::kBinary && layout.kind != Layout::Kind::kLargeBinary) {
      *child_slots = last;
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(uint8_t * bytes, Buffer(last, "string bytes"));
    node.buffers[2] = bytes;
    if (!layout.utf8) return absl::OkStatus();
    for (int64_t i = begin; i < end; ++i) {
      Offset from, to;
      std::memcpy(&from, raw + i * sizeof(Offset), sizeof(Offset));
      std::memcpy(&to, raw + (i + 1) * sizeof(Offset), sizeof(Offset));
      if (!IsValidUtf8(bytes + from, static_cast<int64_t>(to - from))) {
        return Malformed(fmt::format("invalid UTF-8 in string {}", i - begin));
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckDecimals(const uint8_t* values, const uint8_t* validity, int64_t begin,
                             int64_t end, int precision) {
    Int128 limit = 1;
    for (int i = 0; i < precision; ++i) limit *= 10;
    for (int64_t i = begin; i < end; ++i) {
      if (validity != nullptr && !BitIsSet(validity, i)) continue;
      Int128 value;
      std::memcpy(&value, values + i * 16, 16);
      if (value >= limit || value <= -limit) {
        return Malformed(fmt::format("decimal {} exceeds precision {}", i - begin, precision));
      }
    }
    return absl::OkStatus();
  }

  // Valid slots must index into the dictionary; null slots are set to index 0
  // so that a reader that looks at them regardless stays in bounds.
  absl::Status CheckIndices(uint8_t* indices, const Layout& layout, const uint8_t* validity,
                            int64_t begin, int64_t end, int64_t dictionary_length) {
    const size_t width = static_cast<size_t>(layout.byte_width);
    for (int64_t i = begin; i < end; ++i) {
      uint8_t* slot = indices + i * static_cast<int64_t>(width);
      if (validity != nullptr && !BitIsSet(validity, i)) {
        std::memset(slot, 0, width);
        continue;
      }
      uint64_t raw = 0;
      std::memcpy(&raw, slot, width);
      int64_t index = static_cast<int64_t>(raw);
      if (layout.is_signed && width < 8 && (raw >> (width * 8 - 1)) != 0) index = -1;
      if (!layout.is_signed && width == 8 && raw > static_cast<uint64_t>(kMaxSlots)) index = -1;
      if (index < 0 || index >= dictionary_length) {
        return Malformed(fmt::format("dictionary index of slot {} outside a dictionary of {}",
                                     i - begin, dictionary_length));
      }
    }
    return absl::OkStatus();
  }

  std::shared_ptr<Storage> storage_;
  uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::string> EncodeArrowBatch(ArrowBatch& batch) {
  if (batch.schema() == nullptr || batch.array() == nullptr) {
    return absl::InvalidArgumentError("cannot encode an Arrow batch that was moved from");
  }
  auto encode = [&](Writer& writer) -> absl::Status {
    for (char c : kMagic) writer.U8(static_cast<uint8_t>(c));
    writer.U8(kVersion);
    RETURN_IF_ERROR(EncodeSchema(*batch.schema(), 0, writer));
    return EncodeArray(*batch.array(), *batch.schema(), batch.array()->length, 0, writer);
  };
  Writer counter(nullptr);
  RETURN_IF_ERROR(encode(counter));
  std::string out;
  out.reserve(counter.size());
  Writer writer(&out);
  RETURN_IF_ERROR(encode(writer));
  return out;
}

absl::StatusOr<ArrowBatch> DecodeArrowBatch(std::string_view bytes) {
  auto storage = std::make_shared<Storage>(bytes);
  if (storage->data() == nullptr) {
    return absl::ResourceExhaustedError(
        fmt::format("cannot allocate {} bytes for an Arrow batch", bytes.size()));
  }
  Decoder decoder(std::move(storage), bytes.size());
  ArrowBatch batch;
  RETURN_IF_ERROR(decoder.ReadHeader());
  RETURN_IF_ERROR(decoder.DecodeSchema(*batch.schema(), 0));
  RETURN_IF_ERROR(decoder.DecodeArray(*batch.array(), *batch.schema()));
  RETURN_IF_ERROR(decoder.CheckFullyRead());
  return batch;
}

}  // namespace shardlake::duck
