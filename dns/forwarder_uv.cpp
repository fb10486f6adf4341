// Each forwarded query owns a timer; the timer both bounds the wait for the current recursor and
// defers callbacks that would otherwise run inside forward() (a send that fails at once).
#include "dns/forwarder_uv.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "loop/address.h"

namespace hearsay::dns {
namespace {

constexpr std::size_t kMaxPending = 4096;  // beyond this, queries fail at once instead of queueing

bool same_endpoint(const sockaddr* a, const sockaddr_storage& b) {
  if (a->sa_family != b.ss_family) return false;
  if (a->sa_family == AF_INET) {
    auto* x = reinterpret_cast<const sockaddr_in*>(a);
    auto* y = reinterpret_cast<const sockaddr_in*>(&b);
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  auto* x = reinterpret_cast<const sockaddr_in6*>(a);
  auto* y = reinterpret_cast<const sockaddr_in6*>(&b);
  return x->sin6_port == y->sin6_port && std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(in6_addr)) == 0;
}

}  // namespace

std::optional<sockaddr_storage> parse_recursor(const std::string& text) {
  std::string host = text;
  int port = 53;
  auto parse_port = [&](const std::string& digits) {
    if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos) return false;
    port = std::stoi(digits);
    return port > 0 && port <= 65535;
  };
  if (text.starts_with("[")) {  // [v6]:port
    auto close = text.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size() && (text[close + 1] != ':' || !parse_port(text.substr(close + 2)))) return std::nullopt;
  } else if (std::count(text.begin(), text.end(), ':') == 1) {  // v4:port
    host = text.substr(0, text.find(':'));
    if (!parse_port(text.substr(text.find(':') + 1))) return std::nullopt;
  }
  sockaddr_storage addr{};
  if (loop::parse_ip_port(host, port, addr) != 0) return std::nullopt;
  if (addr.ss_family == AF_INET6 && host.find(':') == std::string::npos) return std::nullopt;
  return addr;
}

struct Forwarder::Pending {
  std::uint16_t upstream_id = 0;
  std::uint8_t client_id[2] = {0, 0};
  std::vector<std::uint8_t> query;  // with upstream_id in place
  std::size_t recursor = 0;         // index of the one we are waiting for
  uv_timer_t* timer = nullptr;      // freed in its close callback
  Done done;
};

struct Forwarder::Socket {
  uv_udp_t udp{};
  Forwarder* owner = nullptr;
  int family = AF_INET;
  char buffer[65536];
};

struct TimerContext {
  Forwarder* owner;
  std::uint16_t id;
};

Forwarder::Forwarder(uv_loop_t* loop, std::vector<sockaddr_storage> recursors, std::chrono::milliseconds timeout)
    : loop_(loop), recursors_(std::move(recursors)), timeout_(timeout), rng_(std::random_device{}()) {}

Forwarder::~Forwarder() { close(); }

Forwarder::Socket* Forwarder::socket_for(int family) {
  for (auto& s : sockets_) {
    if (s->family == family) return s.get();
  }
  auto s = std::make_unique<Socket>();
  s->owner = this;
  s->family = family;
  s->udp.data = s.get();
  if (uv_udp_init(loop_, &s->udp) != 0) return nullptr;
  sockaddr_storage any{};
  if (family == AF_INET) uv_ip4_addr("0.0.0.0", 0, reinterpret_cast<sockaddr_in*>(&any));
  else uv_ip6_addr("::", 0, reinterpret_cast<sockaddr_in6*>(&any));
  int rc = uv_udp_bind(&s->udp, reinterpret_cast<const sockaddr*>(&any), 0);
  if (rc == 0) {
    rc = uv_udp_recv_start(
        &s->udp,
        [](uv_handle_t* h, std::size_t, uv_buf_t* b) {
          auto* sock = static_cast<Socket*>(h->data);
          *b = uv_buf_init(sock->buffer, sizeof(sock->buffer));
        },
        [](uv_udp_t* h, ssize_t n, const uv_buf_t* b, const sockaddr* from, unsigned) {
          auto* sock = static_cast<Socket*>(h->data);
          if (n > 0 && from) sock->owner->on_reply(reinterpret_cast<const std::uint8_t*>(b->base), static_cast<std::size_t>(n), from);
        });
  }
  if (rc != 0) {
    spdlog::warn("dns forwarder: cannot open a UDP socket: {}", uv_strerror(rc));
    uv_close(reinterpret_cast<uv_handle_t*>(&s.release()->udp), [](uv_handle_t* h) { delete static_cast<Socket*>(h->data); });
    return nullptr;
  }
  sockets_.push_back(std::move(s));
  return sockets_.back().get();
}

