// What a client asks the agent to register: Consul's ServiceDefinition and CheckDefinition
// (agent/structs/service_definition.go, check_definition.go), before they become catalog
// records. Validation returns Consul's error texts so HTTP answers match (consul-compat.md 1A, 4, 5.1).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "catalog/model.h"

namespace hearsay::catalog {

struct CheckDefinition {
  std::string id;  // empty: defaults to the name (or service:<sid> for a service's check)
  std::string name;
  std::string notes;
  std::string service_id;
  std::optional<HealthStatus> initial_status;  // unset: critical
  std::string output;
  CheckSpec spec;
  bool operator==(const CheckDefinition&) const = default;
};

struct ServiceDefinition {
  std::string id;  // empty: defaults to the name
  std::string name;
  std::vector<std::string> tags;
  std::string address;
  int port = 0;
  StringMap meta;
  std::map<std::string, ServiceAddress> tagged_addresses;
  Weights weights;
  bool enable_tag_override = false;
  std::string kind;
  std::vector<CheckDefinition> checks;  // "Check" and "Checks" merged
  bool operator==(const ServiceDefinition&) const = default;
};

// Limits from Consul's structs.validateMetaPair / ValidateWeights.
inline constexpr std::size_t kMaxMetaPairs = 64;
inline constexpr std::size_t kMaxMetaKeyLength = 128;
inline constexpr std::size_t kMaxMetaValueLength = 512;
inline constexpr std::chrono::seconds kMinCheckInterval{1};
inline constexpr std::chrono::minutes kMinDeregisterCriticalAfter{1};

// Fills defaults (ID from name, service check IDs, interval floor) and validates. Returns the
// error text for a 400 answer, or nullopt when the definition is usable.
std::optional<std::string> normalize_service(ServiceDefinition& def);
std::optional<std::string> normalize_check(CheckDefinition& def);

// Meta validation shared by services and nodes: "Invalid Service Meta: ..." style reasons.
std::optional<std::string> validate_meta(const StringMap& meta);

}  // namespace hearsay::catalog
