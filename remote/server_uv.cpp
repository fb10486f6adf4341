// The relay's listener and sessions over libuv and TLS (server_uv.h).
#include "remote/server_uv.h"

#include <spdlog/spdlog.h>

#include "loop/address.h"
#include "remote/client_uv.h"

namespace hearsay::remote {
namespace {

void add(RelayServerStats& to, const RelaySessionStats& s) {
  to.frames_in += s.frames_in;
  to.frames_out += s.frames_out;
  to.bytes_in += s.bytes_in;
  to.bytes_out += s.bytes_out;
  to.entries_in += s.entries_in;
  for (std::size_t i = 0; i < kRelayRefusals; ++i) to.refused[i] += s.refused[i];
  for (std::size_t i = 0; i < kFrameErrors; ++i) to.frame_errors[i] += s.frame_errors[i];
}

}  // namespace

RelayServer::RelayServer(uv_loop_t* loop, std::string relay, std::shared_ptr<const loop::TlsContext> tls,
                         gossip::Replication& engine, Handlers handlers, Timing timing, Now now)
    : loop_(loop),
      relay_(relay),
      tls_(std::move(tls)),
      handlers_(std::move(handlers)),
      timing_(timing),
      now_(std::move(now)),
      replication_(engine, std::move(relay)) {}

RelayServer::~RelayServer() { close(); }

int RelayServer::listen(const std::string& host, int port) {
  sockaddr_storage addr{};
  if (int rc = loop::parse_ip_port(host, port, addr); rc != 0) return rc;
  if (int rc = timer_.init(loop_, this); rc != 0) return rc;
  loop::Listener::Options options;
  options.name = "relay";
  options.connection.name = "relay session";
  options.connection.tls = tls_;
  options.connection.tls_counters = &tls_counters_;
  options.connection.callback_errors = &callback_errors_;
  options.connection.max_unsent_output = 4 * kMaxFrameBytes;
  options.connection.tls_handshake_timeout_ms = 15000;  // a lossy link takes its time
  loop::Listener::Callbacks callbacks;
  callbacks.accepted = [this](std::shared_ptr<loop::Connection> c, const sockaddr_storage&, std::shared_ptr<void>) {
    accepted(std::move(c));
  };
  listener_ = std::make_unique<loop::Listener>(loop_, options, std::move(callbacks));
  return listener_->listen(reinterpret_cast<const sockaddr*>(&addr));
}

void RelayServer::set_tls(std::shared_ptr<const loop::TlsContext> tls) {
  tls_ = tls;
  if (listener_) listener_->set_tls(std::move(tls));
}

void RelayServer::close() {
  if (listener_) listener_->close();
  timer_.close();
  auto sessions = std::exchange(sessions_, {});  // their callbacks find nothing from now on
  for (auto& [id, s] : sessions) s.connection->close();
}

void RelayServer::accepted(std::shared_ptr<loop::Connection> connection) {
  const std::uint64_t id = next_id_++;
  RelaySessionConfig config;
  config.relay = relay_;
  config.session = id;
  config.keepalive = timing_.keepalive;
  config.dead_after = timing_.dead_after;
  config.hello_timeout = timing_.hello_timeout;
  config.authorize = handlers_.authorize;
  config.check_entry = handlers_.check_entry;
  Session& s = sessions_[id];
  s.id = id;
  s.connection = connection;
  // The connection's callbacks outlive the session (they may be running when it ends): they
  // look the session up by id and do nothing once it is gone.
  s.protocol = std::make_unique<RelaySession>(std::move(config), now_());
  loop::Connection::Callbacks cb;
  cb.read = [this, id](const char* data, std::size_t size) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;
    it->second.protocol->received(reinterpret_cast<const std::uint8_t*>(data), size, now_());
    pump(it->second);
    flush();
  };
  cb.read_end = [this, id](int status) {
    if (!sessions_.contains(id)) return;
    end(id, status == UV_EOF ? "closed by the remote" : std::string("read: ") + uv_strerror(status));
    flush();
  };
  cb.failed = [this, id](const char* operation, int status) {
    if (!sessions_.contains(id)) return;
    end(id, std::string(operation) + ": " + uv_strerror(status));
    flush();
  };
  cb.tls_failed = [this, id](const std::string& error) {
    if (!sessions_.contains(id)) return;
    spdlog::info("relay: refused a connection: TLS: {}", error);
    ++stats_.sessions_refused;
    end(id, "TLS: " + error);
  };
  cb.closed = [this, id] {
    if (!sessions_.contains(id)) return;
    end(id, "connection closed");
    flush();
  };
  connection->set_callbacks(std::move(cb));
  tune_for_lossy_links(*connection);
  if (connection->start_reading() != 0) end(id, "cannot read from the connection");
  arm_timer();
}

