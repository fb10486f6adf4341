// Membership on the simulated network: small clusters for each rule ([unit], also under ASan),
// and the 1,000-member scenarios of the membership issue ([sim]).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "sim_cluster.h"
#include "sim_network.h"

using namespace hearsay::gossip;
using namespace std::chrono_literals;
using sim::converged;
using sim::join_all;
using sim::sees_dead;

namespace {

// Sums f(member) over every member but `victim`.
template <typename F>
auto sum_over_survivors(sim::Network& net, std::size_t victim, F f) {
  decltype(f(net.node(0))) total{};
  for (std::size_t v = 0; v < net.size(); ++v) {
    if (v != victim) total += f(net.node(v));
  }
  return total;
}

}  // namespace

TEST_CASE("retransmit and push/pull scaling match memberlist", "[unit]") {
  // (Lifeguard's suspicion timeouts are checked in suspicion_test.cpp.)
  CHECK(retransmit_limit(4, 3) == 4);
  CHECK(retransmit_limit(4, 10) == 8);
  CHECK(retransmit_limit(4, 99) == 8);
  CHECK(retransmit_limit(4, 100) == 12);
  CHECK(push_pull_scale(30000ms, 32) == 30000ms);
  CHECK(push_pull_scale(30000ms, 33) == 60000ms);
  CHECK(push_pull_scale(30000ms, 1000) == 180000ms);
}

TEST_CASE("a small cluster converges, detects a crash and sees a leave", "[unit]") {
  sim::Network net(12, sim::Options{.seed = 3});
  join_all(net, 3);
  REQUIRE(net.run_until_true([&] { return converged(net); }, 30s));

  net.kill(5);
  auto detected = net.run_until_true([&] { return sees_dead(net, 5); }, 60s);
  REQUIRE(detected);
  // Probe round (1 s each) + suspicion (4 s min, 24 s max for 12 members) + gossip.
  CHECK(*detected <= 30s);
  for (std::size_t v = 0; v < net.size(); ++v) {
    if (v != 5) CHECK(net.state_of(v, 5) == NodeState::dead);
  }

  net.leave(7);
  REQUIRE(net.run_until_true(
      [&] {
        for (std::size_t v = 0; v < net.size(); ++v) {
          if (v != 5 && v != 7 && net.state_of(v, 7) != NodeState::left) return false;
        }
        return true;
      },
      10s));
}

TEST_CASE("members that also fail to reach a suspect confirm it: detection nears the minimum timeout", "[unit]") {
  // 5 members: Lifeguard's suspicion lasts 24 s unconfirmed and 4 s with k = 2 confirmations.
  // Every member that probes the crashed one and fails must add its confirmation, even though
  // it already heard the suspicion by gossip.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    sim::Network net(5, sim::Options{.seed = seed});
    join_all(net, seed);
    REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
    net.run_for(3s);
    net.kill(2);
    auto detected = net.run_until_true([&] { return sees_dead(net, 2); }, 60s);
    REQUIRE(detected);
    INFO("seed " << seed << ": " << detected->count() << " ms");
    CHECK(*detected <= 12s);
  }
}

TEST_CASE("helpers nack in time: probing a crashed member does not raise the prober's awareness", "[unit]") {
  // Lifeguard counts a helper's nack as proof that the prober's own network works. memberlist's
  // helpers nack a full probe timeout after the request, which lands just after the prober's
  // deadline: every prober of a dead member then blamed itself. Ours nack at 4/5 of it.
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    sim::Network net(8, sim::Options{.seed = seed});
    join_all(net, seed);
    REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
    net.run_for(5s);  // awareness from the joins, if any, has gone
    std::uint64_t failed_before = 0;
    for (std::size_t v = 0; v < net.size(); ++v) failed_before += net.node(v).stats().probes_failed;
    net.kill(4);
    REQUIRE(net.run_until_true([&] { return sees_dead(net, 4); }, 60s));
    const std::uint64_t failed_probes = sum_over_survivors(net, 4, [](Membership& m) { return m.stats().probes_failed; });
    const int awareness = sum_over_survivors(net, 4, [](Membership& m) { return m.awareness(); });
    INFO("seed " << seed);
    CHECK(failed_probes - failed_before >= 2);  // the suspicion and a confirmation at least
    CHECK(awareness == 0);
  }
}

