// A deterministic network for Membership and the Serf layered on it: virtual time, seeded randomness, per-packet latency
// and loss, partitions, killed members, paused (CPU-starved) members and members whose UDP is
// blocked. Push/pull exchanges and TCP fallback pings travel as two messages with latency; a
// partition or a dead responder fails them. Nothing here reads the wall clock, so a seed
// reproduces a run exactly.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gossip/membership/membership.h"
#include "gossip/serf/serf.h"
#include "sim_events.h"

namespace hearsay::gossip::sim {

struct Options {
  std::uint64_t seed = 1;
  double loss = 0.0;  // UDP packets only
  Duration min_latency{1};
  Duration max_latency{5};
  // A killed member's host answers datagrams to it with an ICMP port unreachable (a crashed
  // process on a running host), reported to the sender's Membership::port_unreachable.
  bool port_unreachable = false;
};

class Network {
 public:
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;
  Network(std::size_t n, Options options, MembershipConfig base = {}) : options_(options), rng_(options.seed) {
    for (std::size_t i = 0; i < n; ++i) {
      MembershipConfig c = base;
      c.name = "n" + std::to_string(i);
      names_.push_back(c.name);
      c.advertise = address_of(i);
      auto membership = std::make_unique<Membership>(c, options.seed * 7919 + i, now());
      auto serf = std::make_unique<Serf>(*membership, options.seed * 7919 + i);
      nodes_.push_back(Node{std::move(membership), std::move(serf)});
      addresses_.push_back(c.advertise);
      wake(i);
    }
  }

  static Address address_of(std::size_t i) {
    return Address{Bytes{10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)},
                   kPort};
  }
  // The inverse of address_of (no map to search for every packet); nullopt for an address
  // that is not one of ours.
  std::optional<std::size_t> index_of(const Address& a) const {
    if (a.port != kPort || a.ip.size() != 4 || a.ip[0] != 10) return std::nullopt;
    const std::size_t i = std::size_t{a.ip[1]} << 16 | std::size_t{a.ip[2]} << 8 | a.ip[3];
    if (i >= nodes_.size()) return std::nullopt;
    return i;
  }
  Clock::time_point now() const { return events_.now(); }
  Membership& node(std::size_t i) { return *nodes_[i].membership; }
  Serf& serf(std::size_t i) { return *nodes_[i].serf; }
  std::size_t size() const { return nodes_.size(); }

  // Node i joins through node `via` after `delay`.
  void join(std::size_t i, std::size_t via, Duration delay = Duration(0)) {
    at(now() + delay, [this, i, via] {
      node(i).join({address_of(via)});
      flush(i);
    });
  }
  void kill(std::size_t i) { nodes_[i].killed = true; }
  void set_loss(double loss) { options_.loss = loss; }
  void pause(std::size_t i, Duration d) { nodes_[i].paused_until = now() + d; }
  // Members in different groups cannot reach each other until heal().
  void partition(const std::function<int(std::size_t)>& group_of) {
    groups_.assign(nodes_.size(), 0);
    for (std::size_t i = 0; i < nodes_.size(); ++i) groups_[i] = group_of(i);
  }
  void heal() { groups_.clear(); }
  // Node i's datagrams are lost both ways (a firewall that lets only TCP through).
  void block_udp(std::size_t i, bool blocked = true) { nodes_[i].udp_blocked = blocked; }
  void leave(std::size_t i) {
    serf(i).leave(now());  // serf's leave intent, then the member's departure
    flush(i);
  }
  // Node `at` forces failed node `victim` out; returns Serf's error text.
  std::string force_leave(std::size_t at, std::size_t victim) {
    std::string error = serf(at).force_leave(names_[victim], now());
    flush(at);
    return error;
  }

  void run_for(Duration d) { events_.run_for(d); }
  void run_until(Clock::time_point end) { events_.run_until(end); }
  // Runs until `done()` holds (checked every `step`) or `limit` passes; returns the time taken.
  std::optional<Duration> run_until_true(const std::function<bool()>& done, Duration limit, Duration step = Duration(100)) {
    return events_.run_until_true(done, limit, step);
  }

  // The state node `viewer` has for node `subject` (dead if it does not know it).
  NodeState state_of(std::size_t viewer, std::size_t subject) const {
    const Member* m = nodes_[viewer].membership->members().find(names_[subject]);
    return m ? m->state : NodeState::dead;
  }
  bool alive(std::size_t i) const { return !nodes_[i].killed; }
  std::uint64_t packets_sent() const { return packets_sent_; }
  std::uint64_t push_pulls_started() const { return push_pulls_started_; }
  std::uint64_t stream_pings_started() const { return stream_pings_started_; }
  // Every "failed" event any node raised: (viewer, subject, when).
  struct Failure {
    std::size_t viewer;
    std::string subject;
    Clock::time_point when;
  };
  const std::vector<Failure>& failures() const { return failures_; }

 private:
  static constexpr std::uint16_t kPort = 7946;

  struct Node {
    std::unique_ptr<Membership> membership;
    std::unique_ptr<Serf> serf;  // membership's delegate: declared after it, destroyed before it
    bool killed = false;
    bool udp_blocked = false;
    Clock::time_point paused_until{};
    std::uint64_t wake_version = 0;
    std::optional<Clock::time_point> wake_at{};  // of the pending wake event, if any
  };

