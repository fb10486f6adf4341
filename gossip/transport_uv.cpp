// The libuv shell around Membership (see transport_uv.h): sockets, streams and the timer, no
// protocol decisions. A stream is one exchange over a loop::Connection (socket, deadline timer,
// write queue), kept in a set until it has closed; its deadline is memberlist's TCPTimeout, 10 s.
#include "gossip/transport_uv.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <optional>

#include "gossip/codec.h"
#include "gossip/framing.h"
#include "gossip/icmp_errors_uv.h"
#include "gossip/stream_message.h"
#include "loop/address.h"

namespace hearsay::gossip {
namespace {

constexpr std::uint64_t kStreamTimeoutMs = 10000;
constexpr std::size_t kMaxStreamBytes = kMaxStreamPlain;  // on the wire, compressed or not

// A replication message as a stream carries it: a memberlist user message whose payload is
// kHearsayUserMessage + the message, LZW-compressed like every stream we send.
Bytes replication_stream(const Bytes& message) {
  Bytes framed;
  framed.reserve(message.size() + 1);
  framed.push_back(kHearsayUserMessage);
  framed.insert(framed.end(), message.begin(), message.end());
  return compress_message(encode_stream_user_message(framed));
}

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

// One TCP exchange, either side: read one message, and either answer it (responder) or hand
// it to Membership (initiator).
class Transport::Stream : public std::enable_shared_from_this<Stream> {
 public:
  // `conn` may be null (it could not be set up): the stream then fails at connect().
  Stream(Transport& t, bool initiator, Address peer, std::shared_ptr<loop::Connection> conn)
      : t_(t), initiator_(initiator), peer_(std::move(peer)), conn_(std::move(conn)) {}
  // Wires the connection's callbacks and starts the stream's 10 s deadline.
  void start() {
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
          const bool one_way = app_ && !app_wants_reply_;
          write(std::move(request_), one_way);
          if (!one_way) start_reading();
        },
        .timer = [this] { fail("timed out"); },
        .written = [this](std::size_t bytes) { t_.stats_.stream_bytes_out += bytes; },
        .failed = [this](const char*, int status) { fail(uv_strerror(status)); },
        .closed = [this] {
          auto self = shared_from_this();
          if (!closed_) fail("connection closed");  // a callback threw: its waiter still hears
          t_.streams_.erase(self);
        },
    });
    time_out_after(kStreamTimeoutMs);
  }
  void set_join(bool join) { join_ = join; }
  // A replication stream we start: the reply (if one is wanted) goes to Replication.
  void set_app(bool wants_reply) { app_ = true, app_wants_reply_ = wants_reply; }
  // A TCP fallback ping we start: the outcome goes to Membership, by `ms` at the latest.
  void set_ping(std::uint32_t seq, std::uint64_t ms) {
    ping_seq_ = seq;
    time_out_after(ms);
  }
  void on_finished(JoinDone done) { finished_ = std::move(done); }

  void connect(Bytes request) {
    if (!conn_) return fail("cannot set up a connection");
    request_ = std::move(request);
    sockaddr_storage addr{};
    if (!to_sockaddr(peer_, addr)) return fail("bad address");
    if (int rc = conn_->connect(reinterpret_cast<const sockaddr*>(&addr)); rc != 0) fail(uv_strerror(rc));
  }

  void hold(std::shared_ptr<void> ticket) { ticket_ = std::move(ticket); }

  void start_reading() {
    if (int rc = conn_->start_reading(); rc != 0) fail(uv_strerror(rc));
  }

  // (Re)arms the stream's one timer: when it fires, the stream fails as timed out.
  void time_out_after(std::uint64_t ms) {
    if (conn_) conn_->start_timer(ms);
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
    const Clock::time_point now = Transport::now();
    if (m.kind == StreamMessage::Kind::unsupported) return refuse(m.error, false);
    if (app_ && m.kind != StreamMessage::Kind::user) return fail("the peer answered a replication stream with something else");
    done_ = true;
    if (m.kind == StreamMessage::Kind::user) {
      on_user_message(m.user, now);
    } else if (initiator_ && ping_seq_) {
      t_.membership_.stream_ping_result(*ping_seq_, m.kind == StreamMessage::Kind::ack && m.ack.seq_no == *ping_seq_,
                                        Transport::now());
      close();
    } else if (initiator_) {
      if (m.kind == StreamMessage::Kind::push_pull) t_.membership_.push_pull_reply(m.push_pull, now);
      report(m.kind == StreamMessage::Kind::push_pull ? "" : "the peer answered with something else than its state");
      close();
    } else if (m.kind == StreamMessage::Kind::push_pull) {
      PushPull reply = t_.membership_.handle_push_pull(m.push_pull, now);
      write(compress_message(encode_push_pull(reply)), true);
    } else if (m.kind == StreamMessage::Kind::ping) {
      write(encode(Ack{m.ping.seq_no, {}}), true);  // someone's TCP fallback probe
    } else {
      return refuse("an ack nobody asked for", false);
    }
    t_.flush();
  }

  // A user message on a stream: hearsay replication (ours or a peer's), or serf's
  // SendReliable, which we do not use and close.
  void on_user_message(const Bytes& payload, Clock::time_point now) {
    Replication* r = t_.replication_;
    if (!r || payload.empty() || payload[0] != kHearsayUserMessage) return close();
    std::optional<Bytes> reply = r->handle_stream(peer_, payload.data() + 1, payload.size() - 1, now);
    if (initiator_ || !reply) return close();
    write(replication_stream(*reply), true);
  }

  // The peer sent something we will not act on: a responder says why (as memberlist's err
  // reply), an initiator gives up. Decryption failures are counted, as for datagrams.
  void refuse(const std::string& why, bool decryption) {
    if (decryption) ++t_.stats_.decrypt_failed;
    spdlog::debug("gossip: stream {} {}: {}", initiator_ ? "to" : "from", peer_.to_string(), why);
    if (initiator_) return fail(why);
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
    if (initiator_ && !done_ && ping_seq_) {
      ++t_.stats_.streams_failed;
      spdlog::debug("gossip: TCP ping to {} failed: {}", peer_.to_string(), why);
      t_.membership_.stream_ping_result(*ping_seq_, false, Transport::now());
      close();
      return t_.flush();  // the probe may have ended on it: its suspicion goes out now
    } else if (initiator_ && !done_ && app_) {
      ++t_.stats_.streams_failed;
      spdlog::debug("gossip: replication stream with {} failed: {}", peer_.to_string(), why);
      if (t_.replication_) t_.replication_->stream_failed(peer_);
    } else if (initiator_ && !done_) {
      ++t_.stats_.streams_failed;
      // A failed join is worth a warning (the operator asked for it); a failed periodic
      // push/pull is routine while a member is down.
      if (join_) spdlog::warn("gossip: cannot join {}: {}", peer_.to_string(), why);
      else spdlog::debug("gossip: push/pull with {} failed: {}", peer_.to_string(), why);
      report(why);
    }
    close();
  }
  void fail(const std::string& why) { fail(why.c_str()); }

  void report(const std::string& error) {
    if (finished_) std::exchange(finished_, {})(error);
  }

  Transport& t_;
  bool initiator_;
  Address peer_;
  std::shared_ptr<loop::Connection> conn_;
  Bytes request_;
  std::vector<std::uint8_t> input_;
  std::shared_ptr<void> ticket_;  // an incoming stream's place in the connection limits
  bool done_ = false, closed_ = false;
  bool join_ = false;  // our push/pull that joins a cluster
  bool app_ = false, app_wants_reply_ = false;
  std::optional<std::uint32_t> ping_seq_;  // our TCP fallback ping's sequence number
  JoinDone finished_;  // told once how our push/pull ended ("" = merged)
};

