// The relay's side of remote replication (sans-I/O): what the relay's engine does with its
// remote sessions, which are not gossip peers.
// - Up: a session's checked replication frames go into the engine as if they came by gossip
//   (a broadcast to Replication::receive, a sync leg to handle_stream, its reply back down);
//   the engine then spreads them in the LAN. A push (the remote's writes the relay lacked: made
//   offline, or lost with another relay) goes in as a broadcast first, since the engine passes
//   a push's blocks on to nobody. After each, the remote hears how far the relay holds its
//   writes (an Ack), when that moved.
// - A sync request may not claim more of the relay's own state than the relay has made: the
//   engine would take that as lost writes of its own and start a new generation, which a remote
//   could then force again and again. Such a mark is replaced by "unknown" (a full state of the
//   relay's own few records comes back instead).
// - Down: every entry the engine broadcasts (our writes and the news we pass on, with their
//   prev links, so the remote's mirror advances along the chain) goes to every open session
//   but the one whose remote wrote it, batched into one frame per flush.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gossip/replication/replication.h"
#include "remote/relay_session.h"

namespace hearsay::remote {

class RelayReplication {
 public:
  RelayReplication(gossip::Replication& engine, std::string relay) : engine_(engine), relay_(std::move(relay)) {}

  // Sessions come and go by the caller's id; the session object must outlive its entry.
  void opened(std::uint64_t id, RelaySession& session);
  void closed(std::uint64_t id);

  // A checked frame from session `id`.
  void received(std::uint64_t id, const ReplicationFrame& frame, Clock::time_point now);
  // The engine's news (Replication::set_on_news).
  void news(const gossip::ReplicaEntry& entry);
  // Sends what gathered for each session (call once per loop turn, after the engine ran).
  void flush();

  std::size_t sessions() const { return sessions_.size(); }

 private:
  struct Open {
    RelaySession* session = nullptr;
    std::string remote;
    std::vector<gossip::Bytes> pending;  // encoded entries, in order
    std::size_t pending_bytes = 0;
    gossip::OwnerMark acked;
  };
  void ack(Open& open);
  // The entries of a push, as a broadcast (prev = version - 1: the watermark moves only when
  // nothing is missing), in version order.
  static std::optional<gossip::Bytes> push_as_broadcast(const gossip::ReplicationMessage& push);
  // A sync request with any mark of ours beyond our own made unknown; nullopt: unchanged.
  std::optional<gossip::Bytes> without_claims_on_us(gossip::ReplicationMessage request) const;
  static gossip::Address peer_of(std::uint64_t id);

  gossip::Replication& engine_;
  std::string relay_;
  std::map<std::uint64_t, Open> sessions_;
};

}  // namespace hearsay::remote
