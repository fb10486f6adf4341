// memberlist messages against bytes captured from Debian serf 0.9.4 (memberlist-wire.md 3-5):
// our encoder must produce them exactly, our decoder must read them, and hostile input must be
// refused without crashing.
#include <catch2/catch.hpp>

#include <string>

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "hex.h"

using namespace hearsay::gossip;

namespace {

using test::hex;

const Bytes kLocalhost{127, 0, 0, 1};

// Captured: ping from b to a (59 bytes), ack without payload, alive and suspect with CRC, the
// start of a join push/pull, and a TCP ping to cpp1 with its compress wrapper.
const std::string kPing =
    "0085a44e6f6465a161a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a162aa536f75726365506f7274cd1f0b";
const std::string kAck = "0282a75061796c6f6164c0a55365714e6f01";
const std::string kAliveCrc =
    "0c8bd6e4d30486a441646472a47f000001ab496e6361726e6174696f6e01a44d657461a2ff80a44e6f6465a163a4506f7274cd1f0ca356736ea6"
    "010502020505";
const std::string kSuspectCrc = "0c2ee1d5510383a446726f6da162ab496e6361726e6174696f6e01a44e6f6465a163";
const std::string kPushPull =
    "0683a44a6f696ec3a54e6f64657301ac5573657253746174654c656ecd024987a441646472a47f000001ab496e6361726e6174696f6e01a44d6574"
    "61aaff81a4726f6c65a26462a44e616d65a162a4506f7274cd1f0ba5537461746500a356736ea6010502020505";
const std::string kTcpPing =
    "0085a44e6f6465a463707031a55365714e6f05aa536f7572636541646472a47f000001aa536f757263654e6f6465a161aa536f75726365506f7274"
    "cd1f0a";
const std::string kTcpPingCompressed =
    "0982a4416c676f00a3427566da003d00011422e5e40d9932a4c6c08113a3d49432710a165035e54d1d3963ca042143460ea93f000004a06811"
    "63998207438521793123943772e834fba02020";

Bytes copy(ByteView v) { return Bytes(v.begin(), v.end()); }

template <typename T>
T decoded(ByteView bytes) {
  DecodeResult r = decode(bytes.data(), bytes.size());
  INFO(drop_reason_name(r.error));
  REQUIRE(r.message);
  REQUIRE(std::holds_alternative<T>(*r.message));
  return std::get<T>(*r.message);
}

}  // namespace

TEST_CASE("ping and ack: byte-identical to serf's", "[unit]") {
  Ping ping{"a", 1, kLocalhost, "b", 0x1f0b};
  CHECK(encode(ping) == hex(kPing));
  Ping back = decoded<Ping>(hex(kPing));
  CHECK(back.node == "a");
  CHECK(back.seq_no == 1);
  CHECK(back.source_addr == kLocalhost);
  CHECK(back.source_node == "b");
  CHECK(back.source_port == 0x1f0b);
  CHECK(encode(Ack{1, {}}) == hex(kAck));
  CHECK(decoded<Ack>(hex(kAck)).payload.empty());
}

TEST_CASE("alive and suspect inside has-CRC packets", "[unit]") {
  Alive alive;
  alive.incarnation = 1;
  alive.node = "c";
  alive.addr = kLocalhost;
  alive.port = 0x1f0c;
  alive.meta = {0xff, 0x80};  // serf tags: an empty map
  CHECK(add_crc(encode(alive)) == hex(kAliveCrc));
  CHECK(add_crc(encode(Suspect{1, "c", "b"})) == hex(kSuspectCrc));

  for (const std::string& packet : {kAliveCrc, kSuspectCrc}) {
    Bytes bytes = hex(packet);
    UnwrappedPacket u = unwrap_packet(bytes.data(), bytes.size());
    REQUIRE(u.error == DropReason::none);
    REQUIRE(u.messages.size() == 1);
  }
  Bytes alive_bytes = hex(kAliveCrc);
  UnwrappedPacket u = unwrap_packet(alive_bytes.data(), alive_bytes.size());
  Alive back = decoded<Alive>(u.messages[0]);
  CHECK(back.vsn == kVersions);
  CHECK(back.meta == Bytes{0xff, 0x80});
  // One flipped bit fails the CRC and the packet is refused whole.
  alive_bytes.back() ^= 1;
  CHECK(unwrap_packet(alive_bytes.data(), alive_bytes.size()).error == DropReason::bad_crc);
  // Cut short after the CRC's type byte: too short to hold a CRC at all.
  CHECK(unwrap_packet(alive_bytes.data(), 3).error == DropReason::truncated);
}

TEST_CASE("push/pull header and node state as serf sends them", "[unit]") {
  Bytes bytes = hex(kPushPull);
  Bytes user_state(0x249, 0x02);
  bytes.insert(bytes.end(), user_state.begin(), user_state.end());
  PushPullResult r = decode_push_pull(bytes.data() + 1, bytes.size() - 1);
  INFO(drop_reason_name(r.error));
  REQUIRE(r.message);
  CHECK(r.message->join);
  REQUIRE(r.message->nodes.size() == 1);
  const PushNodeState& n = r.message->nodes[0];
  CHECK(n.name == "b");
  CHECK(n.port == 0x1f0b);
  CHECK(n.state == NodeState::alive);
  CHECK(n.meta == hex("ff81a4726f6c65a26462"));
  CHECK(r.message->user_state.size() == 0x249);
  CHECK(r.consumed == bytes.size() - 1);
  CHECK(encode_push_pull(*r.message) == bytes);
  // A stream reader sees "truncated" until the whole message is in.
  CHECK_FALSE(decode_push_pull(bytes.data() + 1, bytes.size() - 10).message);
}

