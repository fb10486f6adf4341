// Lifeguard's suspicion timers, as memberlist's suspicion.go runs them (memberlist-wire.md 7.3):
// a suspected member is declared dead when its timer fires; the timer starts at its maximum and
// each independent accuser's confirmation shortens it towards the minimum, since several
// members failing to reach it is better evidence than one. Plain data, fed the time: no timers.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gossip/membership/config.h"
#include "gossip/membership/member_table.h"

namespace hearsay::gossip {

// The suspicion timeout for a cluster of n members: min (max is min * suspicion_max_timeout_mult).
Duration suspicion_min_timeout(unsigned mult, std::size_t n, Duration probe_interval);
// The remaining timeout after `confirmations` independent accusers, `k` of which are expected.
Duration suspicion_timeout(std::size_t confirmations, std::size_t k, Duration min, Duration max);

// One suspected member's timer.
struct Suspicion {
  // Who accused it, the first accuser first: at most k + 1 names (see confirm()).
  std::vector<std::string> accusers;
  std::size_t k = 0;  // confirmations expected (suspicion_mult - 2, or 0 in a tiny cluster)
  Duration min{}, max{};
  Clock::time_point start, fires_at;
  // A new accuser's confirmation; true when it counted (and so is worth passing on).
  bool confirm(const std::string& accuser);
};

// Every running timer, by member id, with the earliest deadline kept at hand: next_deadline()
// is asked after every packet, and in a partition a member suspects hundreds of others.
class Suspicions {
 public:
  // Starts the timer for member `id`, accused by `accuser`, in a cluster of `members`.
  void start(MemberTable::Id id, const std::string& accuser, std::size_t members, const MembershipConfig& config,
             Clock::time_point now);
  bool running(MemberTable::Id id) const { return timers_.contains(id); }
  // A further accusation about a member whose timer runs: true when it counted as a new
  // confirmation (and so is worth passing on).
  bool confirm(MemberTable::Id id, const std::string& accuser);
  void clear(MemberTable::Id id);
  // The timers due at `now`, removed, by member id: (id, when the timer started).
  std::vector<std::pair<MemberTable::Id, Clock::time_point>> take_due(Clock::time_point now);
  std::optional<Clock::time_point> next_deadline() const;
  // The member table was compacted (MemberTable::remove_if): re-keys the timers, dropping
  // those of removed members.
  void renumber(const std::vector<MemberTable::Id>& new_ids);

 private:
  void note_deadline(Clock::time_point fires_at);  // a timer started or moved earlier

  std::map<MemberTable::Id, Suspicion> timers_;
  mutable std::optional<Clock::time_point> next_;  // the earliest fires_at, when known
};

}  // namespace hearsay::gossip
