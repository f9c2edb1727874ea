// Just enough XML for S3's replies and request bodies: the text of named
// elements (S3 replies are flat and never nest an element inside one of the
// same name), entity decoding, and escaping.
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardlake::s3 {

// The raw (undecoded) content of every <tag ...>...</tag> in `xml`, in order.
// An empty element (<tag/>) yields "".
std::vector<std::string_view> XmlElements(std::string_view xml, std::string_view tag);

// The decoded text of the first <tag> in `xml`, or nullopt.
std::optional<std::string> XmlText(std::string_view xml, std::string_view tag);

// Replaces &amp; &lt; &gt; &quot; &apos; &#N; and &#xN; by their characters.
std::string XmlDecode(std::string_view text);

// Escapes & < > " ' for element content.
std::string XmlEscape(std::string_view text);

}  // namespace shardlake::s3
