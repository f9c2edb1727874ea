#include "tpch/text.h"

#include <array>

namespace shardlake::tpch {
namespace {

using Words = std::span<const std::string_view>;

constexpr NationInfo kNations[] = {
    {"ALGERIA", 0},       {"ARGENTINA", 1}, {"BRAZIL", 1}, {"CANADA", 1},
    {"EGYPT", 4},         {"ETHIOPIA", 0},  {"FRANCE", 3}, {"GERMANY", 3},
    {"INDIA", 2},         {"INDONESIA", 2}, {"IRAN", 4},   {"IRAQ", 4},
    {"JAPAN", 2},         {"JORDAN", 4},    {"KENYA", 0},  {"MOROCCO", 0},
    {"MOZAMBIQUE", 0},    {"PERU", 1},      {"CHINA", 2},  {"ROMANIA", 3},
    {"SAUDI ARABIA", 4},  {"VIETNAM", 2},   {"RUSSIA", 3}, {"UNITED KINGDOM", 3},
    {"UNITED STATES", 1},
};

constexpr std::string_view kRegions[] = {"AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"};

constexpr std::string_view kColors[] = {
    "almond",   "antique",   "aquamarine", "azure",      "beige",     "bisque",    "black",
    "blanched", "blue",      "blush",      "brown",      "burlywood", "burnished", "chartreuse",
    "chiffon",  "chocolate", "coral",      "cornflower", "cornsilk",  "cream",     "cyan",
    "dark",     "deep",      "dim",        "dodger",     "drab",      "firebrick", "floral",
    "forest",   "frosted",   "gainsboro",  "ghost",      "goldenrod", "green",     "grey",
    "honeydew", "hot",       "indian",     "ivory",      "khaki",     "lace",      "lavender",
    "lawn",     "lemon",     "light",      "lime",       "linen",     "magenta",   "maroon",
    "medium",   "metallic",  "midnight",   "mint",       "misty",     "moccasin",  "navajo",
    "navy",     "olive",     "orange",     "orchid",     "pale",      "papaya",    "peach",
    "peru",     "pink",      "plum",       "powder",     "puff",      "purple",    "red",
    "rose",     "rosy",      "royal",      "saddle",     "salmon",    "sandy",     "seashell",
    "sienna",   "sky",       "slate",      "smoke",      "snow",      "spring",    "steel",
    "tan",      "thistle",   "tomato",     "turquoise",  "violet",    "wheat",     "white",
    "yellow",
};
static_assert(std::size(kColors) == 92, "clause 4.2.3: p_name draws from 92 words");

constexpr std::string_view kTypeSyllable1[] = {"STANDARD", "SMALL",   "MEDIUM",
                                               "LARGE",    "ECONOMY", "PROMO"};
constexpr std::string_view kTypeSyllable2[] = {"ANODIZED", "BURNISHED", "PLATED", "POLISHED",
                                               "BRUSHED"};
constexpr std::string_view kTypeSyllable3[] = {"TIN", "NICKEL", "BRASS", "STEEL", "COPPER"};
constexpr std::string_view kContainerSyllable1[] = {"SM", "LG", "MED", "JUMBO", "WRAP"};
constexpr std::string_view kContainerSyllable2[] = {"CASE", "BOX",  "BAG", "JAR",
                                                    "PKG",  "PACK", "CAN", "DRUM"};
constexpr std::string_view kSegments[] = {"AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY",
                                          "HOUSEHOLD"};
constexpr std::string_view kPriorities[] = {"1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED",
                                            "5-LOW"};
constexpr std::string_view kShipInstructions[] = {"DELIVER IN PERSON", "COLLECT COD", "NONE",
                                                  "TAKE BACK RETURN"};
constexpr std::string_view kShipModes[] = {"REG AIR", "AIR",  "RAIL", "SHIP",
                                           "TRUCK",   "MAIL", "FOB"};

constexpr std::string_view kNouns[] = {
    "packages",    "requests",    "accounts",       "deposits",     "foxes",     "ideas",
    "theodolites", "pinto beans", "instructions",   "dependencies", "excuses",   "platelets",
    "asymptotes",  "courts",      "dolphins",       "multipliers",  "sauternes", "warthogs",
    "frets",       "dinos",       "attainments",    "somas",        "Tiresias",  "patterns",
    "forges",      "braids",      "hockey players", "frays",        "warhorses", "dugouts",
    "notornis",    "epitaphs",    "pearls",         "tithes",       "waters",    "orbits",
    "gifts",       "sheaves",     "depths",         "sentiments",   "decoys",    "realms",
    "pains",       "grouches",    "escapades",
};
constexpr std::string_view kVerbs[] = {
    "sleep",  "wake",   "are",       "cajole",   "haggle", "nag",   "use",     "boost",
    "affix",  "detect", "integrate", "maintain", "nod",    "was",   "lose",    "sublate",
    "solve",  "thrash", "promise",   "engage",   "hinder", "print", "x-ray",   "breach",
    "eat",    "grow",   "impress",   "mold",     "poach",  "serve", "run",     "dazzle",
    "snooze", "doze",   "unwind",    "kindle",   "play",   "hang",  "believe", "doubt",
};
constexpr std::string_view kAdjectives[] = {
    "special", "pending", "unusual",  "express",   "furious",  "sly",  "careful", "blithe",
    "quick",   "fluffy",  "slow",     "quiet",     "ruthless", "thin", "close",   "dogged",
    "daring",  "brave",   "stealthy", "permanent", "enticing", "idle", "busy",    "regular",
    "final",   "ironic",  "even",     "bold",      "silent",
};
constexpr std::string_view kAdverbs[] = {
    "sometimes", "always",    "never",   "furiously",  "slyly",       "carefully",  "blithely",
    "quickly",   "fluffily",  "slowly",  "quietly",    "ruthlessly",  "thinly",     "closely",
    "doggedly",  "daringly",  "bravely", "stealthily", "permanently", "enticingly", "idly",
    "busily",    "regularly", "finally", "ironically", "evenly",      "boldly",     "silently",
};
constexpr std::string_view kPrepositions[] = {
    "about",        "above",   "according to", "across",  "after",       "against", "along",
    "alongside of", "among",   "around",       "at",      "atop",        "before",  "behind",
    "beneath",      "beside",  "besides",      "between", "beyond",      "by",      "despite",
    "during",       "except",  "for",          "from",    "in place of", "inside",  "instead of",
    "into",         "near",    "of",           "on",      "outside",     "over",    "past",
    "since",        "through", "throughout",   "to",      "toward",      "under",   "until",
    "up",           "upon",    "without",      "with",    "within",
};
constexpr std::string_view kAuxiliaries[] = {
    "do",           "may",          "might",         "shall",         "will",
    "would",        "can",          "could",         "should",        "ought to",
    "must",         "will have to", "shall have to", "could have to", "should have to",
    "must have to", "need to",      "try to",
};
constexpr std::string_view kTerminators[] = {".", ";", ":", "?", "!", "--"};

std::string_view Pick(RowRandom& random, Words words) {
  return words[static_cast<size_t>(random.Uniform(0, static_cast<int64_t>(words.size()) - 1))];
}

void AppendWord(RowRandom& random, Words words, std::string& out) {
  out += Pick(random, words);
  out += ' ';
}

void AppendNounPhrase(RowRandom& random, std::string& out) {
  switch (random.Uniform(0, 3)) {
    case 0:
      break;
    case 1:
      AppendWord(random, kAdjectives, out);
      break;
    case 2:
      out += Pick(random, kAdjectives);
      out += ", ";
      AppendWord(random, kAdjectives, out);
      break;
    default:
      AppendWord(random, kAdverbs, out);
      AppendWord(random, kAdjectives, out);
      break;
  }
  AppendWord(random, kNouns, out);
}

void AppendVerbPhrase(RowRandom& random, std::string& out) {
  int64_t choice = random.Uniform(0, 3);
  if (choice == 1 || choice == 3) AppendWord(random, kAuxiliaries, out);
  AppendWord(random, kVerbs, out);
  if (choice >= 2) AppendWord(random, kAdverbs, out);
}

void AppendPrepositionalPhrase(RowRandom& random, std::string& out) {
  AppendWord(random, kPrepositions, out);
  out += "the ";
  AppendNounPhrase(random, out);
}

}  // namespace

std::span<const NationInfo> Nations() { return kNations; }
std::span<const std::string_view> Regions() { return kRegions; }
std::span<const std::string_view> Colors() { return kColors; }
std::span<const std::string_view> TypeSyllable1() { return kTypeSyllable1; }
std::span<const std::string_view> TypeSyllable2() { return kTypeSyllable2; }
std::span<const std::string_view> TypeSyllable3() { return kTypeSyllable3; }
std::span<const std::string_view> ContainerSyllable1() { return kContainerSyllable1; }
std::span<const std::string_view> ContainerSyllable2() { return kContainerSyllable2; }
std::span<const std::string_view> Segments() { return kSegments; }
std::span<const std::string_view> Priorities() { return kPriorities; }
std::span<const std::string_view> ShipInstructions() { return kShipInstructions; }
std::span<const std::string_view> ShipModes() { return kShipModes; }

void AppendSentence(RowRandom& random, std::string& out) {
  AppendNounPhrase(random, out);
  switch (random.Uniform(0, 4)) {
    case 0:
      AppendVerbPhrase(random, out);
      break;
    case 1:
      AppendVerbPhrase(random, out);
      AppendPrepositionalPhrase(random, out);
      break;
    case 2:
      AppendVerbPhrase(random, out);
      AppendNounPhrase(random, out);
      break;
    case 3:
      AppendPrepositionalPhrase(random, out);
      AppendVerbPhrase(random, out);
      AppendNounPhrase(random, out);
      break;
    default:
      AppendPrepositionalPhrase(random, out);
      AppendVerbPhrase(random, out);
      AppendPrepositionalPhrase(random, out);
      break;
  }
  out.pop_back();  // the terminator follows the last word directly
  out += Pick(random, kTerminators);
  out += ' ';
}

TextPool::TextPool(uint64_t seed) {
  text_.reserve(kSize + 256);
  RowRandom random(seed, Stream::kTextPool, 0);
  while (text_.size() < kSize) AppendSentence(random, text_);
  text_.resize(kSize);
}

}  // namespace shardlake::tpch
