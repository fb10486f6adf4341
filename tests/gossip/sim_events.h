// Virtual time for the simulators: a queue of actions ordered by when they run (ties keep
// insertion order), and the loops that drive it. Nothing here reads the wall clock.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

#include "gossip/membership/config.h"

namespace hearsay::gossip::sim {

class EventQueue {
 public:
  explicit EventQueue(Clock::time_point start) : now_(start) {}
  Clock::time_point now() const { return now_; }

  void at(Clock::time_point when, std::function<void()> fn) {
    events_.push_back(Event{std::max(when, now_), next_id_++, std::move(fn)});
    std::push_heap(events_.begin(), events_.end());
  }
  void run_for(Duration d) { run_until(now_ + d); }
  void run_until(Clock::time_point end) {
    while (!events_.empty() && events_.front().when <= end) {
      std::pop_heap(events_.begin(), events_.end());
      Event e = std::move(events_.back());
      events_.pop_back();
      now_ = e.when;
      e.action();
    }
    now_ = end;
  }
  // Runs until `done()` holds (checked every `step`) or `limit` passes; returns the time taken.
  std::optional<Duration> run_until_true(const std::function<bool()>& done, Duration limit, Duration step) {
    const Clock::time_point start = now_;
    while (now_ - start <= limit) {
      if (done()) return std::chrono::duration_cast<Duration>(now_ - start);
      run_for(step);
    }
    return std::nullopt;
  }

 private:
  struct Event {
    Clock::time_point when;
    std::uint64_t order;
    std::function<void()> action;
    bool operator<(const Event& o) const { return when != o.when ? when > o.when : order > o.order; }
  };
  Clock::time_point now_;
  std::vector<Event> events_;  // a heap ordered by time
  std::uint64_t next_id_ = 0;
};

}  // namespace hearsay::gossip::sim
