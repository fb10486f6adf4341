// The msgpack dialect of go-msgpack 0.5.5 as memberlist uses it (memberlist-wire.md section 2):
// structs are maps keyed by Go field names in sorted order, strings and byte slices are old-spec
// "raw" (fixstr, str16, str32; never str8 or bin), nil for empty slices. Reading is tolerant:
// any key order, unknown keys skipped, bytes as str, bin, nil or an array of small ints.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <string_view>
#include <optional>
#include <string>
#include <vector>

#include "gossip/wire/messages.h"

namespace hearsay::gossip::mp {

// Appends msgpack to a byte vector (msgpack-c's packer needs a stream with write()).
struct BytesStream {
  Bytes& out;
  void write(const char* data, std::size_t size) { out.insert(out.end(), data, data + size); }
};

// Writes one struct-map straight into `out`. Callers give the number of fields and add them in
// sorted key order (go-msgpack's order); the golden-byte tests hold them to it.
class MapWriter {
 public:
  MapWriter(Bytes& out, std::uint32_t fields);
  MapWriter& str(std::string_view key, std::string_view value);
  MapWriter& bytes(std::string_view key, const Bytes& value, bool nil_when_empty = true);
  MapWriter& uint(std::string_view key, std::uint64_t value);
  MapWriter& boolean(std::string_view key, bool value);
  // []string and [][]byte; a nil slice (written for an empty one) is nil, as Go writes it.
  MapWriter& strings(std::string_view key, const std::vector<std::string>& values);
  MapWriter& byte_strings(std::string_view key, const std::vector<Bytes>& values);

 private:
  void raw(std::string_view s);
  BytesStream stream_;
  msgpack::packer<BytesStream> packer_;
};

// Reads one struct-map. Every getter returns false (and leaves the value) when the key is
// present with a value of the wrong kind; a missing key is not an error.
class StructReader {
 public:
  explicit StructReader(const msgpack::object& map);
  bool ok() const { return ok_; }  // the object was a map with string keys
  bool str(const char* key, std::string& out) const;
  bool bytes(const char* key, Bytes& out) const;
  bool u64(const char* key, std::uint64_t& out, std::uint64_t max) const;
  template <typename T>
  bool uint(const char* key, T& out) const {
    std::uint64_t v = out;
    if (!u64(key, v, static_cast<std::uint64_t>(static_cast<T>(~T{0})))) return false;
    out = static_cast<T>(v);
    return true;
  }
  bool boolean(const char* key, bool& out) const;
  bool strings(const char* key, std::vector<std::string>& out) const;

 private:
  const msgpack::object* find(const char* key) const;
  const msgpack::object_map* map_ = nullptr;
  bool ok_ = false;
};

// Unpacks one object from data[offset...] into `zone`, advancing offset. Strings and binaries
// point into `data` (no copies), so the object lives as long as both. Limits keep a hostile
// length prefix from allocating: nothing may claim more elements than the input has bytes.
std::optional<msgpack::object> unpack_one(msgpack::zone& zone, const std::uint8_t* data, std::size_t size,
                                          std::size_t& offset);

}  // namespace hearsay::gossip::mp
