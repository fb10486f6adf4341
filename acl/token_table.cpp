// TokenTable: tokens -> authorizers, built once per config (token_table.h).
#include "acl/token_table.h"

#include <cstdio>
#include <map>

namespace hearsay::acl {
namespace {

constexpr std::string_view kManagementPolicy = "global-management";
// Consul's fixed IDs: the built-in management policy and the anonymous token.
constexpr std::string_view kManagementPolicyId = "00000000-0000-0000-0000-000000000001";
constexpr std::string_view kAnonymousAccessor = "00000000-0000-0000-0000-000000000002";

std::string policy_id(const std::string& name) {
  if (name == kManagementPolicy) return std::string(kManagementPolicyId);
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  char out[37];
  std::snprintf(out, sizeof out, "%08x-%04x-4%03x-9%03x-%012llx", static_cast<unsigned>(h >> 32),
                static_cast<unsigned>((h >> 16) & 0xffff), static_cast<unsigned>(h & 0xfff),
                static_cast<unsigned>(name.size() & 0xfff), static_cast<unsigned long long>(h & 0xffffffffffffULL));
  return out;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ static_cast<unsigned char>(b[i])));
  }
  return diff == 0;
}

TokenTable::TokenTable() {
  anonymous_owned_ = std::make_unique<Token>();
  anonymous_owned_->accessor_id = kAnonymousAccessor;
  anonymous_owned_->description = "Anonymous Token";
  anonymous_owned_->authorizer = std::make_shared<Authorizer>(Authorizer::allow_all());
  anonymous_ = anonymous_owned_.get();
}

TokenTable::TokenTable(const AclConfig& config, std::uint64_t generation)
    : enabled_(config.enabled), default_allow_(config.default_allow) {
  if (!enabled_) {
    *this = TokenTable();
    default_allow_ = config.default_allow;  // still reported (X-Consul-Default-ACL-Policy), as Consul does
    return;
  }
  const Access fallback = default_allow_ ? Access::write : Access::deny;
  std::map<std::string, const Policy*> by_name;
  for (const auto& p : config.policies) by_name[p.name] = &p.policy;
  const std::string scope_suffix = "#" + std::to_string(generation);
  auto add = [&](Token token, bool management) {
    std::vector<const Policy*> policies;
    for (const auto& name : token.policies) {
      token.policy_ids.push_back(policy_id(name));
      if (name == kManagementPolicy) management = true;
      if (auto it = by_name.find(name); it != by_name.end()) policies.push_back(it->second);
    }
    token.authorizer = std::make_shared<Authorizer>(management ? Authorizer::allow_all() : Authorizer(policies, fallback));
    if (!token.authorizer->reads_everything()) token.cache_scope = token.accessor_id + scope_suffix;
    tokens_.push_back(std::make_unique<Token>(std::move(token)));
  };
  for (const auto& def : config.tokens) add(Token{def.accessor_id, def.secret_id, def.description, def.policies, {}, {}, {}}, false);
  if (!config.initial_management.empty()) {
    add(Token{"00000000-0000-0000-0000-0000000000a1", config.initial_management, "Initial Management Token",
              {std::string(kManagementPolicy)}, {}, {}, {}},
        true);
  }
  if (!config.agent_recovery.empty()) {
    add(Token{"00000000-0000-0000-0000-0000000000a2", config.agent_recovery, "Agent Recovery Token",
              {std::string(kManagementPolicy)}, {}, {}, {}},
        true);
  }
  if (!config.default_token.empty()) anonymous_ = find(config.default_token);
  if (!anonymous_) {
    anonymous_owned_ = std::make_unique<Token>();
    anonymous_owned_->accessor_id = kAnonymousAccessor;
    anonymous_owned_->description = "Anonymous Token";
    anonymous_owned_->authorizer = std::make_shared<Authorizer>(std::vector<const Policy*>{}, fallback);
    if (!default_allow_) anonymous_owned_->cache_scope = std::string(kAnonymousAccessor) + scope_suffix;
    anonymous_ = anonymous_owned_.get();
  }
}

const Token* TokenTable::find(std::string_view secret) const {
  const Token* found = nullptr;
  for (const auto& token : tokens_) {
    if (constant_time_equal(secret, token->secret_id) && !found) found = token.get();
  }
  return found;
}

const Token* TokenTable::find_by_accessor(std::string_view accessor_id) const {
  if (anonymous_->accessor_id == accessor_id) return anonymous_;
  for (const auto& token : tokens_) {
    if (token->accessor_id == accessor_id) return token.get();
  }
  return nullptr;
}

WriteGrant check_write(const TokenTable& table, std::string_view secret, std::string_view node, std::string_view service) {
  if (!table.enabled()) return {true, true, true};
  const Token* token = table.find(secret);
  if (!token && !secret.empty()) return {};  // an unknown secret gets nothing, not the anonymous rights
  const Authorizer& authz = *(token ? token : &table.anonymous())->authorizer;
  return {token != nullptr, authz.node_write(node), service.empty() || authz.service_write(service)};
}

}  // namespace hearsay::acl
