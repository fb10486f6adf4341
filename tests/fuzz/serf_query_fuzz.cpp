// Fuzz target: arbitrary bytes as serf query messages (query, response, key request, key
// response) and as a serf message in a gossip user message to a Membership, whose Serf may
// deliver a key query and answer it. Must never crash; whatever decodes must re-encode to the same fields.
#include <cstdint>
#include <cstdlib>

#include "gossip/wire/codec.h"
#include "gossip/membership/membership.h"
#include "gossip/serf/serf.h"
#include "gossip/serf/serf_query.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace hearsay::gossip;
  const Bytes input(data, data + size);
  if (auto q = decode_serf_query(input)) {
    auto again = decode_serf_query(encode_serf_query(*q));
    if (!again || again->ltime != q->ltime || again->id != q->id || again->name != q->name ||
        again->payload != q->payload || again->addr != q->addr || again->timeout != q->timeout) {
      std::abort();
    }
  }
  if (auto r = decode_serf_query_response(input)) {
    auto again = decode_serf_query_response(encode_serf_query_response(*r));
    if (!again || again->from != r->from || again->payload != r->payload || again->flags != r->flags) std::abort();
  }
  if (auto key = decode_key_request(input)) {
    if (decode_key_request(encode_key_request(*key)) != key) std::abort();
  }
  if (auto k = decode_key_response(input)) {
    auto again = decode_key_response(encode_key_response(*k));
    if (!again || again->keys != k->keys || again->message != k->message || again->result != k->result) std::abort();
  }

  MembershipConfig config;
  config.name = "fuzz";
  config.advertise = Address{Bytes{127, 0, 0, 1}, 7946};
  Membership m(config, 1, Clock::time_point{});
  Serf serf(m, 1);
  const Bytes packet = encode(UserMessage{input});
  m.receive_packet(Address{Bytes{127, 0, 0, 2}, 7946}, packet.data(), packet.size(), Clock::time_point{});
  for (const SerfQuery& q : serf.take_queries()) serf.respond(q, encode_key_response({true, "", {}, ""}));
  (void)serf.take_query_responses();
  (void)serf.take_packets();
  (void)m.take_packets();
  return 0;
}
