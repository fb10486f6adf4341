// Go compress/lzw compatibility: the golden stream captured from serf (memberlist-wire.md 3.4),
// round trips across the width changes and the table reset, and malformed streams.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "gossip/wire/lzw.h"
#include "hex.h"

using namespace hearsay::gossip;

namespace {

using test::hex;

std::vector<std::uint8_t> roundtrip(const std::vector<std::uint8_t>& input) {
  auto packed = lzw::compress(input.data(), input.size());
  std::optional<lzw::DecodeError> error;
  auto unpacked = lzw::decompress(packed.data(), packed.size(), 1 << 24, error);
  REQUIRE_FALSE(error);
  return unpacked;
}

// A TCP fallback ping from serf 0.9.4 to a node named cpp1, and the LZW stream serf sent for it.
const std::string kPing =
    "0085a44e6f6465a463707031a55365714e6f05aa536f7572636541646472a47f000001aa536f757263654e6f6465a161aa536f75726365"
    "506f7274cd1f0a";
const std::string kStream =
    "00011422e5e40d9932a4c6c08113a3d49432710a165035e54d1d3963ca042143460ea93f000004a0681163998207438521793123943772e8"
    "34fba02020";

}  // namespace

TEST_CASE("decodes the stream serf sent and encodes the same bytes as Go", "[unit]") {
  auto stream = hex(kStream);
  std::optional<lzw::DecodeError> error;
  auto plain = lzw::decompress(stream.data(), stream.size(), 65536, error);
  REQUIRE_FALSE(error);
  CHECK(plain == hex(kPing));
  auto ping = hex(kPing);
  CHECK(lzw::compress(ping.data(), ping.size()) == stream);
}

TEST_CASE("round trips through every code width and the table reset", "[unit]") {
  CHECK(roundtrip({}).empty());
  CHECK(roundtrip({42}) == std::vector<std::uint8_t>{42});
  std::vector<std::uint8_t> repetitive(100000);
  for (std::size_t i = 0; i < repetitive.size(); ++i) repetitive[i] = static_cast<std::uint8_t>("abcabcabd"[i % 9]);
  CHECK(roundtrip(repetitive) == repetitive);
  std::mt19937 rng(7);
  std::vector<std::uint8_t> noise(200000);  // fills the 4096-code table many times over
  for (auto& b : noise) b = static_cast<std::uint8_t>(rng() % 7);  // small alphabet: long codes
  CHECK(roundtrip(noise) == noise);
  for (auto& b : noise) b = static_cast<std::uint8_t>(rng());
  CHECK(roundtrip(noise) == noise);
  std::vector<std::uint8_t> run(70000, 'x');  // KwKwK on every code
  CHECK(roundtrip(run) == run);
}

TEST_CASE("malformed streams are errors, not crashes", "[unit]") {
  std::optional<lzw::DecodeError> error;
  auto stream = hex(kStream);
  // Cut before the EOF code.
  (void)lzw::decompress(stream.data(), stream.size() - 3, 65536, error);
  CHECK(error);
  // A code that is not yet defined: 9-bit code 300 right after the clear code.
  std::vector<std::uint8_t> bad{0x00, 0x01 | (300 & 0x7f) << 1, 300 >> 7};
  (void)lzw::decompress(bad.data(), bad.size(), 65536, error);
  CHECK(error);
  // Empty input.
  (void)lzw::decompress(nullptr, 0, 65536, error);
  CHECK(error);
  // Output over the limit.
  std::vector<std::uint8_t> big(10000, 'y');
  auto packed = lzw::compress(big.data(), big.size());
  (void)lzw::decompress(packed.data(), packed.size(), 9999, error);
  CHECK(error);
  auto ok = lzw::decompress(packed.data(), packed.size(), 10000, error);
  CHECK_FALSE(error);
  CHECK(ok.size() == 10000);
}
