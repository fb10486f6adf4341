// See acl_setup.h.
#include "agent/acl_setup.h"

#include <fstream>

namespace hearsay::agent {
namespace {

bool is_loopback(const std::string& address) {
  return address.starts_with("127.") || address == "::1" || address == "localhost";
}

}  // namespace

bool client_is_loopback_only(const AgentConfig& config) {
  for (const std::string& address : client_addresses(config)) {
    if (!is_loopback(address)) return false;
  }
  return true;
}

std::string load_secret_files(acl::AclConfig& acl) {
  for (acl::TokenDefinition& token : acl.tokens) {
    if (token.secret_file.empty() || !token.secret_id.empty()) continue;
    std::ifstream in(token.secret_file);
    std::string secret;
    if (!in) return "acl.token \"" + token.description + "\": cannot read secret_file " + token.secret_file;
    std::getline(in, secret);
    while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ' || secret.back() == '\t')) secret.pop_back();
    if (secret.empty()) return "acl.token \"" + token.description + "\": secret_file " + token.secret_file + " is empty";
    token.secret_id = std::move(secret);
  }
  return "";
}

std::shared_ptr<const acl::TokenTable> build_token_table(const AgentConfig& config, std::uint64_t generation) {
  return std::make_shared<const acl::TokenTable>(config.acl, generation);
}

void restrict_dns_to_default_token(std::shared_ptr<const acl::TokenTable> table, dns::ResolverConfig& resolver) {
  if (!table || !table->enabled() || table->anonymous().authorizer->reads_everything()) {
    resolver.may_read_service = nullptr;
    resolver.may_read_node = nullptr;
    return;
  }
  // The authorizer lives as long as the table these functions hold.
  resolver.may_read_service = [table](std::string_view name) { return table->anonymous().authorizer->service_read(name); };
  resolver.may_read_node = [table](std::string_view name) { return table->anonymous().authorizer->node_read(name); };
}

std::optional<std::string> open_api_warning(const AgentConfig& config) {
  if (config.acl.enabled || client_is_loopback_only(config)) return std::nullopt;
  return "the HTTP API listens on " + config.client_addr +
         " without ACLs: anyone who reaches it may register, deregister, leave or change the keyring; "
         "set acl { enabled = true default_policy = \"deny\" } with tokens, or listen on 127.0.0.1";
}

std::optional<std::string> http_script_check_refusal(const AgentConfig& config) {
  if (!config.enable_script_checks || config.acl.enabled || config.enable_remote_script_checks ||
      client_is_loopback_only(config)) {
    return std::nullopt;  // refused or allowed by the usual enable_script_checks rule
  }
  return "Invalid check: script checks registered over HTTP are refused: the HTTP API listens on " +
         config.client_addr + " (beyond loopback) without ACLs, so anyone who reaches it could run commands on "
         "this host; enable ACLs, listen on loopback only, define the check in a config file "
         "(enable_local_script_checks), or set enable_remote_script_checks = true if this is intended";
}

}  // namespace hearsay::agent
