// Go's compress/lzw (LSB bit order, 8-bit literals), the compression memberlist and serf use
// for gossip packets and every TCP stream (memberlist-wire.md 3.4). No Debian library speaks
// this variant (it is GIF-style LZW, not Unix compress), so it lives here, small and fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hearsay::gossip::lzw {

// Byte-for-byte what Go 1.19's writer produces: a clear code first, codes 9 to 12 bits wide,
// a clear and reset when the table is full, the EOF code last, zero padding to a byte.
std::vector<std::uint8_t> compress(const std::uint8_t* data, std::size_t size);

struct DecodeError {
  std::string message;
};

// Decodes a complete stream (it must end with the EOF code). Output beyond `max_output` bytes
// is an error rather than an allocation: a few bytes of LZW can claim megabytes.
std::vector<std::uint8_t> decompress(const std::uint8_t* data, std::size_t size, std::size_t max_output,
                                     std::optional<DecodeError>& error);

}  // namespace hearsay::gossip::lzw
