// A member's gossip endpoint: IP bytes as they travel in messages (4 for IPv4, 16 for IPv6)
// and a port. The same address for UDP and TCP, as in memberlist.
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <optional>
#include <cstdint>
#include <string>

#include "gossip/wire/messages.h"

namespace hearsay::gossip {

// An address a datagram can go to: an IPv4 or IPv6 address and a port. Addresses inside
// messages come from the network and may be anything (membership_fuzz).
inline bool usable_address(const Bytes& ip, std::uint16_t port) { return (ip.size() == 4 || ip.size() == 16) && port != 0; }

// An IP address's bytes as they travel (4 for IPv4, 16 for IPv6), stored inline: no
// allocation, and Membership, which compares a member's address for every alive message it
// handles, reads it without chasing a pointer. At most kMaxSize bytes: the decoder refuses
// longer ones (codec.cpp), so nothing longer reaches an Address.
class IpBytes {
 public:
  static constexpr std::size_t kMaxSize = 16;
  IpBytes() = default;
  IpBytes(const Bytes& bytes) { assign(bytes.begin(), bytes.end()); }  // NOLINT: implicit, as the Bytes it replaces
  template <typename It>
  void assign(It first, It last) {
    size_ = static_cast<std::uint8_t>(std::min<std::size_t>(static_cast<std::size_t>(last - first), kMaxSize));
    std::copy(first, first + size_, bytes_.begin());
  }
  operator Bytes() const { return Bytes(begin(), end()); }  // NOLINT: message fields are Bytes

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::uint8_t* data() const { return bytes_.data(); }
  const std::uint8_t* begin() const { return bytes_.data(); }
  const std::uint8_t* end() const { return bytes_.data() + size_; }
  std::uint8_t operator[](std::size_t i) const { return bytes_[i]; }
  bool equals(const Bytes& other) const { return std::equal(begin(), end(), other.begin(), other.end()); }

  bool operator==(const IpBytes& o) const { return std::equal(begin(), end(), o.begin(), o.end()); }
  // The order std::vector had: byte by byte, then the shorter first.
  std::strong_ordering operator<=>(const IpBytes& o) const {
    return std::lexicographical_compare_three_way(begin(), end(), o.begin(), o.end());
  }

 private:
  std::array<std::uint8_t, kMaxSize> bytes_{};
  std::uint8_t size_ = 0;
};

struct Address {
  IpBytes ip;
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
