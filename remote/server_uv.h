// The libuv shell of a relay (issue 16): a TLS listener for remote sessions, one RelaySession
// per accepted connection, one timer at the earliest session deadline, and RelayReplication
// between the sessions and the agent's engine. Plain TCP and failed handshakes never reach a
// session (the TLS layer refuses them, counted in tls_counters()).
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "gossip/replication/replication.h"
#include "loop/connection.h"
#include "loop/handle.h"
#include "loop/listener.h"
#include "loop/tls_context.h"
#include "remote/relay_replication.h"
#include "remote/relay_session.h"

namespace hearsay::remote {

struct RelayServerStats {
  std::uint64_t sessions_opened = 0, sessions_refused = 0, sessions_closed = 0;
  std::uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0, entries_in = 0;
  std::array<std::uint64_t, kRelayRefusals> refused{};
  std::array<std::uint64_t, kFrameErrors> frame_errors{};
};

class RelayServer {
 public:
  using Now = std::function<Clock::time_point()>;
  struct Handlers {
    Authorize authorize;  // the hello's token and node
    EntryCheck check_entry;
    // A session opened or ended (after its last frame): the agent publishes its session record.
    std::function<void(std::uint64_t id, const RelaySession&)> opened{};
    std::function<void(std::uint64_t id, const RelaySession&, const std::string& reason, bool goodbye)> closed{};
    // After frames went into the engine: the agent flushes its gossip.
    std::function<void()> engine_driven{};
    // The gossip members as a Members frame's state.
    std::function<Bytes()> members_state{};
  };
  struct Timing {
    Duration keepalive{2000};
    Duration dead_after{10000};
    Duration hello_timeout{15000};
  };

  RelayServer(uv_loop_t* loop, std::string relay, std::shared_ptr<const loop::TlsContext> tls,
              gossip::Replication& engine, Handlers handlers, Timing timing, Now now);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  // 0 or a libuv error code.
  [[nodiscard]] int listen(const std::string& host, int port);
  int port() const { return listener_ ? listener_->port() : 0; }
  // The engine's news (wire Replication::set_on_news here).
  void news(const gossip::ReplicaEntry& entry) { replication_.news(entry); }
  // The gossip members changed: every session gets Handlers::members_state() (Members) with
  // the next flush (once, however many changes came before it); a new session gets it at once.
  void members_changed() { members_due_ = true; }
  // Writes what the sessions and the engine's news produced; re-arms the timer.
  void flush();
  // Ends a session with a refusal (a revoked token), or every session of `node`.
  void refuse(std::uint64_t id, const std::string& reason);
  void close();

  // For status and metrics.
  void for_each_session(const std::function<void(std::uint64_t id, const RelaySession&)>& f) const;
  const RelayServerStats& stats() const;
  const loop::TlsCounters& tls_counters() const { return tls_counters_; }
  void set_tls(std::shared_ptr<const loop::TlsContext> tls);

 private:
  struct Session {
    std::uint64_t id = 0;
    std::shared_ptr<loop::Connection> connection;
    std::unique_ptr<RelaySession> protocol;
    bool opened = false;
    bool goodbye = false;
  };
  void accepted(std::shared_ptr<loop::Connection> connection);
  void pump(Session& s);
  void end(std::uint64_t id, const std::string& reason);
  void arm_timer();

  uv_loop_t* loop_;
  std::string relay_;
  std::shared_ptr<const loop::TlsContext> tls_;
  Handlers handlers_;
  Timing timing_;
  Now now_;
  RelayReplication replication_;
  std::unique_ptr<loop::Listener> listener_;
  loop::Handle<uv_timer_t> timer_;
  std::map<std::uint64_t, Session> sessions_;
  bool members_due_ = false;  // a change not yet sent to the open sessions
  std::uint64_t next_id_ = 1;
  mutable RelayServerStats stats_;
  RelayServerStats closed_stats_;  // of sessions gone, added to the live ones' in stats()
  loop::TlsCounters tls_counters_;
  std::uint64_t callback_errors_ = 0;
};

}  // namespace hearsay::remote
