// One asynchronous run of an HTTP, TCP or script check on the libuv loop. A run reports once
// through its callback, or never once cancelled. It owns its libuv handles and keeps itself
// alive until the last of them has closed (libuv frees nothing before the close callback).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "agent/checks/check_result.h"
#include "catalog/model.h"

namespace hearsay::agent::checks {

// Storage for any handle a run opens, so one close callback can free every kind.
union AnyHandle {
  uv_handle_t handle;
  uv_timer_t timer;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
  uv_process_t process;
};

class CheckRun : public std::enable_shared_from_this<CheckRun> {
 public:
  using Done = std::function<void(CheckResult)>;
  virtual ~CheckRun() = default;

  // No result will be reported; handles close and the run frees itself.
  void cancel();

 protected:
  CheckRun(uv_loop_t* loop, Done done) : loop_(loop), done_(std::move(done)) {}
  // Reports the result (once) and releases the handles.
  void finish(CheckResult result);
  // Closes every handle of the run; each close callback must call handle_closed().
  virtual void release() = 0;
  // Handles this run still has open; when it reaches 0 the self-reference goes.
  void handle_closed();
  void keep_alive() { self_ = shared_from_this(); }
  // Counts a resource that closes on its own (a loop::Connection) and calls handle_closed().
  void count_open() { ++open_handles_; }
  // A zeroed handle whose data points at this run; counted until on_handle_closed frees it.
  AnyHandle* new_handle();
  bool finished() const { return finished_; }
  // A uv close callback for any handle whose data points at this run.
  static void on_handle_closed(uv_handle_t* handle);
  // Whether `handle`'s init (returning `rc`) succeeded. When it failed, the handle is not
  // libuv's: it is freed here (never closed) and set to null, so release() skips it.
  bool initialised(AnyHandle*& handle, int rc);
  // During start(), when libuv refuses: releases what is open, reports nothing, and throws
  // (the scheduler logs that the check cannot start). A result would have to be asynchronous.
  [[noreturn]] void start_failed(const char* what, int rc);

  uv_loop_t* loop_;

 private:
  Done done_;
  bool finished_ = false;
  int open_handles_ = 0;
  std::shared_ptr<CheckRun> self_;
};

std::shared_ptr<CheckRun> start_http_check(uv_loop_t* loop, const catalog::CheckSpec& spec, CheckRun::Done done);
std::shared_ptr<CheckRun> start_tcp_check(uv_loop_t* loop, const catalog::CheckSpec& spec, CheckRun::Done done);
std::shared_ptr<CheckRun> start_script_check(uv_loop_t* loop, const catalog::CheckSpec& spec, CheckRun::Done done);

}  // namespace hearsay::agent::checks
