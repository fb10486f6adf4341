// What the HTTP API needs from the agent but must not implement itself (DESIGN.md: http-api
// declares, agent implements): local registrations, catalog writes, membership, identity.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "catalog/definitions.h"
#include "http-api/json_decode.h"
#include "http-api/metrics.h"

namespace hearsay::http {

// The outcome of an agent operation: 200, or an HTTP status with Consul's plain-text reason.
struct OpResult {
  int status = 200;
  std::string error;
  static OpResult ok() { return {}; }
  static OpResult fail(int status, std::string error) { return {status, std::move(error)}; }
  bool succeeded() const { return status == 200; }
};

// A gossip member as /v1/agent/members shows it (serf.Member).
struct MemberInfo {
  std::string name;
  std::string addr;
  int port = 8301;
  std::map<std::string, std::string> tags;
  int status = 1;  // 0 none, 1 alive, 2 leaving, 3 left, 4 failed
  int protocol_min = 1, protocol_max = 5, protocol_cur = 2;
  int delegate_min = 2, delegate_max = 5, delegate_cur = 4;
};

struct AgentIdentity {
  std::string node_name;
  std::string node_id;
  std::string datacenter;
  std::string version;
  std::string revision;
  std::string build_date;  // RFC 3339
  std::map<std::string, std::string> node_meta;
  // Remote mode (issue 16): a remote's link or a relay's sessions, as strings; empty otherwise.
  std::map<std::string, std::string> remote{};
};

// This agent's gossip keyring (/v1/operator/keyring?local-only): base64 keys, primary first.
struct KeyringInfo {
  std::vector<std::string> keys;
  std::string primary;
};
enum class KeyringOp { list, install, use, remove };

// Consul's KeyringResponse for the LAN pool: what the members that answered a keyring
// operation reported (list: which keys they hold).
struct KeyringReport {
  std::map<std::string, int> keys;          // base64 key -> members that hold it
  std::map<std::string, int> primary_keys;  // base64 key -> members using it as primary
  std::map<std::string, std::string> messages;  // member -> why it failed
  int num_nodes = 0;                        // alive members when the operation started
  int num_responses = 0, num_errors = 0;
};

class AgentOps {
 public:
  virtual ~AgentOps() = default;

  virtual OpResult register_service(catalog::ServiceDefinition def, bool replace_existing_checks) = 0;
  virtual OpResult deregister_service(const std::string& service_id) = 0;
  virtual OpResult register_check(catalog::CheckDefinition def) = 0;
  virtual OpResult deregister_check(const std::string& check_id) = 0;
  // pass/warn/fail and /update: only TTL checks (500 otherwise, as Consul).
  virtual OpResult update_ttl_check(const std::string& check_id, catalog::HealthStatus status, std::string output) = 0;
  virtual OpResult set_node_maintenance(bool enable, const std::string& reason) = 0;
  virtual OpResult set_service_maintenance(const std::string& service_id, bool enable, const std::string& reason) = 0;
  virtual OpResult catalog_register(const CatalogRegistration& registration) = 0;
  virtual OpResult catalog_deregister(const CatalogDeregistration& deregistration) = 0;
  // Joins through `address` and calls `done` once the exchange with it has ended: Consul's join
  // answers only then, with an error for a peer that cannot be reached.
  virtual void join(const std::string& address, std::function<void(OpResult)> done) = 0;
  virtual OpResult leave() = 0;
  virtual OpResult force_leave(const std::string& node) = 0;
  // PUT /v1/agent/reload: re-read the config files; a bad file is refused (400, naming it)
  // and the running config kept. Not every AgentOps reloads (test fakes): 500 by default.
  virtual OpResult reload() { return OpResult::fail(500, "this agent cannot reload its config"); }
  // A keyring operation on every member, as Consul and `serf keys` do it (serf's key queries):
  // `done` gets the report once every alive member answered, or at the query's time-out.
  // Refused at once (`done` called before returning) with 500 when encryption is off here and
  // 400 for a malformed key. A report with failures or missing answers is 500 (Consul's text).
  virtual void keyring_operation(KeyringOp op, const std::string& key,
                                 std::function<void(OpResult, KeyringReport)> done) = 0;
  virtual std::optional<KeyringInfo> keyring() const = 0;  // this agent's; nullopt: not encrypted

  virtual std::vector<MemberInfo> members() const = 0;
  // Counters since start (dropped packets, decryption failures, DNS rcodes...), gauges and
  // latency histograms, for /v1/agent/metrics.
  virtual MetricSet metrics() const = 0;
  virtual AgentIdentity identity() const = 0;
  // How fresh this agent's replica is, for X-Consul-KnownLeader and X-Consul-LastContact: a
  // remote agent whose link is down answers from its mirror and says so (issue 16).
  struct Freshness {
    bool known_leader = true;
    std::uint64_t last_contact_ms = 0;
  };
  virtual Freshness freshness() const { return {}; }

  // Writes are acknowledged only once durable: `done` runs after the next group commit
  // (with false when the commit failed).
  virtual void after_commit(std::function<void(bool durable)> done) = 0;
};

}  // namespace hearsay::http
