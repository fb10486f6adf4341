// Writes the seed corpus of membership_fuzz (tests/fuzz/corpus/membership/) from real encoded
// messages: each seed is a script of steps in membership_fuzz.cpp's format (op, 16-bit length,
// bytes). Run once by hand after changing the format:
//   build/tests/fuzz/membership_corpus_gen tests/fuzz/corpus/membership
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "gossip/serf/serf_query.h"

using namespace hearsay::gossip;

namespace {

// Ops of membership_fuzz.cpp; the peer (0..3) is in bits 4-5.
enum Op : std::uint8_t { packet = 0, push = 4, reply = 5, tick = 6, pp_failed = 7, unreachable = 8, stream = 9,
                         join = 10, leave = 11, force_leave = 12, query = 13 };

struct Script {
  Bytes bytes;
  Script& step(std::uint8_t op, const Bytes& chunk, int peer = 0) {
    bytes.push_back(static_cast<std::uint8_t>(op | (peer << 4)));
    bytes.push_back(static_cast<std::uint8_t>(chunk.size() & 0xff));
    bytes.push_back(static_cast<std::uint8_t>(chunk.size() >> 8));
    bytes.insert(bytes.end(), chunk.begin(), chunk.end());
    return *this;
  }
  Script& wait_ms(unsigned ms) { return step(tick, Bytes{static_cast<std::uint8_t>(ms >> 16 ? 255 : ms >> 8), static_cast<std::uint8_t>(ms)}); }
  // decode_push_pull takes the body after the message type byte.
  Script& push_pull(std::uint8_t op, const PushPull& p, int peer = 0) {
    Bytes wire = encode_push_pull(p);
    return step(op, Bytes(wire.begin() + 1, wire.end()), peer);
  }
};

const Bytes kIp[4] = {{10, 0, 0, 2}, {10, 0, 0, 3}, {10, 0, 0, 4}, {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5}};
const std::uint16_t kPort[4] = {7946, 7946, 7946, 8301};
std::string name(int i) { return "p" + std::to_string(i); }

Alive alive(int i, std::uint32_t incarnation = 1) { return Alive{incarnation, name(i), kIp[i], kPort[i], {}, kVersions}; }
PushNodeState node(int i, NodeState state = NodeState::alive, std::uint32_t incarnation = 1) {
  return PushNodeState{name(i), kIp[i], kPort[i], {}, incarnation, state, kVersions};
}

void write(const std::filesystem::path& dir, const std::string& file, const Script& s) {
  std::ofstream(dir / file, std::ios::binary).write(reinterpret_cast<const char*>(s.bytes.data()),
                                                    static_cast<std::streamsize>(s.bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);

  // Three members join by alive messages, then time passes: probes, gossip, push/pull.
  Script joined;
  for (int i = 0; i < 3; ++i) joined.step(packet, encode(alive(i)), i);
  joined.wait_ms(1000).wait_ms(1000).wait_ms(30000);
  write(dir, "alive_then_time", joined);

  // Someone suspects us, then declares us dead: we refute both.
  Script accused;
  accused.step(packet, encode(alive(0))).step(packet, encode(Suspect{1, "self", name(0)}))
      .step(packet, encode(Dead{5, "self", name(0)})).wait_ms(200).wait_ms(200);
  write(dir, "accused_self", accused);

  // Probing: a ping for us, an indirect ping to relay, their ack and nack; a probe that fails.
  Script probing;
  probing.step(packet, encode(alive(0))).step(packet, encode(alive(1)), 1)
      .step(packet, encode(Ping{"self", 7, kIp[0], name(0), kPort[0]}))
      .step(packet, encode(IndirectPing{true, name(1), kPort[1], 9, kIp[0], name(0), kPort[0], kIp[1]}))
      .wait_ms(1000).step(packet, encode(Ack{1, {}}), 1).step(packet, encode(Nack{2}), 2)
      .step(unreachable, {}, 1).step(stream, Bytes{1}, 1).wait_ms(3000).wait_ms(10000);
  write(dir, "probing", probing);

  // A compound packet (alive, suspect, dead), with a CRC, and a compressed one.
  const Bytes compound = make_compound(std::vector<Bytes>{encode(alive(1)), encode(Suspect{1, name(1), name(0)}),
                                                          encode(Dead{1, name(1), name(1)})});
  Script framed;
  framed.step(packet, encode(alive(0))).step(packet, add_crc(compound)).step(packet, compress_message(encode(alive(2))), 2)
      .wait_ms(5000);
  write(dir, "compound_crc_compressed", framed);

  // Push/pull both ways: a join with three members, a reply that claims one of them left and
  // that we are dead (with a higher incarnation), then a failed exchange.
  PushPull join_pp{true, {node(0), node(1), node(2)}, {}};
  PushPull hostile{false, {node(0), node(1, NodeState::left, 2), PushNodeState{"self", kIp[3], 1, {}, 99, NodeState::dead, kVersions}},
                   {}};
  Script pushpull;
  pushpull.push_pull(push, join_pp).step(join, {}, 1).push_pull(reply, hostile, 1).step(pp_failed, {}, 2).wait_ms(30000);
  write(dir, "push_pull_merge", pushpull);

  // A serf key query in a user message, our own query, then a force-leave and our leave.
  SerfQuery q;
  q.ltime = 3;
  q.id = 42;
  q.addr = kIp[0];
  q.port = kPort[0];
  q.source_node = name(0);
  q.relay_factor = 0;
  q.timeout = std::chrono::seconds(1);
  q.name = "_serf_list-keys";
  Script serf;
  serf.step(packet, encode(alive(0))).step(packet, encode(UserMessage{encode_serf_query(q)}))
      .step(query, {}).wait_ms(2000).step(packet, encode(Dead{1, name(0), "self"}))
      .step(force_leave, Bytes{'p', '0'}).step(leave, {}).wait_ms(1000).wait_ms(1000);
  write(dir, "serf_query_leave", serf);
  std::printf("wrote 6 seeds to %s\n", dir.c_str());
  return 0;
}
