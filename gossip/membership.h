// SWIM membership with Lifeguard, following memberlist 0.2.2's rules (memberlist-wire.md 4.7,
// 5.2, 7) so serf agents and hearsay agents can share a cluster. Sans-I/O: fed packets, push/pull
// exchanges and the time; it returns packets to send, push/pulls to start and member events.
// The libuv shell (transport) does the sockets; the simulator in tests/ does a whole network.
// Three departures from memberlist's pacing, all wire-compatible and idle when nothing changes:
// news goes out at once when no gossip round went out in the last interval, instead of waiting
// for the next tick (eager_gossip_at(); still at most one round per interval); gossip reaches up
// to twice as many members a round while news is queued (gossip()); and a push/pull that
// changed our view brings the next one forward (push_pull_soon()).
// Two in probing, also wire-compatible: a helper nacks at 4/5 of the probe timeout, so that the
// nack arrives before the prober's deadline (on_indirect_ping), and a probe of a member whose
// host reports its port unreachable ends once the helpers' nacks confirm it (port_unreachable).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <utility>
#include <string>
#include <unordered_set>
#include <vector>

#include "gossip/broadcast_queue.h"
#include "gossip/codec.h"
#include "gossip/config.h"
#include "gossip/member_table.h"
#include "gossip/messages.h"
#include "gossip/serf_query.h"
#include "gossip/suspicion.h"

namespace hearsay::gossip {

struct MemberEvent {
  enum class Kind { joined, updated, failed, left } kind;
  Member member;
};

struct OutgoingPacket {
  Address to;
  Bytes packet;  // plain: the shell adds encryption
};

struct PushPullRequest {
  Address to;
  PushPull request;
};

// memberlist's TCP fallback probe: when a direct ping went unanswered, the same ping also goes
// over a TCP stream, alongside the indirect pings. A member that answers it is not suspected:
// it is alive and only its UDP is lost (a firewall, a full socket buffer). The shell reports
// the outcome through stream_ping_result, before `deadline` or not at all.
struct StreamPing {
  Address to;
  Ping ping;
  Clock::time_point deadline;
};

// A user message that is not serf's: hearsay's own traffic (catalog replication), whose first
// payload byte is kHearsayUserMessage. Membership only hands it on.
inline constexpr std::uint8_t kHearsayUserMessage = 0x48;  // 'H'; serf's types are 0..9

struct AppMessage {
  Address from;
  Bytes payload;  // without the leading kHearsayUserMessage byte
};

struct MembershipStats {
  std::uint64_t packets_received = 0;
  std::uint64_t messages_dropped = 0;  // malformed, or refused by the rules
  std::uint64_t user_messages = 0;
  std::uint64_t probes = 0;
  std::uint64_t probes_failed = 0;
  std::uint64_t probes_answered_over_tcp_only = 0;  // UDP lost both ways, TCP fallback answered
  std::uint64_t ports_unreachable = 0;  // "nothing listens" reports about a probe's or relay's target
  std::uint64_t refutations = 0;
};

class Membership {
 public:
  Membership(MembershipConfig config, std::uint64_t seed, Clock::time_point now);

  // Push/pull (Join = true) with each seed; the shell reports each outcome back.
  void join(const std::vector<Address>& seeds);
  // The push/pull that joins through `seed`, for a shell that runs it itself (and reports the
  // outcome through push_pull_reply as usual).
  PushPullRequest join_request(const Address& seed) const { return PushPullRequest{seed, local_state(true)}; }
  // Graceful leave: a serf leave intent now, then (two gossip rounds later) dead about
  // ourselves with From = us, which every member records as left. No refuting from here on.
  void leave(Clock::time_point now);
  bool has_left() const { return leaving_; }
  // Our departure has been sent and had time to spread: the agent may stop now.
  bool leave_complete(Clock::time_point now) const;
  // Consul's force-leave: a failed member is marked left here and, through a serf leave intent,
  // on every serf and hearsay member, so nobody tries to reconnect to it. Returns an error text,
  // empty on success.
  std::string force_leave(const std::string& node, Clock::time_point now);

  // One UDP packet (decrypted, CRC and compression still on).
  void receive_packet(const Address& from, const std::uint8_t* data, std::size_t size, Clock::time_point now);
  // We are the responder of a push/pull: merge theirs, return ours.
  PushPull handle_push_pull(const PushPull& request, Clock::time_point now);
  // We started a push/pull and its reply arrived. (A failed exchange needs no report: the
  // next one goes to another member in its time.)
  void push_pull_reply(const PushPull& reply, Clock::time_point now);

  // Runs every timer that is due. Call at next_deadline() or earlier.
  void tick(Clock::time_point now);
  Clock::time_point next_deadline() const;

