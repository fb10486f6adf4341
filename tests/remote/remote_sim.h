// A deterministic simulator of remote mode on virtual time: one remote (a Link and its mirror
// engine) and three relays (each a replication engine, peers of each other on a LAN, and a
// RelaySession per connection). The traffic between the engines and the sessions goes through
// the production classes the agent's shells use: RemoteReplication on the remote (as
// remote/client_uv.cpp drives it) and one RelayReplication per relay (as remote/server_uv.cpp
// does, with the engine's news wired to it as agent/agent_remote.cpp does). What is simulated
// here is only the shells' I/O: the byte streams, the timers, the LAN. The session streams go over a
// virtual TCP: in order, one-way latency, a cut switch (segments held until the restore, as
// TCP retransmits them; connects answered only by a SYN sent after the restore, with the
// kernel's SYN schedule 0, 1, 3, 7 s), and relays that die (host gone: silence).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gossip/replication/replication.h"
#include "remote/relay_replication.h"
#include "remote/remote_replication.h"
#include "tests/gossip/sim_events.h"

namespace hearsay::remote::rsim {

using gossip::Address;
using gossip::Replication;
using gossip::ReplicationConfig;

struct Options {
  std::uint64_t seed = 1;
  std::size_t relays = 3;
  Duration latency{20};     // one way, on the remote's link
  Duration lan_latency{1};  // between relays
};

class Sim {
 public:
  explicit Sim(Options options) : options_(options), events_(Clock::time_point{} + std::chrono::hours(1)) {
    for (std::size_t i = 0; i < options_.relays; ++i) {
      ReplicationConfig c;
      c.name = relay_name(i);
      relays_.push_back(Relay{std::make_unique<Replication>(c, options_.seed * 31 + i, now()), nullptr, true, 0, 0, {}});
      relays_.back().engine->set_own_state(1, 0);
      relays_.back().bridge = std::make_unique<RelayReplication>(*relays_.back().engine, c.name);
      // The relay's engine tells its sessions what it broadcasts (ours and the news passed on).
      RelayReplication* bridge = relays_.back().bridge.get();
      relays_.back().engine->set_on_news([bridge](const gossip::ReplicaEntry& e) { bridge->news(e); });
    }
    for (std::size_t i = 0; i < options_.relays; ++i) {
      std::vector<gossip::ReplicationPeer> peers;
      for (std::size_t j = 0; j < options_.relays; ++j) {
        if (j != i) peers.push_back({relay_name(j), lan_address(j)});
      }
      relay(i).set_peers(std::move(peers));
      flush_lan(i);
    }
    ReplicationConfig rc;
    rc.name = "laptop";
    mirror_engine_ = std::make_unique<Replication>(rc, options_.seed * 31 + 100, now());
    mirror_engine_->set_own_state(1, 0);
    LinkConfig lc;
    for (std::size_t i = 0; i < options_.relays; ++i) lc.relays.push_back(relay_name(i) + ":8302");
    lc.node = "laptop";
    lc.node_id = "00000000-0000-4000-8000-000000000001";
    lc.token = "tok";
    lc.started_us = 1;
    lc.seed = options_.seed;
    lc.dead_after = std::chrono::milliseconds(6000);  // the figures the sim's cases count with
    lc.handshake_timeout = std::chrono::milliseconds(5000);
    link_ = std::make_unique<Link>(lc, now());
    mirror_ = std::make_unique<RemoteReplication>(*mirror_engine_, *link_);
    link_->start(now());
    pump_remote();
  }

  static std::string relay_name(std::size_t i) { return "relay" + std::to_string(i); }
  static Address lan_address(std::size_t i) { return Address{Bytes{10, 0, 0, static_cast<std::uint8_t>(i + 1)}, 7946}; }

