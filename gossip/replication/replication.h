// Replication of node-owned, versioned key/value state among hearsay agents (DESIGN.md,
// "Catalog replication"). Keys and values are opaque here; agent/ maps catalog records to them.
// Sans-I/O like Membership: fed messages, stream exchanges and the time; it returns packets and
// streams to send and the changes to apply.
//
// Every value has one owner, the only agent that writes it. An owner stamps each write with the
// next value of its counter, and its state with a generation (a new data dir starts a new one,
// which replaces everything older of that owner). Two ways carry writes:
// - eager broadcast: each new write is gossiped to a few random peers per round, a limited number
//   of times (memberlist's retransmit rule), and every agent that learns it passes it on;
// - anti-entropy, scuttlebutt style: now and then an agent sends one peer its digest (owner ->
//   generation and watermark, the version up to which it holds all the owner's writes); the peer
//   answers with what the agent lacks and its own digest (only where it differs from the agent's:
//   nothing between replicas in step), and the agent pushes back what the peer lacks. Lost
//   broadcasts are repaired this way.
// Broadcast entries say which version came before them, so a receiver advances its watermark
// only along an unbroken chain: a gap leaves it where it was, and anti-entropy fills the gap.
// Deletes are tombstones, kept `tombstone_grace`; a peer whose watermark is older than a
// tombstone already dropped gets the owner's full state instead of a delta. A replica that took
// a full state lacks the sender's dropped tombstones too, so it sends full states to peers
// behind that mark in turn (otherwise a delete could stop at the first hop).
//
// The owner is the one authority on its state. Each mark carries a checksum of the live values
// up to its watermark; an owner that meets a peer holding a mark of it that it cannot have made
// (a watermark beyond its own, or its own watermark with other values: writes lost in a crash,
// or whatever the cause) starts a new generation, which replaces the owner's state everywhere
// by full state. Two other replicas at one mark with different checksums each sync with the
// owner soon. A broadcast of a newer generation waits for that full state rather than empty the
// owner's replica one entry at a time.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gossip/membership/broadcast_queue.h"
#include "gossip/membership/config.h"
#include "gossip/membership/membership.h"
#include "gossip/replication/replication_messages.h"

namespace hearsay::gossip {

struct ReplicationConfig {
  std::string name;  // this agent, itself an owner
  Duration gossip_interval{200};
  std::size_t gossip_nodes = 3;
  unsigned retransmit_mult = 4;
  std::size_t packet_budget = 1300;  // bytes of entries in one UDP packet; larger ones go by TCP
  Duration sync_interval{30000};     // anti-entropy with one random peer, scaled up in large clusters
  Duration sync_again{1000};         // after an exchange that carried news: another, with another peer
  Duration tombstone_grace{24 * 3600 * 1000};
  // Broadcasts waiting beyond this many are dropped (most sent first) and left to anti-entropy,
  // which then runs soon: a bulk load is a few TCP exchanges, not 100,000 datagram rounds.
  std::size_t max_queued_broadcasts = 4096;
};

struct ReplicationPeer {
  std::string name;
  Address address;
};

// A change to the local replica that the application applies: a new value, or a removal
// (`deleted`) of that owner's value for the key.
struct ReplicaChange {
  std::string owner;
  std::string key;
  std::uint64_t generation = 0;
  std::uint64_t version = 0;
  bool deleted = false;
  Bytes value;
  // The write itself arrived as a broadcast: news as it spreads, so its version (the owner's
  // clock when it wrote) tells how long it took to get here. False for anti-entropy repairs
  // (possibly old writes) and for removals we derive (a full state, a new generation, a leave).
  bool broadcast = false;
};

struct StreamSend {
  Address to;
  Bytes payload;      // an encoded ReplicationMessage
  bool wants_reply;   // a sync request: the reply comes back on the same stream
};

struct ReplicationStats {
  std::uint64_t broadcasts_sent = 0;  // UDP packets
  std::uint64_t entries_applied = 0;
  std::uint64_t entries_stale = 0;    // older than what we hold
  std::uint64_t entries_rejected = 0; // owner not accepted (not a member, or ourselves)
  std::uint64_t messages_invalid = 0; // undecodable (all kinds), or a datagram that is no broadcast
  std::array<std::uint64_t, kDecodeErrorKinds> invalid_by_kind{};  // by DecodeError
  std::uint64_t datagrams_not_broadcast = 0;  // a sync message by UDP (answered by nobody)
  std::uint64_t syncs_started = 0, syncs_completed = 0, syncs_failed = 0;
  std::uint64_t full_states_sent = 0;
  std::uint64_t tombstones_dropped = 0;
  std::uint64_t broadcasts_dropped = 0;  // over max_queued_broadcasts, left to anti-entropy
  std::uint64_t generations_started = 0;  // ours, after a peer held a mark of us we never made
  std::uint64_t divergent_marks = 0;      // another owner's mark equal to ours, its checksum not
  std::uint64_t entries_awaiting_full = 0;  // broadcasts of a newer generation, left to anti-entropy
};

class Replication {
 public:
  Replication(ReplicationConfig config, std::uint64_t seed, Clock::time_point now);

