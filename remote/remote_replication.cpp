// The remote's replication over its link (remote_replication.h).
#include "remote/remote_replication.h"

#include <variant>

#include "gossip/wire/codec.h"

namespace hearsay::remote {

std::optional<gossip::Bytes> unwrap_replication_packet(const gossip::Bytes& packet) {
  gossip::DecodeResult r = gossip::decode(packet.data(), packet.size());
  const auto* user = r.message ? std::get_if<gossip::UserMessage>(&*r.message) : nullptr;
  if (!user || user->payload.empty() || user->payload[0] != gossip::kHearsayUserMessage) return std::nullopt;
  return gossip::Bytes(user->payload.begin() + 1, user->payload.end());
}

bool RemoteReplication::link_event(const LinkEvent& event, Clock::time_point now) {
  switch (event.kind) {
    case LinkEvent::Kind::established: established(event.relay); return false;
    case LinkEvent::Kind::lost:
    case LinkEvent::Kind::refused:
    case LinkEvent::Kind::attempt_failed: lost(); return false;
    case LinkEvent::Kind::replication: received(event.replication, now); return true;
    case LinkEvent::Kind::ack:
    case LinkEvent::Kind::members: return false;
  }
  return false;
}

void RemoteReplication::established(const std::string& relay) {
  engine_.set_peers({gossip::ReplicationPeer{relay, kRelayPeer}});
  engine_.sync_soon();
}

void RemoteReplication::lost() {
  for (std::size_t i = 0; i < awaiting_reply_.size(); ++i) engine_.stream_failed(kRelayPeer);
  awaiting_reply_.clear();
  engine_.set_peers({});
}

void RemoteReplication::received(const ReplicationFrame& frame, Clock::time_point now) {
  if (frame.reply_to != 0) {
    // The answer to one of our legs; an answer nobody waits for (a leg failed at a session's
    // end, answered late) is dropped.
    if (awaiting_reply_.erase(frame.reply_to) == 0) {
      ++frames_dropped_;
      return;
    }
    (void)engine_.handle_stream(kRelayPeer, frame.message.data(), frame.message.size(), now);
    return;
  }
  if (frame.stream == 0) {
    engine_.receive(kRelayPeer, frame.message.data(), frame.message.size(), now);
    return;
  }
  // A leg the relay opened: answered on the session when it wants a reply.
  std::optional<gossip::Bytes> reply = engine_.handle_stream(kRelayPeer, frame.message.data(), frame.message.size(), now);
  if (frame.wants_reply && reply) {
    if (!link_.send(ReplicationFrame{0, false, frame.stream, std::move(*reply)})) ++frames_dropped_;
  }
}

void RemoteReplication::pump() {
  for (gossip::OutgoingPacket& p : engine_.take_packets()) {
    auto message = unwrap_replication_packet(p.packet);
    if (!message || !link_.send(ReplicationFrame{0, false, 0, std::move(*message)})) ++frames_dropped_;
  }
  for (gossip::StreamSend& s : engine_.take_streams()) {
    const std::uint64_t stream = next_stream_++;
    if (!link_.send(ReplicationFrame{stream, s.wants_reply, 0, std::move(s.payload)})) {
      ++frames_dropped_;
      if (s.wants_reply) engine_.stream_failed(kRelayPeer);
      continue;
    }
    if (s.wants_reply) awaiting_reply_.insert(stream);
  }
}

}  // namespace hearsay::remote
