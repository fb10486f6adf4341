// A deterministic network of replication engines: virtual time, seeded loss and latency on
// datagrams, TCP exchanges that fail across a partition. Every node has every other as a peer
// (membership is not simulated here; the membership simulator covers it).
#pragma once

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gossip/wire/codec.h"
#include "gossip/replication/replication.h"
#include "sim_events.h"

namespace hearsay::gossip::rsim {

struct Options {
  std::uint64_t seed = 1;
  double loss = 0.0;  // datagrams only
  Duration min_latency{1};
  Duration max_latency{5};
};

class Network {
 public:
  Network(std::size_t n, Options options, ReplicationConfig base = {})
      : options_(options), base_(base), rng_(options.seed), events_(Clock::time_point{} + std::chrono::hours(1)) {
    for (std::size_t i = 0; i < n; ++i) {
      ReplicationConfig c = base;
      c.name = name_of(i);
      nodes_.push_back(Node{std::make_unique<Replication>(c, options.seed * 7919 + i, now()), 0, 0, {}, {}});
      by_address_[address_of(i)] = i;
      nodes_.back().engine->set_own_state(1, 0);
    }
    for (std::size_t i = 0; i < n; ++i) {
      node(i).set_peers(peers_of(i));
      flush(i);
    }
  }

  static std::string name_of(std::size_t i) { return "n" + std::to_string(i); }
  static Address address_of(std::size_t i) {
    return Address{Bytes{10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)},
                   7946};
  }
  Clock::time_point now() const { return events_.now(); }
  Replication& node(std::size_t i) { return *nodes_[i].engine; }
  std::size_t size() const { return nodes_.size(); }

  // The owner's own writes; the next version of its counter each time.
  void write(std::size_t i, const std::string& key, const std::string& value, bool send = true) {
    const std::uint64_t version = ++nodes_[i].version;
    record(i, key, Write{version, false, Bytes(value.begin(), value.end())});
    node(i).publish(key, version, Bytes(value.begin(), value.end()), now());
    if (send) flush(i);
  }
  void erase(std::size_t i, const std::string& key, bool send = true) {
    const std::uint64_t version = ++nodes_[i].version;
    record(i, key, Write{version, true, {}});
    node(i).publish_delete(key, version, now());
    if (send) flush(i);
  }
  // kill -9 and a restart on the same data dir: what node i committed survives (the values it
  // held of every owner and its marks; tombstones are not stored, as in the agent), what it had
  // queued to broadcast is lost. Its own writes after `durable_version` never committed: they
  // leave the truth too (a peer may hold them all the same, if they went out). The counter goes
  // on from where it was, as the agent's microsecond versions do.
  void crash_restart(std::size_t i, std::uint64_t durable_version) {
    Node& n = nodes_[i];
    ReplicationConfig c = base_;
    c.name = name_of(i);
    auto fresh = std::make_unique<Replication>(c, rng_(), now());
    // Its own records as the last commit left them: each key's last write up to durable_version.
    n.written.clear();
    for (const auto& [key, w] : n.log) {
      if (w.version <= durable_version) n.written[key] = w;
    }
    const std::uint64_t own_generation = n.engine->generation_of(c.name);
    for (const auto& [key, w] : n.written) {
      if (!w.deleted) fresh->restore(ReplicaEntry{c.name, key, own_generation, w.version, 0, false, w.value}, now());
    }
    for (const OwnerMark& m : n.engine->digest()) {
      if (m.owner == c.name) continue;
      n.engine->for_each_of(m.owner, [&](const std::string& key, const Replication::Value& v) {
        if (!v.deleted) fresh->restore(ReplicaEntry{m.owner, key, m.generation, v.version, 0, false, v.value}, now());
      });
      fresh->restore_mark(m);
    }
    fresh->set_own_state(own_generation, durable_version);
    fresh->set_peers(peers_of(i));  // it rejoins: a sync at once
    n.engine = std::move(fresh);
    flush(i);
  }
  std::uint64_t version_of(std::size_t i) const { return nodes_[i].version; }
  // What an agent does when members come back (membership's join events): sync at once.
  void sync_soon(std::size_t i) {
    node(i).sync_soon();
    flush(i);
  }

  void set_loss(double loss) { options_.loss = loss; }
  void partition(const std::function<int(std::size_t)>& group_of) {
    groups_.assign(nodes_.size(), 0);
    for (std::size_t i = 0; i < nodes_.size(); ++i) groups_[i] = group_of(i);
  }
  void heal() { groups_.clear(); }

  void run_for(Duration d) { events_.run_for(d); }
  std::optional<Duration> run_until_true(const std::function<bool()>& done, Duration limit, Duration step) {
    return events_.run_until_true(done, limit, step);
  }

