// A member's gossip endpoint: IP bytes as they travel in messages (4 for IPv4, 16 for IPv6)
// and a port. The same address for UDP and TCP, as in memberlist.
#pragma once

#include <compare>
#include <optional>
#include <cstdint>
#include <string>

#include "gossip/messages.h"

namespace hearsay::gossip {

struct Address {
  Bytes ip;
  std::uint16_t port = 0;
  auto operator<=>(const Address&) const = default;
  bool empty() const { return ip.empty(); }
  std::string ip_text() const;    // "10.0.0.1", "fd00::1"
  std::string to_string() const;  // "10.0.0.1:8301", "[fd00::1]:8301"
};

}  // namespace hearsay::gossip

namespace hearsay::gossip {

// "10.0.0.1", "10.0.0.1:8301", "::1", "[::1]:8301" -> an Address (default_port when none is
// given); nullopt for anything else (host names are not resolved here).
std::optional<Address> parse_address(const std::string& text, std::uint16_t default_port);

}  // namespace hearsay::gossip