  Clock::time_point now() const { return events_.now(); }
  Link& link() { return *link_; }
  Replication& mirror() { return *mirror_engine_; }
  Replication& relay(std::size_t i) { return *relays_[i].engine; }
  const RemoteReplication& mirror_bridge() const { return *mirror_; }
  const RelayReplication& relay_bridge(std::size_t i) const { return *relays_[i].bridge; }
  bool relay_alive(std::size_t i) const { return relays_[i].alive; }
  // The relay the link is established with, if any.
  std::optional<std::size_t> relay_in_use() const {
    if (!link_->established()) return std::nullopt;
    for (std::size_t i = 0; i < relays_.size(); ++i) {
      if (link_->status().relay == relay_name(i) + ":8302") return i;
    }
    return std::nullopt;
  }
  const std::vector<LinkEvent>& link_events() const { return link_events_; }
  std::uint64_t refused_total() const { return refused_total_; }

  // ---- Writes: the truth the replicas are held to.
  void remote_write(const std::string& key, const std::string& value) {
    const std::uint64_t v = ++remote_version_;
    remote_truth_[key] = v;
    mirror().publish(key, v, Bytes(value.begin(), value.end()), now());
    pump_remote();
  }
  void relay_write(std::size_t i, const std::string& key, const std::string& value) {
    const std::uint64_t v = ++relays_[i].version;
    relays_[i].truth[key] = v;
    relay(i).publish(key, v, Bytes(value.begin(), value.end()), now());
    flush_lan(i);  // the agent's flush_replication: gossip out, and the news down its sessions
  }
  const std::map<std::string, std::uint64_t>& remote_truth() const { return remote_truth_; }
  const std::map<std::string, std::uint64_t>& relay_truth(std::size_t i) const { return relays_[i].truth; }

  // Whether `engine` holds exactly what `owner` wrote (each key at its last version, nothing else).
  static bool holds(const Replication& engine, const std::string& owner, const std::map<std::string, std::uint64_t>& truth) {
    std::size_t live = 0;
    bool wrong = false;
    engine.for_each_of(owner, [&](const std::string& key, const Replication::Value& v) {
      if (v.deleted) return;
      auto t = truth.find(key);
      if (t == truth.end() || t->second != v.version) wrong = true;
      else ++live;
    });
    return !wrong && live == truth.size();
  }
  bool remote_writes_everywhere() const {
    for (std::size_t i = 0; i < relays_.size(); ++i) {
      if (relays_[i].alive && !holds(*relays_[i].engine, "laptop", remote_truth_)) return false;
    }
    return true;
  }
  // The owners holding a live value under `prefix` in `engine` (a record copied under a second
  // owner would be a duplicate in the catalog).
  static std::set<std::string> owners_with_prefix(const Replication& engine, const std::string& prefix) {
    std::set<std::string> owners;
    engine.for_each_with_prefix(prefix, [&](const std::string& owner, const std::string&, const Replication::Value&) {
      owners.insert(owner);
    });
    return owners;
  }
  // No engine started a new generation of its own state (which would re-send that owner's whole
  // state everywhere), and every replica holds each owner in its first generation.
  bool generations_unchanged() const {
    if (mirror_engine_->stats().generations_started != 0) return false;
    for (std::size_t i = 0; i < relays_.size(); ++i) {
      if (!relays_[i].alive) continue;
      const Replication& r = *relays_[i].engine;
      if (r.stats().generations_started != 0) return false;
      if (r.mark("laptop") && r.generation_of("laptop") != 1) return false;
      if (mirror_engine_->mark(relay_name(i)) && mirror_engine_->generation_of(relay_name(i)) != 1) return false;
    }
    return true;
  }
  // Full states the relays sent (to each other or down to the mirror).
  std::uint64_t full_states_sent() const {
    std::uint64_t n = 0;
    for (const Relay& r : relays_) n += r.engine->stats().full_states_sent;
    return n;
  }
  bool mirror_complete() const {
    for (std::size_t i = 0; i < relays_.size(); ++i) {
      if (!holds(*mirror_engine_, relay_name(i), relays_[i].truth)) return false;
    }
    return true;
  }

