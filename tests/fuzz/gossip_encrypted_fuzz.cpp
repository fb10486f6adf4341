// Fuzz target: arbitrary bytes as an encrypted gossip datagram and as an encrypted TCP stream,
// opened with the test key 00..0f (the corpus holds real sealed packets). Must never crash, and
// what opens must go through the plaintext decoder like any packet.
#include <cstdint>

#include "gossip/wire/framing.h"
#include "gossip/wire/keyring.h"
#include "gossip/wire/stream_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearsay::gossip;
  static const Keyring ring = [] {
    Keyring r;
    Bytes key(16);
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
    r.add(key);
    return r;
  }();
  if (auto plain = ring.open(data, size)) (void)unwrap_packet(plain->data(), plain->size());
  if (auto length = encrypted_stream_length(data, size); length && *length <= size - 5) {
    if (auto plain = ring.open(data + 5, *length, Bytes(data, data + 5))) {
      (void)parse_stream_message(plain->data(), plain->size());
    }
  }
  return 0;
}
