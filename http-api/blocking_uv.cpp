// Parked blocking queries, each with its own libuv timer (a loop::Handle: freed in its close
// callback, so a finished waiter may go at once).
#include "http-api/blocking_uv.h"

#include <spdlog/spdlog.h>

#include "loop/handle.h"

namespace hearsay::http {

struct BlockingQueries::Waiter {
  Waiter(BlockingQueries* o, std::uint64_t min, Responder r, IndexFn i, RunFn f)
      : owner(o), min_index(min), responder(std::move(r)), index(std::move(i)), run(std::move(f)) {}
  BlockingQueries* owner;
  std::uint64_t min_index;
  Responder responder;
  IndexFn index;
  RunFn run;
  loop::Handle<uv_timer_t> timer;
  std::list<std::unique_ptr<Waiter>>::iterator self{};
};

BlockingQueries::BlockingQueries(uv_loop_t* loop) : loop_(loop), rng_(std::random_device{}()) {}

BlockingQueries::~BlockingQueries() { close(); }

void BlockingQueries::serve(const QueryOptions& options, Responder responder, IndexFn index, RunFn run) {
  const std::uint64_t current = index();
  if (answers_at_once(options, current)) {
    responder.send(run(current));
    return;
  }
  auto waiter = std::make_unique<Waiter>(this, options.index, std::move(responder), std::move(index), std::move(run));
  // Consul adds up to wait/16 of random jitter so that many watchers do not wake together.
  auto wait_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(options.wait).count());
  std::uint64_t jitter = wait_ms >= 16 ? rng_() % (wait_ms / 16) : 0;
  int rc = waiter->timer.init(loop_, waiter.get());
  if (rc == 0) rc = uv_timer_start(waiter->timer.get(), &BlockingQueries::on_timer, wait_ms + jitter, 0);
  if (rc != 0) {  // no timer to wait with: answer now, as a wait that ended
    spdlog::warn("blocking query: cannot start its timer: {}", uv_strerror(rc));
    waiter->responder.send(waiter->run(current));
    return;
  }
  waiters_.push_back(std::move(waiter));
  waiters_.back()->self = std::prev(waiters_.end());
  ++stats_.parked;
}

void BlockingQueries::on_timer(uv_timer_t* timer) {
  try {
    auto* waiter = static_cast<Waiter*>(timer->data);
    ++waiter->owner->stats_.timed_out;
    waiter->owner->finish(waiter->self);
  } catch (const std::exception& e) {
    spdlog::error("blocking query timer: {}", e.what());
  }
}

void BlockingQueries::finish(std::list<std::unique_ptr<Waiter>>::iterator it) {
  std::unique_ptr<Waiter> waiter = std::move(*it);
  waiters_.erase(it);
  waiter->timer.close();
  if (waiter->responder.connected()) waiter->responder.send(waiter->run(waiter->index()));
}

void BlockingQueries::wake() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    auto next = std::next(it);
    Waiter& w = **it;
    // Drop waiters whose client went away; answer those whose result changed.
    if (!w.responder.connected() || w.index() != w.min_index) {
      if (w.responder.connected()) ++stats_.woken;
      finish(it);
    }
    it = next;
  }
}

void BlockingQueries::close() {
  while (!waiters_.empty()) finish(waiters_.begin());
}

}  // namespace hearsay::http
