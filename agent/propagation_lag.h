// Replication propagation lag (hearsay_replication_propagation_lag_seconds): how long a peer's
// write took to reach this agent, from its owner's clock at the write to ours at its arrival.
// Record versions are the owner's wall clock in microseconds (LocalState::next_version), so
// the lag needs no field on the wire; it includes the clock skew between the two hosts.
// Pure: the caller hands in its wall clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "gossip/replication/replication.h"

namespace hearsay::agent {

// The lag of one change, or nothing when the change is not fresh news: only writes that came
// by broadcast count. Anti-entropy repairs (a sync block, a full state) can carry writes of any
// age, and removals we derive (a leave, a new generation) were never sent; stale duplicates are
// not reported by the engine at all. A negative lag (our clock behind the owner's) counts as 0.
inline std::optional<std::chrono::microseconds> propagation_lag_of(const gossip::ReplicaChange& change,
                                                                   std::uint64_t now_wall_us) {
  if (!change.broadcast) return std::nullopt;
  if (now_wall_us <= change.version) return std::chrono::microseconds{0};
  return std::chrono::microseconds{static_cast<std::int64_t>(now_wall_us - change.version)};
}

}  // namespace hearsay::agent
