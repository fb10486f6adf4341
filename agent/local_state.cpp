// Local registrations. Consul's texts for the errors (agent/agent_endpoint.go, agent/agent.go).
#include "agent/local_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/clock.h"
#include "http-api/json_decode.h"

namespace hearsay::agent {
namespace {

using catalog::Check;
using catalog::CheckType;
using catalog::HealthStatus;
using http::OpResult;

constexpr const char* kOwnerVersionSetting = "owner_version";
constexpr const char* kOwnerGenerationSetting = "owner_generation";

std::string unknown_service(const std::string& id) {
  return "Unknown service ID \"" + id + "\". Ensure that the service ID is passed, not the service name.";
}
std::string unknown_check(const std::string& id) {
  return "Unknown check ID \"" + id + "\". Ensure that the check ID is passed, not the check name.";
}

}  // namespace

LocalState::LocalState(catalog::Catalog& catalog, catalog::SqliteStore& store, CheckRunner runner,
                       const AgentConfig& config, std::string node_id, std::string advertise_address)
    : catalog_(catalog),
      store_(store),
      runner_(std::move(runner)),
      config_(config),
      node_id_(std::move(node_id)),
      address_(std::move(advertise_address)) {
  if (auto v = store_.get_setting(kOwnerVersionSetting)) version_ = std::strtoull(v->c_str(), nullptr, 10);
  if (auto g = store_.get_setting(kOwnerGenerationSetting)) generation_ = std::strtoull(g->c_str(), nullptr, 10);
  if (generation_ == 0) {
    generation_ = wall_clock_microseconds();
    store_.stage_setting(kOwnerGenerationSetting, std::to_string(generation_));
  }
}

std::uint64_t LocalState::next_version() {
  version_ = std::max(version_ + 1, wall_clock_microseconds());
  store_.stage_setting(kOwnerVersionSetting, std::to_string(version_));
  return version_;
}

std::uint64_t LocalState::new_generation(std::uint64_t above) {
  generation_ = std::max({above + 1, generation_ + 1, wall_clock_microseconds()});
  store_.stage_setting(kOwnerGenerationSetting, std::to_string(generation_));
  spdlog::warn("replication: a peer held a state of ours we never made; starting generation {}", generation_);
  return generation_;
}

void LocalState::reload_definitions(Clock::time_point now) {
  for (const auto& [id, def] : checks_) runner_.stop(id);
  services_.clear();
  checks_.clear();
  check_sources_.clear();
  auto keep_check = [&](catalog::CheckDefinition def, Source source) {
    check_sources_[def.id] = source;
    const std::string id = def.id;
    checks_[id] = std::move(def);
  };
  auto keep_service = [&](const catalog::ServiceDefinition& def, Source source) {
    for (const auto& check : def.checks) keep_check(check, source);
    services_[def.id] = def;
  };
  // The order of start(): stored registrations, then config files over them.
  for (const auto& [id, json] : store_.local_services()) {
    if (auto def = http::decode_service_definition(json)) keep_service(def.value(), Source::restored);
  }
  for (const auto& [id, json] : store_.local_checks()) {
    if (auto def = http::decode_check_definition(json)) keep_check(std::move(def).value(), Source::restored);
  }
  for (const auto& def : config_.services) keep_service(def, Source::config_file);
  for (const auto& def : config_.checks) keep_check(def, Source::config_file);
  for (auto it = critical_since_.begin(); it != critical_since_.end();) {
    it = checks_.contains(it->first) ? std::next(it) : critical_since_.erase(it);
  }
  for (const auto& [id, def] : checks_) {
    if (def.spec.type != CheckType::none) runner_.start(id, runnable(def.spec));
    const Check* check = catalog_.check(config_.node_name, id);
    if (check && check->status == HealthStatus::critical) critical_since_.try_emplace(id, now);
  }
}

std::string LocalState::reload_config_definitions(const std::vector<catalog::ServiceDefinition>& before_services,
                                                  const std::vector<catalog::CheckDefinition>& before_checks,
                                                  Clock::time_point now) {
  int added = 0, changed = 0, removed = 0;
  auto find_by_id = [](const auto& list, const std::string& id) {
    return std::find_if(list.begin(), list.end(), [&](const auto& d) { return d.id == id; });
  };
  for (const auto& old : before_services) {
    if (find_by_id(config_.services, old.id) != config_.services.end() || !services_.count(old.id)) continue;
    (void)deregister_service(old.id);
    ++removed;
  }
  for (const auto& old : before_checks) {
    if (find_by_id(config_.checks, old.id) != config_.checks.end() || !checks_.count(old.id)) continue;
    (void)deregister_check(old.id);
    ++removed;
  }
  for (const auto& def : config_.services) {
    const auto old = find_by_id(before_services, def.id);
    if (old != before_services.end() && *old == def && services_.count(def.id)) continue;
    auto r = register_service(def, true, Source::config_file, now);
    if (!r.succeeded()) spdlog::error("reload: service {} from config: {}", def.id, r.error);
    ++(old == before_services.end() ? added : changed);
  }
  for (const auto& def : config_.checks) {
    const auto old = find_by_id(before_checks, def.id);
    if (old != before_checks.end() && *old == def && checks_.count(def.id)) continue;
    auto r = add_check(def, Source::config_file, now);
    if (!r.succeeded()) spdlog::error("reload: check {} from config: {}", def.id, r.error);
    ++(old == before_checks.end() ? added : changed);
  }
  return std::to_string(added) + " added, " + std::to_string(changed) + " changed, " + std::to_string(removed) +
         " removed";
}

catalog::RecordOrigin LocalState::next_origin() { return catalog::RecordOrigin{config_.node_name, next_version(), generation_}; }

bool LocalState::scripts_allowed(Source source) const {
  return source == Source::config_file ? (config_.enable_local_script_checks || config_.enable_script_checks)
                                       : config_.enable_script_checks;
}

void LocalState::upsert_own_node() {
  catalog::Node node;
  node.id = node_id_;
  node.name = config_.node_name;
  node.address = address_;
  node.datacenter = config_.datacenter;
  node.tagged_addresses = {{"lan", address_}, {"lan_ipv4", address_}, {"wan", address_}, {"wan_ipv4", address_}};
  node.meta = config_.node_meta;
  node.origin = next_origin();
  catalog_.upsert_node(std::move(node));

  // Liveness of this node as membership sees it; with gossip it follows the member's state.
  Check health;
  health.node = config_.node_name;
  health.id = std::string(catalog::kSerfHealthCheckId);
  health.name = std::string(catalog::kSerfHealthCheckName);
  health.status = HealthStatus::passing;
  health.output = "Agent alive and reachable";
  health.origin = next_origin();
  catalog_.upsert_check(std::move(health));
}

void LocalState::start(Clock::time_point now) {
  upsert_own_node();

  for (const auto& [id, json] : store_.local_services()) {
    auto decoded = http::decode_service_definition(json);
    if (!decoded) {
      spdlog::error("local service {}: stored definition unreadable ({}); dropped", id, decoded.error());
      store_.stage_local_service(id, std::nullopt);
      continue;
    }
    auto r = register_service(std::move(decoded).value(), false, Source::restored, now);
    if (!r.succeeded()) spdlog::error("local service {}: cannot restore: {}", id, r.error);
  }
  for (const auto& [id, json] : store_.local_checks()) {
    auto decoded = http::decode_check_definition(json);
    if (!decoded) {
      spdlog::error("local check {}: stored definition unreadable ({}); dropped", id, decoded.error());
      store_.stage_local_check(id, std::nullopt);
      continue;
    }
    auto r = add_check(std::move(decoded).value(), Source::restored, now);
    if (!r.succeeded()) spdlog::error("local check {}: cannot restore: {}", id, r.error);
  }
  for (const auto& def : config_.services) {
    auto r = register_service(def, false, Source::config_file, now);
    if (!r.succeeded()) spdlog::error("service {} from config: {}", def.id, r.error);
  }
  for (const auto& def : config_.checks) {
    auto r = add_check(def, Source::config_file, now);
    if (!r.succeeded()) spdlog::error("check {} from config: {}", def.id, r.error);
  }
  // Records of this node left over from before (e.g. deregistered just before a crash).
  for (const catalog::Service* svc : catalog_.services_of_node(config_.node_name)) {
    if (!services_.count(svc->id) && svc->origin.owner == config_.node_name) {
      std::string id = svc->id;
      catalog_.remove_service(config_.node_name, id);
    }
  }
  std::vector<std::string> stale_checks;
  for (const catalog::Check* check : catalog_.checks_of_node(config_.node_name)) {
    if (!checks_.count(check->id) && check->id != catalog::kSerfHealthCheckId && !catalog::is_maintenance_check(check->id)) {
      stale_checks.push_back(check->id);
    }
  }
  for (const auto& id : stale_checks) catalog_.remove_check(config_.node_name, id);
}

OpResult LocalState::register_service(catalog::ServiceDefinition def, bool replace_existing_checks, Source source,
                                      Clock::time_point now) {
  for (const auto& check : def.checks) {
    if (check.spec.type == CheckType::script && !scripts_allowed(source)) {
      return OpResult::fail(400, "Invalid check: Scripts are disabled on this agent; to enable, configure "
                                 "'enable_script_checks' to true");
    }
  }
  if (replace_existing_checks) {
    if (auto old = services_.find(def.id); old != services_.end()) {
      for (const auto& old_check : old->second.checks) {
        bool kept = std::any_of(def.checks.begin(), def.checks.end(),
                                [&](const catalog::CheckDefinition& c) { return c.id == old_check.id; });
        if (!kept) remove_check(old_check.id);
      }
    }
  }
  catalog::Service svc;
  svc.node = config_.node_name;
  svc.id = def.id;
  svc.name = def.name;
  svc.tags = def.tags;
  svc.address = def.address;
  svc.port = def.port;
  svc.meta = def.meta;
  svc.tagged_addresses = def.tagged_addresses;
  svc.weights = def.weights;
  svc.enable_tag_override = def.enable_tag_override;
  svc.kind = def.kind;
  svc.origin = next_origin();
  catalog_.upsert_service(std::move(svc));
  services_[def.id] = def;
  for (const auto& check : def.checks) {
    auto r = add_check(check, source, now);
    if (!r.succeeded()) return r;
  }
  if (source != Source::config_file) store_.stage_local_service(def.id, http::encode_service_definition(def));
  return OpResult::ok();
}

OpResult LocalState::deregister_service(const std::string& service_id) {
  auto it = services_.find(service_id);
  if (it == services_.end()) return OpResult::fail(404, unknown_service(service_id));
  for (const auto& check : it->second.checks) {
    runner_.stop(check.id);
    checks_.erase(check.id);
    check_sources_.erase(check.id);
    critical_since_.erase(check.id);
  }
  // Checks registered on their own against this service go with it, as in Consul.
  for (auto c = checks_.begin(); c != checks_.end();) {
    if (c->second.service_id == service_id) {
      runner_.stop(c->first);
      store_.stage_local_check(c->first, std::nullopt);
      critical_since_.erase(c->first);
      check_sources_.erase(c->first);
      c = checks_.erase(c);
    } else {
      ++c;
    }
  }
  services_.erase(it);
  catalog_.remove_service(config_.node_name, service_id);  // also removes its checks
  store_.stage_local_service(service_id, std::nullopt);
  return OpResult::ok();
}

OpResult LocalState::register_check(catalog::CheckDefinition def, Source source, Clock::time_point now) {
  std::string id = def.id;
  auto r = add_check(std::move(def), source, now);
  if (r.succeeded() && source != Source::config_file) {
    store_.stage_local_check(id, http::encode_check_definition(checks_.at(id)));
  }
  return r;
}

OpResult LocalState::add_check(catalog::CheckDefinition def, Source source, Clock::time_point now) {
  if (def.spec.type == CheckType::script && !scripts_allowed(source)) {
    return OpResult::fail(400, "Invalid check: Scripts are disabled on this agent; to enable, configure "
                               "'enable_script_checks' to true");
  }
  if (!def.service_id.empty() && !services_.count(def.service_id)) {
    return OpResult::fail(404, "ServiceID \"" + def.service_id + "\" does not exist");
  }
  Check check;
  check.node = config_.node_name;
  check.id = def.id;
  check.name = def.name;
  check.notes = def.notes;
  check.service_id = def.service_id;
  check.spec = def.spec;
  // Re-registering keeps the last status and output (and a restart restores them).
  if (const Check* existing = catalog_.check(config_.node_name, def.id)) {
    check.status = existing->status;
    check.output = existing->output;
  } else {
    check.status = def.initial_status.value_or(HealthStatus::critical);
    check.output = def.output;
  }
  write_check(std::move(check), now);
  check_sources_[def.id] = source;
  const std::string id = def.id;
  const catalog::CheckSpec spec = def.spec;
  checks_[id] = std::move(def);
  if (spec.type != CheckType::none) runner_.start(id, runnable(spec));
  return OpResult::ok();
}

void LocalState::write_check(Check check, Clock::time_point now) {
  if (check.status == HealthStatus::critical) critical_since_.try_emplace(check.id, now);
  else critical_since_.erase(check.id);
  check.origin = next_origin();
  catalog_.upsert_check(std::move(check));
}

void LocalState::remove_check(const std::string& check_id) {
  runner_.stop(check_id);
  checks_.erase(check_id);
  check_sources_.erase(check_id);
  critical_since_.erase(check_id);
  catalog_.remove_check(config_.node_name, check_id);
}

OpResult LocalState::deregister_check(const std::string& check_id) {
  auto it = checks_.find(check_id);
  if (it == checks_.end()) return OpResult::fail(404, unknown_check(check_id));
  const std::string service_id = it->second.service_id;
  remove_check(check_id);
  store_.stage_local_check(check_id, std::nullopt);
  // A service's own check: the persisted service definition must forget it too.
  if (auto svc = services_.find(service_id); svc != services_.end()) {
    auto& list = svc->second.checks;
    list.erase(std::remove_if(list.begin(), list.end(), [&](const auto& c) { return c.id == check_id; }), list.end());
    store_.stage_local_service(service_id, http::encode_service_definition(svc->second));
  }
  return OpResult::ok();
}

catalog::CheckSpec LocalState::runnable(catalog::CheckSpec spec) const {
  spec.output_max_size = static_cast<int>(
      checks::output_limit(static_cast<std::size_t>(config_.check_output_max_size), spec.output_max_size));
  return spec;
}

OpResult LocalState::update_ttl(const std::string& check_id, HealthStatus status, std::string output,
                                Clock::time_point now) {
  auto it = checks_.find(check_id);
  if (it == checks_.end()) return OpResult::fail(404, unknown_check(check_id));
  // Consul cuts a TTL update's output to the check's cap too.
  const std::size_t total = output.size();
  output = checks::cap_output(std::move(output), total, checks::output_limit(runnable(it->second.spec)));
  if (it->second.spec.type != CheckType::ttl || !runner_.ttl_update(check_id, status, output)) {
    return OpResult::fail(500, "CheckID \"" + check_id + "\" does not have associated TTL");
  }
  on_check_result(check_id, checks::CheckResult{status, std::move(output)}, now);
  return OpResult::ok();
}

void LocalState::on_check_result(const std::string& check_id, const checks::CheckResult& result, Clock::time_point now) {
  if (!checks_.count(check_id)) return;  // stopped meanwhile
  const Check* current = catalog_.check(config_.node_name, check_id);
  if (!current) return;
  if (current->status == result.status && current->output == result.output) return;  // no churn on the index
  Check updated = *current;
  updated.status = result.status;
  updated.output = result.output;
  write_check(std::move(updated), now);
}

int LocalState::reap_critical_services(Clock::time_point now) {
  std::vector<std::string> doomed;
  for (const auto& [check_id, since] : critical_since_) {
    auto def = checks_.find(check_id);
    if (def == checks_.end() || def->second.service_id.empty()) continue;
    auto after = def->second.spec.deregister_critical_after;
    if (after.count() <= 0) continue;
    after = std::max<catalog::Duration>(after, config_.deregister_critical_min);
    if (now - since >= after) doomed.push_back(def->second.service_id);
  }
  std::sort(doomed.begin(), doomed.end());
  doomed.erase(std::unique(doomed.begin(), doomed.end()), doomed.end());
  for (const auto& service_id : doomed) {
    spdlog::info("deregistering service {}: critical for longer than its DeregisterCriticalServiceAfter", service_id);
    (void)deregister_service(service_id);
  }
  return static_cast<int>(doomed.size());
}

// Maintenance mode is a critical check (Consul: _node_maintenance, _service_maintenance:<id>).
OpResult LocalState::set_maintenance(const std::string& check_id, const std::string& name, const std::string& service_id,
                                     bool enable, const std::string& notes) {
  if (!enable) {
    catalog_.remove_check(config_.node_name, check_id);
    return OpResult::ok();
  }
  Check check;
  check.node = config_.node_name;
  check.id = check_id;
  check.name = name;
  check.notes = notes;
  check.service_id = service_id;
  check.status = HealthStatus::critical;
  check.origin = next_origin();
  catalog_.upsert_check(std::move(check));
  return OpResult::ok();
}

OpResult LocalState::set_node_maintenance(bool enable, const std::string& reason) {
  return set_maintenance(std::string(catalog::kNodeMaintenanceCheckId), "Node Maintenance Mode", "", enable,
                         reason.empty() ? "Maintenance mode is enabled for this node, but no reason was provided. "
                                          "This is a default message."
                                        : reason);
}

OpResult LocalState::set_service_maintenance(const std::string& service_id, bool enable, const std::string& reason) {
  if (!services_.count(service_id)) return OpResult::fail(404, "Unknown service ID: " + service_id);
  return set_maintenance(std::string(catalog::kServiceMaintenancePrefix) + service_id, "Service Maintenance Mode",
                         service_id, enable,
                         reason.empty() ? "Maintenance mode is enabled for this service, but no reason was provided. "
                                          "This is a default message."
                                        : reason);
}

OpResult LocalState::catalog_register(const http::CatalogRegistration& reg) {
  const bool own_node = reg.node == config_.node_name;
  // Another agent's own node (it writes its node record itself) takes no registrations from here.
  if (const catalog::Node* existing = catalog_.node(reg.node); !own_node && existing && existing->origin.owner == reg.node) {
    return OpResult::fail(403, "Permission denied: node \"" + reg.node + "\" is agent " + reg.node +
                                   "'s own node; register through that agent");
  }
  // An unchanged node record is not written again: no index moves, and a service-only token
  // (no node:write) never rewrites the node (the registration does not change it).
  if (!own_node && http::changes_node(reg, catalog_.node(reg.node), config_.datacenter)) {
    catalog::Node node;
    node.id = reg.id;
    node.name = reg.node;
    node.address = reg.address;
    node.datacenter = config_.datacenter;
    node.tagged_addresses = reg.tagged_addresses;
    node.meta = reg.node_meta;
    node.origin = next_origin();
    catalog_.upsert_node(std::move(node));
  }
  if (!catalog_.node(reg.node)) return OpResult::fail(400, "Node " + reg.node + " does not exist");
  if (reg.service) {
    if (own_node) return OpResult::fail(400, "Use /v1/agent/service/register for services of the agent's own node");
    catalog::Service svc = *reg.service;
    svc.node = reg.node;
    svc.origin = next_origin();
    catalog_.upsert_service(std::move(svc));
  }
  for (catalog::Check check : reg.checks) {
    if (own_node) return OpResult::fail(400, "Use /v1/agent/check/register for checks of the agent's own node");
    check.node = reg.node;
    if (!check.service_id.empty() && !catalog_.service(reg.node, check.service_id)) {
      return OpResult::fail(400, "Unknown service ID \"" + check.service_id + "\" for check " + check.id);
    }
    check.origin = next_origin();
    catalog_.upsert_check(std::move(check));
  }
  return OpResult::ok();
}

OpResult LocalState::catalog_deregister(const http::CatalogDeregistration& dereg) {
  if (dereg.node == config_.node_name) {
    if (!dereg.service_id.empty()) return deregister_service(dereg.service_id);
    if (!dereg.check_id.empty()) return deregister_check(dereg.check_id);
    return OpResult::fail(400, "Cannot deregister the agent's own node; use /v1/agent/leave");
  }
  // Only the owner writes a record (DESIGN.md): removing a peer's here would not reach the others.
  const catalog::RecordOrigin* origin = nullptr;
  if (!dereg.service_id.empty()) {
    if (const auto* svc = catalog_.service(dereg.node, dereg.service_id)) origin = &svc->origin;
  } else if (!dereg.check_id.empty()) {
    if (const auto* check = catalog_.check(dereg.node, dereg.check_id)) origin = &check->origin;
  } else if (const auto* node = catalog_.node(dereg.node)) {
    origin = &node->origin;
  }
  if (origin && !origin->owner.empty() && origin->owner != config_.node_name) {
    return OpResult::fail(403, "Permission denied: registered through agent \"" + origin->owner +
                                   "\"; deregister it there (only the registering agent writes a record)");
  }
  if (!dereg.service_id.empty()) {
    catalog_.remove_service(dereg.node, dereg.service_id);
  } else if (!dereg.check_id.empty()) {
    catalog_.remove_check(dereg.node, dereg.check_id);
  } else {
    catalog_.remove_node(dereg.node);
  }
  return OpResult::ok();
}

}  // namespace hearsay::agent
