// go-msgpack 0.5.5's dialect for memberlist (memberlist-wire.md 2): the writers and the tolerant
// struct reader (msgpack_io.h).
#include "gossip/wire/msgpack_io.h"

#include <cstring>

namespace hearsay::gossip::mp {

MapWriter::MapWriter(Bytes& out, std::uint32_t fields) : stream_{out}, packer_(stream_) { packer_.pack_map(fields); }

void MapWriter::raw(std::string_view s) {
  // go-msgpack 0.5.5 writes old-spec raw: fixstr, then str16 from 32 bytes (never str8).
  packer_.pack_v4raw(static_cast<std::uint32_t>(s.size()));
  packer_.pack_v4raw_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

MapWriter& MapWriter::str(std::string_view key, std::string_view value) {
  raw(key);
  raw(value);
  return *this;
}

MapWriter& MapWriter::bytes(std::string_view key, const Bytes& value, bool nil_when_empty) {
  raw(key);
  if (value.empty() && nil_when_empty) packer_.pack_nil();
  else raw(std::string_view(reinterpret_cast<const char*>(value.data()), value.size()));
  return *this;
}

MapWriter& MapWriter::uint(std::string_view key, std::uint64_t value) {
  raw(key);
  packer_.pack_uint64(value);  // msgpack-c picks the smallest form, as Go does
  return *this;
}

MapWriter& MapWriter::boolean(std::string_view key, bool value) {
  raw(key);
  value ? packer_.pack_true() : packer_.pack_false();
  return *this;
}

MapWriter& MapWriter::strings(std::string_view key, const std::vector<std::string>& values) {
  raw(key);
  if (values.empty()) {
    packer_.pack_nil();
    return *this;
  }
  packer_.pack_array(static_cast<std::uint32_t>(values.size()));
  for (const std::string& v : values) raw(v);
  return *this;
}

MapWriter& MapWriter::byte_strings(std::string_view key, const std::vector<Bytes>& values) {
  raw(key);
  if (values.empty()) {
    packer_.pack_nil();
    return *this;
  }
  packer_.pack_array(static_cast<std::uint32_t>(values.size()));
  for (const Bytes& v : values) raw(std::string_view(reinterpret_cast<const char*>(v.data()), v.size()));
  return *this;
}

StructReader::StructReader(const msgpack::object& map) {
  if (map.type != msgpack::type::MAP) return;
  map_ = &map.via.map;
  ok_ = true;
  for (std::uint32_t i = 0; i < map_->size; ++i) {
    if (map_->ptr[i].key.type != msgpack::type::STR) ok_ = false;  // go-msgpack refuses other keys too
  }
}

const msgpack::object* StructReader::find(const char* key) const {
  if (!map_) return nullptr;
  const std::size_t len = std::strlen(key);
  for (std::uint32_t i = 0; i < map_->size; ++i) {
    const msgpack::object& k = map_->ptr[i].key;
    if (k.type == msgpack::type::STR && k.via.str.size == len && std::memcmp(k.via.str.ptr, key, len) == 0) {
      return &map_->ptr[i].val;
    }
  }
  return nullptr;
}

bool StructReader::str(const char* key, std::string& out) const {
  const msgpack::object* v = find(key);
  if (!v) return true;
  if (v->type == msgpack::type::NIL) return out.clear(), true;
  if (v->type != msgpack::type::STR) return false;  // bin is an error for strings, as in Go
  out.assign(v->via.str.ptr, v->via.str.size);
  return true;
}

bool StructReader::bytes(const char* key, Bytes& out) const {
  const msgpack::object* v = find(key);
  if (!v) return true;
  switch (v->type) {
    case msgpack::type::NIL: out.clear(); return true;
    case msgpack::type::STR: out.assign(v->via.str.ptr, v->via.str.ptr + v->via.str.size); return true;
    case msgpack::type::BIN: out.assign(v->via.bin.ptr, v->via.bin.ptr + v->via.bin.size); return true;
    case msgpack::type::ARRAY: {
      Bytes tmp;
      for (std::uint32_t i = 0; i < v->via.array.size; ++i) {
        const msgpack::object& e = v->via.array.ptr[i];
        if (e.type != msgpack::type::POSITIVE_INTEGER || e.via.u64 > 255) return false;
        tmp.push_back(static_cast<std::uint8_t>(e.via.u64));
      }
      out = std::move(tmp);
      return true;
    }
    default: return false;
  }
}

bool StructReader::u64(const char* key, std::uint64_t& out, std::uint64_t max) const {
  const msgpack::object* v = find(key);
  if (!v) return true;
  if (v->type != msgpack::type::POSITIVE_INTEGER || v->via.u64 > max) return false;
  out = v->via.u64;
  return true;
}

bool StructReader::boolean(const char* key, bool& out) const {
  const msgpack::object* v = find(key);
  if (!v) return true;
  if (v->type == msgpack::type::BOOLEAN) return out = v->via.boolean, true;
  if (v->type == msgpack::type::POSITIVE_INTEGER && v->via.u64 <= 1) return out = v->via.u64 == 1, true;
  return false;
}

bool StructReader::strings(const char* key, std::vector<std::string>& out) const {
  const msgpack::object* v = find(key);
  if (!v) return true;
  if (v->type == msgpack::type::NIL) return out.clear(), true;
  if (v->type != msgpack::type::ARRAY) return false;
  std::vector<std::string> tmp;
  for (std::uint32_t i = 0; i < v->via.array.size; ++i) {
    const msgpack::object& e = v->via.array.ptr[i];
    if (e.type != msgpack::type::STR) return false;
    tmp.emplace_back(e.via.str.ptr, e.via.str.size);
  }
  out = std::move(tmp);
  return true;
}

std::optional<msgpack::object> unpack_one(msgpack::zone& zone, const std::uint8_t* data, std::size_t size,
                                          std::size_t& offset) {
  const auto left = static_cast<std::size_t>(size > offset ? size - offset : 0);
  msgpack::unpack_limit limit(left, left, left, left, left, 32);
  auto reference_input = [](msgpack::type::object_type, std::size_t, void*) { return true; };
  try {
    std::size_t at = offset;
    bool referenced = false;
    msgpack::object obj = msgpack::unpack(zone, reinterpret_cast<const char*>(data), size, at, referenced,
                                          reference_input, nullptr, limit);
    offset = at;
    return obj;
  } catch (const std::exception&) {
    return std::nullopt;  // truncated, malformed or over a limit
  }
}

}  // namespace hearsay::gossip::mp
