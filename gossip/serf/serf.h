// serf's protocol on top of Membership (hashicorp/serf 0.9.4, serf/*.go; memberlist-wire.md 8):
// join and leave intents under the member-status Lamport clock, user events and queries passed
// on once each, the key-management queries delivered to the agent and answered to their asker.
// It is Membership's Delegate, as serf is memberlist's: serf messages come in as user messages
// and leave as broadcasts Membership gossips with its own news. Sans-I/O: fed messages and the
// time, it returns what to send straight to an address and what the agent should act on;
// randomness (query ids) comes from the seed it is given.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "gossip/membership/delegate.h"
#include "gossip/membership/membership.h"
#include "gossip/serf/serf_query.h"

namespace hearsay::gossip {

struct SerfStats {
  std::uint64_t messages_dropped = 0;  // malformed queries and query responses
};

class Serf final : public Delegate {
 public:
  // Becomes `membership`'s delegate until destroyed; `membership` must outlive it.
  Serf(Membership& membership, std::uint64_t seed);
  ~Serf() override;
  Serf(const Serf&) = delete;
  Serf& operator=(const Serf&) = delete;

  // Graceful leave in serf's order: a leave intent now, then Membership::leave, whose own
  // "dead" waits until the intent has gone out (serf lists a member that dies without one as
  // failed, memberlist-wire.md 8.5).
  void leave(Clock::time_point now);
  // Consul's force-leave (serf's RemoveFailedNode): a failed member is marked left here and,
  // through a leave intent, on every serf and hearsay member, so nobody tries to reconnect to
  // it. Returns an error text, empty on success.
  std::string force_leave(const std::string& node, Clock::time_point now);

  // Queries (gossip/serf/serf_query.h). start_query spreads a new query from us and returns it; we
  // are not among those it is delivered to, so the caller answers for itself. Key queries from
  // others arrive through take_queries (once each, acked if asked); respond() sends one answer
  // to the asker, and answers to our queries arrive through take_query_responses.
  SerfQuery start_query(const std::string& name, Bytes payload);
  void respond(const SerfQuery& query, Bytes payload);
  std::vector<SerfQuery> take_queries() { return std::exchange(queries_, {}); }
  std::vector<SerfQueryResponse> take_query_responses() { return std::exchange(query_responses_, {}); }
  // serf's default: gossip_interval * 16 * ceil(log10(alive members + 1)).
  std::chrono::nanoseconds query_timeout() const;

  // Sent straight to one address, never gossiped (serf's SendToAddress): query responses.
  std::vector<OutgoingPacket> take_packets() { return std::exchange(packets_, {}); }

  const Membership& membership() const { return membership_; }
  std::uint64_t member_clock() const { return member_clock_; }
  std::uint64_t query_clock() const { return query_clock_; }
  const SerfStats& stats() const { return stats_; }

  // Delegate.
  void notify_user_message(const Bytes& payload, Clock::time_point now) override;
  std::vector<Bytes> take_broadcasts() override { return std::exchange(broadcasts_, {}); }
  bool has_broadcasts() const override { return !broadcasts_.empty(); }
  // Always empty: hearsay keeps no serf state to offer, and serf takes an empty one
  // (memberlist-wire.md 5.2, 8.7).
  Bytes local_state(bool join) const override;
  void merge_remote_state(const Bytes& state, bool join) override;
  bool intends_to_leave(const std::string& node) const override { return leaving_.contains(node); }

 private:
  void on_intent(const Bytes& message, Clock::time_point now);
  void on_query(const Bytes& message);
  void on_query_response(const Bytes& message);
  void relay_event(const Bytes& message);
  bool first_sight_of_query(std::uint64_t ltime, std::uint32_t id);  // remembers it
  void send_query_response(const SerfQuery& query, const SerfQueryResponse& response);
  void broadcast_leave_intent(const std::string& node);
  bool known(const std::string& node) const;
  void forget_departed_intents();

  Membership& membership_;
  std::mt19937_64 rng_;
  std::uint64_t member_clock_ = 0;  // largest serf member-status LTime seen or sent
  std::uint64_t query_clock_ = 0;   // serf's query clock: largest query LTime seen or sent
  // Newest join/leave intent LTime per known member, so each intent is passed on once.
  std::map<std::string, std::uint64_t> intent_ltimes_;
  // Members whose leave intent came while they were alive (serf's StatusLeaving), until a newer
  // join intent: when they die, they have left.
  std::set<std::string> leaving_;
  // User events already passed on (hashes of their bytes), oldest first.
  std::unordered_set<std::size_t> relayed_;
  std::deque<std::size_t> relayed_order_;
  // Queries seen, as serf keeps them: by LTime, the last kQueryBuffer clock values.
  std::map<std::uint64_t, std::vector<std::uint32_t>> queries_seen_;
  std::vector<Bytes> broadcasts_;
  std::vector<OutgoingPacket> packets_;
  std::vector<SerfQuery> queries_;
  std::vector<SerfQueryResponse> query_responses_;
  SerfStats stats_;
};

}  // namespace hearsay::gossip
