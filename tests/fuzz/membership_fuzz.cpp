// Fuzz target: the membership state machine itself (gossip/membership/membership.h), not only its codec.
// The input is a script of steps, each `op len_lo len_hi bytes[len]` (a short last step takes
// what is left): raw UDP packets from one of four peers into receive_packet, hostile push/pulls
// merged as responder (handle_push_pull) and as initiator (push_pull_reply), time moving on
// (tick), unreachable ports, and our own join, leave (memberlist's and serf's) and force-leave.
// After every step, the outbox is drained and checked: every packet we send must unwrap and
// decode, every push/pull we answer or start must round-trip through the codec, our own member
// stays ourselves, and tick leaves no timer overdue. Must never crash.
// Seeds: tests/fuzz/corpus/membership/ (from membership_corpus_gen, real encoded messages).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "gossip/membership/membership.h"
#include "gossip/serf/serf.h"

namespace {

using namespace hearsay::gossip;

const Address kSelfAddress{Bytes{10, 0, 0, 1}, 7946};
const Address kPeers[4] = {{Bytes{10, 0, 0, 2}, 7946}, {Bytes{10, 0, 0, 3}, 7946}, {Bytes{10, 0, 0, 4}, 7946},
                           {Bytes{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}, 8301}};

// Says which packet broke which rule (the stack alone does not), then aborts.
[[noreturn]] void reject(const char* rule, const OutgoingPacket& p) {
  std::fprintf(stderr, "membership_fuzz: %s: %zu bytes to '%s', message types:", rule, p.packet.size(),
               p.to.to_string().c_str());
  for (const ByteView& m : unwrap_packet(p.packet.data(), p.packet.size()).messages) {
    std::fprintf(stderr, " %d", m.empty() ? -1 : m[0]);
  }
  std::fprintf(stderr, "\n");
  std::abort();
}

void check_push_pull(const PushPull& p) {
  const Bytes wire = encode_push_pull(p);
  if (wire.empty() || !decode_push_pull(wire.data() + 1, wire.size() - 1).message) std::abort();
}

void check_packet(const OutgoingPacket& p) {
  if (p.packet.empty() || p.packet.size() > 65507) reject("size", p);
  if ((p.to.ip.size() != 4 && p.to.ip.size() != 16) || p.to.port == 0) reject("destination", p);
}

// Everything the machines produced since the last step: ours to check, then thrown away.
void drain(Membership& m, Serf& serf, Clock::time_point now) {
  for (const OutgoingPacket& p : serf.take_packets()) check_packet(p);  // query answers, to the asker
  for (const OutgoingPacket& p : m.take_packets()) {
    check_packet(p);
    UnwrappedPacket packet = unwrap_packet(p.packet.data(), p.packet.size());
    if (packet.messages.empty()) reject("unreadable", p);  // we sent something we cannot read back
    for (const ByteView& msg : packet.messages) {
      if (!decode(msg.data(), msg.size()).message) reject("undecodable message", p);
    }
  }
  for (const PushPullRequest& r : m.take_push_pulls()) check_push_pull(r.request);
  (void)m.take_stream_pings();
  (void)m.take_udp_silent();
  (void)m.take_events();
  (void)m.take_app_messages();
  for (const SerfQuery& q : serf.take_queries()) serf.respond(q, Bytes{1, 2, 3});
  (void)serf.take_query_responses();
  // Our own entry stays ours, whatever others claimed about us.
  if (m.self().name != "self" || m.self().address != kSelfAddress) std::abort();
  if (!m.has_left() && m.self().state != NodeState::alive) std::abort();
  if (m.alive_count() > m.members().size()) std::abort();
  (void)now;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  MembershipConfig config;
  config.name = "self";
  config.advertise = kSelfAddress;
  Clock::time_point now = Clock::time_point{} + std::chrono::hours(1);
  Membership m(config, 1, now);
  Serf serf(m, 2);
  std::size_t pos = 0;
  for (int steps = 0; pos < size && steps < 256; ++steps) {
    const std::uint8_t op = data[pos++];
    std::size_t len = 0;
    if (pos < size) len = data[pos++];
    if (pos < size) len |= static_cast<std::size_t>(data[pos++]) << 8;
    len = std::min(len, size - pos);
    const std::uint8_t* chunk = data + pos;
    pos += len;
    const Address& peer = kPeers[(op >> 4) & 3];
    switch (op & 0x0f) {
      case 0:
      case 1:
      case 2:
      case 3:  // the common case: a datagram
        m.receive_packet(peer, chunk, len, now);
        break;
      case 4:  // a member pushes its state to us (or joins through us)
        if (PushPullResult p = decode_push_pull(chunk, len); p.message) check_push_pull(m.handle_push_pull(*p.message, now));
        break;
      case 5:  // the reply to a push/pull we started
        if (PushPullResult p = decode_push_pull(chunk, len); p.message) m.push_pull_reply(*p.message, now);
        break;
      case 6: {  // time passes: up to 65 s
        now += std::chrono::milliseconds(len ? chunk[0] * 256 + (len > 1 ? chunk[1] : 0) : 200);
        m.tick(now);
        if (m.next_deadline() < now) std::abort();  // tick ran everything due
        break;
      }
      case 7:  // (was a failed push/pull, which changes nothing): a serf leave instead
        serf.leave(now);
        break;
      case 8:
        m.port_unreachable(peer, now);
        break;
      case 9:
        m.stream_ping_result(len ? chunk[0] : 0, (op & 0x40) != 0, now);
        break;
      case 10:
        m.join({peer});
        break;
      case 11:
        m.leave(now);
        break;
      case 12:
        (void)serf.force_leave(std::string(reinterpret_cast<const char*>(chunk), len), now);
        break;
      case 13:
        (void)serf.start_query("_serf_list-keys", Bytes(chunk, chunk + len));
        break;
      default:
        m.tick(now);
        break;
    }
    drain(m, serf, now);
  }
  return 0;
}
