// The agent's one clock: every part of the agent that needs "now" is handed this function
// instead of reading steady_clock itself, so a test can drive time (envoy's TimeSource).
// Monotonic on purpose: timeouts, suspicion and reaping must not jump with the wall clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace hearsay::agent {

using TimeSource = std::function<std::chrono::steady_clock::time_point()>;

// The real one: std::chrono::steady_clock.
inline TimeSource steady_time_source() { return [] { return std::chrono::steady_clock::now(); }; }

// The wall clock in microseconds since the epoch, for the one thing the monotonic clock cannot
// do: compare with another host. Our record versions are taken from it (LocalState), and a
// peer's version against it gives the replication propagation lag (propagation_lag.h).
inline std::uint64_t wall_clock_microseconds() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
}

}  // namespace hearsay::agent
