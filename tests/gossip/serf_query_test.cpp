// serf's query protocol: the codecs (field names and types as serf 0.9 writes them) and how
// Serf (on a Membership) passes queries on, acks them, delivers key queries once and sends answers.
#include <catch2/catch.hpp>

#include <chrono>

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "gossip/membership/membership.h"
#include "gossip/wire/msgpack_io.h"
#include "gossip/serf/serf.h"
#include "gossip/serf/serf_query.h"

using namespace hearsay::gossip;
using namespace std::chrono_literals;

namespace {

SerfQuery install_query(std::uint64_t ltime, std::uint32_t id, std::uint32_t flags = 0) {
  SerfQuery q;
  q.ltime = ltime;
  q.id = id;
  q.addr = Bytes{127, 0, 0, 9};
  q.port = 7000;
  q.source_node = "s1";
  q.flags = flags;
  q.timeout = 3200ms;
  q.name = kInstallKeyQuery;
  q.payload = encode_key_request(Bytes(16, 0x42));
  return q;
}

MembershipConfig config_for(const std::string& name) {
  MembershipConfig config;
  config.name = name;
  config.advertise = Address{Bytes{127, 0, 0, 1}, 7946};
  return config;
}

// One agent's gossip layers: Membership, and Serf as its delegate.
struct Node {
  explicit Node(const std::string& name) : membership(config_for(name), 1, Clock::time_point{}) {}
  Membership membership;
  Serf serf{membership, 1};
};

void deliver(Node& m, const Bytes& serf_message) {
  Bytes packet = encode(UserMessage{serf_message});
  m.membership.receive_packet(Address{Bytes{127, 0, 0, 2}, 7946}, packet.data(), packet.size(), Clock::time_point{});
}

// The serf messages (user message payloads) in `packets`, compounds opened.
std::vector<Bytes> serf_messages(const std::vector<OutgoingPacket>& packets) {
  std::vector<Bytes> out;
  for (const OutgoingPacket& p : packets) {
    UnwrappedPacket packet = unwrap_packet(p.packet.data(), p.packet.size());
    for (const ByteView& m : packet.messages) {
      DecodeResult r = decode(m.data(), m.size());
      if (const auto* user = r.message ? std::get_if<UserMessage>(&*r.message) : nullptr) out.push_back(user->payload);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("serf query codecs round-trip with serf's field names", "[unit]") {
  const SerfQuery q = install_query(42, 0x1234567, kSerfQueryAck);
  const Bytes wire = encode_serf_query(q);
  REQUIRE(wire[0] == kSerfQueryType);
  CHECK(wire[1] == 0x8b);  // a map of serf's 11 fields
  auto back = decode_serf_query(wire);
  REQUIRE(back);
  CHECK(back->ltime == 42);
  CHECK(back->id == 0x1234567);
  CHECK(back->addr == q.addr);
  CHECK(back->port == 7000);
  CHECK(back->source_node == "s1");
  CHECK(back->flags == kSerfQueryAck);
  CHECK(back->timeout == 3200ms);
  CHECK(back->name == kInstallKeyQuery);
  CHECK_FALSE(back->filtered);
  CHECK(decode_key_request(back->payload) == Bytes(16, 0x42));

  const SerfQueryResponse r{42, 0x1234567, "h1", 0, encode_key_response({true, "", {"a2V5"}, "a2V5"})};
  auto r_back = decode_serf_query_response(encode_serf_query_response(r));
  REQUIRE(r_back);
  CHECK(r_back->from == "h1");
  CHECK(r_back->ltime == 42);
  auto key_response = decode_key_response(r_back->payload);
  REQUIRE(key_response);
  CHECK(key_response->result);
  CHECK(key_response->keys == std::vector<std::string>{"a2V5"});
  CHECK(key_response->primary_key == "a2V5");
}

TEST_CASE("malformed serf queries and answers are refused", "[unit]") {
  Bytes wire = encode_serf_query(install_query(1, 2));
  CHECK_FALSE(decode_serf_query(Bytes(wire.begin(), wire.begin() + static_cast<long>(wire.size() / 2))));
  Bytes wrong_type = wire;
  wrong_type[0] = kSerfQueryResponseType;
  CHECK_FALSE(decode_serf_query(wrong_type));
  CHECK_FALSE(decode_serf_query(Bytes{}));
  Bytes bad_name{kSerfQueryType};
  mp::MapWriter(bad_name, 1).uint("Name", 5);  // a number where serf has a string
  CHECK_FALSE(decode_serf_query(bad_name));
  Bytes filtered{kSerfQueryType};
  mp::MapWriter writer(filtered, 2);
  writer.byte_strings("Filters", {Bytes{0, 0x91, 0xa1, 'x'}}).str("Name", kListKeysQuery);
  auto with_filter = decode_serf_query(filtered);
  REQUIRE(with_filter);
  CHECK(with_filter->filtered);
  CHECK_FALSE(decode_key_response(Bytes{8, 0x81, 0xa6, 'R', 'e', 's', 'u', 'l', 't', 0xa1, 'x'}));
  CHECK_FALSE(decode_key_request(encode_key_response({})));
}

TEST_CASE("a key query is passed on and delivered once, acked when asked, answered to its asker", "[unit]") {
  Node m("h1");
  const SerfQuery q = install_query(10, 77, kSerfQueryAck);
  deliver(m, encode_serf_query(q));
  auto delivered = m.serf.take_queries();
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].name == kInstallKeyQuery);
  // The ack goes straight to the asker's address.
  CHECK(m.membership.take_packets().empty());  // nothing gossiped before the next round
  auto packets = m.serf.take_packets();
  REQUIRE(packets.size() == 1);
  CHECK(packets[0].to == (Address{Bytes{127, 0, 0, 9}, 7000}));
  auto ack = decode_serf_query_response(serf_messages(packets).at(0));
  REQUIRE(ack);
  CHECK(ack->flags == kSerfQueryAck);
  CHECK(ack->from == "h1");
  CHECK(ack->id == 77);

  m.serf.respond(delivered[0], encode_key_response({true, "", {}, ""}));
  auto answer = decode_serf_query_response(serf_messages(m.serf.take_packets()).at(0));
  REQUIRE(answer);
  CHECK(answer->flags == 0);
  CHECK(answer->ltime == 10);
  CHECK(decode_key_response(answer->payload)->result);

  deliver(m, encode_serf_query(q));  // the same query again, by another path
  CHECK(m.serf.take_queries().empty());
  CHECK(m.serf.take_packets().empty());
  CHECK(m.membership.take_packets().empty());

  // (Passing queries on, once, is covered in serf_test.cpp on a simulated cluster.)

  // Queries we do not act on are not delivered: serf's ping needs only the ack.
  SerfQuery ping = install_query(11, 78);
  ping.name = "_serf_ping";
  deliver(m, encode_serf_query(ping));
  CHECK(m.serf.take_queries().empty());
  // A query more than serf's 512 clock values old is ignored, as serf ignores it.
  deliver(m, encode_serf_query(install_query(2000, 1)));
  CHECK(m.serf.take_queries().size() == 1);
  CHECK(m.serf.query_clock() == 2000);
  deliver(m, encode_serf_query(install_query(1000, 2)));
  CHECK(m.serf.take_queries().empty());
}

TEST_CASE("our queries follow serf's query clock and answers to them are handed over", "[unit]") {
  Node m("h1");
  PushPull reply;
  reply.nodes.push_back(PushNodeState{"s1", Bytes{127, 0, 0, 2}, 7946, {}, 1, NodeState::alive, kVersions});
  reply.user_state = {2};  // serf's push/pull state
  mp::MapWriter(reply.user_state, 2).uint("LTime", 5).uint("QueryLTime", 900);
  m.membership.push_pull_reply(reply, Clock::time_point{});
  const SerfQuery q = m.serf.start_query(kListKeysQuery, {});
  CHECK(q.ltime == 901);  // serf drops queries far behind its clock
  CHECK(q.source_node == "h1");
  CHECK(q.port == 7946);
  CHECK(q.timeout == 3200ms);  // 200 ms x 16 x ceil(log10(2 + 1))
  // It goes out by gossip to the serf member...
  bool sent = false;
  for (int round = 1; round <= 3; ++round) {
    m.membership.tick(Clock::time_point{} + round * 200ms);
    for (const Bytes& message : serf_messages(m.membership.take_packets())) sent |= message == encode_serf_query(q);
  }
  CHECK(sent);
  // ...is not news when it comes back, and answers to it are handed over.
  deliver(m, encode_serf_query(q));
  CHECK(m.serf.take_queries().empty());
  deliver(m, encode_serf_query_response({q.ltime, q.id, "s1", 0, encode_key_response({true, "", {"k"}, "k"})}));
  auto answers = m.serf.take_query_responses();
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].from == "s1");
  // Garbage in the place of an answer is counted and dropped.
  const auto dropped = m.serf.stats().messages_dropped;
  deliver(m, Bytes{kSerfQueryResponseType, 0xc1});
  CHECK(m.serf.take_query_responses().empty());
  CHECK(m.serf.stats().messages_dropped == dropped + 1);
}
