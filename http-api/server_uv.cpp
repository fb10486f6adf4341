// Connections own their libuv handles; memory is released only in the close callbacks
// (libuv's rule). Writes carry their own buffer and a strong reference until completed.
#include "http-api/server_uv.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace hearsay::http {
namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string serialize(const Response& res, bool close_after) {
  std::string out;
  out.reserve(res.body.size() + 256);
  out += "HTTP/1.1 " + std::to_string(res.status) + " " + reason_phrase(res.status) + "\r\n";
  for (const auto& [name, value] : res.headers) out += name + ": " + value + "\r\n";
  out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
  if (close_after) out += "Connection: close\r\n";
  out += "\r\n";
  out += res.body;
  return out;
}

// Pipelined bytes kept while a request is in flight (or answers are unread), before reading
// pauses. A body is not held here: the parser takes it as it comes, up to its own limits.
constexpr std::size_t kMaxBufferedInput = 64 * 1024;

// How long a request in flight may still be answered after its client closed its side.
constexpr std::uint64_t kHalfClosedGraceMs = 1000;

// What a refused connection is told (Consul's text), if its socket takes it without waiting.
const std::string& too_many_connections() {
  static const std::string text = serialize(
      Response::text(429, "Your IP is issuing too many concurrent connections, please rate limit your calls\n"), true);
  return text;
}

}  // namespace

