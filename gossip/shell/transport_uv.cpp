// The libuv shell around a gossip Node (see transport_uv.h): sockets, streams and the timer, no
// protocol decisions. A stream is one exchange over a loop::Connection (socket, deadline timer,
// write queue), kept in a set until it has closed; its deadline is memberlist's TCPTimeout, 10 s,
// or the node's earlier one (a TCP fallback ping counts only within its probe).
#include "gossip/shell/transport_uv.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <optional>

#include "gossip/wire/codec.h"
#include "gossip/wire/framing.h"
#include "gossip/shell/icmp_errors_uv.h"
#include "gossip/wire/stream_message.h"
#include "loop/address.h"

namespace hearsay::gossip {
namespace {

constexpr std::uint64_t kStreamTimeoutMs = 10000;
constexpr std::size_t kMaxStreamBytes = kMaxStreamPlain;  // on the wire, compressed or not

}  // namespace

bool to_sockaddr(const Address& address, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof(out));
  if (address.ip.size() == 4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    in->sin_port = htons(address.port);
    std::memcpy(&in->sin_addr, address.ip.data(), 4);
    return true;
  }
  if (address.ip.size() == 16) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.port);
    std::memcpy(&in6->sin6_addr, address.ip.data(), 16);
    return true;
  }
  return false;
}

Address from_sockaddr(const sockaddr* addr) {
  Address out;
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    const auto* b = reinterpret_cast<const std::uint8_t*>(&in->sin_addr);
    out.ip.assign(b, b + 4);
    out.port = ntohs(in->sin_port);
  } else if (addr->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    const auto* b = reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr);
    out.ip.assign(b, b + 16);
    out.port = ntohs(in6->sin6_port);
  }
  return out;
}

// One TCP exchange, either side, over one loop::Connection: it reads one message (opening it
// first when encrypting) and hands it to the node. Outgoing when it has the node's stream id
// (the node knows its role), incoming otherwise (the node answers it).
class Transport::Stream : public std::enable_shared_from_this<Stream> {
 public:
  // `conn` may be null (it could not be set up): the stream then fails at connect().
  Stream(Transport& t, Address peer, std::shared_ptr<loop::Connection> conn, std::optional<std::uint64_t> id)
      : t_(t), peer_(std::move(peer)), conn_(std::move(conn)), id_(id) {}
  // Wires the connection's callbacks and starts the stream's deadline.
  void start(std::uint64_t timeout_ms) {
    if (!conn_) return;
    conn_->set_callbacks({
        .read = [this](const char* data, std::size_t n) {
          input_.insert(input_.end(), data, data + n);
          t_.stats_.stream_bytes_in += n;
          if (input_.size() > kMaxStreamBytes) return fail("stream too large");
          try_parse();
        },
        .read_end = [this](int status) { fail(status == UV_EOF ? "closed before a complete message" : uv_strerror(status)); },
        .connected = [this](int status) {
          if (status != 0) return fail(uv_strerror(status));
          write(std::move(request_), one_way_);
          if (!one_way_) start_reading();
        },
        .timer = [this] { fail("timed out"); },
        .written = [this](std::size_t bytes) {
          t_.stats_.stream_bytes_out += bytes;
          if (id_ && one_way_ && !done_) {
            done_ = true;
            t_.node_.stream_written(*id_);
          }
        },
        .failed = [this](const char*, int status) { fail(uv_strerror(status)); },
        .closed = [this] {
          auto self = shared_from_this();
          if (!closed_) fail("connection closed");  // a callback threw: the node still hears
          t_.streams_.erase(self);
        },
    });
    conn_->start_timer(timeout_ms);
  }

  // Outgoing: sends `request`, then waits for the one reply unless `one_way`.
  void connect(Bytes request, bool one_way) {
    if (!conn_) return fail("cannot set up a connection");
    request_ = std::move(request);
    one_way_ = one_way;
    sockaddr_storage addr{};
    if (!to_sockaddr(peer_, addr)) return fail("bad address");
    if (int rc = conn_->connect(reinterpret_cast<const sockaddr*>(&addr)); rc != 0) fail(uv_strerror(rc));
  }

  void hold(std::shared_ptr<void> ticket) { ticket_ = std::move(ticket); }

  void start_reading() {
    if (int rc = conn_->start_reading(); rc != 0) fail(uv_strerror(rc));
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (conn_) conn_->close();
    else t_.streams_.erase(shared_from_this());  // nothing to wait for
  }

