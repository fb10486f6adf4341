// ACL enforcement in the HTTP API (issue 18): one table row per endpoint with the rules that
// suffice for it; each row is sent with a token holding exactly those rules (allowed), with a
// token holding nothing (403 Permission denied) and, where given, with a near miss (403). The
// table must cover every route and method the API has. Then: read filtering with
// X-Consul-Results-Filtered-By-ACLs, the cache never crossing tokens, the three token forms,
// unknown tokens, /v1/acl/token/self.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "tests/http-api/fakes.h"

using namespace hearsay;
using namespace hearsay::http;
using namespace hearsay::http::test;

namespace {

acl::PolicyDefinition policy(std::string name, const std::string& rules) {
  acl::PolicyDefinition def;
  def.name = std::move(name);
  const std::string error = acl::parse_rules(rules, def.policy);
  INFO(rules);
  REQUIRE(error.empty());
  return def;
}

acl::TokenDefinition token(std::string name, std::string secret, std::vector<std::string> policies) {
  acl::TokenDefinition def;
  def.description = name;
  def.accessor_id = "accessor-" + name;
  def.secret_id = std::move(secret);
  def.policies = std::move(policies);
  return def;
}

// This agent is n1: it runs web (web1) with a TTL check, and has a node check `mem`; n2 runs db.
struct AclFixture {
  catalog::Catalog catalog;
  FakeOps ops{catalog, "n1"};
  FakeWaiter waiter;
  std::shared_ptr<const acl::TokenTable> tokens;
  Api api;

