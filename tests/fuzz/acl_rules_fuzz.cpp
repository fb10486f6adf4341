// Fuzz target for the ACL rule language (acl/rules.h): no input may crash or hang; whatever
// parses also compiles into an Authorizer that answers lookups.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "acl/authorizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  hearsay::acl::Policy policy;
  if (!hearsay::acl::parse_rules(text, policy).empty()) return 0;
  const hearsay::acl::Authorizer authz({&policy}, hearsay::acl::Access::deny);
  for (const auto& rule : policy.rules) (void)authz.level(rule.resource, rule.name);
  (void)authz.service_write("web");
  (void)authz.node_read("");
  return 0;
}
