// Parked blocking queries, each with its own libuv timer. A timer handle is freed only in its
// close callback, so a finished waiter hands its timer memory to that callback.
#include "http-api/blocking_uv.h"

#include <spdlog/spdlog.h>

namespace hearsay::http {

struct BlockingQueries::Waiter {
  BlockingQueries* owner;
  std::uint64_t min_index;
  Responder responder;
  IndexFn index;
  RunFn run;
  uv_timer_t* timer;  // owned until closed; then freed by the close callback
  std::list<std::unique_ptr<Waiter>>::iterator self;
};

namespace {
void free_timer(uv_handle_t* handle) { delete reinterpret_cast<uv_timer_t*>(handle); }
}  // namespace

BlockingQueries::BlockingQueries(uv_loop_t* loop) : loop_(loop), rng_(std::random_device{}()) {}

BlockingQueries::~BlockingQueries() { close(); }

void BlockingQueries::serve(const QueryOptions& options, Responder responder, IndexFn index, RunFn run) {
  const std::uint64_t current = index();
  if (answers_at_once(options, current)) {
    responder.send(run(current));
    return;
  }
  auto waiter = std::make_unique<Waiter>(
      Waiter{this, options.index, std::move(responder), std::move(index), std::move(run), new uv_timer_t, {}});
  // Consul adds up to wait/16 of random jitter so that many watchers do not wake together.
  auto wait_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(options.wait).count());
  std::uint64_t jitter = wait_ms >= 16 ? rng_() % (wait_ms / 16) : 0;
  int rc = uv_timer_init(loop_, waiter->timer);
  if (rc != 0) {
    spdlog::warn("blocking query: uv_timer_init: {}", uv_strerror(rc));
    delete waiter->timer;
    waiter->responder.send(waiter->run(current));
    return;
  }
  waiter->timer->data = waiter.get();
  uv_timer_start(waiter->timer, &BlockingQueries::on_timer, wait_ms + jitter, 0);
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
  uv_timer_stop(waiter->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(waiter->timer), free_timer);
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
