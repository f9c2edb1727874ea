// TPC-H word lists (specification clause 4.2.2.13) and the pseudo-text
// grammar of clause 4.2.2.14, internal to src/tpch/.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "tpch/random.h"

namespace shardlake::tpch {

struct NationInfo {
  std::string_view name;
  int32_t region;
};

std::span<const NationInfo> Nations();        // 25, in n_nationkey order
std::span<const std::string_view> Regions();  // 5, in r_regionkey order
std::span<const std::string_view> Colors();   // 92 p_name words
std::span<const std::string_view> TypeSyllable1();
std::span<const std::string_view> TypeSyllable2();
std::span<const std::string_view> TypeSyllable3();
std::span<const std::string_view> ContainerSyllable1();
std::span<const std::string_view> ContainerSyllable2();
std::span<const std::string_view> Segments();
std::span<const std::string_view> Priorities();
std::span<const std::string_view> ShipInstructions();
std::span<const std::string_view> ShipModes();

// One sentence of the grammar, appended to `out`:
//   sentence: noun-phrase verb-phrase terminator
//           | noun-phrase verb-phrase prepositional-phrase terminator
//           | noun-phrase verb-phrase noun-phrase terminator
//           | noun-phrase prepositional-phrase verb-phrase noun-phrase terminator
//           | noun-phrase prepositional-phrase verb-phrase prepositional-phrase terminator
//   noun-phrase: noun | adjective noun | adjective, adjective noun | adverb adjective noun
//   verb-phrase: verb | auxiliary verb | verb adverb | auxiliary verb adverb
//   prepositional-phrase: preposition the noun-phrase
// Words are separated by one space, the terminator follows the last word
// directly, and a space follows the terminator. Productions and words are
// chosen uniformly (the specification weights its lists; see DESIGN notes in
// tpch.h).
void AppendSentence(RowRandom& random, std::string& out);

// The text pool comments are cut from (clause 4.2.2.10: a TEXT[min,max] value
// is a substring of a pool of grammar text, of random length in [min,max], at
// a random offset). Built once per seed; immutable afterwards, so any number
// of threads may read it.
class TextPool {
 public:
  static constexpr size_t kSize = 16 << 20;  // dbgen uses 300 MB; 16 MiB keeps start-up cheap

  explicit TextPool(uint64_t seed);

  // A TEXT[min_length, max_length] value drawn with `random`.
  // REQUIRES: 0 < min_length <= max_length <= kSize.
  std::string_view Text(RowRandom& random, int min_length, int max_length) const {
    auto length = static_cast<size_t>(random.Uniform(min_length, max_length));
    auto offset = static_cast<size_t>(random.Uniform(0, static_cast<int64_t>(kSize - length)));
    return std::string_view(text_).substr(offset, length);
  }

 private:
  std::string text_;
};

}  // namespace shardlake::tpch
