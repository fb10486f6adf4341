// A deterministic network of whole gossip nodes (gossip/node.h): membership, serf and
// replication together, driven through exactly the calls the libuv shell makes (datagrams in,
// streams opened, answered and reported by id, one deadline). Virtual time, seeded latency and
// datagram loss, killed nodes. Each node also keeps "the application's copy": the replica
// changes it was handed, as the agent applies them to its catalog, so a test sees what an
// agent would serve. Nodes without hearsay's tag stand for serf agents.
#pragma once

#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gossip/wire/codec.h"
#include "gossip/node.h"
#include "gossip/serf/serf_tags.h"
#include "gossip/wire/stream_message.h"
#include "sim_events.h"

namespace hearsay::gossip::nsim {

struct Options {
  std::uint64_t seed = 1;
  double loss = 0.0;  // datagrams only
  Duration min_latency{1};
  Duration max_latency{5};
  // Nodes for which this says false carry no hearsay tag: serf agents, sent no catalog traffic.
  std::function<bool(std::size_t)> hearsay = [](std::size_t) { return true; };
};

class Network {
 public:
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;
  Network(std::size_t n, Options options) : options_(std::move(options)), rng_(options_.seed) {
    for (std::size_t i = 0; i < n; ++i) {
      NodeConfig c;
      c.membership.name = name_of(i);
      c.membership.advertise = address_of(i);
      std::map<std::string, std::string> tags{{"role", "node"}};
      if (options_.hearsay(i)) tags[std::string(kHearsayTag)] = "1";
      c.membership.meta = *encode_tags(tags);
      c.seed = options_.seed * 7919 + i;
      auto node = std::make_unique<Node>(c, now());
      node->replication().set_own_state(1, 0);
      peers_.push_back(Peer{std::move(node)});
      wake(i);
    }
  }

  static std::string name_of(std::size_t i) { return "n" + std::to_string(i); }
  static Address address_of(std::size_t i) {
    return Address{Bytes{10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)},
                   7946};
  }
  std::optional<std::size_t> index_of(const Address& a) const {
    if (a.ip.size() != 4 || a.ip[0] != 10) return std::nullopt;
    const std::size_t i = std::size_t{a.ip[1]} << 16 | std::size_t{a.ip[2]} << 8 | a.ip[3];
    if (i >= peers_.size()) return std::nullopt;
    return i;
  }
  Clock::time_point now() const { return events_.now(); }
  Node& node(std::size_t i) { return *peers_[i].node; }
  std::size_t size() const { return peers_.size(); }
  bool alive(std::size_t i) const { return !peers_[i].killed; }

  // Node i joins through node `via` after `delay`, as `agent -join` does (Node::join).
  void join(std::size_t i, std::size_t via, Duration delay = Duration(0)) {
    events_.at(now() + delay, [this, i, via] {
      if (!alive(i)) return;
      node(i).join(address_of(via));
      flush(i);
    });
  }
  void kill(std::size_t i) { peers_[i].killed = true; }
  void leave(std::size_t i) {
    node(i).serf().leave(now());
    flush(i);
  }
  // The owner's write, the next version of its counter.
  void write(std::size_t i, const std::string& key, const std::string& value) {
    node(i).replication().publish(key, ++peers_[i].version, Bytes(value.begin(), value.end()), now());
    flush(i);
  }

  void run_for(Duration d) { events_.run_for(d); }
  std::optional<Duration> run_until_true(const std::function<bool()>& done, Duration limit, Duration step = Duration(100)) {
    return events_.run_until_true(done, limit, step);
  }

  // What node i's application holds: (owner, key) -> value, from the changes it was handed.
  const std::map<std::pair<std::string, std::string>, std::string>& copy(std::size_t i) const { return peers_[i].copy; }
  std::uint64_t joins_succeeded() const { return joins_succeeded_; }
  // Catalog traffic (replication datagrams and streams) that went to node i, counted when sent.
  std::uint64_t catalog_traffic_to(std::size_t i) const { return peers_[i].catalog_traffic_in; }
  // Catalog traffic sent to node i by nodes that had seen it fail (and not come back).
  std::uint64_t catalog_to_after_failure(std::size_t i) const { return peers_[i].catalog_after_failure; }
  NodeState state_of(std::size_t viewer, std::size_t subject) const {
    const Member* m = peers_[viewer].node->membership().members().find(name_of(subject));
    return m ? m->state : NodeState::dead;
  }

