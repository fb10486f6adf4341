// Group commit on libuv: an idle handle while a commit is pending, the commit in the check phase.
#include "agent/group_commit.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "agent/uv_guard.h"

namespace hearsay::agent {

GroupCommit::GroupCommit(uv_loop_t* loop, Steps steps) : steps_(std::move(steps)) {
  check_uv(idle_.init(loop, this), "group commit: uv_idle_init");
  check_uv(check_.init(loop, this), "group commit: uv_check_init");
  check_uv(uv_check_start(check_.get(), [](uv_check_t* h) { static_cast<GroupCommit*>(h->data)->flush(); }),
           "group commit: uv_check_start");
}

void GroupCommit::request() {
  if (closed_ || uv_is_active(idle_.base())) return;
  // An idle handle makes uv_run poll with a zero timeout, so the check phase comes at once.
  const int rc = uv_idle_start(idle_.get(), [](uv_idle_t*) {});
  if (rc != 0) spdlog::error("group commit: uv_idle_start: {} (the commit waits for the next I/O)", uv_strerror(rc));
}

void GroupCommit::after_commit(std::function<void(bool)> done) {
  waiting_.push_back(std::move(done));
  request();
}

void GroupCommit::flush() {
  try {
    if (idle_.open()) (void)uv_idle_stop(idle_.get());  // cannot fail: libuv returns 0
    catalog::DirtyKeys dirty = steps_.take_dirty();
    Outgoing outgoing = dirty.empty() ? Outgoing{} : steps_.prepare(dirty);
    const std::uint64_t start = uv_hrtime();
    const bool durable = steps_.commit(dirty);
    if (!dirty.empty()) commit_latency_.observe_ns(uv_hrtime() - start);
    if (durable) {
      steps_.publish(std::move(outgoing));
    } else {
      steps_.undo();
    }
    auto waiting = std::exchange(waiting_, {});
    for (auto& done : waiting) done(durable);
    steps_.after(dirty);
  } catch (const std::exception& e) {
    spdlog::error("group commit: {}", e.what());
  } catch (...) {
    spdlog::error("group commit: unknown exception");
  }
}

void GroupCommit::close() {
  if (closed_) return;
  closed_ = true;
  flush();
  idle_.close();
  check_.close();
}

}  // namespace hearsay::agent
