// memberlist's messages as plain data (memberlist-wire.md section 4). Field names follow the
// Go structs they travel as; byte fields (addresses, meta, payloads) are byte strings.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace hearsay::gossip {

using Bytes = std::vector<std::uint8_t>;

// The first byte of every message (memberlist-wire.md 3.1).
enum class MessageType : std::uint8_t {
  ping = 0,
  indirect_ping = 1,
  ack = 2,
  suspect = 3,
  alive = 4,
  dead = 5,
  push_pull = 6,
  compound = 7,
  user = 8,
  compress = 9,
  encrypt = 10,
  nack = 11,
  has_crc = 12,
  err = 13,
};

// Node states as push/pull carries them.
enum class NodeState : std::uint8_t { alive = 0, suspect = 1, dead = 2, left = 3 };

// PMin, PMax, PCur, DMin, DMax, DCur, exactly 6 bytes on the wire (memberlist-wire.md 1).
inline const Bytes kVersions{1, 5, 2, 2, 5, 5};

// A Vsn memberlist can use: 6 bytes with a sane protocol range (a shorter one crashes serf
// 0.9.4 when relayed). Checked wherever a Vsn enters from the network.
inline bool valid_versions(const Bytes& vsn) { return vsn.size() == 6 && vsn[0] != 0 && vsn[1] != 0 && vsn[0] <= vsn[1]; }

struct Ping {
  std::string node;  // intended recipient; empty for "whoever listens here"
  std::uint32_t seq_no = 0;
  Bytes source_addr;  // omitted when empty
  std::string source_node;
  std::uint16_t source_port = 0;
};

struct IndirectPing {
  bool nack = false;
  std::string node;  // the target's name
  std::uint16_t port = 0;
  std::uint32_t seq_no = 0;  // the requester's
  Bytes source_addr;
  std::string source_node;
  std::uint16_t source_port = 0;
  Bytes target;  // the target's IP
};

struct Ack {
  std::uint32_t seq_no = 0;
  Bytes payload;  // empty: nil on the wire
};

struct Nack {
  std::uint32_t seq_no = 0;
};

struct Suspect {
  std::uint32_t incarnation = 0;
  std::string node;
  std::string from;
};

struct Dead {
  std::uint32_t incarnation = 0;
  std::string node;
  std::string from;  // == node: a voluntary leave
};

struct Alive {
  std::uint32_t incarnation = 0;
  std::string node;
  Bytes addr;  // 4 bytes for IPv4, 16 for IPv6
  std::uint16_t port = 0;
  Bytes meta;  // at most 512 bytes
  Bytes vsn = kVersions;
};

struct UserMessage {
  Bytes payload;  // opaque to memberlist
};

struct ErrorMessage {
  std::string error;
};

using Message = std::variant<Ping, IndirectPing, Ack, Nack, Suspect, Alive, Dead, UserMessage, ErrorMessage>;

// Push/pull (TCP only): a header, the sender's whole node list, then opaque user state.
struct PushNodeState {
  std::string name;
  Bytes addr;
  std::uint16_t port = 0;
  Bytes meta;
  std::uint32_t incarnation = 0;
  NodeState state = NodeState::alive;
  Bytes vsn = kVersions;
};

struct PushPull {
  bool join = false;
  std::vector<PushNodeState> nodes;
  Bytes user_state;
};

}  // namespace hearsay::gossip
