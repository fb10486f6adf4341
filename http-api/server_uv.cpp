// The HTTP protocol over loop::Connection (socket, timer, write queue, backpressure count)
// and loop::Listener (accept and admission); see server_uv.h.
#include "http-api/server_uv.h"

#include <spdlog/spdlog.h>

#include "loop/address.h"

#include <cstring>

namespace hearsay::http {
namespace {

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
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

// One client connection: the request/response protocol over a loop::Connection, which owns
// the socket, the timer and the write queue. Lives in Server::connections_ until it closed.
class Connection : public ReplySink, public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server& server, std::shared_ptr<loop::Connection> conn, std::shared_ptr<void> ticket)
      : server_(server), parser_(server.config_.limits), conn_(std::move(conn)), ticket_(std::move(ticket)) {}

  void begin_reading() {
    conn_->set_callbacks({
        .read = [this](const char* data, std::size_t size) { on_bytes(data, size); },
        .read_end = [this](int status) { on_end(status); },
        .timer = [this] { close(); },  // idle, or the half-closed grace is over
        // The client is reading again: requests that waited for its answers to drain go on.
        .writable = [this] {
          if (paused_for_output_ && !in_flight_ && !processing_) process();
        },
        .closed = [this] { server_.connections_.erase(shared_from_this()); },
    });
    if (int rc = uv_tcp_nodelay(conn_->tcp(), 1); rc != 0) spdlog::debug("http: TCP_NODELAY: {}", uv_strerror(rc));
    if (conn_->start_reading() != 0) return close();
    arm_idle_timer();
  }

  void close() { conn_->close(); }

  bool connected(std::uint64_t seq) const override { return !conn_->closing() && !peer_eof_ && in_flight_ && seq == sequence_; }

  void send(std::uint64_t seq, Response res) override {
    if (conn_->closing() || !in_flight_ || seq != sequence_) return;
    in_flight_ = false;
    if (!res.log_note.empty()) spdlog::warn("http: {}", res.log_note);
    server_.stats_.latency[static_cast<std::size_t>(group_)][status_class(res.status)].observe_ns(uv_hrtime() -
                                                                                                  started_ns_);
    if (res.status < 300) ++server_.stats_.responses_2xx;
    else if (res.status < 500) ++server_.stats_.responses_4xx;
    else ++server_.stats_.responses_5xx;
    if (!conn_->write(serialize(res, close_after_))) return;
    if (close_after_) return conn_->close_when_flushed();
    arm_idle_timer();
    if (!processing_) process();
  }

