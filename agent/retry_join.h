// -retry-join's schedule: attempts with exponential backoff (1 s, 2 s, 4 s ... capped at
// retry_interval), until one succeeds or retry_max attempts have failed (0: try forever).
// Consul retries at a fixed retry_interval (30 s); starting at 1 s gets an agent that starts
// before its seeds into the cluster sooner, and the cap keeps a long outage cheap.
#pragma once

#include <chrono>
#include <optional>

namespace hearsay::agent {

class RetryJoinSchedule {
 public:
  using Duration = std::chrono::milliseconds;
  RetryJoinSchedule(Duration first, Duration cap, unsigned max_attempts)
      : next_(first), cap_(cap), max_attempts_(max_attempts) {}

  // An attempt was made and failed: how long to wait before the next one, or nullopt when
  // retry_max attempts have now failed.
  std::optional<Duration> after_failure() {
    ++failures_;
    if (max_attempts_ != 0 && failures_ >= max_attempts_) return std::nullopt;
    const Duration wait = next_;
    next_ = std::min(cap_, next_ * 2);
    return wait;
  }
  unsigned failures() const { return failures_; }

 private:
  Duration next_, cap_;
  unsigned max_attempts_;
  unsigned failures_ = 0;
};

}  // namespace hearsay::agent
