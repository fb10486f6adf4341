// The replication engine on 1,000 simulated nodes: every replica converges to the owners' state,
// deletes included, with datagram loss and after a partition heals ([sim]: make check runs it
// on the optimized build only).
#include <catch2/catch.hpp>

#include "replication_sim.h"

using namespace hearsay::gossip;
using namespace std::chrono_literals;

namespace {

std::string value_of(std::size_t owner, int round) {
  return "owner " + std::to_string(owner) + " round " + std::to_string(round) + std::string(80, '.');
}

}  // namespace

TEST_CASE("1000 replicas: writes and deletes converge with loss, and again after a partition heals", "[sim]") {
  rsim::Network net(1000, rsim::Options{.seed = 7, .loss = 0.05});
  // 100 owners write 3 keys each (the others only replicate), then delete one.
  std::vector<std::size_t> owners;
  for (std::size_t i = 0; i < 1000; i += 10) owners.push_back(i);
  for (std::size_t o : owners) {
    for (int k = 0; k < 3; ++k) net.write(o, "key" + std::to_string(k), value_of(o, 0));
  }
  net.run_for(2s);
  for (std::size_t o : owners) net.erase(o, "key2");
  auto converged = net.run_until_true([&] { return net.converged(owners); }, 600s, 1s);
  REQUIRE(converged);
  // 300 writes at once queue up behind each other; anti-entropy (every 60 s at this size)
  // must not be needed for them.
  CHECK(*converged <= 60s);

  // One registration alone spreads by broadcast in a few gossip rounds.
  net.write(500, "single", value_of(500, 0));
  auto single = net.run_until_true([&] { return net.converged({500}); }, 60s, 100ms);
  REQUIRE(single);
  CHECK(*single <= 5s);

  // A partition: a third of the nodes cut off for 5 minutes, long enough for every broadcast
  // to use up its retransmits. Owners on both sides update one key and delete another.
  net.partition([](std::size_t i) { return i < 333 ? 0 : 1; });
  for (std::size_t o : owners) {
    net.write(o, "key0", value_of(o, 1));
    net.erase(o, "key1");
  }
  net.run_for(300s);
  CHECK_FALSE(net.converged(owners));
  net.heal();
  // Members coming back raise join events; an agent then syncs with a peer at once.
  for (std::size_t i = 0; i < net.size(); ++i) net.sync_soon(i);
  auto healed = net.run_until_true([&] { return net.converged(owners); }, 900s, 1s);
  REQUIRE(healed);
  // Members coming back make every agent sync at once and keep syncing while exchanges find
  // news; a straggler would otherwise wait for the periodic exchange (every 180 s at this size).
  CHECK(*healed <= 60s);
  WARN("1000 replicas, 100 owners: converged " << converged->count() << " ms after the writes (5% loss); one write in "
                                                << single->count() << " ms; " << healed->count() << " ms after a 300 s partition healed; "
                                                << net.packets_sent() << " packets, " << net.streams_sent() << " streams");
}
