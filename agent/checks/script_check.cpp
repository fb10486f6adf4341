// Script checks (consul-compat.md 4.1): run argv, capture stdout+stderr together (first 4 KiB
// kept, the rest read and counted so the child never blocks on a full pipe); exit 0 passing,
// 1 warning, anything else critical. On timeout (default 30 s) the whole process group is
// killed: the child is spawned detached, so it leads its own group.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <vector>

#include "agent/checks/check_run.h"
#include "agent/uv_guard.h"
#include "catalog/duration.h"

namespace hearsay::agent::checks {
namespace {

using catalog::HealthStatus;
constexpr std::chrono::seconds kDefaultTimeout{30};

class ScriptCheck : public CheckRun {
 public:
  ScriptCheck(uv_loop_t* loop, const catalog::CheckSpec& spec, Done done) : CheckRun(loop, std::move(done)), spec_(spec) {}

  void start() {
    keep_alive();
    timer_ = new_handle();
    if (const int rc = uv_timer_init(loop_, &timer_->timer); !initialised(timer_, rc)) start_failed("uv_timer_init", rc);
    timer_->handle.data = this;
    auto timeout = spec_.timeout.count() > 0 ? spec_.timeout : catalog::Duration(kDefaultTimeout);
    timeout_text_ = catalog::format_go_duration(timeout);

    for (AnyHandle*& pipe : pipes_) {
      pipe = new_handle();
      if (const int rc = uv_pipe_init(loop_, &pipe->pipe, 0); !initialised(pipe, rc)) start_failed("uv_pipe_init", rc);
      pipe->handle.data = this;
    }

    std::vector<char*> argv;
    for (auto& a : spec_.args) argv.push_back(a.data());
    argv.push_back(nullptr);
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    // stdout and stderr each get a pipe; both feed one output, in arrival order, as Consul shows it.
    for (int fd = 1; fd <= 2; ++fd) {
      stdio[fd].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
      stdio[fd].data.stream = reinterpret_cast<uv_stream_t*>(&pipes_[fd - 1]->pipe);
    }
    uv_process_options_t options{};
    options.file = argv[0];
    options.args = argv.data();
    options.exit_cb = on_exit;
    options.stdio_count = 3;
    options.stdio = stdio;
    options.flags = UV_PROCESS_DETACHED;

    process_ = new_handle();
    process_->handle.data = this;
    int rc = argv[0] ? uv_spawn(loop_, &process_->process, &options) : UV_EINVAL;
    if (rc != 0) {
      // uv_spawn failed: the handle is still initialised and must be closed like any other.
      spawn_error_ = rc;
      rc = uv_timer_start(&timer_->timer, [](uv_timer_t* t) {
        guard_callback("script check", [self = static_cast<ScriptCheck*>(t->data)] {
          self->finish({HealthStatus::critical, "Check failed to start: " + std::string(uv_strerror(self->spawn_error_))});
        });
      }, 0, 0);
      if (rc != 0) start_failed("uv_timer_start", rc);
      return;
    }
    running_ = true;
    for (AnyHandle* pipe : pipes_) start_reading(pipe);
    rc = uv_timer_start(&timer_->timer, [](uv_timer_t* t) {
      guard_callback("script check", [self = static_cast<ScriptCheck*>(t->data)] {
        self->kill_group();
        self->finish({HealthStatus::critical, "Timed out (" + self->timeout_text_ + ") running check"});
      });
    }, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()), 0);
    if (rc != 0) start_failed("uv_timer_start", rc);  // kills the group: release()
  }

 private:
  void start_reading(AnyHandle* pipe) {
    const int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&pipe->pipe),
                  [](uv_handle_t* h, std::size_t, uv_buf_t* b) {
                    auto* s = static_cast<ScriptCheck*>(h->data);
                    *b = uv_buf_init(s->read_buf_, sizeof(s->read_buf_));
                  },
                  [](uv_stream_t* st, ssize_t n, const uv_buf_t* b) {
                    guard_callback("script check output", [st, n, b] {
                      auto* s = static_cast<ScriptCheck*>(st->data);
                      if (n > 0) {
                        s->total_ += static_cast<std::size_t>(n);
                        const std::size_t limit = output_limit(s->spec_);
                        std::size_t room = limit - std::min(limit, s->output_.size());
                        s->output_.append(b->base, std::min(room, static_cast<std::size_t>(n)));
                      } else if (n < 0) {
                        (void)uv_read_stop(st);  // cannot fail: libuv returns 0
                        ++s->pipes_closed_;
                        s->maybe_finish();
                      }
                    });
                  });
    if (rc != 0) {
      // No output from this pipe: the exit alone decides, with the other pipe's output.
      spdlog::warn("script check {}: uv_read_start: {}", spec_.args.empty() ? "" : spec_.args[0], uv_strerror(rc));
      ++pipes_closed_;
    }
  }

  static void on_exit(uv_process_t* p, int64_t exit_status, int term_signal) {
    guard_callback("script check exit", [p, exit_status, term_signal] {
      auto* self = static_cast<ScriptCheck*>(p->data);
      self->running_ = false;
      self->exited_ = true;
      self->exit_status_ = exit_status;
      self->term_signal_ = term_signal;
      self->maybe_finish();
    });
  }

  // Both the exit and the end of output have arrived (a grandchild may hold the pipe open:
  // the exit alone then decides, after the output gathered so far).
  void maybe_finish() {
    if (!exited_ || finished()) return;
    if (pipes_closed_ < 2 && !grace_started_) {
      grace_started_ = true;
      (void)uv_timer_stop(&timer_->timer);  // cannot fail: libuv returns 0
      const int rc = uv_timer_start(&timer_->timer, [](uv_timer_t* t) {
        guard_callback("script check", [self = static_cast<ScriptCheck*>(t->data)] { self->report(); });
      }, 100, 0);
      if (rc == 0) return;
      spdlog::warn("script check: uv_timer_start: {}; reporting without waiting for the output", uv_strerror(rc));
    }
    report();
  }

  void report() {
    HealthStatus status = HealthStatus::critical;
    if (term_signal_ == 0 && exit_status_ == 0) status = HealthStatus::passing;
    else if (term_signal_ == 0 && exit_status_ == 1) status = HealthStatus::warning;
    finish({status, cap_output(output_, total_, output_limit(spec_))});
  }

  void kill_group() {
    if (running_ && process_->process.pid > 0) {
      ::kill(-process_->process.pid, SIGKILL);  // the group: the script and anything it started
      running_ = false;
    }
  }

  void release() override {
    kill_group();
    for (AnyHandle* h : {timer_, pipes_[0], pipes_[1], process_}) {
      if (h && !uv_is_closing(&h->handle)) uv_close(&h->handle, on_handle_closed);
    }
  }

  catalog::CheckSpec spec_;
  std::string timeout_text_;
  AnyHandle* timer_ = nullptr;
  AnyHandle* pipes_[2] = {nullptr, nullptr};  // stdout, stderr
  AnyHandle* process_ = nullptr;
  std::string output_;
  std::size_t total_ = 0;
  char read_buf_[8192];
  int spawn_error_ = 0;
  bool running_ = false;
  bool exited_ = false;
  int pipes_closed_ = 0;
  bool grace_started_ = false;
  std::int64_t exit_status_ = 0;
  int term_signal_ = 0;
};

}  // namespace

std::shared_ptr<CheckRun> start_script_check(uv_loop_t* loop, const catalog::CheckSpec& spec, CheckRun::Done done) {
  auto run = std::make_shared<ScriptCheck>(loop, spec, std::move(done));
  run->start();
  return run;
}

}  // namespace hearsay::agent::checks
