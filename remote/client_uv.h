// The libuv shell of a remote agent's link (issue 16): it resolves and dials the relay the
// Link picks, over TLS (the relay's certificate always verified: a CA or a pinned fingerprint),
// moves the frames, and runs one timer at the earliest of the link's and the engine's
// deadlines. The engine's traffic goes through RemoteReplication; the engine's changes and
// the link's news go to the agent. No protocol decision is made here.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gossip/replication/replication.h"
#include "loop/connection.h"
#include "loop/handle.h"
#include "loop/tls_context.h"
#include "remote/link.h"
#include "remote/remote_replication.h"

namespace hearsay::remote {

// Linux 6.15's TCP_RTO_MAX_MS (include/uapi/linux/tcp.h), which older headers lack: the
// longest retransmission timeout of a socket, at least 1000 ms. Older kernels refuse it.
inline constexpr int kTcpRtoMaxMs = 44;

// A session socket for a lossy link: TCP_NODELAY, and retransmission timeouts capped at 1 s
// (client_uv.cpp says why). Best effort, on both ends of a session.
void tune_socket_for_lossy_links(int fd);
void tune_for_lossy_links(loop::Connection& connection);  // the same on a connection's socket

class Client {
 public:
  struct Handlers {
    std::function<void(std::vector<gossip::ReplicaChange>)> changes{};
    std::function<void(const LinkEvent&)> link_event{};  // established, lost, refused, attempt_failed
    std::function<void(const Ack&)> ack{};
    std::function<void(const Members&)> members{};
  };
  using Now = std::function<Clock::time_point()>;

  Client(uv_loop_t* loop, LinkConfig config, std::shared_ptr<const loop::TlsContext> tls, gossip::Replication& engine,
         Handlers handlers, Now now);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The first attempt at once; 0 or a libuv error code (the timer).
  [[nodiscard]] int start();
  // Does what the link and the engine ask and re-arms the timer; call after driving the engine.
  void flush();
  // A goodbye when connected (graceful leave), then no more attempts; `done` once it is
  // written or could not be.
  void stop(bool goodbye, std::function<void()> done);
  void close();

  const Link& link() const { return link_; }

 private:
  struct Resolve;
  void connect(const Link::Connect& c);
  // Lets the connection go (closing it, after its queued bytes when `flush_first`).
  void abandon(bool flush_first);
  void dial(std::uint64_t attempt, const sockaddr_storage& to);
  std::size_t deliver_events();  // how many there were
  void arm_timer();

  uv_loop_t* loop_;
  Link link_;
  std::shared_ptr<const loop::TlsContext> tls_;
  gossip::Replication& engine_;
  RemoteReplication bridge_;
  Handlers handlers_;
  Now now_;
  loop::Handle<uv_timer_t> timer_;
  std::shared_ptr<loop::Connection> connection_;
  std::uint64_t attempt_ = 0;       // the link's current attempt
  std::uint64_t conn_attempt_ = 0;  // the attempt connection_ belongs to; 0: none
  std::function<void()> stopped_;   // stop()'s `done`
  bool saying_goodbye_ = false;     // stop() sent a goodbye: the connection lingers (abandon)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // resolver callbacks check it
  loop::TlsCounters tls_counters_;
  std::uint64_t callback_errors_ = 0;
  bool flushing_ = false;
};

}  // namespace hearsay::remote
