// Defaults and validation of registration requests, with Consul's error texts
// (agent/agent_endpoint.go AgentRegisterService, structs.CheckType.Validate, structs.validateMetaPair).
#include "catalog/definitions.h"

#include <algorithm>

namespace hearsay::catalog {
namespace {

bool is_meta_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// The check kinds that run on an interval (everything but TTL).
bool is_interval_check(const CheckSpec& spec) {
  return spec.type == CheckType::http || spec.type == CheckType::tcp || spec.type == CheckType::script;
}

std::optional<std::string> validate_check_spec(CheckSpec& spec) {
  if (spec.interval.count() > 0 && spec.ttl.count() > 0) return "Interval and TTL cannot both be specified";
  if (is_interval_check(spec)) {
    if (spec.interval.count() <= 0) return "Interval must be > 0 for Script, HTTP, H2PING, TCP or UDP checks";
    // Consul raises short intervals instead of rejecting them (MinInterval = 1s).
    spec.interval = std::max<Duration>(spec.interval, kMinCheckInterval);
  } else if (spec.ttl.count() <= 0) {
    return "TTL must be > 0 for TTL checks";
  } else {
    spec.type = CheckType::ttl;
  }
  if (spec.timeout.count() < 0) return "Timeout must be >= 0";
  if (spec.type == CheckType::script && spec.args.empty()) return "Script checks need Args";
  if (spec.type == CheckType::http && !(spec.http.starts_with("http://") || spec.http.starts_with("https://"))) {
    return "HTTP check URL must start with http:// or https://";
  }
  if (spec.type == CheckType::tcp && spec.tcp.find(':') == std::string::npos) {
    return "TCP check address must be host:port";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> validate_meta(const StringMap& meta) {
  if (meta.size() > kMaxMetaPairs) {
    return "Node metadata cannot contain more than " + std::to_string(kMaxMetaPairs) + " key/value pairs";
  }
  for (const auto& [key, value] : meta) {
    if (key.empty()) return std::string("Key cannot be blank");
    if (!std::all_of(key.begin(), key.end(), is_meta_key_char)) {
      return "Key contains invalid characters: " + key;
    }
    if (key.size() > kMaxMetaKeyLength) {
      return "Key is too long (limit: " + std::to_string(kMaxMetaKeyLength) + " characters)";
    }
    if (key.starts_with("consul-")) return "Key prefix 'consul-' is reserved for internal use";
    if (value.size() > kMaxMetaValueLength) {
      return "Value is too long (limit: " + std::to_string(kMaxMetaValueLength) + " characters)";
    }
  }
  return std::nullopt;
}

std::optional<std::string> normalize_service(ServiceDefinition& def) {
  if (def.name.empty()) return std::string("Missing service name");
  if (def.id.empty()) def.id = def.name;
  if (def.address == "0.0.0.0" || def.address == "::" || def.address == "[::]") {
    return std::string("Invalid service address");
  }
  if (def.port < 0 || def.port > 65535) return "Invalid service port: " + std::to_string(def.port);
  if (auto err = validate_meta(def.meta)) return "Invalid Service Meta: " + *err;
  if (def.weights.passing < 1) return std::string("Invalid Weights: Passing must be greater than 0");
  if (def.weights.warning < 0) return std::string("Invalid Weights: Warning must be greater or equal than 0");
  if (def.weights.passing > 65535 || def.weights.warning > 65535) {
    return std::string("Invalid Weights: weights must be at most 65535");
  }
  for (const auto& [name, addr] : def.tagged_addresses) {
    if (addr.port < 0 || addr.port > 65535) return "Invalid port for tagged address " + name;
  }
  // Service checks: IDs service:<sid> (one) or service:<sid>:<n> (several), as Consul's CheckTypes().
  const bool several = def.checks.size() > 1;
  for (std::size_t i = 0; i < def.checks.size(); ++i) {
    CheckDefinition& check = def.checks[i];
    if (check.id.empty()) {
      check.id = "service:" + def.id;
      if (several) check.id += ":" + std::to_string(i + 1);
    }
    if (check.name.empty()) check.name = "Service '" + def.name + "' check";
    check.service_id = def.id;
    if (auto err = validate_check_spec(check.spec)) return "Invalid check: " + *err;
  }
  return std::nullopt;
}

std::optional<std::string> normalize_check(CheckDefinition& def) {
  if (def.name.empty()) return std::string("Missing check name");
  if (def.id.empty()) def.id = def.name;
  if (auto err = validate_check_spec(def.spec)) return "Invalid check: " + *err;
  return std::nullopt;
}

}  // namespace hearsay::catalog
