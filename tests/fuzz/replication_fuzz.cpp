// Fuzz target: arbitrary bytes as a replication message (broadcast, sync request/reply, push)
// from a peer, and as the catalog record bodies those messages carry. Must never crash; what
// decodes must re-encode to the same message; an engine fed the message must stay consistent.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "catalog/record_codec.h"
#include "gossip/replication/replication.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearsay::gossip;
  DecodeError error = DecodeError::none;
  if (auto m = decode_replication(data, size, error)) {
    const Bytes again = encode(*m);
    auto back = decode_replication(again.data(), again.size(), error);
    if (!back || !(*back == *m)) std::abort();
  }
  // The engine takes it as a peer's stream; a sync request is answered with something that
  // decodes.
  Replication engine(ReplicationConfig{.name = "self"}, 1, Clock::time_point{});
  engine.set_peers({{"peer", Address{Bytes{127, 0, 0, 1}, 7946}}});
  const Address from{Bytes{127, 0, 0, 2}, 7946};
  if (auto reply = engine.handle_stream(from, data, size, Clock::time_point{})) {
    if (!decode_replication(reply->data(), reply->size(), error)) std::abort();
  }
  engine.receive(from, data, size, Clock::time_point{});
  for (const auto& c : engine.take_changes()) {
    if (c.deleted && !c.value.empty()) std::abort();  // a removal carries no value
  }
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)hearsay::catalog::decode_node(bytes);
  (void)hearsay::catalog::decode_service(bytes);
  (void)hearsay::catalog::decode_check(bytes);
  return 0;
}
