// The selectors each Consul endpoint's `filter` sees, with Consul's field names
// (consul-compat.md 5.3 "Selectors per endpoint"): AgentService, HealthCheck, ServiceNode,
// Node and CheckServiceNode views over our records. A lookup borrows the item: use it at once.
#pragma once

#include <vector>

#include "catalog/filter.h"
#include "catalog/model.h"

namespace hearsay::catalog::filter {

Lookup agent_service_lookup(const Service& service);
Lookup health_check_lookup(const Check& check);
Lookup service_node_lookup(const Node& node, const Service& service);
Lookup node_lookup(const Node& node);
Lookup check_service_node_lookup(const Node& node, const Service& service, const std::vector<const Check*>& checks);

}  // namespace hearsay::catalog::filter
