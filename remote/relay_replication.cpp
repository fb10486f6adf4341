// The relay's side of remote replication (relay_replication.h).
#include "remote/relay_replication.h"

#include <algorithm>

namespace hearsay::remote {
namespace {
// A frame of entries going down stays well under the frame limit.
constexpr std::size_t kDownFrameBudget = 256 * 1024;
}  // namespace

gossip::Address RelayReplication::peer_of(std::uint64_t id) {
  // Never a real address: 0.0.0.0 with the session's id in the port (the engine keys the
  // sync legs it awaits by address, and the relay never starts one with a remote).
  return gossip::Address{gossip::Bytes{0, 0, 0, 0}, static_cast<std::uint16_t>(2 + id % 65000)};
}

void RelayReplication::opened(std::uint64_t id, RelaySession& session) {
  Open& o = sessions_[id];
  o.session = &session;
  o.remote = session.hello().node;
}

void RelayReplication::closed(std::uint64_t id) { sessions_.erase(id); }

void RelayReplication::received(std::uint64_t id, const ReplicationFrame& frame, Clock::time_point now) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  Open& o = it->second;
  if (frame.stream == 0 && frame.reply_to == 0) {
    engine_.receive(peer_of(id), frame.message.data(), frame.message.size(), now);
  } else if (frame.reply_to == 0) {
    const gossip::Bytes* message = &frame.message;
    gossip::Bytes rewritten;
    gossip::DecodeError error = gossip::DecodeError::none;
    if (auto m = gossip::decode_replication(frame.message.data(), frame.message.size(), error)) {
      if (m->kind == gossip::ReplicationMessage::Kind::push) {
        if (auto b = push_as_broadcast(*m)) engine_.receive(peer_of(id), b->data(), b->size(), now);
      } else if (m->kind == gossip::ReplicationMessage::Kind::sync_request) {
        if (auto r = without_claims_on_us(std::move(*m))) rewritten = std::move(*r), message = &rewritten;
      }
    }
    std::optional<gossip::Bytes> reply = engine_.handle_stream(peer_of(id), message->data(), message->size(), now);
    if (frame.wants_reply && reply) o.session->send(ReplicationFrame{0, false, frame.stream, std::move(*reply)});
  }
  ack(o);
}

std::optional<gossip::Bytes> RelayReplication::push_as_broadcast(const gossip::ReplicationMessage& push) {
  gossip::ReplicationMessage b;
  b.kind = gossip::ReplicationMessage::Kind::broadcast;
  b.from = push.from;
  for (const gossip::OwnerBlock& block : push.blocks) {
    for (const gossip::ReplicaEntry& e : block.entries) b.entries.push_back(e);
  }
  if (b.entries.empty()) return std::nullopt;
  std::sort(b.entries.begin(), b.entries.end(),
            [](const gossip::ReplicaEntry& x, const gossip::ReplicaEntry& y) { return x.version < y.version; });
  for (gossip::ReplicaEntry& e : b.entries) e.prev = e.version - 1;
  return gossip::encode(b);
}

std::optional<gossip::Bytes> RelayReplication::without_claims_on_us(gossip::ReplicationMessage request) const {
  const auto own = engine_.mark(relay_);
  bool changed = false;
  for (gossip::OwnerMark& m : request.digest) {
    if (m.owner != relay_) continue;
    const bool beyond = !own || m.generation > own->generation ||
                        (m.generation == own->generation && m.watermark > own->watermark);
    if (beyond) {
      m.generation = 0, m.watermark = 0, m.checksum = 0;
      changed = true;
    }
  }
  if (!changed) return std::nullopt;
  return gossip::encode(request);
}

void RelayReplication::ack(Open& o) {
  auto mark = engine_.mark(o.remote);
  if (!mark || (mark->generation == o.acked.generation && mark->watermark == o.acked.watermark)) return;
  if (o.session->send_ack(Ack{mark->generation, mark->watermark})) o.acked = *mark;
}

void RelayReplication::news(const gossip::ReplicaEntry& entry) {
  for (auto& [id, o] : sessions_) {
    if (entry.owner == o.remote) continue;  // it came from there
    o.pending.push_back(gossip::encode_entry(entry));
    o.pending_bytes += o.pending.back().size();
    if (o.pending_bytes >= kDownFrameBudget) {
      std::vector<const gossip::Bytes*> entries;
      for (const gossip::Bytes& e : o.pending) entries.push_back(&e);
      o.session->send(ReplicationFrame{0, false, 0, gossip::encode_broadcast(relay_, entries)});
      o.pending.clear();
      o.pending_bytes = 0;
    }
  }
}

void RelayReplication::flush() {
  for (auto& [id, o] : sessions_) {
    if (o.pending.empty()) continue;
    std::vector<const gossip::Bytes*> entries;
    for (const gossip::Bytes& e : o.pending) entries.push_back(&e);
    o.session->send(ReplicationFrame{0, false, 0, gossip::encode_broadcast(relay_, entries)});
    o.pending.clear();
    o.pending_bytes = 0;
  }
}

}  // namespace hearsay::remote
