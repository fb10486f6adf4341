// Catalog records <-> replicated key/values. Keys: "n\0NODE", "s\0NODE\0ID", "c\0NODE\0ID";
// values: the record codec's msgpack (catalog/record_codec.h), the same bytes SQLite holds.
// A relay's session records: "r\0REMOTE\0RELAY", valued by encode_session_record.
#include "agent/catalog_replication.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "agent/propagation_lag.h"
#include "catalog/record_codec.h"
#include "gossip/node.h"

namespace hearsay::agent {
namespace {

constexpr const char* kMarksSetting = "replication_marks";
constexpr const char* kAliveOutput = "Agent alive and reachable";
constexpr const char* kNotAliveOutput = "Agent not live or unreachable";

gossip::Bytes to_bytes(const std::string& s) { return gossip::Bytes(s.begin(), s.end()); }
std::string_view as_view(const gossip::Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }
// Checks every agent derives for itself and never replicates.
bool is_serf_health(const std::string& check_id) {
  return check_id == catalog::kSerfHealthCheckId || check_id == kRemoteHealthCheckId;
}

// (version, owner) order: the later write shows; equal versions fall to the owner's name.
bool newer(std::uint64_t version, const std::string& owner, const catalog::RecordOrigin& than) {
  return version != than.version ? version > than.version : owner > than.owner;
}

}  // namespace

CatalogReplication::CatalogReplication(catalog::Catalog& catalog, catalog::SqliteStore& store,
                                       gossip::Replication& engine, const gossip::Membership& membership,
                                       std::string self, NextVersion next_version, std::chrono::milliseconds reap_after,
                                       RemoteLivenessConfig remotes)
    : catalog_(catalog),
      store_(store),
      engine_(engine),
      membership_(membership),
      self_(std::move(self)),
      next_version_(std::move(next_version)),
      reap_after_(reap_after),
      remotes_(catalog_, membership_, self_, remotes) {}

std::string CatalogReplication::encode_key(Kind kind, const std::string& node, const std::string& id) {
  std::string key(1, static_cast<char>(kind));
  key += '\0';
  key += node;
  if (kind != Kind::node) {
    key += '\0';
    key += id;
  }
  return key;
}

std::optional<CatalogReplication::Key> CatalogReplication::parse_key(const std::string& key) {
  if (key.size() < 3 || key[1] != '\0') return std::nullopt;
  const auto kind = static_cast<Kind>(key[0]);
  if (kind == Kind::node) {
    std::string node = key.substr(2);
    if (node.find('\0') != std::string::npos) return std::nullopt;
    return Key{kind, std::move(node), {}};
  }
  if (kind != Kind::service && kind != Kind::check && kind != Kind::session) return std::nullopt;
  const auto split = key.find('\0', 2);
  if (split == std::string::npos || split == 2 || split + 1 == key.size()) return std::nullopt;
  std::string id = key.substr(split + 1);
  if (id.find('\0') != std::string::npos) return std::nullopt;
  return Key{kind, key.substr(2, split - 2), std::move(id)};
}

std::string CatalogReplication::remote_write_refusal(
    const std::string& remote, const gossip::ReplicaEntry& entry,
    const std::function<bool(const std::string& service)>& may_write_service) {
  auto key = parse_key(entry.key);
  if (!key) return "not a catalog key";
  if (key->kind == Kind::session) return "session records are written by relays only";
  if (key->node != remote) return "a record of node " + key->node + ", not of " + remote;
  if (entry.deleted || key->kind == Kind::node) return {};  // its own node; removals of its own records
  std::string service;
  if (key->kind == Kind::service) {
    auto svc = catalog::decode_service(as_view(entry.value));
    if (!svc) return "an undecodable service record";
    service = svc->name;
  } else {
    if (is_serf_health(key->id)) return "a derived health check";
    auto check = catalog::decode_check(as_view(entry.value));
    if (!check) return "an undecodable check record";
    if (check->service_id.empty()) return {};  // a node check on its own node
    service = check->service_name;
  }
  if (!may_write_service(service)) return "service " + service + " is not allowed by the token";
  return {};
}

// ---- Startup

void CatalogReplication::restore(std::uint64_t own_generation, std::uint64_t own_last_version, Clock::time_point now) {
  auto restore_one = [&](const std::string& key, const catalog::RecordOrigin& origin, const std::string& value) {
    if (origin.owner.empty() || origin.version == 0) return;  // derived locally, not replicated
    // Our records written before we last started a generation carry the older one: they are
    // our state all the same.
    const std::uint64_t generation = origin.owner == self_ ? own_generation : origin.generation;
    engine_.restore(gossip::ReplicaEntry{origin.owner, key, generation, origin.version, 0, false, to_bytes(value)}, now);
  };
  std::vector<std::string> other_nodes;
  for (const catalog::Node* node : catalog_.nodes()) {
    restore_one(encode_key(Kind::node, node->name), node->origin, catalog::encode_record(*node));
    for (const catalog::Service* svc : catalog_.services_of_node(node->name)) {
      restore_one(encode_key(Kind::service, svc->node, svc->id), svc->origin, catalog::encode_record(*svc));
    }
    if (node->name != self_) other_nodes.push_back(node->name);
    if (node->name != self_ && node->origin.owner == node->name && !membership_.members().contains(node->name)) {
      remotes_.remote_node(node->name, now);  // a remote's grace and lease start now
    }
  }
  for (const catalog::Check* check : catalog_.all_checks()) {
    if (is_serf_health(check->id)) continue;
    restore_one(encode_key(Kind::check, check->node, check->id), check->origin, catalog::encode_record(*check));
  }
  staged_marks_ = store_.get_setting(kMarksSetting).value_or("");
  {
    std::istringstream lines(staged_marks_);
    gossip::OwnerMark mark;
    while (lines >> mark.generation >> mark.watermark && lines.get() == ' ' && std::getline(lines, mark.owner)) {
      engine_.restore_mark(mark);
    }
  }
  engine_.set_own_state(own_generation, own_last_version);
  // Liveness of other nodes comes from membership, which starts empty.
  for (const std::string& node : other_nodes) {
    if (catalog_.check(node, std::string(catalog::kSerfHealthCheckId))) set_serf_health(node, false);
  }
}

// ---- Our writes

CatalogReplication::Outgoing CatalogReplication::prepare(const catalog::DirtyKeys& dirty) {
  // The engine takes our writes in version order; tombstones get new (larger) versions.
  Outgoing writes;
  auto consider = [&](std::string key, const catalog::RecordOrigin* origin, auto encode) {
    if (origin) {
      if (origin->owner != self_) return;
      const gossip::Replication::Value* held = engine_.find(self_, key);
      if (held && held->version >= origin->version) return;  // touched, not rewritten
      writes.push_back(Write{origin->version, std::move(key), to_bytes(encode())});
      return;
    }
    const gossip::Replication::Value* held = engine_.find(self_, key);
    if (held && !held->deleted) writes.push_back(Write{next_version_(), std::move(key), std::nullopt});
  };
  for (const std::string& name : dirty.nodes) {
    const catalog::Node* n = catalog_.node(name);
    consider(encode_key(Kind::node, name), n ? &n->origin : nullptr, [n] { return catalog::encode_record(*n); });
  }
  for (const auto& [node, id] : dirty.services) {
    const catalog::Service* s = catalog_.service(node, id);
    consider(encode_key(Kind::service, node, id), s ? &s->origin : nullptr, [s] { return catalog::encode_record(*s); });
  }
  for (const auto& [node, id] : dirty.checks) {
    if (is_serf_health(id)) continue;
    const catalog::Check* c = catalog_.check(node, id);
    consider(encode_key(Kind::check, node, id), c ? &c->origin : nullptr, [c] { return catalog::encode_record(*c); });
  }
  std::sort(writes.begin(), writes.end(), [](const Write& a, const Write& b) { return a.version < b.version; });
  stage_marks();
  return writes;
}

void CatalogReplication::publish(Outgoing writes, Clock::time_point now) {
  for (Write& w : writes) {
    if (w.value) {
      engine_.publish(w.key, w.version, std::move(*w.value), now);
    } else {
      engine_.publish_delete(w.key, w.version, now);
      if (auto key = parse_key(w.key)) fall_back(*key, now);  // another owner's write of it may show now
    }
  }
}

void CatalogReplication::stage_marks() {
  // One line per owner: "generation watermark owner". Written with the records it describes,
  // in the same transaction, so after a restart the two agree.
  std::string text;
  for (const gossip::OwnerMark& m : engine_.digest()) {
    if (m.owner.find('\n') != std::string::npos) continue;
    text += std::to_string(m.generation) + ' ' + std::to_string(m.watermark) + ' ' + m.owner + '\n';
  }
  if (text == staged_marks_) return;
  store_.stage_setting(kMarksSetting, text);
  staged_marks_ = std::move(text);
}

// ---- Peers' writes

void CatalogReplication::apply(const std::vector<gossip::ReplicaChange>& changes, Clock::time_point now,
                               std::uint64_t now_wall_us) {
  for (const gossip::ReplicaChange& c : changes) {
    auto key = parse_key(c.key);
    if (!key || (key->kind == Kind::check && is_serf_health(key->id))) {
      ++stats_.records_invalid;
      continue;
    }
    // Timed on arrival, whatever the catalog then shows (a record waiting for its node, or one
    // another owner's newer write hides, reached us all the same).
    if (auto lag = propagation_lag_of(c, now_wall_us)) propagation_lag_.observe(*lag);
    if (key->kind == Kind::session) apply_session(c.owner, *key, c, now);
    else if (c.deleted) apply_removal(c.owner, *key, now);
    else apply_value(c.owner, *key, c.version, c.value, now);
  }
}

void CatalogReplication::apply_session(const std::string& owner, const Key& key, const gossip::ReplicaChange& change,
                                       Clock::time_point now) {
  if (key.id != owner) {  // a relay writes only its own sessions
    ++stats_.records_invalid;
    return;
  }
  if (change.deleted) return remotes_.session_record(key.node, key.id, std::nullopt, now);
  auto record = decode_session_record(as_view(change.value));
  if (!record || record->relay != owner) {
    ++stats_.records_invalid;
    return;
  }
  remotes_.session_record(key.node, key.id, std::move(*record), now);
}

void CatalogReplication::publish_session(const std::string& remote, std::optional<SessionRecord> record,
                                         Clock::time_point now) {
  const std::string key = encode_key(Kind::session, remote, self_);
  if (record) {
    const std::string value = encode_session_record(*record);
    engine_.publish(key, next_version_(), to_bytes(value), now);
  } else if (const gossip::Replication::Value* held = engine_.find(self_, key); held && !held->deleted) {
    engine_.publish_delete(key, next_version_(), now);
  }
  remotes_.session_record(remote, self_, std::move(record), now);
}

const catalog::RecordOrigin* CatalogReplication::showing(const Key& key) const {
  switch (key.kind) {
    case Kind::node: {
      const catalog::Node* n = catalog_.node(key.node);
      return n ? &n->origin : nullptr;
    }
    case Kind::service: {
      const catalog::Service* s = catalog_.service(key.node, key.id);
      return s ? &s->origin : nullptr;
    }
    case Kind::check: {
      const catalog::Check* c = catalog_.check(key.node, key.id);
      return c ? &c->origin : nullptr;
    }
    case Kind::session: return nullptr;  // not a catalog record
  }
  return nullptr;
}

bool CatalogReplication::apply_value(const std::string& owner, const Key& key, std::uint64_t version,
                                     const gossip::Bytes& value, Clock::time_point now) {
  const catalog::RecordOrigin* current = showing(key);
  if (current && current->owner == owner && current->version == version) return true;  // already showing
  if (current && current->owner != owner && !newer(version, owner, *current)) {
    ++stats_.conflicts_lost;
    return false;
  }
  const catalog::RecordOrigin origin{owner, version, engine_.generation_of(owner)};
  auto invalid = [this, &owner] {
    ++stats_.records_invalid;
    spdlog::debug("replication: dropped an invalid record from {}", owner);
    return false;
  };
  if (key.kind == Kind::node) {
    auto node = catalog::decode_node(as_view(value));
    if (!node || node->name != key.node) return invalid();
    // An agent's own node is written by that agent only: another owner claiming it (an
    // external registration under a member's name) is refused, not applied.
    if (key.node != owner && is_hearsay_member(key.node)) return invalid();
    node->origin = origin;
    catalog_.upsert_node(std::move(*node));
    apply_waiting_records(key.node, now);
    if (key.node != self_ && key.node == owner && !membership_.members().contains(key.node) &&
        !membership_.failed_members().contains(key.node)) {
      remotes_.remote_node(key.node, now);  // not a member, its own writer: a remote
    }
    if (key.node != self_) {
      const gossip::Member* member = membership_.members().find(key.node);
      const bool alive =
          member && (member->state == gossip::NodeState::alive || member->state == gossip::NodeState::suspect);
      if (member || membership_.failed_members().contains(key.node)) {
        set_serf_health(key.node, alive);
      }
    }
  } else if (!catalog_.node(key.node)) {
    ++stats_.records_waiting;  // applied when its node arrives (apply_waiting_records)
    return false;
  } else if (key.kind == Kind::service) {
    auto svc = catalog::decode_service(as_view(value));
    if (!svc || svc->node != key.node || svc->id != key.id) return invalid();
    svc->origin = origin;
    catalog_.upsert_service(std::move(*svc));
  } else {
    auto check = catalog::decode_check(as_view(value));
    if (!check || check->node != key.node || check->id != key.id) return invalid();
    check->origin = origin;
    catalog_.upsert_check(std::move(*check));
  }
  ++stats_.records_applied;
  return true;
}

void CatalogReplication::apply_removal(const std::string& owner, const Key& key, Clock::time_point now) {
  const catalog::RecordOrigin* current = showing(key);
  if (!current || current->owner != owner) return;  // what shows is someone else's write
  switch (key.kind) {
    case Kind::node: catalog_.remove_node(key.node); break;
    case Kind::service: catalog_.remove_service(key.node, key.id); break;
    case Kind::check: catalog_.remove_check(key.node, key.id); break;
    case Kind::session: return;
  }
  ++stats_.records_removed;
  fall_back(key, now);
}

void CatalogReplication::fall_back(const Key& key, Clock::time_point now) {
  const std::string encoded = encode_key(key.kind, key.node, key.id);
  std::string best_owner;
  const gossip::Replication::Value* best = nullptr;
  for (const auto& [owner, v] : engine_.live_values_of(encoded)) {
    if (!best || v->version > best->version || (v->version == best->version && owner > best_owner)) {
      best = v;
      best_owner = owner;
    }
  }
  if (best && best_owner != self_) apply_value(best_owner, key, best->version, best->value, now);
}

void CatalogReplication::apply_waiting_records(const std::string& node, Clock::time_point now) {
  for (Kind kind : {Kind::service, Kind::check}) {
    std::string prefix = encode_key(kind, node, "");  // "s\0NODE\0"
    std::vector<std::tuple<std::string, std::string, std::uint64_t, gossip::Bytes>> waiting;
    engine_.for_each_with_prefix(prefix, [&](const std::string& owner, const std::string& key,
                                             const gossip::Replication::Value& v) {
      if (owner != self_) waiting.emplace_back(owner, key, v.version, v.value);
    });
    for (auto& [owner, key, version, value] : waiting) {
      if (auto parsed = parse_key(key); parsed && !(kind == Kind::check && is_serf_health(parsed->id))) {
        apply_value(owner, *parsed, version, value, now);
      }
    }
  }
}

// ---- Membership

void CatalogReplication::set_serf_health(const std::string& node, bool alive) {
  if (node == self_ || !catalog_.node(node)) return;
  const auto status = alive ? catalog::HealthStatus::passing : catalog::HealthStatus::critical;
  const char* output = alive ? kAliveOutput : kNotAliveOutput;
  const catalog::Check* existing = catalog_.check(node, std::string(catalog::kSerfHealthCheckId));
  if (existing && existing->status == status && existing->output == output) return;
  catalog::Check health;
  health.node = node;
  health.id = std::string(catalog::kSerfHealthCheckId);
  health.name = std::string(catalog::kSerfHealthCheckName);
  health.status = status;
  health.output = output;
  health.origin = catalog::RecordOrigin{self_, 0, 0};  // derived here, never replicated
  catalog_.upsert_check(std::move(health));
}

void CatalogReplication::on_member_event(const gossip::MemberEvent& event, Clock::time_point now) {
  const std::string& name = event.member.name;
  if (name != self_) {
    switch (event.kind) {
      case gossip::MemberEvent::Kind::joined:
      case gossip::MemberEvent::Kind::updated:
        failed_since_.erase(name);
        if (reaped_.erase(name) > 0) engine_.sync_soon();  // back after being reaped
        set_serf_health(name, true);
        break;
      case gossip::MemberEvent::Kind::failed:
        failed_since_.try_emplace(name, now);
        set_serf_health(name, false);
        break;
      case gossip::MemberEvent::Kind::left:
        // A graceful leave takes the member's records off every agent at once, and what a
        // straggler still sends of it is refused until it joins again.
        failed_since_.erase(name);
        reaped_.insert(name);
        forget(name);
        break;
    }
  }
  remotes_.member_changed(now);  // a relay's failure moves the health of the remotes it held
}

void CatalogReplication::forget(const std::string& owner) {
  engine_.forget_owner(owner);
  if (const catalog::Node* n = catalog_.node(owner); n && n->origin.owner != self_) catalog_.remove_node(owner);
}

void CatalogReplication::reap(Clock::time_point now) {
  for (auto it = failed_since_.begin(); it != failed_since_.end();) {
    if (now - it->second < reap_after_) {
      ++it;
      continue;
    }
    spdlog::info("replication: {} failed {} s ago; removing its records", it->first,
                 std::chrono::duration_cast<std::chrono::seconds>(now - it->second).count());
    reaped_.insert(it->first);
    forget(it->first);
    it = failed_since_.erase(it);
  }
  tick_remotes(now);
}

void CatalogReplication::tick_remotes(Clock::time_point now) {
  for (const std::string& remote : remotes_.tick(now)) forget(remote);
}

bool CatalogReplication::is_hearsay_member(const std::string& name) const {
  const gossip::Member* member = membership_.members().find(name);
  return member && gossip::carries_hearsay_tag(*member);
}

bool CatalogReplication::accepts(const std::string& owner) const {
  if (reaped_.contains(owner)) return false;
  if (const gossip::Member* member = membership_.members().find(owner)) return member->state != gossip::NodeState::left;
  if (membership_.failed_members().contains(owner)) return true;
  // Not a member: a remote (its relays check what it writes), unless it left or its lease ran
  // out; a session record of a relay about it brings it back (RemoteLiveness::forgotten).
  return !remotes_.forgotten(owner);
}

}  // namespace hearsay::agent