  explicit AclFixture(acl::AclConfig config)
      : tokens(std::make_shared<const acl::TokenTable>(config, 1)), api(context()) {
    add_node("n1", "10.0.0.1");
    add_node("n2", "10.0.0.2");
    add_service("n1", "web1", "web");
    add_service("n2", "db1", "db");
    add_check("n1", "service:web1", "web1", "web");
    add_check("n1", "mem", "", "");
  }
  ApiContext context() {
    ApiContext ctx{catalog, ops, waiter, "dc1", "n1"};
    ctx.acl = &tokens;
    return ctx;
  }
  void add_node(std::string name, std::string address) {
    catalog::Node n;
    n.name = std::move(name);
    n.address = std::move(address);
    catalog.upsert_node(std::move(n));
  }
  void add_service(std::string node, std::string id, std::string name) {
    catalog::Service s;
    s.node = std::move(node);
    s.id = std::move(id);
    s.name = std::move(name);
    s.port = 80;
    catalog.upsert_service(std::move(s));
  }
  void add_check(std::string node, std::string id, std::string service_id, std::string service_name) {
    catalog::Check c;
    c.node = std::move(node);
    c.id = std::move(id);
    c.name = c.id;
    c.service_id = std::move(service_id);
    c.service_name = std::move(service_name);
    catalog.upsert_check(std::move(c));
  }
  Response call(std::string method, const std::string& target, std::string body = {},
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    Exchange e;
    Request req = make_request(std::move(method), target, std::move(body));
    req.headers = std::move(headers);
    api.handle(std::move(req), Responder(e.sink, 1));
    REQUIRE(e.answered());
    return e.response();
  }
};

// Tokens for one row: "granted" holds the row's rules, "near" its near miss, "nothing" no rules;
// the default policy is deny, so no rule means no access.
acl::AclConfig row_config(const std::string& granted, const std::string& near) {
  acl::AclConfig config;
  config.enabled = true;
  config.default_allow = false;
  config.policies.push_back(policy("granted", granted));
  config.policies.push_back(policy("near", near));
  config.tokens.push_back(token("granted", "granted-secret", {"granted"}));
  config.tokens.push_back(token("near", "near-secret", {"near"}));
  config.tokens.push_back(token("nothing", "nothing-secret", {}));
  return config;
}

struct Row {
  std::string method;
  std::string target;
  std::string body;
  std::string rules;      // what suffices; "" when the endpoint needs nothing (reads are filtered instead)
  std::string near_miss;  // rules that must not suffice; "" for none
};

const std::vector<Row> kRows = {
    // /v1/agent/*
    {"GET", "/v1/agent/services", "", "", ""},
    {"GET", "/v1/agent/checks", "", "", ""},
    {"GET", "/v1/agent/members", "", "", ""},
    {"GET", "/v1/agent/service/web1", "", R"(service "web" { policy = "read" })", R"(service "db" { policy = "write" })"},
    {"GET", "/v1/agent/self", "", R"(agent "n1" { policy = "read" })", R"(agent "n2" { policy = "write" })"},
    {"GET", "/v1/agent/metrics", "", R"(agent_prefix "" { policy = "read" })", R"(node_prefix "" { policy = "write" })"},
    {"PUT", "/v1/agent/service/register", R"({"Name": "web", "ID": "web2"})", R"(service "web" { policy = "write" })",
     R"(service "web" { policy = "read" })"},
    {"PUT", "/v1/agent/service/deregister/web1", "", R"(service_prefix "we" { policy = "write" })",
     R"(service "db" { policy = "write" })"},
    {"GET", "/v1/agent/service/deregister/web1", "", R"(service "web" { policy = "write" })", ""},
    {"PUT", "/v1/agent/service/maintenance/web1?enable=true", "", R"(service "web" { policy = "write" })",
     R"(node "n1" { policy = "write" })"},
    {"PUT", "/v1/agent/maintenance?enable=true", "", R"(node "n1" { policy = "write" })", R"(node "n1" { policy = "read" })"},
    {"PUT", "/v1/agent/check/register", R"({"Name": "disk", "TTL": "10s"})", R"(node "n1" { policy = "write" })",
     R"(service "web" { policy = "write" })"},
    {"PUT", "/v1/agent/check/register", R"({"Name": "web-ttl", "TTL": "10s", "ServiceID": "web1"})",
     R"(service "web" { policy = "write" })", R"(node "n1" { policy = "write" })"},
    {"PUT", "/v1/agent/check/deregister/mem", "", R"(node "n1" { policy = "write" })", R"(service "web" { policy = "write" })"},
    {"GET", "/v1/agent/check/deregister/service:web1", "", R"(service "web" { policy = "write" })", R"(node "n1" { policy = "write" })"},
    {"PUT", "/v1/agent/check/pass/service:web1", "", R"(service "web" { policy = "write" })", ""},
    {"GET", "/v1/agent/check/pass/mem", "", R"(node "n1" { policy = "write" })", ""},
    {"PUT", "/v1/agent/check/warn/service:web1", "", R"(service "web" { policy = "write" })", ""},
    {"GET", "/v1/agent/check/warn/service:web1", "", R"(service "web" { policy = "write" })", ""},
    {"PUT", "/v1/agent/check/fail/service:web1", "", R"(service "web" { policy = "write" })", ""},
    {"GET", "/v1/agent/check/fail/service:web1", "", R"(service "web" { policy = "write" })", ""},
    {"PUT", "/v1/agent/check/update/service:web1", R"({"Status": "passing"})", R"(service "web" { policy = "write" })",
     R"(service "web" { policy = "read" })"},
    {"PUT", "/v1/agent/join/10.0.0.9", "", R"(agent "n1" { policy = "write" })", R"(agent "n1" { policy = "read" })"},
    {"GET", "/v1/agent/join/10.0.0.9", "", R"(agent "n1" { policy = "write" })", ""},
    {"PUT", "/v1/agent/leave", "", R"(agent "n1" { policy = "write" })", R"(node "n1" { policy = "write" })"},
    {"PUT", "/v1/agent/reload", "", R"(agent "n1" { policy = "write" })", R"(agent "n2" { policy = "write" })"},
    {"PUT", "/v1/agent/force-leave/n2", "", R"(operator = "write")", R"(operator = "read")"},
    {"GET", "/v1/agent/force-leave/n2", "", R"(operator = "write")", ""},
    // /v1/catalog/*
    {"GET", "/v1/catalog/datacenters", "", "", ""},
    {"GET", "/v1/catalog/services", "", "", ""},
    {"GET", "/v1/catalog/service/web", "", "", ""},
    {"GET", "/v1/catalog/nodes", "", "", ""},
    {"GET", "/v1/catalog/node/n2", "", "", ""},
    {"PUT", "/v1/catalog/register", R"({"Node": "n3", "Address": "10.0.0.3", "Service": {"Service": "x"}})",
     R"(node "n3" { policy = "write" }
        service "x" { policy = "write" })",
     R"(node "n3" { policy = "write" })"},
    // Consul's vetRegisterWithACL: a registration that leaves its node record as it is needs no
    // node:write; one that changes it (or SkipNodeUpdate left out on a new node) does.
    {"PUT", "/v1/catalog/register", R"({"Node": "n2", "Address": "10.0.0.2", "Service": {"Service": "db", "ID": "db2"}})",
     R"(service "db" { policy = "write" })", R"(node "n2" { policy = "write" })"},
    {"PUT", "/v1/catalog/register", R"({"Node": "n2", "SkipNodeUpdate": true, "Service": {"Service": "db", "ID": "db2"}})",
     R"(service "db" { policy = "write" })", R"(node "n2" { policy = "write" })"},
    {"PUT", "/v1/catalog/register", R"({"Node": "n2", "Address": "10.0.0.9", "Service": {"Service": "db", "ID": "db2"}})",
     R"(node "n2" { policy = "write" }
        service "db" { policy = "write" })",
     R"(service "db" { policy = "write" })"},
    {"PUT", "/v1/catalog/register", R"({"Node": "n2", "Address": "10.0.0.2", "NodeMeta": {"rack": "r1"}})",
     R"(node "n2" { policy = "write" })", R"(service_prefix "" { policy = "write" })"},
    // A node-level check is the node's: node:write even when the node record stays.
    {"PUT", "/v1/catalog/register", R"({"Node": "n2", "Address": "10.0.0.2", "Check": {"CheckID": "disk", "Name": "disk"}})",
     R"(node "n2" { policy = "write" })", R"(service "db" { policy = "write" })"},
    // Replacing db1 (a "db") by a "cache" under the same ID needs write on both names.
    {"PUT", "/v1/catalog/register", R"({"Node": "n2", "Address": "10.0.0.2", "Service": {"Service": "cache", "ID": "db1"}})",
     R"(service "cache" { policy = "write" }
        service "db" { policy = "write" })",
     R"(service "cache" { policy = "write" })"},
    {"PUT", "/v1/catalog/deregister", R"({"Node": "n2", "ServiceID": "db1"})", R"(service "db" { policy = "write" })",
     R"(node "n2" { policy = "write" })"},
    {"PUT", "/v1/catalog/deregister", R"({"Node": "n2"})", R"(node "n2" { policy = "write" })",
     R"(service "db" { policy = "write" })"},
    // /v1/health/*: filtered reads
    {"GET", "/v1/health/service/web", "", "", ""},
    {"GET", "/v1/health/checks/web", "", "", ""},
    {"GET", "/v1/health/state/any", "", "", ""},
    {"GET", "/v1/health/node/n1", "", "", ""},
    // /v1/status/*, keyring, Prometheus, UI, ACL
    {"GET", "/v1/status/leader", "", "", ""},
    {"GET", "/v1/status/peers", "", "", ""},
    {"GET", "/v1/operator/keyring", "", R"(keyring = "read")", R"(operator = "write")"},
    {"POST", "/v1/operator/keyring", R"({"Key": "k"})", R"(keyring = "write")", R"(keyring = "read")"},
    {"PUT", "/v1/operator/keyring", R"({"Key": "k"})", R"(keyring = "write")", R"(keyring = "read")"},
    {"DELETE", "/v1/operator/keyring", R"({"Key": "k"})", R"(keyring = "write")", R"(keyring = "read")"},
    {"GET", "/v1/prometheus/sd", "", "", ""},
    {"GET", "/", "", "", ""},
    {"GET", "/ui", "", "", ""},
    {"GET", "/ui/", "", "", ""},
    {"GET", "/v1/internal/ui/services", "", "", ""},
    {"GET", "/v1/acl/token/self", "", "", ""},
    {"GET", "/v1/acl/tokens", "", "", ""},
    {"PUT", "/v1/acl/token", "", "", ""},
    {"POST", "/v1/acl/policy", "", "", ""},
    {"DELETE", "/v1/acl/token/x", "", "", ""},
};

