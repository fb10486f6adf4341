// Cluster-level checks and steps for tests on the simulated network (sim_network.h), shared by
// the Membership and Serf tests.
#pragma once

#include <random>
#include <vector>

#include "sim_network.h"

namespace hearsay::gossip::sim {

// Every live node sees every live node alive, and every killed node not alive. Counting alive
// entries first keeps this cheap on 1,000 x 1,000 views.
inline bool converged(sim::Network& net) {
  std::size_t live = 0;
  std::vector<std::size_t> killed;
  for (std::size_t i = 0; i < net.size(); ++i) {
    if (net.alive(i)) ++live;
    else killed.push_back(i);
  }
  for (std::size_t v = 0; v < net.size(); ++v) {
    if (!net.alive(v)) continue;
    if (net.node(v).alive_count() != live) return false;
    for (std::size_t k : killed) {
      if (net.state_of(v, k) == NodeState::alive) return false;
    }
  }
  return true;
}

// Joins everyone in order, each through a random earlier member, 10 ms apart.
inline void join_all(sim::Network& net, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (std::size_t i = 1; i < net.size(); ++i) {
    net.join(i, rng() % i, Duration(static_cast<std::int64_t>(i) * 10));
  }
}

inline bool sees_dead(sim::Network& net, std::size_t victim) {
  for (std::size_t v = 0; v < net.size(); ++v) {
    if (v == victim || !net.alive(v)) continue;
    const NodeState s = net.state_of(v, victim);
    if (s == NodeState::alive || s == NodeState::suspect) return false;
  }
  return true;
}

}  // namespace hearsay::gossip::sim
