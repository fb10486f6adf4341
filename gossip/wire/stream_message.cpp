// Parsing the one message a memberlist TCP stream carries, as its bytes arrive
// (memberlist-wire.md 5.1; stream_message.h).
#include "gossip/wire/stream_message.h"

#include "gossip/wire/codec.h"
#include "gossip/wire/lzw.h"
#include "gossip/wire/msgpack_io.h"

namespace hearsay::gossip {
Bytes encode_stream_user_message(const Bytes& payload) {
  Bytes out{static_cast<std::uint8_t>(MessageType::user)};
  mp::MapWriter(out, 1).uint("UserMsgLen", payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

StreamMessage parse_stream_message(const std::uint8_t* data, std::size_t size) {
  StreamMessage out;
  if (size == 0) return out;
  const auto type = static_cast<MessageType>(data[0]);
  if (type == MessageType::compress) {
    msgpack::zone zone;
    std::size_t offset = 1;
    auto object = mp::unpack_one(zone, data, size, offset);
    if (!object) return out;  // not all there yet
    mp::StructReader r(*object);
    std::uint8_t algo = 255;
    Bytes buf;
    if (!r.ok() || !r.uint("Algo", algo) || !r.bytes("Buf", buf) || algo != 0) {
      out.kind = StreamMessage::Kind::unsupported;
      out.error = DropReason::bad_compression;
      return out;
    }
    std::optional<lzw::DecodeError> error;
    Bytes plain = lzw::decompress(buf.data(), buf.size(), kMaxStreamPlain, error);
    if (error || plain.empty() || plain[0] == static_cast<std::uint8_t>(MessageType::compress)) {
      out.kind = StreamMessage::Kind::unsupported;
      out.error = plain.empty() || error ? DropReason::bad_compression : DropReason::misplaced_framing;
      return out;
    }
    StreamMessage inner = parse_stream_message(plain.data(), plain.size());
    if (inner.kind == StreamMessage::Kind::incomplete) {  // the whole payload was there: it is short
      inner.kind = StreamMessage::Kind::unsupported;
      inner.error = DropReason::truncated;
    }
    return inner;
  }
  if (type == MessageType::push_pull) {
    PushPullResult r = decode_push_pull(data + 1, size - 1);
    if (r.message) {
      out.kind = StreamMessage::Kind::push_pull;
      out.push_pull = std::move(*r.message);
    }
    return out;  // otherwise incomplete until the stream ends
  }
  if (type == MessageType::user) {
    msgpack::zone zone;
    std::size_t offset = 1;
    auto object = mp::unpack_one(zone, data, size, offset);
    if (!object) return out;  // header not all there yet
    mp::StructReader r(*object);
    std::uint64_t length = 0;
    if (!r.ok() || !r.u64("UserMsgLen", length, kMaxStreamPlain)) {
      out.kind = StreamMessage::Kind::unsupported;
      out.error = DropReason::wrong_field_type;
      return out;
    }
    if (size - offset < length) return out;  // payload still coming
    out.kind = StreamMessage::Kind::user;
    out.user.assign(data + offset, data + offset + length);
    return out;
  }
  if (type == MessageType::ping || type == MessageType::ack) {  // a TCP fallback ping, or its answer
    DecodeResult r = decode(data, size);
    if (!r.message) return out;  // still coming
    if (const Ping* ping = std::get_if<Ping>(&*r.message)) {
      out.kind = StreamMessage::Kind::ping;
      out.ping = *ping;
    } else if (const Ack* ack = std::get_if<Ack>(&*r.message)) {
      out.kind = StreamMessage::Kind::ack;
      out.ack = *ack;
    }
    return out;
  }
  out.kind = StreamMessage::Kind::unsupported;
  out.error = DropReason::unknown_type;
  return out;
}

}  // namespace hearsay::gossip
