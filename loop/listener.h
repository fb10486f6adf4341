// A TCP listener: binds, accepts, and asks an admission hook about each client before the
// connection is handed over (the agent's per-client and total connection limits). A refused
// connection gets its owner's last words (best effort; none on a TLS listener, where the
// handshake has not happened) and is closed. Options::connection.tls makes it a TLS listener.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "loop/connection.h"
#include "loop/handle.h"

namespace hearsay::loop {

class Listener {
 public:
  struct Options {
    std::string name = "tcp";  // log prefix ("http accept: ...")
    int backlog = 128;
    Connection::Options connection{};  // for every accepted connection
  };
  // A ticket the connection keeps until it closes, or null to refuse it.
  using Admission = std::function<std::shared_ptr<void>(const sockaddr_storage& peer)>;
  struct Callbacks {
    // An admitted connection, not yet reading: the callee sets its callbacks and starts it.
    std::function<void(std::shared_ptr<Connection>, const sockaddr_storage& peer, std::shared_ptr<void> ticket)> accepted{};
    // Refused by the admission hook; closed once this returns.
    std::function<void(Connection&)> refused{};
    // libuv reported a failed accept (the listener goes on).
    std::function<void(int status)> accept_failed{};
  };

  Listener(uv_loop_t* loop, Options options, Callbacks callbacks, Admission admit = {});
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // 0 or a libuv error code (port in use, bad address).
  [[nodiscard]] int listen(const sockaddr* addr);
  // The bound port, 0 if not bound.
  int port() const;
  // Stops accepting; `closed` runs from the close callback.
  void close(std::function<void()> closed = {});
  bool open() const { return tcp_.open(); }
  // Connections accepted from now on speak TLS with this context (null: plain TCP); those
  // already open keep the context they started with. The certificate reload calls this.
  void set_tls(std::shared_ptr<const TlsContext> tls) { options_.connection.tls = std::move(tls); }
  std::uint64_t callback_errors() const { return callback_errors_; }

 private:
  static void on_connection(uv_stream_t* server, int status);
  void accept();

  uv_loop_t* loop_;
  Options options_;
  Callbacks callbacks_;
  Admission admit_;
  Handle<uv_tcp_t> tcp_;
  std::uint64_t callback_errors_ = 0;
};

}  // namespace hearsay::loop
