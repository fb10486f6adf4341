// UDP goes through UdpListener (batched); TCP: length-prefixed messages over loop::Connection,
// idle connections closed after 10 s (RFC 7766 suggests seconds). Answers
// are prepared once per (name, type) and catalog index, then only shuffled per query.
#include "dns/server_uv.h"

#include <spdlog/spdlog.h>

#include "loop/address.h"

namespace hearsay::dns {
namespace {
constexpr std::uint64_t kTcpIdleMs = 10000;
// Reading pauses while this much of a connection's answers is unsent (the client does not
// read), and resumes when its writes drain: a pipelining non-reader costs this much at most.
constexpr std::size_t kMaxUnsentOutput = 64 * 1024;
constexpr std::size_t kTcpReadSize = 16384;
}  // namespace

// One DNS-over-TCP client: length-prefixed queries in, answers out in order, over a
// loop::Connection. Lives in Server::connections_ until it closed.
class Server::TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
  TcpConnection(Server& server, std::shared_ptr<loop::Connection> conn, std::shared_ptr<void> ticket)
      : server_(server), conn_(std::move(conn)), ticket_(std::move(ticket)) {}
  void start() {
    conn_->set_callbacks({
        .read = [this](const char* data, std::size_t size) {
          input_.insert(input_.end(), data, data + size);
          answer_buffered();
        },
        .read_end = [this](int) { close(); },
        .timer = [this] { close(); },  // idle
        .writable = [this] {
          if (!conn_->reading()) answer_buffered();  // the client reads again: answer what waited, read on
        },
        .closed = [this] { server_.connections_.erase(shared_from_this()); },
    });
    if (!read()) return close();
    arm();
  }
  void close() { conn_->close(); }

 private:
  void arm() { conn_->start_timer(kTcpIdleMs); }
  bool read() {
    if (int rc = conn_->start_reading(); rc != 0) {
      spdlog::debug("dns tcp read: {}", uv_strerror(rc));
      return false;
    }
    return true;
  }
  // Every complete length-prefixed message gets its reply, in order, until the client's unread
  // answers pass kMaxUnsentOutput (loop::Connection::output_full): then reading stops until
  // they drain (the writable callback).
  void answer_buffered() {
    while (input_.size() >= 2 && !conn_->closing()) {
      if (conn_->output_full()) {
        if (conn_->reading()) {
          conn_->stop_reading();
          ++server_.tcp_output_pauses_;
        }
        return;
      }
      std::size_t len = (static_cast<std::size_t>(static_cast<std::uint8_t>(input_[0])) << 8) |
                        static_cast<std::uint8_t>(input_[1]);
      if (input_.size() < 2 + len) break;
      const auto* message = reinterpret_cast<const std::uint8_t*>(input_.data()) + 2;
      QueryOutcome outcome = server_.answer(message, len, true);
      if (outcome.action == QueryOutcome::Action::drop) return close();  // undecodable: drop the connection
      if (outcome.action == QueryOutcome::Action::forward) {
        forward(message, len);
      } else {
        send(outcome.reply);
      }
      input_.erase(input_.begin(), input_.begin() + static_cast<long>(2 + len));
      arm();
    }
    if (!conn_->closing() && !conn_->reading() && !conn_->output_full() && !read()) close();
  }
  // The reply may come after the client went away: the weak pointer tells.
  void forward(const std::uint8_t* query, std::size_t size) {
    std::weak_ptr<TcpConnection> weak = shared_from_this();
    server_.forward(query, size, [weak](std::vector<std::uint8_t> reply) {
      auto self = weak.lock();
      if (self && !self->conn_->closing()) self->send(reply);
    });
  }
  void send(const std::vector<std::uint8_t>& message) {
    std::string framed;
    framed.reserve(message.size() + 2);
    framed.push_back(static_cast<char>(message.size() >> 8));
    framed.push_back(static_cast<char>(message.size() & 0xff));
    framed.append(reinterpret_cast<const char*>(message.data()), message.size());
    conn_->write(std::move(framed));  // a refused write closes the connection
  }

  Server& server_;
  std::shared_ptr<loop::Connection> conn_;
  std::shared_ptr<void> ticket_;  // from the admission check: our place in the connection limits
  std::vector<char> input_;
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

void Server::reconfigure(ServeConfig config) {
  config.recursion_available = config_.recursion_available;
  config_ = config;
  cache_.clear();
}

QueryOutcome Server::answer(const std::uint8_t* data, std::size_t size, bool tcp) {
  const std::uint64_t start = uv_hrtime();
  QueryOutcome outcome = answer_query(data, size, tcp, prepare_fn_, rng_, config_, stats_);
  if (outcome.action == QueryOutcome::Action::reply) answer_latency_.observe_ns(uv_hrtime() - start);
  return outcome;
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
  if (int rc = loop::parse_ip_port(host, port, addr); rc != 0) return rc;
  if (int rc = udp_.bind(reinterpret_cast<const sockaddr*>(&addr)); rc != 0) return rc;
  // Port 0: TCP takes the port UDP was given.
  port_ = udp_.port();
  if (addr.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(static_cast<std::uint16_t>(port_));
  else reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(static_cast<std::uint16_t>(port_));
  loop::Listener::Options options{.name = "dns tcp", .backlog = 256,
                                  .connection = {.name = "dns tcp",
                                                 .read_size = kTcpReadSize,
                                                 .max_unsent_output = kMaxUnsentOutput,
                                                 .callback_errors = &tcp_callback_errors_}};
  loop::Listener::Callbacks callbacks{
      .accepted = [this](std::shared_ptr<loop::Connection> c, const sockaddr_storage&,
                         std::shared_ptr<void> ticket) { accepted(std::move(c), std::move(ticket)); },
      .refused = [this](loop::Connection&) { ++tcp_refused_; },
      .accept_failed = [](int status) { spdlog::debug("dns tcp accept: {}", uv_strerror(status)); },
  };
  // Asked at accept time: set_admission may come after listen().
  auto admit = [this](const sockaddr_storage& peer) { return admit_ ? admit_(peer) : std::make_shared<int>(0); };
  tcp_ = std::make_unique<loop::Listener>(loop_, std::move(options), std::move(callbacks), std::move(admit));
  return tcp_->listen(reinterpret_cast<const sockaddr*>(&addr));
}

void Server::accepted(std::shared_ptr<loop::Connection> connection, std::shared_ptr<void> ticket) {
  auto conn = std::make_shared<TcpConnection>(*this, std::move(connection), std::move(ticket));
  connections_.insert(conn);
  conn->start();
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

void Server::close() {
  if (forwarder_) forwarder_->close();
  auto conns = connections_;
  for (const auto& c : conns) c->close();
  udp_.close();
  if (tcp_) tcp_->close();
}

}  // namespace hearsay::dns
