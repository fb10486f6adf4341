// Blocking queries on libuv (blocking.h says what they do): a parked read waits on its own timer
// for ?wait (+ up to wait/16 jitter). The agent calls wake() after each group commit; each parked
// query re-reads only its own cheap index, so a watcher on one service sleeps through changes to others.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <random>

#include "http-api/blocking.h"
#include "http-api/query_options.h"

namespace hearsay::http {

struct BlockingStats {
  std::uint64_t parked = 0;     // queries that had to wait
  std::uint64_t woken = 0;      // answered because their index moved
  std::uint64_t timed_out = 0;  // answered because the wait elapsed
};

class BlockingQueries : public BlockingWaiter {
 public:
  explicit BlockingQueries(uv_loop_t* loop);
  ~BlockingQueries() override;
  BlockingQueries(const BlockingQueries&) = delete;
  BlockingQueries& operator=(const BlockingQueries&) = delete;

  void serve(const QueryOptions& options, Responder responder, IndexFn index, RunFn run) override;

  // Re-checks every parked query; answers those whose index moved.
  void wake();
  // Answers every parked query now (shutdown) and stops the timers.
  void close();

  std::size_t parked_count() const { return waiters_.size(); }
  const BlockingStats& stats() const { return stats_; }

 private:
  struct Waiter;
  void finish(std::list<std::unique_ptr<Waiter>>::iterator it);
  static void on_timer(uv_timer_t* timer);

  uv_loop_t* loop_;
  std::list<std::unique_ptr<Waiter>> waiters_;
  std::mt19937_64 rng_;
  BlockingStats stats_;
};

}  // namespace hearsay::http
