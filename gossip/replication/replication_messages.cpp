// Wire form (msgpack, arrays for compactness; only hearsay reads it):
//   message = [kind, from, [entry...], [mark...], [block...]]
//   entry   = [owner, key, generation, version, prev, deleted, value (bin)]
//   mark    = [owner, generation, watermark, checksum]
//   block   = [mark, full, [entry...]]
#include "gossip/replication/replication_messages.h"

#include "gossip/wire/msgpack_io.h"

namespace hearsay::gossip {
namespace {

using Packer = msgpack::packer<mp::BytesStream>;

void pack_str(Packer& p, const std::string& s) {
  p.pack_str(static_cast<std::uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void pack_entry(Packer& p, const ReplicaEntry& e) {
  p.pack_array(7);
  pack_str(p, e.owner);
  pack_str(p, e.key);
  p.pack_uint64(e.generation);
  p.pack_uint64(e.version);
  p.pack_uint64(e.prev);
  if (e.deleted) p.pack_true(); else p.pack_false();
  p.pack_bin(static_cast<std::uint32_t>(e.value.size()));
  p.pack_bin_body(reinterpret_cast<const char*>(e.value.data()), static_cast<std::uint32_t>(e.value.size()));
}

void pack_mark(Packer& p, const OwnerMark& m) {
  p.pack_array(4);
  pack_str(p, m.owner);
  p.pack_uint64(m.generation);
  p.pack_uint64(m.watermark);
  p.pack_uint64(m.checksum);
}

void pack_header(Packer& p, ReplicationMessage::Kind kind, const std::string& from) {
  p.pack_array(5);
  p.pack_uint8(static_cast<std::uint8_t>(kind));
  pack_str(p, from);
}

// ---- decoding

bool get_str(const msgpack::object& o, std::string& out, std::size_t max) {
  if (o.type != msgpack::type::STR || o.via.str.size > max) return false;
  out.assign(o.via.str.ptr, o.via.str.size);
  return true;
}

bool get_u64(const msgpack::object& o, std::uint64_t& out) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return false;
  out = o.via.u64;
  return true;
}

const msgpack::object_array* get_array(const msgpack::object& o, std::size_t exact = 0) {
  if (o.type != msgpack::type::ARRAY) return nullptr;
  if (exact != 0 && o.via.array.size != exact) return nullptr;
  return &o.via.array;
}

bool get_entry(const msgpack::object& o, ReplicaEntry& e, DecodeError& error) {
  const auto* a = get_array(o, 7);
  if (!a) return error = DecodeError::bad_shape, false;
  const msgpack::object* f = a->ptr;
  if (!get_str(f[0], e.owner, kMaxOwnerNameBytes) || e.owner.empty()) return error = DecodeError::bad_entry, false;
  if (!get_str(f[1], e.key, kMaxReplicaKeyBytes) || e.key.empty()) return error = DecodeError::bad_entry, false;
  if (!get_u64(f[2], e.generation) || !get_u64(f[3], e.version) || !get_u64(f[4], e.prev)) {
    return error = DecodeError::bad_entry, false;
  }
  if (e.version == 0 || e.prev >= e.version) return error = DecodeError::out_of_order, false;
  if (f[5].type != msgpack::type::BOOLEAN) return error = DecodeError::bad_entry, false;
  e.deleted = f[5].via.boolean;
  if (f[6].type != msgpack::type::BIN || f[6].via.bin.size > kMaxReplicaValueBytes) {
    return error = DecodeError::bad_entry, false;
  }
  const auto* v = reinterpret_cast<const std::uint8_t*>(f[6].via.bin.ptr);
  e.value.assign(v, v + f[6].via.bin.size);
  if (e.deleted && !e.value.empty()) return error = DecodeError::tombstone_with_value, false;
  return true;
}

bool get_entries(const msgpack::object& o, std::vector<ReplicaEntry>& out, DecodeError& error) {
  const auto* a = get_array(o);
  if (!a) return error = DecodeError::bad_shape, false;
  out.resize(a->size);
  for (std::uint32_t i = 0; i < a->size; ++i) {
    if (!get_entry(a->ptr[i], out[i], error)) return false;
  }
  return true;
}

bool get_mark(const msgpack::object& o, OwnerMark& m, DecodeError& error) {
  const auto* a = get_array(o, 4);
  if (!a || !get_str(a->ptr[0], m.owner, kMaxOwnerNameBytes) || m.owner.empty() ||
      !get_u64(a->ptr[1], m.generation) || !get_u64(a->ptr[2], m.watermark) || !get_u64(a->ptr[3], m.checksum)) {
    return error = DecodeError::bad_mark, false;
  }
  return true;
}

}  // namespace

const char* to_string(DecodeError error) {
  switch (error) {
    case DecodeError::none: return "none";
    case DecodeError::not_msgpack: return "not_msgpack";
    case DecodeError::trailing_bytes: return "trailing_bytes";
    case DecodeError::bad_shape: return "bad_shape";
    case DecodeError::unknown_kind: return "unknown_kind";
    case DecodeError::bad_sender: return "bad_sender";
    case DecodeError::bad_entry: return "bad_entry";
    case DecodeError::out_of_order: return "out_of_order";
    case DecodeError::tombstone_with_value: return "tombstone_with_value";
    case DecodeError::bad_mark: return "bad_mark";
    case DecodeError::foreign_block_entry: return "foreign_block_entry";
  }
  return "unknown";
}

Bytes encode_entry(const ReplicaEntry& entry) {
  Bytes out;
  mp::BytesStream stream{out};
  Packer p(stream);
  pack_entry(p, entry);
  return out;
}

Bytes encode_broadcast(const std::string& from, const std::vector<const Bytes*>& encoded_entries) {
  Bytes out;
  mp::BytesStream stream{out};
  Packer p(stream);
  pack_header(p, ReplicationMessage::Kind::broadcast, from);
  p.pack_array(static_cast<std::uint32_t>(encoded_entries.size()));
  for (const Bytes* e : encoded_entries) out.insert(out.end(), e->begin(), e->end());
  p.pack_array(0);
  p.pack_array(0);
  return out;
}

Bytes encode(const ReplicationMessage& m) {
  Bytes out;
  mp::BytesStream stream{out};
  Packer p(stream);
  pack_header(p, m.kind, m.from);
  p.pack_array(static_cast<std::uint32_t>(m.entries.size()));
  for (const auto& e : m.entries) pack_entry(p, e);
  p.pack_array(static_cast<std::uint32_t>(m.digest.size()));
  for (const auto& d : m.digest) pack_mark(p, d);
  p.pack_array(static_cast<std::uint32_t>(m.blocks.size()));
  for (const auto& b : m.blocks) {
    p.pack_array(3);
    pack_mark(p, b.mark);
    if (b.full) p.pack_true(); else p.pack_false();
    p.pack_array(static_cast<std::uint32_t>(b.entries.size()));
    for (const auto& e : b.entries) pack_entry(p, e);
  }
  return out;
}

std::optional<ReplicationMessage> decode_replication(const std::uint8_t* data, std::size_t size, DecodeError& error) {
  error = DecodeError::none;
  msgpack::zone zone;
  std::size_t offset = 0;
  auto object = mp::unpack_one(zone, data, size, offset);
  if (!object) return error = DecodeError::not_msgpack, std::nullopt;
  if (offset != size) return error = DecodeError::trailing_bytes, std::nullopt;
  const auto* top = get_array(*object, 5);
  if (!top) return error = DecodeError::bad_shape, std::nullopt;
  ReplicationMessage m;
  std::uint64_t kind = 0;
  if (!get_u64(top->ptr[0], kind) || kind < 1 || kind > 4) return error = DecodeError::unknown_kind, std::nullopt;
  m.kind = static_cast<ReplicationMessage::Kind>(kind);
  if (!get_str(top->ptr[1], m.from, kMaxOwnerNameBytes) || m.from.empty()) return error = DecodeError::bad_sender, std::nullopt;
  if (!get_entries(top->ptr[2], m.entries, error)) return std::nullopt;
  const auto* digest = get_array(top->ptr[3]);
  if (!digest) return error = DecodeError::bad_shape, std::nullopt;
  m.digest.resize(digest->size);
  for (std::uint32_t i = 0; i < digest->size; ++i) {
    if (!get_mark(digest->ptr[i], m.digest[i], error)) return std::nullopt;
  }
  const auto* blocks = get_array(top->ptr[4]);
  if (!blocks) return error = DecodeError::bad_shape, std::nullopt;
  m.blocks.resize(blocks->size);
  for (std::uint32_t i = 0; i < blocks->size; ++i) {
    const auto* b = get_array(blocks->ptr[i], 3);
    if (!b) return error = DecodeError::bad_shape, std::nullopt;
    if (!get_mark(b->ptr[0], m.blocks[i].mark, error)) return std::nullopt;
    if (b->ptr[1].type != msgpack::type::BOOLEAN) return error = DecodeError::bad_shape, std::nullopt;
    m.blocks[i].full = b->ptr[1].via.boolean;
    if (!get_entries(b->ptr[2], m.blocks[i].entries, error)) return std::nullopt;
    for (const auto& e : m.blocks[i].entries) {
      if (e.owner != m.blocks[i].mark.owner || e.generation != m.blocks[i].mark.generation) {
        return error = DecodeError::foreign_block_entry, std::nullopt;
      }
    }
  }
  return m;
}

}  // namespace hearsay::gossip