  std::vector<OutgoingPacket> take_packets() { return std::exchange(packets_, {}); }
  std::vector<PushPullRequest> take_push_pulls() { return std::exchange(push_pulls_, {}); }
  std::vector<StreamPing> take_stream_pings() { return std::exchange(stream_pings_, {}); }
  // The TCP fallback ping with this sequence number was answered (or could not be).
  void stream_ping_result(std::uint32_t seq, bool answered, Clock::time_point now);
  // The network reports that nothing listens at `to` any more (an ICMP port unreachable for a
  // datagram we sent there): the member's process is gone though its host is up. A probe of it
  // goes on to its indirect pings at once, and a helper pinging it for someone nacks at once.
  // A probe then ends as soon as the outcome is certain: no ack, the TCP ping failed too, and
  // every helper nacked (so our own network is fine). memberlist waits out both timeouts.
  void port_unreachable(const Address& to, Clock::time_point now);
  // Members that answered a probe over TCP only since the last call (for the shell to warn:
  // their UDP is lost, which usually means a firewall or a misconfigured address).
  std::vector<std::string> take_udp_silent() { return std::exchange(udp_silent_, {}); }
  std::vector<MemberEvent> take_events() { return std::exchange(events_, {}); }
  std::vector<AppMessage> take_app_messages() { return std::exchange(app_messages_, {}); }

  // serf queries (gossip/serf_query.h). start_query spreads a new query from us and returns it;
  // we are not among those it is delivered to, so the caller answers for itself. Key queries
  // from others arrive through take_queries (once each, acked if asked); respond() sends one
  // answer to the asker, and answers to our queries arrive through take_query_responses.
  SerfQuery start_query(const std::string& name, Bytes payload);
  void respond(const SerfQuery& query, Bytes payload);
  std::vector<SerfQuery> take_queries() { return std::exchange(queries_, {}); }
  std::vector<SerfQueryResponse> take_query_responses() { return std::exchange(query_responses_, {}); }
  // serf's default: gossip_interval * 16 * ceil(log10(alive members + 1)).
  std::chrono::nanoseconds query_timeout() const;

  const MemberTable& members() const { return members_; }
  const Member& self() const { return members_[kSelf]; }
  // Failed members, including those already reaped from members(), until reconnect_timeout.
  const std::map<std::string, Member>& failed_members() const { return failed_; }
  std::size_t alive_count() const { return alive_count_; }
  int awareness() const { return awareness_; }
  const MembershipStats& stats() const { return stats_; }
  const MembershipConfig& config() const { return config_; }

 private:
  struct Probe {
    std::string target;
    std::uint32_t seq = 0;
    Clock::time_point start, indirect_at, deadline;
    bool indirect_sent = false;
    bool acked = false;
    bool acked_over_tcp = false;
    bool stream_ping_pending = false;  // handed to the shell, no result yet
    bool unreachable = false;          // see port_unreachable
    std::size_t expected_nacks = 0, nacks = 0;
  };
  struct Relay {  // we ping a target on someone else's behalf
    Address requester;
    Address target;
    std::uint32_t requester_seq = 0;
    bool nack = false;            // a nack is still owed if no ack comes by nack_at
    Clock::time_point nack_at;    // see on_indirect_ping
    Clock::time_point deadline;   // an ack after this is not passed on
    Clock::time_point next_due() const { return nack ? nack_at : deadline; }
  };
  // Message rules (memberlist state.go).
  void on_alive(const Alive& a, Clock::time_point now);
  void on_suspect(const Suspect& s, Clock::time_point now);
  void on_dead(const Dead& d, Clock::time_point now);
  void on_ping(const Address& from, const Ping& p);
  void on_indirect_ping(const Address& from, const IndirectPing& p, Clock::time_point now);
  void on_ack(const Ack& a, Clock::time_point now);
  void on_nack(const Nack& n, Clock::time_point now);
  void finish_probe_if_certain(Clock::time_point now);
  void send_nack(Relay& relay);
  void handle_message(const Address& from, const DecodeResult& decoded, Clock::time_point now);
  void refute(std::uint32_t accused_incarnation);
  void on_user_message(const Address& from, const UserMessage& m, Clock::time_point now);
  Bytes serf_leave_intent(std::uint64_t ltime, const std::string& node) const;
  void mark_left(const std::string& node, Clock::time_point now);
  bool is_failed(const std::string& node) const;
  void follow_serf_clock(const Bytes& push_pull_user_state);  // dead here, or reaped but still in failed_
  void relay_serf_message(const UserMessage& m);
  void on_serf_query(const UserMessage& m);
  void on_serf_query_response(const UserMessage& m);
  bool first_sight_of_query(std::uint64_t ltime, std::uint32_t id);  // remembers it
  void send_query_response(const SerfQuery& query, const SerfQueryResponse& response);
  void set_state(Member& m, NodeState state, Clock::time_point now);  // keeps alive_count_ right
  bool merge(const PushPull& remote, Clock::time_point now);  // true when our view changed
  void push_pull_soon(Clock::time_point now);
  PushPull local_state(bool join) const;