  // ---- Setup, at startup.
  // Our own epoch and the last version we may have published (restored from disk).
  void set_own_state(std::uint64_t generation, std::uint64_t last_version);
  // A value restored from disk: no change reported, nothing broadcast.
  void restore(const ReplicaEntry& entry, Clock::time_point now);
  // The restored watermark of an owner (after its entries). Tombstones are not restored, so
  // peers behind it get full state from us.
  void restore_mark(const OwnerMark& mark);
  // Which owners' writes we take (members that have not left); others are counted and dropped.
  void set_owner_filter(std::function<bool(const std::string& owner)> accept) { accept_ = std::move(accept); }
  // Where a new generation of our own state comes from: a number above `above`, persisted by the
  // application (a restart must not go back to an older one). Without it: above + 1.
  using NextGeneration = std::function<std::uint64_t(std::uint64_t above)>;
  void set_generation_source(NextGeneration next) { next_generation_ = std::move(next); }
  // Sees every entry we broadcast, ours and the news we pass on, with its prev link (a relay
  // forwards them to its remote sessions, which are not gossip peers).
  void set_on_news(std::function<void(const ReplicaEntry&)> f) { on_news_ = std::move(f); }

  // ---- Our writes. Versions must grow.
  void publish(const std::string& key, std::uint64_t version, Bytes value, Clock::time_point now);
  void publish_delete(const std::string& key, std::uint64_t version, Clock::time_point now);

  // ---- Peers (hearsay members that are alive, ourselves excluded).
  void set_peers(std::vector<ReplicationPeer> peers);
  // Anti-entropy with some peer at the next tick (we just joined, or a peer came back), and
  // again soon after, with others, until a few exchanges in a row find nothing to do.
  void sync_soon() { sync_soon_ = true, fruitless_syncs_ = 0; }
  // An owner that left or was reaped: its state goes (reported as deletions).
  void forget_owner(const std::string& owner);

  // ---- Network input.
  void receive(const Address& from, const std::uint8_t* data, std::size_t size, Clock::time_point now);
  // A stream message: a sync request gets its reply (send it back on the stream); others none.
  std::optional<Bytes> handle_stream(const Address& from, const std::uint8_t* data, std::size_t size,
                                     Clock::time_point now);
  void stream_failed(const Address& to);

  void tick(Clock::time_point now);
  Clock::time_point next_deadline() const;

  std::vector<OutgoingPacket> take_packets() { return std::exchange(packets_, {}); }
  std::vector<StreamSend> take_streams() { return std::exchange(streams_, {}); }
  std::vector<ReplicaChange> take_changes() { return std::exchange(changes_, {}); }

  // ---- Reads.
  struct Value {
    std::uint64_t version = 0;
    bool deleted = false;
    Bytes value;
    Clock::time_point stored{};  // when it reached us (tombstone expiry)
  };
  const Value* find(const std::string& owner, const std::string& key) const;
  // Every owner's live value for `key`, for the application's conflict rule.
  std::vector<std::pair<std::string, const Value*>> live_values_of(const std::string& key) const;
  // Live values of every owner whose key starts with `prefix`, as (owner, key, value).
  void for_each_with_prefix(const std::string& prefix,
                            const std::function<void(const std::string& owner, const std::string& key, const Value&)>& f) const;
  // Values of one owner, tombstones included.
  void for_each_of(const std::string& owner, const std::function<void(const std::string& key, const Value&)>& f) const;
  std::vector<OwnerMark> digest() const;
  // One owner's generation and watermark (checksum not computed), if we hold any of it.
  std::optional<OwnerMark> mark(const std::string& owner) const;
  std::uint64_t generation_of(const std::string& owner) const;
  std::size_t entry_count() const;
  const ReplicationStats& stats() const { return stats_; }

