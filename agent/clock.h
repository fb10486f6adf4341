// The agent's one clock: every part of the agent that needs "now" is handed this function
// instead of reading steady_clock itself, so a test can drive time (envoy's TimeSource).
// Monotonic on purpose: timeouts, suspicion and reaping must not jump with the wall clock.
#pragma once

#include <chrono>
#include <functional>

namespace hearsay::agent {

using TimeSource = std::function<std::chrono::steady_clock::time_point()>;

// The real one: std::chrono::steady_clock.
inline TimeSource steady_time_source() { return [] { return std::chrono::steady_clock::now(); }; }

}  // namespace hearsay::agent
