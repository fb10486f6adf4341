// Text forms of the model's enums and the health aggregation rule (consul-compat.md 4.3).
#include "catalog/model.h"

namespace hearsay::catalog {

std::string_view to_string(HealthStatus status) {
  switch (status) {
    case HealthStatus::passing: return "passing";
    case HealthStatus::warning: return "warning";
    case HealthStatus::critical: return "critical";
  }
  return "critical";
}

std::optional<HealthStatus> parse_health_status(std::string_view text) {
  if (text == "passing") return HealthStatus::passing;
  if (text == "warning") return HealthStatus::warning;
  if (text == "critical") return HealthStatus::critical;
  return std::nullopt;
}

std::string_view to_string(CheckType type) {
  switch (type) {
    case CheckType::none: return "";
    case CheckType::ttl: return "ttl";
    case CheckType::http: return "http";
    case CheckType::tcp: return "tcp";
    case CheckType::script: return "script";
  }
  return "";
}

bool is_maintenance_check(std::string_view check_id) {
  return check_id == kNodeMaintenanceCheckId || check_id.starts_with(kServiceMaintenancePrefix);
}

std::string_view aggregate_status(const std::vector<const Check*>& checks) {
  bool critical = false;
  bool warning = false;
  for (const Check* check : checks) {
    if (is_maintenance_check(check->id)) return "maintenance";
    critical = critical || check->status == HealthStatus::critical;
    warning = warning || check->status == HealthStatus::warning;
  }
  if (critical) return "critical";
  if (warning) return "warning";
  return "passing";
}

}  // namespace hearsay::catalog
