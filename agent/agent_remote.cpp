// Remote mode in the agent (issue 16, docs/remote-mode.md): as a remote, the link to a relay
// takes the place of gossip; as a relay, a TLS listener carries remote sessions into the
// cluster. Wiring, start, authorization of sessions and entries, and status.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "agent/agent.h"
#include "agent/join_address.h"
#include "agent/uv_guard.h"
#include "gossip/wire/codec.h"

namespace hearsay::agent {
namespace {

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("-remote-token-file: cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) token.erase(token.begin());
  return token;
}

std::shared_ptr<const loop::TlsContext> remote_tls(const RemoteConfig& r) {
  loop::TlsClientSettings settings;
  std::string error;
  if (!r.fingerprint.empty()) {
    settings.verify = loop::TlsVerify::pinned;
    settings.pinned_sha256 = r.fingerprint;
  } else {
    settings.verify = loop::TlsVerify::ca;
    auto pem = loop::read_pem_file(r.ca_file, error);
    if (!pem) throw ConfigError("-remote-ca-file: " + error);
    settings.ca_pem = *pem;
  }
  auto tls = loop::TlsContext::client(settings, error);
  if (!tls) throw ConfigError("-remote: " + error);
  return tls;
}

std::shared_ptr<const loop::TlsContext> relay_tls(const AgentConfig& c) {
  loop::TlsServerSettings settings;
  std::string error;
  if (c.remote.relay_cert_file) {
    auto id = loop::load_identity(*c.remote.relay_cert_file, *c.remote.relay_key_file, error);
    if (!id) throw ConfigError("-relay-cert-file: " + error);
    settings.identity = std::move(*id);
  } else {
    auto id = loop::generate_self_signed({"localhost", c.node_name}, {"127.0.0.1", "::1"}, 365, error);
    if (!id) throw ConfigError("-relay-port: " + error);
    settings.identity = std::move(*id);
  }
  auto tls = loop::TlsContext::server(settings, error);
  if (!tls) throw ConfigError("-relay-port: " + error);
  return tls;
}

}  // namespace

void Agent::wire_remote() {
  const RemoteConfig& r = config_.remote;
  if (r.remote()) {
    remote::LinkConfig lc;
    for (const std::string& relay : r.relays) {
      auto hp = parse_join_address(relay, 8302);  // validated
      lc.relays.push_back(hp->host.find(':') != std::string::npos ? "[" + hp->host + "]:" + std::to_string(hp->port)
                                                                   : hp->host + ":" + std::to_string(hp->port));
    }
    lc.node = config_.node_name;
    lc.node_id = node_id_;
    lc.token = r.token_file.empty() ? r.token : read_token_file(r.token_file);
    lc.started_us = wall_clock_microseconds();
    lc.keepalive = std::chrono::duration_cast<remote::Duration>(r.keepalive);
    lc.dead_after = std::max(lc.keepalive * 3, lc.dead_after);
    lc.seed = std::random_device{}();
    remote::Client::Handlers handlers;
    handlers.changes = [this](std::vector<gossip::ReplicaChange> changes) {
      catalog_replication_->apply(changes, now_(), wall_clock_microseconds());
    };
    handlers.link_event = [this](const remote::LinkEvent& e) {
      switch (e.kind) {
        case remote::LinkEvent::Kind::established:
          spdlog::info("remote: session {} with relay {} established", e.session, e.relay);
          break;
        case remote::LinkEvent::Kind::lost: spdlog::warn("remote: session lost: {}", e.reason); break;
        case remote::LinkEvent::Kind::refused: spdlog::error("remote: the relay refused us: {}", e.reason); break;
        case remote::LinkEvent::Kind::attempt_failed: spdlog::info("remote: attempt failed: {}", e.reason); break;
        default: break;
      }
    };
    handlers.ack = [this](const remote::Ack& ack) { remote_ack_ = ack; };
    handlers.members = [this](const remote::Members& m) { merge_relay_members(m.state); };
    relay_members_.emplace(remote::RelayMembersConfig{config_.node_name});
    remote_client_ = std::make_unique<remote::Client>(&loop_, std::move(lc), remote_tls(r), node_->replication(),
                                                      std::move(handlers), now_);
    return;
  }
  if (r.relay_port < 0) return;
  auto tls = relay_tls(config_);
  if (!r.relay_cert_file) spdlog::info("relay certificate (generated, -dev): SHA-256 fingerprint {}", tls->fingerprint());
  remote::RelayServer::Handlers handlers;
  handlers.authorize = [this](const remote::Hello& hello) { return authorize_remote(hello); };
  handlers.check_entry = [this](const remote::Hello& hello, const gossip::ReplicaEntry& entry) {
    return check_remote_entry(hello, entry);
  };
  handlers.opened = [this](std::uint64_t id, const remote::RelaySession& s) {
    spdlog::info("relay: session {} with remote {} opened", id, s.hello().node);
    const remote::Hello& h = s.hello();
    catalog_replication_->publish_session(
        h.node, SessionRecord{config_.node_name, id, wall_clock_microseconds(), h.started_us, h.attempt, false}, now_());
    flush_replication();
  };
  handlers.closed = [this](std::uint64_t id, const remote::RelaySession& s, const std::string&, bool goodbye) {
    const std::string& node = s.hello().node;
    // Another session of this remote may have opened here meanwhile (the newer replaced it).
    bool newer_here = false;
    relay_server_->for_each_session([&](std::uint64_t other, const remote::RelaySession& o) {
      newer_here = newer_here || (other != id && o.hello().node == node);
    });
    if (newer_here) return;
    std::optional<SessionRecord> record;
    if (goodbye) {
      record = SessionRecord{config_.node_name, id, wall_clock_microseconds(), s.hello().started_us, s.hello().attempt,
                             true};
    }
    catalog_replication_->publish_session(node, record, now_());
    flush_replication();
  };
  handlers.engine_driven = [this] {
    if (gossip_) gossip_->flush();
  };
  handlers.members_state = [this] { return relay_members_state(); };
  remote::RelayServer::Timing timing;
  timing.keepalive = std::chrono::duration_cast<remote::Duration>(r.keepalive);
  timing.dead_after = std::max(timing.keepalive * 3, timing.dead_after);
  relay_server_ = std::make_unique<remote::RelayServer>(&loop_, config_.node_name, std::move(tls), node_->replication(),
                                                        std::move(handlers), timing, now_);
  node_->replication().set_on_news([this](const gossip::ReplicaEntry& e) { relay_server_->news(e); });
}

void Agent::relay_members_changed() {
  if (relay_server_) relay_server_->members_changed();
}

gossip::Bytes Agent::relay_members_state() const {
  // Our push/pull state (every member with its state, as memberlist sends it to a joiner), and
  // the failed members memberlist already dropped that we still list: the remote takes the
  // frame as our whole listing and forgets whoever is missing (remote/relay_members.h).
  const gossip::Membership& m = node_->membership();
  gossip::PushPull state = m.join_request(gossip::Address{}).request;
  for (const auto& [name, member] : m.failed_members()) {
    if (m.members().contains(name)) continue;
    state.nodes.push_back(gossip::PushNodeState{member.name, member.address.ip, member.address.port, member.meta,
                                                member.incarnation, gossip::NodeState::dead, member.vsn});
  }
  return gossip::encode_push_pull(state);
}

void Agent::relay_members_reaped() {
  if (!relay_server_) return;
  // Reaping (memberlist's after gossip_to_the_dead, failed members' after reconnect_timeout)
  // raises no member event, unlike every other change: the names listed, summed up in an
  // order-free hash, tell whether a reap happened since the last turn.
  const gossip::Membership& m = node_->membership();
  std::size_t listed = 0;
  for (const gossip::Member& member : m.members()) listed ^= std::hash<std::string>{}(member.name);
  for (const auto& [name, member] : m.failed_members()) {
    if (!m.members().contains(name)) listed ^= std::hash<std::string>{}(name);
  }
  if (listed != relay_members_listed_) relay_members_changed();
  relay_members_listed_ = listed;
}

void Agent::merge_relay_members(const gossip::Bytes& state) {
  // The relay's members become ours to show (hearsay members on a remote lists the cluster as
  // its relay sees it), and their events drive serfHealth and removals as on a LAN agent.
  if (!relay_members_) return;
  const std::uint64_t undecodable = relay_members_->stats().frames_undecodable;
  remote::RelayMembers::Update update =
      relay_members_->received(state, remote_client_ ? remote_client_->link().status().relay_name : "", now_());
  if (relay_members_->stats().frames_undecodable != undecodable) {
    spdlog::warn("remote: the relay's members list does not decode; ignored");
  }
  apply_relay_members(std::move(update));
}

void Agent::apply_relay_members(remote::RelayMembers::Update update) {
  if (update.empty()) return;
  // Each state goes in as the gossip message that says it (a push/pull merge would suspect the
  // dead and wait for a timer; our membership is never ticked: nothing is probed from here).
  gossip::Membership& m = node_->membership();
  const gossip::Address from{gossip::Bytes{0, 0, 0, 0}, 1};
  for (const gossip::Message& message : update.messages) {
    const gossip::Bytes bytes = gossip::encode(message);
    m.receive_packet(from, bytes.data(), bytes.size(), now_());
  }
  for (const std::string& name : update.forget) {
    if (m.forget(name)) spdlog::info("member {} reaped (no longer listed by the relay)", name);
  }
  for (const gossip::MemberEvent& e : m.take_events()) on_member_event(e);
  (void)m.take_packets();  // nobody to send them to
  (void)m.take_app_messages();
}

remote::HelloVerdict Agent::authorize_remote(const remote::Hello& hello) const {
  if (hello.protocol != remote::kProtocolVersion) {
    return {"protocol version " + std::to_string(hello.protocol) + " is not spoken here (this relay speaks " +
                std::to_string(remote::kProtocolVersion) + ")",
            false};
  }
  if (hello.node.empty()) return {"no node name", false};
  if (hello.node == config_.node_name) return {"node name " + hello.node + " is this relay's", false};
  if (const gossip::Member* m = node_->membership().members().find(hello.node);
      m && m->state != gossip::NodeState::left) {
    return {"node name " + hello.node + " belongs to a gossip member", false};
  }
  return authorize_remote_token(hello.token, hello.node);
}

remote::HelloVerdict Agent::authorize_remote_token(const std::string& token, const std::string& node) const {
  // The remote's token is an ACL token (issue 18): it needs node:write on the remote's name.
  // With ACLs off every remote may come (the start-up log says so).
  if (!acl_tokens_ || !acl_tokens_->enabled()) return {};
  const acl::WriteGrant grant = acl::check_write(*acl_tokens_, token, node, "");
  if (!token.empty() && !grant.known_token) return {"ACL not found: the token is unknown or was revoked", false};
  if (!grant.node_write) return {"Permission denied: the token may not write node " + node, false};
  return {};
}

std::string Agent::check_remote_entry(const remote::Hello& hello, const gossip::ReplicaEntry& entry) const {
  std::string why = CatalogReplication::remote_write_refusal(hello.node, entry, [&](const std::string& service) {
    return !acl_tokens_ || acl::check_write(*acl_tokens_, hello.token, "", service).service_write;
  });
  if (!why.empty()) spdlog::warn("relay: refused an entry of remote {}: {}", hello.node, why);
  return why;
}

bool Agent::start_remote() {
  if (remote_client_) {
    if (int rc = remote_client_->start(); rc != 0) {
      spdlog::critical("cannot start the remote link: {}", uv_strerror(rc));
      return false;
    }
    spdlog::info("remote mode: no gossip; relays {}", [&] {
      std::string all;
      for (const auto& r : config_.remote.relays) all += (all.empty() ? "" : ", ") + r;
      return all;
    }());
    return true;
  }
  if (!relay_server_) return true;
  const std::string bind = config_.dev && config_.bind_addr == "0.0.0.0" ? "127.0.0.1" : config_.bind_addr;
  if (int rc = relay_server_->listen(bind, config_.remote.relay_port); rc != 0) {
    spdlog::critical("cannot listen for remote sessions on {}:{}: {}", bind, config_.remote.relay_port, uv_strerror(rc));
    return false;
  }
  spdlog::info("relay: remote sessions on {}:{} (TLS){}", bind, relay_server_->port(),
               acl_tokens_ && acl_tokens_->enabled() ? "; remotes need a token with node:write on their name"
                                                     : "; ACLs are off, so any remote may register its own services");
  return true;
}

void Agent::recheck_remote_sessions() {
  if (!relay_server_) return;
  // After a reload: a session whose token no longer admits its remote ends now, with the reason.
  std::vector<std::pair<std::uint64_t, std::string>> revoked;
  relay_server_->for_each_session([&](std::uint64_t id, const remote::RelaySession& s) {
    remote::HelloVerdict v = authorize_remote_token(s.hello().token, s.hello().node);
    if (!v.refusal.empty()) revoked.emplace_back(id, v.refusal);
  });
  for (const auto& [id, why] : revoked) {
    spdlog::warn("relay: session {} closed after the reload: {}", id, why);
    relay_server_->refuse(id, why);
  }
}

http::AgentOps::Freshness Agent::freshness() const {
  if (!remote_client_) return {};
  const remote::LinkStatus& s = remote_client_->link().status();
  const auto since = s.last_contact ? *s.last_contact : started_;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now_() - since).count();
  // The leader is "known" (the mirror current) while the session is up and heard from within
  // two keepalives: the same rule as the status's "established".
  const auto keepalive = std::chrono::duration_cast<std::chrono::milliseconds>(config_.remote.keepalive);
  const bool heard = ms <= (2 * keepalive + std::chrono::milliseconds(500)).count();
  return {remote_client_->link().established() && heard, static_cast<std::uint64_t>(std::max<std::int64_t>(ms, 0))};
}

