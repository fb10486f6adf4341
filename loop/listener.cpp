// Listener (listener.h): accept, admit, hand over; the catch-all logs and counts.
#include "loop/listener.h"

#include <spdlog/spdlog.h>

#include "loop/address.h"

namespace hearsay::loop {

Listener::Listener(uv_loop_t* loop, Options options, Callbacks callbacks, Admission admit)
    : loop_(loop), options_(std::move(options)), callbacks_(std::move(callbacks)), admit_(std::move(admit)) {}

int Listener::listen(const sockaddr* addr) {
  if (int rc = tcp_.init(loop_, this); rc != 0) return rc;
  if (int rc = uv_tcp_bind(tcp_.get(), addr, 0); rc != 0) return rc;
  return uv_listen(reinterpret_cast<uv_stream_t*>(tcp_.get()), options_.backlog, on_connection);
}

int Listener::port() const {
  if (!tcp_.open()) return 0;
  sockaddr_storage addr{};
  int len = sizeof(addr);
  if (uv_tcp_getsockname(tcp_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return port_of(addr);
}

void Listener::close(std::function<void()> closed) { tcp_.close(std::move(closed)); }

void Listener::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<Listener*>(server->data);
  try {
    if (status != 0) {
      if (self->callbacks_.accept_failed) self->callbacks_.accept_failed(status);
      return;
    }
    self->accept();
  } catch (const std::exception& e) {
    ++self->callback_errors_;
    spdlog::error("{} accept: {}", self->options_.name, e.what());
  } catch (...) {
    ++self->callback_errors_;
    spdlog::error("{} accept: unknown exception", self->options_.name);
  }
}

void Listener::accept() {
  std::shared_ptr<Connection> conn = Connection::create(loop_, options_.connection);
  if (!conn) {
    spdlog::warn("{} accept: cannot set up a connection", options_.name);
    return;
  }
  if (int rc = uv_accept(reinterpret_cast<uv_stream_t*>(tcp_.get()), conn->stream()); rc != 0) {
    spdlog::debug("{} accept: {}", options_.name, uv_strerror(rc));
    return conn->close();
  }
  sockaddr_storage peer{};
  if (!conn->peer(peer)) return conn->close();  // already gone
  std::shared_ptr<void> ticket = admit_ ? admit_(peer) : std::make_shared<int>(0);
  if (!ticket) {
    if (callbacks_.refused) callbacks_.refused(*conn);
    return conn->close();
  }
  callbacks_.accepted(std::move(conn), peer, std::move(ticket));
}

}  // namespace hearsay::loop
