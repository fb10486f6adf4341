// The remote's replication over its link (sans-I/O): the remote agent's engine sees the relay
// of the current session as its one peer, at a placeholder address, and this class carries the
// engine's traffic to that peer over the session instead of UDP and TCP:
// - a broadcast datagram (a memberlist user message holding a replication broadcast) goes as
//   a ReplicationFrame with stream 0;
// - an anti-entropy leg the engine opens (a sync request wanting a reply, or a one-way push)
//   goes as a frame with a fresh stream number; the relay's answer comes back with reply_to =
//   that number and is handed to the engine as the stream's reply;
// - frames from the relay: broadcasts to Replication::receive, sync legs to handle_stream;
// - when the session ends, the legs still waiting fail (the engine tries again later), and
//   the peer goes until the next welcome, which starts an exchange at once (a resumed mirror
//   sends only what changed since the marks both sides hold).
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "gossip/replication/replication.h"
#include "remote/link.h"

namespace hearsay::remote {

// Where the engine believes its relay peer lives: never a real address.
inline const gossip::Address kRelayPeer{gossip::Bytes{0, 0, 0, 0}, 1};

class RemoteReplication {
 public:
  RemoteReplication(gossip::Replication& engine, Link& link) : engine_(engine), link_(link) {}

  // Every link event goes here first (the shell and the simulator hand over all of them):
  // a welcome makes the relay the engine's peer and starts an exchange; the end of a session
  // (lost, or refused: a relay ends an established session with a refusal when the token is
  // revoked) fails the legs in flight and takes the peer away; replication frames go to the
  // engine. True when the event was a replication frame (nothing else to do with it).
  bool link_event(const LinkEvent& event, Clock::time_point now);
  // The parts of link_event, for tests.
  void established(const std::string& relay);
  void lost();
  void received(const ReplicationFrame& frame, Clock::time_point now);
  // Moves what the engine wants sent onto the link (call after driving the engine). While no
  // session is up the engine has no peer and sends nothing; what it asked before the loss is
  // dropped here and failed, and anti-entropy after the next welcome repairs it.
  void pump();

  std::uint64_t frames_dropped() const { return frames_dropped_; }

 private:
  gossip::Replication& engine_;
  Link& link_;
  std::uint64_t next_stream_ = 1;
  std::set<std::uint64_t> awaiting_reply_;
  std::uint64_t frames_dropped_ = 0;
};

// The replication message inside an engine datagram (a memberlist user message starting with
// kHearsayUserMessage), or nullopt for anything else.
std::optional<gossip::Bytes> unwrap_replication_packet(const gossip::Bytes& packet);

}  // namespace hearsay::remote