void Agent::flush_replication() {
  if (gossip_) gossip_->flush();
  if (remote_client_) remote_client_->flush();
  if (relay_server_) relay_server_->flush();
}

std::map<std::string, std::string> Agent::remote_status() const {
  std::map<std::string, std::string> out;
  const auto ms_since = [&](gossip::Clock::time_point t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now_() - t).count());
  };
  if (remote_client_) {
    const remote::LinkStatus& s = remote_client_->link().status();
    out["Role"] = "remote";
    // Established, and heard from within two keepalives: "established"; established but
    // silent longer (TCP stalled on a bad link, or the relay gone without a word): "unresponsive",
    // never "established", until the link gives the session up.
    const auto keepalive = std::chrono::duration_cast<std::chrono::milliseconds>(config_.remote.keepalive);
    const bool silent = s.last_contact && now_() - *s.last_contact > 2 * keepalive + std::chrono::milliseconds(500);
    out["State"] = s.state == remote::LinkState::established && silent ? "unresponsive" : remote::link_state_name(s.state);
    out["Relay"] = s.state == remote::LinkState::established ? s.relay_name : "";
    out["RelayAddress"] = s.relay;
    out["Session"] = std::to_string(s.session);
    out["RTTMillis"] = s.rtt ? std::to_string(s.rtt->count()) : "";
    out["LastContactMillis"] = s.last_contact ? ms_since(*s.last_contact) : "";
    out["Sessions"] = std::to_string(s.sessions);
    out["Reconnects"] = std::to_string(s.reconnects);
    out["AttemptsFailed"] = std::to_string(s.attempts_failed);
    out["LastError"] = s.last_error;
    // Our writes the cluster has not acknowledged: versions above the relay's last ack.
    std::uint64_t unacked = 0;
    const std::uint64_t acked = remote_ack_ ? remote_ack_->watermark : 0;
    node_->replication().for_each_of(config_.node_name, [&](const std::string&, const gossip::Replication::Value& v) {
      if (v.version > acked) ++unacked;
    });
    out["UnacknowledgedWrites"] = std::to_string(unacked);
  } else if (relay_server_) {
    out["Role"] = "relay";
    out["Port"] = std::to_string(relay_server_->port());
    std::size_t sessions = 0;
    relay_server_->for_each_session([&](std::uint64_t, const remote::RelaySession&) { ++sessions; });
    out["Sessions"] = std::to_string(sessions);
  }
  return out;
}

