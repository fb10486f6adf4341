// One gossip node, sans-I/O: SWIM membership, serf's layer on it and hearsay's catalog
// replication, and the routing between them that no single one of them owns:
// - user messages Membership does not know (kHearsayUserMessage) go to Replication;
// - Replication's peers are the hearsay members that are alive or suspect, updated with every
//   membership event;
// - a stream someone opens to us is answered by whichever layer its message is for;
// - the streams we open (push/pull, TCP fallback ping, replication sync) are kept by id with
//   their role, and their reply or failure goes back to the layer that asked;
// - everything to send and to act on comes out of one take_output(), and one deadline.
// The libuv shell (transport_uv.h) only moves bytes, seals and opens them; the simulators in
// tests/ drive many nodes over a virtual network with the same calls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gossip/membership/membership.h"
#include "gossip/replication/replication.h"
#include "gossip/serf/serf.h"
#include "gossip/wire/stream_message.h"

namespace hearsay::gossip {

struct NodeConfig {
  MembershipConfig membership;
  ReplicationConfig replication;  // its name is the membership's
  std::uint64_t seed = 0;         // each layer's randomness derives from it
};

// A TCP exchange the node starts: connect to `to`, send `request`, and report the reply
// (stream_reply) or why there is none (stream_failed) under `id`, once.
struct StreamOpen {
  std::uint64_t id = 0;
  Address to;
  Bytes request;              // plain and framed: the shell seals it when encrypting
  bool wants_reply = true;    // false: close once written (a one-way replication message)
  // Give up (and report a failure) by then; nullopt: the shell's own stream timeout.
  std::optional<Clock::time_point> deadline;
};

// How a join through one seed ended (Node::join): "" once the seed's state is merged.
struct JoinOutcome {
  std::uint64_t id = 0;
  Address seed;
  std::string error;
};

// The answer to the one message of a stream someone else opened.
struct StreamAnswer {
  std::optional<Bytes> reply;  // plain and framed; nullopt: close without one
  std::string refused;         // why the message was refused (the reply then says so), or ""
};

// Everything a node asks of its shell after an input, in the order to do it.
struct NodeOutput {
  std::vector<OutgoingPacket> packets;
  std::vector<StreamOpen> streams;
  std::vector<JoinOutcome> joins;
  std::vector<MemberEvent> events;
  std::vector<ReplicaChange> changes;             // for the application's copy of the state
  std::vector<SerfQuery> queries;                 // for this agent to answer (Serf::respond)
  std::vector<SerfQueryResponse> query_responses; // answers to our own queries
  std::vector<std::string> udp_silent;            // see Membership::take_udp_silent
  bool empty() const;
};

class Node {
 public:
  Node(NodeConfig config, Clock::time_point now);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The layers, for what only the application decides (leave, queries, publish, restore).
  // After driving one directly, take_output() has what it produced.
  Membership& membership() { return membership_; }
  const Membership& membership() const { return membership_; }
  Serf& serf() { return serf_; }
  const Serf& serf() const { return serf_; }
  Replication& replication() { return replication_; }
  const Replication& replication() const { return replication_; }

  // Joins through `seed`: a push/pull whose outcome comes out as a JoinOutcome with this id.
  std::uint64_t join(const Address& seed);

  // ---- Input.
  // One datagram, decrypted (CRC and compression still on).
  void receive_packet(const Address& from, const std::uint8_t* data, std::size_t size, Clock::time_point now);
  // Nothing listens at `to` any more (an ICMP port unreachable).
  void port_unreachable(const Address& to, Clock::time_point now);
  // The one message of a stream `peer` opened to us (decrypted and parsed, complete).
  StreamAnswer answer_stream(const Address& peer, const StreamMessage& message, Clock::time_point now);
  // The reply to a stream we opened (StreamOpen::id), or why there is none; for a one-way
  // stream (wants_reply false), that its message was written, or why not. Each id once;
  // unknown ids are ignored.
  void stream_reply(std::uint64_t id, const StreamMessage& reply, Clock::time_point now);
  void stream_written(std::uint64_t id);
  void stream_failed(std::uint64_t id, const std::string& why, Clock::time_point now);
  // Runs every layer's timers that are due. Call at next_deadline() or earlier.
  void tick(Clock::time_point now);

  // ---- Output.
  Clock::time_point next_deadline() const;
  NodeOutput take_output();
  std::size_t streams_open() const { return open_.size(); }

 private:
  // The roles of the streams we open, each with what its outcome needs.
  struct PushPullRole {
    bool join = false;
  };
  struct PingRole {
    std::uint32_t seq = 0;
  };
  struct ReplicationRole {
    Address peer;
  };
  using Role = std::variant<PushPullRole, PingRole, ReplicationRole>;

  std::uint64_t open(Role role, Address to, Bytes request, bool wants_reply,
                     std::optional<Clock::time_point> deadline);
  void finish_push_pull(std::uint64_t id, const PushPullRole& role, const Address& to, const std::string& error);
  void hand_app_messages_on(Clock::time_point now);
  void update_replication_peers();

  Membership membership_;
  Serf serf_;  // membership_'s delegate: declared after it, destroyed before it
  Replication replication_;
  std::uint64_t next_stream_id_ = 1;
  struct Open {
    Role role;
    Address to;
    bool wants_reply = true;
  };
  std::map<std::uint64_t, Open> open_;
  NodeOutput output_;  // streams and join outcomes gather here; the layers keep the rest
};

// Does this member run hearsay (it carries kHearsayTag), so that catalog traffic may go to it?
bool carries_hearsay_tag(const Member& member);

}  // namespace hearsay::gossip
