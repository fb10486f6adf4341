// UDP goes through UdpListener (batched); TCP: length-prefixed messages, idle connections
// closed after 10 s (RFC 7766 suggests seconds), handles freed in close callbacks. Answers
// are prepared once per (name, type) and catalog index, then only shuffled per query.
#include "dns/server_uv.h"

#include <spdlog/spdlog.h>

namespace hearsay::dns {
namespace {
constexpr std::uint64_t kTcpIdleMs = 10000;
// Reading pauses while this much of a connection's answers is unsent (the client does not
// read), and resumes when its writes drain: a pipelining non-reader costs this much at most.
constexpr std::size_t kMaxUnsentOutput = 64 * 1024;
}  // namespace

class Server::TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
  explicit TcpConnection(Server& server) : server_(server) {}
  // Accepts the connection; false when it is refused or failed (the caller closes it).
  bool start(uv_stream_t* listener) {
    tcp_.data = this;
    timer_.data = this;
    if (uv_tcp_init(server_.loop_, &tcp_) != 0) return false;
    if (uv_timer_init(server_.loop_, &timer_) != 0) {
      closed_ = true;  // only the socket exists: close it alone, its callback counts for both
      ++closed_handles_;
      uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_closed);
      return true;
    }
    handles_ = true;
    if (int rc = uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_)); rc != 0) {
      spdlog::debug("dns tcp accept: {}", uv_strerror(rc));
      return false;
    }
    if (server_.admit_) {
      sockaddr_storage peer{};
      int length = sizeof(peer);
      if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&peer), &length) != 0) return false;
      ticket_ = server_.admit_(peer);
      if (!ticket_) {
        ++server_.tcp_refused_;
        return false;
      }
    }
    if (!read()) return false;
    arm();
    return true;
  }
  bool has_handles() const { return handles_; }
  void close() {
    if (closed_) return;
    closed_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_closed);
  }

 private:
  void arm() {
    uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<TcpConnection*>(t->data)->close(); }, kTcpIdleMs, 0);
  }
  bool read() {
    if (int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), alloc, on_read); rc != 0) {
      spdlog::debug("dns tcp read: {}", uv_strerror(rc));
      return false;
    }
    reading_ = true;
    return true;
  }
  // Answers in writes not yet completed: a write the kernel took at once still holds its
  // buffer until its callback in a later loop turn (see http-api/server_uv.cpp output_full).
  bool output_full() const { return unsent_bytes_ > kMaxUnsentOutput; }
  static void alloc(uv_handle_t* h, std::size_t, uv_buf_t* b) {
    std::vector<char>& shared = static_cast<TcpConnection*>(h->data)->server_.tcp_read_buffer_;
    *b = uv_buf_init(shared.data(), static_cast<unsigned>(shared.size()));
  }
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* c = static_cast<TcpConnection*>(s->data);
    auto keep = c->shared_from_this();
    if (n < 0) return c->close();
    c->input_.insert(c->input_.end(), b->base, b->base + n);
    try {
      c->answer_buffered();
    } catch (const std::exception& e) {
      spdlog::error("dns tcp: {}", e.what());
      c->close();
    }
  }
  // Every complete length-prefixed message gets its reply, in order, until the client's unread
  // answers pass kMaxUnsentOutput: then reading stops until they drain (on_written).
  void answer_buffered() {
    TcpConnection* c = this;
    while (c->input_.size() >= 2 && !c->closed_) {
      if (c->output_full()) {
        if (c->reading_) {
          uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp_));
          c->reading_ = false;
          ++c->server_.tcp_output_pauses_;
        }
        return;
      }
      std::size_t len = (static_cast<std::size_t>(static_cast<std::uint8_t>(c->input_[0])) << 8) |
                        static_cast<std::uint8_t>(c->input_[1]);
      if (c->input_.size() < 2 + len) break;
      const auto* message = reinterpret_cast<const std::uint8_t*>(c->input_.data()) + 2;
      QueryOutcome outcome = c->server_.answer(message, len, true);
      if (outcome.action == QueryOutcome::Action::drop) return c->close();  // undecodable: drop the connection
      if (outcome.action == QueryOutcome::Action::forward) {
        c->forward(message, len);
      } else {
        c->send(std::move(outcome.reply));
      }
      c->input_.erase(c->input_.begin(), c->input_.begin() + static_cast<long>(2 + len));
      c->arm();
    }
    if (!c->closed_ && !c->reading_ && !c->output_full() && !c->read()) c->close();
  }
  // The reply may come after the client went away: the weak pointer tells.
  void forward(const std::uint8_t* query, std::size_t size) {
    std::weak_ptr<TcpConnection> weak = shared_from_this();
    server_.forward(query, size, [weak](std::vector<std::uint8_t> reply) {
      auto self = weak.lock();
      if (self && !self->closed_) self->send(std::move(reply));
    });
  }
  void send(std::vector<std::uint8_t> message) {
    struct Write {
      uv_write_t req;
      std::vector<std::uint8_t> data;
      std::shared_ptr<TcpConnection> keep;
    };
    auto* w = new Write{{}, {}, shared_from_this()};
    w->data.push_back(static_cast<std::uint8_t>(message.size() >> 8));
    w->data.push_back(static_cast<std::uint8_t>(message.size() & 0xff));
    w->data.insert(w->data.end(), message.begin(), message.end());
    w->req.data = w;
    unsent_bytes_ += w->data.size();
    uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(w->data.data()), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, [](uv_write_t* req, int status) {
          std::unique_ptr<Write> owned(static_cast<Write*>(req->data));
          TcpConnection& c = *owned->keep;
          c.unsent_bytes_ -= owned->data.size();
          if (status != 0) return c.close();
          if (c.closed_ || c.reading_ || c.output_full()) return;
          try {
            c.answer_buffered();  // the client reads again: answer what waited, read on
          } catch (const std::exception& e) {
            spdlog::error("dns tcp: {}", e.what());
            c.close();
          }
        }) != 0) {
      unsent_bytes_ -= w->data.size();
      delete w;
      close();
    }
  }
  static void on_closed(uv_handle_t* h) {
    auto* c = static_cast<TcpConnection*>(h->data);
    if (++c->closed_handles_ < 2) return;
    auto self = c->shared_from_this();
    c->server_.connections_.erase(self);
  }

  Server& server_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  std::vector<char> input_;
  std::shared_ptr<void> ticket_;  // from the admission check: our place in the connection limits
  std::size_t unsent_bytes_ = 0;  // in writes not yet completed (output_full)
  bool reading_ = false;
  bool handles_ = false;
  bool closed_ = false;
  int closed_handles_ = 0;
};

