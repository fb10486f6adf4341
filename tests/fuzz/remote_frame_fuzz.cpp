// Fuzz target: arbitrary bytes as a remote session's stream (remote/frame.h), read by a
// FrameReader (whole, and in pieces), by a relay's session after a valid hello (permissive
// authorization and entry check), and by a remote's link after its welcome. Must never crash;
// what decodes must re-encode to the same frame; what a relay passes to its engine must decode
// and carry only the session's own entries.
#include <cstdint>
#include <cstdlib>

#include "remote/link.h"
#include "remote/relay_session.h"

using namespace hearsay::remote;
using hearsay::gossip::ReplicationMessage;

namespace {

void read_frames(const std::uint8_t* data, std::size_t size, std::size_t piece) {
  FrameReader reader;
  for (std::size_t at = 0; at < size; at += piece) {
    reader.feed(data + at, std::min(piece, size - at));
    while (auto f = reader.next()) {
      const Bytes again = encode_frame(*f);
      FrameError error = FrameError::none;
      auto back = decode_frame_body(again.data() + 4, again.size() - 4, error);
      if (!back || !(*back == *f)) std::abort();
    }
  }
}

void relay_session(const std::uint8_t* data, std::size_t size) {
  Clock::time_point now{};
  RelaySessionConfig c;
  c.relay = "relay";
  c.session = 1;
  c.authorize = [](const Hello&) { return HelloVerdict{}; };
  c.check_entry = [](const Hello&, const hearsay::gossip::ReplicaEntry& e) {
    return e.key.size() % 7 == 3 ? std::string("refused") : std::string();
  };
  RelaySession session(c, now);
  const Bytes hello = encode_frame(Hello{kProtocolVersion, "laptop", "id", "token", 1, 1});
  session.received(hello.data(), hello.size(), now);
  if (!session.open()) std::abort();
  // In pieces of up to 97 bytes, 100 ms apart.
  for (std::size_t at = 0; at < size && !session.close_reason(); at += 97) {
    session.received(data + at, std::min<std::size_t>(97, size - at), now);
    now += std::chrono::milliseconds(100);
    session.tick(now);
    for (const RelayEvent& e : session.take_events()) {
      if (e.kind != RelayEvent::Kind::replication) continue;
      hearsay::gossip::DecodeError error;
      auto m = hearsay::gossip::decode_replication(e.replication.message.data(), e.replication.message.size(), error);
      if (!m || m->from != "laptop" || m->kind == ReplicationMessage::Kind::sync_reply) std::abort();
      for (const auto& entry : m->entries) {
        if (entry.owner != "laptop") std::abort();
      }
      for (const auto& block : m->blocks) {
        if (block.mark.owner != "laptop") std::abort();
      }
    }
    session.take_writes();
  }
  session.send(ReplicationFrame{});
  session.refuse("done", true);
}

void link(const std::uint8_t* data, std::size_t size) {
  Clock::time_point now{};
  LinkConfig c;
  c.relays = {"a:1", "b:1"};
  c.node = "laptop";
  Link l(c, now);
  l.start(now);
  auto connect = l.take_connect();
  if (!connect) std::abort();
  l.connected(connect->attempt, now);
  const Bytes welcome = encode_frame(Welcome{"relay", 1, 2000});
  l.received(connect->attempt, welcome.data(), welcome.size(), now);
  if (!l.established()) std::abort();
  for (std::size_t at = 0; at < size; at += 61) {
    l.received(connect->attempt, data + at, std::min<std::size_t>(61, size - at), now);
    now += std::chrono::milliseconds(250);
    l.tick(now);
    l.take_events();
    l.take_writes();
    if (l.take_close() && l.established()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  read_frames(data, size, size == 0 ? 1 : size);
  read_frames(data, size, 1);
  read_frames(data, size, 13);
  relay_session(data, size);
  link(data, size);
  return 0;
}
