// The dense member table and its open-addressing name index (member_table.h).
#include "gossip/membership/member_table.h"

#include <stdexcept>
#include <string>

namespace hearsay::gossip {
namespace {

constexpr std::size_t kMinSlots = 16;

std::size_t hash_of(std::string_view name) { return std::hash<std::string_view>{}(name); }
std::uint32_t tag_of(std::size_t hash) { return static_cast<std::uint32_t>(hash >> 32); }

}  // namespace

MemberTable::Id MemberTable::id_of(std::string_view name) const {
  if (slots_.empty()) return npos;
  const std::size_t hash = hash_of(name);
  const std::uint32_t tag = tag_of(hash);
  const std::size_t mask = slots_.size() - 1;
  // Linear probing: the table is at most half full, so an empty slot ends every search soon.
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.id_plus_one == 0) return npos;
    if (slot.tag == tag && members_[slot.id_plus_one - 1].name == name) return slot.id_plus_one - 1;
  }
}

void MemberTable::prefetch_slot(std::string_view name) const {
  if (!slots_.empty()) __builtin_prefetch(&slots_[hash_of(name) & (slots_.size() - 1)]);
}

void MemberTable::prefetch_member(std::string_view name) const {
  if (slots_.empty()) return;
  // Like id_of, but trusting the tag: a wrong guess only fetches the wrong member.
  const std::size_t hash = hash_of(name);
  const std::uint32_t tag = tag_of(hash);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask; slots_[i].id_plus_one != 0; i = (i + 1) & mask) {
    if (slots_[i].tag == tag) return __builtin_prefetch(&members_[slots_[i].id_plus_one - 1]);
  }
}

const Member* MemberTable::find(std::string_view name) const {
  const Id id = id_of(name);
  return id == npos ? nullptr : &members_[id];
}

Member* MemberTable::find(std::string_view name) {
  const Id id = id_of(name);
  return id == npos ? nullptr : &members_[id];
}

const Member& MemberTable::at(std::string_view name) const {
  const Member* m = find(name);
  if (!m) throw std::out_of_range("no member named " + std::string(name));
  return *m;
}

MemberTable::Id MemberTable::add(Member member) {
  members_.push_back(std::move(member));
  const auto id = static_cast<Id>(members_.size() - 1);
  if (2 * members_.size() > slots_.size()) rebuild_index();  // also indexes the new member
  else index(id);
  return id;
}

std::vector<MemberTable::Id> MemberTable::remove_if(const std::function<bool(const Member&)>& drop) {
  std::vector<Id> new_ids(members_.size(), npos);
  Id kept = 0;
  for (Id old = 0; old < members_.size(); ++old) {
    if (drop(members_[old])) continue;
    if (kept != old) members_[kept] = std::move(members_[old]);
    new_ids[old] = kept++;
  }
  if (kept != members_.size()) {
    members_.resize(kept);
    rebuild_index();  // removals are rare (once per probe round): no tombstones needed
  }
  return new_ids;
}

void MemberTable::index(Id id) {
  const std::size_t hash = hash_of(members_[id].name);
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = hash & mask;
  while (slots_[i].id_plus_one != 0) i = (i + 1) & mask;
  slots_[i] = Slot{tag_of(hash), id + 1};
}

void MemberTable::rebuild_index() {
  std::size_t n = kMinSlots;
  while (n < 2 * members_.size()) n *= 2;
  slots_.assign(n, Slot{});
  for (Id id = 0; id < members_.size(); ++id) index(id);
}

}  // namespace hearsay::gossip
