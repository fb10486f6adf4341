// gossip::Node: the routing between membership, serf and replication that the libuv shell
// used to do, now sans-I/O. Direct calls for the stream roles; the node simulator (node_sim.h)
// for whole clusters, membership and replication together.
#include "gossip/node.h"

#include <catch2/catch.hpp>

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "gossip/serf/serf_tags.h"
#include "node_sim.h"

using namespace hearsay::gossip;

namespace {

const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

Address addr(std::uint8_t last) { return Address{Bytes{127, 0, 0, last}, 7946}; }

NodeConfig config(const std::string& name, std::uint8_t last, bool hearsay = true) {
  NodeConfig c;
  c.membership.name = name;
  c.membership.advertise = addr(last);
  std::map<std::string, std::string> tags{{"role", "node"}};
  if (hearsay) tags[kHearsayTag] = "1";
  c.membership.meta = *encode_tags(tags);
  c.seed = last;
  return c;
}

StreamMessage parsed(const Bytes& b) { return parse_stream_message(b.data(), b.size()); }

// Runs `from`'s stream to `to` as the shell would: `to` answers it, `from` gets the reply.
void exchange(Node& from, const StreamOpen& s, Node& to, const Address& from_address, Clock::time_point now) {
  StreamAnswer answer = to.answer_stream(from_address, parsed(s.request), now);
  if (!s.wants_reply) return from.stream_written(s.id);
  REQUIRE(answer.reply);
  from.stream_reply(s.id, parsed(*answer.reply), now);
}

}  // namespace

TEST_CASE("a node answers a TCP fallback ping with its ack and refuses an ack nobody asked for", "[unit]") {
  Node a(config("a", 1), t0);
  Ping ping;
  ping.seq_no = 42;
  ping.node = "a";
  StreamAnswer answer = a.answer_stream(addr(2), parsed(compress_message(encode(ping))), t0);
  REQUIRE(answer.reply);
  StreamMessage reply = parsed(*answer.reply);
  REQUIRE(reply.kind == StreamMessage::Kind::ack);
  CHECK(reply.ack.seq_no == 42);
  CHECK(answer.refused.empty());

  StreamAnswer refused = a.answer_stream(addr(2), parsed(encode(Ack{7, {}})), t0);
  CHECK(refused.refused == "an ack nobody asked for");
  REQUIRE(refused.reply);
  DecodeResult d = decode(refused.reply->data(), refused.reply->size());
  REQUIRE(d.message);
  CHECK(std::holds_alternative<ErrorMessage>(*d.message));

  // A stream type nobody defined: refused, and the reply says why (memberlist logs it).
  const Bytes unknown{0x2a, 0x80};
  StreamAnswer odd = a.answer_stream(addr(2), parsed(unknown), t0);
  CHECK(odd.refused == "refused stream message: unknown_type");
}

TEST_CASE("a join through a seed merges both views and reports its outcome once under its id", "[unit]") {
  Node a(config("a", 1), t0), b(config("b", 2), t0);
  const std::uint64_t id = a.join(addr(2));
  NodeOutput out = a.take_output();
  REQUIRE(out.streams.size() == 1);
  CHECK(out.streams[0].id == id);
  CHECK(out.streams[0].to == addr(2));
  CHECK(parsed(out.streams[0].request).kind == StreamMessage::Kind::push_pull);
  CHECK(parsed(out.streams[0].request).push_pull.join);

  exchange(a, out.streams[0], b, addr(1), t0);
  CHECK(a.membership().alive_count() == 2);
  CHECK(b.membership().alive_count() == 2);
  out = a.take_output();
  REQUIRE(out.joins.size() == 1);
  CHECK(out.joins[0].id == id);
  CHECK(out.joins[0].error.empty());
  CHECK(a.streams_open() == 0);

  // A second report under the same id is ignored: no second outcome.
  a.stream_failed(id, "late", t0);
  CHECK(a.take_output().joins.empty());
}

TEST_CASE("a failed join reports why, and a periodic push/pull that fails reports nothing", "[unit]") {
  Node a(config("a", 1), t0);
  const std::uint64_t id = a.join(addr(9));
  (void)a.take_output();
  a.stream_failed(id, "connection refused", t0);
  NodeOutput out = a.take_output();
  REQUIRE(out.joins.size() == 1);
  CHECK(out.joins[0].error == "connection refused");
  CHECK(out.joins[0].seed == addr(9));

  // A reply that is not a push/pull fails the join too.
  const std::uint64_t id2 = a.join(addr(9));
  (void)a.take_output();
  a.stream_reply(id2, parsed(encode(Ack{1, {}})), t0);
  out = a.take_output();
  REQUIRE(out.joins.size() == 1);
  CHECK(out.joins[0].error == "the peer answered with something else than its state");
}

TEST_CASE("catalog writes reach hearsay members through the node and never a member without the tag", "[unit]") {
  nsim::Options options;
  options.seed = 3;
  options.hearsay = [](std::size_t i) { return i % 3 != 2; };  // n2, n5, n8: serf agents
  nsim::Network net(9, options);
  for (std::size_t i = 1; i < net.size(); ++i) net.join(i, 0, Duration(static_cast<std::int64_t>(i) * 10));
  REQUIRE(net.run_until_true(
      [&] {
        for (std::size_t i = 0; i < net.size(); ++i) {
          if (net.node(i).membership().alive_count() != net.size()) return false;
        }
        return true;
      },
      Duration(30000)));
  CHECK(net.joins_succeeded() == net.size() - 1);
  for (std::size_t i = 0; i < net.size(); ++i) {
    if (i % 3 != 2) net.write(i, "svc/" + std::to_string(i), "v" + std::to_string(i));
  }
  const std::size_t writers = 6;
  REQUIRE(net.run_until_true(
      [&] {
        for (std::size_t i = 0; i < net.size(); ++i) {
          if (i % 3 != 2 && net.copy(i).size() != writers - 1) return false;  // every other writer's key
        }
        return true;
      },
      Duration(30000)));
  CHECK(net.copy(4).at({"n7", "svc/7"}) == "v7");
  // Anti-entropy rounds keep running a while: still nothing for the serf agents. (The
  // simulator's stand-ins for them run a node all the same, whose own syncs fetch the catalog:
  // only what is sent to them counts.)
  net.run_for(Duration(20000));
  for (std::size_t i : {2, 5, 8}) CHECK(net.catalog_traffic_to(i) == 0);
  CHECK(net.catalog_traffic_to(1) > 0);
}
