// A member's gossip endpoint: IP bytes as they travel in messages (4 for IPv4, 16 for IPv6)
// and a port. The same address for UDP and TCP, as in memberlist.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

#include "gossip/messages.h"

namespace hearsay::gossip {

struct Address {
  Bytes ip;
  std::uint16_t port = 0;
  auto operator<=>(const Address&) const = default;
  bool empty() const { return ip.empty(); }
  std::string to_string() const {
    std::string out;
    if (ip.size() == 4) {
      for (std::size_t i = 0; i < 4; ++i) out += (i ? "." : "") + std::to_string(ip[i]);
    } else {
      static const char* digits = "0123456789abcdef";
      out += "[";
      for (std::size_t i = 0; i < ip.size(); ++i) {
        if (i && i % 2 == 0) out += ":";
        out += digits[ip[i] >> 4];
        out += digits[ip[i] & 15];
      }
      out += "]";
    }
    return out + ":" + std::to_string(port);
  }
};

}  // namespace hearsay::gossip
