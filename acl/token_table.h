// An agent's ACL state compiled from its config: each token's secret with its Authorizer, the
// rights of requests that carry no token, and lookups by secret in constant time per token
// (every token is compared in full, so timing says nothing about how close a guess was).
// Immutable: a reload builds a new table and swaps the pointer.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "acl/acl_config.h"
#include "acl/authorizer.h"

namespace hearsay::acl {

// One known token, as /v1/acl/token/self shows it.
struct Token {
  std::string accessor_id;
  std::string secret_id;
  std::string description;
  std::vector<std::string> policies;  // names
  std::vector<std::string> policy_ids;  // stable ids, one per name
  std::shared_ptr<const Authorizer> authorizer;
  std::string cache_scope;  // "" when its reads are everyone's; else unique to this token and table
};

class TokenTable {
 public:
  // A disabled table: every request may do everything, as with Consul's ACLs off.
  TokenTable();
  // Compiles `config` (which check_acl_config accepted). `generation` tells tables apart, so a
  // cached read of a token in one table is never served under another table.
  TokenTable(const AclConfig& config, std::uint64_t generation);

  bool enabled() const { return enabled_; }
  // The configured default_policy, also with ACLs disabled (where it allows nothing more).
  bool default_allow() const { return default_allow_; }

  // The token with this secret, or null. Constant time per token (see above).
  const Token* find(std::string_view secret) const;
  // The rights of a request without a token: the default token's, else the default policy's.
  const Token& anonymous() const { return *anonymous_; }
  // The token with this accessor ID (the anonymous one included), or null: a read parked across
  // a reload finds its token again, or learns that it is gone.
  const Token* find_by_accessor(std::string_view accessor_id) const;

 private:
  bool enabled_ = false;
  bool default_allow_ = true;
  std::vector<std::unique_ptr<Token>> tokens_;
  std::unique_ptr<Token> anonymous_owned_;
  const Token* anonymous_ = nullptr;
};

// What the remote-mode relay needs to admit a remote's registration: whether `secret` is a known
// token, and whether it may write node `node` (node:write) and service `service` (service:write;
// an empty name is not asked about and reported true). An empty secret is no token: the
// anonymous rights answer. With ACLs disabled everything is allowed.
struct WriteGrant {
  bool known_token = false;
  bool node_write = false;
  bool service_write = false;
};
WriteGrant check_write(const TokenTable& table, std::string_view secret, std::string_view node, std::string_view service);

// Equal bytes, compared without an early exit (the length of `a` may show, its content not).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace hearsay::acl
