// serf's tag encoding of node metadata, both ways (memberlist-wire.md 8.1; serf_tags.h).
#include "gossip/serf/serf_tags.h"

#include "gossip/wire/msgpack_io.h"

namespace hearsay::gossip {

std::optional<Bytes> encode_tags(const Tags& tags) {
  Bytes out{0xff};
  mp::BytesStream stream{out};
  msgpack::packer<mp::BytesStream> packer(stream);
  packer.pack_map(static_cast<std::uint32_t>(tags.size()));
  auto raw = [&](const std::string& s) {
    packer.pack_v4raw(static_cast<std::uint32_t>(s.size()));
    packer.pack_v4raw_body(s.data(), static_cast<std::uint32_t>(s.size()));
  };
  for (const auto& [k, v] : tags) {
    raw(k);
    raw(v);
  }
  if (out.size() > kMaxMetaSize) return std::nullopt;
  return out;
}

std::optional<Tags> decode_tags(const Bytes& meta) {
  Tags tags;
  if (meta.empty() || meta[0] != 0xff) {
    if (!meta.empty()) tags["role"] = std::string(meta.begin(), meta.end());
    return tags;
  }
  msgpack::zone zone;
  std::size_t offset = 1;
  auto object = mp::unpack_one(zone, meta.data(), meta.size(), offset);
  if (!object || object->type != msgpack::type::MAP || offset != meta.size()) return std::nullopt;
  for (std::uint32_t i = 0; i < object->via.map.size; ++i) {
    const msgpack::object& k = object->via.map.ptr[i].key;
    const msgpack::object& v = object->via.map.ptr[i].val;
    if (k.type != msgpack::type::STR || v.type != msgpack::type::STR) return std::nullopt;  // serf refuses bin too
    tags[std::string(k.via.str.ptr, k.via.str.size)] = std::string(v.via.str.ptr, v.via.str.size);
  }
  return tags;
}

}  // namespace hearsay::gossip
