// Consul's ACL rule language (https://developer.hashicorp.com/consul/docs/security/acl/acl-rules):
// `service "web" { policy = "write" }`, `service_prefix "" { policy = "read" }`, `node`,
// `node_prefix`, `agent`, `agent_prefix`, `key`, `key_prefix`, `session`, `session_prefix`,
// `query`, `query_prefix`, `event`, `event_prefix`, and the scalar `operator = "read"`,
// `keyring`, `acl`, `mesh`, `peering`; in HCL or JSON. Text in, a Policy or an error out.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearsay::acl {

// A rule's level. `none` is "no rule here": the lookup falls through to the default.
enum class Access : std::uint8_t { none, deny, read, list, write };

// The resources that are named (a rule per name or name prefix) and the scalar ones.
enum class Resource : std::uint8_t { service, node, agent, key, session, query, event, operator_, keyring, acl, mesh, peering };
inline constexpr std::size_t kResources = 12;
inline constexpr bool is_named(Resource r) { return r <= Resource::event; }

std::string_view to_string(Access access);
std::string_view to_string(Resource resource);

// Does a rule of level `granted` allow an operation that needs `wanted` (read, list or write)?
// write covers list and read; list covers read; deny and none allow nothing.
bool covers(Access granted, Access wanted);

struct Rule {
  Resource resource;
  std::string name;  // the exact name, or the prefix ("" matches everything)
  bool prefix = false;
  Access access = Access::none;
};

struct Policy {
  std::vector<Rule> rules;  // named and scalar rules (a scalar rule has an empty name, prefix false)
};

// Parses rules written in HCL or JSON (JSON when the first non-blank character is '{', as
// Consul's parser decides). Returns "" and fills `out`, or a message naming the bad part.
// Unknown resources and levels are errors, as in Consul; an empty text is an empty policy.
[[nodiscard]] std::string parse_rules(std::string_view text, Policy& out);
// The same from an already decoded tree (the `rules` of a policy given as an object in a config).
[[nodiscard]] std::string parse_rules_tree(const rapidjson::Value& tree, Policy& out);

}  // namespace hearsay::acl