Server::Server(uv_loop_t* loop, const Resolver& resolver, ServeConfig config, std::vector<sockaddr_storage> recursors,
               std::chrono::milliseconds recursor_timeout)
    : loop_(loop), resolver_(resolver), config_(config), rng_(std::random_device{}()),
      udp_(loop, [this](const std::uint8_t* data, std::size_t size, const sockaddr_storage& from) { on_udp(data, size, from); }) {
  config_.recursion_available = !recursors.empty();
  prepare_fn_ = [this](const Question& q) { return prepare(q); };
  if (!recursors.empty()) forwarder_ = std::make_unique<Forwarder>(loop, std::move(recursors), recursor_timeout);
}

Server::~Server() = default;

QueryOutcome Server::answer(const std::uint8_t* data, std::size_t size, bool tcp) {
  return answer_query(data, size, tcp, prepare_fn_, rng_, config_, stats_);
}

std::shared_ptr<const PreparedAnswer> Server::prepare(const Question& question) {
  cache_key_.assign(question.name);
  const auto type = static_cast<std::uint16_t>(question.type);
  cache_key_.push_back(static_cast<char>(type >> 8));  // the name ends with '.', so no clash
  cache_key_.push_back(static_cast<char>(type & 0xff));
  if (auto hit = cache_.find(cache_key_, resolver_.catalog().index())) return hit;
  auto prepared = std::make_shared<const PreparedAnswer>(resolver_.resolve(question), question.name);
  cache_.put(cache_key_, prepared);
  return prepared;
}

int Server::listen(const std::string& host, int port) {
  sockaddr_storage addr{};
  int rc = uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) rc = uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr));
  if (rc != 0) return rc;
  if ((rc = udp_.bind(reinterpret_cast<const sockaddr*>(&addr))) != 0) return rc;
  // Port 0: TCP takes the port UDP was given.
  port_ = udp_.port();
  if (addr.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(static_cast<std::uint16_t>(port_));
  else reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(static_cast<std::uint16_t>(port_));
  if ((rc = uv_tcp_init(loop_, &tcp_)) != 0) return rc;
  tcp_open_ = true;
  tcp_.data = this;
  if ((rc = uv_tcp_bind(&tcp_, reinterpret_cast<const sockaddr*>(&addr), 0)) != 0) return rc;
  return uv_listen(reinterpret_cast<uv_stream_t*>(&tcp_), 256, on_tcp_connection);
}

void Server::forward(const std::uint8_t* query, std::size_t size, std::function<void(std::vector<std::uint8_t>)> deliver) {
  std::vector<std::uint8_t> original(query, query + size);  // the forwarder rewrites its copy's ID
  forwarder_->forward(original, [this, original, deliver = std::move(deliver)](std::optional<std::vector<std::uint8_t>> reply) {
    if (!reply) {
      ++stats_.servfail;
      reply = servfail_reply(original.data(), original.size());
    }
    if (reply) deliver(std::move(*reply));
  });
}

void Server::on_udp(const std::uint8_t* data, std::size_t size, const sockaddr_storage& from) {
  try {
    QueryOutcome outcome = answer(data, size, false);
    if (outcome.action == QueryOutcome::Action::reply) return udp_.reply(std::move(outcome.reply), from);
    if (outcome.action == QueryOutcome::Action::forward) {
      forward(data, size, [this, from](std::vector<std::uint8_t> reply) { udp_.reply(std::move(reply), from); });
    }
  } catch (const std::exception& e) {
    spdlog::error("dns udp: {}", e.what());
  }
}

void Server::on_tcp_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status != 0) {
    spdlog::debug("dns tcp accept: {}", uv_strerror(status));
    return;
  }
  try {
    auto conn = std::make_shared<TcpConnection>(*self);
    self->connections_.insert(conn);
    if (!conn->start(listener)) {
      if (conn->has_handles()) conn->close();
      else self->connections_.erase(conn);
    }
  } catch (const std::exception& e) {
    spdlog::error("dns tcp accept: {}", e.what());
  }
}

void Server::close() {
  if (forwarder_) forwarder_->close();
  auto conns = connections_;
  for (const auto& c : conns) c->close();
  udp_.close();
  if (tcp_open_ && !uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), nullptr);
}

}  // namespace hearsay::dns
