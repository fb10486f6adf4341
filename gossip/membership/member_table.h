// The members one node knows, stored densely: one vector of Member indexed by a small integer
// id, and an open-addressing index from name to id. Membership looks a member up for nearly
// every message it handles, and a large cluster keeps thousands of these tables cold in
// memory (the 1,000-member simulation), so a lookup is one probe into a flat array of slots and
// one read of the Member, with no node-based containers to chase.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "gossip/wire/address.h"
#include "gossip/membership/config.h"
#include "gossip/wire/messages.h"

namespace hearsay::gossip {

struct Member {
  // The fields read for every message come first, so they share a cache line.
  std::string name;
  std::uint32_t incarnation = 0;
  NodeState state = NodeState::dead;
  Clock::time_point state_change{};
  Address address;
  Bytes meta;
  Bytes vsn = kVersions;
};

class MemberTable {
 public:
  using Id = std::uint32_t;
  static constexpr Id npos = UINT32_MAX;

  // npos when the name is unknown.
  Id id_of(std::string_view name) const;
  const Member* find(std::string_view name) const;
  Member* find(std::string_view name);
  bool contains(std::string_view name) const { return id_of(name) != npos; }
  // Throws std::out_of_range for an unknown name (as std::map::at).
  const Member& at(std::string_view name) const;
  Member& operator[](Id id) { return members_[id]; }
  const Member& operator[](Id id) const { return members_[id]; }

  // Hints that `name` will be looked up soon, for a caller with several names in hand (the
  // messages of one packet): first the index slots, then (once those have arrived) the
  // members they point to, so the cache misses of many lookups overlap instead of queueing.
  // No effect on results.
  void prefetch_slot(std::string_view name) const;
  void prefetch_member(std::string_view name) const;

  // `member.name` must be unknown. Ids are handed out densely: the new one is size() - 1.
  Id add(Member member);
  // Removes the members `drop` selects, keeping the others in order (so the first member keeps
  // id 0). Ids after a removed one move down: the result maps each old id to its new id, or to
  // npos for a removed member.
  std::vector<Id> remove_if(const std::function<bool(const Member&)>& drop);

  std::size_t size() const { return members_.size(); }
  bool empty() const { return members_.empty(); }
  auto begin() const { return members_.cbegin(); }
  auto end() const { return members_.cend(); }

 private:
  // tag: the high bits of the name's hash, so most misses need no string compare;
  // id + 1, so that a zeroed slot is empty.
  struct Slot {
    std::uint32_t tag = 0;
    std::uint32_t id_plus_one = 0;
  };
  void index(Id id);
  void rebuild_index();

  std::vector<Member> members_;
  std::vector<Slot> slots_;  // a power of two in size, at most half full
};

}  // namespace hearsay::gossip
