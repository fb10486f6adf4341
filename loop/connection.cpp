// Connection (connection.h). libuv's order on close makes one counter enough: cancelled writes
// and a cancelled connect report before the socket's close callback, and nothing reports after.
// The TLS layer (the second half) only moves bytes between the socket and a TlsSession.
#include "loop/connection.h"

#include <spdlog/spdlog.h>

#include "loop/tls_context.h"
#include "loop/tls_session.h"

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
  if (rc == 0 && c->options_.tls) {
    rc = uv_timer_init(loop, &c->handshake_timer_);
    if (rc == 0) ++c->open_handles_;
  }
  if (init_error) *init_error = rc;
  if (rc != 0) {
    spdlog::debug("{}: cannot set up a connection: {}", c->options_.name, uv_strerror(rc));
    if (c->open_handles_ > 0) {
      c->self_ = c;  // the handles that did open are freed in their close callbacks
      c->closing_ = true;
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_), on_handle_closed);
      if (c->open_handles_ > 1) uv_close(reinterpret_cast<uv_handle_t*>(&c->timer_), on_handle_closed);
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
  handshake_timer_.data = this;
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
      if (status == 0 && c->options_.tls) {
        c->begin_tls();  // the ClientHello goes out now
        if (c->closing_) return;
      }
      if (c->callbacks_.connected) c->callbacks_.connected(status);
    });
  });
}

int Connection::start_reading() {
  if (closing_) return UV_EINVAL;
  if (reading_) return 0;
  int rc = uv_read_start(stream(), on_alloc, on_read);
  if (rc == 0) reading_ = true;
  if (rc == 0 && options_.tls && options_.tls->is_server()) begin_tls();  // the client speaks first
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
    if (nread > 0 && c->tls_) c->on_tls_bytes(buf->base, static_cast<std::size_t>(nread));
    else if (nread > 0) c->deliver(buf->base, static_cast<std::size_t>(nread));
  });
}

void Connection::deliver(const char* data, std::size_t size) {
  if (callbacks_.read) callbacks_.read(data, size);
}

bool Connection::write(std::string data) {
  if (closing_) return false;
  if (!options_.tls) return write_raw(std::move(data));
  if (!tls_established()) {
    unsent_bytes_ += data.size();  // counted as output: the caller's backpressure sees it
    tls_pending_ += data;
    return true;
  }
  std::string ciphertext;
  return tls_seal(data, ciphertext) && write_raw(std::move(ciphertext));
}

bool Connection::write_raw(std::string data) {
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
  if (!options_.tls) return try_write_raw(data);
  std::string ciphertext;  // nothing before the handshake: plain bytes would be garbage to a TLS peer
  if (tls_established() && tls_seal(data, ciphertext)) try_write_raw(ciphertext);
}

void Connection::try_write_raw(std::string_view data) {
  if (closing_ || data.empty()) return;
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
    if (c.close_when_flushed_ && c.flushed()) return c.close();
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
  if (tls_established()) {  // the peer learns the end was meant (a truncation otherwise)
    tls_->close_notify();
    try_write_raw(tls_->take_outgoing());
  }
  closing_ = true;
  reading_ = false;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_handle_closed);
  if (options_.tls) uv_close(reinterpret_cast<uv_handle_t*>(&handshake_timer_), on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_handle_closed);
}

void Connection::close_when_flushed() {
  close_when_flushed_ = true;
  if (flushed()) close();
}

void Connection::close_when_peer_closes(std::uint64_t timeout_ms) {
  if (closing_) return;
  callbacks_.read_end = nullptr;  // without one, the end of reading closes (on_read)
  callbacks_.timer = nullptr;     // and so does the timer
  if (!reading_) return close_when_flushed();  // nothing would tell us the peer closed
  start_timer(timeout_ms);
}

bool Connection::flushed() const { return pending_writes_ == 0 && tls_pending_.empty(); }

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

// ---- TLS: ciphertext between the socket and the session, plaintext to and from the caller.

bool Connection::tls_established() const { return tls_ && tls_->established(); }

void Connection::begin_tls() {
  if (tls_ || closing_) return;
  std::string error;
  tls_ = TlsSession::create(options_.tls, options_.tls_server_name, error);
  if (!tls_) return tls_fail(error, &TlsCounters::handshake_failures);
  const std::uint64_t ms = options_.tls_handshake_timeout_ms;
  int rc = uv_timer_start(&handshake_timer_, [](uv_timer_t* t) {
    auto* c = static_cast<Connection*>(t->data);
    auto keep = c->shared_from_this();
    c->guarded("tls handshake timer", [&] {
      c->tls_fail("TLS handshake: not done within " + std::to_string(c->options_.tls_handshake_timeout_ms) + " ms",
                  &TlsCounters::handshake_timeouts);
    });
  }, ms, 0);
  if (rc == 0 && !reading_) {
    rc = uv_read_start(stream(), on_alloc, on_read);
    if (rc == 0) reading_ = true;
  }
  if (rc != 0) return tls_fail(std::string("TLS: cannot start: ") + uv_strerror(rc), &TlsCounters::handshake_failures);
  if (!options_.tls->is_server()) on_tls_bytes(nullptr, 0);  // sends the ClientHello
}

void Connection::on_tls_bytes(const char* data, std::size_t size) {
  if (size > 0) tls_->feed(data, size);
  std::string error;
  if (!tls_->established()) {
    TlsSession::Step step = tls_->handshake(error);
    if (step == TlsSession::Step::failed) return tls_fail(error, &TlsCounters::handshake_failures);
    tls_flush();
    if (step == TlsSession::Step::in_progress || closing_) return;
    uv_timer_stop(&handshake_timer_);
    if (options_.tls_counters) ++options_.tls_counters->handshakes;
    if (callbacks_.established) callbacks_.established();
    if (closing_) return;
    if (!tls_pending_.empty()) {  // what the caller wrote meanwhile, in order
      std::string pending = std::exchange(tls_pending_, {});
      unsent_bytes_ -= pending.size();
      std::string ciphertext;
      if (!tls_seal(pending, ciphertext) || !write_raw(std::move(ciphertext))) return;
    }
    if (close_when_flushed_ && flushed()) return close();
  }
  TlsSession::Read result = tls_->read([this](const char* d, std::size_t n) {
    if (!closing_) deliver(d, n);
  }, error);
  if (closing_) return;
  tls_flush();
  if (result == TlsSession::Read::failed) return tls_fail(error, &TlsCounters::record_errors);
  if (result == TlsSession::Read::peer_closed) {  // close_notify: the same as a clean EOF
    stop_reading();
    if (callbacks_.read_end) callbacks_.read_end(UV_EOF);
    else close();
  }
}

bool Connection::tls_seal(std::string_view plaintext, std::string& ciphertext) {
  std::string error;
  if (!tls_->write(plaintext, error)) {
    tls_fail(error, &TlsCounters::record_errors);
    return false;
  }
  ciphertext = tls_->take_outgoing();
  return true;
}

void Connection::tls_flush() {
  if (tls_ && tls_->has_outgoing()) write_raw(tls_->take_outgoing());
}

void Connection::tls_fail(const std::string& error, std::uint64_t TlsCounters::*counter) {
  if (closing_) return;
  if (options_.tls_counters) ++(options_.tls_counters->*counter);
  spdlog::debug("{}: {}", options_.name, error);
  if (tls_) try_write_raw(tls_->take_outgoing());  // the alert that tells the peer why, if any
  if (callbacks_.tls_failed) callbacks_.tls_failed(error);
  close();
}

}  // namespace hearsay::loop
