// The agent's own registrations: its node, its services and checks, their definitions (persisted
// so they survive kill -9), their running checks, maintenance mode and the
// DeregisterCriticalServiceAfter reaper. Every record it writes is owned by this agent and carries
// the next value of the agent's persistent version counter.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "agent/checks/check_result.h"
#include "agent/config.h"
#include "catalog/catalog.h"
#include "catalog/definitions.h"
#include "catalog/store_sqlite.h"
#include "http-api/agent_ops.h"

namespace hearsay::agent {

// Where a registration came from: script checks need a different switch for each.
enum class Source { api, config_file, restored };

class LocalState {
 public:
  using Clock = std::chrono::steady_clock;
  // The check runner: start (or replace) a check, stop it, feed a TTL update.
  struct CheckRunner {
    std::function<void(const std::string& id, const catalog::CheckSpec&)> start;
    std::function<void(const std::string& id)> stop;
    std::function<bool(const std::string& id, catalog::HealthStatus, std::string output)> ttl_update;
  };

  LocalState(catalog::Catalog& catalog, catalog::SqliteStore& store, CheckRunner runner, const AgentConfig& config,
             std::string node_id, std::string advertise_address);

  // Registers this node (with its serfHealth check), restores persisted registrations, then adds
  // the services and checks from config files.
  void start(Clock::time_point now);

  http::OpResult register_service(catalog::ServiceDefinition def, bool replace_existing_checks, Source source,
                                  Clock::time_point now);
  http::OpResult deregister_service(const std::string& service_id);
  http::OpResult register_check(catalog::CheckDefinition def, Source source, Clock::time_point now);
  http::OpResult deregister_check(const std::string& check_id);
  http::OpResult update_ttl(const std::string& check_id, catalog::HealthStatus status, std::string output,
                            Clock::time_point now);
  http::OpResult set_node_maintenance(bool enable, const std::string& reason);
  http::OpResult set_service_maintenance(const std::string& service_id, bool enable, const std::string& reason);
  http::OpResult catalog_register(const http::CatalogRegistration& reg);
  http::OpResult catalog_deregister(const http::CatalogDeregistration& dereg);

  // A result from a running check.
  void on_check_result(const std::string& check_id, const checks::CheckResult& result, Clock::time_point now);
  // Deregisters services whose check has been critical for longer than its
  // DeregisterCriticalServiceAfter. Returns how many services went.
  int reap_critical_services(Clock::time_point now);

  const std::string& node_name() const { return config_.node_name; }

  // Our owner counter (DESIGN.md, "Catalog replication"): every write of ours takes the next
  // version. Versions are microseconds since the epoch, or one more than the last when the
  // clock has not moved on, so writes of different owners to one key order by time. Persisted
  // with the commit, so a restart never reuses one. The generation is fixed when the data dir
  // is new: a fresh data dir starts a new state that replaces everything older of this node.
  std::uint64_t next_version();
  std::uint64_t last_version() const { return version_; }
  std::uint64_t generation() const { return generation_; }
  // A new generation above `above` (the replication engine found a peer holding a state of ours
  // we never made), persisted with the next commit; our writes carry it from now on.
  std::uint64_t new_generation(std::uint64_t above);

  // A config reload: the config's services and checks are now the new files'; `before_*` are
  // the ones the files held until now. Those gone are deregistered, new and changed ones
  // (re-)registered, the same ones left alone (their checks keep running and their status).
  // Returns "N added, N changed, N removed" for the log.
  std::string reload_config_definitions(const std::vector<catalog::ServiceDefinition>& before_services,
                                        const std::vector<catalog::CheckDefinition>& before_checks,
                                        Clock::time_point now);

  // After a failed commit (whose own records the store put back): the registrations and running
  // checks go back to what is durable, so nothing of the failed writes stays in effect.
  void reload_definitions(Clock::time_point now);

 private:
  catalog::RecordOrigin next_origin();
  // The spec a check runs with: its output cap resolved against the agent's check_output_max_size.
  catalog::CheckSpec runnable(catalog::CheckSpec spec) const;
  void upsert_own_node();
  void write_check(catalog::Check check, Clock::time_point now);
  http::OpResult add_check(catalog::CheckDefinition def, Source source, Clock::time_point now);
  void remove_check(const std::string& check_id);
  bool scripts_allowed(Source source) const;
  http::OpResult set_maintenance(const std::string& check_id, const std::string& name, const std::string& service_id,
                                 bool enable, const std::string& notes);

  catalog::Catalog& catalog_;
  catalog::SqliteStore& store_;
  CheckRunner runner_;
  const AgentConfig& config_;
  std::string node_id_;
  std::string address_;
  std::uint64_t version_ = 0;     // persisted as setting "owner_version"
  std::uint64_t generation_ = 0;  // persisted as setting "owner_generation"

  std::map<std::string, catalog::ServiceDefinition> services_;  // by service ID
  std::map<std::string, catalog::CheckDefinition> checks_;      // every local check by ID, service checks too
  std::map<std::string, Source> check_sources_;
  std::map<std::string, Clock::time_point> critical_since_;     // checks currently critical
};

}  // namespace hearsay::agent
