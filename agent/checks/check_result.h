// The outcome of one run of a health check, and Consul's 4 KiB output cap.
#pragma once

#include <string>

#include "catalog/model.h"

namespace hearsay::agent::checks {

struct CheckResult {
  catalog::HealthStatus status = catalog::HealthStatus::critical;
  std::string output;
};

inline constexpr std::size_t kMaxOutputBytes = 4096;  // Consul's BufSize / check_output_max_size default

// The output a run keeps: the check's OutputMaxSize when it is set and below the agent's
// check_output_max_size, else the agent's (Consul: a check can only lower the agent's cap).
inline std::size_t output_limit(std::size_t agent_limit, int check_limit) {
  if (agent_limit == 0) agent_limit = kMaxOutputBytes;
  return check_limit > 0 && static_cast<std::size_t>(check_limit) < agent_limit ? static_cast<std::size_t>(check_limit)
                                                                                 : agent_limit;
}
// A run's cap: its spec's output_max_size, which LocalState resolves with the one above before
// the check starts; unset (a spec not resolved), Consul's 4 KiB.
inline std::size_t output_limit(const catalog::CheckSpec& spec) {
  return spec.output_max_size > 0 ? static_cast<std::size_t>(spec.output_max_size) : kMaxOutputBytes;
}

// Cuts `output` to `limit` bytes, noting how much there was (Consul: "Captured N of M bytes").
std::string cap_output(std::string output, std::size_t total_bytes, std::size_t limit = kMaxOutputBytes);

}  // namespace hearsay::agent::checks
