// The one request or reply a memberlist TCP stream carries (memberlist-wire.md 5.1): push/pull
// or ping, possibly inside a compress wrapper. No length prefix: the message ends where it
// parses, so a reader calls this on what it has so far until it stops saying "incomplete".
#pragma once

#include <string>

#include "gossip/messages.h"

namespace hearsay::gossip {

struct StreamMessage {
  enum class Kind { incomplete, push_pull, ping, unsupported } kind = Kind::incomplete;
  PushPull push_pull;
  Ping ping;
  std::string error;  // for unsupported
};

StreamMessage parse_stream_message(const std::uint8_t* data, std::size_t size);

}  // namespace hearsay::gossip