 private:
  void try_parse() {
    if (done_) return;
    const std::uint8_t* data = input_.data();
    std::size_t size = input_.size();
    std::optional<Bytes> plain;
    if (t_.encrypting()) {
      // memberlist's encrypted stream: 0x0a, the sealed length, the sealed message.
      if (input_.empty()) return;
      if (input_[0] != static_cast<std::uint8_t>(MessageType::encrypt)) {
        return refuse("encryption is configured but the stream is not encrypted", true);
      }
      const std::optional<std::size_t> length = encrypted_stream_length(data, size);
      if (!length) return;  // header still incomplete
      if (*length > kMaxEncryptedStream) return refuse("encrypted stream too large", true);
      if (size < 5 + *length) return;
      plain = t_.keyring_->open(data + 5, *length, Bytes(data, data + 5));
      if (!plain) return refuse("no key in the keyring decrypts the stream", true);
      data = plain->data();
      size = plain->size();
    }
    StreamMessage m = parse_stream_message(data, size);
    if (m.kind == StreamMessage::Kind::incomplete) {
      if (plain) return refuse("the encrypted stream holds an incomplete message", false);
      return;
    }
    done_ = true;
    if (id_) {
      t_.node_.stream_reply(*id_, m, Transport::now());
      close();
    } else {
      StreamAnswer answer = t_.node_.answer_stream(peer_, m, Transport::now());
      if (!answer.refused.empty()) spdlog::debug("gossip: stream from {} refused: {}", peer_.to_string(), answer.refused);
      if (answer.reply) write(std::move(*answer.reply), true);
      else close();
    }
    t_.flush();
  }

  // Bytes we cannot open: a responder says why (as memberlist's err reply), an initiator gives
  // up. Counted as decryption failures, as for datagrams.
  void refuse(const std::string& why, bool decryption) {
    if (decryption) ++t_.stats_.decrypt_failed;
    spdlog::debug("gossip: stream {} {}: {}", id_ ? "to" : "from", peer_.to_string(), why);
    if (id_) return fail(why);
    done_ = true;
    write(encode(ErrorMessage{why}), true);
  }

  void write(Bytes data, bool close_after) {
    if (t_.encrypting()) {
      data = t_.keyring_->seal_stream(data);
      if (data.empty()) return fail("encryption failed");
    }
    // A refused write reports through the connection's `failed` callback.
    if (!conn_->write(std::string(data.begin(), data.end()))) return;
    if (close_after) conn_->close_when_flushed();
  }

  void fail(const char* why) {
    if (closed_) return;
    if (id_ && !done_) {
      done_ = true;
      ++t_.stats_.streams_failed;
      spdlog::debug("gossip: stream to {} failed: {}", peer_.to_string(), why);
      t_.node_.stream_failed(*id_, why, Transport::now());
      close();
      return t_.flush();  // a probe may have ended on it: its suspicion goes out now
    }
    close();
  }
  void fail(const std::string& why) { fail(why.c_str()); }

  Transport& t_;
  Address peer_;
  std::shared_ptr<loop::Connection> conn_;
  std::optional<std::uint64_t> id_;  // the node's id of a stream we opened
  Bytes request_;
  std::vector<std::uint8_t> input_;
  std::shared_ptr<void> ticket_;  // an incoming stream's place in the connection limits
  bool one_way_ = false;
  bool done_ = false;  // the node has had the outcome (or the incoming message)
  bool closed_ = false;
};

Transport::Transport(uv_loop_t* loop, Node& node, Handlers handlers, const Keyring* keyring)
    : loop_(loop), node_(node), handlers_(std::move(handlers)), keyring_(keyring), buffer_(65536) {}

Transport::~Transport() = default;