 private:
  struct OwnerState {
    std::uint64_t generation = 0;
    std::uint64_t watermark = 0;
    std::uint64_t horizon = 0;  // newest tombstone dropped (or lost at restart, or not in a full state we took)
    std::uint64_t live_checksum = 0;  // XOR of entry_hash(key, version) over the live values
    std::map<std::string, Value> values;
    std::map<std::uint64_t, std::string> by_version;
    std::map<std::uint64_t, std::uint64_t> links;  // prev -> version, received beyond the watermark
  };

  static OwnerState fresh_owner(std::uint64_t generation);
  OwnerState& own() { return owners_[config_.name]; }
  // How a stored value came: not reported (restored, or our own write), or reported as a change
  // that came by broadcast or by anti-entropy.
  enum class Arrival { unreported, broadcast, sync };
  // Stores a value when it is newer than what we hold; true when it changed our state.
  bool store(OwnerState& owner, const std::string& owner_name, const std::string& key, Value value, Arrival arrival);
  // Our write: stored, our watermark moved to it, queued for broadcast with the previous one.
  void publish_entry(const std::string& key, std::uint64_t version, bool deleted, Bytes value, Clock::time_point now);
  void drop(OwnerState& owner, const std::string& owner_name, std::map<std::string, Value>::iterator it, bool report);
  // The owner's state in `generation`, reset when that is newer and `full_state` brings it all;
  // null when the entry is stale, the owner is not accepted, or a newer generation must wait.
  OwnerState* owner_for(const std::string& owner, std::uint64_t generation, bool full_state);
  void apply_broadcast(const ReplicaEntry& entry, Clock::time_point now);
  void apply_block(const std::string& sender, const OwnerBlock& block, Clock::time_point now);
  // The checksum that goes with the owner's mark: live values up to its watermark only.
  std::uint64_t checksum_of(const OwnerState& owner) const;
  OwnerMark mark_of(const std::string& name, const OwnerState& owner) const;
  // A peer's marks held against ours (see the header comment): ours as it holds it, and other
  // owners' where we stand at the same mark.
  void check_marks(const std::string& peer, const std::vector<OwnerMark>& theirs);
  void start_generation(std::uint64_t above);
  // The next anti-entropy exchange goes to this owner, when it is a peer.
  void want_sync_with(const std::string& owner);
  void advance(OwnerState& owner, std::uint64_t prev, std::uint64_t version);
  std::vector<OwnerBlock> blocks_for(const std::vector<OwnerMark>& their_digest);
  // A sync reply's digest: only our marks that differ from the requester's digest (an owner we
  // do not know as generation 0), so two replicas in step exchange one digest, not two.
  std::vector<OwnerMark> digest_changes(const std::vector<OwnerMark>& theirs) const;
  // The responder's whole digest again: what we sent it, with its changes applied.
  std::vector<OwnerMark> responder_digest(const Address& responder, const std::vector<OwnerMark>& changes);
  void enqueue(const ReplicaEntry& entry, Clock::time_point now);
  void gossip(Clock::time_point now);
  void start_sync(Clock::time_point now);
  void expire_tombstones(Clock::time_point now);
  std::vector<const ReplicationPeer*> random_peers(std::size_t k);
  // Decodes a peer's message; a refusal is counted by kind.
  std::optional<ReplicationMessage> decode_counted(const std::uint8_t* data, std::size_t size);
  Bytes encode_message(ReplicationMessage::Kind kind, std::vector<OwnerMark> digest, std::vector<OwnerBlock> blocks) const;

  ReplicationConfig config_;
  std::mt19937_64 rng_;
  std::function<bool(const std::string&)> accept_;
  NextGeneration next_generation_;
  std::function<void(const ReplicaEntry&)> on_news_;
  std::set<std::string> wanted_;  // owners to sync with next
  std::unordered_map<std::string, OwnerState> owners_;
  std::vector<ReplicationPeer> peers_;
  BroadcastQueue queue_;
  bool sync_soon_ = false;
  unsigned fruitless_syncs_ = 6;  // anti-entropy exchanges in a row that found the replicas equal
  std::map<Address, std::vector<OwnerMark>> sent_digests_;  // of our syncs awaiting a reply
  Clock::time_point next_gossip_, next_sync_, next_expiry_;
  Clock::time_point last_gossip_{};  // the last round that sent something
  std::vector<OutgoingPacket> packets_;
  std::vector<StreamSend> streams_;
  std::vector<ReplicaChange> changes_;
  ReplicationStats stats_;
};

}  // namespace hearsay::gossip