// The route a target reaches, as Router::find picks it: exact first, else the longest prefix.
const Router::RouteInfo* route_of(const std::vector<Router::RouteInfo>& routes, const std::string& path) {
  for (const auto& r : routes) {
    if (!r.is_prefix && r.path == path) return &r;
  }
  const Router::RouteInfo* best = nullptr;
  for (const auto& r : routes) {
    if (r.is_prefix && path.starts_with(r.path) && (!best || r.path.size() > best->path.size())) best = &r;
  }
  return best;
}

Response with_token(const Row& row, const std::string& secret) {
  AclFixture f(row_config(row.rules, row.near_miss));
  return f.call(row.method, row.target + (row.target.find('?') == std::string::npos ? "?" : "&") + "token=" + secret,
                row.body);
}

}  // namespace

TEST_CASE("every endpoint requires the permission in the table", "[unit]") {
  for (const Row& row : kRows) {
    INFO(row.method << " " << row.target << " needs: " << (row.rules.empty() ? "nothing" : row.rules));
    const Response granted = with_token(row, "granted-secret");
    CHECK(granted.status != 403);
    const Response nothing = with_token(row, "nothing-secret");
    if (row.rules.empty()) {
      CHECK(nothing.status != 403);
    } else {
      CHECK(nothing.status == 403);
      CHECK(nothing.body == "Permission denied");
      CHECK_THAT(nothing.log_note, Catch::Contains("lacks"));
      CHECK_THAT(nothing.log_note, !Catch::Contains("nothing-secret"));
    }
    if (!row.near_miss.empty()) CHECK(with_token(row, "near-secret").status == 403);
  }
}

