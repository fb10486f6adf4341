// msgpack record bodies. Writers emit a map {field: value}; readers walk the map, check each
// value's type and ignore unknown fields. msgpack exceptions stop at decode_* (the boundary).
#include "catalog/record_codec.h"

#include <msgpack.hpp>

namespace hearsay::catalog {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

void pack_str(Packer& p, std::string_view s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}
void pack_map(Packer& p, const StringMap& m) {
  p.pack_map(static_cast<std::uint32_t>(m.size()));
  for (const auto& [k, v] : m) {
    pack_str(p, k);
    pack_str(p, v);
  }
}
void pack_list(Packer& p, const std::vector<std::string>& v) {
  p.pack_array(static_cast<std::uint32_t>(v.size()));
  for (const auto& s : v) pack_str(p, s);
}
void pack_origin(Packer& p, const RecordOrigin& o, const RecordIndexes& ix) {
  pack_str(p, "own"), pack_str(p, o.owner);
  pack_str(p, "ver"), p.pack(o.version);
  pack_str(p, "gen"), p.pack(o.generation);
  pack_str(p, "ci"), p.pack(ix.create_index);
  pack_str(p, "mi"), p.pack(ix.modify_index);
}
constexpr std::uint32_t kOriginFields = 5;

// ---- reading: each helper returns false on a type mismatch.
bool read(const msgpack::object& o, std::string& out) {
  if (o.type != msgpack::type::STR) return false;
  out.assign(o.via.str.ptr, o.via.str.size);
  return true;
}
bool read(const msgpack::object& o, std::uint64_t& out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return false;
  out = o.via.u64;
  return true;
}
bool read(const msgpack::object& o, std::int64_t& out) {
  if (o.type == msgpack::type::POSITIVE_INTEGER) {
    if (o.via.u64 > static_cast<std::uint64_t>(INT64_MAX)) return false;
    out = static_cast<std::int64_t>(o.via.u64);
    return true;
  }
  if (o.type != msgpack::type::NEGATIVE_INTEGER) return false;
  out = o.via.i64;
  return true;
}
bool read(const msgpack::object& o, int& out) {
  std::int64_t v = 0;
  if (!read(o, v) || v < INT32_MIN || v > INT32_MAX) return false;
  out = static_cast<int>(v);
  return true;
}
bool read(const msgpack::object& o, bool& out) {
  if (o.type != msgpack::type::BOOLEAN) return false;
  out = o.via.boolean;
  return true;
}
bool read(const msgpack::object& o, Duration& out) {
  std::int64_t v = 0;
  if (!read(o, v)) return false;
  out = Duration{v};
  return true;
}
bool read(const msgpack::object& o, StringMap& out) {
  if (o.type != msgpack::type::MAP) return false;
  out.clear();
  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
    std::string k, v;
    if (!read(o.via.map.ptr[i].key, k) || !read(o.via.map.ptr[i].val, v)) return false;
    out.emplace(std::move(k), std::move(v));
  }
  return true;
}
bool read(const msgpack::object& o, std::vector<std::string>& out) {
  if (o.type != msgpack::type::ARRAY) return false;
  out.clear();
  for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
    std::string s;
    if (!read(o.via.array.ptr[i], s)) return false;
    out.push_back(std::move(s));
  }
  return true;
}

// Visits every (key, value) of a msgpack map; `field` returns false for a bad value.
template <typename Fn>
bool for_each_field(const msgpack::object& o, Fn&& field) {
  if (o.type != msgpack::type::MAP) return false;
  for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR) return false;
    std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
    if (!field(key, kv.val)) return false;
  }
  return true;
}

bool read_origin_field(std::string_view key, const msgpack::object& v, RecordOrigin& o, RecordIndexes& ix) {
  if (key == "own") return read(v, o.owner);
  if (key == "ver") return read(v, o.version);
  if (key == "gen") return read(v, o.generation);
  if (key == "ci") return read(v, ix.create_index);
  if (key == "mi") return read(v, ix.modify_index);
  return true;  // unknown: skip
}