  // ---- Faults.
  void cut() { cut_ = true; }
  void restore() {
    cut_ = false;
    // What TCP held goes now, in order.
    for (auto& [id, c] : connections_) {
      for (int dir = 0; dir < 2; ++dir) {
        for (Segment& s : std::exchange(c.held[dir], {})) deliver(id, dir, std::move(s));
      }
    }
  }
  bool is_cut() const { return cut_; }
  // The relay's host goes away: nothing more from or to it.
  void kill_relay(std::size_t i) { relays_[i].alive = false; }
  // The remote's token revoked on every relay (a config reload): open sessions end with a
  // refusal (as Agent::recheck_remote_sessions does), new hellos are refused, until restored.
  void revoke_token() {
    token_valid_ = false;
    for (auto& [id, c] : connections_) {
      if (!c.relay_open || !c.session->open() || !relays_[c.relay].alive) continue;
      c.session->refuse("token revoked", false);
      pump_session(id);
    }
  }
  void restore_token() { token_valid_ = true; }

  void run_for(Duration d) { events_.run_for(d); }
  void run_until(Clock::time_point t) { events_.run_until(t); }
  std::optional<Duration> run_until_true(const std::function<bool()>& done, Duration limit, Duration step = Duration(10)) {
    return events_.run_until_true(done, limit, step);
  }

 private:
  struct Relay {
    std::unique_ptr<Replication> engine;
    std::unique_ptr<RelayReplication> bridge;  // its sessions, keyed by connection id
    bool alive = true;
    std::uint64_t version = 0;
    std::uint64_t wake = 0;
    std::map<std::string, std::uint64_t> truth;
  };
  struct Segment {
    Bytes bytes;
    bool fin = false;
    std::string why;
  };
  static constexpr int kUp = 0, kDown = 1;  // remote -> relay, relay -> remote
  struct Connection {
    std::size_t relay = 0;
    std::uint64_t attempt = 0;
    bool remote_open = true;  // the remote's end
    bool relay_open = false;  // the relay's end (after the SYN got there)
    std::unique_ptr<RelaySession> session;  // kept (never erased) for its bridge's pointer
    Clock::time_point last_arrival[2]{};  // in order, per direction
    std::vector<Segment> held[2];        // sent during a cut
    std::uint64_t wake = 0;
  };

  // ---- The remote.
  void pump_remote() {
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      mirror_->pump();
      if (link_->take_close()) {
        any = true;
        if (auto it = connections_.find(current_); it != connections_.end() && it->second.remote_open) {
          it->second.remote_open = false;
          send(current_, kUp, Segment{{}, true, "closed by the remote"});
        }
      }
      if (auto c = link_->take_connect()) {
        any = true;
        open_connection(*c);
      }
      for (Bytes& b : link_->take_writes()) {
        any = true;
        send(current_, kUp, Segment{std::move(b), false, {}});
      }
      for (LinkEvent& e : link_->take_events()) {
        any = true;
        (void)mirror_->link_event(e, now());
        link_events_.push_back(std::move(e));
      }
      mirror_engine_->take_changes();
      if (!any) break;
    }
    wake_remote();
  }
  void wake_remote() {
    const std::uint64_t w = ++remote_wake_;
    const Clock::time_point at = std::min(link_->next_deadline(), mirror_engine_->next_deadline());
    if (at == Clock::time_point::max()) return;
    events_.at(at, [this, w] {
      if (w != remote_wake_) return;
      link_->tick(now());
      mirror_engine_->tick(now());
      pump_remote();
    });
  }

  void open_connection(const Link::Connect& c) {
    const std::uint64_t id = next_connection_++;
    std::size_t relay_index = 0;
    while (relay_name(relay_index) + ":8302" != c.relay) ++relay_index;
    Connection conn;
    conn.relay = relay_index;
    conn.attempt = c.attempt;
    connections_.emplace(id, std::move(conn));
    current_ = id;
    syn(id, now(), 0);
  }
  // A SYN (try k of the kernel's schedule). It reaches the relay unless the link is cut or the
  // relay is gone; the remote learns of the connection one round trip later.
  void syn(std::uint64_t id, Clock::time_point first, int k) {
    auto it = connections_.find(id);
    if (it == connections_.end() || !it->second.remote_open) return;
    Connection& c = it->second;
    if (cut_ || !relays_[c.relay].alive) {
      static constexpr int kRetries[] = {1, 3, 7, 15, 31};
      if (k < 5) events_.at(first + std::chrono::seconds(kRetries[k]), [this, id, first, k] { syn(id, first, k + 1); });
      return;
    }
    events_.at(now() + options_.latency, [this, id] {
      auto jt = connections_.find(id);
      if (jt == connections_.end() || !relays_[jt->second.relay].alive) return;
      accept(id);
      events_.at(now() + options_.latency, [this, id] {
        auto kt = connections_.find(id);
        if (kt == connections_.end() || !kt->second.remote_open) return;
        link_->connected(kt->second.attempt, now());
        pump_remote();
      });
    });
  }