void RelayServer::pump(Session& s) {
  for (RelayEvent& e : s.protocol->take_events()) {
    switch (e.kind) {
      case RelayEvent::Kind::opened:
        s.opened = true;
        ++stats_.sessions_opened;
        if (handlers_.opened) handlers_.opened(s.id, *s.protocol);  // the session record first
        replication_.opened(s.id, *s.protocol);
        if (handlers_.members_state) s.protocol->send_members(Members{handlers_.members_state()});
        break;
      case RelayEvent::Kind::replication:
        replication_.received(s.id, e.replication, now_());
        if (handlers_.engine_driven) handlers_.engine_driven();
        break;
      case RelayEvent::Kind::goodbye: s.goodbye = true; break;
    }
  }
}

void RelayServer::end(std::uint64_t id, const std::string& reason) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  Session s = std::move(it->second);
  sessions_.erase(it);
  replication_.closed(id);
  add(closed_stats_, s.protocol->stats());
  if (s.opened) {
    ++stats_.sessions_closed;
    spdlog::info("relay: session {} of {} ended: {}", id, s.protocol->hello().node, s.goodbye ? "goodbye" : reason);
    if (handlers_.closed) handlers_.closed(id, *s.protocol, reason, s.goodbye);
  }
  // Its callbacks stay (one of them may be what called us); they find no session from now on.
  for (Bytes& w : s.protocol->take_writes()) (void)s.connection->write(std::string(w.begin(), w.end()));
  s.connection->close_when_flushed();
}

void RelayServer::refuse(std::uint64_t id, const std::string& reason) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  it->second.protocol->refuse(reason, false);
  flush();
}

void RelayServer::flush() {
  if (std::exchange(members_due_, false) && handlers_.members_state && !sessions_.empty()) {
    const Bytes state = handlers_.members_state();
    for (auto& [id, s] : sessions_) s.protocol->send_members(Members{state});
  }
  replication_.flush();
  std::vector<std::pair<std::uint64_t, std::string>> ending;
  for (auto& [id, s] : sessions_) {
    pump(s);
    for (Bytes& w : s.protocol->take_writes()) (void)s.connection->write(std::string(w.begin(), w.end()));
    if (s.protocol->close_reason()) ending.emplace_back(id, *s.protocol->close_reason());
  }
  for (const auto& [id, reason] : ending) {
    auto it = sessions_.find(id);
    if (it != sessions_.end() && !it->second.opened) {
      ++stats_.sessions_refused;
      spdlog::info("relay: refused a session: {}", reason);
    }
    end(id, reason);
  }
  arm_timer();
}

void RelayServer::arm_timer() {
  if (!timer_.open()) return;
  if (sessions_.empty()) {
    (void)uv_timer_stop(timer_.get());
    return;
  }
  const Clock::time_point now = now_();
  Clock::time_point next = Clock::time_point::max();
  for (const auto& [id, s] : sessions_) next = std::min(next, s.protocol->next_deadline());
  const auto ms = next <= now ? 0 : std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
  (void)uv_timer_start(
      timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<RelayServer*>(t->data);
        try {
          const Clock::time_point at = self->now_();
          for (auto& [id, session] : self->sessions_) session.protocol->tick(at);
          self->flush();
        } catch (const std::exception& e) {
          spdlog::error("relay timer: {}", e.what());
          ++self->callback_errors_;
        }
      },
      static_cast<std::uint64_t>(ms), 0);
}

void RelayServer::for_each_session(const std::function<void(std::uint64_t, const RelaySession&)>& f) const {
  for (const auto& [id, s] : sessions_) {
    if (s.opened) f(id, *s.protocol);
  }
}

const RelayServerStats& RelayServer::stats() const {
  // The sessions' counts: those gone (kept at their end) plus the live ones'; the session
  // counters (opened, refused, closed) are the server's own.
  RelayServerStats& out = stats_;
  const RelayServerStats own = out;
  out = closed_stats_;
  out.sessions_opened = own.sessions_opened, out.sessions_refused = own.sessions_refused;
  out.sessions_closed = own.sessions_closed;
  for (const auto& [id, s] : sessions_) add(out, s.protocol->stats());
  return out;
}

}  // namespace hearsay::remote
