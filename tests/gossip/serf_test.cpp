// Serf on Membership: intents, events and queries passed on once, force-leave, and serf's clocks
// followed through push/pull, on the simulated network or on one member fed by hand. (Queries
// delivered to the agent and answered: serf_query_test.cpp.)
#include <catch2/catch.hpp>

#include <chrono>
#include <set>
#include <string>

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "gossip/wire/msgpack_io.h"
#include "gossip/serf/serf.h"
#include "sim_cluster.h"
#include "sim_network.h"

using namespace hearsay::gossip;
using namespace std::chrono_literals;
using sim::converged;
using sim::join_all;
using sim::sees_dead;

TEST_CASE("force-leave turns a failed member into a left one everywhere, and only a failed one", "[unit]") {
  sim::Network net(8, sim::Options{.seed = 21});
  join_all(net, 21);
  REQUIRE(net.run_until_true([&] { return converged(net); }, 30s));
  CHECK(net.force_leave(0, 4) == "n4 is not failed; only failed members can be forced to leave");
  CHECK(net.force_leave(0, 0) == "cannot force-leave this agent itself (use leave)");
  net.kill(4);
  REQUIRE(net.run_until_true([&] { return sees_dead(net, 4); }, 60s));
  for (std::size_t v = 0; v < net.size(); ++v) {
    if (v != 4) CHECK(net.node(v).failed_members().contains("n4"));  // reconnect would retry it
  }
  CHECK(net.force_leave(0, 4).empty());
  // The leave intent spreads by gossip: everyone lists n4 as left and stops trying to reconnect.
  REQUIRE(net.run_until_true(
      [&] {
        for (std::size_t v = 0; v < net.size(); ++v) {
          if (v != 4 && net.state_of(v, 4) != NodeState::left) return false;
        }
        return true;
      },
      10s));
  for (std::size_t v = 0; v < net.size(); ++v) {
    if (v != 4) CHECK_FALSE(net.node(v).failed_members().contains("n4"));
  }
  CHECK(net.force_leave(1, 4).empty());  // already left: nothing to do, no error
}

TEST_CASE("serf events and queries and intents are passed on once but no-rebroadcast queries are not", "[unit]") {
  sim::Network net(4, sim::Options{.seed = 5});
  join_all(net, 5);
  REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
  net.run_for(5s);  // let the join traffic drain
  auto user_messages = [&] {
    std::uint64_t total = 0;
    for (std::size_t i = 1; i < net.size(); ++i) total += net.node(i).stats().user_messages;
    return total;
  };
  auto inject = [&](Bytes payload) {
    Bytes packet = encode(UserMessage{std::move(payload)});
    net.node(0).receive_packet(sim::Network::address_of(3), packet.data(), packet.size(), net.now());
  };
  // A query is known by (LTime, ID), as serf knows it.
  auto query = [](std::uint64_t flags, std::uint64_t id) {
    Bytes q{4};
    hearsay::gossip::mp::MapWriter(q, 4).uint("Flags", flags).uint("ID", id).uint("LTime", 3).str("Name", "_serf_ping");
    return q;
  };
  auto intent = [](const std::string& node, std::uint64_t ltime) {
    Bytes j{1};
    hearsay::gossip::mp::MapWriter(j, 2).uint("LTime", ltime).str("Node", node);
    return j;
  };
  const std::uint64_t before = user_messages();
  inject(query(2, 6));  // "do not rebroadcast"
  net.run_for(3s);
  CHECK(user_messages() == before);
  inject(query(0, 7));
  net.run_for(3s);
  const std::uint64_t after_query = user_messages();
  CHECK(after_query > before);
  inject(query(0, 7));  // the same query again: already passed on
  net.run_for(3s);
  CHECK(user_messages() == after_query);
  inject(intent("n2", 50));  // a join intent about a known member: passed on, once
  net.run_for(3s);
  const std::uint64_t after_intent = user_messages();
  CHECK(after_intent > after_query);
  inject(intent("n2", 50));
  inject(intent("nobody", 60));  // about an unknown member: dropped
  net.run_for(3s);
  CHECK(user_messages() == after_intent);
}

