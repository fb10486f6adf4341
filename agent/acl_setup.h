// The agent's side of ACLs (issue 18): compiling the config's acl block into the token table the
// HTTP API enforces, the warning for an API open to the network without ACLs, and the rule that
// keeps script checks from being registered over such an API.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "acl/token_table.h"
#include "agent/config.h"

namespace hearsay::agent {

// True when every client address is a loopback one (127.0.0.0/8, ::1).
bool client_is_loopback_only(const AgentConfig& config);

// Reads the secret of every token defined with secret_file (its first line, trailing blanks
// removed). Returns "" or a message naming the token and the file, never a secret.
std::string load_secret_files(acl::AclConfig& acl);

std::shared_ptr<const acl::TokenTable> build_token_table(const AgentConfig& config, std::uint64_t generation);

// DNS answers with the read rights of requests without a token (the default token's, else the
// default policy's), as Consul's DNS uses its default token. Nothing is hidden with ACLs off.
void restrict_dns_to_default_token(std::shared_ptr<const acl::TokenTable> table, dns::ResolverConfig& resolver);

// The warning to log at start, or nullopt: ACLs off while the HTTP API listens beyond loopback.
std::optional<std::string> open_api_warning(const AgentConfig& config);

// Why a script check registered over HTTP is refused, or nullopt when it may be registered.
// Consul runs them whenever enable_script_checks is set; hearsay also refuses them while the
// API is reachable from the network without ACLs (anyone there could run commands), unless
// enable_remote_script_checks says that is intended. Config-file checks are not affected
// (enable_local_script_checks).
std::optional<std::string> http_script_check_refusal(const AgentConfig& config);

}  // namespace hearsay::agent