int Transport::listen(const std::string& host, int port) {
  sockaddr_storage addr{};
  if (int rc = loop::parse_ip_port(host, port, addr); rc != 0) return rc;
  if (int rc = udp_.init(loop_, this); rc != 0) return rc;
  if (int rc = timer_.init(loop_, this); rc != 0) return rc;
  loop::Listener::Callbacks callbacks{
      .accepted = [this](std::shared_ptr<loop::Connection> conn, const sockaddr_storage& peer, std::shared_ptr<void> ticket) {
        ++stats_.streams_in;
        auto stream = std::make_shared<Stream>(*this, from_sockaddr(reinterpret_cast<const sockaddr*>(&peer)),
                                               std::move(conn), std::nullopt);
        streams_.insert(stream);
        stream->hold(std::move(ticket));
        stream->start(kStreamTimeoutMs);
        stream->start_reading();
      },
      .refused = [this](loop::Connection&) {
        ++stats_.streams_in;
        ++stats_.streams_refused;
      },
      .accept_failed = [](int status) { spdlog::debug("gossip accept: {}", uv_strerror(status)); },
  };
  // Asked at accept time: set_admission may come after listen().
  auto admit = [this](const sockaddr_storage& peer) { return admit_ ? admit_(peer) : std::make_shared<int>(0); };
  listener_ = std::make_unique<loop::Listener>(loop_, loop::Listener::Options{.name = "gossip", .backlog = 128, .connection = stream_options()},
                                               std::move(callbacks), std::move(admit));
  open_ = true;
  int rc = uv_udp_bind(udp_.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc != 0) return rc;
  if (!ask_for_port_unreachable(udp_.get())) spdlog::debug("gossip: no ICMP port-unreachable reports here; probes wait out their timeouts");
  if ((rc = listener_->listen(reinterpret_cast<const sockaddr*>(&addr))) != 0) return rc;
  rc = uv_udp_recv_start(
      udp_.get(),
      [](uv_handle_t* h, std::size_t, uv_buf_t* b) {
        auto* t = static_cast<Transport*>(h->data);
        *b = uv_buf_init(t->buffer_.data(), static_cast<unsigned>(t->buffer_.size()));
      },
      [](uv_udp_t* h, ssize_t n, const uv_buf_t* b, const sockaddr* from, unsigned) {
        auto* t = static_cast<Transport*>(h->data);
        try {
          t->on_udp_read(n, b, from);
        } catch (const std::exception& e) {
          ++t->stats_.callback_errors;
          spdlog::error("gossip udp: {}", e.what());
        }
      });
  if (rc != 0) return rc;
  flush();
  return 0;
}

void Transport::on_udp_read(ssize_t n, const uv_buf_t* b, const sockaddr* from) {
  // Queued ICMP reports keep the socket readable, so they must be read or the loop spins.
  // They show as a receive error, or (when a send took that error, see send_datagram) as
  // the empty read that ends a batch; only then is the queue read, not on every batch.
  if (n < 0 || (!from && reports_pending_)) return read_port_unreachable();
  if (n == 0) return;
  on_datagram(reinterpret_cast<const std::uint8_t*>(b->base), static_cast<std::size_t>(n), from);
}

void Transport::on_datagram(const std::uint8_t* data, std::size_t size, const sockaddr* from) {
  ++stats_.udp_in;
  const Address source = from_sockaddr(from);
  if (encrypting()) {
    // Authenticated before anything parses it; a packet no key opens is never looked at.
    const std::optional<Bytes> plain = keyring_->open(data, size);
    if (!plain) {
      ++stats_.decrypt_failed;
      spdlog::debug("gossip: dropped a packet from {} that no key decrypts", source.to_string());
      return;
    }
    node_.receive_packet(source, plain->data(), plain->size(), now());
  } else {
    node_.receive_packet(source, data, size, now());
  }
  flush();
}

void Transport::read_port_unreachable() {
  reports_pending_ = false;
  const std::vector<Address> unreachable = take_port_unreachable(udp_.get());
  for (const Address& to : unreachable) node_.port_unreachable(to, now());
  if (!unreachable.empty()) flush();
}

void Transport::send_datagram(OutgoingPacket& p) {
  sockaddr_storage to{};
  if (!to_sockaddr(p.to, to)) return;
  // Compressed when that makes it smaller, then sealed: serf's order (memberlist-wire.md 3.2).
  if (Bytes packed = compress_message(p.packet); packed.size() < p.packet.size()) p.packet = std::move(packed);
  if (encrypting()) {
    p.packet = keyring_->seal(p.packet.data(), p.packet.size());
    if (p.packet.empty()) {
      ++stats_.udp_send_failed;  // encryption failed: dropped, as an unsendable datagram
      return;
    }
  }
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(p.packet.data()), static_cast<unsigned>(p.packet.size()));
  // Gossip is best effort: a datagram the socket cannot take now is dropped, as UDP would.
  int rc = uv_udp_try_send(udp_.get(), &buf, 1, reinterpret_cast<const sockaddr*>(&to));
  // With the ICMP reports on (icmp_errors_uv.h), Linux also keeps the last report as the
  // socket's pending error and fails the next send with it, once, without sending: that error
  // belongs to an earlier datagram, so this one goes again. (The report itself stays queued.)
  if (is_earlier_datagrams_error(rc)) {
    reports_pending_ = true;  // the report behind that error is still queued
    rc = uv_udp_try_send(udp_.get(), &buf, 1, reinterpret_cast<const sockaddr*>(&to));
  }
  if (rc < 0) ++stats_.udp_send_failed;
  else ++stats_.udp_out;
}

