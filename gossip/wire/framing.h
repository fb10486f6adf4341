// The layers around messages in a UDP packet, outermost first: has-CRC, compress (LZW),
// compound (memberlist-wire.md 3.2-3.4). Encryption is outside all of these (keyring.h).
// Never builds what crashes serf 0.9.4: no empty compound parts, at most 127 parts, no empty
// compressed payloads.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gossip/wire/drop_reason.h"
#include "gossip/wire/messages.h"

namespace hearsay::gossip {

using ByteView = std::span<const std::uint8_t>;

struct UnwrappedPacket {
  // Each a single message (type byte and body), pointing into the input or into `storage`
  // (decompressed parts): valid while both live. Move-only for that reason.
  std::vector<ByteView> messages;
  std::vector<std::unique_ptr<Bytes>> storage;
  std::vector<DropReason> dropped;        // why each part that could not be peeled was dropped
  DropReason error = DropReason::none;   // why the whole packet was refused (bad CRC)
};

// Peels CRC (outermost only), compression and compounds, recursively.
UnwrappedPacket unwrap_packet(const std::uint8_t* data, std::size_t size);

// `parts` must be non-empty messages; at most 127 of them, each under 64 KiB.
Bytes make_compound(const std::vector<ByteView>& parts);
Bytes make_compound(const std::vector<Bytes>& parts);
// has-CRC: 12, CRC-32 (IEEE) of `packet` big-endian, then `packet`.
Bytes add_crc(const Bytes& packet);
// compress: 9 and {Algo: 0, Buf: LZW(message)}. `message` must be non-empty.
Bytes compress_message(const Bytes& message);

}  // namespace hearsay::gossip
