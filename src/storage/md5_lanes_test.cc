// Md5Lanes against RFC 1321's test suite and against OpenSSL's MD5 for
// streams of every length around the block and padding boundaries, fed in
// pieces of equal and unequal lengths.
#include "storage/md5_lanes.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "storage/digest.h"

namespace shardlake::s3 {
namespace {

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 generator(seed);
  std::string data(size, '\0');
  for (char& byte : data) byte = static_cast<char>(generator() & 0xff);
  return data;
}

// The digests of `streams` fed whole, in one Update.
std::vector<std::string> HexDigestsOf(const std::vector<std::string>& streams,
                                      bool allow_avx2 = true) {
  Md5Lanes lanes(static_cast<int>(streams.size()), allow_avx2);
  std::vector<std::string_view> pieces(streams.begin(), streams.end());
  lanes.Update(pieces);
  std::vector<std::string> hex;
  for (const std::string& digest : lanes.Finish()) hex.push_back(HexEncode(digest));
  return hex;
}

TEST(Md5LanesTest, MatchesTheRfc1321TestSuite) {
  const std::vector<std::pair<std::string, std::string>> suite = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  // One stream at a time, then four different ones side by side.
  for (const auto& [input, expected] : suite) {
    EXPECT_EQ(HexDigestsOf({input}), std::vector<std::string>{expected}) << "'" << input << "'";
  }
  EXPECT_EQ(HexDigestsOf({suite[6].first, suite[0].first, suite[3].first, suite[5].first}),
            (std::vector<std::string>{suite[6].second, suite[0].second, suite[3].second,
                                      suite[5].second}));
}

TEST(Md5LanesTest, EqualsOpenSslForEveryLengthAroundTheBoundaries) {
  const std::string data = RandomBytes(300, 1);
  // Four streams take the 128-bit path, eight the 256-bit one: with AVX2
  // where the CPU has it, and as pairs of 128-bit operations.
  struct Path {
    size_t streams;
    bool allow_avx2;
  };
  for (const Path& path : {Path{4, true}, Path{8, true}, Path{8, false}}) {
    for (size_t length = 0; length <= 300; ++length) {
      // Streams of neighbouring lengths, so the lanes pad differently.
      std::vector<std::string> streams;
      for (size_t lane = 0; lane < path.streams; ++lane) {
        streams.push_back(data.substr(lane, length > lane ? length - lane : 0));
      }
      std::vector<std::string> expected;
      for (const std::string& stream : streams) expected.push_back(HexEncode(Md5(stream)));
      ASSERT_EQ(HexDigestsOf(streams, path.allow_avx2), expected)
          << path.streams << " streams (AVX2 allowed: " << path.allow_avx2 << "), length "
          << length;
    }
  }
}

TEST(Md5LanesTest, PiecesOfAnyLengthGiveTheSameDigests) {
  std::mt19937 generator(7);
  for (int round = 0; round < 50; ++round) {
    const int count = 1 + round % Md5Lanes::kMaxStreams;
    std::vector<std::string> streams;
    for (int lane = 0; lane < count; ++lane) {
      streams.push_back(RandomBytes(generator() % 5000, static_cast<uint32_t>(round * 10 + lane)));
    }
    // Each stream cut at its own random points; some pieces empty.
    Md5Lanes lanes(count);
    std::vector<size_t> fed(static_cast<size_t>(count), 0);
    bool done = false;
    while (!done) {
      done = true;
      std::vector<std::string_view> pieces;
      for (int lane = 0; lane < count; ++lane) {
        const std::string& stream = streams[static_cast<size_t>(lane)];
        size_t& at = fed[static_cast<size_t>(lane)];
        size_t take = std::min<size_t>(stream.size() - at, generator() % 200);
        pieces.push_back(std::string_view(stream).substr(at, take));
        at += take;
        done = done && at == stream.size();
      }
      lanes.Update(pieces);
    }
    std::vector<std::string> got = lanes.Finish();
    ASSERT_EQ(got.size(), streams.size());
    for (size_t lane = 0; lane < streams.size(); ++lane) {
      EXPECT_EQ(HexEncode(got[lane]), HexEncode(Md5(streams[lane])))
          << "round " << round << ", stream " << lane << " of " << streams.size() << " ("
          << streams[lane].size() << " bytes)";
    }
  }
}

// Not a pass/fail speed check (the machine is shared): the throughput of
// four and of eight lanes against OpenSSL's MD5, for the log.
TEST(Md5LanesTest, ReportsThroughputAgainstOpenSsl) {
  const std::string data = RandomBytes(16 << 20, 3);
  auto seconds = [](auto&& body) {
    auto start = std::chrono::steady_clock::now();
    body();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::string openssl_digest;
  const double openssl_seconds = seconds([&] { openssl_digest = Md5(data); });
  const double mib = static_cast<double>(data.size()) / (1 << 20);
  std::string figures =
      fmt::format("MD5 of 16 MiB streams: OpenSSL {:.0f} MiB/s", mib / openssl_seconds);
  for (int streams : {4, 8}) {
    std::vector<std::string> lane_digests;
    const double lanes_seconds = seconds([&] {
      Md5Lanes lanes(streams);
      std::vector<std::string_view> pieces(static_cast<size_t>(streams), data);
      lanes.Update(pieces);
      lane_digests = lanes.Finish();
    });
    for (const std::string& digest : lane_digests) EXPECT_EQ(digest, openssl_digest);
    figures += fmt::format(", Md5Lanes with {} streams {:.0f} MiB/s", streams,
                           streams * mib / lanes_seconds);
  }
  std::printf("%s\n", figures.c_str());
}

}  // namespace
}  // namespace shardlake::s3