Transport::Transport(uv_loop_t* loop, Membership& membership, EventHandler on_event, const Keyring* keyring)
    : loop_(loop), membership_(membership), on_event_(std::move(on_event)), keyring_(keyring), buffer_(65536) {}

Transport::~Transport() = default;

int Transport::listen(const std::string& host, int port) {
  sockaddr_storage addr{};
  if (int rc = loop::parse_ip_port(host, port, addr); rc != 0) return rc;
  if (int rc = udp_.init(loop_, this); rc != 0) return rc;
  if (int rc = timer_.init(loop_, this); rc != 0) return rc;
  loop::Listener::Callbacks callbacks{
      .accepted = [this](std::shared_ptr<loop::Connection> conn, const sockaddr_storage& peer, std::shared_ptr<void> ticket) {
        ++stats_.streams_in;
        auto stream = std::make_shared<Stream>(*this, false, from_sockaddr(reinterpret_cast<const sockaddr*>(&peer)),
                                               std::move(conn));
        streams_.insert(stream);
        stream->hold(std::move(ticket));
        stream->start();
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
    membership_.receive_packet(source, plain->data(), plain->size(), now());
  } else {
    membership_.receive_packet(source, data, size, now());
  }
  if (replication_) {
    for (const AppMessage& m : membership_.take_app_messages()) {
      replication_->receive(m.from, m.payload.data(), m.payload.size(), now());
    }
  } else {
    membership_.take_app_messages();  // no replication here: nothing to do with them
  }
  flush();
}

void Transport::read_port_unreachable() {
  reports_pending_ = false;
  const std::vector<Address> unreachable = take_port_unreachable(udp_.get());
  for (const Address& to : unreachable) membership_.port_unreachable(to, now());
  if (!unreachable.empty()) flush();
}

void Transport::attach(Replication& replication, ChangeHandler on_changes) {
  replication_ = &replication;
  on_changes_ = std::move(on_changes);
}

void Transport::attach(Serf& serf, QueryHandler on_queries) {
  serf_ = &serf;
  on_queries_ = std::move(on_queries);
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

void Transport::flush_replication() {
  if (!replication_) return;
  for (OutgoingPacket& p : replication_->take_packets()) send_datagram(p);
  for (StreamSend& s : replication_->take_streams()) start_app_stream(std::move(s));
  auto changes = replication_->take_changes();
  if (!changes.empty() && on_changes_) on_changes_(std::move(changes));
}

void Transport::start_app_stream(StreamSend send) {
  ++stats_.streams_out;
  auto stream = new_stream(send.to);
  stream->set_app(send.wants_reply);
  streams_.insert(stream);
  stream->connect(replication_stream(send.payload));
}

loop::Connection::Options Transport::stream_options() {
  return {.name = "gossip stream", .read_size = 65536, .callback_errors = &stats_.callback_errors};
}

std::shared_ptr<Transport::Stream> Transport::new_stream(const Address& to) {
  auto stream = std::make_shared<Stream>(*this, true, to, loop::Connection::create(loop_, stream_options()));
  stream->start();
  return stream;
}

void Transport::flush() {
  if (!open_) return;
  if (serf_) {  // first: answers become packets, sent here
    auto queries = serf_->take_queries();
    auto responses = serf_->take_query_responses();
    if (on_queries_ && (!queries.empty() || !responses.empty())) on_queries_(std::move(queries), std::move(responses));
    for (OutgoingPacket& p : serf_->take_packets()) send_datagram(p);
  }
  for (OutgoingPacket& p : membership_.take_packets()) send_datagram(p);
  for (PushPullRequest& r : membership_.take_push_pulls()) start_push_pull(std::move(r));
  for (StreamPing& p : membership_.take_stream_pings()) start_stream_ping(std::move(p));
  for (const std::string& name : membership_.take_udp_silent()) {
    spdlog::warn("gossip: {} answered a probe over TCP but none over UDP; the network may be misconfigured", name);
  }
  for (const MemberEvent& e : membership_.take_events()) {
    if (on_event_) on_event_(e);
  }
  flush_replication();
  arm_timer();
}

void Transport::join(const Address& seed, JoinDone done) {
  start_push_pull(membership_.join_request(seed), std::move(done));
}

void Transport::start_push_pull(PushPullRequest request, JoinDone done) {
  ++stats_.streams_out;
  auto stream = new_stream(request.to);
  stream->set_join(request.request.join);
  stream->on_finished(std::move(done));
  streams_.insert(stream);
  // Streams go LZW-compressed, as serf sends them: a push/pull repeats every field name (and
  // our tag names) for every member, which LZW takes out.
  stream->connect(compress_message(encode_push_pull(request.request)));
}

void Transport::start_stream_ping(StreamPing ping) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(ping.deadline - now()).count();
  if (left <= 0) return;  // too late to count for its probe
  ++stats_.streams_out;
  auto stream = new_stream(ping.to);
  stream->set_ping(ping.ping.seq_no, static_cast<std::uint64_t>(left));
  streams_.insert(stream);
  stream->connect(compress_message(encode(ping.ping)));  // compressed, as serf's streams are
}

void Transport::arm_timer() {
  // Rounded up: libuv timers have millisecond resolution, and a deadline less than 1 ms away
  // truncated to 0 fired at once, found nothing due and re-armed: a busy loop until the
  // deadline passed, several times a second (it was most of an idle agent's CPU).
  Clock::time_point deadline = membership_.next_deadline();
  if (replication_) deadline = std::min(deadline, replication_->next_deadline());
  const Clock::time_point current = now();
  const auto wait = deadline <= current ? std::chrono::milliseconds(0)
                                        : std::chrono::ceil<std::chrono::milliseconds>(deadline - current);
  const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, wait.count()));
  int rc = uv_timer_start(timer_.get(), [](uv_timer_t* h) {
    auto* t = static_cast<Transport*>(h->data);
    try {
      t->membership_.tick(now());
      if (t->replication_) t->replication_->tick(now());
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
