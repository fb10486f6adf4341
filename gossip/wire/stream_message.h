// The one request or reply a memberlist TCP stream carries (memberlist-wire.md 5.1): push/pull,
// ping or the ack that answers it, possibly inside a compress wrapper. No length prefix: the
// message ends where it parses, so a reader calls this on what it has so far until it stops
// saying "incomplete".
#pragma once

#include <string>

#include "gossip/wire/drop_reason.h"
#include "gossip/wire/messages.h"

namespace hearsay::gossip {

struct StreamMessage {
  enum class Kind { incomplete, push_pull, ping, ack, user, unsupported } kind = Kind::incomplete;
  PushPull push_pull;
  Ping ping;
  Ack ack;
  Bytes user;  // a user message's payload (memberlist's SendReliable; hearsay's replication)
  DropReason error = DropReason::none;  // why, for unsupported
};

StreamMessage parse_stream_message(const std::uint8_t* data, std::size_t size);

// A user message as a stream carries it: `08`, {UserMsgLen}, the payload.
Bytes encode_stream_user_message(const Bytes& payload);

// The most a stream may hold, decompressed. Push/pulls are far smaller; hearsay's catalog
// anti-entropy sends a whole catalog in one reply (100,000 instances are ~30 MiB).
inline constexpr std::size_t kMaxStreamPlain = 128 * 1024 * 1024;

}  // namespace hearsay::gossip