 private:
  // Parses buffered input; dispatches at most one request at a time.
  void process() {
    processing_ = true;
    paused_for_output_ = false;
    while (!conn_->closing() && !in_flight_ && !input_.empty()) {
      if (conn_->output_full()) {
        // A client that sends and never reads: its next request waits until it reads.
        paused_for_output_ = true;
        ++server_.stats_.output_pauses;
        break;
      }
      std::size_t n = parser_.feed(input_.data(), input_.size());
      input_.erase(0, n);
      if (parser_.error() != ParseError::none) {
        answer_parse_error();
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
      started_ns_ = uv_hrtime();  // a vDSO clock read: cheap on the read path
      group_ = endpoint_group(req);
      conn_->stop_timer();
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
    if (!conn_->closing() && !conn_->reading() && input_.size() < kMaxBufferedInput && !peer_eof_) {
      if (conn_->start_reading() != 0) return close();
    }
    if (!conn_->closing() && peer_eof_ && !in_flight_ && input_.empty()) {
      parser_.end_of_input();  // a request the EOF cut off gets its 400, not silence
      if (parser_.error() != ParseError::none) answer_parse_error();
      else conn_->close_when_flushed();
    }
  }

  void answer_parse_error() {
    ++server_.stats_.parse_errors;
    close_after_ = true;
    in_flight_ = true;
    ++sequence_;
    started_ns_ = uv_hrtime();
    group_ = EndpointGroup::other;
    send(sequence_, Response::text(parser_.error_status(), parser_.error_text()));
  }

  void arm_idle_timer() { conn_->start_timer(static_cast<std::uint64_t>(server_.config_.idle_timeout.count())); }

  void on_bytes(const char* data, std::size_t size) {
    input_.append(data, size);
    if (input_.size() >= kMaxBufferedInput) conn_->stop_reading();
    if (!in_flight_) process();
  }

  void on_end(int status) {
    peer_eof_ = true;
    if (status != UV_EOF) {
      close();  // a reset or error: nothing more can be written either
    } else if (!in_flight_) {
      process();  // answer what arrived before the EOF; it closes once all is answered
    } else {
      // The client closed its side with a request in flight: an answer due at once (a write
      // waiting for its commit) still goes out, but a parked blocking query would hold the
      // connection, and its place under the per-client cap, for up to its whole wait. Go's
      // server (so Consul's) cancels the request when the client's side closes.
      conn_->start_timer(kHalfClosedGraceMs);
    }
  }

  Server& server_;
  RequestParser parser_;
  std::shared_ptr<loop::Connection> conn_;
  std::shared_ptr<void> ticket_;  // from ServerConfig::admit: our place in the connection limits
  std::string input_;
  std::uint64_t sequence_ = 0;
  std::uint64_t started_ns_ = 0;  // when the request in flight was dispatched (uv_hrtime)
  EndpointGroup group_ = EndpointGroup::other;
  bool in_flight_ = false;
  bool paused_for_output_ = false;
  bool processing_ = false;
  bool close_after_ = false;
  bool peer_eof_ = false;
};

Server::Server(uv_loop_t* loop, ServerConfig config, Handler handler)
    : loop_(loop), config_(config), handler_(std::move(handler)) {}

Server::~Server() = default;

int Server::listen(const std::string& host, int port) {
  sockaddr_storage addr{};
  if (int rc = loop::parse_ip_port(host, port, addr); rc != 0) return rc;
  const char* name = config_.tls ? "https" : "http";
  loop::Listener::Options options{.name = name, .backlog = 1024,
                                  .connection = {.name = name,
                                                 .read_size = 64 * 1024,
                                                 .max_unsent_output = config_.max_unsent_output,
                                                 .callback_errors = &stats_.callback_errors,
                                                 .tls = config_.tls,
                                                 .tls_counters = &stats_.tls}};
  loop::Listener::Callbacks callbacks{
      .accepted = [this](std::shared_ptr<loop::Connection> c, const sockaddr_storage&,
                         std::shared_ptr<void> ticket) { accepted(std::move(c), std::move(ticket)); },
      .refused = [this](loop::Connection& c) {
        ++stats_.connections_refused;
        c.try_write(too_many_connections());  // a 429 if the socket takes it now (none over TLS)
      },
      .accept_failed = [](int status) { spdlog::warn("http accept: {}", uv_strerror(status)); },
  };
  // Over max_connections, or refused by ServerConfig::admit.
  auto admit = [this](const sockaddr_storage& peer) -> std::shared_ptr<void> {
    if (connections_.size() >= config_.max_connections) return nullptr;
    return config_.admit ? config_.admit(peer) : std::make_shared<int>(0);
  };
  listener_ = std::make_unique<loop::Listener>(loop_, std::move(options), std::move(callbacks), std::move(admit));
  return listener_->listen(reinterpret_cast<const sockaddr*>(&addr));
}

int Server::bound_port() const { return listener_ ? listener_->port() : 0; }

void Server::set_tls(std::shared_ptr<const loop::TlsContext> tls) {
  config_.tls = tls;
  if (listener_) listener_->set_tls(std::move(tls));
}

void Server::accepted(std::shared_ptr<loop::Connection> connection, std::shared_ptr<void> ticket) {
  if (closing_) return connection->close();
  auto conn = std::make_shared<Connection>(*this, std::move(connection), std::move(ticket));
  connections_.insert(conn);
  ++stats_.connections_accepted;
  conn->begin_reading();
}

void Server::close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(done);
  auto connections = connections_;  // close() may erase from the set later
  for (const auto& c : connections) c->close();
  if (listener_) {
    listener_->close([this] {
      if (on_closed_) on_closed_();
    });
  } else if (on_closed_) {
    on_closed_();
  }
}

}  // namespace hearsay::http
