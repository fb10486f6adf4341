// Keys are the Go field names, written in sorted order.
#include "gossip/wire/codec.h"

#include <utility>

#include "gossip/wire/address.h"
#include "gossip/wire/msgpack_io.h"

namespace hearsay::gossip {
namespace {

// Fields go in sorted key order (go-msgpack sorts struct keys); omitempty fields are counted
// only when present.
struct Encoder {
  Bytes& out;
  void type(MessageType t) const { out.push_back(static_cast<std::uint8_t>(t)); }
  void operator()(const Ping& m) const {
    type(MessageType::ping);
    const std::uint32_t n = 2 + !m.source_addr.empty() + !m.source_node.empty() + (m.source_port != 0);
    mp::MapWriter w(out, n);
    w.str("Node", m.node).uint("SeqNo", m.seq_no);
    if (!m.source_addr.empty()) w.bytes("SourceAddr", m.source_addr);
    if (!m.source_node.empty()) w.str("SourceNode", m.source_node);
    if (m.source_port != 0) w.uint("SourcePort", m.source_port);
  }
  void operator()(const IndirectPing& m) const {
    type(MessageType::indirect_ping);
    const std::uint32_t n = 5 + !m.source_addr.empty() + !m.source_node.empty() + (m.source_port != 0);
    mp::MapWriter w(out, n);
    w.boolean("Nack", m.nack).str("Node", m.node).uint("Port", m.port).uint("SeqNo", m.seq_no);
    if (!m.source_addr.empty()) w.bytes("SourceAddr", m.source_addr);
    if (!m.source_node.empty()) w.str("SourceNode", m.source_node);
    if (m.source_port != 0) w.uint("SourcePort", m.source_port);
    w.bytes("Target", m.target);
  }
  void operator()(const Ack& m) const {
    type(MessageType::ack);
    mp::MapWriter(out, 2).bytes("Payload", m.payload).uint("SeqNo", m.seq_no);
  }
  void operator()(const Nack& m) const {
    type(MessageType::nack);
    mp::MapWriter(out, 1).uint("SeqNo", m.seq_no);
  }
  void operator()(const Suspect& m) const {
    type(MessageType::suspect);
    mp::MapWriter(out, 3).str("From", m.from).uint("Incarnation", m.incarnation).str("Node", m.node);
  }
  void operator()(const Dead& m) const {
    type(MessageType::dead);
    mp::MapWriter(out, 3).str("From", m.from).uint("Incarnation", m.incarnation).str("Node", m.node);
  }
  void operator()(const Alive& m) const {
    type(MessageType::alive);
    mp::MapWriter(out, 6)
        .bytes("Addr", m.addr)
        .uint("Incarnation", m.incarnation)
        .bytes("Meta", m.meta)
        .str("Node", m.node)
        .uint("Port", m.port)
        .bytes("Vsn", m.vsn);
  }
  void operator()(const UserMessage& m) const {
    type(MessageType::user);
    out.insert(out.end(), m.payload.begin(), m.payload.end());
  }
  void operator()(const ErrorMessage& m) const {
    type(MessageType::err);
    mp::MapWriter(out, 1).str("Error", m.error);
  }
};

// Decoded objects point into the input and into this zone; emptied per decode.
msgpack::zone& decode_zone() {
  thread_local msgpack::zone zone;
  zone.clear();
  return zone;
}

DecodeResult fail(DropReason why) { return DecodeResult{std::nullopt, why}; }

// An IP is 4 or 16 bytes; anything over 16 cannot be one (and would not fit an Address).
bool ip_fits(const Bytes& ip) { return ip.size() <= IpBytes::kMaxSize; }

template <typename M>
Bytes encode_one(const M& message) {
  Bytes out;
  out.reserve(128);  // gossip messages fit, so one allocation instead of a doubling series
  Encoder{out}(message);
  return out;
}


}  // namespace

Bytes encode(const Message& message) {
  return std::visit([](const auto& m) { return encode(m); }, message);
}

Bytes encode(const Ping& message) { return encode_one(message); }
Bytes encode(const IndirectPing& message) { return encode_one(message); }
Bytes encode(const Ack& message) { return encode_one(message); }
Bytes encode(const Nack& message) { return encode_one(message); }
Bytes encode(const Suspect& message) { return encode_one(message); }
Bytes encode(const Alive& message) { return encode_one(message); }
Bytes encode(const Dead& message) { return encode_one(message); }
Bytes encode(const UserMessage& message) { return encode_one(message); }
Bytes encode(const ErrorMessage& message) { return encode_one(message); }

DecodeResult decode(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return fail(DropReason::truncated);
  const auto type = static_cast<MessageType>(data[0]);
  if (type == MessageType::user) return DecodeResult{UserMessage{Bytes(data + 1, data + size)}, DropReason::none};
  switch (type) {
    case MessageType::compound:
    case MessageType::compress:
    case MessageType::has_crc:
    case MessageType::encrypt: return fail(DropReason::misplaced_framing);
    case MessageType::push_pull: return fail(DropReason::unknown_type);  // a stream's, not a datagram's
    default:
      if (static_cast<std::uint8_t>(type) > static_cast<std::uint8_t>(MessageType::err)) return fail(DropReason::unknown_type);
  }
  std::size_t offset = 1;
  auto object = mp::unpack_one(decode_zone(), data, size, offset);
  if (!object) return fail(DropReason::not_msgpack);
  mp::StructReader r(*object);
  if (!r.ok()) return fail(DropReason::wrong_field_type);  // not a map with string keys
  bool ok = true;
  switch (type) {
    case MessageType::ping: {
      Ping m;
      ok = r.str("Node", m.node) && r.uint("SeqNo", m.seq_no) && r.bytes("SourceAddr", m.source_addr) &&
           r.str("SourceNode", m.source_node) && r.uint("SourcePort", m.source_port) && ip_fits(m.source_addr);
      if (ok) return DecodeResult{std::move(m), DropReason::none};
      break;
    }
    case MessageType::indirect_ping: {
      IndirectPing m;
      ok = r.boolean("Nack", m.nack) && r.str("Node", m.node) && r.uint("Port", m.port) && r.uint("SeqNo", m.seq_no) &&
           r.bytes("SourceAddr", m.source_addr) && r.str("SourceNode", m.source_node) &&
           r.uint("SourcePort", m.source_port) && r.bytes("Target", m.target) && ip_fits(m.source_addr) &&
           ip_fits(m.target);
      if (ok) return DecodeResult{std::move(m), DropReason::none};
      break;
    }
    case MessageType::ack: {
      Ack m;
      ok = r.uint("SeqNo", m.seq_no) && r.bytes("Payload", m.payload);
      if (ok) return DecodeResult{std::move(m), DropReason::none};
      break;
    }
    case MessageType::nack: {
      Nack m;
      ok = r.uint("SeqNo", m.seq_no);
      if (ok) return DecodeResult{std::move(m), DropReason::none};
      break;
    }
    case MessageType::suspect:
    case MessageType::dead: {
      Suspect m;
      ok = r.str("From", m.from) && r.uint("Incarnation", m.incarnation) && r.str("Node", m.node);
      if (!ok) break;
      if (type == MessageType::dead) return DecodeResult{Dead{m.incarnation, std::move(m.node), std::move(m.from)}, DropReason::none};
      return DecodeResult{std::move(m), DropReason::none};
    }
    case MessageType::alive: {
      Alive m;
      m.vsn.clear();
      ok = r.bytes("Addr", m.addr) && r.uint("Incarnation", m.incarnation) && r.bytes("Meta", m.meta) &&
           r.str("Node", m.node) && r.uint("Port", m.port) && r.bytes("Vsn", m.vsn);
      if (!ok) break;
      // An invalid Vsn, an Addr longer than an IPv6 address, Meta over 512 bytes.
      if (!valid_versions(m.vsn) || !ip_fits(m.addr) || m.meta.size() > 512) return fail(DropReason::invalid_field);
      return DecodeResult{std::move(m), DropReason::none};
    }
    case MessageType::err: {
      ErrorMessage m;
      ok = r.str("Error", m.error);
      if (ok) return DecodeResult{std::move(m), DropReason::none};
      break;
    }
    default: return fail(DropReason::unknown_type);  // refused above already
  }
  return fail(DropReason::wrong_field_type);
}

Bytes encode_push_pull(const PushPull& message) {
  Bytes out{static_cast<std::uint8_t>(MessageType::push_pull)};
  mp::MapWriter(out, 3)
      .boolean("Join", message.join)
      .uint("Nodes", message.nodes.size())
      .uint("UserStateLen", message.user_state.size());
  for (const PushNodeState& n : message.nodes) {
    mp::MapWriter(out, 7)
        .bytes("Addr", n.addr)
        .uint("Incarnation", n.incarnation)
        .bytes("Meta", n.meta)
        .str("Name", n.name)
        .uint("Port", n.port)
        .uint("State", static_cast<std::uint8_t>(n.state))
        .bytes("Vsn", n.vsn);
  }
  out.insert(out.end(), message.user_state.begin(), message.user_state.end());
  return out;
}

PushPullResult decode_push_pull(const std::uint8_t* data, std::size_t size) {
  PushPullResult result;
  std::size_t offset = 0;
  msgpack::zone& zone = decode_zone();
  auto header = mp::unpack_one(zone, data, size, offset);
  if (!header) return PushPullResult{std::nullopt, DropReason::truncated, 0};  // or not msgpack: more may come
  mp::StructReader h(*header);
  PushPull message;
  std::uint64_t nodes = 0, user_len = 0;
  if (!h.ok() || !h.boolean("Join", message.join) || !h.u64("Nodes", nodes, 1 << 20) ||
      !h.u64("UserStateLen", user_len, 64u << 20)) {
    return PushPullResult{std::nullopt, DropReason::wrong_field_type, 0};
  }
  // Each node state takes at least a few bytes: a count beyond the input is a lie, not a reason
  // to reserve memory.
  if (nodes > size) return PushPullResult{std::nullopt, DropReason::truncated, 0};
  for (std::uint64_t i = 0; i < nodes; ++i) {
    auto state = mp::unpack_one(zone, data, size, offset);
    if (!state) return PushPullResult{std::nullopt, DropReason::truncated, 0};
    mp::StructReader r(*state);
    PushNodeState n;
    n.vsn.clear();
    std::uint8_t st = 0;
    if (!r.ok() || !r.bytes("Addr", n.addr) || !r.uint("Incarnation", n.incarnation) || !r.bytes("Meta", n.meta) ||
        !r.str("Name", n.name) || !r.uint("Port", n.port) || !r.uint("State", st) || !r.bytes("Vsn", n.vsn) || st > 3 ||
        !ip_fits(n.addr)) {
      return PushPullResult{std::nullopt, DropReason::invalid_field, 0};
    }
    n.state = static_cast<NodeState>(st);
    message.nodes.push_back(std::move(n));
  }
  if (size - offset < user_len) return PushPullResult{std::nullopt, DropReason::truncated, 0};
  message.user_state.assign(data + offset, data + offset + user_len);
  offset += user_len;
  return PushPullResult{std::move(message), DropReason::none, offset};
}

}  // namespace hearsay::gossip