// Unpacks with limits so a hostile length prefix cannot make us allocate gigabytes.
template <typename Fn>
bool unpack_and(std::string_view bytes, Fn&& fn) {
  if (bytes.empty() || bytes.size() > kMaxRecordBytes) return false;
  try {
    msgpack::unpack_limit limits(/*array*/ 4096, /*map*/ 4096, /*str*/ kMaxRecordBytes, /*bin*/ kMaxRecordBytes,
                                 /*ext*/ 0, /*depth*/ 8);
    std::size_t offset = 0;
    msgpack::object_handle handle =
        msgpack::unpack(bytes.data(), bytes.size(), offset, nullptr, nullptr, limits);
    if (offset != bytes.size()) return false;  // trailing bytes
    return fn(handle.get());
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::string encode_record(const Node& n) {
  msgpack::sbuffer buf;
  Packer p(buf);
  p.pack_map(6 + kOriginFields);
  pack_str(p, "id"), pack_str(p, n.id);
  pack_str(p, "name"), pack_str(p, n.name);
  pack_str(p, "addr"), pack_str(p, n.address);
  pack_str(p, "dc"), pack_str(p, n.datacenter);
  pack_str(p, "taddr"), pack_map(p, n.tagged_addresses);
  pack_str(p, "meta"), pack_map(p, n.meta);
  pack_origin(p, n.origin, n.indexes);
  return std::string(buf.data(), buf.size());
}

std::optional<Node> decode_node(std::string_view bytes) {
  Node n;
  bool ok = unpack_and(bytes, [&](const msgpack::object& o) {
    return for_each_field(o, [&](std::string_view key, const msgpack::object& v) {
      if (key == "id") return read(v, n.id);
      if (key == "name") return read(v, n.name);
      if (key == "addr") return read(v, n.address);
      if (key == "dc") return read(v, n.datacenter);
      if (key == "taddr") return read(v, n.tagged_addresses);
      if (key == "meta") return read(v, n.meta);
      return read_origin_field(key, v, n.origin, n.indexes);
    });
  });
  if (!ok || n.name.empty()) return std::nullopt;
  return n;
}

std::string encode_record(const Service& s) {
  msgpack::sbuffer buf;
  Packer p(buf);
  p.pack_map(13 + kOriginFields);
  pack_str(p, "node"), pack_str(p, s.node);
  pack_str(p, "id"), pack_str(p, s.id);
  pack_str(p, "name"), pack_str(p, s.name);
  pack_str(p, "tags"), pack_list(p, s.tags);
  pack_str(p, "addr"), pack_str(p, s.address);
  pack_str(p, "port"), p.pack(s.port);
  pack_str(p, "meta"), pack_map(p, s.meta);
  pack_str(p, "taddr");
  p.pack_map(static_cast<std::uint32_t>(s.tagged_addresses.size()));
  for (const auto& [k, a] : s.tagged_addresses) {
    pack_str(p, k);
    p.pack_array(2);
    pack_str(p, a.address);
    p.pack(a.port);
  }
  pack_str(p, "wp"), p.pack(s.weights.passing);
  pack_str(p, "ww"), p.pack(s.weights.warning);
  pack_str(p, "eto"), p.pack(s.enable_tag_override);
  pack_str(p, "kind"), pack_str(p, s.kind);
  pack_str(p, "v"), p.pack(1);  // body format version
  pack_origin(p, s.origin, s.indexes);
  return std::string(buf.data(), buf.size());
}

std::optional<Service> decode_service(std::string_view bytes) {
  Service s;
  bool ok = unpack_and(bytes, [&](const msgpack::object& o) {
    return for_each_field(o, [&](std::string_view key, const msgpack::object& v) {
      if (key == "node") return read(v, s.node);
      if (key == "id") return read(v, s.id);
      if (key == "name") return read(v, s.name);
      if (key == "tags") return read(v, s.tags);
      if (key == "addr") return read(v, s.address);
      if (key == "port") return read(v, s.port);
      if (key == "meta") return read(v, s.meta);
      if (key == "wp") return read(v, s.weights.passing);
      if (key == "ww") return read(v, s.weights.warning);
      if (key == "eto") return read(v, s.enable_tag_override);
      if (key == "kind") return read(v, s.kind);
      if (key == "taddr") {
        if (v.type != msgpack::type::MAP) return false;
        for (std::uint32_t i = 0; i < v.via.map.size; ++i) {
          const auto& kv = v.via.map.ptr[i];
          std::string name;
          ServiceAddress addr;
          if (!read(kv.key, name) || kv.val.type != msgpack::type::ARRAY || kv.val.via.array.size != 2 ||
              !read(kv.val.via.array.ptr[0], addr.address) || !read(kv.val.via.array.ptr[1], addr.port)) {
            return false;
          }
          s.tagged_addresses.emplace(std::move(name), std::move(addr));
        }
        return true;
      }
      return read_origin_field(key, v, s.origin, s.indexes);
    });
  });
  if (!ok || s.node.empty() || s.id.empty() || s.name.empty()) return std::nullopt;
  return s;
}

std::string encode_record(const Check& c) {
  msgpack::sbuffer buf;
  Packer p(buf);
  p.pack_map(8 + 1 + kOriginFields);
  pack_str(p, "node"), pack_str(p, c.node);
  pack_str(p, "id"), pack_str(p, c.id);
  pack_str(p, "name"), pack_str(p, c.name);
  pack_str(p, "st"), pack_str(p, to_string(c.status));
  pack_str(p, "notes"), pack_str(p, c.notes);
  pack_str(p, "out"), pack_str(p, c.output);
  pack_str(p, "sid"), pack_str(p, c.service_id);
  // service_name/service_tags are derived from the instance on load; not stored.
  pack_str(p, "type"), p.pack(static_cast<int>(c.spec.type));
  const CheckSpec& s = c.spec;
  pack_str(p, "spec");
  p.pack_map(18);
  pack_str(p, "http"), pack_str(p, s.http);
  pack_str(p, "method"), pack_str(p, s.method);
  pack_str(p, "header");
  p.pack_map(static_cast<std::uint32_t>(s.header.size()));
  for (const auto& [k, values] : s.header) {
    pack_str(p, k);
    pack_list(p, values);
  }
  pack_str(p, "body"), pack_str(p, s.body);
  pack_str(p, "tlsv"), p.pack(s.tls_skip_verify);
  pack_str(p, "tlsn"), pack_str(p, s.tls_server_name);
  pack_str(p, "noredir"), p.pack(s.disable_redirects);
  pack_str(p, "tcp"), pack_str(p, s.tcp);
  pack_str(p, "args"), pack_list(p, s.args);
  pack_str(p, "int"), p.pack(s.interval.count());
  pack_str(p, "to"), p.pack(s.timeout.count());
  pack_str(p, "ttl"), p.pack(s.ttl.count());
  pack_str(p, "dca"), p.pack(s.deregister_critical_after.count());
  pack_str(p, "sbp"), p.pack(s.success_before_passing);
  pack_str(p, "fbw"), p.pack(s.failures_before_warning);
  pack_str(p, "fbc"), p.pack(s.failures_before_critical);
  pack_str(p, "oms"), p.pack(s.output_max_size);
  pack_str(p, "v"), p.pack(1);
  pack_origin(p, c.origin, c.indexes);
  return std::string(buf.data(), buf.size());
}

std::optional<Check> decode_check(std::string_view bytes) {
  Check c;
  bool ok = unpack_and(bytes, [&](const msgpack::object& o) {
    return for_each_field(o, [&](std::string_view key, const msgpack::object& v) {
      if (key == "node") return read(v, c.node);
      if (key == "id") return read(v, c.id);
      if (key == "name") return read(v, c.name);
      if (key == "notes") return read(v, c.notes);
      if (key == "out") return read(v, c.output);
      if (key == "sid") return read(v, c.service_id);
      if (key == "st") {
        std::string text;
        if (!read(v, text)) return false;
        auto status = parse_health_status(text);
        if (!status) return false;
        c.status = *status;
        return true;
      }
      if (key == "type") {
        int t = 0;
        if (!read(v, t) || t < 0 || t > static_cast<int>(CheckType::script)) return false;
        c.spec.type = static_cast<CheckType>(t);
        return true;
      }
      if (key == "spec") {
        CheckSpec& s = c.spec;
        return for_each_field(v, [&](std::string_view k, const msgpack::object& f) {
          if (k == "http") return read(f, s.http);
          if (k == "method") return read(f, s.method);
          if (k == "body") return read(f, s.body);
          if (k == "tlsv") return read(f, s.tls_skip_verify);
          if (k == "tlsn") return read(f, s.tls_server_name);
          if (k == "noredir") return read(f, s.disable_redirects);
          if (k == "tcp") return read(f, s.tcp);
          if (k == "args") return read(f, s.args);
          if (k == "int") return read(f, s.interval);
          if (k == "to") return read(f, s.timeout);
          if (k == "ttl") return read(f, s.ttl);
          if (k == "dca") return read(f, s.deregister_critical_after);
          if (k == "sbp") return read(f, s.success_before_passing);
          if (k == "fbw") return read(f, s.failures_before_warning);
          if (k == "fbc") return read(f, s.failures_before_critical);
          if (k == "oms") return read(f, s.output_max_size);
          if (k == "header") {
            if (f.type != msgpack::type::MAP) return false;
            for (std::uint32_t i = 0; i < f.via.map.size; ++i) {
              std::string name;
              std::vector<std::string> values;
              if (!read(f.via.map.ptr[i].key, name) || !read(f.via.map.ptr[i].val, values)) return false;
              s.header.emplace(std::move(name), std::move(values));
            }
            return true;
          }
          return true;
        });
      }
      return read_origin_field(key, v, c.origin, c.indexes);
    });
  });
  if (!ok || c.node.empty() || c.id.empty()) return std::nullopt;
  return c;
}

}  // namespace hearsay::catalog