TEST_CASE("a crashed member whose host reports its port unreachable is suspected without waiting out the probe", "[unit]") {
  // With the reports, a probe of the dead member goes on to its indirect pings at once, the
  // helpers nack at once, and the probe ends as soon as every nack and the failed TCP ping are
  // in: the suspicion starts a few latencies after the ping instead of a probe interval after.
  // Same seeds, same kill, with and without the reports.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    std::optional<Duration> to_suspicion[2];
    for (bool reports : {false, true}) {
      sim::Network net(10, sim::Options{.seed = seed, .port_unreachable = reports});
      join_all(net, seed);
      REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
      net.run_for(3s);
      net.kill(6);
      auto suspected = net.run_until_true(
          [&] {
            for (std::size_t v = 0; v < net.size(); ++v) {
              if (v != 6 && net.state_of(v, 6) != NodeState::alive) return true;
            }
            return false;
          },
          30s, 1ms);
      REQUIRE(suspected);
      to_suspicion[reports] = suspected;
      REQUIRE(net.run_until_true([&] { return sees_dead(net, 6); }, 60s));
      const std::uint64_t reported = sum_over_survivors(net, 6, [](Membership& m) { return m.stats().ports_unreachable; });
      const int awareness = sum_over_survivors(net, 6, [](Membership& m) { return m.awareness(); });
      INFO("seed " << seed << (reports ? " with" : " without") << " reports");
      CHECK((reported > 0) == reports);
      CHECK(awareness == 0);  // every prober heard its helpers' nacks
    }
    INFO("seed " << seed << ": first suspicion " << to_suspicion[0]->count() << " ms without the reports, "
                 << to_suspicion[1]->count() << " ms with them");
    // Without: the first prober of the dead member waits a whole probe interval (1 s).
    CHECK(*to_suspicion[0] - *to_suspicion[1] >= 900ms);
  }
}

TEST_CASE("a port-unreachable report alone never ends a probe: a member that still answers stays alive", "[unit]") {
  // Reports can be forged or stale (a member restarting on its port). Without every helper's
  // nack and a failed TCP ping the probe runs to its deadline, and a member that answers a
  // helper is not suspected.
  sim::Network net(6, sim::Options{.seed = 9});
  join_all(net, 9);
  REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
  net.run_for(2s);
  for (int step = 0; step < 10000; ++step) {  // 10 s of a report every millisecond
    for (std::size_t v = 0; v < net.size(); ++v) {
      if (v != 3) net.node(v).port_unreachable(sim::Network::address_of(3), net.now());
    }
    net.run_for(1ms);
  }
  std::uint64_t probed_while_reported = 0;
  for (std::size_t v = 0; v < net.size(); ++v) {
    CHECK(net.state_of(v, 3) == NodeState::alive);
    probed_while_reported += net.node(v).stats().ports_unreachable;
  }
  CHECK(probed_while_reported > 0);  // the reports did reach probes of member 3
  CHECK(net.node(3).stats().refutations == 0);  // nobody suspected it, even for a moment
}

TEST_CASE("a prober cut off from everyone is no quicker to suspect with port-unreachable reports", "[unit]") {
  // Lifeguard: without the helpers' nacks the prober cannot tell a dead member from its own
  // broken network, so a report (forged, say) must not shorten the probe.
  std::optional<Duration> to_suspicion[2];
  for (bool reports : {false, true}) {
    sim::Network net(6, sim::Options{.seed = 4});
    join_all(net, 4);
    REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
    net.run_for(2s);
    net.partition([](std::size_t i) { return i == 0 ? 0 : 1; });
    const auto start = net.now();
    while (!to_suspicion[reports] && net.now() - start < 5s) {
      for (std::size_t v = 1; v < net.size() && reports; ++v) net.node(0).port_unreachable(sim::Network::address_of(v), net.now());
      net.run_for(1ms);
      for (std::size_t v = 1; v < net.size(); ++v) {
        if (net.state_of(0, v) != NodeState::alive) to_suspicion[reports] = std::chrono::duration_cast<Duration>(net.now() - start);
      }
    }
    REQUIRE(to_suspicion[reports]);
  }
  INFO("first suspicion " << to_suspicion[0]->count() << " ms without reports, " << to_suspicion[1]->count() << " ms with");
  CHECK(*to_suspicion[1] >= *to_suspicion[0]);
}

