// memberlist's Delegate (delegate.go) in sans-I/O form: the seam between Membership (SWIM) and
// the protocol layered on memberlist's user messages and push/pull user state, which is serf's
// (gossip/serf/serf.h). Membership calls it from inside its own input handling and takes what it
// queued: no callback of it may hand input back to Membership (it may issue commands, such as
// Membership::mark_left, which touch no message handling).
#pragma once

#include <string>
#include <vector>

#include "gossip/membership/config.h"
#include "gossip/wire/messages.h"

namespace hearsay::gossip {

class Delegate {
 public:
  virtual ~Delegate() = default;
  // NotifyMsg: the payload of a user message that reached us (memberlist-wire.md 4.6), other
  // than hearsay's own traffic, which Membership hands to the application.
  virtual void notify_user_message(const Bytes& payload, Clock::time_point now) = 0;
  // GetBroadcasts: user-message payloads to gossip, each taken once. Membership queues them
  // with its own news, so they go out as often (retransmit_limit) and as soon as that does.
  virtual std::vector<Bytes> take_broadcasts() = 0;
  virtual bool has_broadcasts() const = 0;
  // LocalState: the user state of a push/pull we send (join: as part of a join) or answer.
  virtual Bytes local_state(bool join) const = 0;
  // MergeRemoteState: the user state of a push/pull a peer sent us or answered with.
  virtual void merge_remote_state(const Bytes& state, bool join) = 0;
  // Whether `node` announced its departure (serf's StatusLeaving): its death is then a leave,
  // not a failure, even when the "dead" it sent about itself never reached us.
  virtual bool intends_to_leave(const std::string& /*node*/) const { return false; }
};

}  // namespace hearsay::gossip