void Agent::add_remote_metrics(http::MetricSet& set) const {
  if (remote_client_) {
    const remote::LinkStatus& s = remote_client_->link().status();
    set.gauge("hearsay.remote.established", remote_client_->link().established() ? 1 : 0);
    set.counter("hearsay.remote.sessions", static_cast<double>(s.sessions));
    set.counter("hearsay.remote.reconnects", static_cast<double>(s.reconnects));
    set.counter("hearsay.remote.attempts_failed", static_cast<double>(s.attempts_failed));
    set.counter("hearsay.remote.bytes_in", static_cast<double>(s.bytes_in));
    set.counter("hearsay.remote.bytes_out", static_cast<double>(s.bytes_out));
    if (s.rtt) set.gauge("hearsay.remote.rtt_seconds", std::chrono::duration<double>(*s.rtt).count());
    for (std::size_t i = 1; i < remote::kFrameErrors; ++i) {
      set.counter(std::string("hearsay.remote.frame_errors.") + remote::frame_error_name(static_cast<remote::FrameError>(i)),
                  static_cast<double>(s.frame_errors[i]));
    }
  }
  if (relay_server_) {
    const remote::RelayServerStats& s = relay_server_->stats();
    std::size_t sessions = 0;
    relay_server_->for_each_session([&](std::uint64_t, const remote::RelaySession&) { ++sessions; });
    set.gauge("hearsay.relay.sessions", static_cast<double>(sessions));
    set.counter("hearsay.relay.sessions_opened", static_cast<double>(s.sessions_opened));
    set.counter("hearsay.relay.sessions_refused", static_cast<double>(s.sessions_refused));
    set.counter("hearsay.relay.entries_in", static_cast<double>(s.entries_in));
    set.counter("hearsay.relay.bytes_in", static_cast<double>(s.bytes_in));
    set.counter("hearsay.relay.bytes_out", static_cast<double>(s.bytes_out));
    set.counter("hearsay.relay.tls_handshake_failures",
                static_cast<double>(relay_server_->tls_counters().handshake_failures));
    for (std::size_t i = 1; i < remote::kRelayRefusals; ++i) {
      set.counter(std::string("hearsay.relay.refused.") + remote::relay_refusal_name(static_cast<remote::RelayRefusal>(i)),
                  static_cast<double>(s.refused[i]));
    }
    for (std::size_t i = 1; i < remote::kFrameErrors; ++i) {
      set.counter(std::string("hearsay.relay.frame_errors.") + remote::frame_error_name(static_cast<remote::FrameError>(i)),
                  static_cast<double>(s.frame_errors[i]));
    }
  }
}

}  // namespace hearsay::agent