TEST_CASE("a member whose UDP is blocked but answers over TCP is not declared dead (TCP fallback probe)", "[unit]") {
  // As memberlist: a probe that gets no ack over UDP also pings the target over TCP; an answer
  // there means the member is alive and its UDP is lost, so it is not suspected. Without the
  // fallback (memberlist's DisableTcpPings) the same member is declared dead.
  for (const bool tcp_pings : {true, false}) {
    MembershipConfig base;
    base.tcp_pings = tcp_pings;
    sim::Network net(5, sim::Options{.seed = 21}, base);
    join_all(net, 21);
    REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
    net.block_udp(3);
    net.run_for(60s);  // 24 s is the longest suspicion at this size
    INFO("tcp_pings " << tcp_pings);
    std::uint64_t saved = 0;
    for (std::size_t v = 0; v < net.size(); ++v) {
      saved += net.node(v).stats().probes_answered_over_tcp_only;
      if (v == 3) continue;
      if (tcp_pings) CHECK(net.state_of(v, 3) == NodeState::alive);
      else CHECK(net.state_of(v, 3) == NodeState::dead);
    }
    if (tcp_pings) {
      CHECK(saved > 0);
      CHECK(net.stream_pings_started() > 0);
    } else {
      CHECK(net.stream_pings_started() == 0);
    }
  }
}

TEST_CASE("the TCP fallback ping does not delay detecting a crashed member, nor go to old peers", "[unit]") {
  sim::Network net(5, sim::Options{.seed = 4});
  join_all(net, 4);
  REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
  net.run_for(3s);
  net.kill(2);
  auto detected = net.run_until_true([&] { return sees_dead(net, 2); }, 60s);
  REQUIRE(detected);
  CHECK(*detected <= 12s);  // as in the confirmation test above: the fallback fails at once
  CHECK(net.stream_pings_started() > 0);

  // A member that advertises protocol 2 at most (memberlist before 0.1.x) is never pinged over TCP.
  Membership& n0 = net.node(0);
  Alive old;
  old.incarnation = 1;
  old.node = "old";
  old.addr = Bytes{10, 0, 0, 99};
  old.port = 7946;
  old.vsn = Bytes{1, 2, 2, 2, 5, 4};
  Bytes packet = encode(old);
  n0.receive_packet(sim::Network::address_of(1), packet.data(), packet.size(), net.now());
  REQUIRE(n0.members().find("old") != nullptr);
  const Address old_address{old.addr, old.port};
  bool probed_old = false;  // the loop below must have reached it, or it proves nothing
  for (int i = 0; i < 200; ++i) {
    n0.tick(net.now() + std::chrono::milliseconds(500 * i));
    for (const OutgoingPacket& p : n0.take_packets()) probed_old |= p.to == old_address;
    for (const StreamPing& p : n0.take_stream_pings()) CHECK(p.ping.node != "old");
  }
  CHECK(probed_old);
}