  // ---- The relay's end.
  void accept(std::uint64_t id) {
    Connection& c = connections_.at(id);
    RelaySessionConfig config;
    config.dead_after = std::chrono::milliseconds(6000);
    config.hello_timeout = std::chrono::milliseconds(5000);
    config.relay = relay_name(c.relay);
    config.session = id;
    config.authorize = [this](const Hello& h) {
      return h.token == "tok" && token_valid_ ? HelloVerdict{} : HelloVerdict{"bad token", false};
    };
    config.check_entry = [](const Hello&, const gossip::ReplicaEntry&) { return std::string(); };
    c.session = std::make_unique<RelaySession>(config, now());
    c.relay_open = true;
    pump_session(id);
  }
  void pump_session(std::uint64_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end() || !it->second.relay_open) return;
    Connection& c = it->second;
    if (!relays_[c.relay].alive) return;
    RelayReplication& bridge = *relays_[c.relay].bridge;
    // As RelayServer::pump: an opened session joins the bridge, its frames go in through it.
    for (const RelayEvent& e : c.session->take_events()) {
      switch (e.kind) {
        case RelayEvent::Kind::opened: bridge.opened(id, *c.session); break;
        case RelayEvent::Kind::replication: bridge.received(id, e.replication, now()); break;
        case RelayEvent::Kind::goodbye: break;  // the agent's session record
      }
    }
    flush_lan(c.relay);  // the engine's output, the bridge's news and every session's writes
    refused_total_ = 0;
    for (const auto& [cid, conn] : connections_) {
      if (!conn.session) continue;
      for (std::uint64_t n : conn.session->stats().refused) refused_total_ += n;
    }
    if (c.session->close_reason()) {
      close_relay_end(id);
      send(id, kDown, Segment{{}, true, *c.session->close_reason()});
    } else {
      wake_session(id);
    }
  }
  // The relay's end of a connection is gone (RelayServer::end): out of the bridge.
  void close_relay_end(std::uint64_t id) {
    Connection& c = connections_.at(id);
    if (!c.relay_open) return;
    c.relay_open = false;
    relays_[c.relay].bridge->closed(id);
  }
  void write_session(std::uint64_t id) {
    Connection& c = connections_.at(id);
    for (Bytes& b : c.session->take_writes()) send(id, kDown, Segment{std::move(b), false, {}});
  }
  void wake_session(std::uint64_t id) {
    Connection& c = connections_.at(id);
    const std::uint64_t w = ++c.wake;
    events_.at(c.session->next_deadline(), [this, id, w] {
      auto it = connections_.find(id);
      if (it == connections_.end() || it->second.wake != w || !it->second.relay_open) return;
      if (!relays_[it->second.relay].alive) return;
      it->second.session->tick(now());
      pump_session(id);
    });
  }

  // ---- The stream: in order, held during a cut, gone with a dead relay.
  void send(std::uint64_t id, int dir, Segment s) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    if (!relays_[it->second.relay].alive) return;
    if (cut_) {
      it->second.held[dir].push_back(std::move(s));
      return;
    }
    deliver(id, dir, std::move(s));
  }
  void deliver(std::uint64_t id, int dir, Segment s) {
    Connection& c = connections_.at(id);
    const Clock::time_point at = std::max(now() + options_.latency, c.last_arrival[dir]);
    c.last_arrival[dir] = at;
    events_.at(at, [this, id, dir, s = std::move(s)] {
      auto it = connections_.find(id);
      if (it == connections_.end()) return;
      Connection& conn = it->second;
      if (!relays_[conn.relay].alive) return;
      if (dir == kUp) {
        if (!conn.relay_open) return;
        if (s.fin) {
          close_relay_end(id);  // the shell drops the session
          return;
        }
        conn.session->received(s.bytes.data(), s.bytes.size(), now());
        pump_session(id);
      } else {
        if (!conn.remote_open) return;
        if (s.fin) {
          conn.remote_open = false;
          link_->closed(conn.attempt, s.why, now());
        } else {
          link_->received(conn.attempt, s.bytes.data(), s.bytes.size(), now());
        }
        pump_remote();
      }
    });
  }

  // ---- The LAN between relays (tests/gossip/replication_sim.h's routing), and the relay's
  // sessions (its bridge's news, replies and acks).
  void flush_lan(std::size_t i) {
    if (!relays_[i].alive) return;
    Replication& r = relay(i);
    for (gossip::OutgoingPacket& p : r.take_packets()) {
      const std::size_t j = index_of(p.to);
      auto message = unwrap_replication_packet(p.packet);
      if (!message) continue;
      events_.at(now() + options_.lan_latency, [this, i, j, m = std::move(*message)] {
        if (!relays_[j].alive || !relays_[i].alive) return;
        relay(j).receive(lan_address(i), m.data(), m.size(), now());
        flush_lan(j);
      });
    }
    for (gossip::StreamSend& s : r.take_streams()) {
      const std::size_t j = index_of(s.to);
      events_.at(now() + options_.lan_latency, [this, i, j, send = std::move(s)] {
        if (!relays_[i].alive) return;
        if (!relays_[j].alive) {
          relay(i).stream_failed(lan_address(j));
          return flush_lan(i);
        }
        auto reply = relay(j).handle_stream(lan_address(i), send.payload.data(), send.payload.size(), now());
        flush_lan(j);
        if (!send.wants_reply || !reply) return;
        events_.at(now() + options_.lan_latency, [this, i, j, reply = std::move(*reply)] {
          if (!relays_[i].alive) return;
          if (!relays_[j].alive) {
            relay(i).stream_failed(lan_address(j));
            return flush_lan(i);
          }
          relay(i).handle_stream(lan_address(j), reply.data(), reply.size(), now());
          flush_lan(i);
        });
      });
    }
    (void)r.take_changes();  // the agent's catalog; the sessions get the engine's news instead
    // As RelayServer::flush: the news gathered for each session, then every session's writes.
    relays_[i].bridge->flush();
    for (auto& [id, c] : connections_) {
      if (c.relay == i && c.relay_open) write_session(id);
    }
    wake_relay(i);
  }
  void wake_relay(std::size_t i) {
    const std::uint64_t w = ++relays_[i].wake;
    events_.at(relay(i).next_deadline(), [this, i, w] {
      if (relays_[i].wake != w || !relays_[i].alive) return;
      relay(i).tick(now());
      flush_lan(i);
    });
  }
  std::size_t index_of(const Address& a) const { return static_cast<std::size_t>(a.ip[3] - 1); }

  Options options_;
  gossip::sim::EventQueue events_;
  std::vector<Relay> relays_;
  std::unique_ptr<Replication> mirror_engine_;
  std::unique_ptr<Link> link_;
  std::unique_ptr<RemoteReplication> mirror_;  // after link_: it holds a reference to it
  std::uint64_t remote_wake_ = 0;
  std::uint64_t remote_version_ = 0;
  std::map<std::string, std::uint64_t> remote_truth_;
  std::map<std::uint64_t, Connection> connections_;
  std::uint64_t next_connection_ = 1;
  std::uint64_t current_ = 0;  // the connection of the link's current attempt
  bool cut_ = false;
  bool token_valid_ = true;
  std::vector<LinkEvent> link_events_;
  std::uint64_t refused_total_ = 0;
};

}  // namespace hearsay::remote::rsim
