// Consul's precedence (acl/authorizer.h) as a table: exact beats prefix, the longest prefix
// wins, deny wins at equal length across policies, unmatched names get the default.
#include <catch2/catch.hpp>

#include "acl/authorizer.h"

using namespace hearsay::acl;

namespace {

Policy policy_of(const std::string& text) {
  Policy p;
  const std::string error = parse_rules(text, p);
  INFO(error);
  REQUIRE(error.empty());
  return p;
}

}  // namespace

TEST_CASE("an authorizer resolves names with Consul's precedence", "[unit]") {
  const Policy a = policy_of(R"(
    service_prefix "" { policy = "read" }
    service_prefix "web" { policy = "write" }
    service_prefix "web-secret" { policy = "deny" }
    service "web-secret-ok" { policy = "read" }
    node_prefix "laptop-" { policy = "write" }
  )");
  const Policy b = policy_of(R"(
    service_prefix "web" { policy = "deny" }
    service "db" { policy = "write" }
  )");
  const Policy c = policy_of(R"(service "db" { policy = "read" })");

  struct Case {
    std::vector<const Policy*> policies;
    Access fallback;
    Resource resource;
    std::string name;
    Access expected;
  };
  const std::vector<Case> cases = {
      {{&a}, Access::deny, Resource::service, "anything", Access::read},      // "" prefix
      {{&a}, Access::deny, Resource::service, "web", Access::write},          // longer prefix wins
      {{&a}, Access::deny, Resource::service, "web-1", Access::write},
      {{&a}, Access::deny, Resource::service, "web-secret-x", Access::deny},  // longest prefix
      {{&a}, Access::deny, Resource::service, "web-secret-ok", Access::read}, // exact beats prefix
      {{&a}, Access::deny, Resource::node, "laptop-7", Access::write},
      {{&a}, Access::deny, Resource::node, "server-1", Access::deny},         // no rule: default
      {{&a}, Access::write, Resource::node, "server-1", Access::write},
      {{&a}, Access::deny, Resource::operator_, "", Access::deny},            // scalar unset: default
      {{&a, &b}, Access::deny, Resource::service, "web-1", Access::deny},     // deny wins at equal length
      {{&b, &a}, Access::deny, Resource::service, "web-1", Access::deny},     // in either order
      {{&b, &c}, Access::deny, Resource::service, "db", Access::write},       // else the more permissive
      {{&c}, Access::write, Resource::service, "db", Access::read},           // a rule beats default allow
  };
  for (const Case& c0 : cases) {
    INFO(to_string(c0.resource) << " \"" << c0.name << "\"");
    CHECK(Authorizer(c0.policies, c0.fallback).level(c0.resource, c0.name) == c0.expected);
  }
}

TEST_CASE("levels cover the operations Consul says they do", "[unit]") {
  CHECK(covers(Access::write, Access::read));
  CHECK(covers(Access::write, Access::write));
  CHECK(covers(Access::list, Access::read));
  CHECK_FALSE(covers(Access::list, Access::write));
  CHECK(covers(Access::read, Access::read));
  CHECK_FALSE(covers(Access::read, Access::write));
  CHECK_FALSE(covers(Access::deny, Access::read));
  CHECK_FALSE(covers(Access::none, Access::read));
  CHECK(merge(Access::read, Access::deny) == Access::deny);
  CHECK(merge(Access::read, Access::write) == Access::write);
}

TEST_CASE("reads_everything is true only when no read can be refused", "[unit]") {
  const Policy writer = policy_of(R"(service "web" { policy = "write" })");
  const Policy narrow = policy_of(R"(service "web" { policy = "deny" })");
  CHECK(Authorizer({&writer}, Access::write).reads_everything());
  CHECK_FALSE(Authorizer({&writer}, Access::deny).reads_everything());
  CHECK_FALSE(Authorizer({&narrow}, Access::write).reads_everything());
  CHECK(Authorizer::allow_all().reads_everything());
}
