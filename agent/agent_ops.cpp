// The HTTP API's agent operations (http::AgentOps): local registrations go to LocalState,
// membership operations to serf and the transport, keyring operations to the whole cluster.
// Each write is answered by the API only after the group commit that makes it durable.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/acl_setup.h"
#include "agent/agent.h"
#include "agent/build_info.h"
#include "agent/introspection.h"
#include "agent/keyring_file.h"
#include "agent/uv_guard.h"

namespace hearsay::agent {

namespace {
// A script check over an API open to the network without ACLs (acl_setup.h), or nullopt.
std::optional<http::OpResult> refuse_open_script(const AgentConfig& config, const std::vector<catalog::CheckDefinition>& checks) {
  for (const auto& check : checks) {
    if (check.spec.type != catalog::CheckType::script) continue;
    if (auto why = http_script_check_refusal(config)) return http::OpResult::fail(400, *why);
  }
  return std::nullopt;
}
}  // namespace

http::OpResult Agent::register_service(catalog::ServiceDefinition def, bool replace_existing_checks) {
  if (auto refused = refuse_open_script(config_, def.checks)) return *refused;
  return local_->register_service(std::move(def), replace_existing_checks, Source::api, now_());
}
http::OpResult Agent::deregister_service(const std::string& service_id) { return local_->deregister_service(service_id); }
http::OpResult Agent::register_check(catalog::CheckDefinition def) {
  if (auto refused = refuse_open_script(config_, {def})) return *refused;
  return local_->register_check(std::move(def), Source::api, now_());
}
http::OpResult Agent::deregister_check(const std::string& check_id) { return local_->deregister_check(check_id); }
http::OpResult Agent::update_ttl_check(const std::string& check_id, catalog::HealthStatus status, std::string output) {
  return local_->update_ttl(check_id, status, std::move(output), now_());
}
http::OpResult Agent::set_node_maintenance(bool enable, const std::string& reason) {
  return local_->set_node_maintenance(enable, reason);
}
http::OpResult Agent::set_service_maintenance(const std::string& service_id, bool enable, const std::string& reason) {
  return local_->set_service_maintenance(service_id, enable, reason);
}
http::OpResult Agent::catalog_register(const http::CatalogRegistration& registration) {
  return local_->catalog_register(registration);
}
http::OpResult Agent::catalog_deregister(const http::CatalogDeregistration& deregistration) {
  return local_->catalog_deregister(deregistration);
}

void Agent::join(const std::string& address, std::function<void(http::OpResult)> done) {
  if (!gossip_) return done(http::OpResult::fail(400, "a remote agent joins no gossip (it reaches the cluster through relays)"));
  auto seed = gossip::parse_address(address, 8301);
  if (!seed) return done(http::OpResult::fail(400, "cannot join " + address + ": not an IP address or IP:port"));
  gossip_->join(*seed, [address, done = std::move(done)](const std::string& error) {
    done(error.empty() ? http::OpResult::ok() : http::OpResult::fail(500, "Failed to join " + address + ": " + error));
  });
}

http::OpResult Agent::force_leave(const std::string& node) {
  if (!gossip_) return http::OpResult::fail(400, "a remote agent has no gossip members to force out");
  const std::string error = node_->serf().force_leave(node, now_());
  gossip_->flush();
  if (error.empty()) return http::OpResult::ok();
  return http::OpResult::fail(error.starts_with("no member") ? 404 : 400, error);
}

std::string Agent::apply_keyring_change(http::KeyringOp op, const gossip::Bytes& key) {
  gossip::Keyring changed = keyring_;
  std::string error;
  switch (op) {
    case http::KeyringOp::install: error = changed.add(key); break;
    case http::KeyringOp::use: error = changed.use(key); break;
    case http::KeyringOp::remove: error = changed.remove(key); break;
    case http::KeyringOp::list: return {};
  }
  if (!error.empty()) return error;
  // On disk first: a change that is not durable is not made.
  try {
    save_keyring(config_.data_dir, changed);
  } catch (const std::exception& e) {
    return e.what();
  }
  keyring_ = std::move(changed);
  return {};
}

void Agent::keyring_operation(http::KeyringOp op, const std::string& key,
                              std::function<void(http::OpResult, http::KeyringReport)> done) {
  if (!gossip_) return done(http::OpResult::fail(400, "a remote agent has no gossip keyring"), {});
  cluster_keyring_->start(op, key, now_(), std::move(done));
  gossip_->flush();  // the query goes out with the next gossip round
  arm_keyring_timer();
}

void Agent::arm_keyring_timer() {
  if (shutting_down_) return;
  const auto deadline = cluster_keyring_->next_deadline();
  if (!deadline) {
    if (keyring_timer_.open()) (void)uv_timer_stop(keyring_timer_.get());  // cannot fail: libuv returns 0
    return;
  }
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now_());
  auto expire = [](uv_timer_t* t) {
    guard_callback("keyring time-out", [self = static_cast<Agent*>(t->data)] {
      self->cluster_keyring_->expire(self->now_());
      self->arm_keyring_timer();
    });
  };
  log_uv(uv_timer_start(keyring_timer_.get(), expire, static_cast<std::uint64_t>(std::max<std::int64_t>(wait.count(), 0)), 0),
         "keyring: uv_timer_start");
}

std::optional<http::KeyringInfo> Agent::keyring() const {
  if (!keyring_.enabled()) return std::nullopt;
  http::KeyringInfo info;
  for (const auto& key : keyring_.keys()) info.keys.push_back(gossip::encode_key(key));
  info.primary = info.keys.front();
  return info;
}

std::vector<http::MemberInfo> Agent::members() const { return member_list(node_->membership()); }

http::MetricSet Agent::metrics() const {
  http::MetricSet set = metric_table(MetricSources{gossip_.get(), node_->membership(), node_->serf(), catalog_,
                                                   node_->replication(), *store_, *catalog_replication_, *http_server_,
                                                   *limits_, dns_server_.get(), https_server_.get(), *blocking_,
                                                   api_->cache_stats(), group_commit_->commit_latency()});
  set.uptime_seconds = std::chrono::duration<double>(now_() - started_).count();
  add_remote_metrics(set);
  return set;
}

http::AgentIdentity Agent::identity() const {
  return http::AgentIdentity{config_.node_name, node_id_, config_.datacenter, kVersion, kRevision, kBuildDate,
                             config_.node_meta, remote_status()};
}

void Agent::after_commit(std::function<void(bool)> done) { group_commit_->after_commit(std::move(done)); }

}  // namespace hearsay::agent
