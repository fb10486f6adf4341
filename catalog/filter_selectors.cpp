// Selector tables: each view resolves a path to a field, a missing map key, or "unknown".
#include "catalog/filter_selectors.h"

#include <span>

namespace hearsay::catalog::filter {
namespace {

using Path = std::span<const std::string>;

// A map field: the whole map at its own path, one entry one level below.
FieldLookup map_field(const StringMap& map, Path rest) {
  if (rest.empty()) return FieldLookup::found(map);
  if (rest.size() > 1) return FieldLookup::unknown();
  auto it = map.find(rest[0]);
  return it == map.end() ? FieldLookup::missing() : FieldLookup::found(it->second);
}

FieldLookup tagged_addresses(const std::map<std::string, ServiceAddress>& map, Path rest) {
  StringMap flat;
  for (const auto& [k, v] : map) flat[k] = v.address;
  if (rest.size() == 2 && (rest[1] == "Address" || rest[1] == "Port")) {
    auto it = map.find(rest[0]);
    if (it == map.end()) return FieldLookup::missing();
    return rest[1] == "Address" ? FieldLookup::found(it->second.address)
                                : FieldLookup::found(static_cast<std::int64_t>(it->second.port));
  }
  return map_field(flat, rest);
}

FieldLookup weights(const Weights& w, Path rest) {
  if (rest.size() == 1 && rest[0] == "Passing") return FieldLookup::found(static_cast<std::int64_t>(w.passing));
  if (rest.size() == 1 && rest[0] == "Warning") return FieldLookup::found(static_cast<std::int64_t>(w.warning));
  return FieldLookup::unknown();
}

// AgentService / NodeService fields, shared by the agent view and Service.* in CheckServiceNode.
FieldLookup service_field(const Service& s, Path p) {
  const std::string& f = p[0];
  Path rest = p.subspan(1);
  if (f == "Meta") return map_field(s.meta, rest);
  if (f == "TaggedAddresses") return tagged_addresses(s.tagged_addresses, rest);
  if (f == "Weights") return weights(s.weights, rest);
  if (!rest.empty()) return FieldLookup::unknown();
  if (f == "ID") return FieldLookup::found(s.id);
  if (f == "Service") return FieldLookup::found(s.name);
  if (f == "Tags") return FieldLookup::found(s.tags);
  if (f == "Address") return FieldLookup::found(s.address);
  if (f == "Port") return FieldLookup::found(static_cast<std::int64_t>(s.port));
  if (f == "EnableTagOverride") return FieldLookup::found(s.enable_tag_override);
  if (f == "Kind") return FieldLookup::found(s.kind);
  return FieldLookup::unknown();
}

FieldLookup node_field(const Node& n, Path p) {
  const std::string& f = p[0];
  Path rest = p.subspan(1);
  if (f == "Meta") return map_field(n.meta, rest);
  if (f == "TaggedAddresses") return map_field(n.tagged_addresses, rest);
  if (!rest.empty()) return FieldLookup::unknown();
  if (f == "ID") return FieldLookup::found(n.id);
  if (f == "Node") return FieldLookup::found(n.name);
  if (f == "Address") return FieldLookup::found(n.address);
  if (f == "Datacenter") return FieldLookup::found(n.datacenter);
  return FieldLookup::unknown();
}

FieldLookup check_field(const Check& c, Path p) {
  if (p.size() != 1) return FieldLookup::unknown();
  const std::string& f = p[0];
  if (f == "Node") return FieldLookup::found(c.node);
  if (f == "CheckID") return FieldLookup::found(c.id);
  if (f == "Name") return FieldLookup::found(c.name);
  if (f == "Status") return FieldLookup::found(std::string(to_string(c.status)));
  if (f == "Notes") return FieldLookup::found(c.notes);
  if (f == "Output") return FieldLookup::found(c.output);
  if (f == "ServiceID") return FieldLookup::found(c.service_id);
  if (f == "ServiceName") return FieldLookup::found(c.service_name);
  if (f == "ServiceTags") return FieldLookup::found(c.service_tags);
  if (f == "Type") return FieldLookup::found(std::string(to_string(c.spec.type)));
  return FieldLookup::unknown();
}

}  // namespace

Lookup agent_service_lookup(const Service& service) {
  return [&service](const std::vector<std::string>& path) {
    return path.empty() ? FieldLookup::unknown() : service_field(service, path);
  };
}

Lookup health_check_lookup(const Check& check) {
  return [&check](const std::vector<std::string>& path) {
    return path.empty() ? FieldLookup::unknown() : check_field(check, path);
  };
}

Lookup node_lookup(const Node& node) {
  return [&node](const std::vector<std::string>& path) {
    return path.empty() ? FieldLookup::unknown() : node_field(node, path);
  };
}

// ServiceNode flattens the node's fields and prefixes the service's with "Service".
Lookup service_node_lookup(const Node& node, const Service& service) {
  return [&node, &service](const std::vector<std::string>& path) -> FieldLookup {
    if (path.empty()) return FieldLookup::unknown();
    const std::string& f = path[0];
    Path rest = Path(path).subspan(1);
    if (f == "NodeMeta") return map_field(node.meta, rest);
    if (f == "ServiceName") return rest.empty() ? FieldLookup::found(service.name) : FieldLookup::unknown();
    if (f == "ServiceTaggedAddresses") return tagged_addresses(service.tagged_addresses, rest);
    if (f.starts_with("Service") && f.size() > 7) {
      std::vector<std::string> inner(path);
      inner[0] = f.substr(7);  // ServiceMeta -> Meta, ServicePort -> Port, ServiceID -> ID
      if (inner[0] == "Service" || inner[0] == "Name") return FieldLookup::unknown();
      return service_field(service, inner);
    }
    if (f == "Meta") return FieldLookup::unknown();  // ServiceNode has NodeMeta, not Meta
    return node_field(node, path);
  };
}

Lookup check_service_node_lookup(const Node& node, const Service& service, const std::vector<const Check*>& checks) {
  return [&node, &service, &checks](const std::vector<std::string>& path) -> FieldLookup {
    if (path.empty()) return FieldLookup::unknown();
    Path rest = Path(path).subspan(1);
    if (path[0] == "Node" && !rest.empty()) return node_field(node, rest);
    if (path[0] == "Service" && !rest.empty()) return service_field(service, rest);
    if (path[0] == "Checks" && rest.empty()) {
      std::vector<std::string> ids;
      for (const Check* c : checks) ids.push_back(c->id);
      return FieldLookup::found(ids);
    }
    return FieldLookup::unknown();
  };
}

}  // namespace hearsay::catalog::filter