loop::Connection::Options Transport::stream_options() {
  return {.name = "gossip stream", .read_size = 65536, .callback_errors = &stats_.callback_errors};
}

void Transport::open_stream(StreamOpen open) {
  ++stats_.streams_out;
  std::uint64_t timeout_ms = kStreamTimeoutMs;
  if (open.deadline) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*open.deadline - now()).count();
    if (left <= 0) return node_.stream_failed(open.id, "too late", now());  // its probe is over
    timeout_ms = std::min<std::uint64_t>(timeout_ms, static_cast<std::uint64_t>(left));
  }
  auto stream = std::make_shared<Stream>(*this, open.to, loop::Connection::create(loop_, stream_options()), open.id);
  streams_.insert(stream);
  stream->start(timeout_ms);
  stream->connect(std::move(open.request), !open.wants_reply);
}

void Transport::flush() {
  if (!open_) return;
  // A handler may drive the node again (an answer to a query, an owner forgotten on a leave):
  // what that produced goes out now too. Bounded, in case a handler always has more.
  for (int round = 0; round < 4; ++round) {
    NodeOutput output = node_.take_output();
    if (output.empty()) break;
    deliver(output);
    if (!open_) return;  // a handler shut the agent down (a failed -join): no timer to arm
  }
  arm_timer();
}

void Transport::deliver(NodeOutput& out) {
  if (handlers_.queries && (!out.queries.empty() || !out.query_responses.empty())) {
    handlers_.queries(std::move(out.queries), std::move(out.query_responses));
  }
  for (OutgoingPacket& p : out.packets) send_datagram(p);
  for (StreamOpen& s : out.streams) open_stream(std::move(s));
  for (const JoinOutcome& j : out.joins) {
    // A failed join is worth a warning (the operator asked for it).
    if (!j.error.empty()) spdlog::warn("gossip: cannot join {}: {}", j.seed.to_string(), j.error);
    if (auto it = joins_.find(j.id); it != joins_.end()) {
      JoinDone done = std::move(it->second);
      joins_.erase(it);
      done(j.error);
    }
  }
  for (const std::string& name : out.udp_silent) {
    spdlog::warn("gossip: {} answered a probe over TCP but none over UDP; the network may be misconfigured", name);
  }
  if (handlers_.event) {
    for (const MemberEvent& e : out.events) handlers_.event(e);
  }
  if (handlers_.changes && !out.changes.empty()) handlers_.changes(std::move(out.changes));
}

void Transport::join(const Address& seed, JoinDone done) {
  joins_[node_.join(seed)] = std::move(done);
  flush();
}

void Transport::arm_timer() {
  // Rounded up: libuv timers have millisecond resolution, and a deadline less than 1 ms away
  // truncated to 0 fired at once, found nothing due and re-armed: a busy loop until the
  // deadline passed, several times a second (it was most of an idle agent's CPU).
  const Clock::time_point deadline = node_.next_deadline();
  const Clock::time_point current = now();
  const auto wait = deadline <= current ? std::chrono::milliseconds(0)
                                        : std::chrono::ceil<std::chrono::milliseconds>(deadline - current);
  const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, wait.count()));
  int rc = uv_timer_start(timer_.get(), [](uv_timer_t* h) {
    auto* t = static_cast<Transport*>(h->data);
    try {
      t->node_.tick(now());
      t->flush();
    } catch (const std::exception& e) {
      ++t->stats_.callback_errors;
      spdlog::error("gossip timer: {}", e.what());
    }
  }, ms, 0);
  if (rc != 0) spdlog::error("gossip: cannot arm the timer: {}", uv_strerror(rc));
}

void Transport::close() {
  if (!open_) return;
  open_ = false;
  auto streams = streams_;
  for (const auto& s : streams) s->close();
  udp_.close();
  timer_.close();
  if (listener_) listener_->close();
}

}  // namespace hearsay::gossip
