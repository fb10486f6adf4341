// The remote's view of the gossip members, from its relay's Members frames (sans-I/O). A
// remote is no gossip member: its Membership is never ticked and hears only what this class
// makes of the frames, so nothing would ever leave its member list without it.
//
// A Members frame is the relay's full member list, as `hearsay members` shows it there: every
// member of its table (memberlist's push/pull state) and the failed members it keeps listing
// after memberlist dropped them, until its reconnect_timeout. Each frame turns into
// - for each member listed: an Alive (alive, suspect) or a Dead (dead: failed; left: from
//   itself), which the remote's Membership applies by its usual incarnation rules;
// - for each member the remote knows and the frame lacks:
//   - last seen dead or left: forgotten now (the relay reaped it: there is nothing else to wait
//     for, and the remote has no timer of its own that would reap it);
//   - last seen alive or suspect: absent since now, and forgotten (reported failed first, so
//     its health and records go as a LAN agent's would) only when still missing after
//     `absent_grace`. A frame can lack a live member without it being gone: a relay that has
//     just (re)joined lists only what its join brought so far, and after a failover the new
//     relay may be a push/pull behind the old one. A frame that lists it again in time cancels
//     the absence: no flapping.
// A frame that does not decode, or that does not list its relay itself (every member's list
// holds itself: such a frame is no full view), is counted and changes nothing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gossip/membership/config.h"
#include "gossip/wire/messages.h"

namespace hearsay::remote {

struct RelayMembersConfig {
  // The remote's own name: never in a relay's list (ignored if it is), and the `from` of the
  // failures reported (a member's own name there would mean a leave).
  std::string self;
  // How long a member last seen alive may be missing from every frame before it is forgotten:
  // two of memberlist's push/pull intervals (30 s), time for a relay that just joined to learn
  // the whole cluster.
  gossip::Duration absent_grace{60000};
};

struct RelayMembersStats {
  std::uint64_t frames = 0;            // applied
  std::uint64_t frames_undecodable = 0;
  std::uint64_t frames_partial = 0;    // not listing their relay: absences not acted on
  std::uint64_t forgotten = 0;         // members dropped from the remote's list
  std::uint64_t absences_cancelled = 0;  // absent, then listed again within the grace
};

class RelayMembers {
 public:
  explicit RelayMembers(RelayMembersConfig config) : config_(std::move(config)) {}

  // What the remote's Membership must do, in order: feed each message (as a packet from the
  // relay), then forget each name (Membership::forget).
  struct Update {
    std::vector<gossip::Message> messages;
    std::vector<std::string> forget;
    bool empty() const { return messages.empty() && forget.empty(); }
  };

  // A Members frame's state (encode_push_pull's bytes, type byte first) from the relay named
  // `relay` (the welcome's node name; empty: unknown, the frame is taken as full).
  Update received(const gossip::Bytes& state, const std::string& relay, gossip::Clock::time_point now);
  // Members missing for longer than the grace; call now and then (the agent's reaper).
  Update tick(gossip::Clock::time_point now);
  gossip::Clock::time_point next_deadline() const;

  const RelayMembersStats& stats() const { return stats_; }

 private:
  struct Known {
    std::uint32_t incarnation = 0;  // the highest seen
    gossip::NodeState state = gossip::NodeState::alive;
    std::optional<gossip::Clock::time_point> absent_since;  // missing from the last frame
  };
  // Reported failed (when it was not already) and forgotten.
  void forget(std::map<std::string, Known>::iterator it, Update& update);
  // Missing from the relay's frames for the whole grace.
  bool absent_too_long(const Known& k, gossip::Clock::time_point now) const {
    return k.absent_since && now - *k.absent_since >= config_.absent_grace;
  }

  RelayMembersConfig config_;
  std::map<std::string, Known> known_;
  RelayMembersStats stats_;
};

}  // namespace hearsay::remote
