// State replication: the merge rules, eager broadcast and scuttlebutt anti-entropy (see the header).
#include "gossip/replication/replication.h"

#include <algorithm>
#include <unordered_set>

#include "gossip/wire/codec.h"

namespace hearsay::gossip {
namespace {

constexpr Duration kTombstoneSweep{60000};
constexpr std::size_t kMaxLinksPerOwner = 4096;  // out-of-order broadcasts remembered per owner
constexpr unsigned kSyncsAfterNews = 6;          // quick exchanges that may find nothing before we slow down

std::string queue_key(const std::string& owner, const std::string& key) { return owner + '\0' + key; }

// One live value's share of an owner's checksum: FNV-1a over the key, then the version mixed in
// with splitmix64's finalizer. Fixed here (not std::hash) so every build agrees.
std::uint64_t entry_hash(const std::string& key, std::uint64_t version) {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  h ^= version + 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

// A UDP packet: one memberlist user message that only hearsay agents interpret.
Bytes user_packet(const Bytes& payload) {
  UserMessage m;
  m.payload.reserve(payload.size() + 1);
  m.payload.push_back(kHearsayUserMessage);
  m.payload.insert(m.payload.end(), payload.begin(), payload.end());
  return encode(Message{std::move(m)});
}

}  // namespace

Replication::OwnerState Replication::fresh_owner(std::uint64_t generation) {
  OwnerState o;
  o.generation = generation;
  return o;
}

Replication::Replication(ReplicationConfig config, std::uint64_t seed, Clock::time_point now)
    : config_(std::move(config)), rng_(seed) {
  next_gossip_ = now + config_.gossip_interval;
  // The first anti-entropy round comes at a random point of the interval, so agents started
  // together do not all sync at once.
  std::uniform_int_distribution<std::int64_t> jitter(0, config_.sync_interval.count());
  next_sync_ = now + Duration(jitter(rng_));
  next_expiry_ = now + kTombstoneSweep;
  own();
}

void Replication::set_own_state(std::uint64_t generation, std::uint64_t last_version) {
  OwnerState& o = own();
  o.generation = generation;
  o.watermark = std::max(o.watermark, last_version);
  o.horizon = o.watermark;  // our tombstones from before a restart are gone
}

void Replication::restore(const ReplicaEntry& entry, Clock::time_point now) {
  OwnerState& o = owners_[entry.owner];
  if (entry.generation < o.generation) return;
  if (entry.generation > o.generation) o = fresh_owner(entry.generation);
  store(o, entry.owner, entry.key, Value{entry.version, entry.deleted, entry.value, now}, Arrival::unreported);
}

void Replication::restore_mark(const OwnerMark& mark) {
  OwnerState& o = owners_[mark.owner];
  if (o.values.empty() && o.generation == 0) o.generation = mark.generation;
  if (mark.generation != o.generation) return;
  o.watermark = std::max(o.watermark, mark.watermark);
  o.horizon = std::max(o.horizon, o.watermark);  // the tombstones we held are gone
}

// ---- Our writes

void Replication::publish(const std::string& key, std::uint64_t version, Bytes value, Clock::time_point now) {
  publish_entry(key, version, false, std::move(value), now);
}

void Replication::publish_delete(const std::string& key, std::uint64_t version, Clock::time_point now) {
  publish_entry(key, version, true, {}, now);
}

void Replication::publish_entry(const std::string& key, std::uint64_t version, bool deleted, Bytes value,
                                Clock::time_point now) {
  OwnerState& o = own();
  // Our watermark is the last version we published: versions only grow, an older one is not news.
  if (version <= o.watermark) return;
  ReplicaEntry entry{config_.name, key, o.generation, version, o.watermark, deleted, std::move(value)};
  store(o, config_.name, key, Value{version, deleted, entry.value, now}, Arrival::unreported);
  o.watermark = version;
  enqueue(entry, now);
}

// ---- Peers and owners

void Replication::set_peers(std::vector<ReplicationPeer> peers) {
  if (peers_.empty() && !peers.empty()) sync_soon();  // just joined: catch up at once
  peers_ = std::move(peers);
}

void Replication::forget_owner(const std::string& owner) {
  if (owner == config_.name) return;
  auto it = owners_.find(owner);
  if (it == owners_.end()) return;
  for (auto& [key, value] : it->second.values) {
    if (!value.deleted) changes_.push_back(ReplicaChange{owner, key, it->second.generation, value.version, true, {}});
  }
  owners_.erase(it);
}

// ---- Merge rules

bool Replication::store(OwnerState& o, const std::string& owner_name, const std::string& key, Value value,
                        Arrival arrival) {
  auto it = o.values.find(key);
  if (it != o.values.end()) {
    if (it->second.version >= value.version) {
      ++stats_.entries_stale;
      return false;
    }
    o.by_version.erase(it->second.version);
    if (!it->second.deleted) o.live_checksum ^= entry_hash(key, it->second.version);
  }
  if (!value.deleted) o.live_checksum ^= entry_hash(key, value.version);
  o.by_version[value.version] = key;
  if (arrival != Arrival::unreported) {
    // A tombstone for a key we never held alive changes nothing the application sees.
    const bool was_live = it != o.values.end() && !it->second.deleted;
    if (!value.deleted || was_live) {
      changes_.push_back(ReplicaChange{owner_name, key, o.generation, value.version, value.deleted, value.value,
                                       arrival == Arrival::broadcast});
    }
    ++stats_.entries_applied;
  }
  o.values.insert_or_assign(key, std::move(value));
  return true;
}

void Replication::drop(OwnerState& o, const std::string& owner_name, std::map<std::string, Value>::iterator it,
                       bool report) {
  if (report && !it->second.deleted) changes_.push_back(ReplicaChange{owner_name, it->first, o.generation, it->second.version, true, {}});
  if (!it->second.deleted) o.live_checksum ^= entry_hash(it->first, it->second.version);
  o.by_version.erase(it->second.version);
  o.values.erase(it);
}

Replication::OwnerState* Replication::owner_for(const std::string& owner, std::uint64_t generation, bool full_state) {
  if (owner == config_.name || (accept_ && !accept_(owner))) {
    ++stats_.entries_rejected;
    return nullptr;
  }
  auto [it, inserted] = owners_.try_emplace(owner);
  OwnerState& o = it->second;
  if (inserted) {
    o.generation = generation;
    return &o;
  }
  if (generation < o.generation) {
    ++stats_.entries_stale;
    return nullptr;
  }
  if (generation > o.generation) {  // the owner started over: everything older of it goes
    if (!full_state && !o.values.empty()) {
      // One entry of the new state would empty our replica of the owner until the rest came;
      // the owner's full state replaces it in one step instead.
      ++stats_.entries_awaiting_full;
      want_sync_with(owner);
      return nullptr;
    }
    for (auto& [key, value] : o.values) {
      if (!value.deleted) changes_.push_back(ReplicaChange{owner, key, o.generation, value.version, true, {}});
    }
    o = fresh_owner(generation);
  }
  return &o;
}

void Replication::advance(OwnerState& o, std::uint64_t prev, std::uint64_t version) {
  if (version <= o.watermark) return;
  if (prev > o.watermark) {  // a gap before this one: remember the link for later
    o.links[prev] = version;
    if (o.links.size() > kMaxLinksPerOwner) o.links.erase(o.links.begin());
    return;
  }
  o.watermark = version;
  // Links that continue the chain (their prev is now covered).
  for (auto it = o.links.begin(); it != o.links.end() && it->first <= o.watermark; it = o.links.erase(it)) {
    o.watermark = std::max(o.watermark, it->second);
  }
}

void Replication::apply_broadcast(const ReplicaEntry& e, Clock::time_point now) {
  OwnerState* o = owner_for(e.owner, e.generation, false);
  if (!o) return;
  const bool news = store(*o, e.owner, e.key, Value{e.version, e.deleted, e.value, now}, Arrival::broadcast);
  advance(*o, e.prev, e.version);
  if (news) enqueue(e, now);  // pass it on, as memberlist does with membership news
}

void Replication::apply_block(const std::string& sender, const OwnerBlock& block, Clock::time_point now) {
  OwnerState* o = owner_for(block.mark.owner, block.mark.generation, block.full);
  if (!o) return;
  for (const ReplicaEntry& e : block.entries) {
    store(*o, e.owner, e.key, Value{e.version, e.deleted, e.value, now}, Arrival::sync);
  }
  if (block.full) {
    // All the sender holds of this owner: what we hold up to its watermark and it does not
    // have was deleted, and the tombstone is gone.
    std::unordered_set<std::string_view> sent;
    for (const ReplicaEntry& e : block.entries) sent.insert(e.key);
    for (auto it = o->values.begin(); it != o->values.end();) {
      auto next = std::next(it);
      if (it->second.version <= block.mark.watermark && !sent.contains(it->first)) drop(*o, block.mark.owner, it, true);
      it = next;
    }
    // The sender's dropped tombstones are not among the entries: peers behind this mark need
    // a full state from us too.
    o->horizon = std::max(o->horizon, block.mark.watermark);
  }
  // We held everything up to our watermark, and got everything after the one we announced.
  if (block.mark.watermark > o->watermark) advance(*o, 0, block.mark.watermark);
  // Now at the sender's mark, we should hold what it holds.
  if (o->watermark == block.mark.watermark && checksum_of(*o) != block.mark.checksum) {
    ++stats_.divergent_marks;
    want_sync_with(block.mark.owner);  // the owner then sees it and starts a new generation
  }
  (void)sender;
}

std::vector<OwnerBlock> Replication::blocks_for(const std::vector<OwnerMark>& their_digest) {
  std::unordered_map<std::string_view, const OwnerMark*> theirs;
  for (const OwnerMark& m : their_digest) theirs[m.owner] = &m;
  std::vector<OwnerBlock> blocks;
  for (const auto& [name, o] : owners_) {
    if (o.values.empty() && o.watermark == 0) continue;
    auto t = theirs.find(name);
    bool full = false;
    std::uint64_t after = 0;
    if (t == theirs.end() || t->second->generation < o.generation) {
      full = true;
    } else if (t->second->generation > o.generation || t->second->watermark >= o.watermark) {
      continue;  // they are as far as we are, or further
    } else if (t->second->watermark < o.horizon) {
      full = true;  // tombstones they need are gone: the whole state instead
    } else {
      after = t->second->watermark;
    }
    OwnerBlock block{mark_of(name, o), full, {}};
    for (auto v = o.by_version.upper_bound(full ? 0 : after); v != o.by_version.end(); ++v) {
      const Value& value = o.values.at(v->second);
      block.entries.push_back(ReplicaEntry{name, v->second, o.generation, value.version, 0, value.deleted, value.value});
    }
    if (full) ++stats_.full_states_sent;
    blocks.push_back(std::move(block));
  }
  return blocks;
}

// ---- Network input

void Replication::receive(const Address&, const std::uint8_t* data, std::size_t size, Clock::time_point now) {
  // Datagrams carry broadcasts only: a sync request by UDP would make us build a reply (up to
  // the whole catalog) for nobody.
  auto m = decode_counted(data, size);
  if (!m) return;
  if (m->kind != ReplicationMessage::Kind::broadcast) {
    ++stats_.messages_invalid;
    ++stats_.datagrams_not_broadcast;
    return;
  }
  for (const ReplicaEntry& e : m->entries) apply_broadcast(e, now);
}

std::optional<Bytes> Replication::handle_stream(const Address& from, const std::uint8_t* data, std::size_t size,
                                                Clock::time_point now) {
  auto m = decode_counted(data, size);
  if (!m) return std::nullopt;
  switch (m->kind) {
    case ReplicationMessage::Kind::broadcast:
      for (const ReplicaEntry& e : m->entries) apply_broadcast(e, now);
      return std::nullopt;
    case ReplicationMessage::Kind::sync_request:
      check_marks(m->from, m->digest);  // first: a new generation of ours goes out as full state
      return encode_message(ReplicationMessage::Kind::sync_reply, digest_changes(m->digest), blocks_for(m->digest));
    case ReplicationMessage::Kind::sync_reply: {
      const std::vector<OwnerMark> theirs = responder_digest(from, m->digest);  // before the blocks move our marks
      for (const OwnerBlock& b : m->blocks) apply_block(m->from, b, now);
      check_marks(m->from, theirs);
      auto blocks = blocks_for(theirs);
      // The two replicas differed: more of them may differ too (a partition healed, we were
      // away), so the next exchanges come soon rather than a whole interval later, until a few
      // in a row find nothing to do (rumour mongering's stop rule: one would leave ~20% behind).
      if (!m->blocks.empty() || !blocks.empty()) fruitless_syncs_ = 0;
      else ++fruitless_syncs_;
      if (fruitless_syncs_ < kSyncsAfterNews) next_sync_ = std::min(next_sync_, now + config_.sync_again);
      if (!blocks.empty()) streams_.push_back(StreamSend{from, encode_message(ReplicationMessage::Kind::push, {}, std::move(blocks)), false});
      ++stats_.syncs_completed;
      return std::nullopt;
    }
    case ReplicationMessage::Kind::push:
      for (const OwnerBlock& b : m->blocks) apply_block(m->from, b, now);
      return std::nullopt;
  }
  return std::nullopt;
}

void Replication::stream_failed(const Address& to) {
  sent_digests_.erase(to);
  ++stats_.syncs_failed;
}

std::vector<OwnerMark> Replication::digest_changes(const std::vector<OwnerMark>& theirs) const {
  std::unordered_map<std::string_view, const OwnerMark*> by_owner;
  for (const OwnerMark& m : theirs) by_owner[m.owner] = &m;
  std::vector<OwnerMark> changes;
  for (const auto& [name, o] : owners_) {
    auto t = by_owner.find(name);
    if (t == by_owner.end() || t->second->generation != o.generation || t->second->watermark != o.watermark ||
        t->second->checksum != checksum_of(o)) {
      changes.push_back(mark_of(name, o));
    }
  }
  for (const OwnerMark& m : theirs) {
    if (!owners_.contains(m.owner)) changes.push_back(OwnerMark{m.owner, 0, 0});
  }
  return changes;
}

std::vector<OwnerMark> Replication::responder_digest(const Address& responder, const std::vector<OwnerMark>& changes) {
  auto sent = sent_digests_.extract(responder);
  std::map<std::string, OwnerMark> marks;
  for (OwnerMark& m : sent ? sent.mapped() : digest()) marks[m.owner] = std::move(m);
  for (const OwnerMark& c : changes) {
    if (c.generation == 0) marks.erase(c.owner);  // it holds nothing of that owner
    else marks[c.owner] = c;
  }
  std::vector<OwnerMark> out;
  out.reserve(marks.size());
  for (auto& [name, m] : marks) out.push_back(std::move(m));
  return out;
}

// ---- The owner's authority

std::uint64_t Replication::checksum_of(const OwnerState& o) const {
  std::uint64_t sum = o.live_checksum;
  for (auto v = o.by_version.upper_bound(o.watermark); v != o.by_version.end(); ++v) {
    const Value& value = o.values.at(v->second);
    if (!value.deleted) sum ^= entry_hash(v->second, value.version);
  }
  return sum;
}

OwnerMark Replication::mark_of(const std::string& name, const OwnerState& o) const {
  return OwnerMark{name, o.generation, o.watermark, checksum_of(o)};
}

std::optional<OwnerMark> Replication::mark(const std::string& owner) const {
  auto it = owners_.find(owner);
  if (it == owners_.end()) return std::nullopt;
  return OwnerMark{owner, it->second.generation, it->second.watermark, 0};
}

void Replication::check_marks(const std::string& peer, const std::vector<OwnerMark>& theirs) {
  for (const OwnerMark& m : theirs) {
    if (m.owner == config_.name) {
      const OwnerState& o = own();
      const bool beyond_us = m.generation > o.generation || (m.generation == o.generation && m.watermark > o.watermark);
      const bool differs = m.generation == o.generation && m.watermark == o.watermark && m.checksum != checksum_of(o);
      if (beyond_us || differs) start_generation(m.generation);
      continue;
    }
    if (m.owner == peer) continue;  // the owner checks its own mark on its side
    auto it = owners_.find(m.owner);
    if (it == owners_.end()) continue;
    const OwnerState& o = it->second;
    if (m.generation == o.generation && m.watermark == o.watermark && m.checksum != checksum_of(o)) {
      ++stats_.divergent_marks;
      want_sync_with(m.owner);
    }
  }
}

void Replication::start_generation(std::uint64_t above) {
  OwnerState& o = own();
  above = std::max(above, o.generation);
  o.generation = next_generation_ ? std::max(next_generation_(above), above + 1) : above + 1;
  o.horizon = o.watermark;  // peers of an older generation get full state anyway
  ++stats_.generations_started;
  sync_soon();
}

void Replication::want_sync_with(const std::string& owner) {
  if (wanted_.size() < 64) wanted_.insert(owner);
  sync_soon();
}

// ---- Timers

void Replication::tick(Clock::time_point now) {
  if (now >= next_gossip_) {
    gossip(now);
    next_gossip_ = now + config_.gossip_interval;
  }
  if ((sync_soon_ && !peers_.empty()) || now >= next_sync_) {
    sync_soon_ = false;
    start_sync(now);
    next_sync_ = now + push_pull_scale(config_.sync_interval, peers_.size() + 1);
  }
  if (now >= next_expiry_) {
    expire_tombstones(now);
    next_expiry_ = now + kTombstoneSweep;
  }
}

Clock::time_point Replication::next_deadline() const {
  Clock::time_point next = std::min(next_sync_, next_expiry_);
  if (queue_.size() > 0) next = std::min(next, next_gossip_);  // idle: no 200 ms wake-ups
  if (sync_soon_ && !peers_.empty()) next = Clock::time_point::min();
  return next;
}

void Replication::enqueue(const ReplicaEntry& entry, Clock::time_point now) {
  if (on_news_) on_news_(entry);
  Bytes encoded = encode_entry(entry);
  if (encoded.size() <= config_.packet_budget) {
    queue_.push(queue_key(entry.owner, entry.key), std::move(encoded));
    // News goes out at once when no round went out in the last interval, else with the next
    // round: each hop costs the network's latency rather than half a gossip interval, and the
    // rate stays at most one round per interval.
    const Clock::time_point earliest = std::max(now, last_gossip_ + config_.gossip_interval);
    if (next_gossip_ > earliest || next_gossip_ < now) next_gossip_ = earliest;
    // Pruned in batches (down to the limit once it is exceeded by an eighth), so a bulk load
    // does not shift the queue once per write.
    const std::size_t limit = config_.max_queued_broadcasts;
    if (const std::size_t dropped = queue_.size() > limit + limit / 8 ? queue_.prune(limit) : 0; dropped > 0) {
      stats_.broadcasts_dropped += dropped;
      next_sync_ = std::min(next_sync_, now + config_.sync_again);
      fruitless_syncs_ = 0;
    }
    return;
  }
  // Too large for a datagram: straight to a few peers over TCP; they pass it on the same way.
  ReplicationMessage m{ReplicationMessage::Kind::broadcast, config_.name, {entry}, {}, {}};
  const Bytes payload = encode(m);
  for (const ReplicationPeer* peer : random_peers(config_.gossip_nodes)) streams_.push_back(StreamSend{peer->address, payload, false});
}

void Replication::gossip(Clock::time_point now) {
  if (queue_.size() == 0 || peers_.empty()) return;
  last_gossip_ = now;
  const std::size_t limit = retransmit_limit(config_.retransmit_mult, peers_.size() + 1);
  for (const ReplicationPeer* peer : random_peers(config_.gossip_nodes)) {
    auto items = queue_.take(config_.packet_budget, 0, limit);
    if (items.empty()) break;
    std::vector<const Bytes*> entries;
    for (const auto& item : items) entries.push_back(item.get());
    packets_.push_back(OutgoingPacket{peer->address, user_packet(encode_broadcast(config_.name, entries))});
    ++stats_.broadcasts_sent;
  }
}

void Replication::start_sync(Clock::time_point) {
  std::vector<const ReplicationPeer*> peer;
  while (peer.empty() && !wanted_.empty()) {
    const std::string owner = wanted_.extract(wanted_.begin()).value();
    auto p = std::find_if(peers_.begin(), peers_.end(), [&](const ReplicationPeer& rp) { return rp.name == owner; });
    if (p != peers_.end()) peer.push_back(&*p);
  }
  if (peer.empty()) peer = random_peers(1);
  if (peer.empty()) return;
  ++stats_.syncs_started;
  std::vector<OwnerMark> ours = digest();
  if (sent_digests_.size() >= 64) sent_digests_.clear();  // replies that never came (streams time out)
  streams_.push_back(StreamSend{peer[0]->address, encode_message(ReplicationMessage::Kind::sync_request, ours, {}), true});
  sent_digests_[peer[0]->address] = std::move(ours);
}

void Replication::expire_tombstones(Clock::time_point now) {
  for (auto& [name, o] : owners_) {
    for (auto it = o.values.begin(); it != o.values.end();) {
      auto next = std::next(it);
      if (it->second.deleted && it->second.stored + config_.tombstone_grace <= now) {
        o.horizon = std::max(o.horizon, it->second.version);
        drop(o, name, it, false);
        ++stats_.tombstones_dropped;
      }
      it = next;
    }
  }
}

std::vector<const ReplicationPeer*> Replication::random_peers(std::size_t k) {
  // k distinct peers, drawn by index: a 1,000-member simulation calls this for every gossip
  // round of every node, so the peer list is not copied.
  std::vector<const ReplicationPeer*> out;
  if (peers_.size() <= k) {
    for (const auto& p : peers_) out.push_back(&p);
    return out;
  }
  std::uniform_int_distribution<std::size_t> pick(0, peers_.size() - 1);
  while (out.size() < k) {
    const ReplicationPeer* p = &peers_[pick(rng_)];
    if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  }
  return out;
}

std::optional<ReplicationMessage> Replication::decode_counted(const std::uint8_t* data, std::size_t size) {
  DecodeError error = DecodeError::none;
  auto m = decode_replication(data, size, error);
  if (!m) {
    ++stats_.messages_invalid;
    ++stats_.invalid_by_kind[static_cast<std::size_t>(error)];
  }
  return m;
}

Bytes Replication::encode_message(ReplicationMessage::Kind kind, std::vector<OwnerMark> digest,
                                  std::vector<OwnerBlock> blocks) const {
  ReplicationMessage m;
  m.kind = kind;
  m.from = config_.name;
  m.digest = std::move(digest);
  m.blocks = std::move(blocks);
  return encode(m);
}

// ---- Reads

const Replication::Value* Replication::find(const std::string& owner, const std::string& key) const {
  auto o = owners_.find(owner);
  if (o == owners_.end()) return nullptr;
  auto v = o->second.values.find(key);
  return v == o->second.values.end() ? nullptr : &v->second;
}

std::vector<std::pair<std::string, const Replication::Value*>> Replication::live_values_of(const std::string& key) const {
  std::vector<std::pair<std::string, const Value*>> out;
  for (const auto& [name, o] : owners_) {
    auto v = o.values.find(key);
    if (v != o.values.end() && !v->second.deleted) out.emplace_back(name, &v->second);
  }
  return out;
}

void Replication::for_each_with_prefix(
    const std::string& prefix,
    const std::function<void(const std::string&, const std::string&, const Value&)>& f) const {
  for (const auto& [name, o] : owners_) {
    for (auto it = o.values.lower_bound(prefix); it != o.values.end() && it->first.starts_with(prefix); ++it) {
      if (!it->second.deleted) f(name, it->first, it->second);
    }
  }
}

void Replication::for_each_of(const std::string& owner,
                              const std::function<void(const std::string&, const Value&)>& f) const {
  auto o = owners_.find(owner);
  if (o == owners_.end()) return;
  for (const auto& [key, value] : o->second.values) f(key, value);
}

std::vector<OwnerMark> Replication::digest() const {
  std::vector<OwnerMark> out;
  for (const auto& [name, o] : owners_) out.push_back(mark_of(name, o));
  return out;
}

std::uint64_t Replication::generation_of(const std::string& owner) const {
  auto o = owners_.find(owner);
  return o == owners_.end() ? 0 : o->second.generation;
}

std::size_t Replication::entry_count() const {
  std::size_t n = 0;
  for (const auto& [name, o] : owners_) n += o.values.size();
  return n;
}

}  // namespace hearsay::gossip
