// The frames of a remote session (docs/remote-mode.md): what a remote agent and a relay say to
// each other over one TLS stream. On the wire a frame is a 4-byte big-endian length (of what
// follows), one type byte, and a msgpack map. Decoding takes untrusted bytes: sizes and types
// are checked, a failure is a FrameError (one counter per kind), never an exception.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gossip/wire/messages.h"

namespace hearsay::remote {

using Bytes = gossip::Bytes;

inline constexpr std::uint32_t kProtocolVersion = 1;
// Largest frame (type byte and body) either side accepts; a full state goes in several frames.
inline constexpr std::size_t kMaxFrameBytes = 4 * 1024 * 1024;

// remote -> relay, first frame of a session.
struct Hello {
  std::uint32_t protocol = kProtocolVersion;
  std::string node;     // the remote's node name (its owner name in replication)
  std::string node_id;  // its node ID (UUID)
  std::string token;    // secret; never logged
  std::uint64_t started_us = 0;  // the remote process's start (wall clock, µs): newer session wins
  std::uint64_t attempt = 0;     // counts the remote's sessions since it started
  bool operator==(const Hello&) const = default;
};

// relay -> remote: the session is open.
struct Welcome {
  std::string relay;               // the relay's node name
  std::uint64_t session = 0;       // the relay's id for this session
  std::uint32_t keepalive_ms = 0;  // how often each side sends a ping when idle
  bool operator==(const Welcome&) const = default;
};

// relay -> remote: the session is refused (and closed). `reason` is for the remote's log.
struct Refuse {
  std::string reason;
  bool retry = true;  // false: retrying with the same token cannot help (unknown/revoked token)
  bool operator==(const Refuse&) const = default;
};

// Either way: one replication message (gossip/replication/replication_messages.h, encoded).
// Broadcast entries go with stream 0; an anti-entropy exchange numbers its legs: a message
// with `wants_reply` is answered by a frame with `reply_to` = its `stream`.
struct ReplicationFrame {
  std::uint64_t stream = 0;
  bool wants_reply = false;
  std::uint64_t reply_to = 0;
  Bytes message;
  bool operator==(const ReplicationFrame&) const = default;
};

// relay -> remote: the relay holds the remote's writes up to this mark (and has passed them on).
struct Ack {
  std::uint64_t generation = 0;
  std::uint64_t watermark = 0;
  bool operator==(const Ack&) const = default;
};

// Keepalive and round-trip time: a pong echoes the ping's `sent_us` (the sender's clock).
struct Ping {
  std::uint64_t sent_us = 0;
  bool operator==(const Ping&) const = default;
};
struct Pong {
  std::uint64_t echo_us = 0;
  bool operator==(const Pong&) const = default;
};

// remote -> relay: a graceful leave; the remote's records go at once everywhere.
struct Goodbye {
  bool operator==(const Goodbye&) const = default;
};

// relay -> remote: the relay's view of the gossip members, as memberlist's push/pull state
// (gossip/wire/codec.h encode_push_pull), at the welcome and after every change. The remote's
// mirror derives the LAN nodes' serfHealth from it and drops the records of members that left.
struct Members {
  Bytes state;
  bool operator==(const Members&) const = default;
};

using Frame = std::variant<Hello, Welcome, Refuse, ReplicationFrame, Ack, Ping, Pong, Goodbye, Members>;

// The type byte of each frame kind, in the variant's order from 1 (hello = 1 ... members = 9).
std::uint8_t frame_type(const Frame& frame);
const char* frame_name(const Frame& frame);  // "hello", ...

// The whole frame, length prefix included.
Bytes encode_frame(const Frame& frame);

enum class FrameError : std::uint8_t {
  none,
  too_large,      // a length prefix over kMaxFrameBytes (or 0: no type byte)
  unknown_type,
  not_msgpack,    // the body is no msgpack value, or is followed by trailing bytes
  bad_shape,      // not a map, a field missing or of the wrong type, a string over its limit
  count_
};
inline constexpr std::size_t kFrameErrors = static_cast<std::size_t>(FrameError::count_);
const char* frame_error_name(FrameError error);  // snake_case, for counters and logs

// One frame body (type byte and msgpack, without the length prefix).
std::optional<Frame> decode_frame_body(const std::uint8_t* data, std::size_t size, FrameError& error);

// Reassembles frames from a byte stream read in pieces.
class FrameReader {
 public:
  explicit FrameReader(std::size_t max_frame = kMaxFrameBytes) : max_frame_(max_frame) {}
  void feed(const std::uint8_t* data, std::size_t size);
  // The next complete frame; nullopt when more bytes are needed (error() none) or the stream
  // is broken (error() set; every later call returns nullopt: close the session).
  std::optional<Frame> next();
  FrameError error() const { return error_; }
  std::size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::size_t max_frame_;
  std::vector<std::uint8_t> buffer_;
  std::size_t offset_ = 0;
  FrameError error_ = FrameError::none;
};

}  // namespace hearsay::remote