TEST_CASE("the permission table covers every route and method", "[unit]") {
  AclFixture f(row_config("", ""));
  const auto routes = f.api.router().routes();
  std::set<std::pair<std::string, std::string>> covered;
  for (const Row& row : kRows) {
    const auto* route = route_of(routes, row.target.substr(0, row.target.find('?')));
    REQUIRE(route);
    covered.insert({route->path, row.method});
  }
  for (const auto& route : routes) {
    for (const std::string& method : route.methods) {
      INFO(method << " " << route.path << " has no row in the permission table");
      CHECK(covered.count({route.path, method}) == 1);
    }
  }
}

TEST_CASE("reads are filtered to what the token may read, with Consul's header", "[unit]") {
  acl::AclConfig config = row_config(R"(service "web" { policy = "read" }
                                        node_prefix "" { policy = "read" })", "");
  config.initial_management = "root";
  AclFixture f(config);
  const std::string kFiltered = "X-Consul-Results-Filtered-By-ACLs";
  // The management token first, so its unfiltered answer is in the cache.
  Response all = f.call("GET", "/v1/catalog/services?token=root");
  CHECK_THAT(all.body, Catch::Contains("\"db\""));
  CHECK(header_of(all, kFiltered) == nullptr);
  Response narrow = f.call("GET", "/v1/catalog/services?token=granted-secret");
  CHECK_THAT(narrow.body, Catch::Contains("\"web\""));
  CHECK_THAT(narrow.body, !Catch::Contains("\"db\""));
  REQUIRE(header_of(narrow, kFiltered));
  CHECK(*header_of(narrow, kFiltered) == "true");
  // ... and the narrow answer, now cached, is not served back to the management token.
  all = f.call("GET", "/v1/catalog/services?token=root");
  CHECK_THAT(all.body, Catch::Contains("\"db\""));
  CHECK(header_of(all, kFiltered) == nullptr);
  // Other reads.
  CHECK(f.call("GET", "/v1/health/service/db?token=granted-secret").body == "[]");
  CHECK_THAT(f.call("GET", "/v1/agent/services?token=granted-secret").body, Catch::Contains("web1"));
  Response none = f.call("GET", "/v1/catalog/nodes?token=nothing-secret");
  CHECK(none.body == "[]");
  CHECK(header_of(none, kFiltered));
  CHECK(f.call("GET", "/v1/catalog/node/n2?token=nothing-secret").body == "null");
  CHECK_THAT(f.call("GET", "/v1/health/state/any?token=granted-secret").body, Catch::Contains("service:web1"));
  CHECK_THAT(f.call("GET", "/v1/health/state/any?token=granted-secret").body, Catch::Contains("\"mem\""));
}

