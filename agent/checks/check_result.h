// The outcome of one run of a health check, and Consul's 4 KiB output cap.
#pragma once

#include <string>

#include "catalog/model.h"

namespace hearsay::agent::checks {

struct CheckResult {
  catalog::HealthStatus status = catalog::HealthStatus::critical;
  std::string output;
};

inline constexpr std::size_t kMaxOutputBytes = 4096;  // Consul's BufSize / output_max_size default

// Cuts `output` to the cap, noting how much there was (Consul: "Captured N of M bytes").
std::string cap_output(std::string output, std::size_t total_bytes);

}  // namespace hearsay::agent::checks
