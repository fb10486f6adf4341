// The remote agent's link over libuv and TLS (client_uv.h).
#include "remote/client_uv.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "loop/address.h"

namespace hearsay::remote {

void tune_socket_for_lossy_links(int fd) {
  // Small frames, often: no Nagle delay. And retransmission timeouts that stop growing at 1 s:
  // over 30 % loss each way a round trip fails half the time, and TCP's doubling timeout
  // (0.5, 1, 2, 4, 8 s) turns four failures in a row (6 %) into 7.5 s of silence, the next one
  // into a lost session. Capped, a segment is retried every second for as long as it takes, and
  // the SYN of a new connection too. Where the cap is not known (kernels before 6.15), thin
  // streams get linear timeouts for their first six retries (TCP_THIN_LINEAR_TIMEOUTS). All
  // best effort: a refused option leaves the kernel's default.
  int on = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  int rto_max_ms = 1000;
  (void)setsockopt(fd, IPPROTO_TCP, kTcpRtoMaxMs, &rto_max_ms, sizeof(rto_max_ms));
  (void)setsockopt(fd, IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS, &on, sizeof(on));
}

void tune_for_lossy_links(loop::Connection& connection) {
  uv_os_fd_t fd{};
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(connection.tcp()), &fd) == 0) tune_socket_for_lossy_links(fd);
}

// One name lookup in flight; outlives the client if it must (the callback checks `alive`).
struct Client::Resolve {
  uv_getaddrinfo_t request{};
  std::weak_ptr<bool> alive;
  Client* client = nullptr;
  std::uint64_t attempt = 0;
  std::string port;
};

Client::Client(uv_loop_t* loop, LinkConfig config, std::shared_ptr<const loop::TlsContext> tls,
               gossip::Replication& engine, Handlers handlers, Now now)
    : loop_(loop),
      link_(std::move(config), now()),
      tls_(std::move(tls)),
      engine_(engine),
      bridge_(engine, link_),
      handlers_(std::move(handlers)),
      now_(std::move(now)) {}

Client::~Client() { close(); }

int Client::start() {
  if (int rc = timer_.init(loop_, this); rc != 0) return rc;
  link_.start(now_());
  flush();
  return 0;
}

void Client::close() {
  *alive_ = false;
  timer_.close();
  abandon(false);
}

void Client::abandon(bool flush_first) {
  // Its callbacks stay (one of them may be running now); they see `attempt_` moved on and do
  // nothing. The link has already counted the connection as gone.
  if (!connection_) return;
  auto conn = std::exchange(connection_, nullptr);
  conn_attempt_ = 0;
  // After a goodbye the relay closes the session: wait for that (see close_when_peer_closes), or
  // a relay still writing to us would lose the goodbye, and the cluster would keep our records.
  if (flush_first && saying_goodbye_) conn->close_when_peer_closes(2000);
  else if (flush_first) conn->close_when_flushed();
  else conn->close();
}

void Client::stop(bool goodbye, std::function<void()> done) {
  const bool had_connection = connection_ != nullptr;
  stopped_ = std::move(done);  // run by the closed callback, once the goodbye is written
  saying_goodbye_ = goodbye && link_.established();
  link_.stop(goodbye, now_());
  flush();
  if (connection_) abandon(true);  // the link did not ask for the close: we do
  if (!had_connection && stopped_) std::exchange(stopped_, nullptr)();
}

void Client::connect(const Link::Connect& c) {
  abandon(false);
  attempt_ = c.attempt;
  auto hp = loop::split_host_port(c.relay);
  if (!hp) {
    link_.connect_failed(c.attempt, "\"" + c.relay + "\" is not host:port", now_());
    return;
  }
  sockaddr_storage addr{};
  if (loop::parse_ip_port(hp->host, std::atoi(hp->port.c_str()), addr) == 0) return dial(c.attempt, addr);
  // A name: resolved at each attempt (relays behind DNS move).
  auto* lookup = new Resolve;
  lookup->alive = alive_;
  lookup->client = this;
  lookup->attempt = c.attempt;
  lookup->port = hp->port;
  lookup->request.data = lookup;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(
      loop_, &lookup->request,
      [](uv_getaddrinfo_t* req, int status, addrinfo* result) {
        std::unique_ptr<Resolve> r(static_cast<Resolve*>(req->data));
        auto alive = r->alive.lock();
        if (!alive || !*alive) {
          uv_freeaddrinfo(result);
          return;
        }
        Client* self = r->client;
        try {
          if (status != 0 || !result) {
            self->link_.connect_failed(r->attempt, std::string("cannot resolve: ") + uv_strerror(status), self->now_());
          } else {
            sockaddr_storage to{};
            std::memcpy(&to, result->ai_addr, result->ai_addrlen);
            self->dial(r->attempt, to);
          }
        } catch (const std::exception& e) {
          spdlog::error("remote resolve: {}", e.what());
          ++self->callback_errors_;
        }
        uv_freeaddrinfo(result);
        self->flush();
      },
      hp->host.c_str(), hp->port.c_str(), &hints);
  if (rc != 0) {
    delete lookup;
    link_.connect_failed(c.attempt, std::string("cannot resolve: ") + uv_strerror(rc), now_());
  }
}

