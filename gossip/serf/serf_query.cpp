// Field names and types are serf 0.9's messageQuery, messageQueryResponse, keyRequest and
// nodeKeyResponse, written as go-msgpack writes them (gossip/wire/msgpack_io.h): sorted keys, raw
// strings, nil for empty slices.
#include "gossip/serf/serf_query.h"

#include "gossip/wire/msgpack_io.h"

namespace hearsay::gossip {
namespace {

constexpr std::uint8_t kKeyRequestType = 7;
constexpr std::uint8_t kKeyResponseType = 8;

// The msgpack map after `type`, or nullopt.
std::optional<msgpack::object> unpack_typed(msgpack::zone& zone, const Bytes& message, std::uint8_t type) {
  if (message.empty() || message[0] != type) return std::nullopt;
  std::size_t offset = 1;
  auto object = mp::unpack_one(zone, message.data(), message.size(), offset);
  if (!object || object->type != msgpack::type::MAP) return std::nullopt;
  return object;
}

bool has_filters(const msgpack::object& query) {
  const msgpack::object_map& map = query.via.map;
  for (std::uint32_t i = 0; i < map.size; ++i) {
    const msgpack::object& key = map.ptr[i].key;
    if (key.type == msgpack::type::STR && std::string_view(key.via.str.ptr, key.via.str.size) == "Filters") {
      const msgpack::object& value = map.ptr[i].val;
      return value.type == msgpack::type::ARRAY && value.via.array.size > 0;
    }
  }
  return false;
}

}  // namespace

Bytes encode_serf_query(const SerfQuery& q) {
  Bytes out{kSerfQueryType};
  mp::MapWriter(out, 11)
      .bytes("Addr", q.addr)
      .byte_strings("Filters", {})
      .uint("Flags", q.flags)
      .uint("ID", q.id)
      .uint("LTime", q.ltime)
      .str("Name", q.name)
      .bytes("Payload", q.payload)
      .uint("Port", q.port)
      .uint("RelayFactor", q.relay_factor)
      .str("SourceNode", q.source_node)
      .uint("Timeout", static_cast<std::uint64_t>(q.timeout.count()));
  return out;
}

std::optional<SerfQuery> decode_serf_query(const Bytes& message) {
  msgpack::zone zone;
  auto object = unpack_typed(zone, message, kSerfQueryType);
  if (!object) return std::nullopt;
  mp::StructReader r(*object);
  SerfQuery q;
  std::uint64_t timeout_ns = 0;
  if (!r.ok() || !r.u64("LTime", q.ltime, UINT64_MAX) || !r.uint("ID", q.id) || !r.bytes("Addr", q.addr) ||
      !r.uint("Port", q.port) || !r.str("SourceNode", q.source_node) || !r.uint("Flags", q.flags) ||
      !r.uint("RelayFactor", q.relay_factor) || !r.u64("Timeout", timeout_ns, INT64_MAX) ||
      !r.str("Name", q.name) || !r.bytes("Payload", q.payload)) {
    return std::nullopt;
  }
  q.timeout = std::chrono::nanoseconds(static_cast<std::int64_t>(timeout_ns));
  q.filtered = has_filters(*object);
  return q;
}

Bytes encode_serf_query_response(const SerfQueryResponse& r) {
  Bytes out{kSerfQueryResponseType};
  mp::MapWriter(out, 5)
      .uint("Flags", r.flags)
      .str("From", r.from)
      .uint("ID", r.id)
      .uint("LTime", r.ltime)
      .bytes("Payload", r.payload);
  return out;
}

std::optional<SerfQueryResponse> decode_serf_query_response(const Bytes& message) {
  msgpack::zone zone;
  auto object = unpack_typed(zone, message, kSerfQueryResponseType);
  if (!object) return std::nullopt;
  mp::StructReader r(*object);
  SerfQueryResponse out;
  if (!r.ok() || !r.u64("LTime", out.ltime, UINT64_MAX) || !r.uint("ID", out.id) || !r.str("From", out.from) ||
      !r.uint("Flags", out.flags) || !r.bytes("Payload", out.payload)) {
    return std::nullopt;
  }
  return out;
}

Bytes encode_key_request(const Bytes& key) {
  Bytes out{kKeyRequestType};
  mp::MapWriter(out, 1).bytes("Key", key);
  return out;
}

std::optional<Bytes> decode_key_request(const Bytes& payload) {
  msgpack::zone zone;
  auto object = unpack_typed(zone, payload, kKeyRequestType);
  if (!object) return std::nullopt;
  mp::StructReader r(*object);
  Bytes key;
  if (!r.ok() || !r.bytes("Key", key)) return std::nullopt;
  return key;
}

Bytes encode_key_response(const KeyResponse& r) {
  Bytes out{kKeyResponseType};
  mp::MapWriter(out, 4)
      .strings("Keys", r.keys)
      .str("Message", r.message)
      .str("PrimaryKey", r.primary_key)
      .boolean("Result", r.result);
  return out;
}

std::optional<KeyResponse> decode_key_response(const Bytes& payload) {
  msgpack::zone zone;
  auto object = unpack_typed(zone, payload, kKeyResponseType);
  if (!object) return std::nullopt;
  mp::StructReader r(*object);
  KeyResponse out;
  if (!r.ok() || !r.boolean("Result", out.result) || !r.str("Message", out.message) ||
      !r.strings("Keys", out.keys) || !r.str("PrimaryKey", out.primary_key)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace hearsay::gossip