  // Timers.
  void start_probe(Clock::time_point now);
  void probe_indirect(Probe& probe);
  void finish_probe(Clock::time_point now);
  void gossip(Clock::time_point now);
  void start_push_pull();
  void reconnect(Clock::time_point now);
  void reset_probe_order(Clock::time_point now);
  void expire_relays(Clock::time_point now);
  void fire_suspicions(Clock::time_point now);

  // Sending.
  // Templates over the message type, so no Message (a copy of every field) is built to encode.
  template <typename M>
  void send(const Address& to, const M& message) { send_encoded(to, encode(message)); }
  void send_encoded(const Address& to, Bytes first);
  template <typename M>
  void broadcast(const std::string& about, const M& message) { broadcasts_.push(about, encode(message)); }
  void apply_awareness(int delta);
  Duration scaled(Duration d) const { return d * (awareness_ + 1); }
  template <typename Keep>
  std::vector<const Member*> random_members(std::size_t k, const Keep& keep);
  std::size_t estimated_members() const { return members_.size(); }
  bool peer_supports_nack(const Member& m) const { return m.vsn.size() >= 2 && m.vsn[1] >= 4; }
  // memberlist answers a ping on a stream from protocol version 3 on.
  bool peer_supports_stream_ping(const Member& m) const { return m.vsn.size() >= 2 && m.vsn[1] >= 3; }

  // We are the first member added, and removals keep the order, so our id never changes.
  static constexpr MemberTable::Id kSelf = 0;

  MembershipConfig config_;
  std::mt19937_64 rng_;
  MemberTable members_;
  std::vector<MemberTable::Id> probe_order_;  // ids, valid until the next reset_probe_order()
  std::size_t probe_index_ = 0;
  std::optional<Probe> probe_;
  std::map<std::uint32_t, Relay> relays_;  // by our ping's seq
  Suspicions suspicions_;
  BroadcastQueue broadcasts_;
  std::uint32_t next_seq_ = 1;
  int awareness_ = 0;
  std::size_t alive_count_ = 1;  // ourselves
  std::uint64_t state_changes_ = 0;  // every set_state(): tells whether a merge brought news
  bool fast_push_pull_due_ = false;  // next_push_pull_ was brought forward by push_pull_soon()
  unsigned fast_push_pulls_ = 0;     // such early exchanges in a row, each of which found news
  // The last gossip round that sent something. Queued news goes at once when that was an
  // interval ago or more: each hop of a suspicion, a death or a join then costs the network's
  // latency instead of half a gossip interval on average, and the rate of rounds is unchanged.
  Clock::time_point last_gossip_{};
  Clock::time_point eager_gossip_at() const { return last_gossip_ + config_.gossip_interval; }
  bool leaving_ = false;
  bool left_ = false;              // our own "dead" has been queued
  Clock::time_point leave_started_{}, leave_at_{}, left_at_{};
  // Newest serf join/leave intent LTime per known member, so each intent is passed on once.
  std::map<std::string, std::uint64_t> intent_ltimes_;
  // serf events and queries already passed on (hashes of their bytes), oldest first.
  std::unordered_set<std::size_t> relayed_;
  std::deque<std::size_t> relayed_order_;
  std::uint64_t serf_clock_ = 0;   // largest serf member-event LTime seen
  std::uint64_t query_clock_ = 0;  // serf's query clock: largest query LTime seen or sent
  // Queries seen, as serf keeps them: by LTime, the last kQueryBuffer clock values.
  std::map<std::uint64_t, std::vector<std::uint32_t>> queries_seen_;
  std::vector<SerfQuery> queries_;
  std::vector<SerfQueryResponse> query_responses_;
  Clock::time_point next_probe_, next_gossip_, next_push_pull_, next_reconnect_;
  // Failed (not left) members, kept after they are reaped so reconnect() can try them.
  std::map<std::string, Member> failed_;
  std::vector<OutgoingPacket> packets_;
  std::vector<PushPullRequest> push_pulls_;
  std::vector<StreamPing> stream_pings_;  // at most the current probe's
  std::vector<std::string> udp_silent_;
  std::vector<MemberEvent> events_;
  std::vector<AppMessage> app_messages_;
  MembershipStats stats_;
  std::vector<DecodeResult> decoded_;  // receive_packet()'s scratch: one allocation per packet less
};

}  // namespace hearsay::gossip
