// Group commit: every catalog change of one loop turn goes to SQLite in one transaction, after
// the turn's I/O and before the loop sleeps; only then are the writers answered and our writes
// handed to replication (DESIGN.md, Storage). A failed commit is undone, so a writer answered
// with an error leaves no trace. The steps are injected: their order (prepare, commit, then
// publish or undo, answer, after) is tested without a store, a network or the agent.
#pragma once

#include <uv.h>

#include <functional>
#include <vector>

#include "agent/catalog_replication.h"
#include "catalog/catalog.h"
#include "loop/handle.h"
#include "loop/histogram.h"

namespace hearsay::agent {

class GroupCommit {
 public:
  using Outgoing = CatalogReplication::Outgoing;

  // What one commit does, called in this order on the loop thread.
  struct Steps {
    std::function<catalog::DirtyKeys()> take_dirty;  // the keys changed since the last commit
    // Only when keys changed: our records take their versions (a tombstone too), persisted by
    // the commit, but reach the replication engine only after it.
    std::function<Outgoing(const catalog::DirtyKeys&)> prepare;
    // Writes the keys and whatever else is staged; true when durable (or nothing was to write).
    std::function<bool(const catalog::DirtyKeys&)> commit;
    std::function<void(Outgoing)> publish;  // after a durable commit
    std::function<void()> undo;  // after a failed one: store, catalog and definitions back to durable
    // Last, every commit, after the writers were answered: wake watchers, send broadcasts.
    std::function<void(const catalog::DirtyKeys&)> after;
  };

  // Inits its idle and check handles on `loop` and starts committing in every turn's check
  // phase; throws ConfigError when libuv refuses.
  GroupCommit(uv_loop_t* loop, Steps steps);
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // A change was made: the loop must not sleep in poll before this turn's commit.
  void request();
  // `done(durable)` after the next commit; false: it failed and this turn's writes were undone.
  void after_commit(std::function<void(bool durable)> done);
  // Commits now: start-up, shutdown, and every check phase. Never throws (logs instead).
  void flush();
  // Commits what is pending, then closes the handles; later requests are ignored. The loop
  // must run (for libuv's close callbacks) before this object is destroyed.
  void close();

  // How long the commits that wrote something took (the SQLite transaction and its fsync).
  const loop::Histogram& commit_latency() const { return commit_latency_; }

 private:
  Steps steps_;
  // `idle_` keeps the loop from sleeping while a commit is pending; `check_` commits after
  // the loop has handled this turn's I/O.
  loop::Handle<uv_idle_t> idle_;
  loop::Handle<uv_check_t> check_;
  std::vector<std::function<void(bool)>> waiting_;
  bool closed_ = false;
  loop::Histogram commit_latency_;
};

}  // namespace hearsay::agent