TEST_CASE("compressed messages: serf's TCP ping decodes, ours encodes identically", "[unit]") {
  Bytes wrapped = hex(kTcpPingCompressed);
  UnwrappedPacket u = unwrap_packet(wrapped.data(), wrapped.size());
  REQUIRE(u.messages.size() == 1);
  CHECK(copy(u.messages[0]) == hex(kTcpPing));
  CHECK(decoded<Ping>(u.messages[0]).node == "cpp1");
  CHECK(compress_message(hex(kTcpPing)) == wrapped);
}

TEST_CASE("compound packets: parts, nesting and truncation", "[unit]") {
  Bytes ping = encode(Ping{"a", 7, kLocalhost, "b", 8301});
  Bytes suspect = encode(Suspect{3, "a", "b"});
  using Parts = std::vector<Bytes>;
  Bytes packet = make_compound(Parts{ping, compress_message(make_compound(Parts{suspect, encode(UserMessage{{42, 1}})}))});
  UnwrappedPacket u = unwrap_packet(packet.data(), packet.size());
  REQUIRE(u.messages.size() == 3);
  CHECK(copy(u.messages[0]) == ping);
  CHECK(copy(u.messages[1]) == suspect);
  CHECK(decoded<UserMessage>(u.messages[2]).payload == Bytes{42, 1});
  CHECK(u.dropped.empty());
  // The last part cut short: the first is still delivered.
  Bytes cut = make_compound(Parts{ping, suspect});
  cut.resize(cut.size() - 3);
  UnwrappedPacket partial = unwrap_packet(cut.data(), cut.size());
  CHECK(partial.messages.size() == 1);
  CHECK(partial.dropped == std::vector<DropReason>{DropReason::truncated});
}

TEST_CASE("hostile messages are refused, never trusted", "[unit]") {
  auto refused = [](const Bytes& b) { return !decode(b.data(), b.size()).message; };
  CHECK(refused({}));
  CHECK(refused({0x00}));                      // ping without a body
  CHECK(refused({0x00, 0x91, 0x01}));          // body is an array
  CHECK(refused(hex("0081a553657")));          // truncated key
  CHECK(refused({0x00, 0x81, 0xc4, 0x01, 'x', 0x01}));  // bin map key, as Go refuses
  // SeqNo beyond uint32, a string where bytes are expected is fine but a map is not.
  CHECK(refused(hex("0081a55365714e6fcf0000000100000000")));
  CHECK(refused(hex("0481a44164647281a161a162")));
  // An alive with a short Vsn (which crashes serf 0.2.2 if relayed) is refused.
  Alive alive;
  alive.node = "x";
  alive.vsn = {1, 5};
  Bytes b = encode(alive);
  CHECK(refused(b));
  // Each refusal names its reason (one counter each in Membership's stats).
  auto why = [](const Bytes& bytes) { return decode(bytes.data(), bytes.size()).error; };
  CHECK(why(b) == DropReason::invalid_field);
  CHECK(why({0x00}) == DropReason::not_msgpack);
  CHECK(why({0x00, 0x91, 0x01}) == DropReason::wrong_field_type);
  CHECK(why(hex("0481a44164647281a161a162")) == DropReason::wrong_field_type);
  CHECK(why({}) == DropReason::truncated);
  CHECK(why({0x09, 0x80}) == DropReason::misplaced_framing);
  CHECK(why({0x63, 0x80}) == DropReason::unknown_type);
  // Addresses longer than an IPv6 address are not IPs (an Address holds at most 16 bytes).
  alive.vsn = kVersions;
  alive.addr = Bytes(17, 1);
  CHECK(refused(encode(alive)));
  alive.addr = Bytes(16, 1);
  CHECK_FALSE(refused(encode(alive)));
  IndirectPing ind;
  ind.target = Bytes(20, 1);
  CHECK(refused(encode(ind)));
  Ping ping;
  ping.source_addr = Bytes(17, 1);
  CHECK(refused(encode(ping)));
  // A compound claiming more parts than bytes, compression that expands to nothing.
  Bytes liar{7, 200, 0, 5};
  CHECK(unwrap_packet(liar.data(), liar.size()).messages.empty());
  CHECK(unwrap_packet(liar.data(), liar.size()).dropped == std::vector<DropReason>{DropReason::truncated});
  Bytes empty_lzw = compress_message({});
  CHECK(unwrap_packet(empty_lzw.data(), empty_lzw.size()).messages.empty());
  CHECK(unwrap_packet(empty_lzw.data(), empty_lzw.size()).dropped == std::vector<DropReason>{DropReason::bad_compression});
  // A push/pull header claiming a million nodes in a few bytes.
  Bytes pp = hex("83a44a6f696ec2a54e6f646573ce000f4240ac5573657253746174654c656e00");
  CHECK_FALSE(decode_push_pull(pp.data(), pp.size()).message);
}
