// The routing between a replication engine and a remote session, on both ends: what the
// libuv shells (remote/client_uv, remote/server_uv) and the agent do with replication frames.
// Pure (no I/O, no clock): it could move to remote/ as it is.
//
// Remote end (RemoteMirror): the mirror engine's one peer is the session (`relay_peer()`),
// set while the link is established, with a sync at once after each welcome.
//   engine -> link:
//     take_packets(): each datagram is a memberlist user message; its payload without the
//       leading kHearsayUserMessage byte goes up as ReplicationFrame{stream 0, no reply};
//     take_streams(): each leg goes up with a fresh stream id (from 1); a sync request
//       (wants_reply) is remembered by id until its reply, a push is not. A send refused (link
//       down) fails the leg at once (engine.stream_failed).
//   link -> engine:
//     reply_to != 0: the reply to our request `reply_to` -> engine.handle_stream (unknown or
//       stale ids ignored);
//     stream == 0: a broadcast -> engine.receive;
//     otherwise a leg the relay opened -> engine.handle_stream, its reply (if the frame
//       wants_reply) back as ReplicationFrame{0, no reply, reply_to = stream}.
//   A lost session fails every request awaiting its reply, and the engine has no peer until
//   the next welcome.
// Relay end (RelayForward), for each RelaySession event `replication` (already checked):
//     reply_to != 0: dropped (the relay asks the remote nothing);
//     stream == 0 and no reply wanted: engine.receive (a broadcast);
//     otherwise engine.handle_stream; when the frame wants_reply, the engine's reply goes back
//       as ReplicationFrame{0, no reply, reply_to = stream}. A push (the remote's writes the
//       relay lacked: made offline, or lost with a relay that died) goes in as a broadcast of
//       its entries first, so the LAN gets them by gossip, not only by its own anti-entropy
//       (see spread_push).
//   After each: an Ack of the remote's mark in the relay's replica, when it moved.
//   Down to the remote: the relay engine's changes (take_changes) and the relay's own writes,
//   as broadcast entries, the remote's own left out. A change carries no prev link, so it goes
//   with prev = version - 1: true for any integer versions (nothing lies between), so the
//   remote's watermark moves only when it holds everything before; anti-entropy (the remote's
//   syncs) fills the rest.
#pragma once

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gossip/membership/membership.h"
#include "gossip/replication/replication.h"
#include "gossip/wire/codec.h"
#include "remote/link.h"
#include "remote/relay_session.h"

namespace hearsay::remote::route {

// A replication datagram's message: memberlist's user message unwrapped, without the leading
// kHearsayUserMessage byte (what Membership hands to Node for the engine).
inline std::optional<Bytes> datagram_message(const Bytes& packet) {
  gossip::DecodeResult d = gossip::decode(packet.data(), packet.size());
  if (!d.message) return std::nullopt;
  const auto* user = std::get_if<gossip::UserMessage>(&*d.message);
  if (!user || user->payload.empty() || user->payload[0] != gossip::kHearsayUserMessage) return std::nullopt;
  return Bytes(user->payload.begin() + 1, user->payload.end());
}

class RemoteMirror {
 public:
  explicit RemoteMirror(gossip::Replication& engine) : engine_(engine) { engine_.set_peers({}); }

  // The session, as the mirror engine's one peer.
  static gossip::Address relay_address() { return gossip::Address{Bytes{127, 0, 0, 2}, 8302}; }
  static gossip::ReplicationPeer relay_peer() { return {"relay", relay_address()}; }

  void on_event(const LinkEvent& e, Clock::time_point now) {
    switch (e.kind) {
      case LinkEvent::Kind::established:
        engine_.set_peers({relay_peer()});
        engine_.sync_soon();
        break;
      case LinkEvent::Kind::lost:
      case LinkEvent::Kind::refused:
      case LinkEvent::Kind::attempt_failed:
        disconnected();
        break;
      case LinkEvent::Kind::replication:
        receive(e.replication, now);
        break;
      case LinkEvent::Kind::ack:
      case LinkEvent::Kind::members:
        break;
    }
  }

  // The engine's output onto the link; call after anything that may have touched the engine.
  void flush(Link& link) {
    for (ReplicationFrame& f : std::exchange(replies_, {})) link.send(std::move(f));
    for (const gossip::OutgoingPacket& p : engine_.take_packets()) {
      if (auto message = datagram_message(p.packet)) link.send(ReplicationFrame{0, false, 0, std::move(*message)});
    }
    for (gossip::StreamSend& s : engine_.take_streams()) {
      const std::uint64_t id = next_stream_++;
      if (!link.send(ReplicationFrame{id, s.wants_reply, 0, std::move(s.payload)})) {
        if (s.wants_reply) engine_.stream_failed(s.to);
        continue;
      }
      if (s.wants_reply) awaiting_.insert(id);
    }
  }

  std::size_t awaiting_replies() const { return awaiting_.size(); }

