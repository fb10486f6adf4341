// Fuzz target: arbitrary bytes as a Go-LZW stream must decode or fail cleanly, and anything we
// compress must decompress to itself.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "gossip/wire/lzw.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearsay::gossip;
  std::optional<lzw::DecodeError> error;
  (void)lzw::decompress(data, size, 1 << 20, error);
  auto packed = lzw::compress(data, size);
  auto unpacked = lzw::decompress(packed.data(), packed.size(), size, error);
  if (error || unpacked.size() != size || (size > 0 && std::memcmp(unpacked.data(), data, size) != 0)) std::abort();
  return 0;
}