// One client connection. Lives in Server::connections_ until its handle's close callback.
class Connection : public ReplySink, public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server& server) : server_(server), parser_(server.config_.limits) {}

  bool start() {
    tcp_.data = this;
    timer_.data = this;
    if (uv_tcp_init(server_.loop_, &tcp_) != 0) return false;
    if (uv_timer_init(server_.loop_, &timer_) != 0) {
      // Only the socket handle exists: close it alone; its callback counts for both.
      closed_ = true;
      ++handles_closed_;
      uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_handle_closed);
      return false;
    }
    return true;
  }
  uv_tcp_t* tcp() { return &tcp_; }

  void begin_reading() {
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), alloc, on_read) != 0) return close();
    reading_ = true;
    arm_idle_timer();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_handle_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_handle_closed);
  }

  // Closes once every queued write has completed (closing a handle cancels pending writes).
  void close_when_flushed() {
    close_after_ = true;
    if (pending_writes_ == 0) close();
  }

  // Answers whose writes have not completed. Counted here, not with libuv's write queue size:
  // a write the kernel took at once leaves that queue, but its buffer lives until the write
  // callback in a later loop turn, and a burst of pipelined requests answered in one turn
  // held every answer at once (50 such clients: +60 MiB of RSS). Once the kernel's buffer is
  // full, the callbacks stop and so do the answers.
  bool output_full() const { return unsent_bytes_ > server_.config_.max_unsent_output; }

  // Refused by the admission check: a 429 if the socket takes it now, then closed.
  void refuse() {
    const std::string& text = too_many_connections();
    uv_buf_t buf = uv_buf_init(const_cast<char*>(text.data()), static_cast<unsigned>(text.size()));
    (void)uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1);  // best effort: it may not fit
    close();
  }
  void hold(std::shared_ptr<void> ticket) { ticket_ = std::move(ticket); }
  bool closing() const { return closed_; }

  bool connected(std::uint64_t seq) const override { return !closed_ && !peer_eof_ && in_flight_ && seq == sequence_; }

  void send(std::uint64_t seq, Response res) override {
    if (closed_ || !in_flight_ || seq != sequence_) return;
    in_flight_ = false;
    if (res.status < 300) ++server_.stats_.responses_2xx;
    else if (res.status < 500) ++server_.stats_.responses_4xx;
    else ++server_.stats_.responses_5xx;
    write(serialize(res, close_after_));
    if (!close_after_) {
      arm_idle_timer();
      if (!processing_) process();
    }
  }

 private:
  struct WriteRequest {
    uv_write_t req;
    std::string data;
    std::shared_ptr<Connection> keep;
  };

  void write(std::string data) {
    auto* w = new WriteRequest{{}, std::move(data), shared_from_this()};
    ++pending_writes_;
    unsent_bytes_ += w->data.size();
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, on_written) != 0) {
      unsent_bytes_ -= w->data.size();
      delete w;
      --pending_writes_;
      close();
    }
  }

  static void on_written(uv_write_t* req, int status) {
    auto* w = reinterpret_cast<WriteRequest*>(req);
    std::unique_ptr<WriteRequest> owned(w);
    Connection& c = *w->keep;
    --c.pending_writes_;
    c.unsent_bytes_ -= w->data.size();
    if (status != 0 || (c.close_after_ && c.pending_writes_ == 0)) return c.close();
    // The client is reading again: requests that waited for its answers to drain go on.
    if (c.paused_for_output_ && !c.output_full() && !c.in_flight_ && !c.processing_) {
      try {
        c.process();
      } catch (const std::exception& e) {
        ++c.server_.stats_.callback_errors;
        spdlog::error("http write: {}", e.what());
        c.close();
      }
    }
  }

  // Parses buffered input; dispatches at most one request at a time.
  void process() {
    processing_ = true;
    paused_for_output_ = false;
    while (!closed_ && !in_flight_ && !input_.empty()) {
      if (output_full()) {
        // A client that sends and never reads: its next request waits until it reads.
        paused_for_output_ = true;
        ++server_.stats_.output_pauses;
        break;
      }
      std::size_t n = parser_.feed(input_.data(), input_.size());
      input_.erase(0, n);
      if (parser_.error() != ParseError::none) {
        ++server_.stats_.parse_errors;
        close_after_ = true;
        in_flight_ = true;
        ++sequence_;
        send(sequence_, Response::text(parser_.error_status(), parser_.error_text()));
        break;
      }
      if (!parser_.has_request()) {
        if (n == 0) break;  // need more bytes
        continue;
      }
      Request req = parser_.take_request();
      if (!req.keep_alive) close_after_ = true;
      in_flight_ = true;
      ++sequence_;
      ++server_.stats_.requests;
      uv_timer_stop(&timer_);
      try {
        server_.handler_(std::move(req), Responder(weak_from_this(), sequence_));
      } catch (const std::exception& e) {
        ++server_.stats_.callback_errors;
        spdlog::error("http handler: {}", e.what());
        send(sequence_, Response::text(500, "internal error"));
      }
    }
    processing_ = false;
    // Resume reading once the backlog is gone; EOF with nothing in flight ends the connection.
    if (!closed_ && !reading_ && input_.size() < kMaxBufferedInput && !peer_eof_) {
      if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), alloc, on_read) != 0) return close();
      reading_ = true;
    }
    if (!closed_ && peer_eof_ && !in_flight_ && input_.empty()) {
      parser_.end_of_input();  // a request the EOF cut off gets its 400, not silence
      if (parser_.error() != ParseError::none) {
        ++server_.stats_.parse_errors;
        close_after_ = true;
        in_flight_ = true;
        ++sequence_;
        send(sequence_, Response::text(parser_.error_status(), parser_.error_text()));
      } else {
        close_when_flushed();
      }
    }
  }

  void close_in(std::uint64_t ms) {
    if (closed_) return;
    uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<Connection*>(t->data)->close(); }, ms, 0);
  }

  void arm_idle_timer() {
    if (closed_) return;
    auto ms = static_cast<std::uint64_t>(server_.config_.idle_timeout.count());
    uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<Connection*>(t->data)->close(); }, ms, 0);
  }

  static void alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
    std::string& shared = static_cast<Connection*>(handle->data)->server_.read_buffer_;
    shared.resize(64 * 1024);
    *buf = uv_buf_init(shared.data(), static_cast<unsigned>(shared.size()));
  }

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Connection*>(stream->data);
    auto keep = c->shared_from_this();
    try {
      if (nread < 0) {
        uv_read_stop(stream);
        c->reading_ = false;
        c->peer_eof_ = true;
        if (nread != UV_EOF) {
          c->close();  // a reset or error: nothing more can be written either
        } else if (!c->in_flight_) {
          c->process();  // answer what arrived before the EOF; it closes once all is answered
        } else {
          // The client closed its side with a request in flight: an answer due at once (a write
          // waiting for its commit) still goes out, but a parked blocking query would hold the
          // connection, and its place under the per-client cap, for up to its whole wait. Go's
          // server (so Consul's) cancels the request when the client's side closes.
          c->close_in(kHalfClosedGraceMs);
        }
        return;
      }
      c->input_.append(buf->base, static_cast<std::size_t>(nread));
      if (c->input_.size() >= kMaxBufferedInput) {
        uv_read_stop(stream);
        c->reading_ = false;
      }
      if (!c->in_flight_) c->process();
    } catch (const std::exception& e) {
      ++c->server_.stats_.callback_errors;
      spdlog::error("http read: {}", e.what());
      c->close();
    }
  }

  static void on_handle_closed(uv_handle_t* handle) {
    auto* c = static_cast<Connection*>(handle->data);
    if (++c->handles_closed_ < 2) return;
    Server& server = c->server_;
    auto self = c->shared_from_this();  // erase after the last callback that uses `c`
    server.connections_.erase(self);
  }

  Server& server_;
  RequestParser parser_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  std::string input_;
  std::shared_ptr<void> ticket_;  // from ServerConfig::admit: our place in the connection limits
  std::uint64_t sequence_ = 0;
  bool in_flight_ = false;
  bool paused_for_output_ = false;
  bool processing_ = false;
  bool reading_ = false;
  bool close_after_ = false;
  bool peer_eof_ = false;
  bool closed_ = false;
  int handles_closed_ = 0;
  int pending_writes_ = 0;
  std::size_t unsent_bytes_ = 0;  // in writes not yet completed (output_full)
};

