// One memberlist message <-> its bytes: the type byte and one msgpack struct-map
// (memberlist-wire.md section 4). Framing around messages (compound, CRC, compression,
// encryption) is framing.h's job.
#pragma once

#include <optional>
#include <string>

#include "gossip/wire/drop_reason.h"
#include "gossip/wire/messages.h"

namespace hearsay::gossip {

Bytes encode(const Message& message);
// The same for one message type, without building a Message (and copying the fields) first.
Bytes encode(const Ping& message);
Bytes encode(const IndirectPing& message);
Bytes encode(const Ack& message);
Bytes encode(const Nack& message);
Bytes encode(const Suspect& message);
Bytes encode(const Alive& message);
Bytes encode(const Dead& message);
Bytes encode(const UserMessage& message);
Bytes encode(const ErrorMessage& message);

struct DecodeResult {
  std::optional<Message> message;
  DropReason error = DropReason::none;  // why message is empty
};

// Decodes a single message (type byte first). Compound, compress, has-CRC and encrypt are
// framing, not messages: they are refused here (misplaced_framing).
DecodeResult decode(const std::uint8_t* data, std::size_t size);

// Push/pull over TCP: `06`, header, node states, user state (memberlist-wire.md 5.2).
Bytes encode_push_pull(const PushPull& message);
struct PushPullResult {
  std::optional<PushPull> message;
  DropReason error = DropReason::none;
  std::size_t consumed = 0;  // bytes of the input the message took
};
// `data` starts after the type byte. Incomplete input is refused as `truncated`, so a stream
// reader can wait for more.
PushPullResult decode_push_pull(const std::uint8_t* data, std::size_t size);

}  // namespace hearsay::gossip
