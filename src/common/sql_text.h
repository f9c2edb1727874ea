// Quoting of identifiers and literals for SQL text that shardlake generates.
#pragma once

#include <string>
#include <string_view>

namespace shardlake {

// "name" with embedded double quotes doubled. Always quotes, so any name is safe.
std::string QuoteIdentifier(std::string_view name);

// 'text' with embedded single quotes doubled.
std::string QuoteLiteral(std::string_view text);

}  // namespace shardlake