Server::Server(uv_loop_t* loop, ServerConfig config, Handler handler)
    : loop_(loop), config_(config), handler_(std::move(handler)) {}

Server::~Server() = default;

int Server::listen(const std::string& host, int port) {
  sockaddr_storage addr{};
  int rc = uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) rc = uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr));
  if (rc != 0) return rc;
  if ((rc = uv_tcp_init(loop_, &listener_)) != 0) return rc;
  listener_.data = this;
  listening_ = true;
  if ((rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0)) != 0) return rc;
  return uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 1024, on_connection);
}

int Server::bound_port() const {
  sockaddr_storage addr{};
  int len = sizeof(addr);
  if (uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

void Server::on_connection(uv_stream_t* listener, int status) {
  auto* server = static_cast<Server*>(listener->data);
  try {
    if (status != 0) {
      spdlog::warn("http accept: {}", uv_strerror(status));
      return;
    }
    auto conn = std::make_shared<Connection>(*server);
    server->connections_.insert(conn);  // first: a handle start() opened is freed in its close callback
    if (!conn->start()) {
      if (!conn->closing()) server->connections_.erase(conn);  // no handle was opened
      spdlog::warn("http accept: cannot set up a connection");
      return;
    }
    if (int rc = uv_accept(listener, reinterpret_cast<uv_stream_t*>(conn->tcp())); rc != 0 || server->closing_) {
      if (rc != 0) spdlog::debug("http accept: {}", uv_strerror(rc));
      conn->close();
      return;
    }
    if (server->connections_.size() > server->config_.max_connections) {
      ++server->stats_.connections_refused;
      conn->refuse();
      return;
    }
    if (server->config_.admit) {
      sockaddr_storage peer{};
      int length = sizeof(peer);
      if (uv_tcp_getpeername(conn->tcp(), reinterpret_cast<sockaddr*>(&peer), &length) != 0) {
        conn->close();  // already gone
        return;
      }
      std::shared_ptr<void> ticket = server->config_.admit(peer);
      if (!ticket) {
        ++server->stats_.connections_refused;
        conn->refuse();
        return;
      }
      conn->hold(std::move(ticket));
    }
    ++server->stats_.connections_accepted;
    if (int rc = uv_tcp_nodelay(conn->tcp(), 1); rc != 0) spdlog::debug("http: TCP_NODELAY: {}", uv_strerror(rc));
    conn->begin_reading();
  } catch (const std::exception& e) {
    ++server->stats_.callback_errors;
    spdlog::error("http accept: {}", e.what());
  }
}

void Server::close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(done);
  auto connections = connections_;  // close() may erase from the set later
  for (const auto& c : connections) c->close();
  if (listening_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), [](uv_handle_t* h) {
      auto* server = static_cast<Server*>(h->data);
      if (server->on_closed_) server->on_closed_();
    });
  } else if (on_closed_) {
    on_closed_();
  }
}

}  // namespace hearsay::http
