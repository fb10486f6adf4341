// The `acl` block of an agent config: Consul's keys (enabled, default_policy, tokens {
// initial_management, agent, default, agent_recovery }) and hearsay's own policy and token
// definitions, which Consul keeps on its servers and an agent without servers keeps here:
//   acl {
//     enabled = true
//     default_policy = "deny"
//     policy "web-write" { rules = <<EOT
//       service "web" { policy = "write" }
//     EOT }
//     token "web-deployer" { secret_id = "..." policies = ["web-write"] }
//   }
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "acl/rules.h"

namespace hearsay::acl {

struct PolicyDefinition {
  std::string name;
  std::string description;
  Policy policy;  // already parsed: a config with bad rules is refused when read
};

struct TokenDefinition {
  std::string description;  // the block's label
  std::string accessor_id;  // optional; else a stable UUID made from the label
  std::string secret_id;    // what clients send
  std::string secret_file;  // or: a file whose first line is the secret (read by the agent, acl_setup.h)
  std::vector<std::string> policies;  // policy names; "global-management" is Consul's built-in all-access one
};

struct AclConfig {
  bool enabled = false;
  bool default_allow = true;  // Consul's default_policy, "allow" unless set
  std::string initial_management;  // tokens.initial_management (alias: master): may do everything
  std::string agent_recovery;      // tokens.agent_recovery (alias: agent_master): here, management too
  std::string agent_token;         // tokens.agent: accepted; the agent's own work needs no token
  std::string default_token;       // tokens.default: the rights of requests without a token, and DNS'
  std::vector<PolicyDefinition> policies;
  std::vector<TokenDefinition> tokens;
};

// Applies an `acl` block (a JSON object; HCL already decoded). Later blocks add policies and tokens
// and override scalars, as later config files do. Returns "" or "acl.<key>: what is wrong".
[[nodiscard]] std::string apply_acl_block(const rapidjson::Value& block, AclConfig& config);

// Cross-checks once every file is read: every token names known policies, secrets are unique and
// not empty, the default token exists. Returns "" or the problem.
[[nodiscard]] std::string check_acl_config(const AclConfig& config);

}  // namespace hearsay::acl
