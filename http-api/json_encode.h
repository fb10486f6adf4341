// Response objects with Consul's exact field names and JSON types (consul-compat.md 1A.2, F5):
// Node, AgentService, NodeService, ServiceNode, HealthCheck, CheckServiceNode. Lists and maps
// are never null; check Definition durations are omitted when zero, never "".
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/model.h"

namespace hearsay::http {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Building blocks, also used by the endpoints for their own small objects.
void write_string(JsonWriter& w, std::string_view text);
void write_string_field(JsonWriter& w, std::string_view key, std::string_view value);  // always written
void write_string_array(JsonWriter& w, const std::vector<std::string>& items);      // [] when empty
void write_string_map(JsonWriter& w, const catalog::StringMap& map);                 // {} when empty
void write_service_addresses(JsonWriter& w, const std::map<std::string, catalog::ServiceAddress>& map);
void write_weights(JsonWriter& w, const catalog::Weights& weights);  // {"Passing","Warning"}
// The members of HealthCheck.Definition (no braces): only non-zero fields; durations as Go text.
void write_check_spec_fields(JsonWriter& w, const catalog::CheckSpec& spec);

// structs.Node: ID, Node, Address, Datacenter, TaggedAddresses, Meta, CreateIndex, ModifyIndex.
void write_node(JsonWriter& w, const catalog::Node& node);
// api.AgentService (values of /v1/agent/services); `datacenter` is the agent's.
void write_agent_service(JsonWriter& w, const catalog::Service& service, std::string_view datacenter);
// structs.NodeService (catalog/node Services values, health entries' Service).
void write_node_service(JsonWriter& w, const catalog::Service& service);
// structs.ServiceNode (/v1/catalog/service/<name> items): node fields + Service* fields.
void write_service_node(JsonWriter& w, const catalog::Node& node, const catalog::Service& service);
// structs.HealthCheck.
void write_health_check(JsonWriter& w, const catalog::Check& check);
// structs.CheckServiceNode: {"Node", "Service", "Checks"}.
void write_check_service_node(JsonWriter& w, const catalog::Node& node, const catalog::Service& service,
                              const std::vector<const catalog::Check*>& checks);

// `?pretty` form of a compact document: 4-space indent and a trailing newline, like Go's
// json.MarshalIndent plus Consul's newline. Input that is not valid JSON is returned unchanged.
std::string pretty(std::string_view compact_json);

}  // namespace hearsay::http
