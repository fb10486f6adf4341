// Connection (connection.h). libuv's order on close makes one counter enough: cancelled writes
// and a cancelled connect report before the socket's close callback, and nothing reports after.
#include "loop/connection.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace hearsay::loop {
namespace {

// libuv calls alloc and read back to back on the loop thread, and every read is copied out at
// once: one buffer per thread serves every connection, so an idle one holds none.
std::vector<char>& read_buffer() {
  thread_local std::vector<char> buffer;
  return buffer;
}

}  // namespace

struct Connection::Write {
  uv_write_t req;
  std::string data;
  std::shared_ptr<Connection> keep;
};

std::shared_ptr<Connection> Connection::create(uv_loop_t* loop, Options options, int* init_error) {
  std::shared_ptr<Connection> c(new Connection(loop, std::move(options)));
  int rc = uv_tcp_init(loop, &c->tcp_);
  if (rc == 0) {
    ++c->open_handles_;
    rc = uv_timer_init(loop, &c->timer_);
    if (rc == 0) ++c->open_handles_;
  }
  if (init_error) *init_error = rc;
  if (rc != 0) {
    spdlog::debug("{}: cannot set up a connection: {}", c->options_.name, uv_strerror(rc));
    if (c->open_handles_ > 0) {
      c->self_ = c;  // the socket that did open is freed in its close callback
      c->closing_ = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_), on_handle_closed);
    }
    return nullptr;
  }
  c->self_ = c;
  return c;
}

Connection::Connection(uv_loop_t* loop, Options options) : loop_(loop), options_(std::move(options)) {
  tcp_.data = this;
  timer_.data = this;
  connect_.data = this;
}

Connection::~Connection() = default;

template <typename F>
void Connection::guarded(const char* operation, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    if (options_.callback_errors) ++*options_.callback_errors;
    spdlog::error("{} {}: {}", options_.name, operation, e.what());
    close();
  } catch (...) {
    if (options_.callback_errors) ++*options_.callback_errors;
    spdlog::error("{} {}: unknown exception", options_.name, operation);
    close();
  }
}

int Connection::connect(const sockaddr* to) {
  return uv_tcp_connect(&connect_, &tcp_, to, [](uv_connect_t* req, int status) {
    auto* c = static_cast<Connection*>(req->data);
    auto keep = c->shared_from_this();
    if (status == UV_ECANCELED && c->closing_) return;  // closed while connecting: nobody waits
    c->guarded("connect", [&] {
      if (c->callbacks_.connected) c->callbacks_.connected(status);
    });
  });
}

int Connection::start_reading() {
  if (closing_) return UV_EINVAL;
  if (reading_) return 0;
  int rc = uv_read_start(stream(), on_alloc, on_read);
  if (rc == 0) reading_ = true;
  return rc;
}

void Connection::stop_reading() {
  if (!reading_ || closing_) return;
  uv_read_stop(stream());  // always 0 (libuv documents it as returning nothing to check)
  reading_ = false;
}

void Connection::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(handle->data);
  std::vector<char>& shared = read_buffer();
  if (shared.size() < c->options_.read_size) shared.resize(c->options_.read_size);
  *buf = uv_buf_init(shared.data(), static_cast<unsigned>(c->options_.read_size));
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(stream->data);
  auto keep = c->shared_from_this();
  c->guarded("read", [&] {
    if (nread < 0) {
      c->stop_reading();
      if (c->callbacks_.read_end) c->callbacks_.read_end(static_cast<int>(nread));
      else c->close();
      return;
    }
    if (nread > 0 && c->callbacks_.read) c->callbacks_.read(buf->base, static_cast<std::size_t>(nread));
  });
}

bool Connection::write(std::string data) {
  if (closing_) return false;
  auto* w = new Write{{}, std::move(data), shared_from_this()};
  w->req.data = w;
  ++pending_writes_;
  unsent_bytes_ += w->data.size();
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (int rc = uv_write(&w->req, stream(), &buf, 1, on_written); rc != 0) {
    --pending_writes_;
    unsent_bytes_ -= w->data.size();
    delete w;
    guarded("write", [&] {
      if (callbacks_.failed) callbacks_.failed("write", rc);
    });
    close();
    return false;
  }
  return true;
}

void Connection::try_write(std::string_view data) {
  if (closing_) return;
  uv_buf_t buf = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
  (void)uv_try_write(stream(), &buf, 1);  // best effort: what does not fit is dropped
}

// Counted here, not with libuv's write queue size: a write the kernel took at once leaves that
// queue, but its buffer lives until this callback in a later loop turn, and a burst of
// pipelined requests answered in one turn held every answer at once.
void Connection::on_written(uv_write_t* req, int status) {
  std::unique_ptr<Write> owned(static_cast<Write*>(req->data));
  Connection& c = *owned->keep;
  --c.pending_writes_;
  c.unsent_bytes_ -= owned->data.size();
  if (c.closing_) return;  // cancelled by close(): nobody waits for it
  c.guarded("write", [&] {
    if (status != 0) {
      if (c.callbacks_.failed) c.callbacks_.failed("write", status);
      return c.close();
    }
    if (c.callbacks_.written) c.callbacks_.written(owned->data.size());
    if (c.close_when_flushed_ && c.pending_writes_ == 0) return c.close();
    if (!c.closing_ && !c.output_full() && c.callbacks_.writable) c.callbacks_.writable();
  });
}

void Connection::start_timer(std::uint64_t ms) {
  if (closing_) return;
  int rc = uv_timer_start(&timer_, [](uv_timer_t* t) {
    auto* c = static_cast<Connection*>(t->data);
    auto keep = c->shared_from_this();
    c->guarded("timer", [&] {
      if (c->callbacks_.timer) c->callbacks_.timer();
      else c->close();
    });
  }, ms, 0);
  // Only fails for a closing handle or no callback, neither of which can be the case here.
  if (rc != 0) spdlog::debug("{}: timer: {}", options_.name, uv_strerror(rc));
}

void Connection::stop_timer() {
  if (!closing_) uv_timer_stop(&timer_);
}

void Connection::close() {
  if (closing_) return;
  closing_ = true;
  reading_ = false;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_handle_closed);
}

void Connection::close_when_flushed() {
  close_when_flushed_ = true;
  if (pending_writes_ == 0) close();
}

bool Connection::peer(sockaddr_storage& out) const {
  out = {};
  int length = sizeof(out);
  return uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&out), &length) == 0;
}

void Connection::on_handle_closed(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  if (--c->open_handles_ > 0) return;
  std::shared_ptr<Connection> self = std::move(c->self_);  // freed when this callback ends
  Callbacks callbacks = std::move(c->callbacks_);           // their captures go now too
  if (callbacks.closed) {
    try {
      callbacks.closed();
    } catch (const std::exception& e) {
      if (c->options_.callback_errors) ++*c->options_.callback_errors;
      spdlog::error("{} close: {}", c->options_.name, e.what());
    }
  }
}

}  // namespace hearsay::loop
