// The frames of a remote session: their msgpack maps (written with gossip/wire's MapWriter,
// keys in sorted order; read with its tolerant StructReader: any key order, unknown keys
// skipped, every known key required) and the length-prefixed stream (frame.h).
#include "remote/frame.h"

#include <cstring>
#include <type_traits>

#include "gossip/wire/msgpack_io.h"

namespace hearsay::remote {
namespace {

namespace mp = gossip::mp;

constexpr std::size_t kMaxStringBytes = 512;  // node, node_id, token, reason, relay

// The type byte of a frame kind: its place in the variant, from 1.
template <typename T, std::size_t I = 0>
constexpr std::uint8_t type_of() {
  if constexpr (std::is_same_v<T, std::variant_alternative_t<I, Frame>>) {
    return static_cast<std::uint8_t>(I + 1);
  } else {
    return type_of<T, I + 1>();
  }
}

void put_u32(Bytes& out, std::size_t at, std::uint32_t v) {
  out[at] = static_cast<std::uint8_t>(v >> 24);
  out[at + 1] = static_cast<std::uint8_t>(v >> 16);
  out[at + 2] = static_cast<std::uint8_t>(v >> 8);
  out[at + 3] = static_cast<std::uint8_t>(v);
}

// Each frame's fields, in key order (our maps are written sorted): one list that the writer and
// the reader both walk, so no field is written and not read, and a map's count is never kept
// by hand. `v` is a FieldCount, a MapWriter or a Fields; `f` the frame (const when writing).
template <typename V, typename F>
void fields(V& v, F& f) {
  using T = std::remove_const_t<F>;
  if constexpr (std::is_same_v<T, Hello>) {
    v.uint("attempt", f.attempt).str("node", f.node).str("node_id", f.node_id).uint("protocol", f.protocol)
        .uint("started_us", f.started_us).str("token", f.token);
  } else if constexpr (std::is_same_v<T, Welcome>) {
    v.uint("keepalive_ms", f.keepalive_ms).str("relay", f.relay).uint("session", f.session);
  } else if constexpr (std::is_same_v<T, Refuse>) {
    v.str("reason", f.reason).boolean("retry", f.retry);
  } else if constexpr (std::is_same_v<T, ReplicationFrame>) {
    v.bytes("message", f.message).uint("reply_to", f.reply_to).uint("stream", f.stream)
        .boolean("wants_reply", f.wants_reply);
  } else if constexpr (std::is_same_v<T, Ack>) {
    v.uint("generation", f.generation).uint("watermark", f.watermark);
  } else if constexpr (std::is_same_v<T, Ping>) {
    v.uint("sent_us", f.sent_us);
  } else if constexpr (std::is_same_v<T, Pong>) {
    v.uint("echo_us", f.echo_us);
  } else if constexpr (std::is_same_v<T, Members>) {
    v.bytes("state", f.state);
  } else {
    static_assert(std::is_same_v<T, Goodbye>, "every frame lists its fields here");
  }
}

// ---- Writing: the fields counted, then written.
struct FieldCount {
  std::uint32_t n = 0;
  FieldCount& str(const char*, const std::string&) { return ++n, *this; }
  FieldCount& bytes(const char*, const Bytes&) { return ++n, *this; }
  FieldCount& uint(const char*, std::uint64_t) { return ++n, *this; }
  FieldCount& boolean(const char*, bool) { return ++n, *this; }
};

template <typename F>
void write_body(Bytes& out, const F& f) {
  FieldCount count;
  fields(count, f);
  mp::MapWriter writer(out, count.n);
  fields(writer, f);
}

// ---- Reading: every field of the frame's struct must be there (StructReader itself lets a
// missing key pass), with a value of the right kind.
bool has(const msgpack::object& map, const char* key) {
  const std::size_t len = std::strlen(key);
  for (std::uint32_t i = 0; i < map.via.map.size; ++i) {
    const msgpack::object& k = map.via.map.ptr[i].key;
    if (k.type == msgpack::type::STR && k.via.str.size == len && std::memcmp(k.via.str.ptr, key, len) == 0) return true;
  }
  return false;
}

class Fields {
 public:
  explicit Fields(const msgpack::object& map) : map_(map), reader_(map) { ok_ = reader_.ok(); }
  bool ok() const { return ok_; }
  Fields& str(const char* key, std::string& out) {
    if (ok_) ok_ = has(map_, key) && reader_.str(key, out) && out.size() <= kMaxStringBytes;
    return *this;
  }
  Fields& bytes(const char* key, Bytes& out) {
    if (ok_) ok_ = has(map_, key) && reader_.bytes(key, out) && out.size() <= kMaxFrameBytes;
    return *this;
  }
  template <typename T>
  Fields& uint(const char* key, T& out) {
    if (ok_) ok_ = has(map_, key) && reader_.uint(key, out);
    return *this;
  }
  Fields& boolean(const char* key, bool& out) {
    if (ok_) ok_ = has(map_, key) && reader_.boolean(key, out);
    return *this;
  }

