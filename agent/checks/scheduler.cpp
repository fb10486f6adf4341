// Check scheduling. Each entry owns one timer (a loop::Handle, freed in its close callback) and
// at most one in-flight run, cancelled when the entry goes.
#include "agent/checks/scheduler.h"

#include <spdlog/spdlog.h>

#include "agent/checks/check_thresholds.h"
#include "agent/uv_guard.h"
#include "loop/handle.h"

namespace hearsay::agent::checks {

struct CheckScheduler::Entry {
  Entry(CheckScheduler* o, std::string i, catalog::CheckSpec s)
      : owner(o), id(std::move(i)), spec(std::move(s)), thresholds(spec) {}
  CheckScheduler* owner;
  std::string id;
  catalog::CheckSpec spec;
  CheckThresholds thresholds;  // counted afresh at each (re)start, as Consul does
  loop::Handle<uv_timer_t> timer;
  std::shared_ptr<CheckRun> run{};  // in flight
  std::string last_output{};      // TTL: what the last update said
};

namespace {
std::uint64_t to_ms(catalog::Duration d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms > 0 ? static_cast<std::uint64_t>(ms) : 1;
}
}  // namespace

CheckScheduler::CheckScheduler(uv_loop_t* loop, std::uint64_t seed, ResultFn on_result)
    : loop_(loop), rng_(seed), on_result_(std::move(on_result)) {}

CheckScheduler::~CheckScheduler() {
  // stop_all() must have run (its timers close through the loop); cancel runs regardless.
  for (auto& [id, entry] : entries_) {
    if (entry->run) entry->run->cancel();
  }
}

void CheckScheduler::start(const std::string& check_id, const catalog::CheckSpec& spec) {
  stop(check_id);
  if (spec.type == catalog::CheckType::none) return;
  auto entry = std::make_unique<Entry>(this, check_id, spec);
  if (const int rc = entry->timer.init(loop_, entry.get()); rc != 0) {
    spdlog::error("check {}: uv_timer_init: {}; the check does not run", check_id, uv_strerror(rc));
    return;
  }
  int rc = 0;
  if (spec.type == catalog::CheckType::ttl) {
    rc = uv_timer_start(entry->timer.get(), [](uv_timer_t* t) {
      guard_callback("TTL check", [e = static_cast<Entry*>(t->data)] { e->owner->on_ttl_expired(*e); });
    }, to_ms(spec.ttl), 0);
  } else {
    const std::uint64_t interval = to_ms(spec.interval);
    const std::uint64_t first = std::uniform_int_distribution<std::uint64_t>(0, interval - 1)(rng_);
    rc = uv_timer_start(entry->timer.get(), [](uv_timer_t* t) {
      guard_callback("check run", [e = static_cast<Entry*>(t->data)] { e->owner->tick(*e); });
    }, first, interval);
  }
  if (rc != 0) spdlog::error("check {}: uv_timer_start: {}; the check does not run", check_id, uv_strerror(rc));
  entries_[check_id] = std::move(entry);  // closed like any other when stopped
}

void CheckScheduler::tick(Entry& entry) {
  if (entry.run) return;  // the previous run is still going: skip this round
  const std::string id = entry.id;
  auto done = [this, id](CheckResult result) {
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      it->second->run.reset();
      const auto shown = it->second->thresholds.on_result(result.status);
      if (!shown) {
        spdlog::debug("check {}: {} result not reported yet (its threshold is not reached)", id,
                      catalog::to_string(result.status));
        return;
      }
      result.status = *shown;
    }
    on_result_(id, std::move(result));
  };
  try {
    switch (entry.spec.type) {
      case catalog::CheckType::http: entry.run = start_http_check(loop_, entry.spec, done); break;
      case catalog::CheckType::tcp: entry.run = start_tcp_check(loop_, entry.spec, done); break;
      case catalog::CheckType::script: entry.run = start_script_check(loop_, entry.spec, done); break;
      default: break;
    }
  } catch (const std::exception& e) {
    spdlog::error("check {}: cannot start: {}", id, e.what());
  }
}

void CheckScheduler::on_ttl_expired(Entry& entry) {
  std::string output = entry.last_output.empty()
                           ? "TTL expired"
                           : "TTL expired (last output before timeout follows): " + entry.last_output;
  on_result_(entry.id, CheckResult{catalog::HealthStatus::critical, std::move(output)});
}

bool CheckScheduler::ttl_update(const std::string& check_id, catalog::HealthStatus, std::string output) {
  auto it = entries_.find(check_id);
  if (it == entries_.end() || it->second->spec.type != catalog::CheckType::ttl) return false;
  Entry& e = *it->second;
  e.last_output = std::move(output);
  const int rc = uv_timer_start(e.timer.get(), [](uv_timer_t* t) {
    guard_callback("TTL check", [entry = static_cast<Entry*>(t->data)] { entry->owner->on_ttl_expired(*entry); });
  }, to_ms(e.spec.ttl), 0);
  if (rc != 0) spdlog::error("check {}: uv_timer_start: {}; the TTL is not reset", check_id, uv_strerror(rc));
  return true;
}

void CheckScheduler::stop(const std::string& check_id) {
  auto it = entries_.find(check_id);
  if (it == entries_.end()) return;
  std::unique_ptr<Entry> entry = std::move(it->second);
  entries_.erase(it);
  close_entry(std::move(entry));
}

void CheckScheduler::close_entry(std::unique_ptr<Entry> entry) {
  if (entry->run) entry->run->cancel();
  if (!entry->timer.open()) return;  // its timer never started
  ++closing_timers_;
  entry->timer.close([this] {
    guard_callback("check timer closed", [this] {
      if (--closing_timers_ == 0 && on_all_closed_) std::exchange(on_all_closed_, nullptr)();
    });
  });
}

void CheckScheduler::stop_all(std::function<void()> done) {
  on_all_closed_ = std::move(done);
  auto entries = std::move(entries_);
  entries_.clear();
  for (auto& [id, entry] : entries) close_entry(std::move(entry));
  if (closing_timers_ == 0 && on_all_closed_) std::exchange(on_all_closed_, nullptr)();
}

}  // namespace hearsay::agent::checks
