// Blocking queries as the endpoints see them (consul-compat.md section 2): a read with ?index=N
// waits until the index of *its own result* moves past N, or until ?wait elapses, then answers
// with the current result. Pure: the endpoints hand a read to a BlockingWaiter; blocking_uv.h
// implements it with libuv timers, the unit tests with a fake that is woken by hand.
#pragma once

#include <cstdint>
#include <functional>

#include "http-api/query_options.h"
#include "http-api/request.h"
#include "http-api/responder.h"

namespace hearsay::http {

class BlockingWaiter {
 public:
  using IndexFn = std::function<std::uint64_t()>;
  using RunFn = std::function<Response(std::uint64_t index)>;

  virtual ~BlockingWaiter() = default;
  // Answers with run(index()) now when answers_at_once(options, index()); otherwise parks the
  // read and answers once index() differs from options.index or the wait elapsed.
  virtual void serve(const QueryOptions& options, Responder responder, IndexFn index, RunFn run) = 0;
};

// The rule every waiter follows. No ?index, or an index other than the current one, answers at
// once; a requested index above the current one too: after a restart or a switch of agent the
// client's index means nothing here, and answering lets it resynchronise.
inline bool answers_at_once(const QueryOptions& options, std::uint64_t current_index) {
  return options.index == 0 || current_index != options.index;
}

}  // namespace hearsay::http
