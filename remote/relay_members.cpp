// The remote's view of the gossip members, from its relay's Members frames (relay_members.h).
#include "remote/relay_members.h"

#include <algorithm>
#include <set>

#include "gossip/wire/codec.h"

namespace hearsay::remote {

RelayMembers::Update RelayMembers::received(const gossip::Bytes& state, const std::string& relay,
                                            gossip::Clock::time_point now) {
  Update update;
  // encode_push_pull's bytes: the message type, then the push/pull; nothing after it.
  gossip::PushPullResult decoded;
  if (!state.empty() && state[0] == static_cast<std::uint8_t>(gossip::MessageType::push_pull)) {
    decoded = gossip::decode_push_pull(state.data() + 1, state.size() - 1);
  }
  if (!decoded.message || decoded.consumed != state.size() - 1) {
    ++stats_.frames_undecodable;
    return update;
  }
  ++stats_.frames;
  std::set<std::string> listed;
  for (const gossip::PushNodeState& n : decoded.message->nodes) {
    if (n.name == config_.self || n.name.empty()) continue;
    listed.insert(n.name);
    Known& k = known_[n.name];
    k.incarnation = std::max(k.incarnation, n.incarnation);
    k.state = n.state;
    if (k.absent_since) {
      k.absent_since.reset();
      ++stats_.absences_cancelled;
    }
    switch (n.state) {
      case gossip::NodeState::alive:
      case gossip::NodeState::suspect:
        // Suspect goes in as alive: the remote probes nobody, and the relay's next frame says
        // dead if the suspicion was right.
        update.messages.push_back(gossip::Alive{n.incarnation, n.name, n.addr, n.port, n.meta, n.vsn});
        break;
      case gossip::NodeState::dead:
        // Dead from someone else is a failure (from us: never a member's name); from itself, a leave.
        update.messages.push_back(gossip::Dead{n.incarnation, n.name, config_.self});
        break;
      case gossip::NodeState::left: update.messages.push_back(gossip::Dead{n.incarnation, n.name, n.name}); break;
    }
  }
  if (!relay.empty() && !listed.contains(relay)) {
    ++stats_.frames_partial;  // not the relay's full list: nobody is missing from it
    return update;
  }
  for (auto it = known_.begin(); it != known_.end();) {
    auto next = std::next(it);
    Known& k = it->second;
    if (!listed.contains(it->first)) {
      const bool gone = k.state == gossip::NodeState::dead || k.state == gossip::NodeState::left;
      if (gone || absent_too_long(k, now)) {
        forget(it, update);
      } else if (!k.absent_since) {
        k.absent_since = now;
      }
    }
    it = next;
  }
  return update;
}

RelayMembers::Update RelayMembers::tick(gossip::Clock::time_point now) {
  Update update;
  for (auto it = known_.begin(); it != known_.end();) {
    auto next = std::next(it);
    if (absent_too_long(it->second, now)) forget(it, update);
    it = next;
  }
  return update;
}

gossip::Clock::time_point RelayMembers::next_deadline() const {
  gossip::Clock::time_point next = gossip::Clock::time_point::max();
  for (const auto& [name, k] : known_) {
    if (k.absent_since) next = std::min(next, *k.absent_since + config_.absent_grace);
  }
  return next;
}

void RelayMembers::forget(std::map<std::string, Known>::iterator it, Update& update) {
  const Known& k = it->second;
  // A member last seen alive is reported failed first: its health turns critical and its
  // records are reaped later, as on a LAN agent that saw it fail (whether it failed or left
  // while we were away, we cannot tell; failed keeps its records the longer).
  if (k.state == gossip::NodeState::alive || k.state == gossip::NodeState::suspect) {
    update.messages.push_back(gossip::Dead{k.incarnation, it->first, config_.self});
  }
  update.forget.push_back(it->first);
  ++stats_.forgotten;
  known_.erase(it);
}

}  // namespace hearsay::remote