 private:
  void receive(const ReplicationFrame& f, Clock::time_point now) {
    if (f.reply_to != 0) {
      if (awaiting_.erase(f.reply_to) > 0) {
        (void)engine_.handle_stream(relay_address(), f.message.data(), f.message.size(), now);
      }
      return;
    }
    if (f.stream == 0) return engine_.receive(relay_address(), f.message.data(), f.message.size(), now);
    auto reply = engine_.handle_stream(relay_address(), f.message.data(), f.message.size(), now);
    if (f.wants_reply && reply) replies_.push_back(ReplicationFrame{0, false, f.stream, std::move(*reply)});
  }
  void disconnected() {
    engine_.set_peers({});
    for (std::size_t i = 0; i < awaiting_.size(); ++i) engine_.stream_failed(relay_address());
    awaiting_.clear();
    replies_.clear();
  }

  gossip::Replication& engine_;
  std::uint64_t next_stream_ = 1;
  std::set<std::uint64_t> awaiting_;  // our sync requests, by stream id
  std::vector<ReplicationFrame> replies_;
};

class RelayForward {
 public:
  // `remote`: the session's address as the relay engine sees it (any address unique to it).
  RelayForward(gossip::Replication& engine, std::string relay_name, gossip::Address remote)
      : engine_(engine), relay_name_(std::move(relay_name)), remote_(std::move(remote)) {}

  void on_event(const RelayEvent& e, RelaySession& session, Clock::time_point now) {
    if (e.kind != RelayEvent::Kind::replication) return;  // opened, goodbye: the agent's records
    const ReplicationFrame& f = e.replication;
    if (f.reply_to != 0) return;
    if (f.stream == 0 && !f.wants_reply) {
      engine_.receive(remote_, f.message.data(), f.message.size(), now);
    } else {
      spread_push(f.message, now);
      auto reply = engine_.handle_stream(remote_, f.message.data(), f.message.size(), now);
      if (f.wants_reply && reply) session.send(ReplicationFrame{0, false, f.stream, std::move(*reply)});
    }
    ack(session);
  }

  // The remote's mark in the relay's replica, when it moved: an Ack (the remote's "writes not
  // yet acknowledged" count down from it).
  void ack(RelaySession& session) {
    for (const gossip::OwnerMark& m : engine_.digest()) {
      if (m.owner != session.hello().node) continue;
      const Ack a{m.generation, m.watermark};
      if (acked_ != a && session.send_ack(a)) acked_ = a;
    }
  }

  // A push carries the remote's writes the relay lacked (made offline, or lost with another
  // relay). The engine applies a push's blocks without passing them on, so the LAN would get
  // them only from its own anti-entropy: they go into the engine as a broadcast first (prev =
  // version - 1, news then, gossiped on), and the push after it moves the remote's mark.
  void spread_push(const Bytes& message, Clock::time_point now) {
    gossip::DecodeError error = gossip::DecodeError::none;
    auto m = gossip::decode_replication(message.data(), message.size(), error);
    if (!m || m->kind != gossip::ReplicationMessage::Kind::push) return;
    gossip::ReplicationMessage b{gossip::ReplicationMessage::Kind::broadcast, m->from, {}, {}, {}};
    for (gossip::OwnerBlock& block : m->blocks) {
      for (gossip::ReplicaEntry& e : block.entries) b.entries.push_back(std::move(e));
    }
    if (b.entries.empty()) return;
    std::sort(b.entries.begin(), b.entries.end(),
              [](const gossip::ReplicaEntry& x, const gossip::ReplicaEntry& y) { return x.version < y.version; });
    for (gossip::ReplicaEntry& e : b.entries) e.prev = e.version - 1;
    const Bytes encoded = gossip::encode(b);
    engine_.receive(remote_, encoded.data(), encoded.size(), now);
  }

  // Changes of the relay's replica (take_changes), down to the remote.
  void forward(const std::vector<gossip::ReplicaChange>& changes, RelaySession& session) {
    std::vector<gossip::ReplicaEntry> entries;
    for (const gossip::ReplicaChange& c : changes) {
      entries.push_back(gossip::ReplicaEntry{c.owner, c.key, c.generation, c.version, 0, c.deleted, c.value});
    }
    forward(std::move(entries), session);
  }
  // Entries (the relay's own writes, say): prev links replaced by version - 1 (see the top).
  void forward(std::vector<gossip::ReplicaEntry> entries, RelaySession& session) {
    if (!session.open()) return;
    gossip::ReplicationMessage m{gossip::ReplicationMessage::Kind::broadcast, relay_name_, {}, {}, {}};
    std::size_t bytes = 0;
    auto send = [&] {
      if (m.entries.empty()) return;
      session.send(ReplicationFrame{0, false, 0, gossip::encode(m)});
      m.entries.clear();
      bytes = 0;
    };
    for (gossip::ReplicaEntry& e : entries) {
      if (e.owner == session.hello().node || e.version == 0) continue;
      e.prev = e.version - 1;
      if (e.deleted) e.value.clear();
      bytes += e.key.size() + e.value.size() + e.owner.size() + 32;
      m.entries.push_back(std::move(e));
      if (bytes > 256 * 1024) send();
    }
    send();
  }

 private:
  gossip::Replication& engine_;
  std::string relay_name_;
  gossip::Address remote_;
  Ack acked_{};
};

}  // namespace hearsay::remote::route
