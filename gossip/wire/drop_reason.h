// Why received gossip bytes were not acted on: one kind per reason, so each is counted on its
// own (MembershipStats::dropped, exported as hearsay.gossip.dropped.<name>) and an operator
// can tell a wrong key or a broken peer from a version skew at a glance. The decoders return
// these instead of text; the text for a log line or an err reply comes from drop_reason_name.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace hearsay::gossip {

enum class DropReason : std::uint8_t {
  none,
  // The wire (gossip/wire/).
  truncated,          // input ends inside a message, a compound or a CRC header
  bad_crc,            // a has-CRC packet whose checksum does not match
  bad_compression,    // a compress wrapper or LZW data that does not decode
  too_deep,           // framing nested beyond what a sender produces
  misplaced_framing,  // has-CRC or encrypt inside a packet, compress inside compress
  not_msgpack,        // a message body that is no msgpack value
  wrong_field_type,   // a field present with a value of the wrong kind
  invalid_field,      // a value out of its range: Vsn, an address's length, Meta's size, a state
  unknown_type,       // a message type we do not take here
  // The rules (gossip/membership/).
  unusable_address,   // no IPv4/IPv6 address, or port 0: nothing we could ever send to
  not_for_us,         // a ping for another name, an err reply by datagram
  address_conflict,   // a member's name with another address, while it has not left
  count_
};

inline constexpr std::size_t kDropReasons = static_cast<std::size_t>(DropReason::count_);
using DropCounts = std::array<std::uint64_t, kDropReasons>;

// Snake-case, as the metric names use them ("bad_crc").
const char* drop_reason_name(DropReason reason);

}  // namespace hearsay::gossip