TEST_CASE("our serf leave intent is newer than the clock a serf peer sent in its push/pull", "[unit]") {
  MembershipConfig config;
  config.name = "h1";
  config.advertise = Address{Bytes{127, 0, 0, 1}, 7946};
  const Clock::time_point start{};
  Membership h1(config, 1, start);
  Serf serf(h1, 1);
  PushPull reply;
  reply.nodes.push_back(PushNodeState{"s1", Bytes{127, 0, 0, 2}, 7946, {}, 1, NodeState::alive, kVersions});
  reply.user_state = {2};  // serf push/pull state, of which only LTime matters here
  hearsay::gossip::mp::MapWriter(reply.user_state, 1).uint("LTime", 500);
  h1.push_pull_reply(reply, start);  // the user state reaches Serf through the delegate seam
  CHECK(serf.member_clock() == 500);
  serf.leave(start);
  CHECK(h1.has_left());
  // Gossip rounds carry the intent out; find its LTime.
  std::uint64_t sent_ltime = 0;
  for (int round = 1; round <= 5 && sent_ltime == 0; ++round) {
    h1.tick(start + std::chrono::milliseconds(200 * round));
    for (const OutgoingPacket& p : h1.take_packets()) {
      UnwrappedPacket packet = unwrap_packet(p.packet.data(), p.packet.size());
      for (const ByteView& m : packet.messages) {
        DecodeResult r = decode(m.data(), m.size());
        const auto* user = r.message ? std::get_if<UserMessage>(&*r.message) : nullptr;
        if (!user || user->payload.empty() || user->payload[0] != 0) continue;
        msgpack::zone zone;
        std::size_t offset = 1;
        auto object = hearsay::gossip::mp::unpack_one(zone, user->payload.data(), user->payload.size(), offset);
        REQUIRE(object);
        REQUIRE(hearsay::gossip::mp::StructReader(*object).u64("LTime", sent_ltime, UINT64_MAX));
      }
    }
  }
  CHECK(sent_ltime == 501);
}

TEST_CASE("a member whose leave intent arrived but whose own dead was lost is left, not failed, when it dies", "[unit]") {
  // serf's StatusLeaving: `serf leave` sends the intent, then memberlist's "dead" about itself.
  // When only the intent gets through (the process is gone before its dead is gossiped, or the
  // datagrams carrying it are lost), the death that probing finds is still a leave.
  sim::Network net(5, sim::Options{.seed = 9});
  join_all(net, 9);
  REQUIRE(net.run_until_true([&] { return converged(net); }, 30s));
  net.run_for(5s);
  Bytes intent{0};  // leave intent about n3, as serf sends it, newer than any clock so far
  hearsay::gossip::mp::MapWriter(intent, 2).uint("LTime", 1000).str("Node", "n3");
  const Bytes packet = encode(UserMessage{intent});
  net.node(0).receive_packet(sim::Network::address_of(3), packet.data(), packet.size(), net.now());
  net.run_for(3s);  // the intent spreads by gossip
  net.kill(3);      // and n3 is gone without a word more
  REQUIRE(net.run_until_true(
      [&] {
        for (std::size_t v = 0; v < net.size(); ++v) {
          if (v != 3 && net.state_of(v, 3) != NodeState::left) return false;
        }
        return true;
      },
      60s));
  for (std::size_t v = 0; v < net.size(); ++v) {
    if (v != 3) CHECK_FALSE(net.node(v).failed_members().contains("n3"));  // nobody reconnects to it
  }
  // A member that announced a leave and then came back (a newer join intent) fails as usual.
  Bytes leave{0}, join{1};
  hearsay::gossip::mp::MapWriter(leave, 2).uint("LTime", 2000).str("Node", "n4");
  hearsay::gossip::mp::MapWriter(join, 2).uint("LTime", 2001).str("Node", "n4");
  for (const Bytes& m : {leave, join}) {
    const Bytes p = encode(UserMessage{m});
    net.node(0).receive_packet(sim::Network::address_of(4), p.data(), p.size(), net.now());
  }
  net.run_for(3s);
  net.kill(4);
  REQUIRE(net.run_until_true([&] { return sees_dead(net, 4); }, 60s));
  CHECK(net.state_of(0, 4) == NodeState::dead);
}

TEST_CASE("a leaving member also sends its leave intent straight to alive members, at most 32 of them", "[unit]") {
  // Gossip alone can miss a serf member in a small cluster, which then lists us as failed.
  MembershipConfig config;
  config.name = "h1";
  config.advertise = Address{Bytes{127, 0, 0, 1}, 7946};
  const Clock::time_point start{};
  for (const std::size_t others : {std::size_t{3}, std::size_t{40}}) {
    Membership h1(config, 1, start);
    Serf serf(h1, 1);
    PushPull reply;
    for (std::size_t i = 0; i < others; ++i) {
      reply.nodes.push_back(PushNodeState{"s" + std::to_string(i), Bytes{127, 0, 1, static_cast<std::uint8_t>(i)}, 7946, {},
                                          1, NodeState::alive, kVersions});
    }
    reply.nodes.push_back(PushNodeState{"gone", Bytes{127, 0, 2, 1}, 7946, {}, 1, NodeState::dead, kVersions});
    h1.push_pull_reply(reply, start);
    (void)h1.take_packets();
    serf.leave(start);
    std::set<Address> told;
    for (const OutgoingPacket& p : serf.take_packets()) {
      DecodeResult r = decode(p.packet.data(), p.packet.size());
      const auto* user = r.message ? std::get_if<UserMessage>(&*r.message) : nullptr;
      REQUIRE(user);
      REQUIRE(!user->payload.empty());
      CHECK(user->payload[0] == 0);  // a leave intent
      told.insert(p.to);
    }
    CHECK(told.size() == std::min<std::size_t>(others, 32));
    CHECK_FALSE(told.contains(Address{Bytes{127, 0, 2, 1}, 7946}));  // not the dead
  }
}
