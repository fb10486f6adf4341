// Packet layers around memberlist messages: CRC32 (IEEE, zlib's), LZW compression and compound
// framing, both ways (memberlist-wire.md 3.2-3.4; framing.h).
#include "gossip/wire/framing.h"

#include <zlib.h>

#include <algorithm>

#include "gossip/wire/lzw.h"
#include "gossip/wire/msgpack_io.h"

namespace hearsay::gossip {
namespace {

constexpr std::size_t kMaxNesting = 4;                  // compress in compound in compress...
constexpr std::size_t kMaxDecompressed = 1024 * 1024;  // far above any 64 KiB datagram's content

std::uint32_t crc32_of(const std::uint8_t* data, std::size_t size) {
  return static_cast<std::uint32_t>(crc32(crc32(0L, Z_NULL, 0), data, static_cast<uInt>(size)));
}

void unwrap(const std::uint8_t* data, std::size_t size, std::size_t depth, UnwrappedPacket& out) {
  if (size == 0) return out.dropped.push_back(DropReason::truncated);
  if (depth > kMaxNesting) return out.dropped.push_back(DropReason::too_deep);
  const auto type = static_cast<MessageType>(data[0]);
  if (type == MessageType::compound) {
    if (size < 2) return out.dropped.push_back(DropReason::truncated);
    const std::size_t parts = data[1];
    std::size_t at = 2 + 2 * parts;
    if (at > size) return out.dropped.push_back(DropReason::truncated);
    for (std::size_t i = 0; i < parts; ++i) {
      const std::size_t len = static_cast<std::size_t>(data[2 + 2 * i]) << 8 | data[3 + 2 * i];
      if (at + len > size) {  // truncated: this part and all after it are lost
        out.dropped.insert(out.dropped.end(), parts - i, DropReason::truncated);
        return;
      }
      unwrap(data + at, len, depth + 1, out);
      at += len;
    }
    return;
  }
  if (type == MessageType::compress) {
    std::size_t offset = 1;
    msgpack::zone zone;
    auto object = mp::unpack_one(zone, data, size, offset);
    if (!object) return out.dropped.push_back(DropReason::bad_compression);
    mp::StructReader r(*object);
    std::uint8_t algo = 255;
    Bytes buf;
    if (!r.ok() || !r.uint("Algo", algo) || !r.bytes("Buf", buf) || algo != 0) return out.dropped.push_back(DropReason::bad_compression);
    std::optional<lzw::DecodeError> error;
    auto plain = std::make_unique<Bytes>(lzw::decompress(buf.data(), buf.size(), kMaxDecompressed, error));
    if (error || plain->empty()) return out.dropped.push_back(DropReason::bad_compression);
    const Bytes& kept = *out.storage.emplace_back(std::move(plain));
    unwrap(kept.data(), kept.size(), depth + 1, out);
    return;
  }
  if (type == MessageType::has_crc || type == MessageType::encrypt) return out.dropped.push_back(DropReason::misplaced_framing);
  out.messages.emplace_back(data, size);
}

}  // namespace

UnwrappedPacket unwrap_packet(const std::uint8_t* data, std::size_t size) {
  UnwrappedPacket out;
  if (size >= 1 && data[0] == static_cast<std::uint8_t>(MessageType::has_crc)) {
    if (size < 6) {  // a CRC header needs something after it
      out.error = DropReason::truncated;
      return out;
    }
    const std::uint32_t want = static_cast<std::uint32_t>(data[1]) << 24 | static_cast<std::uint32_t>(data[2]) << 16 |
                               static_cast<std::uint32_t>(data[3]) << 8 | data[4];
    if (crc32_of(data + 5, size - 5) != want) {
      out.error = DropReason::bad_crc;
      return out;
    }
    data += 5;
    size -= 5;
  }
  unwrap(data, size, 0, out);
  return out;
}

Bytes make_compound(const std::vector<ByteView>& parts) {
  std::size_t total = 2;
  for (const ByteView& p : parts) total += 2 + p.size();
  Bytes out;
  out.reserve(total);
  out.push_back(static_cast<std::uint8_t>(MessageType::compound));
  out.push_back(static_cast<std::uint8_t>(parts.size()));
  for (const ByteView& p : parts) {
    out.push_back(static_cast<std::uint8_t>(p.size() >> 8));
    out.push_back(static_cast<std::uint8_t>(p.size() & 0xff));
  }
  for (const ByteView& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes make_compound(const std::vector<Bytes>& parts) {
  std::vector<ByteView> views(parts.begin(), parts.end());
  return make_compound(views);
}

Bytes add_crc(const Bytes& packet) {
  const std::uint32_t crc = crc32_of(packet.data(), packet.size());
  // Appended, not written by index into a vector sized 5 + size: that sum can wrap (GCC's
  // -Wnull-dereference at -O3 says so), and then the writes would run past an empty vector.
  Bytes out;
  out.reserve(5 + packet.size());
  out.push_back(static_cast<std::uint8_t>(MessageType::has_crc));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(crc >> (24 - 8 * i)));
  out.insert(out.end(), packet.begin(), packet.end());
  return out;
}

Bytes compress_message(const Bytes& message) {
  Bytes packed = lzw::compress(message.data(), message.size());
  Bytes out{static_cast<std::uint8_t>(MessageType::compress)};
  mp::MapWriter(out, 2).uint("Algo", 0).bytes("Buf", packed);
  return out;
}

}  // namespace hearsay::gossip
