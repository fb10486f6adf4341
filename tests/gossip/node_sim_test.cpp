// Whole nodes on the simulated network (node_sim.h): membership and replication together, as
// agents run them, with the routing between them in gossip::Node.
#include <catch2/catch.hpp>

#include <random>

#include "node_sim.h"

using namespace hearsay::gossip;

namespace {

bool all_see_all(nsim::Network& net) {
  std::size_t live = 0;
  for (std::size_t i = 0; i < net.size(); ++i) live += net.alive(i) ? 1 : 0;
  for (std::size_t i = 0; i < net.size(); ++i) {
    if (net.alive(i) && net.node(i).membership().alive_count() != live) return false;
  }
  return true;
}

// Every live node's application copy holds exactly the keys every other writer wrote.
bool copies_complete(nsim::Network& net, std::size_t keys_per_node) {
  for (std::size_t i = 0; i < net.size(); ++i) {
    if (!net.alive(i)) continue;
    if (net.copy(i).size() != (net.size() - 1) * keys_per_node) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("300 nodes join, replicate through loss, detect a crash, stop syncing with it and keep its records", "[sim]") {
  nsim::Options options;
  options.seed = 11;
  options.loss = 0.05;
  nsim::Network net(300, options);
  std::mt19937_64 rng(11);
  for (std::size_t i = 1; i < net.size(); ++i) net.join(i, rng() % i, Duration(static_cast<std::int64_t>(i) * 10));
  const auto joined = net.run_until_true([&] { return all_see_all(net); }, Duration(120000));
  REQUIRE(joined);
  INFO("joined in " << joined->count() << " ms");

  constexpr std::size_t kKeys = 3;
  for (std::size_t i = 0; i < net.size(); ++i) {
    for (std::size_t k = 0; k < kKeys; ++k) net.write(i, "svc/" + std::to_string(k), "n" + std::to_string(i));
  }
  const auto replicated = net.run_until_true([&] { return copies_complete(net, kKeys); }, Duration(120000));
  REQUIRE(replicated);
  INFO("replicated in " << replicated->count() << " ms");
  CHECK(net.copy(17).at({"n250", "svc/2"}) == "n250");

  // A crash: every member sees it fail, and replication sends it nothing once its failure is
  // known (the node's peers follow membership), while its records stay (the agent reaps them
  // later, after reconnect_timeout).
  const std::size_t victim = 123;
  net.kill(victim);
  REQUIRE(net.run_until_true(
      [&] {
        for (std::size_t v = 0; v < net.size(); ++v) {
          if (v == victim) continue;
          const NodeState s = net.state_of(v, victim);
          if (s == NodeState::alive || s == NodeState::suspect) return false;
        }
        return true;
      },
      Duration(120000)));
  CHECK(net.copy(5).at({"n123", "svc/0"}) == "n123");
  // Writes after the crash still reach every live node, and none is sent to the dead one.
  for (std::size_t i = 0; i < 20; ++i) net.write(i == victim ? 299 : i, "svc/late", "late");
  REQUIRE(net.run_until_true(
      [&] {
        for (std::size_t i = 0; i < net.size(); ++i) {
          if (i != 7 && i != victim && !net.copy(i).contains({"n7", "svc/late"})) return false;
        }
        return true;
      },
      Duration(60000)));
  net.run_for(Duration(60000));
  CHECK(net.catalog_to_after_failure(victim) == 0);
}