TEST_CASE("news goes out at once when no gossip round went out in the last interval, else with the next", "[unit]") {
  sim::Network net(3, sim::Options{.seed = 5});
  join_all(net, 5);
  REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
  net.run_for(10s);  // the join news has died out
  Membership& n0 = net.node(0);
  const std::uint32_t inc = n0.members().at("n2").incarnation;
  const Clock::time_point t = net.now();
  Bytes suspect = encode(Suspect{inc, "n2", "n1"});
  n0.receive_packet(sim::Network::address_of(1), suspect.data(), suspect.size(), t);
  CHECK(n0.next_deadline() <= t);  // not the next 200 ms tick
  n0.tick(t);
  bool gossiped = false;
  for (const OutgoingPacket& p : n0.take_packets()) {
    gossiped |= std::search(p.packet.begin(), p.packet.end(), suspect.begin() + 1, suspect.end()) != p.packet.end();
  }
  CHECK(gossiped);
  // More news 50 ms later waits for the interval: at most one round per gossip interval.
  Bytes other = encode(Suspect{n0.members().at("n1").incarnation, "n1", "n2"});
  n0.receive_packet(sim::Network::address_of(2), other.data(), other.size(), t + 50ms);
  CHECK(n0.next_deadline() >= t + 200ms);

  // Alone, with news nobody can take, a member does not spin: the next round is an interval away.
  MembershipConfig c;
  c.name = "alone";
  c.advertise = sim::Network::address_of(9);
  Membership alone(c, 1, Clock::time_point{});
  Serf alone_serf(alone, 1);
  alone_serf.leave(Clock::time_point{} + 1s);  // queues serf's leave intent
  alone.tick(Clock::time_point{} + 1s);
  CHECK(alone.next_deadline() > Clock::time_point{} + 1s);
}

TEST_CASE("accusations about ourselves are refuted with a higher incarnation", "[unit]") {
  sim::Network net(3, sim::Options{.seed = 9});
  join_all(net, 9);
  REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
  Membership& n0 = net.node(0);
  const std::uint32_t before = n0.self().incarnation;
  Bytes suspect = encode(Suspect{before, "n0", "n1"});
  n0.receive_packet(sim::Network::address_of(1), suspect.data(), suspect.size(), net.now());
  CHECK(n0.self().incarnation == before + 1);
  CHECK(n0.stats().refutations == 1);
  CHECK(n0.awareness() >= 1);  // being accused counts against our own health
  // The refutation spreads: the others keep n0 alive, at the new incarnation.
  net.run_for(5s);
  CHECK(net.node(1).members().at("n0").incarnation == before + 1);
  CHECK(net.state_of(1, 0) == NodeState::alive);
  // A dead message about us is refuted too; a stale one is ignored.
  Bytes dead = encode(Dead{before + 1, "n0", "n2"});
  n0.receive_packet(sim::Network::address_of(2), dead.data(), dead.size(), net.now());
  CHECK(n0.self().incarnation == before + 2);
  Bytes stale = encode(Suspect{before, "n0", "n2"});
  n0.receive_packet(sim::Network::address_of(2), stale.data(), stale.size(), net.now());
  CHECK(n0.self().incarnation == before + 2);
}

TEST_CASE("garbage packets are counted and dropped", "[unit]") {
  sim::Network net(2, sim::Options{.seed = 1});
  Membership& n0 = net.node(0);
  const Bytes junk{0x07, 0x05, 0xff};
  n0.receive_packet(sim::Network::address_of(1), junk.data(), junk.size(), net.now());
  const Bytes bad_ping{0x00, 0x91, 0x01};
  n0.receive_packet(sim::Network::address_of(1), bad_ping.data(), bad_ping.size(), net.now());
  CHECK(n0.stats().messages_dropped == 2);
  CHECK(n0.members().size() == 1);
  // Each counted under its reason: the compound announced 5 parts and has no room for them,
  // the ping's body is an array, not a map with string keys.
  const auto& by = n0.stats().dropped;
  CHECK(by[static_cast<std::size_t>(DropReason::truncated)] == 1);
  CHECK(by[static_cast<std::size_t>(DropReason::wrong_field_type)] == 1);
  // A push/pull sent by datagram, and a type nobody defined.
  const Bytes push_pull{0x06, 0x80}, unknown{0x2a, 0x80};
  n0.receive_packet(sim::Network::address_of(1), push_pull.data(), push_pull.size(), net.now());
  n0.receive_packet(sim::Network::address_of(1), unknown.data(), unknown.size(), net.now());
  CHECK(by[static_cast<std::size_t>(DropReason::unknown_type)] == 2);
  CHECK(n0.stats().messages_dropped == 4);
}

