// A deterministic network for Membership: virtual time, seeded randomness, per-packet latency
// and loss, partitions, killed members and paused (CPU-starved) members. Push/pull exchanges
// travel as two messages with latency; a partition or a dead responder fails them. Nothing here
// reads the wall clock, so a seed reproduces a run exactly.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gossip/membership.h"

namespace hearsay::gossip::sim {

struct Options {
  std::uint64_t seed = 1;
  double loss = 0.0;  // UDP packets only
  Duration min_latency{1};
  Duration max_latency{5};
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
      nodes_.push_back(Node{std::make_unique<Membership>(c, options.seed * 7919 + i, now_)});
      by_address_[c.advertise] = i;
      wake(i);
    }
  }

  static Address address_of(std::size_t i) {
    return Address{Bytes{10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)},
                   7946};
  }
  Clock::time_point now() const { return now_; }
  Membership& node(std::size_t i) { return *nodes_[i].membership; }
  std::size_t size() const { return nodes_.size(); }

  // Node i joins through node `via` after `delay`.
  void join(std::size_t i, std::size_t via, Duration delay = Duration(0)) {
    at(now_ + delay, [this, i, via] {
      node(i).join({address_of(via)});
      flush(i);
    });
  }
  void kill(std::size_t i) { nodes_[i].killed = true; }
  void set_loss(double loss) { options_.loss = loss; }
  void pause(std::size_t i, Duration d) { nodes_[i].paused_until = now_ + d; }
  // Members in different groups cannot reach each other until heal().
  void partition(const std::function<int(std::size_t)>& group_of) {
    groups_.assign(nodes_.size(), 0);
    for (std::size_t i = 0; i < nodes_.size(); ++i) groups_[i] = group_of(i);
  }
  void heal() { groups_.clear(); }
  void leave(std::size_t i) {
    node(i).leave(now_);
    flush(i);
  }
  // Node `at` forces failed node `victim` out; returns Membership's error text.
  std::string force_leave(std::size_t at, std::size_t victim) {
    std::string error = node(at).force_leave(names_[victim], now_);
    flush(at);
    return error;
  }

  void run_for(Duration d) { run_until(now_ + d); }
  void run_until(Clock::time_point end) {
    while (!events_.empty() && events_.front().when <= end) {
      std::pop_heap(events_.begin(), events_.end());
      Event e = std::move(events_.back());
      events_.pop_back();
      now_ = e.when;
      e.action();
    }
    now_ = end;
  }
  // Runs until `done()` holds (checked every `step`) or `limit` passes; returns the time taken.
  std::optional<Duration> run_until_true(const std::function<bool()>& done, Duration limit, Duration step = Duration(100)) {
    const Clock::time_point start = now_;
    while (now_ - start <= limit) {
      if (done()) return std::chrono::duration_cast<Duration>(now_ - start);
      run_for(step);
    }
    return std::nullopt;
  }

  // The state node `viewer` has for node `subject` (dead if it does not know it).
  NodeState state_of(std::size_t viewer, std::size_t subject) const {
    const Member* m = nodes_[viewer].membership->members().find(names_[subject]);
    return m ? m->state : NodeState::dead;
  }
  bool alive(std::size_t i) const { return !nodes_[i].killed; }
  std::uint64_t packets_sent() const { return packets_sent_; }
  // Every "failed" event any node raised: (viewer, subject, when).
  struct Failure {
    std::size_t viewer;
    std::string subject;
    Clock::time_point when;
  };
  const std::vector<Failure>& failures() const { return failures_; }

 private:
  struct Node {
    std::unique_ptr<Membership> membership;
    bool killed = false;
    Clock::time_point paused_until{};
    std::uint64_t wake_version = 0;
  };
  struct Event {
    Clock::time_point when;
    std::uint64_t order;  // ties in time keep insertion order
    std::function<void()> action;
    bool operator<(const Event& o) const { return when != o.when ? when > o.when : order > o.order; }
  };

  void at(Clock::time_point when, std::function<void()> fn) {
    events_.push_back(Event{when, next_id_++, std::move(fn)});
    std::push_heap(events_.begin(), events_.end());
  }
  Duration latency() {
    std::uniform_int_distribution<std::int64_t> d(options_.min_latency.count(), options_.max_latency.count());
    return Duration(d(rng_));
  }
  bool reachable(std::size_t a, std::size_t b) const { return groups_.empty() || groups_[a] == groups_[b]; }
  bool paused(std::size_t i) const { return now_ < nodes_[i].paused_until; }

  // Runs `fn` on node i now, or when its pause ends (a starved process handles its backlog
  // late, in order); nothing for a killed node.
  void on_node(std::size_t i, std::function<void()> fn) {
    if (nodes_[i].killed) return;
    if (paused(i)) {
      at(nodes_[i].paused_until, [this, i, fn = std::move(fn)] { on_node(i, fn); });
      return;
    }
    fn();
    flush(i);
  }

  void wake(std::size_t i) {
    const std::uint64_t version = ++nodes_[i].wake_version;
    const Clock::time_point when = std::max(now_, nodes_[i].membership->next_deadline());
    at(when, [this, i, version] {
      if (nodes_[i].wake_version != version) return;  // superseded by a later wake
      on_node(i, [this, i] { node(i).tick(now_); });
    });
  }

  // Delivers whatever node i wants to send, then re-arms its timer.
  void flush(std::size_t i) {
    Membership& m = node(i);
    for (OutgoingPacket& p : m.take_packets()) {
      ++packets_sent_;
      auto to = by_address_.find(p.to);
      if (to == by_address_.end()) continue;
      const std::size_t j = to->second;
      if (!reachable(i, j) || std::bernoulli_distribution(options_.loss)(rng_)) continue;
      // Inner callbacks own copies: a paused receiver runs them after this event is gone.
      at(now_ + latency(), [this, i, j, bytes = std::move(p.packet)] {
        on_node(j, [this, i, j, bytes] { node(j).receive_packet(address_of(i), bytes.data(), bytes.size(), now_); });
      });
    }
    for (PushPullRequest& r : m.take_push_pulls()) {
      auto to = by_address_.find(r.to);
      if (to == by_address_.end()) continue;
      const std::size_t j = to->second;
      at(now_ + latency(), [this, i, j, request = std::move(r.request)] {
        if (!reachable(i, j) || nodes_[j].killed) {
          on_node(i, [this, i, j] { node(i).push_pull_failed(address_of(j)); });
          return;
        }
        on_node(j, [this, i, j, request] {
          PushPull reply = node(j).handle_push_pull(request, now_);
          at(now_ + latency(), [this, i, reply = std::move(reply)] {
            on_node(i, [this, i, reply] { node(i).push_pull_reply(reply, now_); });
          });
        });
      });
    }
    for (MemberEvent& e : m.take_events()) {
      if (e.kind == MemberEvent::Kind::failed) failures_.push_back({i, e.member.name, now_});
    }
    wake(i);
  }

  Options options_;
  std::mt19937_64 rng_;
  Clock::time_point now_ = Clock::time_point{} + std::chrono::hours(1);
  std::vector<Node> nodes_;
  std::map<Address, std::size_t> by_address_;
  std::vector<int> groups_;
  std::vector<Event> events_;  // a heap ordered by time
  std::uint64_t next_id_ = 0;
  std::uint64_t packets_sent_ = 0;
  std::vector<Failure> failures_;
  std::vector<std::string> names_;
};

}  // namespace hearsay::gossip::sim
