// SWIM membership with Lifeguard, following memberlist 0.2.2's rules (memberlist-wire.md 4.7,
// 5.2, 7) so serf agents and hearsay agents can share a cluster. Sans-I/O: fed packets, push/pull
// exchanges and the time; it returns packets to send, push/pulls to start and member events.
// serf's protocol rides on it through the Delegate seam (gossip/membership/delegate.h, gossip/serf/serf.h), as
// serf rides on memberlist: user messages in, broadcasts out, push/pull user state both ways.
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
#include <map>
#include <optional>
#include <random>
#include <utility>
#include <string>
#include <vector>

#include "gossip/membership/broadcast_queue.h"
#include "gossip/wire/codec.h"
#include "gossip/membership/config.h"
#include "gossip/membership/delegate.h"
#include "gossip/membership/member_table.h"
#include "gossip/wire/messages.h"
#include "gossip/membership/suspicion.h"
#include "loop/histogram.h"

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
  std::uint64_t messages_dropped = 0;  // malformed, or refused by the rules: the sum of `dropped`
  DropCounts dropped{};                // by reason
  std::uint64_t user_messages = 0;
  std::uint64_t probes = 0;
  std::uint64_t probes_failed = 0;
  std::uint64_t probes_answered_over_tcp_only = 0;  // UDP lost both ways, TCP fallback answered
  std::uint64_t ports_unreachable = 0;  // "nothing listens" reports about a probe's or relay's target
  std::uint64_t refutations = 0;
  loop::Histogram probe_rtt;  // ping to ack (direct or through helpers) of the probes that were acked
};

class Membership {
 public:
  Membership(MembershipConfig config, std::uint64_t seed, Clock::time_point now);

  // Push/pull (Join = true) with each seed; the shell reports each outcome back.
  void join(const std::vector<Address>& seeds);
  // The push/pull that joins through `seed`, for a shell that runs it itself (and reports the
  // outcome through push_pull_reply as usual).
  PushPullRequest join_request(const Address& seed) const { return PushPullRequest{seed, local_state(true)}; }
  // The layer above us (serf, gossip/serf/serf.h), given user messages and push/pull user state;
  // null for none. Unset it before the delegate goes (Serf does so itself).
  void set_delegate(Delegate* delegate) { delegate_ = delegate; }

  // Graceful leave: dead about ourselves with From = us, which every member records as left,
  // once the news already queued (serf's leave intent) has gone out: at least two gossip
  // rounds later, at most 5 s (serf's BroadcastTimeout). No refuting from here on.
  void leave(Clock::time_point now);
  bool has_left() const { return leaving_; }
  // Our departure has been sent and had time to spread: the agent may stop now.
  bool leave_complete(Clock::time_point now) const;
  // A failed member is known to have left (serf's leave intent about it, a force-leave): it is
  // listed as left and no longer tried by reconnect. Nothing for a member that is not failed.
  void mark_left(const std::string& node, Clock::time_point now);
  // Dead here, or reaped but still in failed_members().
  bool is_failed(const std::string& node) const;
  // A dead or left member dropped now, from members() and failed_members(), as the reaper and
  // reconnect_timeout would drop it (no event): for a member list that is never ticked (a
  // remote's, fed its relay's list). False, and nothing done, for ourselves, an unknown name,
  // or a member alive or suspect.
  bool forget(const std::string& node);

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
  void drop(DropReason why) {
    ++stats_.messages_dropped;
    ++stats_.dropped[static_cast<std::size_t>(why)];
  }
  void refute(std::uint32_t accused_incarnation);
  void on_user_message(const Address& from, const UserMessage& m, Clock::time_point now);
  void take_delegate_broadcasts();  // into our queue, before anything else is queued or sent
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
  bool news_queued() const { return broadcasts_.size() > 0 || (delegate_ && delegate_->has_broadcasts()); }
  bool leaving_ = false;
  bool left_ = false;              // our own "dead" has been queued
  Clock::time_point leave_started_{}, leave_at_{}, left_at_{};
  Delegate* delegate_ = nullptr;
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
