// Runs the agent's health checks on the libuv loop (consul-compat.md 4.2): interval checks
// start after a random delay in [0, interval) and then run every interval, never two runs of
// one check at once; TTL checks turn critical when no update arrives within the TTL. Results of
// interval checks pass through the check's thresholds (check_thresholds.h) before they are
// reported; TTL checks have none, as in Consul.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "agent/checks/check_run.h"
#include "catalog/model.h"

namespace hearsay::agent::checks {

class CheckScheduler {
 public:
  using ResultFn = std::function<void(const std::string& check_id, CheckResult result)>;

  CheckScheduler(uv_loop_t* loop, std::uint64_t seed, ResultFn on_result);
  ~CheckScheduler();
  CheckScheduler(const CheckScheduler&) = delete;
  CheckScheduler& operator=(const CheckScheduler&) = delete;

  // Starts the check, replacing a running one with the same ID. Type none: nothing to run.
  void start(const std::string& check_id, const catalog::CheckSpec& spec);
  void stop(const std::string& check_id);
  // Resets a TTL check's timer and remembers its output; false when it is not a running TTL check.
  bool ttl_update(const std::string& check_id, catalog::HealthStatus status, std::string output);
  // Stops everything; `done` runs once every timer has closed.
  void stop_all(std::function<void()> done);

  std::size_t running_count() const { return entries_.size(); }

 private:
  struct Entry;
  void tick(Entry& entry);
  void on_ttl_expired(Entry& entry);
  void close_entry(std::unique_ptr<Entry> entry);

  uv_loop_t* loop_;
  std::mt19937_64 rng_;
  ResultFn on_result_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  int closing_timers_ = 0;
  std::function<void()> on_all_closed_;
};

}  // namespace hearsay::agent::checks