void Client::dial(std::uint64_t attempt, const sockaddr_storage& to) {
  if (attempt != attempt_ || connection_) return;  // the link moved on meanwhile
  loop::Connection::Options options;
  options.name = "remote link";
  options.tls = tls_;
  options.tls_counters = &tls_counters_;
  options.callback_errors = &callback_errors_;
  options.max_unsent_output = 4 * kMaxFrameBytes;
  options.tls_handshake_timeout_ms = 15000;  // a lossy link takes its time
  int init_error = 0;
  auto conn = loop::Connection::create(loop_, options, &init_error);
  if (!conn) {
    link_.connect_failed(attempt, std::string("cannot open a socket: ") + uv_strerror(init_error), now_());
    return;
  }
  loop::Connection::Callbacks cb;
  // Each callback first checks that this connection is still the one in use (conn_attempt_).
  cb.connected = [this, attempt](int status) {
    if (attempt != conn_attempt_) return;
    if (status != 0) {
      link_.connect_failed(attempt, std::string("connect: ") + uv_strerror(status), now_());
      flush();
      return;
    }
    if (connection_ && connection_->start_reading() != 0) {
      link_.connect_failed(attempt, "cannot read from the connection", now_());
      flush();
    }
  };
  cb.established = [this, attempt] {
    if (attempt != conn_attempt_) return;
    link_.connected(attempt, now_());
    flush();
  };
  cb.tls_failed = [this, attempt](const std::string& error) {
    if (attempt != conn_attempt_) return;
    link_.connect_failed(attempt, "TLS: " + error, now_());
    flush();
  };
  cb.read = [this, attempt](const char* data, std::size_t size) {
    if (attempt != conn_attempt_) return;
    link_.received(attempt, reinterpret_cast<const std::uint8_t*>(data), size, now_());
    flush();
  };
  cb.read_end = [this, attempt](int status) {
    if (attempt != conn_attempt_) return;
    link_.closed(attempt, status == UV_EOF ? "closed by the relay" : std::string("read: ") + uv_strerror(status), now_());
    flush();
  };
  cb.failed = [this, attempt](const char* operation, int status) {
    if (attempt != conn_attempt_) return;
    link_.closed(attempt, std::string(operation) + ": " + uv_strerror(status), now_());
    flush();
  };
  cb.written = [this, attempt](std::size_t) {
    if (attempt == conn_attempt_ && connection_) link_.set_unsent_bytes(connection_->unsent_bytes());
  };
  cb.closed = [this, attempt, alive = std::weak_ptr<bool>(alive_)] {
    if (attempt != conn_attempt_) {
      // One we let go of; a stop waits for its last bytes to be written.
      if (auto a = alive.lock(); a && *a && stopped_) std::exchange(stopped_, nullptr)();
      return;
    }
    // A close we did not ask for (the relay, an error): the link hears of it, once.
    connection_.reset();
    conn_attempt_ = 0;
    link_.closed(attempt, "connection closed", now_());
    flush();
  };
  conn->set_callbacks(std::move(cb));
  connection_ = conn;
  conn_attempt_ = attempt;
  // Our own socket, tuned before the SYN goes (libuv would create it inside connect); if that
  // fails, libuv's, tuned after.
  bool tuned = false;
  if (int fd = ::socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); fd >= 0) {
    tune_socket_for_lossy_links(fd);
    tuned = uv_tcp_open(conn->tcp(), fd) == 0;
    if (!tuned) ::close(fd);
  }
  if (int rc = conn->connect(reinterpret_cast<const sockaddr*>(&to)); rc != 0) {
    abandon(false);
    link_.connect_failed(attempt, std::string("connect: ") + uv_strerror(rc), now_());
    return;
  }
  if (!tuned) tune_for_lossy_links(*conn);
}

void Client::flush() {
  if (flushing_) return;  // a callback inside a flush: the loop below picks its work up
  flushing_ = true;
  for (int round = 0; round < 8; ++round) {
    bridge_.pump();
    bool did = false;
    if (auto c = link_.take_connect()) {
      connect(*c);
      did = true;
    }
    for (Bytes& w : link_.take_writes()) {
      if (connection_) (void)connection_->write(std::string(w.begin(), w.end()));
      did = true;
    }
    if (link_.take_close() && connection_) {
      abandon(true);
      did = true;
    }
    if (connection_) link_.set_unsent_bytes(connection_->unsent_bytes());
    const bool had_events = deliver_events() > 0;
    if (auto changes = engine_.take_changes(); !changes.empty() && handlers_.changes) handlers_.changes(std::move(changes));
    if (!did && !had_events) break;
  }
  flushing_ = false;
  arm_timer();
}

std::size_t Client::deliver_events() {
  std::vector<LinkEvent> events = link_.take_events();
  for (LinkEvent& e : events) {
    if (bridge_.link_event(e, now_())) continue;  // the engine's, now handled
    switch (e.kind) {
      case LinkEvent::Kind::ack:
        if (handlers_.ack) handlers_.ack(e.ack);
        continue;
      case LinkEvent::Kind::members:
        if (handlers_.members) handlers_.members(e.members);
        continue;
      default: break;
    }
    if (handlers_.link_event) handlers_.link_event(e);
  }
  return events.size();
}

void Client::arm_timer() {
  if (!timer_.open()) return;
  const Clock::time_point now = now_();
  const Clock::time_point next = std::min(link_.next_deadline(), engine_.next_deadline());
  const auto ms = next <= now ? 0 : std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
  (void)uv_timer_start(
      timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<Client*>(t->data);
        try {
          const Clock::time_point at = self->now_();
          self->link_.tick(at);
          self->engine_.tick(at);
          self->flush();
        } catch (const std::exception& e) {
          spdlog::error("remote link timer: {}", e.what());
          ++self->callback_errors_;
        }
      },
      static_cast<std::uint64_t>(ms), 0);
}

}  // namespace hearsay::remote
