// Policies -> per-resource maps of exact names and prefixes; lookups walk the name's prefixes
// from the longest down (names are short, policies few: no radix tree needed).
#include "acl/authorizer.h"

namespace hearsay::acl {

Access merge(Access a, Access b) {
  if (a == Access::deny || b == Access::deny) return Access::deny;
  return a > b ? a : b;  // the enum is ordered none < read < list < write (deny handled above)
}

Authorizer::Authorizer(const std::vector<const Policy*>& policies, Access fallback) : fallback_(fallback) {
  for (const Policy* policy : policies) {
    for (const Rule& rule : policy->rules) {
      Rules& r = rules_[static_cast<std::size_t>(rule.resource)];
      if (!is_named(rule.resource)) {
        r.scalar = merge(r.scalar, rule.access);
      } else {
        Access& slot = (rule.prefix ? r.prefix : r.exact)[rule.name];
        slot = merge(slot, rule.access);
      }
    }
  }
  // Reads are never refused when the fallback allows them and no rule says less than read.
  reads_everything_ = covers(fallback_, Access::read);
  for (Resource resource : {Resource::service, Resource::node, Resource::agent}) {
    const Rules& r = rules_[static_cast<std::size_t>(resource)];
    for (const auto* map : {&r.exact, &r.prefix}) {
      for (const auto& [name, access] : *map) {
        if (!covers(access, Access::read)) reads_everything_ = false;
      }
    }
  }
}

Access Authorizer::level(Resource resource, std::string_view name) const {
  const Rules& r = rules_[static_cast<std::size_t>(resource)];
  if (!is_named(resource)) return r.scalar != Access::none ? r.scalar : fallback_;
  if (auto it = r.exact.find(name); it != r.exact.end()) return it->second;
  if (!r.prefix.empty()) {
    for (std::size_t len = name.size() + 1; len-- > 0;) {
      if (auto it = r.prefix.find(name.substr(0, len)); it != r.prefix.end()) return it->second;
    }
  }
  return fallback_;
}

}  // namespace hearsay::acl
