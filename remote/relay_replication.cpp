// The relay's side of remote replication (relay_replication.h).
#include "remote/relay_replication.h"

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
    std::optional<gossip::Bytes> reply = engine_.handle_stream(peer_of(id), frame.message.data(), frame.message.size(), now);
    if (frame.wants_reply && reply) o.session->send(ReplicationFrame{0, false, frame.stream, std::move(*reply)});
  }
  ack(o);
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