// One story on one 1,000-member cluster (joining is the expensive part, so it happens once):
// join and converge; a crash is detected by everyone within the Lifeguard bound; then 10% loss
// and a member starved of CPU for 5 s, with no live member declared dead; then a partition of
// 20 s that heals and converges again.
// bench/gossip.sh's join: everyone joins one member at once. Each alive message is sent a
// bounded number of times, and with hearsay's ~110 bytes of tags few fit in a packet, so at
// memberlist's pace (3 packets a round, the next push/pull 60 s away at N = 50) the median
// storm took 2.7 s and more than one in ten left a member waiting for push/pull. Gossiping to
// more members while news is queued, and exchanging state again soon after a push/pull that
// brought news, converge every seed in about a second.
TEST_CASE("a join storm of 50 converges within seconds, never waiting for a push/pull interval", "[unit]") {
  MembershipConfig base;
  base.meta = Bytes(110, 'x');  // the size of hearsay's serf tags
  constexpr std::size_t n = 50;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    sim::Network net(n, sim::Options{.seed = seed, .min_latency = Duration(0), .max_latency = Duration(1)}, base);
    for (std::size_t i = 1; i < n; ++i) net.join(i, 0, Duration(static_cast<std::int64_t>(i % 5)));
    auto everyone_sees_everyone = [&] {
      for (std::size_t v = 0; v < n; ++v) {
        if (net.node(v).alive_count() != n) return false;
      }
      return true;
    };
    const auto took = net.run_until_true(everyone_sees_everyone, 30s, Duration(10));
    INFO("seed " << seed);
    REQUIRE(took);
    CHECK(*took <= 3s);
  }
}

TEST_CASE("early push/pulls stop once views agree: an idle cluster keeps the regular interval", "[unit]") {
  sim::Network net(8, sim::Options{.seed = 9});
  join_all(net, 9);
  REQUIRE(net.run_until_true([&] { return converged(net); }, 20s));
  net.run_for(30s);  // the join's early exchanges are over
  const std::uint64_t before = net.push_pulls_started();
  net.run_for(300s);
  // One push/pull per member per 30 s interval (jittered), nothing more.
  const std::uint64_t started = net.push_pulls_started() - before;
  CHECK(started >= 8 * 9);
  CHECK(started <= 8 * 11);
}

TEST_CASE("1000 members: join, crash, loss with a starved member, partition and heal", "[sim]") {
  sim::Network net(1000, sim::Options{.seed = 42, .loss = 0.01});
  join_all(net, 42);
  auto joined = net.run_until_true([&] { return converged(net); }, 120s, 1s);
  REQUIRE(joined);

  net.kill(500);
  auto detected = net.run_until_true([&] { return sees_dead(net, 500); }, 120s, 500ms);
  REQUIRE(detected);
  // Somebody probes the victim about once a second; suspicion lasts between min (12 s at
  // n = 1000) and max (72 s), shortened by confirmations; then the dead message spreads.
  CHECK(*detected <= 72s + 10s);
  for (const auto& f : net.failures()) CHECK(f.subject == "n500");  // nobody else

  const std::size_t failures_before = net.failures().size();
  net.set_loss(0.10);
  net.pause(123, 5s);  // stops answering (and probing) for 5 s, then handles its backlog
  net.run_for(30s);
  for (std::size_t i = failures_before; i < net.failures().size(); ++i) {
    const auto& f = net.failures()[i];
    FAIL_CHECK("with 10% loss, n" << f.viewer << " declared " << f.subject << " failed");
  }
  net.set_loss(0.01);
  // Transient suspicions (refuted since) settle once the loss is gone.
  REQUIRE(net.run_until_true([&] { return converged(net); }, 30s, 1s));

  // A rack of 100 members cut off for 20 s: both sides suspect (and start to declare dead)
  // the other; after healing, refutations and gossip to the recently dead bring them back.
  net.partition([](std::size_t i) { return i < 100 ? 0 : 1; });
  net.run_for(20s);
  net.heal();
  auto healed = net.run_until_true([&] { return converged(net); }, 90s, 1s);
  REQUIRE(healed);
  WARN("1000 members: converged " << joined->count() << " ms after the first join; crash seen dead by all in "
                                  << detected->count() << " ms; 20 s partition healed in " << healed->count()
                                  << " ms; " << net.packets_sent() << " packets");
}



