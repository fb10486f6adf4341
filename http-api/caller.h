// Who sent a request, as far as ACLs go (issue 18): the token it carries (Consul's precedence:
// ?token=, then X-Consul-Token, then Authorization: Bearer), the rights that token has, and the
// read filter that leaves out what those rights may not see. Pure.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "acl/authorizer.h"
#include "http-api/request.h"

namespace hearsay::http {

// The secret a request carries, or "" for none (Consul's agent/http.go parseTokenWithDefault).
std::string_view request_token(const Request& request);

struct Caller {
  std::shared_ptr<const acl::Authorizer> authz;  // null: ACLs are off, everything is allowed
  std::string accessor_id;                       // for the log; never the secret
  std::string cache_scope;                       // "" when this caller's reads are everyone's
};

// Filters a read to what the caller may see, and remembers whether it left anything out
// (X-Consul-Results-Filtered-By-ACLs). Consul shows an instance when both its service and its
// node may be read.
struct ReadFilter {
  std::shared_ptr<const acl::Authorizer> authz;
  bool filtered = false;

  bool service(std::string_view name) { return keep(!authz || authz->service_read(name)); }
  bool node(std::string_view name) { return keep(!authz || authz->node_read(name)); }
  bool instance(std::string_view node_name, std::string_view service_name) {
    return keep(!authz || (authz->node_read(node_name) && authz->service_read(service_name)));
  }

 private:
  bool keep(bool allowed) {
    if (!allowed) filtered = true;
    return allowed;
  }
};

inline constexpr const char* kFilteredHeader = "X-Consul-Results-Filtered-By-ACLs";
inline constexpr const char* kDefaultAclPolicyHeader = "X-Consul-Default-ACL-Policy";

}  // namespace hearsay::http