TEST_CASE("a read parked across a reload answers with the new table's rights", "[unit]") {
  AclFixture f(row_config(R"(service_prefix "" { policy = "read" }
                             node_prefix "" { policy = "read" })", ""));
  auto park = [&](const std::string& secret) {
    Exchange e;
    Request req = make_request("GET", "/v1/catalog/services?index=" +
                                          std::to_string(f.catalog.services_index()) + "&token=" + secret);
    f.api.handle(std::move(req), Responder(e.sink, 1));
    REQUIRE_FALSE(e.answered());
    return e;
  };
  Exchange revoked = park("granted-secret");
  Exchange narrowed = park("near-secret");
  // The reload: "granted" is gone; "near" now may read web only.
  acl::AclConfig next = row_config("", R"(service "web" { policy = "read" }
                                          node_prefix "" { policy = "read" })");
  next.tokens.erase(next.tokens.begin());
  f.tokens = std::make_shared<const acl::TokenTable>(next, 2);
  f.waiter.time_out();
  REQUIRE(revoked.answered());
  CHECK(revoked.response().status == 403);
  CHECK(revoked.response().body == "ACL not found");
  REQUIRE(narrowed.answered());
  CHECK(narrowed.response().body == R"({"web":[]})");
  CHECK(header_of(narrowed.response(), "X-Consul-Results-Filtered-By-ACLs"));
}

TEST_CASE("the token is read from ?token=, X-Consul-Token and Authorization Bearer", "[unit]") {
  AclFixture f(row_config(R"(agent "n1" { policy = "read" })", ""));
  CHECK(f.call("GET", "/v1/agent/self").status == 403);  // no token: anonymous, default deny
  CHECK(f.call("GET", "/v1/agent/self?token=granted-secret").status == 200);
  CHECK(f.call("GET", "/v1/agent/self", "", {{"x-consul-token", "granted-secret"}}).status == 200);
  CHECK(f.call("GET", "/v1/agent/self", "", {{"authorization", "Bearer granted-secret"}}).status == 200);
  CHECK(f.call("GET", "/v1/agent/self", "", {{"authorization", "bearer  granted-secret extra"}}).status == 200);
  CHECK(f.call("GET", "/v1/agent/self", "", {{"authorization", "Basic granted-secret"}}).status == 403);
  // ?token= wins over the header, as in Consul.
  CHECK(f.call("GET", "/v1/agent/self?token=nothing-secret", "", {{"x-consul-token", "granted-secret"}}).status == 403);
  // An unknown token is refused outright, whatever the endpoint.
  Response unknown = f.call("GET", "/v1/status/leader", "", {{"x-consul-token", "guess"}});
  CHECK(unknown.status == 403);
  CHECK(unknown.body == "ACL not found");
  CHECK_THAT(unknown.log_note, !Catch::Contains("guess"));
}

TEST_CASE("acl token self answers in Consul's shape for a known token only", "[unit]") {
  AclFixture f(row_config(R"(agent "n1" { policy = "read" })", ""));
  Response self = f.call("GET", "/v1/acl/token/self", "", {{"x-consul-token", "granted-secret"}});
  REQUIRE(self.status == 200);
  auto doc = parse_json(self.body);
  CHECK(std::string(doc["AccessorID"].GetString()) == "accessor-granted");
  CHECK(std::string(doc["SecretID"].GetString()) == "granted-secret");
  CHECK(std::string(doc["Description"].GetString()) == "granted");
  CHECK(std::string(doc["Policies"][0]["Name"].GetString()) == "granted");
  CHECK(doc["Policies"][0]["ID"].GetStringLength() == 36);
  CHECK(doc["Local"].GetBool());
  CHECK(f.call("GET", "/v1/acl/token/self").status == 403);
  CHECK(f.call("PUT", "/v1/acl/token", "{}", {{"x-consul-token", "granted-secret"}}).status == 501);
}

TEST_CASE("with ACLs off every request is allowed and acl endpoints say so", "[unit]") {
  AclFixture f(acl::AclConfig{});
  CHECK(f.call("PUT", "/v1/agent/service/register", R"({"Name": "api"})").status == 200);
  CHECK(f.call("GET", "/v1/agent/self?token=anything").status == 200);
  Response self = f.call("GET", "/v1/acl/token/self");
  CHECK(self.status == 401);
  CHECK(self.body == "ACL support disabled");
}

TEST_CASE("every API response carries the default policy also with ACLs off", "[unit]") {
  const std::string kHeader = "X-Consul-Default-ACL-Policy";
  AclFixture deny(row_config(R"(agent "n1" { policy = "read" })", ""));
  for (const char* target : {"/v1/agent/self?token=granted-secret", "/v1/agent/self?token=nothing-secret",
                             "/v1/agent/self?token=unknown", "/v1/catalog/services", "/v1/catalog/services"}) {
    INFO(target);
    Response res = deny.call("GET", target);
    REQUIRE(header_of(res, kHeader));
    CHECK(*header_of(res, kHeader) == "deny");
  }
  // Not on the web page's files (Consul serves them outside its API handler).
  CHECK(header_of(deny.call("GET", "/ui/"), kHeader) == nullptr);

  acl::AclConfig allow_config = row_config("", "");
  allow_config.default_allow = true;
  AclFixture allow(allow_config);
  REQUIRE(header_of(allow.call("GET", "/v1/catalog/nodes"), kHeader));
  CHECK(*header_of(allow.call("GET", "/v1/catalog/nodes"), kHeader) == "allow");

  AclFixture off(acl::AclConfig{});
  REQUIRE(header_of(off.call("GET", "/v1/agent/self"), kHeader));
  CHECK(*header_of(off.call("GET", "/v1/agent/self"), kHeader) == "allow");
  acl::AclConfig off_deny;  // ACLs off with default_policy deny: reported as configured, as Consul does
  off_deny.default_allow = false;
  AclFixture off_but_deny(off_deny);
  CHECK(off_but_deny.call("PUT", "/v1/agent/service/register", R"({"Name": "api"})").status == 200);
  REQUIRE(header_of(off_but_deny.call("GET", "/v1/agent/self"), kHeader));
  CHECK(*header_of(off_but_deny.call("GET", "/v1/agent/self"), kHeader) == "deny");
}

TEST_CASE("the web page's service summary shows only what the token may read", "[unit]") {
  acl::AclConfig config = row_config(R"(service_prefix "" { policy = "read" }
                                        node "n1" { policy = "read" })", "");
  config.initial_management = "root";
  AclFixture f(config);
  // A second web instance, on n2 (which the token may not read), with a tag of its own.
  catalog::Service hidden;
  hidden.node = "n2";
  hidden.id = "web2";
  hidden.name = "web";
  hidden.tags = {"only-on-n2"};
  f.catalog.upsert_service(hidden);
  Response all = f.call("GET", "/v1/internal/ui/services?token=root");
  CHECK_THAT(all.body, Catch::Contains("only-on-n2"));
  CHECK_THAT(all.body, Catch::Contains("\"db\""));
  Response narrow = f.call("GET", "/v1/internal/ui/services?token=granted-secret");
  INFO(narrow.body);
  CHECK_THAT(narrow.body, !Catch::Contains("only-on-n2"));
  CHECK_THAT(narrow.body, !Catch::Contains("\"n2\""));
  CHECK_THAT(narrow.body, !Catch::Contains("\"db\""));  // its only instance is on n2
  auto doc = parse_json(narrow.body);
  REQUIRE(doc.IsArray());
  REQUIRE(doc.Size() == 1);
  CHECK(std::string(doc[0]["Name"].GetString()) == "web");
  CHECK(doc[0]["InstanceCount"].GetInt() == 1);
  REQUIRE(header_of(narrow, "X-Consul-Results-Filtered-By-ACLs"));
}