  void at(Clock::time_point when, std::function<void()> fn) { events_.at(when, std::move(fn)); }
  Duration latency() {
    std::uniform_int_distribution<std::int64_t> d(options_.min_latency.count(), options_.max_latency.count());
    return Duration(d(rng_));
  }
  bool reachable(std::size_t a, std::size_t b) const { return groups_.empty() || groups_[a] == groups_[b]; }
  bool paused(std::size_t i) const { return now() < nodes_[i].paused_until; }

  // Runs `fn` on node i now, or when its pause ends (a starved process handles its backlog
  // late, in order); nothing for a killed node.
  void on_node(std::size_t i, std::function<void()> fn) {
    if (nodes_[i].killed) return;
    if (paused(i)) {
      at(nodes_[i].paused_until, [this, i, fn = std::move(fn)]() mutable { on_node(i, std::move(fn)); });
      return;
    }
    fn();
    flush(i);
  }

  // Schedules node i's next tick. Every flush calls this: a wake already pending for the same
  // time stands, so the event queue does not fill with superseded wakes.
  void wake(std::size_t i) {
    Node& n = nodes_[i];
    const Clock::time_point when = std::max(now(), n.membership->next_deadline());
    if (n.wake_at == when) return;
    const std::uint64_t version = ++n.wake_version;
    n.wake_at = when;
    at(when, [this, i, version] {
      if (nodes_[i].wake_version != version) return;  // superseded by a later wake
      nodes_[i].wake_at.reset();
      on_node(i, [this, i] { node(i).tick(now()); });
    });
  }

  // A request from i to j over TCP, which loses nothing (it retransmits): after a latency,
  // `answer` runs on j and returns what runs on i another latency later; a partition or a dead
  // j runs `failed` on i instead.
  void tcp_exchange(std::size_t i, std::size_t j, std::function<std::function<void()>()> answer,
                    std::function<void()> failed) {
    at(now() + latency(), [this, i, j, answer = std::move(answer), failed = std::move(failed)]() mutable {
      if (!reachable(i, j) || nodes_[j].killed) return on_node(i, std::move(failed));
      on_node(j, [this, i, answer = std::move(answer)] {
        std::function<void()> reply = answer();
        at(now() + latency(), [this, i, reply = std::move(reply)]() mutable { on_node(i, std::move(reply)); });
      });
    });
  }

  // Delivers whatever node i wants to send, then re-arms its timer.
  void flush(std::size_t i) {
    Membership& m = node(i);
    std::vector<OutgoingPacket> packets = serf(i).take_packets();  // answers to serf queries
    for (OutgoingPacket& p : m.take_packets()) packets.push_back(std::move(p));
    (void)serf(i).take_queries();  // an agent's business: none answers here
    (void)serf(i).take_query_responses();
    for (OutgoingPacket& p : packets) {
      ++packets_sent_;
      const auto to = index_of(p.to);
      if (!to) continue;
      const std::size_t j = *to;
      if (!reachable(i, j) || nodes_[i].udp_blocked || nodes_[j].udp_blocked) continue;
      if (std::bernoulli_distribution(options_.loss)(rng_)) continue;
      // Each event runs once, so it hands its bytes on to the inner callback, which a paused
      // receiver runs after this event is gone.
      at(now() + latency(), [this, i, j, bytes = std::move(p.packet)]() mutable {
        if (nodes_[j].killed && options_.port_unreachable) {
          at(now() + latency(), [this, i, j] { on_node(i, [this, i, j] { node(i).port_unreachable(addresses_[j], now()); }); });
          return;
        }
        on_node(j, [this, i, j, bytes = std::move(bytes)] {
          node(j).receive_packet(addresses_[i], bytes.data(), bytes.size(), now());
        });
      });
    }
    for (PushPullRequest& r : m.take_push_pulls()) {
      ++push_pulls_started_;
      const auto to = index_of(r.to);
      if (!to) continue;
      const std::size_t j = *to;
      tcp_exchange(
          i, j,
          [this, i, j, request = std::move(r.request)]() -> std::function<void()> {
            PushPull reply = node(j).handle_push_pull(request, now());
            return [this, i, reply = std::move(reply)] { node(i).push_pull_reply(reply, now()); };
          },
          [] {});  // a failed push/pull needs no report
    }
    // TCP fallback pings. A paused member answers only once it runs again (too late, as a
    // stalled process would be).
    for (StreamPing& p : m.take_stream_pings()) {
      ++stream_pings_started_;
      const auto to = index_of(p.to);
      if (!to) continue;
      const std::uint32_t seq = p.ping.seq_no;
      tcp_exchange(
          i, *to, [this, i, seq]() -> std::function<void()> { return [this, i, seq] { node(i).stream_ping_result(seq, true, now()); }; },
          [this, i, seq] { node(i).stream_ping_result(seq, false, now()); });
    }
    (void)m.take_udp_silent();
    for (MemberEvent& e : m.take_events()) {
      if (e.kind == MemberEvent::Kind::failed) failures_.push_back({i, e.member.name, now()});
    }
    wake(i);
  }

  Options options_;
  std::mt19937_64 rng_;
  std::vector<Node> nodes_;
  std::vector<Address> addresses_;  // addresses_[i] == address_of(i)
  std::vector<int> groups_;
  sim::EventQueue events_{Clock::time_point{} + std::chrono::hours(1)};
  std::uint64_t packets_sent_ = 0;
  std::uint64_t push_pulls_started_ = 0;
  std::uint64_t stream_pings_started_ = 0;
  std::vector<Failure> failures_;
  std::vector<std::string> names_;
};

}  // namespace hearsay::gossip::sim
