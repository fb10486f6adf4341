// The rule language (acl/rules.h): every resource in HCL and JSON, the same policy from both,
// and one malformed case per check.
#include <catch2/catch.hpp>

#include "acl/rules.h"

using namespace hearsay::acl;

namespace {

Policy parsed(const std::string& text) {
  Policy policy;
  const std::string error = parse_rules(text, policy);
  INFO(error);
  REQUIRE(error.empty());
  return policy;
}

std::string error_of(const std::string& text) {
  Policy policy;
  return parse_rules(text, policy);
}

bool has_rule(const Policy& p, Resource r, const std::string& name, bool prefix, Access a) {
  for (const Rule& rule : p.rules) {
    if (rule.resource == r && rule.name == name && rule.prefix == prefix && rule.access == a) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("rules in HCL name every resource Consul has", "[unit]") {
  const Policy p = parsed(R"(
    service "web" { policy = "write" }
    service_prefix "" { policy = "read" }
    node "n1" { policy = "write" }
    node_prefix "laptop-" { policy = "write" }
    agent "n1" { policy = "read" }
    agent_prefix "" { policy = "deny" }
    key_prefix "app/" { policy = "list" }
    session_prefix "" { policy = "write" }
    query "q" { policy = "read" }
    event_prefix "" { policy = "read" }
    service "api" { policy = "read" intentions = "read" }
    operator = "read"
    keyring = "write"
    acl = "deny"
  )");
  CHECK(p.rules.size() == 14);
  CHECK(has_rule(p, Resource::service, "web", false, Access::write));
  CHECK(has_rule(p, Resource::service, "", true, Access::read));
  CHECK(has_rule(p, Resource::service, "api", false, Access::read));
  CHECK(has_rule(p, Resource::node, "laptop-", true, Access::write));
  CHECK(has_rule(p, Resource::agent, "", true, Access::deny));
  CHECK(has_rule(p, Resource::key, "app/", true, Access::list));
  CHECK(has_rule(p, Resource::operator_, "", false, Access::read));
  CHECK(has_rule(p, Resource::keyring, "", false, Access::write));
  CHECK(has_rule(p, Resource::acl, "", false, Access::deny));
}

TEST_CASE("the same rules in JSON give the same policy", "[unit]") {
  const Policy hcl = parsed("service \"web\" { policy = \"write\" }\nnode_prefix \"\" { policy = \"read\" }\noperator = \"read\"");
  const Policy json = parsed(R"( {"service": {"web": {"policy": "write"}}, "node_prefix": {"": {"policy": "read"}},
                                  "operator": "read"} )");
  REQUIRE(hcl.rules.size() == json.rules.size());
  for (const Rule& r : hcl.rules) CHECK(has_rule(json, r.resource, r.name, r.prefix, r.access));
}

TEST_CASE("empty rules are an empty policy", "[unit]") {
  CHECK(parsed("").rules.empty());
  CHECK(parsed("  \n ").rules.empty());
  CHECK(parsed("{}").rules.empty());
}

TEST_CASE("bad rules are refused with a message naming the part", "[unit]") {
  CHECK_THAT(error_of("servce \"web\" { policy = \"write\" }"), Catch::Contains("unknown rule \"servce\""));
  CHECK_THAT(error_of("service \"web\" { policy = \"admin\" }"), Catch::Contains("service \"web\": policy must be"));
  CHECK_THAT(error_of("service \"web\" { }"), Catch::Contains("missing policy"));
  CHECK_THAT(error_of("service \"web\" { policy = \"read\" color = \"red\" }"), Catch::Contains("unknown key \"color\""));
  CHECK_THAT(error_of("operator = \"admin\""), Catch::Contains("operator: must be"));
  CHECK_THAT(error_of("operator_prefix \"\" { policy = \"read\" }"), Catch::Contains("unknown rule"));
  CHECK_THAT(error_of("service = \"write\""), Catch::Contains("service: must be written as"));
  CHECK_THAT(error_of("service \"web\" { policy = "), Catch::Contains("rules: line"));
  CHECK_THAT(error_of("{\"service\": "), Catch::Contains("invalid JSON"));
  CHECK_THAT(error_of("[1]"), Catch::Contains("rules:"));
}
