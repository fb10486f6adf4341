// The messages of hearsay's state replication (DESIGN.md, "Catalog replication") and their
// msgpack form. They travel only between hearsay agents, as memberlist user messages whose
// payload starts with kHearsayUserMessage: eager broadcasts by UDP (or by TCP when too large),
// and the anti-entropy exchange over one TCP stream (digest, reply, push).
// Decoding takes untrusted bytes: types and sizes are checked, failure is a value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gossip/wire/messages.h"

namespace hearsay::gossip {

// One owner-written value (or its tombstone) at one version. Keys and values are opaque here.
struct ReplicaEntry {
  std::string owner;
  std::string key;
  std::uint64_t generation = 0;  // the owner's epoch: a new one replaces all its older state
  std::uint64_t version = 0;     // the owner's counter at this write
  // In broadcasts: the owner's previously published version, so a receiver that has
  // everything up to `prev` knows it now has everything up to `version`. 0 elsewhere.
  std::uint64_t prev = 0;
  bool deleted = false;
  Bytes value;  // empty for tombstones
  bool operator==(const ReplicaEntry&) const = default;
};

// What a replica holds of one owner: everything it wrote up to `watermark`, in `generation`.
// `checksum` sums up which of its values are live up to the watermark (live_checksum in
// replication.h), so two replicas at the same mark that hold different things can tell.
struct OwnerMark {
  std::string owner;
  std::uint64_t generation = 0;
  std::uint64_t watermark = 0;
  std::uint64_t checksum = 0;
  bool operator==(const OwnerMark&) const = default;
};

// Entries of one owner sent by anti-entropy. With `full`, they are all the sender holds of the
// owner, so the receiver drops what it holds up to `mark.watermark` that is not among them.
struct OwnerBlock {
  OwnerMark mark;
  bool full = false;
  std::vector<ReplicaEntry> entries;
  bool operator==(const OwnerBlock&) const = default;
};

struct ReplicationMessage {
  enum class Kind : std::uint8_t {
    broadcast = 1,     // entries, eagerly spread
    sync_request = 2,  // digest (anti-entropy, first leg: TCP request)
    sync_reply = 3,    // blocks the requester lacks + where the responder's digest differs (same stream)
    push = 4,          // blocks the responder lacks (third leg, a one-way stream)
  } kind = Kind::broadcast;
  std::string from;  // the sending agent's node name
  std::vector<ReplicaEntry> entries;
  std::vector<OwnerMark> digest;
  std::vector<OwnerBlock> blocks;
  bool operator==(const ReplicationMessage&) const = default;
};

inline constexpr std::size_t kMaxReplicaKeyBytes = 1024;
inline constexpr std::size_t kMaxReplicaValueBytes = 512 * 1024;
inline constexpr std::size_t kMaxOwnerNameBytes = 512;

Bytes encode(const ReplicationMessage& message);
// One entry as it appears inside a broadcast's entry array, for assembling packets from
// separately queued entries (see encode_broadcast).
Bytes encode_entry(const ReplicaEntry& entry);
// A broadcast from already encoded entries.
Bytes encode_broadcast(const std::string& from, const std::vector<const Bytes*>& encoded_entries);

// Why bytes were refused, one kind per rule: each has its own counter (ReplicationStats).
enum class DecodeError : std::uint8_t {
  none,
  not_msgpack,           // truncated, not msgpack, or over a msgpack limit
  trailing_bytes,        // bytes after the message
  bad_shape,             // not the arrays of the wire form
  unknown_kind,
  bad_sender,
  bad_entry,             // a field of the wrong type, empty, or over its size limit
  out_of_order,          // version 0, or prev not below version
  tombstone_with_value,
  bad_mark,
  foreign_block_entry,   // a block entry of another owner or generation than its block's
};
inline constexpr std::size_t kDecodeErrorKinds = static_cast<std::size_t>(DecodeError::foreign_block_entry) + 1;
const char* to_string(DecodeError error);

// nullopt (with `error` set) for anything malformed or over a limit.
std::optional<ReplicationMessage> decode_replication(const std::uint8_t* data, std::size_t size, DecodeError& error);

}  // namespace hearsay::gossip