  // Every replica, the owner's own included, holds exactly what the owner wrote: each key's
  // last write (same version, same bytes), and nothing of what it deleted. The truth is the
  // list of writes the simulator made (`written_`), never an engine's state, so an owner that
  // lost its own write does not "converge". `owners`: the nodes that wrote.
  bool converged(const std::vector<std::size_t>& owners) const {
    for (std::size_t o : owners) {
      std::map<std::string, const Write*> truth;  // the last write of each key, if it is live
      for (const auto& [key, w] : nodes_[o].written) {
        if (!w.deleted) truth[key] = &w;
      }
      for (std::size_t i = 0; i < size(); ++i) {
        std::size_t live = 0;
        bool wrong = false;
        nodes_[i].engine->for_each_of(name_of(o), [&](const std::string& key, const Replication::Value& v) {
          if (v.deleted) return;
          auto t = truth.find(key);
          if (t == truth.end() || t->second->version != v.version || t->second->value != v.value) wrong = true;
          else ++live;
        });
        if (wrong || live != truth.size()) return false;
      }
    }
    return true;
  }
  // The first replica that does not hold what an owner wrote, and how (for failure messages).
  std::string divergence(const std::vector<std::size_t>& owners) const {
    for (std::size_t o : owners) {
      for (std::size_t i = 0; i < size(); ++i) {
        std::string why;
        std::size_t live = 0;
        nodes_[i].engine->for_each_of(name_of(o), [&](const std::string& key, const Replication::Value& v) {
          if (v.deleted) return;
          auto t = nodes_[o].written.find(key);
          if (t == nodes_[o].written.end() || t->second.deleted) why += " holds " + key + "@" + std::to_string(v.version) + ";";
          else if (t->second.version != v.version) why += " " + key + "@" + std::to_string(v.version) + " not @" + std::to_string(t->second.version) + ";";
          else ++live;
        });
        std::size_t truth = 0;
        for (const auto& [key, w] : nodes_[o].written) truth += w.deleted ? 0 : 1;
        if (!why.empty() || live != truth) {
          std::string mark;
          for (const OwnerMark& m : nodes_[i].engine->digest()) {
            if (m.owner == name_of(o)) mark = " mark g" + std::to_string(m.generation) + " w" + std::to_string(m.watermark);
          }
          return name_of(i) + " on owner " + name_of(o) + ": " + std::to_string(live) + "/" + std::to_string(truth) +
                 " live values right;" + why + mark + " (owner at g" + std::to_string(nodes_[o].engine->generation_of(name_of(o))) + ")";
        }
      }
    }
    return "none";
  }
  // The writes `owner` made, by key: the last one of each key (a delete included).
  struct Write {
    std::uint64_t version = 0;
    bool deleted = false;
    Bytes value;
  };
  const std::map<std::string, Write>& written_by(std::size_t owner) const { return nodes_[owner].written; }
  std::uint64_t packets_sent() const { return packets_sent_; }
  std::uint64_t streams_sent() const { return streams_sent_; }

 private:
  struct Node {
    std::unique_ptr<Replication> engine;
    std::uint64_t version = 0;
    std::uint64_t wake_version = 0;
    std::map<std::string, Write> written;  // the test's writes: the truth replicas are held to
    std::vector<std::pair<std::string, Write>> log;  // every write, for a restart that loses some
  };

  void record(std::size_t i, const std::string& key, Write w) {
    nodes_[i].written[key] = w;
    nodes_[i].log.emplace_back(key, std::move(w));
  }
  std::vector<ReplicationPeer> peers_of(std::size_t i) const {
    std::vector<ReplicationPeer> peers;
    for (std::size_t j = 0; j < nodes_.size(); ++j) {
      if (j != i) peers.push_back(ReplicationPeer{name_of(j), address_of(j)});
    }
    return peers;
  }

  Duration latency() {
    std::uniform_int_distribution<std::int64_t> d(options_.min_latency.count(), options_.max_latency.count());
    return Duration(d(rng_));
  }
  bool reachable(std::size_t a, std::size_t b) const { return groups_.empty() || groups_[a] == groups_[b]; }
  std::size_t index_of(const Address& a) const { return by_address_.at(a); }

  void wake(std::size_t i) {
    const std::uint64_t version = ++nodes_[i].wake_version;
    events_.at(node(i).next_deadline(), [this, i, version] {
      if (nodes_[i].wake_version != version) return;  // superseded by a later wake
      node(i).tick(now());
      flush(i);
    });
  }

  // Strips memberlist's user-message framing, as Membership does for the transport.
  static Bytes payload_of(const Bytes& packet) {
    DecodeResult d = decode(packet.data(), packet.size());
    const Bytes& framed = std::get<UserMessage>(*d.message).payload;
    return Bytes(framed.begin() + 1, framed.end());
  }

  void flush(std::size_t i) {
    Replication& r = node(i);
    for (OutgoingPacket& p : r.take_packets()) {
      ++packets_sent_;
      const std::size_t j = index_of(p.to);
      if (!reachable(i, j) || std::bernoulli_distribution(options_.loss)(rng_)) continue;
      events_.at(now() + latency(), [this, i, j, payload = payload_of(p.packet)] {
        node(j).receive(address_of(i), payload.data(), payload.size(), now());
        flush(j);
      });
    }
    for (StreamSend& s : r.take_streams()) {
      ++streams_sent_;
      const std::size_t j = index_of(s.to);
      events_.at(now() + latency(), [this, i, j, send = std::move(s)] {
        if (!reachable(i, j)) {
          node(i).stream_failed(address_of(j));
          return flush(i);
        }
        auto reply = node(j).handle_stream(address_of(i), send.payload.data(), send.payload.size(), now());
        flush(j);
        if (!send.wants_reply || !reply) return;
        events_.at(now() + latency(), [this, i, j, reply = std::move(*reply)] {
          if (!reachable(i, j)) {
            node(i).stream_failed(address_of(j));
            return flush(i);
          }
          node(i).handle_stream(address_of(j), reply.data(), reply.size(), now());
          flush(i);
        });
      });
    }
    r.take_changes();  // the application's business; convergence is read from the engines
    wake(i);
  }

  Options options_;
  ReplicationConfig base_;
  std::mt19937_64 rng_;
  sim::EventQueue events_;
  std::vector<Node> nodes_;
  std::map<Address, std::size_t> by_address_;
  std::vector<int> groups_;
  std::uint64_t packets_sent_ = 0;
  std::uint64_t streams_sent_ = 0;
};

}  // namespace hearsay::gossip::rsim
