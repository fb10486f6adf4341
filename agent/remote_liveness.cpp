// Remote nodes' health from relays' session records (remote_liveness.h).
#include "agent/remote_liveness.h"

#include <spdlog/spdlog.h>

#include "gossip/wire/msgpack_io.h"

namespace hearsay::agent {
namespace mp = gossip::mp;

std::string encode_session_record(const SessionRecord& r) {
  gossip::Bytes out;
  mp::MapWriter(out, 6)
      .str("Relay", r.relay)
      .uint("Session", r.session)
      .uint("Since", r.since_us)
      .uint("Started", r.started_us)
      .uint("Attempt", r.attempt)
      .boolean("Left", r.left);
  return std::string(out.begin(), out.end());
}

std::optional<SessionRecord> decode_session_record(std::string_view bytes) {
  msgpack::zone zone;
  std::size_t offset = 0;
  auto object = mp::unpack_one(zone, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), offset);
  if (!object || offset != bytes.size()) return std::nullopt;
  mp::StructReader reader(*object);
  SessionRecord r;
  if (!reader.ok() || !reader.str("Relay", r.relay) || !reader.u64("Session", r.session, UINT64_MAX) ||
      !reader.u64("Since", r.since_us, UINT64_MAX) || !reader.u64("Started", r.started_us, UINT64_MAX) ||
      !reader.u64("Attempt", r.attempt, UINT64_MAX) || !reader.boolean("Left", r.left)) {
    return std::nullopt;
  }
  return r;
}

RemoteLiveness::RemoteLiveness(catalog::Catalog& catalog, const gossip::Membership& membership, std::string self,
                               RemoteLivenessConfig config)
    : catalog_(catalog), membership_(membership), self_(std::move(self)), config_(config) {}

void RemoteLiveness::session_record(const std::string& remote, const std::string& relay,
                                    std::optional<SessionRecord> record, Clock::time_point now) {
  if (remote == self_) return;  // our own health is not derived from what relays say
  auto [it, fresh] = remotes_.try_emplace(remote);
  if (fresh) it->second.last_held = now;
  if (record) {
    // A session newer than the one we forgot for brings the remote back (it reconnected).
    if (!record->left) {
      forgotten_.erase(remote);
      it->second.ever_held = true;
    }
    it->second.records[relay] = *record;
  } else {
    it->second.records.erase(relay);
  }
  update(remote, it->second, now);
}

void RemoteLiveness::remote_node(const std::string& node, Clock::time_point now) {
  if (node == self_ || forgotten_.contains(node)) return;
  auto [it, fresh] = remotes_.try_emplace(node);
  if (fresh) it->second.last_held = now;  // restored or new: its grace starts now
  if (is_member(node, it->second)) return drop(node);
  update(node, it->second, now);
}

bool RemoteLiveness::is_member(const std::string& node, const Remote& remote) const {
  const gossip::Member* m = membership_.members().find(node);
  if (!m) return false;
  return m->state == gossip::NodeState::alive || m->state == gossip::NodeState::suspect || !remote.ever_held;
}

void RemoteLiveness::drop(const std::string& node) {
  remotes_.erase(node);
  const catalog::Check* health = catalog_.check(node, std::string(kRemoteHealthCheckId));
  if (health && health->origin.owner == self_ && health->origin.version == 0) {
    catalog_.remove_check(node, std::string(kRemoteHealthCheckId));
  }
}

bool RemoteLiveness::relay_alive(const std::string& relay) const {
  if (relay == self_) return true;
  const gossip::Member* m = membership_.members().find(relay);
  return m && (m->state == gossip::NodeState::alive || m->state == gossip::NodeState::suspect);
}

const SessionRecord* RemoteLiveness::holder(const Remote& remote) const {
  const SessionRecord* best = nullptr;
  for (const auto& [relay, record] : remote.records) {
    if (record.left || !relay_alive(relay)) continue;
    if (!best || record.newer_than(*best)) best = &record;
  }
  return best;
}

void RemoteLiveness::update(const std::string& node, Remote& remote, Clock::time_point now) {
  for (const auto& [relay, record] : remote.records) {
    // Only the newest session's goodbye counts: an old session's leave is history.
    if (record.left && (!holder(remote) || record.newer_than(*holder(remote)))) remote.left = true;
  }
  if (const SessionRecord* h = holder(remote)) {
    remote.last_held = now;
    set_health(node, remote, catalog::HealthStatus::passing, "held by " + h->relay + " " + std::to_string(h->session),
               "Remote session held by relay " + h->relay + " (session " + std::to_string(h->session) + ")");
    return;
  }
  const auto away = std::chrono::duration_cast<std::chrono::seconds>(now - remote.last_held);
  const auto grace = std::chrono::duration_cast<std::chrono::seconds>(config_.grace);
  if (now - remote.last_held < config_.grace) {
    if (!remote.ever_held) return;  // nothing to say yet: no relay has held it (see the header)
    set_health(node, remote, catalog::HealthStatus::passing, "grace",
               "No relay holds a session since " + std::to_string(away.count()) + " s; critical after the " +
                   std::to_string(grace.count()) + " s grace");
  } else {
    set_health(node, remote, catalog::HealthStatus::critical, "critical",
               "No relay has held a session for " + std::to_string(away.count()) + " s");
  }
}

void RemoteLiveness::update_all(Clock::time_point now) {
  std::vector<std::string> members;
  for (auto& [node, remote] : remotes_) {
    if (is_member(node, remote)) {
      members.push_back(node);
    } else {
      update(node, remote, now);
    }
  }
  for (const std::string& node : members) drop(node);
}

std::vector<std::string> RemoteLiveness::tick(Clock::time_point now) {
  update_all(now);
  std::vector<std::string> gone;
  for (auto it = remotes_.begin(); it != remotes_.end();) {
    const bool lease_over = !holder(it->second) && now - it->second.last_held >= config_.lease;
    if (it->second.left || lease_over) {
      spdlog::info("remote {}: {}; removing its records", it->first,
                   it->second.left ? "left (goodbye)" : "no relay held a session for the whole lease");
      forgotten_.insert(it->first);
      gone.push_back(it->first);
      it = remotes_.erase(it);
    } else {
      ++it;
    }
  }
  return gone;
}

void RemoteLiveness::set_health(const std::string& node, Remote& remote, catalog::HealthStatus status,
                                const std::string& phase, const std::string& output) {
  if (!catalog_.node(node)) return;  // its node record has not arrived: nothing to attach it to
  const catalog::Check* existing = catalog_.check(node, std::string(kRemoteHealthCheckId));
  // Written when the phase changes only: the output's count of seconds would rewrite it (and
  // wake every blocking query on health) at every tick.
  if (existing && existing->status == status && remote.phase == phase) return;
  remote.phase = phase;
  catalog::Check health;
  health.node = node;
  health.id = std::string(kRemoteHealthCheckId);
  health.name = std::string(kRemoteHealthCheckName);
  health.status = status;
  health.output = output;
  health.origin = catalog::RecordOrigin{self_, 0, 0};  // derived here, never replicated
  catalog_.upsert_check(std::move(health));
}

}  // namespace hearsay::agent