 private:
  const msgpack::object& map_;
  mp::StructReader reader_;
  bool ok_ = false;
};

template <typename F>
std::optional<Frame> read_as(Fields& in) {
  F f;
  fields(in, f);
  if (!in.ok()) return std::nullopt;
  return f;
}

// The frame of type `type` (type_of<F>()), read from its map.
template <std::size_t I = 0>
std::optional<Frame> read_body(std::uint8_t type, Fields& in) {
  if constexpr (I == std::variant_size_v<Frame>) {
    return std::nullopt;
  } else {
    using F = std::variant_alternative_t<I, Frame>;
    return type == type_of<F>() ? read_as<F>(in) : read_body<I + 1>(type, in);
  }
}

std::optional<Frame> read_body(std::uint8_t type, const msgpack::object& map) {
  Fields in(map);
  if (!in.ok()) return std::nullopt;
  return read_body(type, in);
}

}  // namespace

std::uint8_t frame_type(const Frame& frame) { return static_cast<std::uint8_t>(frame.index() + 1); }

const char* frame_name(const Frame& frame) {
  static constexpr const char* kNames[] = {"hello", "welcome", "refuse", "replication", "ack", "ping", "pong", "goodbye", "members"};
  static_assert(std::size(kNames) == std::variant_size_v<Frame>);
  return kNames[frame.index()];
}

Bytes encode_frame(const Frame& frame) {
  Bytes out(5, 0);
  out[4] = frame_type(frame);
  std::visit([&out](const auto& f) { write_body(out, f); }, frame);
  put_u32(out, 0, static_cast<std::uint32_t>(out.size() - 4));
  return out;
}

const char* frame_error_name(FrameError error) {
  switch (error) {
    case FrameError::none: return "none";
    case FrameError::too_large: return "too_large";
    case FrameError::unknown_type: return "unknown_type";
    case FrameError::not_msgpack: return "not_msgpack";
    case FrameError::bad_shape: return "bad_shape";
    case FrameError::count_: break;
  }
  return "unknown";
}

std::optional<Frame> decode_frame_body(const std::uint8_t* data, std::size_t size, FrameError& error) {
  error = FrameError::none;
  if (size == 0 || size > kMaxFrameBytes) return error = FrameError::too_large, std::nullopt;
  const std::uint8_t type = data[0];
  if (type == 0 || type > std::variant_size_v<Frame>) return error = FrameError::unknown_type, std::nullopt;
  msgpack::zone zone;
  std::size_t offset = 1;
  std::optional<msgpack::object> body = mp::unpack_one(zone, data, size, offset);
  if (!body || offset != size) return error = FrameError::not_msgpack, std::nullopt;
  std::optional<Frame> frame = read_body(type, *body);
  if (!frame) error = FrameError::bad_shape;
  return frame;
}

void FrameReader::feed(const std::uint8_t* data, std::size_t size) {
  if (error_ != FrameError::none || size == 0) return;
  // What was read already goes first, so the buffer holds about one frame.
  if (offset_ > 0 && (offset_ == buffer_.size() || offset_ >= 65536)) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset_));
    offset_ = 0;
  }
  buffer_.insert(buffer_.end(), data, data + size);
}

std::optional<Frame> FrameReader::next() {
  if (error_ != FrameError::none) return std::nullopt;
  const std::size_t left = buffer_.size() - offset_;
  if (left < 4) return std::nullopt;
  const std::uint8_t* p = buffer_.data() + offset_;
  const std::size_t length = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
  if (length == 0 || length > max_frame_ || length > kMaxFrameBytes) {
    error_ = FrameError::too_large;
    buffer_.clear();
    offset_ = 0;
    return std::nullopt;
  }
  if (left - 4 < length) return std::nullopt;
  FrameError error = FrameError::none;
  std::optional<Frame> frame = decode_frame_body(p + 4, length, error);
  if (!frame) {
    error_ = error;
    buffer_.clear();
    offset_ = 0;
    return std::nullopt;
  }
  offset_ += 4 + length;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  return frame;
}

}  // namespace hearsay::remote
