// Remote nodes' health, derived on every agent from the relays' session records (issue 16,
// docs/remote-mode.md "Liveness, apart from the link"), as serfHealth is derived from
// membership. A remote is not a gossip member: its flaky link never causes a failure detection.
// Instead each relay that holds a session with a remote publishes a replicated record in its
// own owner space ("r\0REMOTE\0RELAY"); every agent then holds, per remote:
// - held: some relay that is us or an alive (or suspect) member has a live record of it:
//   remoteHealth passing;
// - not held for less than `grace` (a Wi-Fi drop): still passing, the output says since when;
// - not held for `grace` or more: critical;
// - not held for `lease`: the remote's records are forgotten here (every agent does the same
//   on its own clock, as with -reap-after);
// - a record that says the remote left (its goodbye): forgotten at once.
// A remote is a node whose record its own name owns while it is not a member (so a relay's
// records are needed only for its health, not to accept it); restored ones start their grace
// and lease at startup. Its remoteHealth is written once a relay has held it, or critical when
// the grace passes without one: in a mass join a member's own node record often arrives by
// replication before the join's gossip, and such a node, a member a moment later, must never get
// a remoteHealth check (it turned critical on ordinary members, and every agent rewrote its
// catalog for it).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "gossip/membership/membership.h"

namespace hearsay::agent {

inline constexpr std::string_view kRemoteHealthCheckId = "remoteHealth";
inline constexpr std::string_view kRemoteHealthCheckName = "Remote Session Status";

// What a relay publishes about a session it holds (the value of its "r" record).
struct SessionRecord {
  std::string relay;
  std::uint64_t session = 0;
  std::uint64_t since_us = 0;    // wall clock µs at the welcome
  std::uint64_t started_us = 0;  // the remote process's start (Hello::started_us)
  std::uint64_t attempt = 0;     // the remote's session count (Hello::attempt)
  bool left = false;             // the remote said goodbye
  bool operator==(const SessionRecord&) const = default;
  // Which of two sessions of one remote is the newer (it replaces the other at once).
  bool newer_than(const SessionRecord& other) const {
    return started_us != other.started_us ? started_us > other.started_us : attempt > other.attempt;
  }
};
std::string encode_session_record(const SessionRecord& record);
std::optional<SessionRecord> decode_session_record(std::string_view bytes);

struct RemoteLivenessConfig {
  std::chrono::milliseconds grace{45000};
  std::chrono::milliseconds lease{15 * 60 * 1000};
};

class RemoteLiveness {
 public:
  using Clock = gossip::Clock;
  RemoteLiveness(catalog::Catalog& catalog, const gossip::Membership& membership, std::string self,
                 RemoteLivenessConfig config);

  // A relay's session record about `remote` (nullopt: removed).
  void session_record(const std::string& remote, const std::string& relay, std::optional<SessionRecord> record,
                      Clock::time_point now);
  // A node record owned by its own node, which is not a member: a remote (restored or replicated).
  void remote_node(const std::string& node, Clock::time_point now);
  // A member joined, failed or left: remotes held by it may change health.
  void member_changed(Clock::time_point now) { update_all(now); }
  // Health moves with time: call now and then (the agent's reaper does). Returns the remotes
  // whose records must be forgotten now (lease over, or left); they are no longer tracked.
  std::vector<std::string> tick(Clock::time_point now);

  // A remote forgotten after a goodbye or its lease: its writes are refused until a relay
  // holds a session with it again.
  bool forgotten(const std::string& node) const { return forgotten_.contains(node); }


 private:
  struct Remote {
    std::map<std::string, SessionRecord> records;  // by relay
    Clock::time_point last_held{};
    bool ever_held = false;  // a relay's live session record of it was seen
    bool left = false;
    std::string phase;  // what remoteHealth last said: "held by RELAY SESSION", "grace", "critical"
  };
  // A member after all (see above): alive or suspect, or failed or left and never held.
  bool is_member(const std::string& node, const Remote& remote) const;
  // Stops tracking a member that looked like a remote, and takes back what we said of it.
  void drop(const std::string& node);
  // The newest session among holders that are alive, or null.
  const SessionRecord* holder(const Remote& remote) const;
  bool relay_alive(const std::string& relay) const;
  void update(const std::string& node, Remote& remote, Clock::time_point now);
  void update_all(Clock::time_point now);
  void set_health(const std::string& node, Remote& remote, catalog::HealthStatus status, const std::string& phase,
                  const std::string& output);

  catalog::Catalog& catalog_;
  const gossip::Membership& membership_;
  std::string self_;
  RemoteLivenessConfig config_;
  std::map<std::string, Remote> remotes_;
  std::set<std::string> forgotten_;
};

}  // namespace hearsay::agent
