// The catalog's records: nodes, service instances and health checks, with the field set of
// Consul's structs (agent/structs/structs.go: Node, NodeService, HealthCheck) that the HTTP
// and DNS interfaces expose. Every record also says who owns it and at which version, so the
// replication layer (DESIGN.md, "Catalog replication") can merge copies from other agents.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearsay::catalog {

using StringMap = std::map<std::string, std::string>;
using Duration = std::chrono::nanoseconds;  // Go's time.Duration resolution, so round trips are exact.

// Who wrote a record and when. Only the owner writes; copies merge by (generation, version).
struct RecordOrigin {
  std::string owner;        // node name of the owning agent
  std::uint64_t version = 0;     // owner's monotonically increasing counter
  std::uint64_t generation = 0;  // bumped when ownership moves (relay failover)
  bool operator==(const RecordOrigin&) const = default;
};

// Consul's RaftIndex: the change index at which the record was created and last modified.
struct RecordIndexes {
  std::uint64_t create_index = 0;
  std::uint64_t modify_index = 0;
  bool operator==(const RecordIndexes&) const = default;
};

struct Node {
  std::string id;  // UUID
  std::string name;
  std::string address;
  std::string datacenter;
  StringMap tagged_addresses;  // lan, wan, ... -> address
  StringMap meta;
  RecordOrigin origin;
  RecordIndexes indexes;
  bool operator==(const Node&) const = default;
};

struct ServiceAddress {
  std::string address;
  int port = 0;
  bool operator==(const ServiceAddress&) const = default;
};

struct Weights {
  int passing = 1;
  int warning = 1;
  bool operator==(const Weights&) const = default;
};

struct Service {
  std::string node;  // name of the node that hosts the instance
  std::string id;
  std::string name;
  std::vector<std::string> tags;
  std::string address;  // empty: use the node's address
  int port = 0;
  StringMap meta;
  std::map<std::string, ServiceAddress> tagged_addresses;
  Weights weights;
  bool enable_tag_override = false;
  std::string kind;
  RecordOrigin origin;
  RecordIndexes indexes;
  bool operator==(const Service&) const = default;
};

enum class HealthStatus { passing, warning, critical };

std::string_view to_string(HealthStatus status);
// "passing" / "warning" / "critical", exact lowercase as Consul; anything else is nullopt.
std::optional<HealthStatus> parse_health_status(std::string_view text);

enum class CheckType { none, ttl, http, tcp, script };
std::string_view to_string(CheckType type);  // "" for none, as Consul's Type field

// How a check is run: the definition the agent executes and that the API echoes back as
// HealthCheck.Definition. Zero durations mean "not set".
struct CheckSpec {
  CheckType type = CheckType::none;
  std::string http;    // URL
  std::string method;  // empty: GET
  std::map<std::string, std::vector<std::string>> header;
  std::string body;
  bool tls_skip_verify = false;
  std::string tls_server_name;
  bool disable_redirects = false;
  std::string tcp;                // host:port
  std::vector<std::string> args;  // script argv
  Duration interval{0};
  Duration timeout{0};
  Duration ttl{0};
  Duration deregister_critical_after{0};
  // Consul's thresholds (agent/checks/check_thresholds.h): results in a row before the shown
  // status changes; 0 = at once.
  int success_before_passing = 0;
  int failures_before_warning = 0;  // 0: as failures_before_critical
  int failures_before_critical = 0;
  int output_max_size = 0;  // bytes of output kept; 0: the agent's check_output_max_size
  bool operator==(const CheckSpec&) const = default;
};

struct Check {
  std::string node;
  std::string id;
  std::string name;
  HealthStatus status = HealthStatus::critical;
  std::string notes;
  std::string output;
  std::string service_id;  // empty for node-level checks
  std::string service_name;
  std::vector<std::string> service_tags;
  CheckSpec spec;
  RecordOrigin origin;
  RecordIndexes indexes;
  bool operator==(const Check&) const = default;
};

// Well-known check IDs (Consul agent/structs/structs.go).
inline constexpr std::string_view kSerfHealthCheckId = "serfHealth";
inline constexpr std::string_view kSerfHealthCheckName = "Serf Health Status";
inline constexpr std::string_view kNodeMaintenanceCheckId = "_node_maintenance";
inline constexpr std::string_view kServiceMaintenancePrefix = "_service_maintenance:";

bool is_maintenance_check(std::string_view check_id);

// Aggregate of a set of checks as the Go client and Prometheus compute it: any maintenance
// check -> "maintenance", else the worst status, "passing" for an empty set.
std::string_view aggregate_status(const std::vector<const Check*>& checks);

}  // namespace hearsay::catalog
