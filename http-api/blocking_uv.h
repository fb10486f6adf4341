// Blocking queries (consul-compat.md section 2): a read with ?index=N waits until the index of
// *its own result* moves past N, or until ?wait (+ up to wait/16 jitter) elapses, then answers
// with the current result. The agent calls wake() after each group commit; each parked query
// re-reads only its own cheap index, so a watcher on one service sleeps through changes to others.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <random>

#include "http-api/query_options.h"
#include "http-api/server_uv.h"

namespace hearsay::http {

struct BlockingStats {
  std::uint64_t parked = 0;     // queries that had to wait
  std::uint64_t woken = 0;      // answered because their index moved
  std::uint64_t timed_out = 0;  // answered because the wait elapsed
};

class BlockingQueries {
 public:
  using IndexFn = std::function<std::uint64_t()>;
  using RunFn = std::function<Response(std::uint64_t index)>;

  explicit BlockingQueries(uv_loop_t* loop);
  ~BlockingQueries();
  BlockingQueries(const BlockingQueries&) = delete;
  BlockingQueries& operator=(const BlockingQueries&) = delete;

  // Answers now with run(index) unless the request asked to wait for a change of index().
  // A requested index above the current one answers at once too: after a restart or a switch
  // of agent the client's index means nothing here, and answering lets it resynchronise.
  void serve(const QueryOptions& options, Responder responder, IndexFn index, RunFn run);

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
