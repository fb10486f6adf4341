// The answer to "may this token do that": a token's policies merged into one lookup, with Consul's
// precedence (acl/policy_authorizer.go, acl/policy_merger.go):
//  - for a named resource an exact rule beats every prefix rule; among prefix rules the longest
//    matching prefix wins; where nothing matches, the default (the agent's default_policy, or
//    write for a management token) decides;
//  - the same name or prefix in two policies merges to deny if either denies, else to the more
//    permissive level (write > list > read); so deny wins at equal length.
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "acl/rules.h"

namespace hearsay::acl {

class Authorizer {
 public:
  // Everything allowed (a management token, or default_policy "allow" without rules).
  static Authorizer allow_all() { return Authorizer({}, Access::write); }
  // `fallback` is what an unmatched lookup gets: write (default_policy allow) or deny.
  Authorizer(const std::vector<const Policy*>& policies, Access fallback);

  // The level that applies to `name` of `resource` (scalar resources ignore `name`).
  Access level(Resource resource, std::string_view name) const;
  bool allows(Resource resource, std::string_view name, Access wanted) const {
    return covers(level(resource, name), wanted);
  }

  bool service_read(std::string_view name) const { return allows(Resource::service, name, Access::read); }
  bool service_write(std::string_view name) const { return allows(Resource::service, name, Access::write); }
  bool node_read(std::string_view name) const { return allows(Resource::node, name, Access::read); }
  bool node_write(std::string_view name) const { return allows(Resource::node, name, Access::write); }

  // True when no service, node or agent read can be refused: such a token's reads are the
  // unfiltered answer, which may be shared (response cache) with every other such token.
  bool reads_everything() const { return reads_everything_; }

 private:
  struct Rules {
    std::map<std::string, Access, std::less<>> exact;
    std::map<std::string, Access, std::less<>> prefix;  // longest match: walk the name's prefixes
    Access scalar = Access::none;
  };
  std::array<Rules, kResources> rules_;
  Access fallback_;
  bool reads_everything_ = false;
};

// Merging two rules for the same name (policy_merger.go takesPrecedenceOver): deny first, then
// the more permissive.
Access merge(Access a, Access b);

}  // namespace hearsay::acl