void Forwarder::forward(std::vector<std::uint8_t> query, Done done) {
  if (closed_ || query.size() < 12) return;
  auto p = std::make_unique<Pending>();
  p->client_id[0] = query[0];
  p->client_id[1] = query[1];
  p->done = std::move(done);
  p->query = std::move(query);
  p->timer = new uv_timer_t;
  uv_timer_init(loop_, p->timer);
  if (pending_.size() >= kMaxPending || recursors_.empty()) {
    p->recursor = recursors_.size();  // nothing to try: the deferred timeout fails it
  }
  std::uint16_t id = 0;
  do {
    id = static_cast<std::uint16_t>(rng_());
  } while (pending_.count(id));
  p->upstream_id = id;
  p->query[0] = static_cast<std::uint8_t>(id >> 8);
  p->query[1] = static_cast<std::uint8_t>(id & 0xff);
  p->timer->data = new TimerContext{this, id};
  Pending& ref = *p;
  pending_.emplace(id, std::move(p));
  send_to_current(ref);
}

void Forwarder::send_to_current(Pending& p) {
  bool sent = false;
  if (p.recursor < recursors_.size()) {
    const sockaddr_storage& to = recursors_[p.recursor];
    if (Socket* sock = socket_for(to.ss_family)) {
      uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(p.query.data()), static_cast<unsigned>(p.query.size()));
      // Datagram sends on an unconnected socket complete or fail at once for small messages.
      sent = uv_udp_try_send(&sock->udp, &buf, 1, reinterpret_cast<const sockaddr*>(&to)) >= 0;
    }
  }
  uv_timer_start(p.timer, [](uv_timer_t* t) {
    auto* ctx = static_cast<TimerContext*>(t->data);
    ctx->owner->on_timeout(ctx->id);
  }, sent ? static_cast<std::uint64_t>(timeout_.count()) : 0, 0);
}

void Forwarder::on_timeout(std::uint16_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  Pending& p = *it->second;
  if (p.recursor + 1 < recursors_.size()) {
    ++p.recursor;
    send_to_current(p);
    return;
  }
  finish(id, std::nullopt);
}

void Forwarder::on_reply(const std::uint8_t* data, std::size_t size, const sockaddr* from) {
  if (size < 12 || !(data[2] & 0x80)) return;  // not a response
  const auto id = static_cast<std::uint16_t>((data[0] << 8) | data[1]);
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second->recursor >= recursors_.size() ||
      !same_endpoint(from, recursors_[it->second->recursor])) {
    return;  // late, unknown, or from someone we did not ask
  }
  std::vector<std::uint8_t> reply(data, data + size);
  reply[0] = it->second->client_id[0];
  reply[1] = it->second->client_id[1];
  finish(id, std::move(reply));
}

void Forwarder::finish(std::uint16_t id, std::optional<std::vector<std::uint8_t>> reply) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  std::unique_ptr<Pending> p = std::move(it->second);
  pending_.erase(it);
  uv_timer_stop(p->timer);
  uv_close(reinterpret_cast<uv_handle_t*>(p->timer), [](uv_handle_t* h) {
    delete static_cast<TimerContext*>(h->data);
    delete reinterpret_cast<uv_timer_t*>(h);
  });
  p->done(std::move(reply));
}

void Forwarder::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& [id, p] : pending_) {
    uv_timer_stop(p->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(p->timer), [](uv_handle_t* h) {
      delete static_cast<TimerContext*>(h->data);
      delete reinterpret_cast<uv_timer_t*>(h);
    });
  }
  pending_.clear();
  for (auto& s : sockets_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&s.release()->udp), [](uv_handle_t* h) { delete static_cast<Socket*>(h->data); });
  }
  sockets_.clear();
}

}  // namespace hearsay::dns
