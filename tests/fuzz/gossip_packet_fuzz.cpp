// Fuzz target: arbitrary bytes as a decrypted gossip UDP packet (CRC, compression, compounds,
// messages), as serf tags, as a TCP stream message and as a push/pull body. Must never crash; whatever decodes must re-encode
// to something that decodes again.
#include <cstdint>
#include <cstdlib>

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "gossip/serf/serf_tags.h"
#include "gossip/wire/stream_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearsay::gossip;
  UnwrappedPacket packet = unwrap_packet(data, size);
  for (const ByteView& m : packet.messages) {
    DecodeResult r = decode(m.data(), m.size());
    if (!r.message) continue;
    Bytes again = encode(*r.message);
    if (!decode(again.data(), again.size()).message) std::abort();
  }
  if (auto tags = decode_tags(Bytes(data, data + size))) {
    // Whatever we can re-encode (within 512 bytes) must decode to the same tags.
    if (auto again = encode_tags(*tags); again && decode_tags(*again) != tags) std::abort();
  }
  (void)parse_stream_message(data, size);  // a TCP stream's first bytes
  PushPullResult pp = decode_push_pull(data, size);
  if (pp.message) {
    Bytes again = encode_push_pull(*pp.message);
    if (!decode_push_pull(again.data() + 1, again.size() - 1).message) std::abort();
  }
  return 0;
}