 private:
  struct Peer {
    std::unique_ptr<Node> node;
    bool killed = false;
    std::uint64_t version = 0;
    std::uint64_t wake_version = 0;
    std::map<std::pair<std::string, std::string>, std::string> copy{};
    std::set<std::string> failed_seen{};  // members this node has seen fail
    std::uint64_t catalog_traffic_in = 0;
    std::uint64_t catalog_after_failure = 0;
  };

  Duration latency() {
    std::uniform_int_distribution<std::int64_t> d(options_.min_latency.count(), options_.max_latency.count());
    return Duration(d(rng_));
  }

  void wake(std::size_t i) {
    const std::uint64_t version = ++peers_[i].wake_version;
    events_.at(node(i).next_deadline(), [this, i, version] {
      if (peers_[i].wake_version != version || !alive(i)) return;
      node(i).tick(now());
      flush(i);
    });
  }

  static bool is_catalog_datagram(const Bytes& packet) {
    DecodeResult d = decode(packet.data(), packet.size());
    if (!d.message) return false;
    const auto* user = std::get_if<UserMessage>(&*d.message);
    return user && !user->payload.empty() && user->payload[0] == kHearsayUserMessage;
  }

  // Does what node i asks: the shell's job, on virtual time.
  void flush(std::size_t i) {
    NodeOutput out = node(i).take_output();
    for (OutgoingPacket& p : out.packets) {
      const auto j = index_of(p.to);
      if (!j) continue;
      if (is_catalog_datagram(p.packet)) {
        ++peers_[*j].catalog_traffic_in;
        if (peers_[i].failed_seen.contains(name_of(*j))) ++peers_[*j].catalog_after_failure;
      }
      if (std::bernoulli_distribution(options_.loss)(rng_)) continue;
      events_.at(now() + latency(), [this, i, j = *j, bytes = std::move(p.packet)] {
        if (!alive(j)) return;
        node(j).receive_packet(address_of(i), bytes.data(), bytes.size(), now());
        flush(j);
      });
    }
    for (StreamOpen& s : out.streams) open_stream(i, std::move(s));
    for (const JoinOutcome& j : out.joins) {
      if (j.error.empty()) ++joins_succeeded_;
    }
    for (const MemberEvent& e : out.events) {
      if (e.kind == MemberEvent::Kind::failed) peers_[i].failed_seen.insert(e.member.name);
      if (e.kind == MemberEvent::Kind::joined) peers_[i].failed_seen.erase(e.member.name);
    }
    for (const ReplicaChange& c : out.changes) {
      if (c.deleted) peers_[i].copy.erase({c.owner, c.key});
      else peers_[i].copy[{c.owner, c.key}] = std::string(c.value.begin(), c.value.end());
    }
    wake(i);
  }

  // A TCP exchange: the request arrives a latency later (or fails: the peer is dead), the
  // answer a latency after that. A one-way message is reported written once it arrived.
  void open_stream(std::size_t i, StreamOpen s) {
    const auto j = index_of(s.to);
    const StreamMessage request = parse_stream_message(s.request.data(), s.request.size());
    const bool catalog = request.kind == StreamMessage::Kind::user;
    if (j && catalog) {
      ++peers_[*j].catalog_traffic_in;
      if (peers_[i].failed_seen.contains(name_of(*j))) ++peers_[*j].catalog_after_failure;
    }
    events_.at(now() + latency(), [this, i, j, id = s.id, wants_reply = s.wants_reply, request] {
      if (!alive(i)) return;
      if (!j || !alive(*j)) {
        node(i).stream_failed(id, "connection refused", now());
        return flush(i);
      }
      StreamAnswer answer = node(*j).answer_stream(address_of(i), request, now());
      flush(*j);
      if (!wants_reply) {
        node(i).stream_written(id);
        return flush(i);
      }
      events_.at(now() + latency(), [this, i, id, answer = std::move(answer)] {
        if (!alive(i)) return;
        if (!answer.reply) {
          node(i).stream_failed(id, "closed before a complete message", now());
        } else {
          node(i).stream_reply(id, parse_stream_message(answer.reply->data(), answer.reply->size()), now());
        }
        flush(i);
      });
    });
  }

  Options options_;
  std::mt19937_64 rng_;
  sim::EventQueue events_{Clock::time_point{} + std::chrono::hours(1)};
  std::vector<Peer> peers_;
  std::uint64_t joins_succeeded_ = 0;
};

}  // namespace hearsay::gossip::nsim