TEST_CASE("messages naming an address we cannot send to are dropped and counted", "[unit]") {
  // Found by membership_fuzz: an alive without "Addr" made a member we then probed at ":7946".
  MembershipConfig config;
  config.name = "h1";
  config.advertise = Address{Bytes{127, 0, 0, 1}, 7946};
  const Clock::time_point start{};
  Membership h1(config, 1, start);
  const Address from{Bytes{127, 0, 0, 2}, 7946};
  for (const Alive& bad : {Alive{1, "noaddr", Bytes{}, 7946, {}, kVersions},
                           Alive{1, "threebytes", Bytes{10, 0, 0}, 7946, {}, kVersions},
                           Alive{1, "noport", Bytes{10, 0, 0, 3}, 0, {}, kVersions}}) {
    const Bytes wire = encode(bad);
    const std::uint64_t dropped = h1.stats().messages_dropped;
    const std::uint64_t unusable = h1.stats().dropped[static_cast<std::size_t>(DropReason::unusable_address)];
    h1.receive_packet(from, wire.data(), wire.size(), start);
    CHECK(h1.stats().messages_dropped == dropped + 1);
    CHECK(h1.stats().dropped[static_cast<std::size_t>(DropReason::unusable_address)] == unusable + 1);
    CHECK_FALSE(h1.members().contains(bad.node));
  }
  PushPull pp;
  pp.nodes.push_back(PushNodeState{"pp-noaddr", Bytes{}, 7946, {}, 1, NodeState::alive, kVersions});
  pp.nodes.push_back(PushNodeState{"pp-good", Bytes{10, 0, 0, 4}, 7946, {}, 1, NodeState::alive, kVersions});
  h1.handle_push_pull(pp, start);
  CHECK_FALSE(h1.members().contains("pp-noaddr"));
  CHECK(h1.members().contains("pp-good"));
  // An indirect ping whose target has no IP or port is dropped too (membership_fuzz again), and
  // a ping's unusable source address falls back to where the datagram came from.
  (void)h1.take_packets();  // the merge's news, if it went out at once
  for (const IndirectPing& bad : {IndirectPing{false, "pp-good", 7946, 9, Bytes{127, 0, 0, 2}, "x", 7946, Bytes{}},
                                  IndirectPing{false, "pp-good", 0, 9, Bytes{127, 0, 0, 2}, "x", 7946, Bytes{10, 0, 0, 4}}}) {
    const Bytes wire = encode(bad);
    const std::uint64_t dropped = h1.stats().messages_dropped;
    h1.receive_packet(from, wire.data(), wire.size(), start);
    CHECK(h1.stats().messages_dropped == dropped + 1);
    CHECK(h1.take_packets().empty());
  }
  // A key query asking for answers at port 0 is passed on but never answered (nor acked).
  SerfQuery q;
  q.ltime = 1;
  q.id = 7;
  q.addr = Bytes{127, 0, 0, 2};
  q.port = 0;
  q.source_node = "x";
  q.flags = kSerfQueryAck;
  q.timeout = std::chrono::seconds(1);
  q.name = "_serf_list-keys";
  const Bytes query = encode(UserMessage{encode_serf_query(q)});
  Serf h1_serf(h1, 1);
  h1.receive_packet(from, query.data(), query.size(), start);
  CHECK(h1_serf.take_queries().empty());
  CHECK(h1_serf.take_packets().empty());
  for (const OutgoingPacket& p : h1.take_packets()) CHECK(p.to.port != 0);
  const Bytes ping = encode(Ping{"h1", 5, Bytes{10, 0, 0}, "x", 7946});
  h1.receive_packet(from, ping.data(), ping.size(), start);
  const auto acks = h1.take_packets();
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].to == from);
  // Nothing is ever sent to an address without an IP.
  for (int round = 1; round <= 20; ++round) {
    h1.tick(start + std::chrono::milliseconds(500 * round));
    for (const OutgoingPacket& p : h1.take_packets()) CHECK_FALSE(p.to.ip.empty());
  }
}
