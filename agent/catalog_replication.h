// The catalog over gossip (DESIGN.md, "Catalog replication"): maps catalog records to the
// replication engine's owner-written key/values and back, and keeps node liveness in step with
// membership.
// - Our records (origin.owner == us) that changed in a loop turn are published once the turn's
//   commit is durable, never before: a write that failed to commit is never seen by a peer. A
//   record of ours that disappeared is published as a tombstone at a new version, taken (and
//   persisted) with that commit.
// - Records from peers are validated and applied to the catalog (and so to SQLite, DNS, HTTP and
//   blocking queries). When two owners write the same key, the higher (version, owner) shows:
//   versions are microsecond clock readings, so that is the later write.
// - serfHealth is never replicated: every agent derives it for every member from its own view
//   of membership. A member that leaves takes its records with it; a failed one's records stay,
//   critical, until -reap-after.
// - Remote nodes (remote mode, issue 16) are owners that are not members. Their health comes
//   from the relays' session records ("r" keys), which only relays write (remote_liveness.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/remote_liveness.h"
#include "catalog/catalog.h"
#include "catalog/store_sqlite.h"
#include "gossip/membership/membership.h"
#include "gossip/replication/replication.h"
#include "loop/histogram.h"

namespace hearsay::agent {

struct CatalogReplicationStats {
  std::uint64_t records_applied = 0;
  std::uint64_t records_removed = 0;
  std::uint64_t records_invalid = 0;   // undecodable, or not matching their key
  std::uint64_t records_waiting = 0;   // arrived before their node (applied when it comes)
  std::uint64_t conflicts_lost = 0;    // another owner's newer write of the same key shows
};

class CatalogReplication {
 public:
  using Clock = gossip::Clock;
  // The next version of our owner counter (LocalState's, persisted with the commit).
  using NextVersion = std::function<std::uint64_t()>;

  CatalogReplication(catalog::Catalog& catalog, catalog::SqliteStore& store, gossip::Replication& engine,
                     const gossip::Membership& membership, std::string self, NextVersion next_version,
                     std::chrono::milliseconds reap_after, RemoteLivenessConfig remotes = {});

  // Startup, after the catalog is loaded: the stored records go into the engine, the stored
  // watermarks are restored, other nodes' serfHealth waits for membership (critical).
  void restore(std::uint64_t own_generation, std::uint64_t own_last_version, Clock::time_point now);

  // Our writes among a commit's dirty keys, in version order (none: a tombstone).
  struct Write {
    std::uint64_t version;
    std::string key;
    std::optional<gossip::Bytes> value;
  };
  using Outgoing = std::vector<Write>;
  // Before each commit: our writes among `dirty` (tombstones take their versions now, staged
  // with the commit), and the watermarks staged.
  [[nodiscard]] Outgoing prepare(const catalog::DirtyKeys& dirty);
  // Once that commit is durable: the writes go to the engine (and so to peers).
  void publish(Outgoing writes, Clock::time_point now);
  // Changes the engine took from peers; `now_wall_us` (our wall clock) times the broadcast ones
  // for the propagation-lag histogram.
  void apply(const std::vector<gossip::ReplicaChange>& changes, Clock::time_point now, std::uint64_t now_wall_us);
  // A relay's own session records (remote mode): published at once, not through the catalog
  // (a restart ends every session anyway; the engine's generation check clears what a crash
  // left behind). nullopt: the session ended.
  void publish_session(const std::string& remote, std::optional<SessionRecord> record, Clock::time_point now);
  // Membership news: liveness checks, removal on leave (the engine's peers are gossip::Node's job).
  void on_member_event(const gossip::MemberEvent& event, Clock::time_point now);
  // Removes the records of members failed for longer than reap_after, and of remotes whose
  // lease is over or that left; moves remotes' health along.
  void reap(Clock::time_point now);
  // Remotes' health and leases only (reap's second half), for a timer finer than the reaper's.
  void tick_remotes(Clock::time_point now);
  // Whether the engine takes writes of `owner` (a member that has not left nor been reaped).
  bool accepts(const std::string& owner) const;

  const CatalogReplicationStats& stats() const { return stats_; }

  // What a relay lets a remote write (issue 16): its own node record, and services and checks
  // on that node whose service `may_write_service` allows (node checks: any). Never session
  // records or another node's records. "" or why not, for the log and the refusal counter.
  static std::string remote_write_refusal(const std::string& remote, const gossip::ReplicaEntry& entry,
                                          const std::function<bool(const std::string& service)>& may_write_service);
  // Owner's write to its arrival here, for peers' writes that came by broadcast (propagation_lag.h).
  const loop::Histogram& propagation_lag() const { return propagation_lag_; }

 private:
  enum class Kind : char { node = 'n', service = 's', check = 'c', session = 'r' };  // session: id = relay
  struct Key {
    Kind kind;
    std::string node;
    std::string id;  // service or check ID; empty for nodes
  };
  static std::string encode_key(Kind kind, const std::string& node, const std::string& id = {});
  static std::optional<Key> parse_key(const std::string& key);

  void publish_record(const std::string& key, const catalog::RecordOrigin& origin, gossip::Bytes value,
                      Clock::time_point now);
  void publish_absent(const std::string& key, Clock::time_point now);
  // Puts a peer's value into the catalog unless a newer write of another owner shows.
  bool apply_value(const std::string& owner, const Key& key, std::uint64_t version, const gossip::Bytes& value,
                   Clock::time_point now);
  void apply_session(const std::string& owner, const Key& key, const gossip::ReplicaChange& change, Clock::time_point now);
  void forget(const std::string& owner);  // its records off this agent (left, reaped, lease over)
  void apply_removal(const std::string& owner, const Key& key, Clock::time_point now);
  // After the showing record went: the newest other owner's value for the key, if any.
  void fall_back(const Key& key, Clock::time_point now);
  void apply_waiting_records(const std::string& node, Clock::time_point now);
  const catalog::RecordOrigin* showing(const Key& key) const;
  void set_serf_health(const std::string& node, bool alive);
  bool is_hearsay_member(const std::string& name) const;
  void stage_marks();

  catalog::Catalog& catalog_;
  catalog::SqliteStore& store_;
  gossip::Replication& engine_;
  const gossip::Membership& membership_;
  std::string self_;
  NextVersion next_version_;
  std::chrono::milliseconds reap_after_;
  std::map<std::string, Clock::time_point> failed_since_;
  std::set<std::string> reaped_;  // and left: refused until they join again
  RemoteLiveness remotes_;
  std::string staged_marks_;
  CatalogReplicationStats stats_;
  loop::Histogram propagation_lag_;
};

}  // namespace hearsay::agent
